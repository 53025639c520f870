/* Linearizer: order a lowered kernel graph into a program of loops and instructions. Each node is
   placed in the outermost loop where all the ranges it depends on are open, so loop-invariant work
   is hoisted; a REDUCE becomes an accumulator, a loop and an ASSIGN. */
#ifndef CG_LINEARIZE_H
#define CG_LINEARIZE_H
#include "lower.h"
#include "program.h"

/* Build the program for a lowered kernel; the caller renders it and names it. */
cg_program *cg_linearize(const cg_lowered *l);
#endif
