/* safetensors: round trip, a file written by hand to the spec, and hostile files (truncated,
   mutated, lying headers) that must give a clear error and never crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

static char path[256];

static void write_bytes(const char *p, const void *data, size_t n) {
  FILE *f = fopen(p, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

static size_t handmade(unsigned char *out) { /* {"a": F32 [2], "__metadata__": {"k": "v"}} */
  const char *hdr = "{\"__metadata__\":{\"k\":\"v\\u00e9\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  uint64_t n = strlen(hdr);
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)(n >> (8 * i));
  memcpy(out + 8, hdr, n);
  float v[2] = {1.5f, -2};
  memcpy(out + 8 + n, v, 8);
  return 8 + n + 8;
}

static void test_safetensors_round_trip(void) {
  snprintf(path, sizeof path, "/tmp/cgrad-st-%d.safetensors", (int)getpid());
  float a[6] = {1, 2, 3, 4, 5, 6};
  int32_t b[3] = {-1, 0, 7};
  cg_tensor *ts[3] = {cg_from_data(a, CG_F32, CG_SHAPE(2, 3), NULL), cg_from_data(b, CG_I32, CG_SHAPE(3), NULL),
                      cg_cast(cg_mul_s(cg_from_data(a, CG_F32, CG_SHAPE(6), NULL), 0.5), CG_F16)};
  const char *names[3] = {"w", "layer.\"b\"", "h"}, *meta[2] = {"format", "pt"};
  CHECK(cg_safetensors_save(path, names, ts, 3, meta, 1) == 0);
  cg_safetensors *f = cg_safetensors_open(path);
  CHECK(f != NULL);
  if (!f) return;
  CHECK_EQ_INT(cg_safetensors_count(f), 3);
  CHECK(!strcmp(cg_safetensors_metadata(f, "format"), "pt"));
  CHECK(th_max_diff(cg_safetensors_get(f, "w", NULL), a, 6) == 0);
  cg_tensor *bb = cg_safetensors_get(f, "layer.\"b\"", NULL);
  int32_t got[3];
  CHECK(cg_to_data(bb, got, sizeof got) == 0 && !memcmp(got, b, sizeof b));
  float h[6] = {0.5f, 1, 1.5f, 2, 2.5f, 3};
  CHECK(cg_get_dtype(cg_safetensors_get(f, "h", NULL)) == CG_F16);
  CHECK(th_max_diff(cg_safetensors_get(f, "h", NULL), h, 6) == 0);
  CHECK(cg_safetensors_get(f, "nope", NULL) == NULL);
  cg_safetensors_close(f);
  unlink(path);
}

static void test_safetensors_reads_spec_file(void) {
  unsigned char buf[256];
  size_t n = handmade(buf);
  write_bytes(path, buf, n);
  cg_safetensors *f = cg_safetensors_open(path);
  CHECK(f != NULL);
  if (!f) return;
  float e[2] = {1.5f, -2};
  CHECK(th_max_diff(cg_safetensors_get(f, "a", NULL), e, 2) == 0);
  CHECK(!strcmp(cg_safetensors_metadata(f, "k"), "v\xc3\xa9"));
  cg_safetensors_close(f);
  unlink(path);
}

static void expect_error(const unsigned char *data, size_t n, const char *needle) {
  write_bytes(path, data, n);
  cg_clear_error();
  cg_safetensors *f = cg_safetensors_open(path);
  if (f) { /* a mutation may still be a valid file: then every tensor must read */
    for (int i = 0; i < cg_safetensors_count(f); i++) cg_realize(cg_safetensors_get(f, cg_safetensors_name(f, i), NULL));
    cg_safetensors_close(f);
    CHECK(!needle);
  } else {
    CHECK(strstr(cg_last_error(), "safetensors") != NULL);
    if (needle && !strstr(cg_last_error(), needle)) th_fail(__FILE__, __LINE__, "'%s' lacks '%s'", cg_last_error(), needle);
  }
  unlink(path);
}

static void test_safetensors_hostile_files(void) {
  unsigned char buf[256], m[256];
  size_t n = handmade(buf);
  expect_error(buf, 5, "too short");
  for (size_t cut = 8; cut < n; cut += 7) expect_error(buf, cut, "safetensors");
  memcpy(m, buf, n);
  m[0] = 0xff, m[1] = 0xff; /* header length beyond the file */
  expect_error(m, n, "beyond");
  const char *lies[] = {
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",        /* shape vs bytes */
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}",      /* past the end */
    "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}",        /* unknown dtype */
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",       /* negative dim */
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
    "{\"a\":1,}", "[1,2]", "{\"a\":{\"dtype\":\"F32\"", "{\"a\":\"\\ud800\"}",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
  };
  for (size_t i = 0; i < sizeof lies / sizeof *lies; i++) {
    size_t h = strlen(lies[i]);
    unsigned char f[512] = {0};
    for (int k = 0; k < 8; k++) f[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(f + 8, lies[i], h);
    expect_error(f, 8 + h + 8, "safetensors");
  }
  /* a fixed-seed corpus of random byte mutations: no crash, no sanitizer report */
  uint64_t s = 12345;
  for (int round = 0; round < 300; round++) {
    memcpy(m, buf, n);
    for (int k = 0; k < 3; k++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      m[(s >> 33) % n] = (unsigned char)(s >> 17);
    }
    write_bytes(path, m, n);
    cg_safetensors *f = cg_safetensors_open(path);
    if (f) {
      for (int i = 0; i < cg_safetensors_count(f); i++) cg_realize(cg_safetensors_get(f, cg_safetensors_name(f, i), NULL));
      cg_safetensors_close(f);
    }
    unlink(path);
  }
}

int main(int argc, char **argv) {
  snprintf(path, sizeof path, "/tmp/cgrad-st-%d.safetensors", (int)getpid());
  static const th_test tests[] = {
    {"safetensors_round_trip", test_safetensors_round_trip},
    {"safetensors_reads_spec_file", test_safetensors_reads_spec_file},
    {"safetensors_hostile_files", test_safetensors_hostile_files},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
