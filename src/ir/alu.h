/* Scalar semantics of every ALU op, shared by the interpreter and constant folding, so both
   agree with generated code: floats computed in double and rounded to their dtype, integers
   wrapped to their width, division by zero gives 0. */
#ifndef CG_ALU_H
#define CG_ALU_H
#include <stdint.h>
typedef union { double f; int64_t i; } cg_val;  /* float dtypes use f, others i (bits) */

/* Evaluate op producing `dtype`; `src_dtype` is the dtype of the first operand (for compares,
   casts and bitcasts); c is only used by WHERE. */
cg_val cg_alu_eval(int op, int dtype, int src_dtype, cg_val a, cg_val b, cg_val c);
/* Read / write one element of `dtype` from memory as a cg_val. */
cg_val cg_val_load(int dtype, const void *p);
void cg_val_store(int dtype, void *p, cg_val v);
#endif
