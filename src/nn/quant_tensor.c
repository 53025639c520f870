/* Quantized weights as lazy tensors: raw ggml blocks in a uint8 buffer, dequantized by the
   per-type tensor-op functions of the type table (see dequant.c). */
#include <stdio.h>
#include <strings.h>
#include "ggml_types.h"

int cg_ggml_type_from_name(const char *name) {
  for (int t = 0; name && t < 64; t++) {
    const ggml_type_info *g = ggml_type_find(t);
    if (g && !strcasecmp(g->name, name)) return t;
  }
  return -1;
}

int cg_ggml_block_size(int type) {
  const ggml_type_info *g = ggml_type_find(type);
  return g ? g->blck : -1;
}

int64_t cg_ggml_row_size(int type, int64_t n) {
  const ggml_type_info *g = ggml_type_find(type);
  if (!g) {
    cg_set_error("ggml: unknown tensor type %d", type);
    return -1;
  }
  if (n < 0 || n % g->blck || n / g->blck > INT64_MAX / g->bytes) {
    cg_set_error("ggml: %lld elements are not whole %s blocks of %d", (long long)n, g->name, g->blck);
    return -1;
  }
  return n / g->blck * g->bytes;
}

static int64_t numel_of(cg_shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) {
    if (s.d[i] < 0 || (s.d[i] && n > INT64_MAX / s.d[i])) return -1;
    n *= s.d[i];
  }
  return n;
}

static const ggml_type_info *dequant_type(int type) {
  const ggml_type_info *g = ggml_type_find(type);
  if (!g) cg_set_error("dequantize: unknown ggml type %d", type);
  else if (!g->dequant) cg_set_error("dequantize: ggml type %s is not supported", g->name);
  return g && g->dequant ? g : NULL;
}

cg_tensor *cg_dequantize(cg_tensor *bytes, int type, cg_shape shape) {
  const ggml_type_info *g = dequant_type(type);
  if (!bytes || !g) return NULL;
  int64_t n = numel_of(shape);
  if (shape.ndim < 1 || n < 0 || shape.d[shape.ndim - 1] % g->blck) {
    cg_set_error("dequantize: the last dim must be a multiple of %s's block size %d", g->name, g->blck);
    return NULL;
  }
  if (cg_get_dtype(bytes) != CG_U8 || cg_numel(bytes) != n / g->blck * g->bytes) {
    cg_set_error("dequantize: %s data for %lld elements needs %lld uint8 values, got %lld %s", g->name,
                 (long long)n, (long long)(n / g->blck * g->bytes), (long long)cg_numel(bytes),
                 cg_dtype_name(cg_get_dtype(bytes)));
    return NULL;
  }
  cg_scope_push();
  cg_tensor *blocks = cg_reshape(bytes, CG_SHAPE(n / g->blck, g->bytes));
  cg_tensor *out = blocks ? cg_reshape(g->dequant(blocks), shape) : NULL;
  cg_keep(out);
  cg_scope_pop();
  return out;
}

cg_tensor *cg_gguf_tensor(const cg_gguf *f, const char *name) {
  int64_t i = cg_gguf_find_tensor(f, name);
  if (i < 0) {
    cg_set_error("gguf: no tensor named '%s'", name ? name : "(null)");
    return NULL;
  }
  int type, nd;
  int64_t dims[4];
  uint64_t nbytes;
  cg_gguf_tensor_info(f, i, NULL, &type, &nd, dims, NULL, &nbytes);
  if (!dequant_type(type)) return NULL;
  cg_shape s = {nd, {0}, {0}};
  for (int d = 0; d < nd; d++) s.d[d] = dims[nd - 1 - d]; /* ggml is innermost-first */
  if (type == CG_GGML_F32 || type == CG_GGML_F16 || type == CG_GGML_BF16) {
    cg_scope_push(); /* plain floats: a typed buffer and (for halves) a cast that fuses */
    cg_tensor *t = cg_keep(cg_cast(cg_gguf_get_f32(f, name), CG_F32));
    cg_scope_pop();
    return t;
  }
  cg_scope_push();
  cg_tensor *raw = cg_from_data(cg_gguf_tensor_data(f, i), CG_U8, CG_SHAPE((int64_t)nbytes), NULL);
  cg_tensor *t = cg_keep(cg_dequantize(raw, type, s));
  cg_scope_pop();
  return t;
}
