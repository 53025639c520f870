/* IDX files ((Fashion-)MNIST): a big-endian header (magic, dims) and raw uint8 data, usually
   gzip-compressed. Every size is checked against the bytes actually present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef CGRAD_HAVE_ZLIB
#include <zlib.h>
#endif
#include "cgrad.h"

struct cg_dataset {
  uint8_t *images, *labels;   /* n * item_size, n */
  int64_t n, rows, cols;
};

/* whole file into memory, gunzipped when it is a gzip stream; NULL with an error */
static uint8_t *read_all(const char *path, size_t *len) {
#ifdef CGRAD_HAVE_ZLIB
  gzFile f = gzopen(path, "rb"); /* reads plain files too */
  if (!f) {
    cg_set_error("cannot open %s", path);
    return NULL;
  }
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  for (int got; buf && (got = gzread(f, buf + n, (unsigned)(cap - n))) > 0;) {
    n += (size_t)got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) { free(buf); buf = NULL; }
      else buf = nb;
    }
  }
  int err = 0;
  const char *msg = gzerror(f, &err);
  gzclose(f);
  if (!buf || (err != Z_OK && err != Z_STREAM_END)) {
    cg_set_error("%s: %s", path, buf ? msg : "out of memory");
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
#else
  FILE *f = fopen(path, "rb");
  if (!f) {
    cg_set_error("cannot open %s", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = sz >= 2 ? malloc((size_t)sz) : NULL;
  if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz || (buf[0] == 0x1f && buf[1] == 0x8b)) {
    cg_set_error("%s: unreadable (gzip files need cgrad built with zlib)", path);
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *len = (size_t)sz;
  return buf;
#endif
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* check the header (uint8 data, `ndim` dims) and return a pointer to the data */
static uint8_t *idx_data(const uint8_t *buf, size_t len, int ndim, int64_t *dims, const char *path) {
  if (len < 4 + 4 * (size_t)ndim || buf[0] || buf[1] || buf[2] != 0x08 || buf[3] != ndim) {
    cg_set_error("%s: not an IDX file of uint8 with %d dimensions", path, ndim);
    return NULL;
  }
  uint64_t total = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = be32(buf + 4 + 4 * i);
    total *= (uint64_t)dims[i];
    if (total > ((uint64_t)1 << 40)) break;
  }
  if (total != len - 4 - 4 * (size_t)ndim) {
    cg_set_error("%s: header promises %llu bytes of data, file has %zu", path,
                 (unsigned long long)total, len - 4 - 4 * (size_t)ndim);
    return NULL;
  }
  return (uint8_t *)buf + 4 + 4 * ndim;
}

cg_dataset *cg_idx_load(const char *images_path, const char *labels_path) {
  size_t ilen = 0, llen = 0;
  uint8_t *ibuf = read_all(images_path, &ilen), *lbuf = ibuf ? read_all(labels_path, &llen) : NULL;
  cg_dataset *d = NULL;
  int64_t idims[3], ldims[1];
  uint8_t *img = lbuf ? idx_data(ibuf, ilen, 3, idims, images_path) : NULL;
  uint8_t *lab = img ? idx_data(lbuf, llen, 1, ldims, labels_path) : NULL;
  if (lab && idims[0] != ldims[0]) cg_set_error("%s has %lld images but %s has %lld labels", images_path,
                                                (long long)idims[0], labels_path, (long long)ldims[0]);
  else if (lab) {
    d = calloc(1, sizeof *d);
    if (d) {
      d->n = idims[0], d->rows = idims[1], d->cols = idims[2];
      d->images = malloc((size_t)(d->n * d->rows * d->cols) + 1);
      d->labels = malloc((size_t)d->n + 1);
      if (d->images && d->labels) {
        memcpy(d->images, img, (size_t)(d->n * d->rows * d->cols));
        memcpy(d->labels, lab, (size_t)d->n);
      } else {
        cg_dataset_free(d);
        d = NULL;
        cg_set_error("out of memory loading %s", images_path);
      }
    }
  }
  free(ibuf);
  free(lbuf);
  return d;
}

int64_t cg_dataset_len(const cg_dataset *d) { return d ? d->n : 0; }

int cg_dataset_batch(const cg_dataset *d, const int64_t *idx, int n, cg_tensor **images, cg_tensor **labels) {
  if (!d || !idx || n <= 0 || !images || !labels) {
    cg_set_error("cg_dataset_batch: bad arguments");
    return -1;
  }
  int64_t item = d->rows * d->cols;
  float *x = malloc(sizeof(float) * (size_t)(n * item));
  int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
  int rc = x && y ? 0 : -1;
  for (int i = 0; i < n && !rc; i++) {
    if (idx[i] < 0 || idx[i] >= d->n) {
      cg_set_error("cg_dataset_batch: index %lld out of range [0, %lld)", (long long)idx[i], (long long)d->n);
      rc = -1;
      break;
    }
    const uint8_t *src = d->images + idx[i] * item;
    for (int64_t k = 0; k < item; k++) x[i * item + k] = src[k] * (1.0f / 255.0f);
    y[i] = d->labels[idx[i]];
  }
  if (!rc) {
    *images = cg_from_data(x, CG_F32, CG_SHAPE(n, 1, d->rows, d->cols), NULL);
    *labels = cg_from_data(y, CG_I32, CG_SHAPE(n), NULL);
    rc = *images && *labels ? 0 : -1;
  }
  free(x);
  free(y);
  return rc;
}

void cg_dataset_free(cg_dataset *d) {
  if (!d) return;
  free(d->images);
  free(d->labels);
  free(d);
}
