/* A small strict JSON reader for file headers (safetensors): the parsed value tree lives in
   one arena freed with json_free. Depth and sizes are limited; errors name the offset. */
#ifndef CG_JSON_H
#define CG_JSON_H
#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;
typedef struct json json;
struct json {
  json_kind kind;
  double num;           /* NUMBER (integers up to 2^53 exact) */
  int is_int;           /* NUMBER written without fraction or exponent */
  int64_t ival;         /* its value when is_int */
  int boolean;
  char *str;            /* STRING (NUL-terminated, may contain no NUL) */
  size_t len;           /* STRING length; ARRAY/OBJECT item count */
  json **items;         /* ARRAY items / OBJECT values */
  char **keys;          /* OBJECT keys */
};

/* Parse text[0..n); NULL with *err set (a static message) on failure. */
json *json_parse(const char *text, size_t n, char *err, size_t errlen);
const json *json_get(const json *obj, const char *key);   /* NULL when absent */
void json_free(json *j);
#endif
