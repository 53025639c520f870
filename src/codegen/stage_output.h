/* Staging (CPU): a value a fused row kernel computes both in a reduce loop and again in its
   output loop is stored by the first and read back by the second (softmax's exp runs once per
   element), into a scratch array of the launch's own or, for a long row, the output. See
   stage_output.c. */
#ifndef CG_STAGE_OUTPUT_H
#define CG_STAGE_OUTPUT_H
#include "program.h"

/* Rewrite p when the pattern applies; 1 if it did (staged in the output, p then reads its own
   output: p->reads_output; in scratch, p gains a local param). */
int cg_stage_through_output(cg_program *p);
#endif
