/* The cgrad command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"
#include "quantize.h"
#include "train.h"

static int cmd_info(void) {
  cg_config c = cg_get_config();
  printf("cgrad\n");
  printf("default device: %s\n", cg_default_device());
  printf("devices:\n");
  for (int i = 0; i < cg_device_count(); i++) {
    const char *name = cg_device_name(i);
    if (cg_device_open(name) == 0) printf("  %-8s available\n", name);
    else printf("  %-8s not available (%s)\n", name, cg_last_error());
  }
  printf("compiler: %s (CC=%s)\n", cg_compiler_version(), c.cc);
  printf("cache dir: %s\n", c.cachedir);
  printf("threads: %d\n", c.threads);
  printf("debug: %d  noopt: %d  beam: %d\n", c.debug, c.noopt, c.beam);
  return 0;
}

static int cmd_info_args(int argc, char **argv) {
  (void)argc, (void)argv;
  return cmd_info();
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

/* The text argument, or for "-" all of stdin (a copy either way). */
static char *read_text(const char *arg, size_t *len) {
  if (strcmp(arg, "-")) {
    *len = strlen(arg);
    return strdup(arg);
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n, stdin)) > 0;) {
    n += r;
    if (n == cap) {
      char *b = realloc(buf, cap *= 2);
      if (!b) free(buf);
      buf = b;
    }
  }
  *len = n;
  return buf;
}

static int cmd_tokenize(int argc, char **argv) {
  int add_special = 1, parse_special = 0, decode = 0, a = 0;
  for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a++) {
    if (!strcmp(argv[a], "--no-special")) add_special = 0;
    else if (!strcmp(argv[a], "--parse-special")) parse_special = 1;
    else if (!strcmp(argv[a], "--decode")) decode = 1;
    else break;
  }
  if (argc - a != 2) {
    fprintf(stderr, "usage: cgrad tokenize [--no-special] [--parse-special] [--decode] MODEL.gguf TEXT|-\n");
    return 2;
  }
  cg_tokenizer *tk = cg_tokenizer_load(argv[a]);
  size_t len = 0;
  char *text = tk ? read_text(argv[a + 1], &len) : NULL;
  int n = text ? cg_tokenize(tk, text, len, add_special, parse_special, NULL, 0) : -1;
  int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof *ids) : NULL;
  if (ids) n = cg_tokenize(tk, text, len, add_special, parse_special, ids, n);
  int rc = !ids || n < 0;
  if (!rc) {
    for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", (int)ids[i]);
    printf("\n");
  }
  if (!rc && decode) {
    int m = cg_detokenize(tk, ids, n, 1, NULL, 0);
    char *out = m >= 0 ? malloc((size_t)m + 1) : NULL;
    rc = !out || cg_detokenize(tk, ids, n, 1, out, m + 1) < 0;
    if (!rc) printf("%s\n", out);
    free(out);
  }
  if (rc) fprintf(stderr, "cgrad: %s\n", cg_last_error()[0] ? cg_last_error() : "out of memory");
  free(ids), free(text);
  cg_tokenizer_free(tk);
  return rc;
}

static void usage(FILE *f) {
  fprintf(f, "usage: cgrad <command>\n"
             "  info      devices, compiler, cache dir, threads\n"
             "  train fashion-mnist [--epochs N] [--batch B] [--lr X] [--device D] [--save F] [--resume F]\n"
             "  gguf-info FILE   a GGUF file's version, metadata and tensors (ggml dims order)\n"
             "  tokenize [--no-special] [--parse-special] [--decode] MODEL.gguf TEXT|-\n"
             "            token ids of TEXT (or stdin), space-separated; --decode prints the text back\n"
             "  quantize IN.gguf OUT.gguf TYPE   weights to Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q6_K (F16 BF16 F32)\n"
             "  help      this text\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  static const struct { const char *name; int (*run)(int, char **); } cmds[] = {
    {"info", cmd_info_args}, {"gguf-info", cmd_gguf_info}, {"train", cmd_train}, {"tokenize", cmd_tokenize},
    {"quantize", cmd_quantize}};
  int rc = 0, found = 0;
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds && !found; i++)
    if ((found = !strcmp(argv[1], cmds[i].name))) rc = cmds[i].run(argc - 2, argv + 2);
  if (!found) {
    fprintf(stderr, "cgrad: unknown command '%s'\n", argv[1]);
    usage(stderr);
    rc = 2;
  }
  cg_shutdown();
  return rc;
}
