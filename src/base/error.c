/* Thread-local error message: ops return NULL/-1 and leave the reason here. */
#include <stdio.h>
#include "base.h"

static _Thread_local char last_error[1024];
static _Thread_local int error_set;

void cg_set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  error_set = 1;
}

int cg_has_error(void) { return error_set; }
const char *cg_last_error(void) { return error_set ? last_error : ""; }
void cg_clear_error(void) { error_set = 0; last_error[0] = 0; }
