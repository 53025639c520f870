#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgrad.h"
#include "mapped_file.h"

int map_file(const char *kind, const char *path, size_t min_size, unsigned char **map, size_t *size) {
  *map = NULL;
  *size = 0;
  int fd = path ? open(path, O_RDONLY) : -1;
  if (fd < 0) {
    cg_set_error("%s: cannot open %s", kind, path ? path : "(null)");
    return -1;
  }
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) {
    cg_set_error("%s %s: cannot stat", kind, path);
    rc = -1;
  } else if ((size_t)st.st_size < min_size) {
    cg_set_error("%s %s: file too short for a header", kind, path);
    rc = -1;
  } else {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      cg_set_error("%s %s: mmap failed", kind, path);
      rc = -1;
    } else {
      *map = m;
      *size = (size_t)st.st_size;
    }
  }
  close(fd);
  return rc;
}
