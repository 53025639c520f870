/* In-place targets of a realize: values that must end in an existing buffer (assignment). */
#ifndef CG_INPLACE_H
#define CG_INPLACE_H
#include "../schedule/schedule.h"

typedef struct { int slot; cg_buffer *dst; } cg_post_copy;
typedef struct { cg_post_copy *copies; int ncopies; } cg_inplace;

/* For every target with into[i] set, either point its slot at into[i] (its kernel writes there)
   or, where that would break a read of the buffer's old contents, plan a copy after the run.
   Needs the items' inputs (after lowering). -1 with an error for unsupported overlaps. */
int cg_inplace_plan(cg_schedule *s, uop **targets, int n, cg_buffer **into, cg_inplace *pl);
/* Run the planned copies (after every kernel of the schedule) and free the plan. */
int cg_inplace_finish(cg_schedule *s, cg_inplace *pl, int run);
/* Copy src's bytes into dst (dst's size), across devices; a JIT capture records it. */
int cg_copy_recorded(cg_buffer *src, cg_buffer *dst);
#endif
