/* Renderers: print a program as source in a C-family dialect (C for the CPU, CUDA, OpenCL).
   One renderer walks the instructions; a dialect is a table of the spellings that differ. */
#ifndef CG_RENDER_H
#define CG_RENDER_H
#include "program.h"

typedef struct cg_dialect {
  const char *name;
  int gpu;                   /* outer loops become thread indices; vars are scalar arguments */
  const char *prelude;       /* defines CGFN, half/bfloat16 conversions, f2u32/u2f32/f2u64/u2f64 */
  const char *i64, *u64;     /* 64-bit integer spellings */
  const char *lit_i64, *lit_u64;  /* integer literal suffixes */
  const char *math_prefix;   /* "__builtin_" for C */
  int math_f_suffix;         /* exp2f (C, CUDA) vs overloaded exp2 (OpenCL) */
  const char *nan, *inf;     /* float NaN and +inf expressions */
  const char *unroll;        /* pragma line for UPCAST loops */
  /* float32 (and half, computed in float) EXP2/LOG2 spellings; NULL: prefix + exp2f/log2f */
  const char *exp2_f32, *log2_f32;
  const char *fma_f32, *fma_f64;  /* fused multiply-add (acc += a * b, cg_assign_is_fma) */
  /* first statement of a reduce loop around a register tile (C: an empty asm). gcc would
     otherwise vectorize that loop itself, as one in-order reduction per accumulator with lanes
     extracted one by one; the asm keeps it scalar, and the unrolled tile goes to the
     basic-block vectorizer: vector loads, broadcasts and one mul+add per 8 accumulators */
  const char *tile_barrier;
  /* CPU: loader of 8 floats into a register (`cg_f32x8 NAME(const float *)`), or NULL */
  const char *vload8;
  /* GPU only */
  const char *kernel_decl;   /* before the kernel name */
  const char *global_ptr, *restrict_kw;
  const char *local_decl, *barrier;
  const char *local_id, *group_id;
  const char *warp_shuffle;  /* printf format of a 32-lane butterfly exchange, or NULL */
} cg_dialect;

extern const cg_dialect cg_dialect_c, cg_dialect_cuda, cg_dialect_opencl;

/* Render p. C: `void NAME(void **bufs, const long long *vars, long long start, long long end)`,
   where [start, end) is this thread's share of the outermost loop. GPU: one thread per output
   element (or one work-group per output when p->group_size > 0, see cg_gpu_plan). */
char *cg_render(const cg_program *p, const cg_dialect *d);
static inline char *cg_render_c(const cg_program *p) { return cg_render(p, &cg_dialect_c); }

/* GPU: for each instruction, the lane loop whose 4 consecutive lanes one vector load or store
   serves (vector_access.c), or -1; malloc'ed, nins entries. */
int *cg_vector_accesses(const cg_program *p);
/* CPU: for each instruction, the UPCAST lane loop whose 8 consecutive float lanes one vector
   load into a register serves (vector_access.c), or -1; malloc'ed, nins entries. */
int *cg_cpu_vector_loads(const cg_program *p);
/* CPU: how each instruction renders in 8-wide vector code (vector_access.c): CG_SIMD_LOOP for a
   lane loop that steps 8 lanes at a time, CG_SIMD_VEC for a value (or an update, a store) that is
   a cg_f32x8 there, CG_SIMD_ACC for an accumulator held as cg_f32x8 (lanes/8 of them),
   CG_SIMD_MASK for a condition held as a cg_i32x8 lane mask, CG_SIMD_BASE for an index that
   changes with the lanes, computed at each step's first lane, CG_SIMD_TSTORE for a transposing
   store and CG_SIMD_TOUTER for the 8-lane loop around its lane loop, else 0.
   Lane loops are UPCAST loops; with plain_loops also innermost output loops (not the thread
   loop), for a streamed output's last pass (render.c). malloc'ed, nins entries. */
enum { CG_SIMD_LOOP = 1, CG_SIMD_VEC, CG_SIMD_ACC, CG_SIMD_MASK, CG_SIMD_BASE, CG_SIMD_TSTORE, CG_SIMD_TOUTER };
char *cg_simd_plan(const cg_program *p, int plain_loops);
/* CPU: a register tile reads (K-blocked) or writes its output after its reduce loop; prefetch
   those lines where its accumulator acc is defined (prefetch.c). Prints one line after `indent`
   into b; 0 if none. */
int cg_render_output_prefetch(const cg_program *p, int acc, cg_sbuf *b, const char *indent);
/* CPU: at the top of loop's body, when it is a later pass over a row its thread loop's earlier
   pass already read: prefetch the next row's line of that input (prefetch.c). 0 if none. */
int cg_render_row_prefetch(const cg_program *p, int loop, cg_sbuf *b, const char *indent);
/* CPU: where a fused copy's reader defines its first accumulator in the thread loop's body (a
   tile), prefetch that tile's share of the next thread iteration's copy source (prefetch.c).
   0 if none. */
int cg_render_slab_prefetch(const cg_program *p, int acc, cg_sbuf *b, const char *indent);
/* The ENDRANGE instruction of loop r (its RANGE instruction); nins if it has none. */
int cg_loop_end(const cg_program *p, int r);
/* The innermost loop (its RANGE instruction) open around instruction i, or -1. */
int cg_enclosing_loop(const cg_program *p, int i);
/* The coefficient of loop r in index idx when r appears once (alone or times a constant), else 0. */
int64_t cg_lane_coef(const cg_program *p, int idx, int r);
/* The trip count of loop r (its RANGE instruction) when constant, else -1 (index_bounds.c). */
int64_t cg_loop_trip(const cg_program *p, int r);
/* Bounds of every integer value of p (indices: CONST, RANGE with a constant trip, ADD, MUL, and
   IDIV/MOD of a non-negative value by a positive constant), loop `zero` pinned to 0 (-1: none);
   ok = 0 where unknown. malloc'ed, nins + 1 entries. */
typedef struct { int64_t lo, hi; int ok; } cg_interval;
cg_interval *cg_index_bounds(const cg_program *p, int zero);
/* The 4-element vector type of a dtype's storage (float4, ushort4, ...), NULL if none. */
const char *cg_vector_type(int dtype);

/* GPU launch plan: decides p->group_size (reduce split across a work-group) and p->local_size. */
void cg_gpu_plan(cg_program *p);
/* The first top-level reduce loop's instruction (nins if none): grouped kernels stride the output
   loops after it across the group's threads. */
int cg_gpu_first_reduce(const cg_program *p);
/* Number of work items (or groups when grouped) for a launch with these variable values. */
int64_t cg_gpu_global_count(const cg_program *p, const int64_t *vars);
#endif
