/*
 * name_fuzz.c — libFuzzer harness of the account name key
 * (extension/dedupe_name.c): no crash, no out-of-bounds write, the key is
 * never longer than the name, holds no ASCII blank or punctuation and no
 * upper-case ASCII letter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dedupe_name.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *out = malloc(size + 1);
	size_t		len;
	size_t		i;

	len = dedupe_name_key((const char *) data, size, out);
	if (len > size || out[len] != '\0')
		abort();
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) out[i];

		if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
			abort();
	}
	free(out);
	return 0;
}
