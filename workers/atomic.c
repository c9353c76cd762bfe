/*
 * atomic.c — temporary file, fsync, rename.
 *
 * The workbook is written to a temporary file in the target's directory (so
 * that rename() stays within one file system and is atomic), flushed to disk,
 * then renamed over the target and the directory entry flushed too. A reader
 * sees the old workbook or the new one, never half of one; a failure or a
 * kill leaves the target untouched (at worst a stale ".NAME.XXXXXX.tmp").
 */
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
dir_of(const char *path)
{
	char	   *copy = xstrdup(path);
	char	   *d = xstrdup(dirname(copy));

	free(copy);
	return d;
}

bool
atomic_begin(atomic_file *af, const char *target, report_error *err)
{
	char	   *copy = xstrdup(target);
	char	   *dir = dir_of(target);
	const char *base = basename(copy);
	size_t		len = strlen(dir) + strlen(base) + 32;
	int			fd;
	struct stat st;

	af->target = xstrdup(target);
	af->temp = xcalloc(len, 1);
	if (stat(target, &st) == 0 && S_ISDIR(st.st_mode))
	{
		set_error(err, "output \"%s\" is a directory", target);
		set_hint(err, "Give a file name with -o, e.g. -o %s/report.xlsx.", target);
		goto bad;
	}
	snprintf(af->temp, len, "%s/.%s.XXXXXX", dir, base);
	fd = mkstemp(af->temp);
	if (fd < 0)
	{
		set_error(err, "could not create a temporary file in \"%s\": %s", dir, strerror(errno));
		set_hint(err, "The output directory must exist and be writable.");
		goto bad;
	}
	/* readable like any report; the workbook library reopens it by name */
	(void) fchmod(fd, 0644);
	close(fd);
	free(copy);
	free(dir);
	return true;
bad:
	free(copy);
	free(dir);
	free(af->temp);
	af->temp = NULL;
	return false;
}

bool
atomic_commit(atomic_file *af, report_error *err)
{
	int			fd;

	fd = open(af->temp, O_RDONLY);
	if (fd < 0 || fsync(fd) != 0)
	{
		set_error(err, "could not fsync \"%s\": %s", af->temp, strerror(errno));
		if (fd >= 0)
			close(fd);
		atomic_abort(af);
		return false;
	}
	close(fd);
	if (!atomic_publish(af->temp, af->target, err))
	{
		atomic_abort(af);
		return false;
	}
	free(af->temp);
	af->temp = NULL;
	free(af->target);
	af->target = NULL;
	return true;
}

void
atomic_abort(atomic_file *af)
{
	if (af->temp)
	{
		unlink(af->temp);
		free(af->temp);
		af->temp = NULL;
	}
	free(af->target);
	af->target = NULL;
}

bool
atomic_publish(const char *staged, const char *target, report_error *err)
{
	char	   *dir;
	int			fd;

	if (rename(staged, target) != 0)
	{
		set_error(err, "could not rename \"%s\" to \"%s\": %s", staged, target, strerror(errno));
		return false;
	}
	dir = dir_of(target);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0)
	{
		/* best effort: the rename is done, the entry is flushed if we can */
		(void) fsync(fd);
		close(fd);
	}
	free(dir);
	return true;
}

bool
file_sha256(const char *path, char *hex, report_error *err)
{
	unsigned char buf[65536];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int			fd = open(path, O_RDONLY);
	ssize_t		n;
	bool		ok = false;

	if (fd < 0)
	{
		set_error(err, "could not open \"%s\": %s", path, strerror(errno));
		return false;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
	{
		set_error(err, "could not start SHA-256");
		goto done;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t) n);
	if (n < 0)
	{
		set_error(err, "could not read \"%s\": %s", path, strerror(errno));
		goto done;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	ok = true;
done:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return ok;
}
