/* BEAM's choices: in memory for this process, and as small text files in CACHEDIR that a later
   process reads instead of searching. A file is
       cgrad-beam 1
       TILE 4 16
       PANEL 8 0
       end <hash of the lines above, hex>
   Anything else (truncated, edited, an unknown action) reads as a miss: the kernel is searched
   again and the file rewritten. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "../runtime/disk_cache.h"
#include "beam.h"

enum { FORMAT_VERSION = 2, NBUCKETS = 256 }; /* 2: SQUARE and ROWBLOCK in the heuristics' lists */

uint64_t cg_beam_key(const char *noopt_source, int dev) {
  cg_device *dv = cg_device_get(dev);
  uint64_t h = cg_hash_bytes(noopt_source, strlen(noopt_source), dv->ident ? dv->ident() : 0);
  h = cg_hash_bytes(dv->name, strlen(dv->name), h);
  /* the same kernel may win differently on another thread count or search width */
  h = cg_hash_mix(h, (uint64_t)cg_pool_threads());
  h = cg_hash_mix(h, (uint64_t)cg_env_get()->beam);
  return cg_hash_mix(h, FORMAT_VERSION);
}

/* ---- memory ---- */
typedef struct entry { uint64_t key; cg_opt_list list; struct entry *next; } entry;
static entry *buckets[NBUCKETS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int memory_get(uint64_t key, cg_opt_list *out) {
  pthread_mutex_lock(&mu);
  entry *e = buckets[key % NBUCKETS];
  while (e && e->key != key) e = e->next;
  if (e) *out = e->list;
  pthread_mutex_unlock(&mu);
  return e != NULL;
}

static void memory_put(uint64_t key, const cg_opt_list *list) {
  entry *e = cg_xcalloc(1, sizeof *e);
  e->key = key;
  e->list = *list;
  pthread_mutex_lock(&mu);
  e->next = buckets[key % NBUCKETS];
  buckets[key % NBUCKETS] = e;
  pthread_mutex_unlock(&mu);
}

void cg_beam_cache_clear(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < NBUCKETS; i++) {
    for (entry *e = buckets[i], *n; e; e = n) {
      n = e->next;
      free(e);
    }
    buckets[i] = NULL;
  }
  pthread_mutex_unlock(&mu);
}

/* ---- disk ---- */
static void file_path(char *out, size_t n, uint64_t key) { cg_cache_path(out, n, "beam", key, ".txt"); }

static void format_file(const cg_opt_list *list, cg_sbuf *b) {
  cg_sbuf_printf(b, "cgrad-beam %d\n", FORMAT_VERSION);
  for (int i = 0; i < list->n; i++)
    cg_sbuf_printf(b, "%s %d %d\n", cg_opt_kind_name(list->o[i].kind), list->o[i].amt, list->o[i].amt2);
  uint64_t h = cg_hash_bytes(b->s, b->len, 0);
  cg_sbuf_printf(b, "end %016llx\n", (unsigned long long)h);
}

/* one action line "NAME amt amt2"; 0 or -1 */
static int parse_action(const char *line, cg_opt *o) {
  char name[16];
  if (sscanf(line, "%15s %d %d", name, &o->amt, &o->amt2) != 3) return -1;
  o->kind = cg_opt_kind_from_name(name);
  return o->kind < 0 ? -1 : 0;
}

/* the file's list if it is whole and valid; 0 or -1 */
static int parse_file(const char *text, size_t n, cg_opt_list *out) {
  char header[32];
  int hl = snprintf(header, sizeof header, "cgrad-beam %d\n", FORMAT_VERSION);
  if (strlen(text) != n || strncmp(text, header, (size_t)hl) != 0) return -1;
  const char *end = strstr(text, "\nend "); /* the newline before the end line */
  unsigned long long want;
  if (!end || sscanf(end + 1, "end %16llx", &want) != 1 || cg_hash_bytes(text, (size_t)(end + 1 - text), 0) != want)
    return -1;
  out->n = 0;
  for (const char *p = text + hl; p < end + 1; p = strchr(p, '\n') + 1)
    if (out->n == CG_MAX_OPTS || parse_action(p, &out->o[out->n++]) != 0) return -1;
  return 0;
}

static int disk_get(uint64_t key, cg_opt_list *out) {
  char path[700];
  size_t n = 0;
  file_path(path, sizeof path, key);
  char *data = cg_cache_read(path, &n);
  if (!data) return 0;
  char *text = cg_xmalloc(n + 1); /* NUL-terminated for the line parsers */
  memcpy(text, data, n);
  text[n] = 0;
  free(data);
  int ok = parse_file(text, n, out) == 0;
  free(text);
  if (!ok && cg_env_get()->debug >= 2) fprintf(stderr, "*** BEAM: %s is damaged; searching again\n", path);
  return ok;
}

int cg_beam_lookup(uint64_t key, int disk, cg_opt_list *out) {
  if (memory_get(key, out)) return 1;
  if (!disk || !disk_get(key, out)) return 0;
  memory_put(key, out);
  return 1;
}

void cg_beam_store(uint64_t key, const cg_opt_list *list) {
  memory_put(key, list);
  char path[700];
  cg_sbuf b = {0};
  file_path(path, sizeof path, key);
  format_file(list, &b);
  /* a cache that cannot be written only costs a search next time */
  if (cg_cache_write(path, b.s, b.len) != 0 && cg_env_get()->debug >= 2)
    fprintf(stderr, "*** BEAM: cannot write %s\n", path);
  cg_sbuf_free(&b);
}
