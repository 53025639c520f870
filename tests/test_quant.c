/* Quantized weights: x @ dequant(W) is ONE kernel for every ggml type (the unpacking fuses into
   the matmul; no float copy of W exists) and equals the matmul with W dequantized on its own;
   GGUF tensors come back through cg_gguf_tensor; the GGUF writer round-trips through our reader
   (every value type, nested arrays, alignment, copy of metadata) and refuses bad input without
   touching the target file. The comparisons with llama.cpp's reference code (ULP, bit identity)
   are in tests/test_gguf_quant.py. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

static char path[256];
static const int all_types[] = {CG_GGML_F32, CG_GGML_F16, CG_GGML_BF16, CG_GGML_Q4_0, CG_GGML_Q4_1,
                                CG_GGML_Q5_0, CG_GGML_Q5_1, CG_GGML_Q8_0, CG_GGML_Q2_K, CG_GGML_Q3_K,
                                CG_GGML_Q4_K, CG_GGML_Q5_K, CG_GGML_Q6_K};
#define NTYPES (int)(sizeof all_types / sizeof *all_types)

static uint32_t rng = 12345;
static uint32_t next(void) { return rng = rng * 1664525u + 1013904223u; }

/* random blocks whose bytes are random except the half-precision scales (sane magnitudes) */
static unsigned char *random_weight(int type, int64_t rows, int64_t cols, int64_t *nbytes) {
  *nbytes = cg_ggml_row_size(type, cols) * rows;
  unsigned char *b = malloc((size_t)*nbytes);
  for (int64_t i = 0; i < *nbytes; i++) b[i] = (unsigned char)(next() >> 24);
  if (type == CG_GGML_F32 || type == CG_GGML_F16 || type == CG_GGML_BF16) { /* finite floats */
    float *x = malloc((size_t)(rows * cols) * sizeof *x);
    for (int64_t i = 0; i < rows * cols; i++) x[i] = (float)((int)(next() >> 16) - 32768) / 32768.0f;
    cg_quantize_rows(type, x, rows, cols, b, (size_t)*nbytes);
    free(x);
    return b;
  }
  static const struct { int type, size, off[2]; } scales[] = {
    {CG_GGML_Q4_0, 18, {0, -1}}, {CG_GGML_Q4_1, 20, {0, 2}}, {CG_GGML_Q5_0, 22, {0, -1}},
    {CG_GGML_Q5_1, 24, {0, 2}}, {CG_GGML_Q8_0, 34, {0, -1}}, {CG_GGML_Q2_K, 84, {80, 82}},
    {CG_GGML_Q3_K, 110, {108, -1}}, {CG_GGML_Q4_K, 144, {0, 2}}, {CG_GGML_Q5_K, 176, {0, 2}},
    {CG_GGML_Q6_K, 210, {208, -1}}};
  for (size_t s = 0; s < sizeof scales / sizeof *scales; s++) {
    if (scales[s].type != type) continue;
    for (int64_t blk = 0; blk < *nbytes / scales[s].size; blk++)
      for (int k = 0; k < 2 && scales[s].off[k] >= 0; k++) {
        unsigned char *p = b + blk * scales[s].size + scales[s].off[k];
        uint16_t h = (uint16_t)(0x1800 + next() % 0x1800) | (uint16_t)(next() & 0x8000); /* 2^-9 .. 1 */
        p[0] = (unsigned char)h, p[1] = (unsigned char)(h >> 8);
      }
  }
  return b;
}

static void test_dequant_matmul_is_1_kernel(void) {
  int interp = !strcmp(cg_default_device(), "INTERP");
  int64_t m = interp ? 2 : 8, n = interp ? 8 : 64, kdim = 512;
  for (int ti = 0; ti < NTYPES; ti++) {
    cg_scope_push();
    int type = all_types[ti];
    int64_t nbytes;
    unsigned char *raw = random_weight(type, n, kdim, &nbytes);
    cg_tensor *bytes = cg_from_data(raw, CG_U8, CG_SHAPE(nbytes), NULL);
    cg_tensor *w = cg_dequantize(bytes, type, CG_SHAPE(n, kdim));
    cg_tensor *x = cg_randn(CG_SHAPE(m, kdim), CG_F32);
    cg_tensor *fused[2] = {cg_linear(x, w, NULL), cg_matmul(x, cg_transpose(w, 0, 1))};
    for (int k = 0; k < 2; k++)
      if (cg_count_kernels(&fused[k], 1) != 1)
        th_fail(__FILE__, __LINE__, "%s: x @ dequant(W) (%s) is %d kernels, want 1", cg_gguf_ggml_type_name(type),
                k ? "matmul" : "linear", cg_count_kernels(&fused[k], 1));
    /* the same product from a materialized W; the two may sum in different orders (a GPU steps
       a unit-stride row 4 elements at a time), so each may be off the exact dot product by up to
       K*u*sum|x_i w_i| (u = 2^-24): fused and unfused results (a, b vs r) lie within twice that */
    cg_tensor *wc = cg_contiguous(w);
    CHECK(cg_realize(wc) == 0);
    cg_tensor *ref = cg_linear(x, wc, NULL), *mag = cg_linear(cg_abs(x), cg_abs(wc), NULL);
    float *a = th_floats(fused[0]), *b = th_floats(fused[1]), *r = th_floats(ref), *mg = th_floats(mag);
    double worst = 0, bound = 2.0 * (double)kdim * 0x1p-24;
    for (int64_t i = 0; a && b && r && mg && i < m * n; i++) {
      double e = th_worst(fabs(a[i] - r[i]), fabs(b[i] - r[i])) / (mg[i] + 1e-30);
      worst = th_worst(worst, e);
    }
    if (!a || !b || !r || !mg || worst > bound)
      th_fail(__FILE__, __LINE__, "%s: fused product differs from the unfused one by %g of sum|x*w| (bound %g)",
              cg_gguf_ggml_type_name(type), worst, bound);
    free(mg);
    free(a), free(b), free(r), free(raw);
    cg_scope_pop();
  }
}

static void test_dequant_errors(void) {
  unsigned char raw[64] = {0};
  cg_tensor *b = cg_from_data(raw, CG_U8, CG_SHAPE(34), NULL);
  CHECK(cg_dequantize(b, CG_GGML_Q8_0, CG_SHAPE(32)) != NULL);
  CHECK(cg_dequantize(b, 99, CG_SHAPE(32)) == NULL && strstr(cg_last_error(), "unknown ggml type"));
  CHECK(cg_dequantize(b, CG_GGML_Q8_K, CG_SHAPE(256)) == NULL && strstr(cg_last_error(), "not supported"));
  CHECK(cg_dequantize(b, CG_GGML_Q8_0, CG_SHAPE(64)) == NULL && strstr(cg_last_error(), "needs 68 uint8"));
  CHECK(cg_dequantize(b, CG_GGML_Q8_0, CG_SHAPE(2, 16)) == NULL && strstr(cg_last_error(), "multiple of"));
  CHECK(cg_dequantize(cg_cast(b, CG_I8), CG_GGML_Q8_0, CG_SHAPE(32)) == NULL);
  CHECK(cg_dequantize(NULL, CG_GGML_Q8_0, CG_SHAPE(32)) == NULL);
  float x[32] = {0};
  CHECK(cg_quantize_rows(CG_GGML_Q2_K, x, 1, 256, raw, sizeof raw) == -1 && strstr(cg_last_error(), "cannot produce"));
  CHECK(cg_quantize_rows(CG_GGML_Q8_0, x, 1, 30, raw, sizeof raw) == -1);
  CHECK(cg_quantize_rows(CG_GGML_Q8_0, x, 2, 32, raw, sizeof raw) == -1 && strstr(cg_last_error(), "too small"));
  CHECK_EQ_INT(cg_ggml_type_from_name("q4_k"), CG_GGML_Q4_K);
  CHECK_EQ_INT(cg_ggml_type_from_name("Q9"), -1);
}

static int u32v(cg_gguf_writer *w, const char *k, uint32_t v) { return cg_gguf_writer_scalar(w, k, 4, &v); }

/* a file with one pair of every value type, nested arrays, alignment 64 and three tensors */
static int write_sample(const char *p, const float *xs, int64_t rows, int64_t cols) {
  cg_gguf_writer *w = cg_gguf_writer_new();
  uint8_t u8 = 200, b1 = 1;
  int8_t i8 = -5;
  uint16_t u16 = 60000;
  int16_t i16 = -30000, in0 = 7, in1 = 8;
  int32_t i32 = -2000000000;
  float f32 = 1.5f;
  uint64_t u64 = (1ull << 63) + 5;
  int64_t i64 = -(1ll << 40);
  double f64 = 3.25;
  int rc = cg_gguf_writer_scalar(w, "u8", 0, &u8) | cg_gguf_writer_scalar(w, "i8", 1, &i8) |
           cg_gguf_writer_scalar(w, "u16", 2, &u16) | cg_gguf_writer_scalar(w, "i16", 3, &i16) |
           u32v(w, "u32", 4000000000u) | cg_gguf_writer_scalar(w, "i32", 5, &i32) |
           cg_gguf_writer_scalar(w, "f32", 6, &f32) | cg_gguf_writer_scalar(w, "bool", 7, &b1) |
           cg_gguf_writer_string(w, "str", "hello \xc3\xa9") | cg_gguf_writer_scalar(w, "u64", 10, &u64) |
           cg_gguf_writer_scalar(w, "i64", 11, &i64) | cg_gguf_writer_scalar(w, "f64", 12, &f64) |
           u32v(w, "general.alignment", 64);
  rc |= cg_gguf_writer_array(w, "nested", 9, 3);                      /* [[int16 7, 8], ["x"], []] */
  rc |= cg_gguf_writer_array(w, NULL, 3, 2) | cg_gguf_writer_scalar(w, NULL, 3, &in0) | cg_gguf_writer_scalar(w, NULL, 3, &in1);
  rc |= cg_gguf_writer_array(w, NULL, 8, 1) | cg_gguf_writer_string(w, NULL, "x");
  rc |= cg_gguf_writer_array(w, NULL, 6, 0);
  rc |= cg_gguf_writer_array(w, "arr_str", 8, 2) | cg_gguf_writer_string(w, NULL, "a") | cg_gguf_writer_string(w, NULL, "");
  int64_t qbytes = cg_ggml_row_size(CG_GGML_Q8_0, cols) * rows;
  unsigned char *q = malloc((size_t)qbytes);
  rc |= cg_quantize_rows(CG_GGML_Q8_0, xs, rows, cols, q, (size_t)qbytes);
  rc |= cg_gguf_writer_tensor(w, "q", CG_GGML_Q8_0, 2, (int64_t[]){cols, rows}, q, (size_t)qbytes);
  rc |= cg_gguf_writer_tensor(w, "f", CG_GGML_F32, 1, (int64_t[]){3}, xs, 12);
  rc |= cg_gguf_writer_tensor(w, "g", CG_GGML_F32, 2, (int64_t[]){cols, rows}, xs, (size_t)(rows * cols * 4));
  rc |= cg_gguf_writer_save(w, p);
  cg_gguf_writer_free(w);
  free(q);
  return rc;
}

static void test_gguf_writer_roundtrip(void) {
  enum { R = 16, C = 64 };
  float xs[R * C];
  for (int i = 0; i < R * C; i++) xs[i] = (float)((int)(next() >> 20) - 2048) / 1024.0f;
  CHECK(write_sample(path, xs, R, C) == 0);
  cg_gguf *f = cg_gguf_open(path);
  CHECK(f != NULL);
  if (!f) return;
  int64_t v;
  double d;
  CHECK_EQ_INT(cg_gguf_version(f), 3);
  CHECK_EQ_INT(cg_gguf_alignment(f), 64);
  CHECK(cg_gguf_get_int(f, "u8", &v) == 0 && v == 200);
  CHECK(cg_gguf_get_int(f, "i8", &v) == 0 && v == -5);
  CHECK(cg_gguf_get_int(f, "u16", &v) == 0 && v == 60000);
  CHECK(cg_gguf_get_int(f, "i16", &v) == 0 && v == -30000);
  CHECK(cg_gguf_get_int(f, "u32", &v) == 0 && v == 4000000000LL);
  CHECK(cg_gguf_get_int(f, "i32", &v) == 0 && v == -2000000000LL);
  CHECK(cg_gguf_get_float(f, "f32", &d) == 0 && d == 1.5);
  CHECK(cg_gguf_get_int(f, "bool", &v) == 0 && v == 1);
  CHECK(!strcmp(cg_gguf_get_string(f, "str"), "hello \xc3\xa9"));
  CHECK(cg_gguf_get_float(f, "u64", &d) == 0 && d == (double)((1ull << 63) + 5));
  CHECK(cg_gguf_get_int(f, "i64", &v) == 0 && v == -(1ll << 40));
  CHECK(cg_gguf_get_float(f, "f64", &d) == 0 && d == 3.25);
  CHECK_EQ_INT(cg_gguf_array_len(f, "nested"), 3);
  CHECK_EQ_INT(cg_gguf_array_type(f, "nested"), 9);
  CHECK(!strcmp(cg_gguf_array_string(f, "arr_str", 0), "a") && !strcmp(cg_gguf_array_string(f, "arr_str", 1), ""));
  uint64_t off[3];
  for (int i = 0; i < 3; i++) CHECK(cg_gguf_tensor_info(f, i, NULL, NULL, NULL, NULL, &off[i], NULL) == 0 && off[i] % 64 == 0);
  /* tensors: F32 exact, Q8_0 within its step, and a linear on the quantized one is one kernel */
  cg_tensor *g = cg_gguf_tensor(f, "g"), *q = cg_gguf_tensor(f, "q");
  CHECK(th_max_diff(g, xs, R * C) == 0);
  CHECK(th_max_diff(q, xs, R * C) < 2.0 / 127 * 1.01);
  cg_tensor *x = cg_randn(CG_SHAPE(3, C), CG_F32);
  cg_tensor *y = cg_linear(x, q, NULL);
  CHECK_EQ_INT(cg_count_kernels(&y, 1), 1);
  CHECK(cg_gguf_tensor(f, "nope") == NULL && strstr(cg_last_error(), "no tensor"));
  /* copying every pair into a new writer reproduces the metadata byte for byte */
  char path2[300];
  snprintf(path2, sizeof path2, "%s.copy", path);
  cg_gguf_writer *w = cg_gguf_writer_new();
  for (int64_t i = 0; i < cg_gguf_kv_count(f); i++) CHECK(cg_gguf_writer_copy_kv(w, f, i) == 0);
  CHECK(cg_gguf_writer_save(w, path2) == 0);
  cg_gguf_writer_free(w);
  cg_gguf *f2 = cg_gguf_open(path2);
  CHECK(f2 && cg_gguf_kv_count(f2) == cg_gguf_kv_count(f) && cg_gguf_alignment(f2) == 64);
  CHECK(f2 && cg_gguf_array_len(f2, "nested") == 3 && !strcmp(cg_gguf_get_string(f2, "str"), "hello \xc3\xa9"));
  cg_gguf_close(f2);
  cg_gguf_close(f);
  unlink(path2);
}

static void test_gguf_writer_refuses_bad_input(void) {
  float xs[64] = {0};
  CHECK(write_sample(path, xs, 1, 64) == 0);
  FILE *fp = fopen(path, "rb");
  fseek(fp, 0, SEEK_END);
  long before = ftell(fp);
  fclose(fp);
  cg_gguf_writer *w = cg_gguf_writer_new();
  uint32_t three = 3;
  CHECK(cg_gguf_writer_string(w, "a", "x") == 0);
  CHECK(cg_gguf_writer_string(w, "a", "y") == -1 && strstr(cg_last_error(), "duplicate"));
  CHECK(cg_gguf_writer_string(w, NULL, "y") == -1 && strstr(cg_last_error(), "needs a key"));
  CHECK(cg_gguf_writer_scalar(w, "general.alignment", 4, &three) == -1 && strstr(cg_last_error(), "power of two"));
  CHECK(cg_gguf_writer_scalar(w, "t", 13, &three) == -1 && strstr(cg_last_error(), "unknown value type"));
  CHECK(cg_gguf_writer_scalar(w, "s", 8, &three) == -1);
  CHECK(cg_gguf_writer_array(w, "arr", 5, 2) == 0);
  CHECK(cg_gguf_writer_string(w, NULL, "wrong type") == -1 && strstr(cg_last_error(), "array element"));
  CHECK(cg_gguf_writer_string(w, "k", "key inside an array") == -1 && strstr(cg_last_error(), "still expects 2"));
  CHECK(cg_gguf_writer_save(w, path) == -1 && strstr(cg_last_error(), "still expects"));
  CHECK(cg_gguf_writer_tensor(w, "t", CG_GGML_Q8_0, 1, (int64_t[]){30}, xs, 34) == -1);
  CHECK(cg_gguf_writer_tensor(w, "t", 77, 1, (int64_t[]){32}, xs, 34) == -1 && strstr(cg_last_error(), "unknown"));
  CHECK(cg_gguf_writer_tensor(w, "t", CG_GGML_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, xs, 4) == -1);
  CHECK(cg_gguf_writer_tensor(w, "t", CG_GGML_F32, 1, (int64_t[]){4}, xs, 12) == -1 && strstr(cg_last_error(), "need 16"));
  CHECK(cg_gguf_writer_tensor(w, "t", CG_GGML_F32, 1, (int64_t[]){4}, xs, 16) == 0);
  CHECK(cg_gguf_writer_tensor(w, "t", CG_GGML_F32, 1, (int64_t[]){4}, xs, 16) == -1 && strstr(cg_last_error(), "duplicate"));
  CHECK(cg_gguf_writer_save(w, "/nonexistent-dir/x.gguf") == -1);
  cg_gguf_writer_free(w);
  /* the earlier file is untouched by the failed save */
  fp = fopen(path, "rb");
  fseek(fp, 0, SEEK_END);
  CHECK_EQ_INT(ftell(fp), before);
  fclose(fp);
  cg_gguf *f = cg_gguf_open(path);
  CHECK(f != NULL);
  cg_gguf_close(f);
}

int main(int argc, char **argv) {
  snprintf(path, sizeof path, "/tmp/cgrad-quant-%d.gguf", (int)getpid());
  static const th_test tests[] = {
    {"dequant_matmul_is_1_kernel", test_dequant_matmul_is_1_kernel},
    {"dequant_errors", test_dequant_errors},
    {"gguf_writer_roundtrip", test_gguf_writer_roundtrip},
    {"gguf_writer_refuses_bad_input", test_gguf_writer_refuses_bad_input},
    {NULL, NULL}};
  int rc = th_run(tests, argc, argv);
  unlink(path);
  return rc;
}
