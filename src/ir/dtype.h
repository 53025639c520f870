/* dtype table: sizes, kinds, C names and tinygrad's promotion lattice. */
#ifndef CG_DTYPE_H
#define CG_DTYPE_H
#include "cgrad.h"

typedef struct {
  const char *name, *short_name, *ctype; /* ctype: storage type in generated C */
  int size, is_float, is_unsigned, priority;
} cg_dtype_info;

const cg_dtype_info *cg_dtype_get(cg_dtype dt);
int cg_dtype_valid(int dt);
/* Wrap an integer to dt's width and signedness (what storing it would keep). */
int64_t cg_dtype_wrap_int(cg_dtype dt, int64_t v);
/* Round a double to what dt holds (float32/16/bf16 rounding, ints truncated and wrapped). */
double cg_dtype_round_float(cg_dtype dt, double v);
/* float <-> half / bfloat16 bit conversions (round to nearest even). */
uint16_t cg_f32_to_f16(float f);
float cg_f16_to_f32(uint16_t h);
uint16_t cg_f32_to_bf16(float f);
float cg_bf16_to_f32(uint16_t h);
#endif
