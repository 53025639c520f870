/* What the GGUF writer needs from the reader beyond the public API. */
#ifndef CG_GGUF_INTERNAL_H
#define CG_GGUF_INTERNAL_H
#include <stdint.h>
#include "cgrad.h"

/* Metadata pair i: key, value type and the value's encoded bytes as they are in the file
   (validated on open, so they can be copied verbatim). */
int gguf_kv_raw(const cg_gguf *f, int64_t i, const char **key, int *type, const unsigned char **value, uint64_t *n);
#endif
