/*
 * zipspeed.c — deflate level of the workbook's zip container.
 *
 * An .xlsx file is a zip archive of XML parts. libxlsxwriter (1.1.x, as
 * packaged by Debian) compresses every part at zlib's default level 6 and
 * offers no option to change it; for a sheet of a million rows, deflate then
 * takes as long as everything else together. medcrm-report trades about a
 * fifth more file size for three times faster compression by asking for
 * level 1 (Z_BEST_SPEED): this file defines minizip's
 * zipOpenNewFileInZip4_64() in the program itself, where the dynamic linker
 * finds it before the library's (the program exports it, see Makefile), and
 * forwards every call to the real function with the level replaced. Nothing
 * else changes: the archive is an ordinary zip that every reader opens.
 * Setting MEDCRM_REPORT_ZIP_LEVEL (0-9) chooses another level.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <xlsxwriter/third_party/zip.h>

typedef int (*open_fn) (zipFile, const char *, const zip_fileinfo *, const void *, uInt,
						const void *, uInt, const char *, int, int, int, int, int, int,
						const char *, uLong, uLong, uLong, int);

int
zipOpenNewFileInZip4_64(zipFile file, const char *filename, const zip_fileinfo *zipfi,
						const void *extrafield_local, uInt size_extrafield_local,
						const void *extrafield_global, uInt size_extrafield_global,
						const char *comment, int method, int level, int raw,
						int windowBits, int memLevel, int strategy,
						const char *password, uLong crcForCrypting,
						uLong versionMadeBy, uLong flagBase, int zip64)
{
	static open_fn real = NULL;
	const char *env = getenv("MEDCRM_REPORT_ZIP_LEVEL");
	int			want = 1;

	if (real == NULL)
		real = (open_fn) dlsym(RTLD_NEXT, "zipOpenNewFileInZip4_64");
	if (real == NULL)
		return -1;				/* ZIP_ERRNO: the workbook reports an error */
	if (env && env[0] >= '0' && env[0] <= '9' && env[1] == '\0')
		want = env[0] - '0';
	if (method != 0)			/* stored parts stay stored */
		level = want;
	return real(file, filename, zipfi, extrafield_local, size_extrafield_local,
				extrafield_global, size_extrafield_global, comment, method, level,
				raw, windowBits, memLevel, strategy, password, crcForCrypting,
				versionMadeBy, flagBase, zip64);
}
