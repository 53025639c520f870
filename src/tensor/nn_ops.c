/* Neural-network ops composed in the front end: convolution and pooling by tinygrad's pool trick
   (sliding windows as movement ops, so a convolution is a broadcast multiply and a sum), layers,
   normalizations, losses and attention. Each composed op's body is its formula. */
#include <math.h>
#include <string.h>
#include "cgrad.h"
#include "tensor.h"
#include "../codegen/opt.h"

static int64_t ceildiv(int64_t a, int64_t b) { return (a + b - 1) / b; }


/* shrink / pad one axis */
static cg_tensor *shrink_axis(cg_tensor *x, int ax, int64_t b, int64_t e) {
  CG_CHECK(x);
  int64_t arg[CG_MAX_DIMS][2];
  for (int i = 0; i < x->u->shape.ndim; i++) arg[i][0] = 0, arg[i][1] = x->u->shape.d[i];
  arg[ax][0] = b;
  arg[ax][1] = e;
  return cg_shrink(x, arg, x->u->shape.ndim);
}

static cg_tensor *pad_axis(cg_tensor *x, int ax, int64_t after) {
  CG_CHECK(x);
  int64_t p[CG_MAX_DIMS][2] = {{0}};
  p[ax][1] = after;
  return cg_pad(x, p, x->u->shape.ndim, 0);
}

/* pads[i] = {before, after} for the last n dims; negative amounts cut (pad, then shrink) */
static cg_tensor *pad_last(cg_tensor *x, int n, const int64_t (*pads)[2], double value) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim, lead = nd - n, any_cut = 0;
  int64_t p[CG_MAX_DIMS][2] = {{0}}, cut[CG_MAX_DIMS][2];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 2; j++) {
      p[lead + i][j] = pads[i][j] > 0 ? pads[i][j] : 0;
      any_cut |= pads[i][j] < 0;
    }
  cg_tensor *r = cg_pad(x, p, nd, value);
  if (!any_cut || !r) return r;
  for (int i = 0; i < nd; i++) cut[i][0] = 0, cut[i][1] = r->u->shape.d[i];
  for (int i = 0; i < n; i++) {
    if (pads[i][0] < 0) cut[lead + i][0] = -pads[i][0];
    if (pads[i][1] < 0) cut[lead + i][1] += pads[i][1];
    if (cut[lead + i][1] < cut[lead + i][0]) {
      cg_set_error("padding of %lld and %lld leaves nothing of a spatial dim",
                   (long long)pads[i][0], (long long)pads[i][1]);
      return NULL;
    }
  }
  return cg_shrink(r, cut, nd);
}

/* Sliding windows along one axis (tinygrad's _pool, one dim at a time): axis `ax` of size i
   becomes two axes (o, k) with o = ceil((i - d*(k-1)) / s) and [.., a, b, ..] = x[.., a*s + b*d, ..].
   k <= s without dilation is a reshape of the strided axis; otherwise the axis is repeated so a
   reshape to rows of length L = i*f + d (L = d mod i) shifts each row by d. */
static cg_tensor *pool_axis_core(cg_tensor *x, int ax, int64_t k, int64_t s, int64_t d) {
  CG_CHECK(x);
  cg_shape sh = x->u->shape;
  int64_t i = sh.d[ax], o = ceildiv(i - d * (k - 1), s);
  if (k <= s && d == 1) {
    cg_tensor *r = o * s > i ? pad_axis(x, ax, o * s - i) : shrink_axis(x, ax, 0, o * s);
    CG_CHECK(r);
    r = cg_reshape(r, shape_splice(sh, ax, 1, (int64_t[]){o, s}, 2));
    return shrink_axis(r, ax + 1, 0, k);
  }
  int64_t f = ceildiv(o * s - d, i), L, rep;
  if (f < 1) f = 1;
  L = i * f + d;
  rep = ceildiv(k * L, i);
  cg_tensor *r = cg_reshape(x, shape_splice(sh, ax, 1, (int64_t[]){1, i}, 2));
  r = cg_expand(r, shape_splice(sh, ax, 1, (int64_t[]){rep, i}, 2));
  r = cg_reshape(r, shape_splice(sh, ax, 1, (int64_t[]){rep * i}, 1));
  r = cg_reshape(shrink_axis(r, ax, 0, k * L), shape_splice(sh, ax, 1, (int64_t[]){k, L}, 2));
  r = cg_reshape(shrink_axis(r, ax + 1, 0, o * s), shape_splice(sh, ax, 1, (int64_t[]){k, o, s}, 3));
  r = cg_reshape(shrink_axis(r, ax + 2, 0, 1), shape_splice(sh, ax, 1, (int64_t[]){k, o}, 2));
  return cg_transpose(r, ax, ax + 1);
}

/* the same with room made (the dims before and after ax merged) when ax cannot grow 2 dims */
static cg_tensor *pool_axis(cg_tensor *x, int ax, int64_t k, int64_t s, int64_t d) {
  CG_CHECK(x);
  cg_shape sh = x->u->shape;
  if (sh.ndim + 2 <= CG_MAX_DIMS) return pool_axis_core(x, ax, k, s, d);
  int64_t pre = 1, post = 1;
  for (int i = 0; i < ax; i++) pre *= sh.d[i];
  for (int i = ax + 1; i < sh.ndim && i < CG_MAX_DIMS; i++) post *= sh.d[i];
  cg_tensor *m = pool_axis_core(cg_reshape(x, CG_SHAPE(pre, sh.d[ax], post)), 1, k, s, d);
  CG_CHECK(m);
  return cg_reshape(m, shape_splice(sh, ax, 1, &m->u->shape.d[1], 2));
}

/* windows over the last n dims: (..., i_1..i_n) -> (..., o_1..o_n, k_1..k_n) */
static cg_tensor *pool(cg_tensor *x, int n, const int64_t *k, const int64_t *s, const int64_t *d,
                       const char *who) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim, lead = nd - n;
  if (lead < 0 || lead + 2 * n > CG_MAX_DIMS) {
    cg_set_error("%s: cannot pool %d spatial dims of a %d-d tensor", who, n, nd);
    return NULL;
  }
  for (int j = 0; j < n; j++) {
    int64_t i = x->u->shape.d[lead + j];
    if (x->u->shape.var[lead + j] || d[j] * (k[j] - 1) + 1 > i) {
      cg_set_error("%s: kernel %lld (dilation %lld) is larger than the (padded) input size %lld",
                   who, (long long)k[j], (long long)d[j], (long long)i);
      return NULL;
    }
  }
  for (int j = 0; j < n; j++) x = pool_axis(x, lead + 2 * j, k[j], s[j], d[j]);
  cg_axes perm = {lead + 2 * n, {0}};
  for (int i = 0; i < lead; i++) perm.v[i] = i;
  for (int j = 0; j < n; j++) perm.v[lead + j] = lead + 2 * j, perm.v[lead + n + j] = lead + 2 * j + 1;
  return cg_permute(x, perm);
}

/* stride/padding/dilation arrays with their defaults, checked */
static int conv_args(int n, const int64_t *stride, const int64_t *padding, const int64_t *dilation,
                     int64_t *s, int64_t *p, int64_t *d, const char *who) {
  if (n < 1 || n > 3) {
    cg_set_error("%s: %d spatial dims (1 to 3 supported)", who, n);
    return 0;
  }
  for (int j = 0; j < n; j++) {
    s[j] = stride ? stride[j] : 1;
    p[j] = padding ? padding[j] : 0;
    d[j] = dilation ? dilation[j] : 1;
    if (s[j] < 1 || d[j] < 1 || p[j] < 0) {
      cg_set_error("%s: stride and dilation must be >= 1 and padding >= 0 (got %lld, %lld, %lld)",
                   who, (long long)s[j], (long long)d[j], (long long)p[j]);
      return 0;
    }
  }
  return 1;
}

/* Integer parameters of a convolution, kept in its GRAD_FN node for the backward. */
typedef struct {
  int n, groups;
  int64_t s[3], pads[3][2], d[3];
} conv_params;

enum { CONV_NPARAMS = 2 + 5 * 3 };

static void conv_params_pack(const conv_params *c, int64_t *v) {
  v[0] = c->n, v[1] = c->groups;
  for (int j = 0; j < 3; j++)
    v[2 + j] = c->s[j], v[5 + j] = c->pads[j][0], v[8 + j] = c->pads[j][1], v[11 + j] = c->d[j];
}

static conv_params conv_params_unpack(const int64_t *v) {
  conv_params c = {(int)v[0], (int)v[1], {0}, {{0}}, {0}};
  for (int j = 0; j < 3; j++)
    c.s[j] = v[2 + j], c.pads[j][0] = v[5 + j], c.pads[j][1] = v[8 + j], c.d[j] = v[11 + j];
  return c;
}

/* win (N, G*cin, *o, *k) (no output axes, nk kernel axes) against w (G*rcout, cin, *k): the
   windows (N, G, cin, 1, *o, *k) meet the weight (1, G, rcout, *1, cin, *k) as
   (N, G, rcout, *o, cin, *k) and the last 1+nk axes are summed, giving (N, G*rcout, *o). Where
   that is more than CG_MAX_DIMS axes, o and k merge into one axis each. */
static cg_tensor *conv_contract(cg_tensor *win, cg_tensor *w, int no, int nk, int groups) {
  CG_CHECK(win, w);
  cg_shape ws = w->u->shape;
  int64_t cin = ws.d[1], rcout = ws.d[0] / groups, O = 1, K = 1, shp[CG_MAX_DIMS];
  int merge = 4 + no + nk > CG_MAX_DIMS, mo = merge ? 1 : no, mk = merge ? 1 : nk;
  const int64_t *o = &win->u->shape.d[2], *k = &ws.d[2];
  for (int j = 0; j < no; j++) O *= o[j];
  for (int j = 0; j < nk; j++) K *= k[j];
  /* (N, G, cin, 1, *o, *k), expanded to rcout */
  int m = 0;
  shp[m++] = groups, shp[m++] = cin, shp[m++] = 1;
  for (int j = 0; j < mo; j++) shp[m++] = merge ? O : o[j];
  for (int j = 0; j < mk; j++) shp[m++] = merge ? K : k[j];
  cg_tensor *xr = cg_reshape(win, shape_splice(win->u->shape, 1, 1 + no + nk, shp, m));
  shp[2] = rcout;
  xr = cg_expand(xr, shape_splice(win->u->shape, 1, 1 + no + nk, shp, m));
  cg_axes perm = {m + 1, {0, 1, 3}};
  for (int j = 0; j < mo; j++) perm.v[3 + j] = 4 + j;
  perm.v[3 + mo] = 2;
  for (int j = 0; j < mk; j++) perm.v[4 + mo + j] = 4 + mo + j;
  xr = cg_permute(xr, perm);
  /* weight (1, G, rcout, *1, cin, *k) */
  cg_shape wsh = {0, {0}, {0}};
  wsh.d[wsh.ndim++] = 1, wsh.d[wsh.ndim++] = groups, wsh.d[wsh.ndim++] = rcout;
  for (int j = 0; j < mo; j++) wsh.d[wsh.ndim++] = 1;
  wsh.d[wsh.ndim++] = cin;
  for (int j = 0; j < mk; j++) wsh.d[wsh.ndim++] = merge ? K : k[j];
  cg_axes red = {1 + mk, {0}};
  for (int j = 0; j <= mk; j++) red.v[j] = -1 - j;
  cg_tensor *r = cg_sum(cg_mul(xr, cg_reshape(w, wsh)), red, 0);
  CG_CHECK(r);
  int64_t outd[CG_MAX_DIMS];
  outd[0] = groups * rcout;
  for (int j = 0; j < no; j++) outd[1 + j] = o[j];
  return cg_reshape(r, shape_splice(r->u->shape, 1, r->u->shape.ndim - 1, outd, 1 + no));
}

/* ---- stride 1 on a flattened padded input ----
   With stride 1, output pixel (o_1..o_n) meets input pixel (o_j + k_j*d_j) of the padded input
   xp. Stored row-major with strides st (the last dim widened to W'), that is flat element
   p + sum_j k_j*d_j*st_j for p = sum_j o_j*st_j: every tap is the flat image shifted by a
   constant. So the convolution is computed at every p < O_1*st_1 (the W' - O_n pixels past each
   row's end are computed and dropped) with unit-stride reads and no padding conditions: a
   matmul-shaped kernel, (output channels x flat pixels) over (cin x taps), which gets the
   register tile of src/codegen/opt.c. The flat copies of x (and of g for the weight gradient)
   are kernels of their own, O(input) against the convolution's O(input x cout x taps). */
enum { FLAT_ALIGN = 16 }; /* flat lengths a multiple of the register tile's 16 columns */

typedef struct {
  int n;
  int64_t st[3], wide, P, L; /* strides; the last dim's width W'; outputs p < P; flat length L */
} flat_layout;

static int flat_ok(cg_tensor *x, const conv_params *c) {
  cg_device *dev = cg_device_get(x->u->dev);
  if ((dev != &cg_device_cpu && dev != &cg_device_interp) || shape_has_var(x->u->shape))
    return 0; /* GPUs keep the windows; a variable dim has no fixed flat layout */
  for (int j = 0; j < c->n; j++)
    if (c->s[j] != 1) return 0;
  return 1;
}

/* the layout for padded input dims ip (outputs o, kernel k): W' is widened (by at most a quarter)
   so that P is a multiple of FLAT_ALIGN where that is possible */
static flat_layout flat_plan(int n, const int64_t *ip, const int64_t *o, const int64_t *k, const int64_t *d) {
  flat_layout f = {n, {0}, ip[n - 1], 0, 0};
  for (int64_t wd = ip[n - 1]; wd <= ip[n - 1] + ip[n - 1] / 4; wd++) {
    int64_t rows = 1;
    for (int j = 0; j + 1 < n; j++) rows *= j ? ip[j] : o[0];
    if (n > 1 && rows * wd % FLAT_ALIGN == 0) { f.wide = wd; break; }
  }
  f.st[n - 1] = 1;
  for (int j = n - 2; j >= 0; j--) f.st[j] = f.st[j + 1] * (j + 1 == n - 1 ? f.wide : ip[j + 1]);
  f.P = o[0] * f.st[0];
  int64_t reach = f.P;
  for (int j = 0; j < n; j++) reach += (k[j] - 1) * d[j] * f.st[j];
  f.L = reach;
  return f;
}

/* t (N, C, *dims) padded on the right to `to` (the last to W') and by whole rows of the first
   dim until it holds len elements, viewed flat: (N, C, len'); stored first when `store` */
static cg_tensor *flat_pad(cg_tensor *t, int n, const int64_t *to, int64_t len, int store) {
  CG_CHECK(t);
  int64_t pads[3][2], row = 1, numel;
  for (int j = 1; j < n; j++) row *= to[j];
  for (int j = 0; j < n; j++) pads[j][0] = 0, pads[j][1] = to[j] - t->u->shape.d[2 + j];
  pads[0][1] += ceildiv(len, row) - to[0];
  numel = ceildiv(len, row) * row;
  t = pad_last(t, n, pads, 0);
  if (store) t = cg_contiguous(t);
  CG_CHECK(t);
  return cg_reshape(t, shape_splice(t->u->shape, 2, n, &numel, 1));
}

static cg_tensor *flat_store(cg_tensor *t, int n, const int64_t *to, int64_t len) {
  return flat_pad(t, n, to, len, 1);
}

/* the padded input's dims (spatial) and the outputs of a stride-1 convolution */
static void flat_dims(cg_shape xs, cg_shape ws, const conv_params *c, int64_t *ip, int64_t *o) {
  for (int j = 0; j < c->n; j++) {
    ip[j] = xs.d[2 + j] + c->pads[j][0] + c->pads[j][1];
    o[j] = ip[j] - c->d[j] * (ws.d[2 + j] - 1);
  }
}

/* windows of the flat input (N, C, L): (N, C, P, *k) with [p, k] = flat[p + sum k_j*d_j*st_j] */
static cg_tensor *flat_windows(cg_tensor *xf, const flat_layout *f, const int64_t *k, const int64_t *d) {
  int n = f->n;
  for (int j = 0; j < n; j++) xf = pool_axis(xf, 2, k[j], 1, d[j] * f->st[j]); /* (N, C, o, k_j, ..., k_0) */
  CG_CHECK(xf);
  cg_axes perm = {3 + n, {0, 1, 2}};
  for (int j = 0; j < n; j++) perm.v[3 + j] = 3 + n - 1 - j;
  return shrink_axis(cg_permute(xf, perm), 2, 0, f->P);
}

/* Where the flat result is stored. With a long reduce per output (conv2 of the demo: 16 x 3 x 3)
   the kernel stores the cropped output itself: each output row runs at the W' flat columns (the
   register tile's multiple, opt.c's WIDEN) and the store is gated to the O_n real ones, the tile's
   stores a small part of its work. With a short one (1 x 3 x 3, without the channel tile below)
   the stores are most of the work, and rows of O_n floats make them unaligned and masked (2x
   slower measured): the flat P outputs are stored as they are, and consumers read the crop
   through a view. So are rows that
   WIDEN would not take (more than a quarter of wasted columns, WIDEN_MAX_WASTE in opt.c, or a
   flat row narrower than the widened one): there the cropped kernel would get no tile. */
enum { CROP_IN_KERNEL_MIN_REDUCE = 64, CROP_TILE_COLS = 16, CROP_MAX_WASTE = 4 };

static int crop_in_kernel(const int64_t *ws_dims, int n, int64_t out_cols, int64_t flat_cols) {
  int64_t reduce = 1, wide = (out_cols + CROP_TILE_COLS - 1) / CROP_TILE_COLS * CROP_TILE_COLS;
  for (int j = 1; j < 2 + n; j++) reduce *= ws_dims[j]; /* cin x taps */
  return reduce >= CROP_IN_KERNEL_MIN_REDUCE && (wide - out_cols) * CROP_MAX_WASTE <= out_cols && flat_cols >= wide;
}

/* Output channels in vectors: where opt.c's channel tile fits (cg_channel_tile_rows: 32k output
   channels with rows of 2 pixels, or 16k with rows of 4; where 4 does not divide a row, 2 x 2
   squares of pixels when the rows and their count are even (conv2's input gradient: 14 x 14, the
   tile along its 16 channels instead of the pixels), else a row's pixels run as a few more where
   the flat layout has them (14 as 16); the weights of one tile's columns, cin x
   taps x 32 or 16 floats, within 24 KiB so they stay in L1), float32, one group and more than one
   sample (the threads' loop; a lone sample's dim is dropped when lowered), the weight is stored
   channels-last, (cin, *k, cout), and read through a view with the original axes. Its loads are
   then unit-stride along the output channels, and the register tile runs along them (COLS, TILE
   2x32 or 4x16: 8 output channels a vector load, a pixel a broadcast input value) instead of along
   the flat pixels, where conv2's rows of 16 computed columns hold 14 outputs and two of each
   tap's three loads are unaligned: conv2's forward kernel 7.9 -> 7.0 ms (one thread). The kernel
   stores the cropped output itself, whatever the reduce's length (the tile's stores are single
   floats): conv1 of the demo (one input channel) loses its flat output and crop copy, 1.6-2.6 ->
   1.0-1.2 ms. The copy is of the weight alone (4608 floats for conv2). Widened rows (`wide`) must
   stay within the flat rows (W' columns): their pixels then read inside the flat input, which is
   what opt.c's WIDEN proves again on the kernel's loads before it takes the tile. Squares only in
   2-d: SQUARE adds an output dim, which a 3-d convolution's tiled kernel has no room for. */
static int channel_tile(cg_tensor *x, cg_tensor *w, int n, int groups, const int64_t *o, int64_t flat_cols) {
  cg_shape ws = w->u->shape;
  int64_t reduce = ws.d[1], wide;
  for (int j = 0; j < n; j++) reduce *= ws.d[2 + j];
  return groups == 1 && x->u->dtype == CG_F32 && w->u->dtype == CG_F32 && x->u->shape.d[0] > 1 &&
         cg_channel_tile_rows(ws.d[0], o[n - 1], n == 2 ? o[0] : 0, reduce, &wide) > 0 && wide <= flat_cols;
}

static cg_tensor *weight_channels_last(cg_tensor *w, int n) {
  cg_axes to = {n + 2, {0}}, back = {n + 2, {n + 1}};
  for (int j = 0; j <= n; j++) to.v[j] = j + 1, back.v[j + 1] = j;
  to.v[n + 1] = 0;
  return cg_permute(cg_contiguous(cg_permute(w, to)), back);
}

/* *store: the caller stores the result once it has wrapped it (see conv_value_unstored) */
static cg_tensor *conv_flat(cg_tensor *x, cg_tensor *w, const conv_params *c, int *store) {
  int n = c->n;
  cg_shape xs = x->u->shape, ws = w->u->shape;
  int64_t ip[3] = {0}, o[3] = {0}, to[3] = {0}, pads[3][2];
  flat_dims(xs, ws, c, ip, o);
  flat_layout f = flat_plan(n, ip, o, &ws.d[2], c->d);
  for (int j = 0; j < n; j++) to[j] = j == n - 1 ? f.wide : ip[j];
  memcpy(pads, c->pads, sizeof pads);
  cg_tensor *xf = flat_store(pad_last(x, n, pads, 0), n, to, f.L);
  int channels = channel_tile(x, w, n, c->groups, o, f.wide);
  if (channels) w = weight_channels_last(w, n);
  cg_tensor *y = conv_contract(flat_windows(xf, &f, &ws.d[2], c->d), w, 1, n, c->groups);
  *store = channels || crop_in_kernel(ws.d, n, o[n - 1], f.wide);
  if (!*store) y = cg_contiguous(y);
  CG_CHECK(y);
  /* (N, Cout, P) -> (N, Cout, o_1, *to[1..]) -> the outputs */
  int64_t rows[3] = {o[0], to[1], to[2]};
  y = cg_reshape(y, shape_splice(y->u->shape, 2, 1, rows, n));
  for (int j = 1; j < n && y; j++) y = shrink_axis(y, 2 + j, 0, o[j]);
  return y;
}

/* x (N, G*cin, *in) padded by pads (may be negative), w (G*rcout, cin, *k), shapes checked:
   stride 1 on the flat layout, else windows by the pool trick. *store: the caller must store the
   result (cg_contiguous) once it has wrapped it: a flat convolution read by a consumer would be
   inlined into the consumer's loops (and a GRAD_FN over a stored value would be one more copy). */
static cg_tensor *conv_value_unstored(cg_tensor *x, cg_tensor *w, const conv_params *c, const char *who, int *store) {
  int n = c->n;
  cg_shape ws = w->u->shape;
  int64_t ip[3], o[3];
  flat_dims(x->u->shape, ws, c, ip, o);
  int fits = 1;
  for (int j = 0; j < n; j++) fits &= o[j] >= 1;
  *store = 0;
  if (fits && flat_ok(x, c)) return conv_flat(x, w, c, store);
  cg_tensor *win = pool(pad_last(x, n, c->pads, 0), n, &ws.d[2], c->s, c->d, who);
  return conv_contract(win, w, n, n, c->groups);
}

static cg_tensor *conv_value(cg_tensor *x, cg_tensor *w, const conv_params *c, const char *who) {
  int store;
  cg_tensor *y = conv_value_unstored(x, w, c, who, &store);
  return store ? cg_contiguous(y) : y;
}

/* d loss / d x: the transposed convolution of g (N, G*rcout, *o) back onto x's shape xs, written
   as a stride-1 convolution of g with s-1 zeros between its elements, padded by d*(k-1) - pad
   before, against the flipped weight with in and out channels swapped per group. Its windows
   read g forward (the index math folds to o + k*d), where differentiating the forward windows
   would scatter through their reshapes (division and modulo in every index). */
static cg_tensor *conv_input_grad(cg_tensor *g, cg_tensor *w, cg_shape xs, const conv_params *c) {
  int n = c->n, G = c->groups;
  cg_shape ws = w->u->shape;
  int64_t rcout = ws.d[0] / G, cin = ws.d[1];
  cg_tensor *wt = cg_transpose(cg_reshape(w, shape_splice(ws, 0, 2, (int64_t[]){G, rcout, cin}, 3)), 1, 2);
  cg_axes flip = {n, {0}};
  for (int j = 0; j < n; j++) flip.v[j] = 3 + j;
  wt = cg_reshape(cg_flip(wt, flip), shape_splice(ws, 0, 2, (int64_t[]){G * cin, rcout}, 2));
  conv_params t = {n, G, {1, 1, 1}, {{0}}, {c->d[0], c->d[1], c->d[2]}};
  for (int j = 0; j < n; j++) {
    int ax = 2 + j;
    int64_t o = g->u->shape.d[ax], s = c->s[j], span = c->d[j] * (ws.d[ax] - 1);
    if (s > 1) { /* (o) -> (o, 1) -> pad to (o, s) -> (o*s) -> first (o-1)*s + 1 */
      g = cg_reshape(g, shape_splice(g->u->shape, ax, 1, (int64_t[]){o, 1}, 2));
      g = pad_axis(g, ax + 1, s - 1);
      CG_CHECK(g);
      g = cg_reshape(g, shape_splice(g->u->shape, ax, 2, (int64_t[]){o * s}, 1));
      g = shrink_axis(g, ax, 0, (o - 1) * s + 1);
      CG_CHECK(g);
    }
    t.pads[j][0] = span - c->pads[j][0];
    t.pads[j][1] = xs.d[ax] + c->pads[j][0] - ((o - 1) * s + 1);
  }
  return conv_value(g, wt, &t, "conv backward");
}

/* d loss / d w: for each weight tap, the sum over batch and output pixels of g times the input
   the tap met. The input's windows of size o (stride d, dilation s: the taps' spacing and the
   outputs' spacing swap roles) give (N, G*cin, *k, *o) directly, a forward read of x. */
static cg_tensor *conv_weight_grad(cg_tensor *g, cg_tensor *x, cg_shape ws, const conv_params *c) {
  int n = c->n, G = c->groups, merge = 4 + 2 * n > CG_MAX_DIMS;
  int64_t rcout = ws.d[0] / G, cin = ws.d[1], O = 1, K = 1, shp[CG_MAX_DIMS];
  const int64_t *o = &g->u->shape.d[2], *k = &ws.d[2];
  cg_tensor *win = pool(pad_last(x, n, c->pads, 0), n, o, c->d, c->s, "conv backward");
  CG_CHECK(win);
  for (int j = 0; j < n; j++) {
    win = shrink_axis(win, 2 + j, 0, k[j]); /* trailing windows no tap reaches */
    O *= o[j], K *= k[j];
  }
  CG_CHECK(win);
  /* windows (N, G, 1, cin, *k, *o) and g (N, G, rcout, 1, *1, *o), k and o merged for 3-d */
  int m = 0, no = merge ? 1 : n;
  shp[m++] = x->u->shape.d[0], shp[m++] = G, shp[m++] = 1, shp[m++] = cin;
  for (int j = 0; j < no; j++) shp[m++] = merge ? K : k[j];
  for (int j = 0; j < no; j++) shp[m++] = merge ? O : o[j];
  cg_shape xsh = {m, {0}, {0}}, gsh = {m, {0}, {0}};
  memcpy(xsh.d, shp, sizeof shp);
  memcpy(gsh.d, shp, sizeof shp);
  gsh.d[2] = rcout, gsh.d[3] = 1;
  for (int j = 0; j < no; j++) gsh.d[4 + j] = 1;
  cg_axes red = {1 + no, {0}};
  for (int j = 0; j < no; j++) red.v[1 + j] = m - 1 - j;
  cg_tensor *r = cg_sum(cg_mul(cg_reshape(win, xsh), cg_reshape(g, gsh)), red, 0);
  return cg_reshape(r, ws);
}

/* Blocks of samples for the weight gradient's first stage: every output sums over the samples'
   flat g and x, so with all N at once each output streams both from memory (conv2 of the demo:
   4608 outputs x 11 MB). Summed per block of samples whose data fits WG_BLOCK_BYTES of L2, the
   outputs of one block reuse it from cache, and a second kernel adds the blocks' partial sums.
   The largest divisor of N whose block fits, counted in blocks. */
enum { WG_BLOCK_BYTES = 192 << 10 };
/* the register tile (src/codegen/opt.c) takes rows and columns in multiples of these */
enum { WG_TILE_ROWS = 4, WG_TILE_COLS = 16 };
static int64_t weight_grad_blocks(int64_t N, int64_t bytes_per_sample) {
  int64_t per = 1;
  for (int64_t b = 1; b <= N; b++)
    if (N % b == 0 && b * bytes_per_sample <= WG_BLOCK_BYTES) per = b;
  return N / per;
}

/* The weight gradient below with g stored channels-last, (N, P, G*rcout), and the outputs ordered
   (B, G, *k, cin, rcout): a matmul of the windows (rows cin) by g (columns rcout, unit stride)
   over (N/B, P), which takes the register tile of src/codegen/opt.c (4 x 16), each g vector
   shared by 4 input channels and each input value by 16 output channels, where the kernel
   above streams two operands per multiply-add. */
static cg_tensor *weight_grad_flat_tiled(cg_tensor *win, cg_tensor *g, cg_shape ws, const conv_params *c,
                                         const flat_layout *f, const int64_t *go, int64_t B) {
  int n = c->n, G = c->groups;
  int64_t N = g->u->shape.d[0], rcout = ws.d[0] / G, cin = ws.d[1];
  cg_tensor *gt = flat_pad(g, n, go, f->P, 0); /* (N, G*rcout, P) */
  CG_CHECK(gt, win);
  gt = cg_contiguous(cg_permute(gt, CG_AXES(0, 2, 1)));
  gt = cg_permute(cg_reshape(gt, CG_SHAPE(B, N / B, f->P, G, rcout)), CG_AXES(0, 1, 3, 4, 2));
  cg_shape gsh = {6 + n, {B, N / B, G}, {0}}, xw = {5 + n, {B, N / B, G, cin, f->P}, {0}};
  for (int j = 0; j < n; j++) gsh.d[3 + j] = 1, xw.d[5 + j] = ws.d[2 + j];
  gsh.d[3 + n] = 1, gsh.d[4 + n] = rcout, gsh.d[5 + n] = f->P;
  /* windows (N, G*cin, P, *k) -> (B, N/B, G, *k, cin, 1, P) */
  cg_axes perm = {5 + n, {0, 1, 2}};
  for (int j = 0; j < n; j++) perm.v[3 + j] = 5 + j;
  perm.v[3 + n] = 3, perm.v[4 + n] = 4;
  cg_tensor *xr = cg_permute(cg_reshape(win, xw), perm);
  CG_CHECK(xr);
  cg_shape xsh = gsh;
  for (int j = 0; j < n; j++) xsh.d[3 + j] = ws.d[2 + j];
  xsh.d[3 + n] = cin, xsh.d[4 + n] = 1;
  cg_tensor *r = cg_sum(cg_mul(cg_reshape(xr, xsh), cg_reshape(gt, gsh)), (cg_axes){2, {1, 5 + n}}, 0);
  if (B > 1) r = cg_sum(cg_contiguous(r), CG_AXES(0), 0);
  cg_shape rs = {3 + n, {G}, {0}}; /* (G, *k, cin, rcout) -> (G, rcout, cin, *k) */
  for (int j = 0; j < n; j++) rs.d[1 + j] = ws.d[2 + j];
  rs.d[1 + n] = cin, rs.d[2 + n] = rcout;
  cg_axes back = {3 + n, {0, 2 + n, 1 + n}};
  for (int j = 0; j < n; j++) back.v[3 + j] = 1 + j;
  return cg_reshape(cg_permute(cg_reshape(r, rs), back), ws);
}

/* the weight gradient of a stride-1 convolution on the flat layout: g stored flat with zeros at
   the dropped pixels, so the sum over (N, flat pixels) of g times each tap's shifted input reads
   both with unit stride and no conditions */
static cg_tensor *conv_weight_grad_flat(cg_tensor *g, cg_tensor *x, cg_shape ws, const conv_params *c) {
  int n = c->n, G = c->groups;
  int64_t ip[3] = {0}, o[3] = {0}, to[3], go[3], pads[3][2], rcout = ws.d[0] / G, cin = ws.d[1];
  flat_dims(x->u->shape, ws, c, ip, o);
  flat_layout f = flat_plan(n, ip, o, &ws.d[2], c->d);
  for (int j = 0; j < n; j++) to[j] = j == n - 1 ? f.wide : ip[j], go[j] = j ? to[j] : o[0];
  memcpy(pads, c->pads, sizeof pads);
  cg_tensor *win = flat_windows(flat_store(pad_last(x, n, pads, 0), n, to, f.L), &f, &ws.d[2], c->d);
  int64_t N = x->u->shape.d[0], B = weight_grad_blocks(N, (ws.d[0] * f.P + G * cin * f.L) * 4);
  if (cin % WG_TILE_ROWS == 0 && rcout % WG_TILE_COLS == 0) return weight_grad_flat_tiled(win, g, ws, c, &f, go, B);
  cg_tensor *gf = flat_store(g, n, go, f.P);
  CG_CHECK(win, gf);
  /* windows (B, N/B, G, 1, cin, *k, P) and g (B, N/B, G, rcout, 1, *1, P), summed over N/B and
     P per block of samples first (see weight_grad_blocks), then over the B blocks */
  cg_shape xsh = {6 + n, {B, N / B, G, 1, cin}, {0}}, gsh = xsh;
  for (int j = 0; j < n; j++) xsh.d[5 + j] = ws.d[2 + j], gsh.d[5 + j] = 1;
  xsh.d[5 + n] = gsh.d[5 + n] = f.P;
  gsh.d[3] = rcout, gsh.d[4] = 1;
  cg_axes to_last = {3 + n, {0, 1}}; /* (N, G*cin, P, *k) -> (N, G*cin, *k, P) */
  for (int j = 0; j < n; j++) to_last.v[2 + j] = 3 + j;
  to_last.v[2 + n] = 2;
  cg_tensor *xr = cg_reshape(cg_permute(win, to_last), xsh);
  cg_tensor *r = cg_sum(cg_mul(xr, cg_reshape(gf, gsh)), (cg_axes){2, {1, 5 + n}}, 0);
  if (B > 1) r = cg_sum(cg_contiguous(r), CG_AXES(0), 0);
  return cg_reshape(r, ws);
}


static void conv_backward(const uop *u, cg_tensor *g, cg_tensor **d) {
  conv_params c = conv_params_unpack(u->v);
  cg_tensor *x = tensor_wrap(uop_ref(u->src[1])), *w = tensor_wrap(uop_ref(u->src[2]));
  if (u->src[1]->needs_grad) d[1] = conv_input_grad(g, w, x->u->shape, &c);
  if (u->src[2]->needs_grad) /* the flat one has 6 + n axes */
    d[2] = flat_ok(x, &c) && 6 + c.n <= CG_MAX_DIMS ? conv_weight_grad_flat(g, x, w->u->shape, &c) : conv_weight_grad(g, x, w->u->shape, &c);
}

static const grad_rule conv_rule = {"conv", conv_backward};

/* x (N, G*cin, *in) padded by pads (may be negative), w (G*rcout, cin, *k): the value is
   computed without gradients and differentiated by conv_backward, whose passes are
   convolutions themselves. */
static cg_tensor *conv_core(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int n, const int64_t *stride,
                            const int64_t (*pads)[2], const int64_t *dil, int groups, const char *who) {
  CG_CHECK(x, w);
  cg_shape xs = x->u->shape, ws = w->u->shape;
  if (xs.ndim != n + 2 || ws.ndim != n + 2) {
    cg_set_error("%s: input and weight need %d dims (N, C, %d spatial), got %d and %d", who, n + 2,
                 n, xs.ndim, ws.ndim);
    return NULL;
  }
  int64_t cout = ws.d[0], cin = ws.d[1];
  if (groups < 1 || cin * groups != xs.d[1] || cout % groups) {
    cg_set_error("%s: input has %lld channels, weight (%lld, %lld, ...) with groups=%d does not fit",
                 who, (long long)xs.d[1], (long long)cout, (long long)cin, groups);
    return NULL;
  }
  if (bias && (bias->u->shape.ndim != 1 || bias->u->shape.d[0] != cout)) {
    cg_set_error("%s: bias needs shape (%lld)", who, (long long)cout);
    return NULL;
  }
  conv_params c = {n, groups, {1, 1, 1}, {{0}}, {1, 1, 1}};
  for (int j = 0; j < n; j++) c.s[j] = stride[j], c.d[j] = dil[j], c.pads[j][0] = pads[j][0], c.pads[j][1] = pads[j][1];
  int was = cg_set_grad_enabled(0);
  int store;
  cg_tensor *r = conv_value_unstored(x, w, &c, who, &store);
  cg_set_grad_enabled(was);
  int64_t v[CONV_NPARAMS];
  conv_params_pack(&c, v);
  r = with_grad_rule(r, (cg_tensor *[]){x, w}, 2, &conv_rule, v, CONV_NPARAMS);
  if (store) r = cg_contiguous(r);
  if (!bias) return r;
  cg_shape bsh = {n + 1, {cout}, {0}};
  for (int j = 0; j < n; j++) bsh.d[1 + j] = 1;
  return cg_add(r, cg_reshape(bias, bsh));
}

static cg_tensor *conv_impl(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int n, const int64_t *stride,
                            const int64_t *padding, const int64_t *dilation, int groups) {
  int64_t s[3], p[3], d[3], pads[3][2];
  if (!conv_args(n, stride, padding, dilation, s, p, d, "conv")) return NULL;
  for (int j = 0; j < n; j++) pads[j][0] = pads[j][1] = p[j];
  return conv_core(x, w, bias, n, s, pads, d, groups, "conv");
}
cg_tensor *cg_conv(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int nspatial, const int64_t *stride,
                   const int64_t *padding, const int64_t *dilation, int groups) {
  SCOPED(conv_impl(x, w, bias, nspatial, stride, padding, dilation, groups));
}
cg_tensor *cg_conv2d(cg_tensor *x, cg_tensor *w, cg_tensor *bias, const int64_t stride[2],
                     const int64_t padding[2], const int64_t dilation[2], int groups) {
  SCOPED(conv_impl(x, w, bias, 2, stride, padding, dilation, groups));
}

/* A transposed convolution is a convolution of the stride-dilated input (s-1 zeros between
   elements) with the flipped, in/out-swapped weight, padded by (k-1)*d - p (+ output_padding). */
static cg_tensor *conv_transpose_impl(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int n,
                                      const int64_t *stride, const int64_t *padding,
                                      const int64_t *output_padding, const int64_t *dilation, int groups) {
  CG_CHECK(x, w);
  int64_t s[3], p[3], d[3], pads[3][2];
  if (!conv_args(n, stride, padding, dilation, s, p, d, "conv_transpose")) return NULL;
  cg_shape ws = w->u->shape, xs = x->u->shape;
  if (ws.ndim != n + 2 || xs.ndim != n + 2 || groups < 1 || ws.d[0] % groups || ws.d[0] != xs.d[1]) {
    cg_set_error("conv_transpose: input (N, %lld, ...) and weight (Cin, Cout/groups, ...) with "
                 "groups=%d need %d dims and Cin == %lld divisible by groups",
                 (long long)(xs.ndim > 1 ? xs.d[1] : 0), groups, n + 2, (long long)(xs.ndim > 1 ? xs.d[1] : 0));
    return NULL;
  }
  int64_t cin = ws.d[0] / groups, rcout = ws.d[1];
  cg_shape gsh = shape_splice(ws, 0, 2, (int64_t[]){groups, cin, rcout}, 3);
  cg_axes flip = {n, {0}};
  for (int j = 0; j < n; j++) flip.v[j] = 3 + j;
  cg_tensor *wt = cg_flip(cg_transpose(cg_reshape(w, gsh), 1, 2), flip);
  wt = cg_reshape(wt, shape_splice(ws, 0, 2, (int64_t[]){groups * rcout, cin}, 2));
  for (int j = 0; j < n; j++) {
    int64_t op = output_padding ? output_padding[j] : 0;
    if (op < 0 || (op >= s[j] && op >= d[j])) {
      cg_set_error("conv_transpose: output_padding %lld must be smaller than stride or dilation",
                   (long long)op);
      return NULL;
    }
    pads[j][0] = (ws.d[2 + j] - 1) * d[j] - p[j];
    pads[j][1] = pads[j][0] + op;
    if (s[j] == 1) continue;
    /* (i) -> (i, 1) -> pad to (i, s) -> (i*s) -> first (i-1)*s + 1 */
    int ax = 2 + j;
    int64_t i = x->u->shape.d[ax];
    x = cg_reshape(x, shape_splice(x->u->shape, ax, 1, (int64_t[]){i, 1}, 2));
    x = pad_axis(x, ax + 1, s[j] - 1);
    CG_CHECK(x);
    x = cg_reshape(x, shape_splice(x->u->shape, ax, 2, (int64_t[]){i * s[j]}, 1));
    x = shrink_axis(x, ax, 0, (i - 1) * s[j] + 1);
  }
  int64_t one[3] = {1, 1, 1};
  return conv_core(x, wt, bias, n, one, pads, d, groups, "conv_transpose");
}
cg_tensor *cg_conv_transpose(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int nspatial,
                             const int64_t *stride, const int64_t *padding,
                             const int64_t *output_padding, const int64_t *dilation, int groups) {
  SCOPED(conv_transpose_impl(x, w, bias, nspatial, stride, padding, output_padding, dilation, groups));
}
cg_tensor *cg_conv_transpose2d(cg_tensor *x, cg_tensor *w, cg_tensor *bias, const int64_t stride[2],
                               const int64_t padding[2], const int64_t output_padding[2],
                               const int64_t dilation[2], int groups) {
  SCOPED(conv_transpose_impl(x, w, bias, 2, stride, padding, output_padding, dilation, groups));
}

/* the smallest value of a dtype (the identity of max) */
static double dtype_min(cg_dtype dt) {
  if (cg_dtype_is_float(dt)) return -INFINITY;
  if (dt == CG_BOOL || cg_dtype_is_unsigned(dt)) return 0;
  return -ldexp(1, 8 * cg_dtype_size(dt) - 1);
}

/* windows of the padded last n dims, (..., *o, *k); stride NULL means the kernel size */
static cg_tensor *pool_padded(cg_tensor *x, int n, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, const int64_t *dilation, double padval,
                              const char *who) {
  CG_CHECK(x);
  int64_t s[3], p[3], d[3], pads[3][2];
  if (!kernel) {
    cg_set_error("%s: kernel size is required", who);
    return NULL;
  }
  if (!conv_args(n, stride ? stride : kernel, padding, dilation, s, p, d, who)) return NULL;
  for (int j = 0; j < n; j++) {
    if (kernel[j] < 1 || 2 * p[j] > kernel[j]) {
      cg_set_error("%s: kernel %lld must be >= 1 and padding %lld at most half of it", who,
                   (long long)kernel[j], (long long)p[j]);
      return NULL;
    }
    pads[j][0] = pads[j][1] = p[j];
  }
  return pool(pad_last(x, n, pads, padval), n, kernel, s, d, who);
}

static cg_axes last_axes(int n) {
  cg_axes a = {n, {0}};
  for (int j = 0; j < n; j++) a.v[j] = -1 - j;
  return a;
}

static cg_tensor *max_pool_impl(cg_tensor *x, int n, const int64_t *kernel, const int64_t *stride,
                                const int64_t *padding, const int64_t *dilation) {
  CG_CHECK(x);
  cg_tensor *win = pool_padded(x, n, kernel, stride, padding, dilation, dtype_min(x->u->dtype), "max_pool");
  return cg_max(win, last_axes(n), 0);
}
cg_tensor *cg_max_pool(cg_tensor *x, int nspatial, const int64_t *kernel, const int64_t *stride,
                       const int64_t *padding, const int64_t *dilation) {
  SCOPED(max_pool_impl(x, nspatial, kernel, stride, padding, dilation));
}
cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]) {
  SCOPED(max_pool_impl(x, 2, kernel, stride, padding, NULL));
}

static cg_tensor *avg_pool_impl(cg_tensor *x, int n, const int64_t *kernel, const int64_t *stride,
                                const int64_t *padding, int count_include_pad) {
  CG_CHECK(x);
  cg_tensor *sum = cg_sum(pool_padded(x, n, kernel, stride, padding, NULL, 0, "avg_pool"), last_axes(n), 0);
  if (count_include_pad) {
    CG_CHECK(sum);
    int64_t k = 1;
    for (int j = 0; j < n; j++) k *= kernel[j];
    return cg_div(sum, tconst_like(x, (double)k, cg_dtype_is_float(sum->u->dtype) ? sum->u->dtype : CG_F32));
  }
  cg_tensor *ones = cg_full_like(x, 1);
  cg_tensor *count = cg_sum(pool_padded(ones, n, kernel, stride, padding, NULL, 0, "avg_pool"), last_axes(n), 0);
  return cg_div(sum, count);
}
cg_tensor *cg_avg_pool(cg_tensor *x, int nspatial, const int64_t *kernel, const int64_t *stride,
                       const int64_t *padding, int count_include_pad) {
  SCOPED(avg_pool_impl(x, nspatial, kernel, stride, padding, count_include_pad));
}
cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]) {
  SCOPED(avg_pool_impl(x, 2, kernel, stride, padding, 1));
}

/* ---- layers ---- */
static cg_tensor *linear_impl(cg_tensor *x, cg_tensor *w, cg_tensor *b) {
  CG_CHECK(x, w);
  if (w->u->shape.ndim != 2) {
    cg_set_error("linear: weight needs shape (out, in), got %d dims", w->u->shape.ndim);
    return NULL;
  }
  cg_tensor *y = cg_matmul(x, cg_transpose(w, 0, 1));
  return b ? cg_add(y, b) : y;
}
cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b) { SCOPED(linear_impl(x, w, b)); }

/* a per-channel vector as (1, C, 1, ...) for x */
static cg_tensor *channel_view(cg_tensor *v, cg_tensor *x) {
  CG_CHECK(v, x);
  cg_shape s = {x->u->shape.ndim, {0}, {0}};
  for (int i = 0; i < s.ndim; i++) s.d[i] = 1;
  s.d[1] = cg_numel(v);
  return cg_reshape(v, s);
}

static cg_tensor *batchnorm_impl(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, cg_tensor *mean,
                                 cg_tensor *invstd) {
  CG_CHECK(x, mean, invstd);
  if (x->u->shape.ndim < 2) {
    cg_set_error("batchnorm: input needs a channel axis (N, C, ...)");
    return NULL;
  }
  cg_tensor *y = cg_sub(x, channel_view(mean, x));
  if (weight) y = cg_mul(y, channel_view(weight, x));
  y = cg_mul(y, channel_view(invstd, x));
  return bias ? cg_add(y, channel_view(bias, x)) : y;
}
cg_tensor *cg_batchnorm(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, cg_tensor *mean, cg_tensor *invstd) {
  SCOPED(batchnorm_impl(x, weight, bias, mean, invstd));
}

/* ---- batchnorm with the batch's statistics (training) ----
   Differentiated through its primitives, the normalization's gradient reaches x along three
   paths (directly, through the mean, through the variance), four reductions over the incoming
   gradient per layer. Its closed form needs two, which are also the bias and weight gradients:
   with xhat = (x - mean) * invstd over the n elements of a channel,
   dx = weight * invstd * (g - sum(g)/n - xhat * sum(g * xhat)/n). */
static cg_axes all_but_channel(int nd) {
  cg_axes a = {0, {0}};
  for (int i = 0; i < nd; i++)
    if (i != 1) a.v[a.n++] = i;
  return a;
}

/* mean, biased variance and 1/sqrt(var + eps) per channel, built without gradients: the forward
   and the backward rule get the same (hash-consed) nodes */
static void bn_batch_stats(cg_tensor *x, double eps, cg_tensor **mean, cg_tensor **var, cg_tensor **invstd) {
  int was = cg_set_grad_enabled(0);
  cg_axes ax = all_but_channel(x->u->shape.ndim);
  *mean = cg_mean(x, ax, 0);
  cg_tensor *d = cg_sub(x, channel_view(*mean, x));
  *var = cg_mean(cg_mul(d, d), ax, 0);
  *invstd = cg_rsqrt(cg_add_s(*var, eps));
  cg_set_grad_enabled(was);
}

static void bn_backward(const uop *u, cg_tensor *g, cg_tensor **d) {
  double eps;
  memcpy(&eps, &u->v[0], sizeof eps);
  cg_tensor *x = tensor_wrap(uop_ref(u->src[1])), *w = tensor_wrap(uop_ref(u->src[2])), *mean, *var, *invstd;
  bn_batch_stats(x, eps, &mean, &var, &invstd);
  cg_axes ax = all_but_channel(x->u->shape.ndim);
  double n = (double)(cg_numel(x) / cg_numel(mean));
  cg_tensor *xhat = cg_mul(cg_sub(x, channel_view(mean, x)), channel_view(invstd, x));
  /* keepdim sums: the bias's gradient (sum_to in autograd.c) is the same node as sg */
  cg_tensor *sg = cg_sum(g, ax, 1), *sgx = cg_sum(cg_mul(g, xhat), ax, 1);
  if (u->src[1]->needs_grad) {
    cg_tensor *centered = cg_sub(cg_sub(g, cg_div_s(sg, n)), cg_mul(xhat, cg_div_s(sgx, n)));
    d[1] = cg_mul(centered, channel_view(cg_mul(w, invstd), x));
  }
  if (u->src[2]->needs_grad) d[2] = cg_reshape(sgx, w->u->shape);
}

static const grad_rule bn_rule = {"batchnorm", bn_backward};

static cg_tensor *batchnorm_train_core(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, double eps,
                                       cg_tensor **mean, cg_tensor **var) {
  CG_CHECK(x);
  if (x->u->shape.ndim < 2 || !cg_dtype_is_float(x->u->dtype)) {
    cg_set_error("batchnorm_train: input needs a float (N, C, ...) tensor");
    return NULL;
  }
  cg_tensor *invstd;
  bn_batch_stats(x, eps, mean, var, &invstd);
  if (!weight) { /* no rule without a weight: the stats again, with gradients */
    cg_axes ax = all_but_channel(x->u->shape.ndim);
    cg_tensor *m = cg_mean(x, ax, 0), *dv = cg_sub(x, channel_view(m, x));
    return batchnorm_impl(x, NULL, bias, m, cg_rsqrt(cg_add_s(cg_mean(cg_mul(dv, dv), ax, 0), eps)));
  }
  int was = cg_set_grad_enabled(0);
  cg_tensor *y = batchnorm_impl(x, weight, NULL, *mean, invstd);
  cg_set_grad_enabled(was);
  int64_t v[1];
  memcpy(v, &eps, sizeof eps);
  y = with_grad_rule(y, (cg_tensor *[]){x, weight}, 2, &bn_rule, v, 1);
  return bias ? cg_add(y, channel_view(bias, x)) : y;
}

cg_tensor *cg_batchnorm_train(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, double eps,
                              cg_tensor **mean, cg_tensor **var) {
  cg_tensor *m = NULL, *vr = NULL;
  cg_scope_push();
  cg_tensor *y = batchnorm_train_core(x, weight, bias, eps, &m, &vr);
  cg_keep(y);
  if (y && mean) *mean = cg_keep(cg_detach(m));
  if (y && var) *var = cg_keep(cg_detach(vr));
  cg_scope_pop();
  return y;
}

static cg_tensor *rmsnorm_impl(cg_tensor *x, int axis, double eps) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  cg_axes axes = {nd - ax, {0}};
  for (int i = ax; i < nd; i++) axes.v[i - ax] = i;
  cg_tensor *xf = cg_dtype_is_float(x->u->dtype) ? x : cg_cast(x, CG_F32);
  return cg_mul(xf, cg_rsqrt(cg_add_s(cg_mean(cg_mul(xf, xf), axes, 1), eps)));
}
cg_tensor *cg_rmsnorm(cg_tensor *x, int axis, double eps) { SCOPED(rmsnorm_impl(x, axis, eps)); }

static cg_tensor *dropout_impl(cg_tensor *x, double p, int training) {
  CG_CHECK(x);
  if (!(p >= 0 && p <= 1) || !cg_dtype_is_float(x->u->dtype)) {
    cg_set_error("dropout: needs a float tensor and 0 <= p <= 1 (got p=%g)", p);
    return NULL;
  }
  if (!training || p == 0) return cg_reshape(x, x->u->shape);
  if (p == 1) return cg_mul_s(x, 0);
  cg_tensor *u = cg_to(cg_rand(x->u->shape, CG_F32), cg_get_device(x));
  cg_tensor *keep = cg_ge(u, tconst_like(x, p, CG_F32));
  return cg_div_s(cg_where(keep, x, tconst_like(x, 0, x->u->dtype)), 1 - p);
}
cg_tensor *cg_dropout(cg_tensor *x, double p, int training) { SCOPED(dropout_impl(x, p, training)); }

static cg_tensor *sdpa_impl(cg_tensor *q, cg_tensor *k, cg_tensor *v, cg_tensor *mask, int is_causal) {
  CG_CHECK(q, k, v);
  if (mask && is_causal) {
    cg_set_error("scaled_dot_product_attention: give a mask or is_causal, not both");
    return NULL;
  }
  int nd = q->u->shape.ndim;
  if (nd < 2 || k->u->shape.ndim < 2) {
    cg_set_error("scaled_dot_product_attention: q and k need at least 2 dims");
    return NULL;
  }
  cg_tensor *qf = cg_dtype_is_float(q->u->dtype) ? q : cg_cast(q, CG_F32);
  cg_tensor *s = cg_mul_s(cg_matmul(qf, cg_transpose(k, -1, -2)), 1 / sqrt((double)q->u->shape.d[nd - 1]));
  CG_CHECK(s);
  if (is_causal) {
    int64_t L = s->u->shape.d[s->u->shape.ndim - 2], S = s->u->shape.d[s->u->shape.ndim - 1];
    mask = cg_tril(cg_to(cg_ones(CG_SHAPE(L, S), CG_BOOL), cg_get_device(q)), 0);
    CG_CHECK(mask);
  }
  if (mask) {
    s = mask->u->dtype == CG_BOOL ? cg_where(mask, s, tconst_like(s, -INFINITY, s->u->dtype))
                                  : cg_add(s, mask);
  }
  return cg_matmul(cg_softmax(s, -1), v);
}
cg_tensor *cg_scaled_dot_product_attention(cg_tensor *q, cg_tensor *k, cg_tensor *v, cg_tensor *mask, int is_causal) {
  SCOPED(sdpa_impl(q, k, v, mask, is_causal));
}

/* ---- losses ---- */
static cg_tensor *reduce_loss(cg_tensor *l, int reduction) {
  switch (reduction) {
  case CG_REDUCTION_NONE: return l;
  case CG_REDUCTION_MEAN: return cg_mean(l, CG_ALL, 0);
  case CG_REDUCTION_SUM: return cg_sum(l, CG_ALL, 0);
  }
  cg_set_error("loss: reduction must be 0 (none), 1 (mean) or 2 (sum), got %d", reduction);
  return NULL;
}

static int loss_args(int reduction, double ls, const char *who) {
  if (reduction < 0 || reduction > 2) {
    cg_set_error("%s: reduction must be 0 (none), 1 (mean) or 2 (sum), got %d", who, reduction);
    return 0;
  }
  if (!(ls >= 0 && ls <= 1)) {
    cg_set_error("%s: label_smoothing must be in [0, 1], got %g", who, ls);
    return 0;
  }
  return 1;
}

/* -(1-ls) * logp[label] - ls * mean(logp) per element along the class axis cax, 0 where the
   label is ignore_index; the mean divides by the number of labels not ignored. */
static cg_tensor *nll_core(cg_tensor *logp, int cax, cg_tensor *target, int64_t ignore, double ls,
                           int reduction, const char *who) {
  CG_CHECK(logp, target);
  cg_shape ls_ = logp->u->shape, ts = target->u->shape;
  int ok = cg_dtype_is_int(target->u->dtype) && ts.ndim == ls_.ndim - 1;
  for (int i = 0, j = 0; ok && i < ls_.ndim; i++)
    if (i != cax) ok = shape_dim_eq(ls_, i, ts, j++);
  if (!ok) {
    char a[128], b[128];
    shape_str(ls_, a, sizeof a);
    shape_str(ts, b, sizeof b);
    cg_set_error("%s: labels must be integers of shape %s without the class axis %d, got %s %s",
                 who, a, cax, cg_dtype_name(target->u->dtype), b);
    return NULL;
  }
  cg_tensor *valid = cg_ne(target, tconst_like(target, (double)ignore, target->u->dtype));
  cg_tensor *idx = cg_where(valid, target, tconst_like(target, 0, target->u->dtype));
  cg_tensor *picked = cg_squeeze(cg_gather(logp, cax, cg_unsqueeze(idx, cax)), cax);
  cg_tensor *loss = cg_neg(picked);
  if (ls > 0)
    loss = cg_sub(cg_mul_s(loss, 1 - ls), cg_mul_s(cg_mean(logp, CG_AXES(cax), 0), ls));
  CG_CHECK(loss);
  loss = cg_where(valid, loss, tconst_like(loss, 0, loss->u->dtype));
  if (reduction != CG_REDUCTION_MEAN) return reduce_loss(loss, reduction);
  return cg_div(cg_sum(loss, CG_ALL, 0), cg_cast(cg_sum(valid, CG_ALL, 0), loss->u->dtype));
}

static cg_tensor *cross_entropy_impl(cg_tensor *logits, cg_tensor *target, int reduction, double ls) {
  CG_CHECK(logits, target);
  if (!loss_args(reduction, ls, "cross_entropy")) return NULL;
  int nd = logits->u->shape.ndim, cax = nd >= 2 ? 1 : 0;
  if (nd < 1) {
    cg_set_error("cross_entropy: logits need a class axis");
    return NULL;
  }
  cg_tensor *logp = cg_log_softmax(logits, cax);
  if (!cg_dtype_is_float(target->u->dtype)) return nll_core(logp, cax, target, -100, ls, reduction, "cross_entropy");
  /* class probabilities */
  if (!shape_eq(target->u->shape, logits->u->shape)) {
    cg_set_error("cross_entropy: probability targets must have the logits' shape");
    return NULL;
  }
  double C = (double)logits->u->shape.d[cax];
  cg_tensor *y = ls > 0 ? cg_add_s(cg_mul_s(target, 1 - ls), ls / C) : target;
  return reduce_loss(cg_neg(cg_sum(cg_mul(logp, y), CG_AXES(cax), 0)), reduction);
}
cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target, int reduction, double label_smoothing) {
  SCOPED(cross_entropy_impl(logits, target, reduction, label_smoothing));
}

static cg_tensor *nll_loss_impl(cg_tensor *logp, cg_tensor *target, int reduction, int64_t ignore) {
  CG_CHECK(logp, target);
  if (!loss_args(reduction, 0, "nll_loss")) return NULL;
  int nd = logp->u->shape.ndim;
  if (nd < 1) {
    cg_set_error("nll_loss: input needs a class axis");
    return NULL;
  }
  return nll_core(logp, nd >= 2 ? 1 : 0, target, ignore, 0, reduction, "nll_loss");
}
cg_tensor *cg_nll_loss(cg_tensor *logp, cg_tensor *target, int reduction, int64_t ignore_index) {
  SCOPED(nll_loss_impl(logp, target, reduction, ignore_index));
}

static cg_tensor *sparse_ce_impl(cg_tensor *logits, cg_tensor *labels, int64_t ignore, double ls, int reduction) {
  CG_CHECK(logits, labels);
  if (!loss_args(reduction, ls, "sparse_categorical_crossentropy")) return NULL;
  int nd = logits->u->shape.ndim;
  if (nd < 1) {
    cg_set_error("sparse_categorical_crossentropy: logits need a class axis");
    return NULL;
  }
  return nll_core(cg_log_softmax(logits, -1), nd - 1, labels, ignore, ls, reduction,
                  "sparse_categorical_crossentropy");
}
cg_tensor *cg_sparse_categorical_crossentropy(cg_tensor *logits, cg_tensor *labels, int64_t ignore_index,
                                              double label_smoothing, int reduction) {
  SCOPED(sparse_ce_impl(logits, labels, ignore_index, label_smoothing, reduction));
}

static cg_tensor *bce_impl(cg_tensor *p, cg_tensor *y, int reduction) {
  CG_CHECK(p, y);
  if (!loss_args(reduction, 0, "binary_crossentropy")) return NULL;
  cg_tensor *pf = cg_dtype_is_float(p->u->dtype) ? p : cg_cast(p, CG_F32);
  CG_CHECK(pf);
  cg_tensor *floor_ = tconst_like(pf, -100, pf->u->dtype), *one = tconst_like(pf, 1, pf->u->dtype);
  cg_tensor *lp = cg_maximum(cg_log(pf), floor_);
  cg_tensor *l1p = cg_maximum(cg_log(cg_sub(one, pf)), floor_);
  cg_tensor *l = cg_neg(cg_add(cg_mul(y, lp), cg_mul(cg_sub(one, y), l1p)));
  return reduce_loss(l, reduction);
}
cg_tensor *cg_binary_crossentropy(cg_tensor *p, cg_tensor *y, int reduction) { SCOPED(bce_impl(p, y, reduction)); }

static cg_tensor *bce_logits_impl(cg_tensor *x, cg_tensor *y, int reduction) {
  CG_CHECK(x, y);
  if (!loss_args(reduction, 0, "binary_crossentropy_logits")) return NULL;
  cg_tensor *xf = cg_dtype_is_float(x->u->dtype) ? x : cg_cast(x, CG_F32);
  cg_tensor *softplus = cg_log(cg_add_s(cg_exp(cg_neg(cg_abs(xf))), 1));
  return reduce_loss(cg_add(cg_sub(cg_relu(xf), cg_mul(xf, y)), softplus), reduction);
}
cg_tensor *cg_binary_crossentropy_logits(cg_tensor *logits, cg_tensor *y, int reduction) {
  SCOPED(bce_logits_impl(logits, y, reduction));
}

/* max + log(sum(exp(x - max))), with an infinite max replaced by 0 (all -inf gives -inf) */
static cg_tensor *logsumexp_impl(cg_tensor *x, cg_axes axes, int keepdim) {
  CG_CHECK(x);
  cg_tensor *xf = cg_dtype_is_float(x->u->dtype) ? x : cg_cast(x, CG_F32);
  cg_tensor *m = cg_max(xf, axes, 1);
  CG_CHECK(m);
  cg_tensor *inf = tconst_like(m, INFINITY, m->u->dtype);
  m = cg_where(cg_eq(cg_abs(m), inf), tconst_like(m, 0, m->u->dtype), m);
  cg_tensor *s = cg_log(cg_sum(cg_exp(cg_sub(xf, m)), axes, keepdim));
  CG_CHECK(s);
  return cg_add(s, cg_reshape(m, s->u->shape));
}
cg_tensor *cg_logsumexp(cg_tensor *x, cg_axes axes, int keepdim) { SCOPED(logsumexp_impl(x, axes, keepdim)); }

static cg_tensor *std_impl(cg_tensor *x, cg_axes axes, int keepdim, double correction) {
  return cg_sqrt(cg_var(x, axes, keepdim, correction));
}
cg_tensor *cg_std(cg_tensor *x, cg_axes axes, int keepdim, double correction) {
  SCOPED(std_impl(x, axes, keepdim, correction));
}

static cg_tensor *one_hot_impl(cg_tensor *labels, int64_t num_classes) {
  CG_CHECK(labels);
  if (!cg_dtype_is_int(labels->u->dtype)) {
    cg_set_error("one_hot: labels must be integers, got %s", cg_dtype_name(labels->u->dtype));
    return NULL;
  }
  if (num_classes < 0) {
    double m = cg_item(cg_max(labels, CG_ALL, 0));
    if (isnan(m)) return NULL;
    num_classes = (int64_t)m + 1;
  }
  cg_tensor *classes = cg_to(cg_arange(0, (double)num_classes, 1, CG_I32), cg_get_device(labels));
  return cg_cast(cg_eq(cg_unsqueeze(labels, -1), classes), CG_I32);
}
cg_tensor *cg_one_hot(cg_tensor *labels, int64_t num_classes) { SCOPED(one_hot_impl(labels, num_classes)); }
