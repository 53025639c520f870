/* Read-only mmap of a whole file, shared by the model-file readers. */
#ifndef CG_MAPPED_FILE_H
#define CG_MAPPED_FILE_H
#include <stddef.h>

/* Map path; on failure set an error "<kind> <path>: ..." and return -1. A file shorter than
   min_size is an error (too short for a header). */
int map_file(const char *kind, const char *path, size_t min_size, unsigned char **map, size_t *size);
#endif
