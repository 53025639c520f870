/* The cgrad command-line program. */
#include <stdio.h>
#include <string.h>
#include "cgrad.h"
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

static void usage(FILE *f) {
  fprintf(f, "usage: cgrad <command>\n"
             "  info      devices, compiler, cache dir, threads\n"
             "  train fashion-mnist [--epochs N] [--batch B] [--lr X] [--device D] [--save F] [--resume F]\n"
             "  help      this text\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  int rc;
  if (!strcmp(argv[1], "info")) rc = cmd_info();
  else if (!strcmp(argv[1], "train")) rc = cmd_train(argc - 2, argv + 2);
  else {
    fprintf(stderr, "cgrad: unknown command '%s'\n", argv[1]);
    usage(stderr);
    rc = 2;
  }
  cg_shutdown();
  return rc;
}
