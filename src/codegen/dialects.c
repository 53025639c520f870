/* The spellings of C, CUDA and OpenCL that the renderer looks up, and each dialect's prelude.
   Half and bfloat16 are defined by the generated code itself (bit manipulation on 16-bit
   patterns), so no CUDA or OpenCL half header is needed at run time and every backend rounds the
   same way as the interpreter. */
#include "render.h"

/* conversions between float and the 16-bit patterns, written once over f2u32/u2f32 */
#define HALF_TYPE "typedef unsigned short half_bits;\n"

/* float <-> float16 bits in integer arithmetic, round to nearest even, subnormals and NaN kept */
#define HALF_SOFT                                                                                \
  "CGFN float h2f(half_bits h) { unsigned int s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f,"   \
  " m = h & 0x3ff, x;\n"                                                                         \
  "  if (e == 0x1f) x = s | 0x7f800000u | m << 13; else if (e) x = s | (e + 112) << 23 | m << 13;\n" \
  "  else if (!m) x = s; else { int k = -1; do { m <<= 1; k++; } while (!(m & 0x400));"         \
  " x = s | (unsigned int)(112 - k) << 23 | (m & 0x3ff) << 13; }\n"                              \
  "  return u2f32(x); }\n"                                                                       \
  "CGFN half_bits f2h(float f) { unsigned int x = f2u32(f);"                                     \
  " unsigned int s = (x >> 16) & 0x8000, m = x & 0x7fffff; int e = (int)((x >> 23) & 0xff);\n"  \
  "  if (e == 0xff) return (half_bits)(s | 0x7c00 | (m ? 0x200 : 0)); e = e - 127 + 15;\n"       \
  "  if (e >= 31) return (half_bits)(s | 0x7c00);\n"                                            \
  "  if (e <= 0) { if (e < -10) return (half_bits)s; m |= 0x800000; int sh = 14 - e;"           \
  " unsigned int h = m >> sh, r = m & ((1u << sh) - 1), hf = 1u << (sh - 1);"                    \
  " if (r > hf || (r == hf && (h & 1))) h++; return (half_bits)(s | h); }\n"                     \
  "  unsigned int h = (unsigned int)e << 10 | m >> 13, r = m & 0x1fff;"                          \
  " if (r > 0x1000 || (r == 0x1000 && (h & 1))) h++; return (half_bits)(s | h); }\n"

/* NVIDIA GPUs convert in one instruction each, with the same rounding */
#define HALF_PTX                                                                                 \
  "CGFN float h2f(half_bits h) { float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h)); return f; }\n" \
  "CGFN half_bits f2h(float f) { half_bits h; asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f)); return h; }\n"

/* bfloat16 and the rounding helpers, written over h2f/f2h and f2u32/u2f32 */
#define HALF_COMMON                                                                              \
  "CGFN float bf2f(half_bits h) { return u2f32((unsigned int)h << 16); }\n"                     \
  "CGFN half_bits f2bf(float f) { unsigned int x = f2u32(f);"                                    \
  " if ((x & 0x7fffffffu) > 0x7f800000u) return (half_bits)((x >> 16) | 0x40);"                 \
  " x += 0x7fff + ((x >> 16) & 1); return (half_bits)(x >> 16); }\n"                             \
  "CGFN float rh(float f) { return h2f(f2h(f)); }\n"                                             \
  "CGFN float rbf(float f) { return bf2f(f2bf(f)); }\n"

#define HALF_HELPERS HALF_TYPE HALF_SOFT HALF_COMMON

/* GPU vector registers: component i (1..3) of a 4-vector, and setting component i */
#define VECTOR_LANES                                                                             \
  "#define CG_VGET(v, i) ((i) == 1 ? (v).y : (i) == 2 ? (v).z : (v).w)\n"                        \
  "#define CG_VSET(v, i, e) do { if ((i) == 0) (v).x = (e); else if ((i) == 1) (v).y = (e);"    \
  " else if ((i) == 2) (v).z = (e); else (v).w = (e); } while (0)\n"

/* cg_exp2f/cg_log2f as source text: the interpreter compiles the same lines (src/ir/alu.c) */
#define CG_MATHFN(...) #__VA_ARGS__ "\n"

const cg_dialect cg_dialect_c = {
  .name = "c",
  .prelude =
      "#define CGFN static inline\n"
      "CGFN unsigned int f2u32(float f) { unsigned int x; __builtin_memcpy(&x, &f, 4); return x; }\n"
      "CGFN float u2f32(unsigned int x) { float f; __builtin_memcpy(&f, &x, 4); return f; }\n"
      "CGFN unsigned long long f2u64(double f) { unsigned long long x; __builtin_memcpy(&x, &f, 8); return x; }\n"
      "CGFN double u2f64(unsigned long long x) { double f; __builtin_memcpy(&f, &x, 8); return f; }\n"
      HALF_HELPERS
      /* the empty asm's register operand keeps the loaded vector out of memory operands */
      "typedef float cg_f32x8 __attribute__((vector_size(32)));\n"
      "#if defined(__x86_64__) || defined(__i386__)\n"
      "#define CG_IN_REG(v) __asm__(\"\" : \"+x\"(v))\n"
      "#elif defined(__aarch64__)\n"
      "#define CG_IN_REG(v) __asm__(\"\" : \"+w\"(v))\n"
      "#else\n"
      "#define CG_IN_REG(v) ((void)0)\n"
      "#endif\n"
      "CGFN cg_f32x8 cg_vload8(const float *p) { cg_f32x8 v; __builtin_memcpy(&v, p, 32); CG_IN_REG(v); return v; }\n"
      "CGFN void cg_vstore8(float *p, cg_f32x8 v) { __builtin_memcpy(p, &v, 32); }\n"
      "CGFN cg_f32x8 cg_splat8(float x) { return (cg_f32x8){x, x, x, x, x, x, x, x}; }\n"
      /* lane masks: -1 where a lane is on; lanes below / above a bound (clamped to the 8) */
      "typedef int cg_i32x8 __attribute__((vector_size(32)));\n"
      "CGFN cg_i32x8 cg_lanes_lt(long long t) { int c = t < 0 ? 0 : t > 8 ? 8 : (int)t; cg_i32x8 l = {0, 1, 2, 3, 4, 5, 6, 7}, b = {c, c, c, c, c, c, c, c}; return l < b; }\n"
      "CGFN cg_i32x8 cg_lanes_gt(long long t) { int c = t < -1 ? -1 : t > 7 ? 7 : (int)t; cg_i32x8 l = {0, 1, 2, 3, 4, 5, 6, 7}, b = {c, c, c, c, c, c, c, c}; return l > b; }\n"
      "CGFN cg_i32x8 cg_mask8(int on) { int m = on ? -1 : 0; return (cg_i32x8){m, m, m, m, m, m, m, m}; }\n"
      "CGFN cg_f32x8 cg_select8(cg_i32x8 m, cg_f32x8 a, cg_f32x8 b) { cg_i32x8 x, y; __builtin_memcpy(&x, &a, 32); __builtin_memcpy(&y, &b, 32); x = (x & m) | (y & ~m); __builtin_memcpy(&a, &x, 32); return a; }\n"
      /* 8x8 transpose of r[0..7] in place: three stages of lane shuffles */
      "#if defined(__clang__)\n"
      "#define CG_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)\n"
      "#else\n"
      "#define CG_SHUF(a, b, ...) __builtin_shuffle(a, b, (cg_i32x8){__VA_ARGS__})\n"
      "#endif\n"
      "#define CG_T1(i) cg_f32x8 t##i = CG_SHUF(r[i & 6], r[(i & 6) + 1], 0 + 2 * (i & 1), 8 + 2 * (i & 1), 1 + 2 * (i & 1), 9 + 2 * (i & 1), 4 + 2 * (i & 1), 12 + 2 * (i & 1), 5 + 2 * (i & 1), 13 + 2 * (i & 1));\n"
      "#define CG_T2(i, a, b, h) cg_f32x8 s##i = CG_SHUF(t##a, t##b, 0 + 2 * h, 1 + 2 * h, 8 + 2 * h, 9 + 2 * h, 4 + 2 * h, 5 + 2 * h, 12 + 2 * h, 13 + 2 * h);\n"
      "#define CG_T3(i, a, b, h) r[i] = CG_SHUF(s##a, s##b, 0 + 4 * h, 1 + 4 * h, 2 + 4 * h, 3 + 4 * h, 8 + 4 * h, 9 + 4 * h, 10 + 4 * h, 11 + 4 * h);\n"
      "CGFN void cg_transpose8(cg_f32x8 *r) {\n"
      "  CG_T1(0) CG_T1(1) CG_T1(2) CG_T1(3) CG_T1(4) CG_T1(5) CG_T1(6) CG_T1(7)\n"
      "  CG_T2(0, 0, 2, 0) CG_T2(1, 0, 2, 1) CG_T2(2, 1, 3, 0) CG_T2(3, 1, 3, 1)\n"
      "  CG_T2(4, 4, 6, 0) CG_T2(5, 4, 6, 1) CG_T2(6, 5, 7, 0) CG_T2(7, 5, 7, 1)\n"
      "  CG_T3(0, 0, 4, 0) CG_T3(1, 1, 5, 0) CG_T3(2, 2, 6, 0) CG_T3(3, 3, 7, 0)\n"
      "  CG_T3(4, 0, 4, 1) CG_T3(5, 1, 5, 1) CG_T3(6, 2, 6, 1) CG_T3(7, 3, 7, 1) }\n"
      /* lanes off read or write nothing (no fault past a buffer's end), as a gated load or store */
      "#if defined(__AVX__) && (defined(__x86_64__) || defined(__i386__))\n"
      "CGFN cg_f32x8 cg_maskload8(const float *p, cg_i32x8 m) { return __builtin_ia32_maskloadps256((const cg_f32x8 *)p, m); }\n"
      "CGFN void cg_maskstore8(float *p, cg_i32x8 m, cg_f32x8 v) { __builtin_ia32_maskstoreps256((cg_f32x8 *)p, m, v); }\n"
      /* a streaming store needs 32-byte alignment; the fence orders streaming stores before the
         pool's completion signal */
      "#if defined(__clang__)\n" /* clang has no movntps builtin; this is its _mm256_stream_ps */
      "#define CG_STREAM8(p, v) __builtin_nontemporal_store(v, (cg_f32x8 *)(p))\n"
      "#else\n"
      "#define CG_STREAM8(p, v) __builtin_ia32_movntps256(p, v)\n"
      "#endif\n"
      "CGFN void cg_vstream8(float *p, cg_f32x8 v) { if (((unsigned long long)p & 31) == 0) CG_STREAM8(p, v); else cg_vstore8(p, v); }\n"
      "CGFN void cg_stream_fence(void) { __builtin_ia32_sfence(); }\n"
      "#else\n"
      "CGFN void cg_vstream8(float *p, cg_f32x8 v) { cg_vstore8(p, v); }\n"
      "CGFN void cg_stream_fence(void) {}\n"
      "CGFN cg_f32x8 cg_maskload8(const float *p, cg_i32x8 m) { cg_f32x8 r; for (int l = 0; l < 8; l++) r[l] = m[l] ? p[l] : 0.0f; return r; }\n"
      "CGFN void cg_maskstore8(float *p, cg_i32x8 m, cg_f32x8 v) { for (int l = 0; l < 8; l++) if (m[l]) p[l] = v[l]; }\n"
      "#endif\n"
      /* one rounding per lane, as __builtin_fmaf (and the interpreter) */
      "#if defined(__FMA__) && (defined(__x86_64__) || defined(__i386__))\n"
      "CGFN cg_f32x8 cg_fma8(cg_f32x8 a, cg_f32x8 b, cg_f32x8 c) { return __builtin_ia32_vfmaddps256(a, b, c); }\n"
      "#else\n"
      "CGFN cg_f32x8 cg_fma8(cg_f32x8 a, cg_f32x8 b, cg_f32x8 c) { cg_f32x8 r; for (int l = 0; l < 8; l++) r[l] = __builtin_fmaf(a[l], b[l], c[l]); return r; }\n"
      "#endif\n"
/* string literals: cg_exp2f, cg_log2f */
#include "../ir/mathfn.h"
      ,
  .i64 = "long long", .u64 = "unsigned long long", .lit_i64 = "LL", .lit_u64 = "ULL",
  .math_prefix = "__builtin_", .math_f_suffix = 1,
  .nan = "__builtin_nan(\"\")", .inf = "__builtin_inf()",
  .unroll = "#pragma GCC unroll",
  .exp2_f32 = "cg_exp2f", .log2_f32 = "cg_log2f",
  .fma_f32 = "__builtin_fmaf", .fma_f64 = "__builtin_fma",
  .tile_barrier = "__asm__ volatile(\"\");",
  .vload8 = "cg_vload8",
};

const cg_dialect cg_dialect_cuda = {
  .name = "cuda",
  .gpu = 1,
  .prelude =
      "#define CGFN static __device__ __forceinline__\n"
      "#define f2u32(x) __float_as_uint(x)\n"
      "#define u2f32(x) __uint_as_float(x)\n"
      "#define f2u64(x) ((unsigned long long)__double_as_longlong(x))\n"
      "#define u2f64(x) __longlong_as_double((long long)(x))\n"
      "#define CG_VLOAD(T, p) (*(const T *)(p))\n"
      "#define CG_VSTORE(T, p, v) (*(T *)(p) = (v))\n"
      VECTOR_LANES HALF_TYPE HALF_PTX HALF_COMMON,
  .i64 = "long long", .u64 = "unsigned long long", .lit_i64 = "LL", .lit_u64 = "ULL",
  .math_prefix = "", .math_f_suffix = 1,
  .nan = "__uint_as_float(0x7fc00000u)", .inf = "__uint_as_float(0x7f800000u)",
  .fma_f32 = "fmaf", .fma_f64 = "fma",
  .unroll = "#pragma unroll",
  .kernel_decl = "extern \"C\" __global__ void",
  .global_ptr = "", .restrict_kw = "__restrict__",
  .local_decl = "__shared__", .barrier = "__syncthreads()",
  .local_id = "threadIdx.x", .group_id = "blockIdx.x",
  .warp_shuffle = "__shfl_xor_sync(0xffffffffu, %s, s)",
};

const cg_dialect cg_dialect_opencl = {
  .name = "opencl",
  .gpu = 1,
  .prelude =
      "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
      "#define CGFN static inline\n"
      "#define f2u32(x) as_uint(x)\n"
      "#define u2f32(x) as_float(x)\n"
      "#define f2u64(x) as_ulong(x)\n"
      "#define u2f64(x) as_double(x)\n"
      "#define CG_VLOAD(T, p) vload4(0, p)\n"
      "#define CG_VSTORE(T, p, v) vstore4(v, 0, p)\n"
      VECTOR_LANES HALF_HELPERS,
  .i64 = "long", .u64 = "ulong", .lit_i64 = "L", .lit_u64 = "UL",
  .math_prefix = "", .math_f_suffix = 0,
  .nan = "NAN", .inf = "INFINITY",
  .fma_f32 = "fma", .fma_f64 = "fma",
  .unroll = "#pragma unroll",
  .kernel_decl = "__kernel void",
  .global_ptr = "__global ", .restrict_kw = "restrict",
  .local_decl = "__local", .barrier = "barrier(CLK_LOCAL_MEM_FENCE)",
  .local_id = "get_local_id(0)", .group_id = "get_group_id(0)",
};
