/* GGUF: files written by hand to the spec (v3 and v2, metadata of every type incl. nested arrays,
   F32 and F16 tensors behind alignment padding) read back value by value; hostile files
   (truncated, mutated, lying) that must give a clear error and never crash; and the real files
   under ../shared/testdata/llm/ (skipped with a message when absent). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

static char path[256];

typedef struct { unsigned char b[2048]; size_t n; } buf;
static void put(buf *w, const void *p, size_t n) { memcpy(w->b + w->n, p, n), w->n += n; }
static void u8(buf *w, uint8_t v) { put(w, &v, 1); }
static void u16(buf *w, uint16_t v) { for (int i = 0; i < 2; i++) u8(w, (uint8_t)(v >> 8 * i)); }
static void u32(buf *w, uint32_t v) { for (int i = 0; i < 4; i++) u8(w, (uint8_t)(v >> 8 * i)); }
static void u64(buf *w, uint64_t v) { for (int i = 0; i < 8; i++) u8(w, (uint8_t)(v >> 8 * i)); }
static void str(buf *w, const char *s) { u64(w, strlen(s)), put(w, s, strlen(s)); }
static void key(buf *w, const char *k, uint32_t type) { str(w, k), u32(w, type); }
static void f32(buf *w, float x) { uint32_t u; memcpy(&u, &x, 4), u32(w, u); }
static void f64(buf *w, double x) { uint64_t u; memcpy(&u, &x, 8), u64(w, u); }

static void write_bytes(const char *p, const void *data, size_t n) {
  FILE *f = fopen(p, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

static const float W[6] = {1, 2, 3, 4, 5, 6};
static const uint16_t H[4] = {0x3c00, 0xc000, 0x3800, 0x0000}; /* 1, -2, 0.5, 0 */

/* 19 kvs (18 without general.alignment); tensors "w" F32 ggml dims [3, 2] at 0 and "h" F16 [4] at `align` (64 with the
   general.alignment key, else the default 32). */
static size_t handmade(buf *w, int version, int with_alignment) {
  uint64_t align = with_alignment ? 64 : 32;
  w->n = 0;
  u32(w, 0x46554747u), u32(w, (uint32_t)version), u64(w, 2), u64(w, with_alignment ? 19 : 18);
  key(w, "u8", 0), u8(w, 200);
  key(w, "i8", 1), u8(w, (uint8_t)-5);
  key(w, "u16", 2), u16(w, 60000);
  key(w, "i16", 3), u16(w, (uint16_t)-30000);
  key(w, "u32", 4), u32(w, 4000000000u);
  key(w, "i32", 5), u32(w, (uint32_t)-2000000000);
  key(w, "f32", 6), f32(w, 1.5f);
  key(w, "bool", 7), u8(w, 1);
  key(w, "str", 8), str(w, "hello \xc3\xa9");
  key(w, "u64", 10), u64(w, (1ull << 63) + 5);
  key(w, "i64", 11), u64(w, (uint64_t)-(1ll << 40));
  key(w, "f64", 12), f64(w, 3.25);
  if (with_alignment) key(w, "general.alignment", 4), u32(w, 64);
  key(w, "arr_i32", 9), u32(w, 5), u64(w, 3), u32(w, 1), u32(w, (uint32_t)-2), u32(w, 3);
  key(w, "arr_str", 9), u32(w, 8), u64(w, 3), str(w, "a"), str(w, "bc"), str(w, "");
  key(w, "arr_f64", 9), u32(w, 12), u64(w, 2), f64(w, 0.5), f64(w, -1);
  key(w, "arr_bool", 9), u32(w, 7), u64(w, 2), u8(w, 0), u8(w, 1);
  key(w, "nested", 9), u32(w, 9), u64(w, 2);
  u32(w, 3), u64(w, 2), u16(w, 7), u16(w, 8);        /* [int16 7, 8] */
  u32(w, 8), u64(w, 1), str(w, "x");                 /* [string "x"] */
  key(w, "empty", 9), u32(w, 6), u64(w, 0);
  str(w, "w"), u32(w, 2), u64(w, 3), u64(w, 2), u32(w, 0), u64(w, 0);
  str(w, "h"), u32(w, 1), u64(w, 4), u32(w, 1), u64(w, align);
  while (w->n % align) u8(w, 0);
  size_t data = w->n;
  put(w, W, sizeof W);
  while (w->n < data + align) u8(w, 0xAA);
  put(w, H, sizeof H);
  return w->n;
}

static void check_handmade(int version, int with_alignment) {
  buf w;
  write_bytes(path, w.b, handmade(&w, version, with_alignment));
  cg_gguf *f = cg_gguf_open(path);
  CHECK(f != NULL);
  if (!f) return;
  CHECK_EQ_INT(cg_gguf_version(f), version);
  CHECK_EQ_INT(cg_gguf_alignment(f), with_alignment ? 64 : 32);
  CHECK_EQ_INT(cg_gguf_kv_count(f), with_alignment ? 19 : 18);
  CHECK(!strcmp(cg_gguf_kv_key(f, 0), "u8"));
  CHECK_EQ_INT(cg_gguf_kv_type(f, 8), 8);
  CHECK(cg_gguf_kv_key(f, 99) == NULL && cg_gguf_kv_type(f, -1) == -1);
  int64_t v;
  double x;
  const char *ik[] = {"u8", "i8", "u16", "i16", "u32", "i32", "bool", "i64"};
  const int64_t iv[] = {200, -5, 60000, -30000, 4000000000ll, -2000000000ll, 1, -(1ll << 40)};
  for (int i = 0; i < 8; i++) {
    v = 0;
    CHECK(cg_gguf_get_int(f, ik[i], &v) == 0);
    CHECK_EQ_INT(v, iv[i]);
    CHECK(cg_gguf_get_float(f, ik[i], &x) == 0 && x == (double)iv[i]);
  }
  CHECK(cg_gguf_get_int(f, "u64", &v) != 0); /* does not fit int64 */
  CHECK(cg_gguf_get_float(f, "u64", &x) == 0 && x == (double)((1ull << 63) + 5));
  CHECK(cg_gguf_get_float(f, "f32", &x) == 0 && x == 1.5);
  CHECK(cg_gguf_get_float(f, "f64", &x) == 0 && x == 3.25);
  CHECK(cg_gguf_get_int(f, "f64", &v) != 0 && strstr(cg_last_error(), "not an integer"));
  CHECK(!strcmp(cg_gguf_get_string(f, "str"), "hello \xc3\xa9"));
  CHECK(cg_gguf_get_string(f, "u8") == NULL && cg_gguf_get_string(f, "nope") == NULL);
  CHECK(cg_gguf_get_int(f, "nope", &v) != 0 && strstr(cg_last_error(), "no metadata key"));
  CHECK(cg_gguf_find_key(f, "f64") == 11 && cg_gguf_find_key(f, "zz") == -1);
  CHECK_EQ_INT(cg_gguf_array_len(f, "arr_i32"), 3);
  CHECK_EQ_INT(cg_gguf_array_type(f, "arr_i32"), 5);
  CHECK(cg_gguf_array_int(f, "arr_i32", 1, &v) == 0 && v == -2);
  CHECK(cg_gguf_array_int(f, "arr_i32", 2, &v) == 0 && v == 3);
  CHECK(cg_gguf_array_int(f, "arr_i32", 3, &v) != 0 && cg_gguf_array_int(f, "arr_i32", -1, &v) != 0);
  CHECK(cg_gguf_array_float(f, "arr_i32", 0, &x) == 0 && x == 1);
  CHECK_EQ_INT(cg_gguf_array_len(f, "arr_str"), 3);
  CHECK(!strcmp(cg_gguf_array_string(f, "arr_str", 0), "a") && !strcmp(cg_gguf_array_string(f, "arr_str", 1), "bc"));
  CHECK(!strcmp(cg_gguf_array_string(f, "arr_str", 2), ""));
  CHECK(cg_gguf_array_string(f, "arr_i32", 0) == NULL && cg_gguf_array_int(f, "arr_str", 0, &v) != 0);
  CHECK(cg_gguf_array_float(f, "arr_f64", 1, &x) == 0 && x == -1);
  CHECK(cg_gguf_array_int(f, "arr_bool", 1, &v) == 0 && v == 1);
  CHECK_EQ_INT(cg_gguf_array_len(f, "nested"), 2);
  CHECK_EQ_INT(cg_gguf_array_type(f, "nested"), 9);
  CHECK(cg_gguf_array_int(f, "nested", 0, &v) != 0);
  CHECK_EQ_INT(cg_gguf_array_len(f, "empty"), 0);
  CHECK(cg_gguf_array_len(f, "u8") == -1);
  CHECK_EQ_INT(cg_gguf_tensor_count(f), 2);
  const char *name;
  int type, nd;
  int64_t dims[4];
  uint64_t off, nb;
  CHECK(cg_gguf_tensor_info(f, 0, &name, &type, &nd, dims, &off, &nb) == 0);
  CHECK(!strcmp(name, "w") && type == 0 && nd == 2 && dims[0] == 3 && dims[1] == 2 && dims[2] == 1 && off == 0 && nb == 24);
  CHECK(cg_gguf_tensor_info(f, 1, &name, &type, &nd, dims, &off, &nb) == 0);
  CHECK(!strcmp(name, "h") && type == 1 && nd == 1 && dims[0] == 4 && off == (with_alignment ? 64u : 32u) && nb == 8);
  CHECK(cg_gguf_tensor_info(f, 2, NULL, NULL, NULL, NULL, NULL, NULL) != 0);
  CHECK(!memcmp(cg_gguf_tensor_data(f, 0), W, sizeof W) && !memcmp(cg_gguf_tensor_data(f, 1), H, sizeof H));
  CHECK(cg_gguf_find_tensor(f, "h") == 1 && cg_gguf_find_tensor(f, "q") == -1);
  cg_tensor *tw = cg_gguf_get_f32(f, "w"), *th = cg_gguf_get_f32(f, "h");
  CHECK(tw && cg_get_shape(tw).ndim == 2 && cg_get_shape(tw).d[0] == 2 && cg_get_shape(tw).d[1] == 3);
  CHECK(tw && th_max_diff(tw, W, 6) == 0);
  const float hf[4] = {1, -2, 0.5f, 0};
  CHECK(th && cg_get_dtype(th) == CG_F16);
  CHECK(th && th_max_diff(cg_cast(th, CG_F32), hf, 4) == 0);
  CHECK(cg_gguf_get_f32(f, "nope") == NULL);
  cg_gguf_close(f);
  unlink(path);
}

static void test_gguf_v3(void) { check_handmade(3, 1); }
static void test_gguf_v2(void) { check_handmade(2, 0); }

/* open, and if it opens, touch every value and tensor */
static cg_gguf *open_and_walk(void) {
  cg_gguf *f = cg_gguf_open(path);
  if (!f) return NULL;
  for (int64_t i = 0; i < cg_gguf_kv_count(f); i++) {
    const char *k = cg_gguf_kv_key(f, i);
    int64_t v;
    double x;
    cg_gguf_get_int(f, k, &v), cg_gguf_get_float(f, k, &x), cg_gguf_get_string(f, k);
    for (int64_t j = 0; j < cg_gguf_array_len(f, k); j++)
      cg_gguf_array_int(f, k, j, &v), cg_gguf_array_float(f, k, j, &x), cg_gguf_array_string(f, k, j);
  }
  for (int64_t i = 0; i < cg_gguf_tensor_count(f); i++) {
    const char *name;
    uint64_t nb;
    cg_gguf_tensor_info(f, i, &name, NULL, NULL, NULL, NULL, &nb);
    const unsigned char *d = cg_gguf_tensor_data(f, i);
    volatile unsigned sum = 0;
    for (uint64_t k = 0; k < nb; k++) sum += d[k];
    cg_tensor *t = cg_gguf_get_f32(f, name);
    if (t) cg_realize(t);
  }
  return f;
}

static void expect_error(const void *data, size_t n, const char *needle) {
  write_bytes(path, data, n);
  cg_clear_error();
  cg_gguf *f = open_and_walk();
  CHECK(f == NULL);
  cg_gguf_close(f);
  if (!f && !strstr(cg_last_error(), needle)) th_fail(__FILE__, __LINE__, "'%s' lacks '%s'", cg_last_error(), needle);
  unlink(path);
}

/* a one-tensor file with the given tensor info fields */
static size_t one_tensor(buf *w, uint32_t nd, const uint64_t *dims, uint32_t type, uint64_t off) {
  w->n = 0;
  u32(w, 0x46554747u), u32(w, 3), u64(w, 1), u64(w, 0);
  str(w, "t"), u32(w, nd);
  for (uint32_t i = 0; i < nd; i++) u64(w, dims[i]);
  u32(w, type), u64(w, off);
  while (w->n % 32) u8(w, 0);
  for (int i = 0; i < 256; i++) u8(w, (uint8_t)i);
  return w->n;
}

static void test_gguf_hostile_files(void) {
  buf w, m;
  size_t n = handmade(&w, 3, 1);
  for (size_t cut = 0; cut < n; cut++) expect_error(w.b, cut, "gguf");
  expect_error(w.b, 10, "too short");
  memcpy(&m, &w, sizeof w);
  m.b[0] = 'X';
  expect_error(m.b, n, "bad magic");
  m.b[0] = 'G', m.b[4] = 1;
  expect_error(m.b, n, "unsupported version");
  m.b[4] = 3, m.b[23] = 1; /* 2^56 kvs */
  expect_error(m.b, n, "metadata count");
  m.b[23] = 0, m.b[15] = 1;
  expect_error(m.b, n, "tensor count");
  /* lying tensor infos */
  buf t;
  uint64_t d2[5] = {4, 2, 1, 1, 1}, d0[1] = {0}, d31[1] = {31}, big[4] = {1ull << 40, 1ull << 40, 1, 1}, d64[1] = {64}, d512[1] = {512};
  expect_error(t.b, one_tensor(&t, 1, d0, 0, 0), "bad tensor dimension");
  expect_error(t.b, one_tensor(&t, 5, d2, 0, 0), "1 to 4 dimensions");
  expect_error(t.b, one_tensor(&t, 0, d2, 0, 0), "1 to 4 dimensions");
  expect_error(t.b, one_tensor(&t, 1, d31, 2, 0), "block size");
  expect_error(t.b, one_tensor(&t, 1, d64, 4, 0), "unknown ggml");
  expect_error(t.b, one_tensor(&t, 1, d64, 99, 0), "unknown ggml");
  expect_error(t.b, one_tensor(&t, 4, big, 0, 0), "too large");
  expect_error(t.b, one_tensor(&t, 2, d2, 0, 4), "not aligned");
  expect_error(t.b, one_tensor(&t, 2, d2, 0, 256), "beyond the file");
  expect_error(t.b, one_tensor(&t, 1, d512, 14, 0), "beyond the file"); /* Q6_K: 2 x 210 bytes > 256 */
  write_bytes(path, t.b, one_tensor(&t, 1, d64, 2, 0));                  /* Q4_0: 2 x 18 bytes fit */
  cg_gguf *q = cg_gguf_open(path);
  uint64_t qb = 0;
  CHECK(q && cg_gguf_tensor_info(q, 0, NULL, NULL, NULL, NULL, NULL, &qb) == 0 && qb == 36);
  CHECK(q && cg_gguf_get_f32(q, "t") == NULL && strstr(cg_last_error(), "Q4_0"));
  cg_gguf_close(q);
  /* metadata lies */
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 2), key(&t, "a", 4), u32(&t, 1), key(&t, "a", 4), u32(&t, 2);
  expect_error(t.b, t.n, "duplicate metadata key");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "a", 13), u64(&t, 0);
  expect_error(t.b, t.n, "unknown metadata value type");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "a", 7), u8(&t, 2), u64(&t, 0);
  expect_error(t.b, t.n, "bool");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "a", 8), u64(&t, 1000), u64(&t, 0);
  expect_error(t.b, t.n, "string length beyond");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "a", 9);
  for (int i = 0; i < 5; i++) u32(&t, 9), u64(&t, 1);
  u32(&t, 0), u64(&t, 1), u8(&t, 0), u64(&t, 0);
  expect_error(t.b, t.n, "nested too deeply");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "a", 9), u32(&t, 4), u64(&t, 1ull << 60), u64(&t, 0);
  expect_error(t.b, t.n, "array length beyond");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "general.alignment", 4), u32(&t, 48), u64(&t, 0);
  expect_error(t.b, t.n, "power of two");
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "general.alignment", 5), u32(&t, 64), u64(&t, 0);
  expect_error(t.b, t.n, "not a uint32");
  /* depth 4 is fine, and a file with no tensors needs no padding */
  t.n = 0;
  u32(&t, 0x46554747u), u32(&t, 3), u64(&t, 0), u64(&t, 1), key(&t, "a", 9);
  for (int i = 0; i < 3; i++) u32(&t, 9), u64(&t, 1);
  u32(&t, 0), u64(&t, 1), u8(&t, 0);
  write_bytes(path, t.b, t.n);
  cg_gguf *f = cg_gguf_open(path);
  CHECK(f != NULL);
  cg_gguf_close(f);
  /* a fixed-seed corpus of random byte mutations: no crash, no sanitizer report */
  uint64_t s = 12345;
  int opened = 0;
  for (int round = 0; round < 400; round++) {
    memcpy(&m, &w, sizeof w);
    int k = 1 + round % 4;
    for (int j = 0; j < k; j++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      size_t at = (s >> 33) % n;
      if (round % 3 == 0) at %= 600; /* favour the header */
      m.b[at % n] = (unsigned char)(s >> 17);
    }
    write_bytes(path, m.b, n);
    f = open_and_walk();
    opened += f != NULL;
    cg_gguf_close(f);
  }
  printf("gguf mutation corpus: %d of 400 mutated files still valid\n", opened);
  unlink(path);
}

static int has_fffd(const char *p) { /* U+FFFD: the file went through a lossy UTF-8 decode */
  FILE *fp = fopen(p, "rb");
  if (!fp) return 0;
  int a = 0, b = 0, c, found = 0;
  while (!found && (c = fgetc(fp)) != EOF) found = a == 0xef && b == 0xbf && c == 0xbd, a = b, b = c;
  fclose(fp);
  return found;
}

static void test_gguf_real_files(void) {
  const char *dir = "../shared/testdata/llm";
  char p[1024];
  snprintf(p, sizeof p, "%s/llama-2-tiny-random.gguf", dir);
  if (access(p, R_OK) != 0) {
    const char *src = getenv("CGRAD_SOURCE_DIR");
    (void)src;
    dir = "/work/shared/testdata/llm";
    snprintf(p, sizeof p, "%s/llama-2-tiny-random.gguf", dir);
  }
  if (access(p, R_OK) == 0) {
    cg_gguf *f = cg_gguf_open(p);
    CHECK(f != NULL);
    if (f) {
      int64_t v = 0;
      CHECK(cg_gguf_get_int(f, "llama.embedding_length", &v) == 0 && v == 8);
      CHECK_EQ_INT(cg_gguf_array_len(f, "tokenizer.ggml.tokens"), 32000);
      CHECK(!strcmp(cg_gguf_array_string(f, "tokenizer.ggml.tokens", 1), "<s>"));
      cg_tensor *t = cg_gguf_get_f32(f, "token_embd.weight");
      CHECK(t && cg_get_shape(t).d[0] == 32000 && cg_get_shape(t).d[1] == 8 && cg_get_dtype(t) == CG_F16);
      CHECK(t && cg_realize(t) == 0);
      printf("%s: v%d, %lld kvs, %lld tensors\n", p, cg_gguf_version(f), (long long)cg_gguf_kv_count(f),
             (long long)cg_gguf_tensor_count(f));
      cg_gguf_close(f);
    }
  } else printf("skipping %s: absent\n", p);
  snprintf(p, sizeof p, "%s/vocab", dir);
  DIR *d = opendir(p);
  if (!d) {
    printf("skipping %s: absent\n", p);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 5 || strcmp(e->d_name + l - 5, ".gguf")) continue;
    char fp[2048];
    snprintf(fp, sizeof fp, "%s/%s", p, e->d_name);
    cg_clear_error();
    cg_gguf *f = cg_gguf_open(fp);
    if (f) printf("%s: v%d, %lld kvs, %lld tensors\n", e->d_name, cg_gguf_version(f), (long long)cg_gguf_kv_count(f),
                  (long long)cg_gguf_tensor_count(f));
    else {
      /* the shared copies were mangled by a lossy UTF-8 decode (bytes >= 0x80 that are not valid
         UTF-8 became EF BF BD), so they cannot parse: a clean error is right; an unmangled file
         that fails is a reader bug */
      printf("%s: rejected (%s)%s\n", e->d_name, cg_last_error(), has_fffd(fp) ? " [file contains U+FFFD: mangled copy]" : "");
      CHECK(strstr(cg_last_error(), "gguf") != NULL);
      if (!has_fffd(fp)) th_fail(__FILE__, __LINE__, "%s fails to open: %s", fp, cg_last_error());
    }
    cg_gguf_close(f);
  }
  closedir(d);
}

int main(int argc, char **argv) {
  snprintf(path, sizeof path, "/tmp/cgrad-gguf-%d.gguf", (int)getpid());
  static const th_test tests[] = {
    {"gguf_v3", test_gguf_v3},
    {"gguf_v2", test_gguf_v2},
    {"gguf_hostile_files", test_gguf_hostile_files},
    {"gguf_real_files", test_gguf_real_files},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
