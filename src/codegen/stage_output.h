/* Staging through the output (CPU): a value a fused row kernel computes both in a reduce loop
   and again in its output loop is stored into the output by the first and read back by the
   second (softmax's exp runs once per element). See stage_output.c. */
#ifndef CG_STAGE_OUTPUT_H
#define CG_STAGE_OUTPUT_H
#include "program.h"

/* Rewrite p when the pattern applies; 1 if it did (p then reads its own output: p->reads_output). */
int cg_stage_through_output(cg_program *p);
#endif
