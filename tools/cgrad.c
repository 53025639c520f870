/* The cgrad command-line program. */
#include <stdio.h>
#include <string.h>
#include "cgrad.h"
#include "quantize.h"
#include "train.h"

static int cmd_info(void) {
  cg_config c = cg_get_config();
  printf("cgrad\n");
  printf("default device: %s\n", cg_default_device());
  printf("devices:\n");
  for (int i = 0; i < cg_device_count(); i++)
    printf("  %-8s %s\n", cg_device_name(i),
           cg_device_available(cg_device_name(i)) ? "available" : "not available");
  printf("compiler: %s (CC=%s)\n", cg_compiler_version(), c.cc);
  printf("cache dir: %s\n", c.cachedir);
  printf("threads: %d\n", c.threads);
  printf("debug: %d  noopt: %d  beam: %d\n", c.debug, c.noopt, c.beam);
  return 0;
}

static void print_scalar(const cg_gguf *f, const char *key, int type) {
  int64_t v;
  double x;
  if (type == 8) printf("\"%s\"", cg_gguf_get_string(f, key));
  else if (type == 6 || type == 12) printf("%.9g", cg_gguf_get_float(f, key, &x) ? 0.0 : x);
  else if (type == 10 && cg_gguf_get_int(f, key, &v)) printf("%.0f", cg_gguf_get_float(f, key, &x) ? 0.0 : x);
  else printf("%lld", cg_gguf_get_int(f, key, &v) ? 0LL : (long long)v);
}

static int cmd_gguf_info(int argc, char **argv) {
  if (argc != 1) {
    fprintf(stderr, "usage: cgrad gguf-info FILE\n");
    return 2;
  }
  cg_gguf *f = cg_gguf_open(argv[0]);
  if (!f) {
    fprintf(stderr, "cgrad: %s\n", cg_last_error());
    return 1;
  }
  printf("GGUF version %d, %lld metadata keys, %lld tensors, alignment %llu\n", cg_gguf_version(f),
         (long long)cg_gguf_kv_count(f), (long long)cg_gguf_tensor_count(f), (unsigned long long)cg_gguf_alignment(f));
  for (int64_t i = 0; i < cg_gguf_kv_count(f); i++) {
    const char *key = cg_gguf_kv_key(f, i);
    int type = cg_gguf_kv_type(f, i);
    if (type != 9) {
      printf("  %s: %s = ", key, cg_gguf_value_type_name(type));
      print_scalar(f, key, type);
      printf("\n");
      continue;
    }
    int et = cg_gguf_array_type(f, key);
    int64_t n = cg_gguf_array_len(f, key);
    printf("  %s: array<%s>[%lld] = [", key, cg_gguf_value_type_name(et), (long long)n);
    for (int64_t k = 0; k < n && k < 5; k++) {
      int64_t v;
      double x;
      if (k) printf(", ");
      if (et == 8) printf("\"%s\"", cg_gguf_array_string(f, key, k));
      else if (et == 9) printf("[...]");
      else if (et == 6 || et == 12) printf("%.9g", cg_gguf_array_float(f, key, k, &x) ? 0.0 : x);
      else if (et == 10 && cg_gguf_array_int(f, key, k, &v)) printf("%.0f", cg_gguf_array_float(f, key, k, &x) ? 0.0 : x);
      else printf("%lld", cg_gguf_array_int(f, key, k, &v) ? 0LL : (long long)v);
    }
    printf("%s]\n", n > 5 ? ", ..." : "");
  }
  for (int64_t i = 0; i < cg_gguf_tensor_count(f); i++) {
    const char *name;
    int type, nd;
    int64_t dims[4];
    uint64_t off, nbytes;
    cg_gguf_tensor_info(f, i, &name, &type, &nd, dims, &off, &nbytes);
    printf("  tensor %s: %s [", name, cg_gguf_ggml_type_name(type));
    for (int d = 0; d < nd; d++) printf("%s%lld", d ? ", " : "", (long long)dims[d]);
    printf("] offset %llu (%llu bytes)\n", (unsigned long long)off, (unsigned long long)nbytes);
  }
  cg_gguf_close(f);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: cgrad <command>\n"
             "  info      devices, compiler, cache dir, threads\n"
             "  train fashion-mnist [--epochs N] [--batch B] [--lr X] [--device D] [--save F] [--resume F]\n"
             "  gguf-info FILE   a GGUF file's version, metadata and tensors (ggml dims order)\n"
             "  quantize IN.gguf OUT.gguf TYPE   weights to Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q6_K (F16 BF16 F32)\n"
             "  help      this text\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  int rc;
  if (!strcmp(argv[1], "info")) rc = cmd_info();
  else if (!strcmp(argv[1], "gguf-info")) rc = cmd_gguf_info(argc - 2, argv + 2);
  else if (!strcmp(argv[1], "quantize")) rc = cmd_quantize(argc - 2, argv + 2);
  else if (!strcmp(argv[1], "train")) rc = cmd_train(argc - 2, argv + 2);
  else {
    fprintf(stderr, "cgrad: unknown command '%s'\n", argv[1]);
    usage(stderr);
    rc = 2;
  }
  cg_shutdown();
  return rc;
}
