/* cgrad quantize IN.gguf OUT.gguf TYPE: every weight matrix of IN in TYPE, the rest kept, all
   metadata copied (general.file_type and general.quantization_version set).

   Which type each tensor gets (llama.cpp's rule, simplified):
   - 1-D tensors (norms, biases) are not quantized: F32/F16/BF16 stay as they are, a quantized
     1-D tensor becomes F32;
   - a matrix whose rows do not fill the type's blocks falls back as llama.cpp does: Q4_K ->
     Q5_0, Q6_K -> Q8_0 (32-element blocks); if rows are not a multiple of 32 either, F16;
   - a tensor already in the target type is copied as it is (no second rounding).
   Other inputs are dequantized to float32 first (with cgrad's own lazy dequantization), then
   quantized with ggml's reference algorithms (cg_quantize_rows). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"
#include "quantize.h"

/* llama.cpp's llama_ftype for a file that is mostly `type` */
static const struct { int type, ftype; } file_types[] = {
  {CG_GGML_F32, 0}, {CG_GGML_F16, 1}, {CG_GGML_Q4_0, 2}, {CG_GGML_Q4_1, 3}, {CG_GGML_Q8_0, 7},
  {CG_GGML_Q5_0, 8}, {CG_GGML_Q5_1, 9}, {CG_GGML_Q4_K, 14}, {CG_GGML_Q6_K, 18}, {CG_GGML_BF16, 32},
};
/* what a type falls back to when rows do not fill its blocks */
static const struct { int type, fallback; } fallbacks[] = {{CG_GGML_Q4_K, CG_GGML_Q5_0}, {CG_GGML_Q6_K, CG_GGML_Q8_0}};

static int file_type_of(int type) {
  for (size_t i = 0; i < sizeof file_types / sizeof *file_types; i++)
    if (file_types[i].type == type) return file_types[i].ftype;
  return -1;
}

static int is_float(int type) { return type == CG_GGML_F32 || type == CG_GGML_F16 || type == CG_GGML_BF16; }

static int target_type(int want, int src, int ndim, int64_t row) {
  if (ndim == 1) return is_float(src) ? src : CG_GGML_F32;
  for (size_t i = 0; i < sizeof fallbacks / sizeof *fallbacks; i++)
    if (fallbacks[i].type == want && row % cg_ggml_block_size(want)) want = fallbacks[i].fallback;
  return row % cg_ggml_block_size(want) ? CG_GGML_F16 : want;
}

/* The tensor's values as float32 (malloc'd). */
static float *as_floats(const cg_gguf *f, const char *name, int64_t numel) {
  float *x = malloc((size_t)numel * sizeof *x);
  if (!x) {
    cg_set_error("out of memory for '%s'", name);
    return NULL;
  }
  cg_scope_push();
  int rc = cg_to_data(cg_gguf_tensor(f, name), x, (size_t)numel * sizeof *x);
  cg_scope_pop();
  if (rc) free(x);
  return rc ? NULL : x;
}

static int add_tensor(cg_gguf_writer *w, const cg_gguf *f, int64_t i, int want) {
  const char *name;
  int src, nd;
  int64_t dims[4];
  uint64_t nbytes;
  if (cg_gguf_tensor_info(f, i, &name, &src, &nd, dims, NULL, &nbytes)) return -1;
  int64_t numel = dims[0] * dims[1] * dims[2] * dims[3];
  int dst = target_type(want, src, nd, dims[0]);
  printf("  %-40s %-5s -> %s\n", name, cg_gguf_ggml_type_name(src), cg_gguf_ggml_type_name(dst));
  if (dst == src) return cg_gguf_writer_tensor(w, name, dst, nd, dims, cg_gguf_tensor_data(f, i), (size_t)nbytes);
  float *x = as_floats(f, name, numel);
  int64_t out_size = cg_ggml_row_size(dst, dims[0]) * (numel / dims[0]);
  unsigned char *q = x ? malloc((size_t)out_size) : NULL;
  int rc = !q || cg_quantize_rows(dst, x, numel / dims[0], dims[0], q, (size_t)out_size) ||
           cg_gguf_writer_tensor(w, name, dst, nd, dims, q, (size_t)out_size) ? -1 : 0;
  if (x && !q) cg_set_error("out of memory for '%s'", name);
  free(x);
  free(q);
  return rc;
}

/* all metadata, with general.file_type and general.quantization_version (re)set */
static int copy_metadata(cg_gguf_writer *w, const cg_gguf *f, int type) {
  uint32_t ftype = (uint32_t)file_type_of(type), qver = 2;
  int rc = cg_gguf_writer_scalar(w, "general.file_type", 4, &ftype) ||
           cg_gguf_writer_scalar(w, "general.quantization_version", 4, &qver);
  for (int64_t i = 0; i < cg_gguf_kv_count(f) && !rc; i++) rc = cg_gguf_writer_copy_kv(w, f, i); /* skips those two */
  return rc ? -1 : 0;
}

int cmd_quantize(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: cgrad quantize IN.gguf OUT.gguf TYPE   (TYPE: Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q6_K F16 BF16 F32)\n");
    return 2;
  }
  int type = cg_ggml_type_from_name(argv[2]);
  if (type < 0 || file_type_of(type) < 0) {
    fprintf(stderr, "cgrad quantize: cannot quantize to '%s' (Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q6_K F16 BF16 F32)\n", argv[2]);
    return 2;
  }
  cg_gguf *f = cg_gguf_open(argv[0]);
  cg_gguf_writer *w = f ? cg_gguf_writer_new() : NULL;
  int rc = !w || copy_metadata(w, f, type);
  for (int64_t i = 0; !rc && i < cg_gguf_tensor_count(f); i++) rc = add_tensor(w, f, i, type);
  if (!rc) rc = cg_gguf_writer_save(w, argv[1]);
  if (rc) fprintf(stderr, "cgrad quantize: %s\n", cg_last_error());
  else printf("wrote %s (%s)\n", argv[1], cg_gguf_ggml_type_name(type));
  cg_gguf_writer_free(w);
  cg_gguf_close(f);
  return rc ? 1 : 0;
}
