/* Bound variables: a symbolic integer read by kernels as an argument, so a new value reuses the
   compiled kernel (a KV-cache position, a step counter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../runtime/device.h"
#include "tensor.h"

cg_variable *cg_variable_new(const char *name, int64_t min, int64_t max) {
  if (!name || !*name || min > max) {
    cg_set_error("cg_variable_new: need a name and min <= max");
    return NULL;
  }
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_')) {
      cg_set_error("cg_variable_new: name '%s' must be letters, digits and '_'", name);
      return NULL;
    }
  cg_variable *v = cg_xcalloc(1, sizeof *v);
  snprintf(v->name, sizeof v->name, "%s", name);
  v->min = min;
  v->max = max;
  v->value = min;
  v->refcnt = 1;
  return v;
}

int cg_variable_bind(cg_variable *v, int64_t value) {
  if (!v) return -1;
  if (value < v->min || value > v->max) {
    cg_set_error("variable %s: value %lld outside [%lld, %lld]", v->name, (long long)value,
                 (long long)v->min, (long long)v->max);
    return -1;
  }
  v->value = value;
  return 0;
}

int64_t cg_variable_value(const cg_variable *v) { return v ? v->value : 0; }

void cg_variable_free(cg_variable *v) {
  if (v && --v->refcnt == 0) free(v);
}

cg_tensor *cg_variable_tensor(cg_variable *v) {
  if (!v) {
    cg_set_error("cg_variable_tensor: NULL variable");
    return NULL;
  }
  uop_arg a = {.ival = v->min, .ival2 = cg_device_default_index(), .ptr = v};
  uop *u = tnode(OP_DEFINE_VAR, CG_I32, NULL, 0, a, CG_SCALAR_SHAPE);
  if (u && u->refcnt == 1) v->refcnt++; /* a new node holds the variable */
  return tensor_wrap(u);
}
