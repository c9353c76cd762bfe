/*
 * dedupe_name.h — the normalised name key of an account (pure C).
 */
#ifndef MEDCRM_DEDUPE_NAME_H
#define MEDCRM_DEDUPE_NAME_H

#include <stddef.h>

/*
 * Write the name key of in[0..len) (UTF-8) to out, which must hold len + 1
 * bytes (the key is never longer than the name). Returns the key's length;
 * out is NUL-terminated.
 */
extern size_t dedupe_name_key(const char *in, size_t len, char *out);

#endif							/* MEDCRM_DEDUPE_NAME_H */
