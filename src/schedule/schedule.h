/* The scheduler: split the lazy tensor graph into kernels and plan their buffers. */
#ifndef CG_SCHEDULE_H
#define CG_SCHEDULE_H
#include "../ir/uop.h"
#include "../runtime/device.h"

typedef struct {
  uop *root;            /* node whose value this item computes (a COPY node for copies) */
  int is_copy;
  int reads_output;     /* its kernel reads its own output back (stage_output.c): not in place */
  int out;              /* buffer slot written */
  int *ins;             /* buffer slots read, in parameter order 1.. (set when lowered) */
  int nins;
} cg_sched_item;

typedef struct {
  uop *node;            /* the tensor node whose value lives here */
  cg_buffer *buf;       /* existing buffer, or allocated by the engine */
  int existing;         /* a BUFFER node or an already realized node */
  int keep;             /* a realize target or CONTIGUOUS: outlives the schedule */
  int last_use;         /* index of the last item reading it */
  int unused;           /* a copy's output that its reader computes itself (realize.c's fused
                           copies): no buffer; its argument slots get NULL */
  int dev;
  size_t nbytes;
} cg_sched_buf;

typedef struct {
  cg_sched_item *items;
  int nitems;
  cg_sched_buf *bufs;
  int nbufs, cap_bufs;
  cg_ptrmap slot_of;    /* boundary node -> slot + 1 */
} cg_schedule;

/* Build the schedule realizing `targets`; returns -1 with an error set on failure. */
int cg_schedule_build(cg_schedule *s, uop **targets, int n);
/* The buffer slot holding `node`'s value if it is a kernel boundary, else -1. */
int cg_schedule_slot(cg_schedule *s, uop *node);
void cg_schedule_free(cg_schedule *s);
#endif
