/* Composed nn and indexing ops against values from PyTorch 1.13 / NumPy
   (printed by tests/gen_nn_ops_expected.py from the same deterministic inputs and pasted below)
   or hand computations, plus kernel counts where fusion matters. */
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"
#include "harness.h"

/* deterministic inputs, exact in float32: ((i*37 + seed*11) % 101 - 50) / 32 */
static float val(int64_t i, int seed) { return (float)((i * 37 + seed * 11) % 101 - 50) / 32.0f; }

static cg_tensor *filled(cg_shape s, int seed) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.d[i];
  float *a = malloc((n ? n : 1) * sizeof *a);
  for (int64_t i = 0; i < n; i++) a[i] = val(i, seed);
  cg_tensor *t = cg_from_data(a, CG_F32, s, NULL);
  free(a);
  return t;
}

static cg_tensor *i64s(const int64_t *v, cg_shape s) { return cg_from_data(v, CG_I64, s, NULL); }

/* every element within tol*(1+|expected|); equal infinities match */
static int close_to(cg_tensor *t, const float *e, int n, double tol) {
  if (!t) {
    fprintf(stderr, "  result is NULL: %s\n", cg_last_error());
    return 0;
  }
  if (cg_numel(t) != n) {
    fprintf(stderr, "  %lld elements, expected %d\n", (long long)cg_numel(t), n);
    return 0;
  }
  float *g = th_floats(t);
  int ok = 1;
  for (int i = 0; i < n && ok; i++) {
    if (isinf(e[i]) && g[i] == e[i]) continue;
    if (!(fabs((double)g[i] - e[i]) <= tol * (1 + fabs(e[i])))) {
      fprintf(stderr, "  element %d: got %.9g, expected %.9g\n", i, g[i], e[i]);
      ok = 0;
    }
  }
  free(g);
  return ok;
}
#define CHECK_VALUES(t, arr, tol) CHECK(close_to((t), (arr), (int)(sizeof(arr) / sizeof *(arr)), (tol)))

static int shape_is(cg_tensor *t, cg_shape s) {
  cg_shape g = cg_get_shape(t);
  if (!t || g.ndim != s.ndim) return 0;
  for (int i = 0; i < s.ndim; i++)
    if (g.d[i] != s.d[i]) return 0;
  return 1;
}

/* ---- expected values (from tests/gen_nn_ops_expected.py) ---- */
static const float conv2d_s2p1[27] = {1.10644531, 0.307617188, 0.295898438, -0.1953125,
  -2.17089844, -0.803710938, 1.96972656, -3.90527344, -3.62011719, 0.309570312, -0.416015625,
  2.80566406, 0.6171875, -6.61328125, 2.30566406, 1.92480469, 6.85546875, -0.358398438, 1.28808594,
  2.70703125, -4.54785156, 1.33105469, -4.25, -3.85644531, -4.82714844, -3.1953125, 2.70605469};
static const float conv2d_s2p1_relu[27] = {1.10644531, 0.307617188, 0.295898438, 0, 0, 0,
  1.96972656, 0, 0, 0.309570312, 0, 2.80566406, 0.6171875, 0, 2.30566406, 1.92480469, 6.85546875,
  0, 1.28808594, 2.70703125, 0, 1.33105469, 0, 0, 0, 0, 2.70605469};
static const float conv2d_g2d2p2[64] = {2.31445312, -3.48242188, 3.49023438, 1.59570312,
  -4.30273438, 5.28710938, 0.84375, -0.952148438, 3.08007812, -0.971679688, -1.0703125, 2.4296875,
  -1.58691406, 3.73144531, 2.86914062, -9.51074219, 0.778320312, 1.77148438, -5.44335938,
  -0.547851562, 1.69335938, -5.59863281, -0.557617188, 0.688476562, -4.47265625, 1.91503906,
  0.549804688, -2.77148438, 3.02832031, -4.88574219, -2.57617188, 4.36035156, 4.87890625,
  -4.30273438, -4, 1.66894531, -3.63867188, -1.18164062, 1.41503906, 0.475585938, 4.47851562,
  -2.66210938, -4.40039062, 3.30957031, -2.77929688, -3.21289062, 2.27441406, -1.55566406,
  -4.16015625, 2.32519531, 1.36132812, 0.110351562, 1.75878906, -0.336914062, 0.598632812,
  2.40527344, -9.29492188, 2.88085938, 3.52539062, -1.99707031, 2.51953125, 1.18261719,
  -1.30371094, 1.26171875};
static const float conv2d_g2d2p2s2[16] = {2.31445312, 3.49023438, 3.08007812, -1.0703125,
  0.778320312, -5.44335938, -4.47265625, 0.549804688, 4.87890625, -4, 4.47851562, -4.40039062,
  -4.16015625, 1.36132812, -9.29492188, 3.52539062};
static const float conv1d_s2p1[8] = {1.43554688, -0.744140625, 1.65527344, -1.5546875, -1.56054688,
  -3.55371094, 0.317382812, 0.532226562};
static const float conv3d[90] = {0.0166015625, -0.774414062, -0.677734375, -0.188476562,
  -0.979492188, 1.78027344, -0.393554688, -1.18457031, -1.08789062, -1.92480469, -1.21289062,
  0.879882812, -1.74023438, -0.140625, 0.965820312, -1.55566406, 4.28515625, -0.920898438,
  -0.298828125, 1.89257812, -0.946289062, 2.54882812, 0.9921875, 1.80273438, 0.0703125,
  -1.88085938, -2.05664062, 0.932617188, 1.64453125, -1.6875, 1.01855469, -5.46972656, -1.50292969,
  -0.868164062, 2.01367188, -1.31835938, -0.587890625, -0.564453125, 0.938476562, 2.36621094,
  -0.174804688, 1.328125, -1.28808594, 0.21484375, 1.71777344, -1.35058594, -0.665039062,
  -0.47265625, -1.17285156, -0.487304688, 2.36816406, -0.995117188, -0.309570312, -0.1171875,
  -1.35253906, 3.29882812, 5.18847656, 3.54296875, -2.26074219, -1.35742188, -1.5234375,
  5.49511719, 0.0859375, -2.1875, 1.18164062, -1.86035156, 5.37109375, 3.61132812, -5.74316406,
  -2.35839844, -5.89355469, 3.68945312, 5.1640625, -5.66992188, 3.51855469, -1.38183594,
  1.88867188, -1.54785156, 0.0615234375, -5.84082031, 3.34765625, -0.813476562, -1.08886719,
  2.87695312, -4.87402344, 3.62890625, -2.3671875, 4.38085938, -1.61523438, 2.35058594};
static const float convt2d_s2p1o1[36] = {-1.0703125, 1.50195312, -1.61230469, -1.65332031,
  2.08691406, -1.63867188, -1.24609375, 2.5703125, 1.31933594, -1.86621094, 0.629882812,
  0.904296875, -1.21679688, 1.20898438, -1.75878906, -1.05859375, -0.821289062, 1.50195312,
  -0.552734375, 0.899414062, -2.72167969, -0.97265625, -2.42480469, 2.6484375, -1.36328125,
  -1.15527344, 2.3359375, -0.759765625, -0.967773438, 1.09179688, -1.265625, -1.22363281,
  2.16992188, -1.35546875, -1.39746094, 0.662109375};
static const float convt2d_g2[32] = {-1.24804688, 1.51464844, -2.42480469, 1.15429688,
  -0.444335938, -1.69042969, -0.846679688, -0.1015625, 3.45214844, -3.40039062, 3.45996094,
  -0.677734375, -1.88574219, 2.10058594, 0.275390625, -0.85546875, 0.107421875, -2.89257812,
  1.52636719, 1.88867188, 0.248046875, -2.50878906, -1.22265625, 4.08300781, -0.07421875,
  -2.69433594, -2.09863281, -0.120117188, 0.66796875, 0.188476562, -0.971679688, -0.205078125};
static const float maxpool_k3s2p1[18] = {1.40625, 1.40625, 1.09375, 1.40625, 1.5, 1.1875, 0.34375,
  1.5, 0.65625, 1.28125, 1.0625, 1.0625, 1.375, 1.375, 1.15625, 0.84375, 1.46875, 1.15625};
static const float avgpool_k3s2p1[18] = {0.135416672, 0.131944448, -0.0763888881, 0.197916672,
  0.277777791, 0.055555556, -0.222222224, 0.121527776, -0.0833333358, 0.0069444445, -0.236111104,
  -0.204861104, 0.180555552, 0.0763888881, 0.038194444, 0, 0.104166664, 0.138888896};
static const float avgpool_k3s2p1_nopad[18] = {0.3046875, 0.197916672, -0.171875, 0.296875,
  0.277777791, 0.0833333358, -0.5, 0.182291672, -0.1875, 0.015625, -0.354166657, -0.4609375,
  0.270833343, 0.0763888881, 0.0572916679, 0, 0.15625, 0.3125};
static const float maxpool_k2[8] = {1.40625, 1.09375, 0.875, 1.5, 1.28125, 1.0625, 1.375, 0.53125};
static const float maxpool_k2s1d2[18] = {0.78125, 1.09375, 1.1875, 1.5, 1.40625, 1.5, 0.96875,
  0.875, 1.1875, 1.28125, 1.375, 0.4375, 0.75, 1.0625, 1.15625, 1.46875, 1.375, 1.46875};
static const float linear[8] = {0.94921875, -1.27929688, 0.04296875, -1.79101562, 1.4375,
  -1.484375, 0.130859375, -1.41015625};
static const float ce_mean_ls[1] = {2.49324751};
static const float ce_none[3] = {1.83889592, 2.9951458, 2.82445097};
static const float ce_sum[1] = {7.65849257};
static const float ce_spatial_ignore_ls[1] = {1.19049776};
static const float ce_spatial_none[4] = {0.284597188, 0, 1.75334716, 1.32313204};
static const float ce_prob_ls[1] = {1.81926632};
static const float nll_ignore3[1] = {2.33167338};
static const float sparse_ce_ls_ign2[1] = {1.12149978};
static const float bce_mean[1] = {0.802069128};
static const float bce_clamp_none[3] = {100, 100, 0.693147182};
static const float bce_logits_none[6] = {5.75317764, 10.2500353, 1.31326163, 8.25026131,
  3.87543058, 0.201413333};
static const float logsumexp_ax1[3] = {2.1382761, -INFINITY, 1.9195261};
static const float std_ax0[4] = {0.917672276, 0.917672276, 0.917672276, 1.46875};
static const float std_all_c0[1] = {0.958909869};
static const float sdpa_causal[24] = {-0.71875, 0.4375, -1.5625, -0.40625, 0.554791391,
  -1.02571774, -0.288958549, 0.867291391, -0.522059739, 0.0262846462, -0.122117296, -0.209559739,
  0.53125, -1.46875, -0.3125, 0.84375, -0.737617552, -0.364365309, 0.79188472, -0.425117552,
  0.216792166, 0.0613050833, -0.225922719, 0.529292166};
static const float gather_d1[6] = {-0.375, -1.21875, 1.40625, -0.90625, 0.5625, 0.5625};
static const float gather_d0[8] = {-0.59375, 0.78125, 0.25, -0.28125, -0.375, -0.90625, -1.4375,
  -0.0625};
static const float repeat_2_1_2[24] = {-0.03125, 1.125, -0.875, -0.03125, 1.125, -0.875, 0.28125,
  1.4375, -0.5625, 0.28125, 1.4375, -0.5625, -0.03125, 1.125, -0.875, -0.03125, 1.125, -0.875,
  0.28125, 1.4375, -0.5625, 0.28125, 1.4375, -0.5625};
static const float interp_nearest_3x7[21] = {0.3125, 0.3125, 0.3125, 1.46875, 1.46875, -0.53125,
  -0.53125, 0.3125, 0.3125, 0.3125, 1.46875, 1.46875, -0.53125, -0.53125, 0.625, 0.625, 0.625,
  -1.375, -1.375, -0.21875, -0.21875};
static const float interp_bilinear_4x5[20] = {0.3125, 0.775000036, 1.46874988, 0.268749833,
  -0.53125, 0.390625, 0.537500024, 0.757812381, 0.0312499292, -0.453125, 0.546875, 0.0624999851,
  -0.66406244, -0.443749994, -0.296875, 0.625, -0.175000042, -1.37499988, -0.681249917, -0.21875};
static const float interp_bilinear_ac_3x4[12] = {0.3125, 1.08333337, 0.802083254, -0.53125,
  0.46875, 0.187499985, -0.0937500149, -0.375, 0.625, -0.708333373, -0.989583313, -0.21875};
static const float cumsum_ax1[10] = {0.65625, -0.6875, -0.875, 0.09375, -0.9375, 0.125, 1.40625,
  0.6875, 1.125, -0.4375};
static const float cummax_ax0[10] = {0.65625, -1.34375, -0.1875, 0.96875, -1.03125, 0.65625,
  1.28125, -0.1875, 0.96875, -1.03125};
static const float cumprod_ax1[10] = {0.65625, -0.881835938, 0.165344238, 0.160177231,
  -0.165182769, 0.125, 0.16015625, -0.115112305, -0.0503616333, 0.078690052};
static const float cnn_loss[1] = {4.81489468};
static const float cnn_grad_x[50] = {-0.00404020492, 0.0138222585, -0.0063369954, -1.16923094,
  0.618730307, -0.00438767299, 0.0148999449, -0.00919925235, 1.38720036, 0.337489247,
  -0.00253842794, 0.00174898363, 0, 0, 0, -0.00818013586, 0.933714211, -0.943051398, 0.147566721,
  -0.000668677851, -0.00279579754, 1.24437654, -0.648347855, 0.442031473, -0.000907491369,
  -0.0104194758, -0.001143781, -0.0101464149, 0.818993688, -0.224992841, 0.0180195142,
  -0.0130182439, 0.0111227669, 0.534890473, -0.506233871, 0.00477115158, -0.0112031652, 0, 0, 0,
  -0.00528497389, -1.13784182, -0.0589407124, 1.03096092, 0.00102689816, -0.00721021462,
  -0.852433085, 0.235762849, 1.32542574, 0.000788084581};
static const float cnn_grad_w[54] = {0, -0.00161861954, -0.00706306752, 0.000477850263,
  0.00081355602, 0.00279254955, 0.00453957729, -0.0138695585, 0.0150307612, 0, -0.00397297554,
  0.00544444751, -0.0033449519, 0.0153655587, -0.0067868866, 0.000716775423, 0.000382240105,
  0.00780568086, 1.41457713, -0.481926411, 0.623268902, 1.7291801, -1.20398617, 0.126202002,
  1.2937088, 0.250574529, -0.0110941026, -1.0904032, 0.00924508553, 1.09109652, 1.75072014,
  -1.18614411, 0.594029665, 0.843723178, -0.20310916, 0.00855170377, -0.000501508359,
  -0.00800060481, 0.00381161226, -9.24454071e-07, -0.00825176481, 0.00859371573, 0.000898709055,
  -0.00305813155, -0.00745351426, -0.000883609988, 0.00866924319, 0.000601833512, -0.00113983371,
  -0.00541108847, 0.00462712953, 0.00014190143, -0.00702471798, 0.00884162821};
static const float cnn_grad_b[3] = {-0.0191588718, 0.0356839895, -0.00869737566};

/* ---- convolution ---- */
static void test_conv2d_stride2_pad1_bias(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 2, 5, 5), 1), *w = filled(CG_SHAPE(3, 2, 3, 3), 2);
  cg_tensor *b = filled(CG_SHAPE(3), 3);
  cg_tensor *y = cg_conv2d(x, w, b, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL, 1);
  CHECK(shape_is(y, CG_SHAPE(1, 3, 3, 3)));
  CHECK_VALUES(y, conv2d_s2p1, 1e-5);
  cg_tensor *r = cg_relu(y);
  CHECK_EQ_INT(cg_count_kernels(&r, 1), 1); /* windows, multiply, sum, bias, relu: one kernel */
  CHECK_VALUES(r, conv2d_s2p1_relu, 1e-5);
}

static void test_conv2d_groups_dilation(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 4, 4, 4), 4), *w = filled(CG_SHAPE(4, 2, 3, 3), 5);
  cg_tensor *y = cg_conv2d(x, w, NULL, NULL, (int64_t[]){2, 2}, (int64_t[]){2, 2}, 2);
  CHECK(shape_is(y, CG_SHAPE(1, 4, 4, 4)));
  CHECK_VALUES(y, conv2d_g2d2p2, 1e-5);
  y = cg_conv2d(x, w, NULL, (int64_t[]){2, 2}, (int64_t[]){2, 2}, (int64_t[]){2, 2}, 2);
  CHECK(shape_is(y, CG_SHAPE(1, 4, 2, 2)));
  CHECK_VALUES(y, conv2d_g2d2p2s2, 1e-5);
}

static void test_conv1d_and_conv3d(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 2, 7), 6), *w = filled(CG_SHAPE(2, 2, 3), 7), *b = filled(CG_SHAPE(2), 8);
  cg_tensor *y = cg_conv(x, w, b, 1, (int64_t[]){2}, (int64_t[]){1}, NULL, 1);
  CHECK(shape_is(y, CG_SHAPE(1, 2, 4)));
  CHECK_VALUES(y, conv1d_s2p1, 1e-5);
  /* 3 spatial dims: windows and weights use merged axes to stay within 8 dims */
  x = filled(CG_SHAPE(1, 2, 4, 4, 4), 9);
  w = filled(CG_SHAPE(2, 2, 2, 2, 2), 10);
  /* cg_conv pads symmetrically; this case pads depth only */
  y = cg_conv(x, w, NULL, 3, NULL, (int64_t[]){1, 0, 0}, NULL, 1);
  CHECK(shape_is(y, CG_SHAPE(1, 2, 5, 3, 3)));
  CHECK_VALUES(y, conv3d, 1e-5);
}

static void test_conv_transpose2d(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 2, 3, 3), 11), *w = filled(CG_SHAPE(2, 1, 3, 3), 12);
  cg_tensor *b = filled(CG_SHAPE(1), 13);
  cg_tensor *y = cg_conv_transpose2d(x, w, b, (int64_t[]){2, 2}, (int64_t[]){1, 1}, (int64_t[]){1, 1}, NULL, 1);
  CHECK(shape_is(y, CG_SHAPE(1, 1, 6, 6)));
  CHECK_VALUES(y, convt2d_s2p1o1, 1e-5);
  x = filled(CG_SHAPE(1, 4, 3, 3), 14);
  w = filled(CG_SHAPE(4, 1, 2, 2), 15);
  y = cg_conv_transpose2d(x, w, NULL, NULL, NULL, NULL, NULL, 2);
  CHECK(shape_is(y, CG_SHAPE(1, 2, 4, 4)));
  CHECK_VALUES(y, convt2d_g2, 1e-5);
}

/* gradients through conv2d -> relu -> max_pool2d -> cross_entropy, as torch computes them */
static void test_cnn_backward(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 2, 5, 5), 1), *w = filled(CG_SHAPE(3, 2, 3, 3), 2);
  cg_tensor *b = filled(CG_SHAPE(3), 3);
  CHECK(cg_set_requires_grad(x, 1) == 0 && cg_set_requires_grad(w, 1) == 0 && cg_set_requires_grad(b, 1) == 0);
  cg_tensor *y = cg_relu(cg_conv2d(x, w, b, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL, 1));
  cg_tensor *m = cg_max_pool2d(y, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL);
  cg_tensor *loss = cg_cross_entropy(cg_reshape(m, CG_SHAPE(1, 12)), i64s((int64_t[]){5}, CG_SHAPE(1)),
                                     CG_REDUCTION_MEAN, 0.1);
  CHECK(cg_backward(loss) == 0);
  CHECK_VALUES(loss, cnn_loss, 1e-6);
  CHECK_VALUES(cg_grad(x), cnn_grad_x, 1e-5);
  CHECK_VALUES(cg_grad(w), cnn_grad_w, 1e-5);
  CHECK_VALUES(cg_grad(b), cnn_grad_b, 1e-5);
}

static void test_conv_errors(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 2, 5, 5), 1), *w = filled(CG_SHAPE(3, 3, 3, 3), 2);
  cg_clear_error();
  CHECK(cg_conv2d(x, w, NULL, NULL, NULL, NULL, 1) == NULL); /* 2 input channels vs 3 */
  CHECK(strstr(cg_last_error(), "channels") != NULL);
  CHECK(cg_conv2d(x, filled(CG_SHAPE(3, 2, 7, 7), 2), NULL, NULL, NULL, NULL, 1) == NULL); /* kernel > input */
  CHECK(strstr(cg_last_error(), "larger") != NULL);
  CHECK(cg_conv2d(x, filled(CG_SHAPE(3, 2, 3, 3), 2), filled(CG_SHAPE(2), 0), NULL, NULL, NULL, 1) == NULL);
  CHECK(cg_conv2d(x, filled(CG_SHAPE(3, 2, 3, 3), 2), NULL, (int64_t[]){0, 1}, NULL, NULL, 1) == NULL);
  CHECK(cg_conv2d(NULL, w, NULL, NULL, NULL, NULL, 1) == NULL);
  CHECK(cg_max_pool2d(NULL, (int64_t[]){2, 2}, NULL, NULL) == NULL);
  CHECK(cg_max_pool2d(x, (int64_t[]){2, 2}, NULL, (int64_t[]){2, 2}) == NULL); /* pad > kernel/2 */
}

/* ---- pooling ---- */
static void test_pools(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 2, 5, 5), 16);
  int64_t k3[2] = {3, 3}, s2[2] = {2, 2}, p1[2] = {1, 1};
  cg_tensor *m = cg_max_pool2d(x, k3, s2, p1);
  CHECK(shape_is(m, CG_SHAPE(1, 2, 3, 3)));
  CHECK_EQ_INT(cg_count_kernels(&m, 1), 1);
  CHECK_VALUES(m, maxpool_k3s2p1, 0);
  CHECK_VALUES(cg_avg_pool2d(x, k3, s2, p1), avgpool_k3s2p1, 1e-6);
  CHECK_VALUES(cg_avg_pool(x, 2, k3, s2, p1, 0), avgpool_k3s2p1_nopad, 1e-6);
  cg_tensor *m2 = cg_max_pool2d(x, (int64_t[]){2, 2}, NULL, NULL); /* stride = kernel: a reshape */
  CHECK(shape_is(m2, CG_SHAPE(1, 2, 2, 2)));
  CHECK_VALUES(m2, maxpool_k2, 0);
  CHECK_VALUES(cg_max_pool(x, 2, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL, (int64_t[]){2, 2}), maxpool_k2s1d2, 0);
  /* integer max pool pads with the dtype's minimum */
  int32_t iv[4] = {-5, -7, -9, -3};
  cg_tensor *xi = cg_from_data(iv, CG_I32, CG_SHAPE(1, 1, 2, 2), NULL);
  cg_tensor *mi = cg_max_pool2d(xi, (int64_t[]){2, 2}, (int64_t[]){1, 1}, (int64_t[]){1, 1});
  float ei[9] = {-5, -5, -7, -5, -3, -3, -9, -3, -3};
  CHECK(shape_is(mi, CG_SHAPE(1, 1, 3, 3)) && cg_get_dtype(mi) == CG_I32);
  CHECK_VALUES(mi, ei, 0);
}

/* ---- layers ---- */
static void test_linear(void) {
  cg_tensor *x = filled(CG_SHAPE(2, 3), 17), *w = filled(CG_SHAPE(4, 3), 18), *b = filled(CG_SHAPE(4), 19);
  cg_tensor *y = cg_linear(x, w, b);
  CHECK(shape_is(y, CG_SHAPE(2, 4)));
  CHECK_EQ_INT(cg_count_kernels(&y, 1), 1);
  CHECK_VALUES(y, linear, 1e-6);
  CHECK(cg_linear(x, b, NULL) == NULL); /* weight must be 2-d */
}

/* loss = sum(batchnorm_train(x) * r) in double, written out (channel c of x (2, 3, 2) holds
   elements i with (i / 2) % 3 == c) */
static double bn_loss(const double *x, const double *w, const double *b, const double *r, double eps) {
  double loss = 0;
  for (int c = 0; c < 3; c++) {
    double mean = 0, var = 0;
    for (int i = 0; i < 12; i++) mean += (i / 2) % 3 == c ? x[i] / 4 : 0;
    for (int i = 0; i < 12; i++) var += (i / 2) % 3 == c ? (x[i] - mean) * (x[i] - mean) / 4 : 0;
    for (int i = 0; i < 12; i++)
      if ((i / 2) % 3 == c) loss += ((x[i] - mean) / sqrt(var + eps) * w[c] + b[c]) * r[i];
  }
  return loss;
}

/* the closed-form backward against central differences of the written-out loss */
static void test_batchnorm_train_gradients(void) {
  float xs[12], rs[12], wv[3] = {1.5f, -2, 0.5f}, bv[3] = {0.25f, 1, -1};
  double xd[12], rd[12], wd[3], bd[3], ex[12], ew[3], eb[3], h = 1e-4, eps = 1e-5;
  for (int i = 0; i < 12; i++) xs[i] = val(i, 40) * 3, rs[i] = val(i + 7, 40), xd[i] = xs[i], rd[i] = rs[i];
  for (int c = 0; c < 3; c++) wd[c] = wv[c], bd[c] = bv[c];
  for (int i = 0; i < 12; i++) {
    double keep = xd[i];
    xd[i] = keep + h; double up = bn_loss(xd, wd, bd, rd, eps);
    xd[i] = keep - h; ex[i] = (up - bn_loss(xd, wd, bd, rd, eps)) / (2 * h);
    xd[i] = keep;
  }
  for (int c = 0; c < 3; c++) {
    double kw = wd[c], kb = bd[c];
    wd[c] = kw + h; double up = bn_loss(xd, wd, bd, rd, eps);
    wd[c] = kw - h; ew[c] = (up - bn_loss(xd, wd, bd, rd, eps)) / (2 * h);
    wd[c] = kw;
    bd[c] = kb + h; up = bn_loss(xd, wd, bd, rd, eps);
    bd[c] = kb - h; eb[c] = (up - bn_loss(xd, wd, bd, rd, eps)) / (2 * h);
    bd[c] = kb;
  }
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(2, 3, 2), NULL);
  cg_tensor *w = cg_from_data(wv, CG_F32, CG_SHAPE(3), NULL), *b = cg_from_data(bv, CG_F32, CG_SHAPE(3), NULL);
  cg_set_requires_grad(x, 1), cg_set_requires_grad(w, 1), cg_set_requires_grad(b, 1);
  cg_tensor *mean = NULL, *var = NULL;
  cg_tensor *y = cg_batchnorm_train(x, w, b, eps, &mean, &var);
  CHECK(y && mean && var);
  CHECK(cg_backward(cg_sum(cg_mul(y, cg_from_data(rs, CG_F32, CG_SHAPE(2, 3, 2), NULL)), CG_ALL, 0)) == 0);
  float fx[12], fw[3], fb[3], em[3] = {0};
  for (int i = 0; i < 12; i++) fx[i] = (float)ex[i], em[(i / 2) % 3] += xs[i] / 4;
  for (int c = 0; c < 3; c++) fw[c] = (float)ew[c], fb[c] = (float)eb[c];
  CHECK(th_max_diff(cg_grad(x), fx, 12) < 1e-3);
  CHECK(th_max_diff(cg_grad(w), fw, 3) < 1e-3);
  CHECK(th_max_diff(cg_grad(b), fb, 3) < 1e-3);
  CHECK(th_max_diff(mean, em, 3) < 1e-5);
}

static void test_batchnorm_and_rmsnorm(void) {
  float xs[12], mean[3] = {0.5f, -1, 2}, invstd[3] = {2, 0.5f, 1}, wv[3] = {1, 2, 3}, bv[3] = {0, 1, -1};
  for (int i = 0; i < 12; i++) xs[i] = val(i, 40);
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(2, 3, 2), NULL);
  cg_tensor *y = cg_batchnorm(x, cg_from_data(wv, CG_F32, CG_SHAPE(3), NULL), cg_from_data(bv, CG_F32, CG_SHAPE(3), NULL),
                              cg_from_data(mean, CG_F32, CG_SHAPE(3), NULL), cg_from_data(invstd, CG_F32, CG_SHAPE(3), NULL));
  float e[12];
  for (int i = 0; i < 12; i++) {
    int c = (i / 2) % 3;
    e[i] = (xs[i] - mean[c]) * wv[c] * invstd[c] + bv[c];
  }
  CHECK_EQ_INT(cg_count_kernels(&y, 1), 1);
  CHECK_VALUES(y, e, 1e-6);
  cg_tensor *y2 = cg_batchnorm(x, NULL, NULL, cg_from_data(mean, CG_F32, CG_SHAPE(3), NULL),
                               cg_from_data(invstd, CG_F32, CG_SHAPE(3), NULL));
  for (int i = 0; i < 12; i++) e[i] = (xs[i] - mean[(i / 2) % 3]) * invstd[(i / 2) % 3];
  CHECK_VALUES(y2, e, 1e-6);
  /* rmsnorm over the last axis */
  cg_tensor *r = cg_rmsnorm(cg_reshape(x, CG_SHAPE(3, 4)), -1, 1e-6);
  for (int row = 0; row < 3; row++) {
    double ss = 0;
    for (int c = 0; c < 4; c++) ss += (double)xs[row * 4 + c] * xs[row * 4 + c] / 4;
    for (int c = 0; c < 4; c++) e[row * 4 + c] = (float)(xs[row * 4 + c] / sqrt(ss + 1e-6));
  }
  CHECK_VALUES(r, e, 1e-6);
}

static void test_dropout(void) {
  cg_tensor *x = cg_full(CG_SHAPE(1000), 3, CG_F32);
  cg_manual_seed(7);
  float *g = th_floats(cg_dropout(x, 0.25, 1));
  int zeros = 0, bad = 0;
  for (int i = 0; i < 1000; i++) {
    if (g[i] == 0) zeros++;
    else if (fabsf(g[i] - 4) > 1e-6f) bad++;
  }
  free(g);
  CHECK_EQ_INT(bad, 0);
  CHECK(zeros > 180 && zeros < 320); /* ~250 */
  float e3[1] = {3};
  CHECK_VALUES(cg_slice(cg_dropout(x, 0.25, 0), 0, 0, 1, 1), e3, 0); /* eval: identity */
  CHECK_EQ_INT(cg_count_kernels((cg_tensor *[]){cg_dropout(x, 0.5, 1)}, 1), 1);
  CHECK(cg_dropout(x, 1.5, 1) == NULL);
}

static void test_sdpa_causal(void) {
  cg_tensor *q = filled(CG_SHAPE(2, 3, 4), 28), *k = filled(CG_SHAPE(2, 3, 4), 29), *v = filled(CG_SHAPE(2, 3, 4), 30);
  cg_tensor *y = cg_scaled_dot_product_attention(q, k, v, NULL, 1);
  CHECK(shape_is(y, CG_SHAPE(2, 3, 4)));
  CHECK_VALUES(y, sdpa_causal, 1e-5);
  /* an explicit bool mask gives the same */
  cg_tensor *mask = cg_tril(cg_ones(CG_SHAPE(3, 3), CG_BOOL), 0);
  CHECK_VALUES(cg_scaled_dot_product_attention(q, k, v, mask, 0), sdpa_causal, 1e-5);
  CHECK(cg_scaled_dot_product_attention(q, k, v, mask, 1) == NULL);
}

/* ---- losses ---- */
static void test_cross_entropy(void) {
  cg_tensor *lg = filled(CG_SHAPE(3, 5), 20);
  cg_tensor *tg = i64s((int64_t[]){1, 0, 4}, CG_SHAPE(3));
  CHECK_VALUES(cg_cross_entropy(lg, tg, CG_REDUCTION_MEAN, 0.1), ce_mean_ls, 1e-6);
  CHECK_VALUES(cg_cross_entropy(lg, tg, CG_REDUCTION_NONE, 0), ce_none, 1e-6);
  CHECK_VALUES(cg_cross_entropy(lg, tg, CG_REDUCTION_SUM, 0), ce_sum, 1e-6);
  /* class axis 1 with a spatial dim, label -100 ignored */
  cg_tensor *lg2 = filled(CG_SHAPE(2, 3, 2), 21);
  cg_tensor *tg2 = i64s((int64_t[]){2, -100, 0, 1}, CG_SHAPE(2, 2));
  CHECK_VALUES(cg_cross_entropy(lg2, tg2, CG_REDUCTION_MEAN, 0.2), ce_spatial_ignore_ls, 1e-6);
  CHECK_VALUES(cg_cross_entropy(lg2, tg2, CG_REDUCTION_NONE, 0), ce_spatial_none, 1e-6);
  /* probability targets */
  cg_tensor *pr = cg_softmax(filled(CG_SHAPE(3, 5), 22), 1);
  CHECK_VALUES(cg_cross_entropy(lg, pr, CG_REDUCTION_MEAN, 0.1), ce_prob_ls, 1e-6);
  /* errors */
  CHECK(cg_cross_entropy(lg, i64s((int64_t[]){1, 0}, CG_SHAPE(2)), 1, 0) == NULL);
  CHECK(cg_cross_entropy(lg, tg, 3, 0) == NULL);
  CHECK(cg_cross_entropy(lg, tg, 1, 1.5) == NULL);
}

static void test_nll_and_sparse_ce(void) {
  cg_tensor *lg = filled(CG_SHAPE(3, 5), 20);
  cg_tensor *tg = i64s((int64_t[]){1, 3, 4}, CG_SHAPE(3));
  CHECK_VALUES(cg_nll_loss(cg_log_softmax(lg, 1), tg, CG_REDUCTION_MEAN, 3), nll_ignore3, 1e-6);
  cg_tensor *lg4 = filled(CG_SHAPE(2, 2, 4), 23);
  cg_tensor *tg4 = i64s((int64_t[]){3, 0, 1, 2}, CG_SHAPE(2, 2));
  CHECK_VALUES(cg_sparse_categorical_crossentropy(lg4, tg4, 2, 0.3, CG_REDUCTION_MEAN), sparse_ce_ls_ign2, 1e-6);
}

static void test_binary_crossentropy(void) {
  float yv[6] = {0, 1, 1, 0, 0.5f, 1}, p0[3] = {0, 1, 0.5f}, y0[3] = {1, 0, 1};
  cg_tensor *y = cg_from_data(yv, CG_F32, CG_SHAPE(6), NULL);
  cg_tensor *p = cg_sigmoid(filled(CG_SHAPE(6), 24));
  CHECK_VALUES(cg_binary_crossentropy(p, y, CG_REDUCTION_MEAN), bce_mean, 1e-6);
  /* log clamped at -100 as torch: p = 0 with y = 1 costs 100 */
  CHECK_VALUES(cg_binary_crossentropy(cg_from_data(p0, CG_F32, CG_SHAPE(3), NULL),
                                      cg_from_data(y0, CG_F32, CG_SHAPE(3), NULL), CG_REDUCTION_NONE),
               bce_clamp_none, 1e-6);
  cg_tensor *z = cg_mul_s(filled(CG_SHAPE(6), 25), 8);
  CHECK_VALUES(cg_binary_crossentropy_logits(z, y, CG_REDUCTION_NONE), bce_logits_none, 1e-6);
}

static void test_logsumexp_std_one_hot(void) {
  float xs[12];
  for (int i = 0; i < 12; i++) xs[i] = i >= 4 && i < 8 ? -INFINITY : val(i, 26);
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(3, 4), NULL);
  cg_tensor *l = cg_logsumexp(x, CG_AXES(1), 0);
  CHECK(shape_is(l, CG_SHAPE(3)));
  CHECK_VALUES(l, logsumexp_ax1, 1e-6); /* the all -inf row gives -inf */
  CHECK(shape_is(cg_logsumexp(x, CG_AXES(1), 1), CG_SHAPE(3, 1)));
  cg_tensor *s = filled(CG_SHAPE(3, 4), 27);
  CHECK_VALUES(cg_std(s, CG_AXES(0), 0, 1), std_ax0, 1e-6);
  CHECK_VALUES(cg_std(s, CG_ALL, 0, 0), std_all_c0, 1e-6);
  int32_t lab[4] = {2, 0, 3, 2};
  cg_tensor *oh = cg_one_hot(cg_from_data(lab, CG_I32, CG_SHAPE(2, 2), NULL), -1);
  float e[16] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0};
  CHECK(shape_is(oh, CG_SHAPE(2, 2, 4)) && cg_get_dtype(oh) == CG_I32);
  CHECK_VALUES(oh, e, 0);
  CHECK(cg_one_hot(s, 3) == NULL);
}

/* ---- indexing ---- */
static void test_gather(void) {
  cg_tensor *x = filled(CG_SHAPE(3, 4), 31);
  cg_tensor *g = cg_gather(x, 1, i64s((int64_t[]){0, 2, 3, 1, 1, 1}, CG_SHAPE(3, 2)));
  CHECK(shape_is(g, CG_SHAPE(3, 2)));
  CHECK_EQ_INT(cg_count_kernels(&g, 1), 1);
  CHECK_VALUES(g, gather_d1, 0);
  CHECK_VALUES(cg_gather(x, 0, i64s((int64_t[]){2, 0, 1, 2, 0, 1, 2, 0}, CG_SHAPE(2, 4))), gather_d0, 0);
  int32_t iv[3] = {7, -8, 9};
  cg_tensor *gi = cg_gather(cg_from_data(iv, CG_I32, CG_SHAPE(3), NULL), 0, i64s((int64_t[]){2, 1}, CG_SHAPE(2)));
  float ei[2] = {9, -8};
  CHECK(cg_get_dtype(gi) == CG_I32);
  CHECK_VALUES(gi, ei, 0);
  CHECK(cg_gather(x, 1, i64s((int64_t[]){0, 1, 2, 3, 0}, CG_SHAPE(5, 1))) == NULL); /* 5 rows > 3 */
}

static void test_tril_triu_masked_fill(void) {
  cg_tensor *x = cg_add_s(cg_arange(0, 12, 1, CG_F32), 1);
  x = cg_reshape(x, CG_SHAPE(3, 4));
  float el[12] = {1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12}, eu[12] = {0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0};
  CHECK_VALUES(cg_tril(x, 1), el, 0);
  CHECK_VALUES(cg_triu(x, 2), eu, 0);
  cg_tensor *mask = cg_gt(x, cg_scalar(6, CG_F32));
  float em[12] = {1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, -1};
  cg_tensor *m = cg_masked_fill(x, mask, -1);
  CHECK(cg_get_dtype(m) == CG_F32);
  CHECK_VALUES(m, em, 0);
  CHECK(cg_tril(cg_arange(0, 3, 1, CG_F32), 0) == NULL);
}

static void test_cumulative(void) {
  cg_tensor *x = filled(CG_SHAPE(2, 5), 34);
  CHECK_VALUES(cg_cumsum(x, 1), cumsum_ax1, 1e-6);
  CHECK_VALUES(cg_cummax(x, 0), cummax_ax0, 0);
  CHECK_VALUES(cg_cumprod(x, -1), cumprod_ax1, 1e-6);
  /* a long axis goes through the two-stage (blocks of 256) path; ints are exact */
  enum { N = 1000 };
  static int32_t iv[2 * N];
  static float e[2 * N];
  for (int r = 0; r < 2; r++) {
    int64_t acc = 0;
    for (int i = 0; i < N; i++) {
      iv[r * N + i] = (i * 7 + r * 3) % 11 - 5;
      acc += iv[r * N + i];
      e[r * N + i] = (float)acc;
    }
  }
  cg_tensor *c = cg_cumsum(cg_from_data(iv, CG_I32, CG_SHAPE(2, N), NULL), 1);
  CHECK(shape_is(c, CG_SHAPE(2, N)));
  CHECK_VALUES(c, e, 0);
  /* along axis 0 of the transposed data */
  cg_tensor *ct = cg_cumsum(cg_transpose(cg_from_data(iv, CG_I32, CG_SHAPE(2, N), NULL), 0, 1), 0);
  CHECK_VALUES(cg_transpose(ct, 0, 1), e, 0);
}

static void test_argmin_any_all(void) {
  float xs[6] = {3, -1, -1, 2, 0, 5};
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(2, 3), NULL);
  float e1[2] = {1, 1}, e0[3] = {1, 0, 0};
  CHECK_VALUES(cg_argmin(x, 1, 0), e1, 0);
  CHECK_VALUES(cg_argmin(x, 0, 0), e0, 0);
  int32_t iv[4] = {INT32_MAX, INT32_MIN, 0, INT32_MIN};
  float ei[1] = {1};
  CHECK_VALUES(cg_argmin(cg_from_data(iv, CG_I32, CG_SHAPE(4), NULL), 0, 0), ei, 0);
  uint8_t uv[3] = {200, 3, 255};
  CHECK_VALUES(cg_argmin(cg_from_data(uv, CG_U8, CG_SHAPE(3), NULL), 0, 0), ei, 0);
  float z[6] = {0, 0, 1, 0, 0, 0};
  cg_tensor *zt = cg_from_data(z, CG_F32, CG_SHAPE(2, 3), NULL);
  float ea[2] = {1, 0}, eall[3] = {0, 0, 0}, eall2[1] = {1};
  cg_tensor *a = cg_any(zt, CG_AXES(1), 0);
  CHECK(cg_get_dtype(a) == CG_BOOL);
  CHECK_VALUES(a, ea, 0);
  CHECK_VALUES(cg_all(zt, CG_AXES(0), 0), eall, 0);
  CHECK_VALUES(cg_all(cg_add_s(zt, 1), CG_ALL, 0), eall2, 0);
}

static void test_shape_helpers(void) {
  cg_tensor *x = filled(CG_SHAPE(2, 3, 4), 35);
  CHECK(shape_is(cg_flatten(x, 1, -1), CG_SHAPE(2, 12)));
  CHECK(shape_is(cg_flatten(x, 0, 1), CG_SHAPE(6, 4)));
  CHECK(shape_is(cg_unsqueeze(x, -1), CG_SHAPE(2, 3, 4, 1)));
  CHECK(shape_is(cg_unsqueeze(x, 0), CG_SHAPE(1, 2, 3, 4)));
  CHECK(shape_is(cg_squeeze(cg_unsqueeze(x, 2), 2), CG_SHAPE(2, 3, 4)));
  CHECK(shape_is(cg_squeeze(x, 1), CG_SHAPE(2, 3, 4))); /* size 3: unchanged */
  CHECK(cg_flatten(x, 2, 1) == NULL);
  CHECK(cg_unsqueeze(x, 5) == NULL);
  cg_tensor *r = cg_repeat(filled(CG_SHAPE(2, 3), 32), (int64_t[]){2, 1, 2}, 3);
  CHECK(shape_is(r, CG_SHAPE(2, 2, 6)));
  CHECK_VALUES(r, repeat_2_1_2, 0);
  cg_tensor *v = cg_arange(0, 5, 1, CG_F32);
  float er[5] = {3, 4, 0, 1, 2}, el[5] = {1, 2, 3, 4, 0};
  CHECK_VALUES(cg_roll(v, 2, 0), er, 0);
  CHECK_VALUES(cg_roll(v, -6, 0), el, 0);
  cg_tensor *parts[4];
  CHECK_EQ_INT(cg_split(v, (int64_t[]){2, 0, 3}, 3, 0, parts), 3);
  float e0[2] = {0, 1}, e2[3] = {2, 3, 4};
  CHECK_VALUES(parts[0], e0, 0);
  CHECK_EQ_INT(cg_numel(parts[1]), 0);
  CHECK_VALUES(parts[2], e2, 0);
  CHECK_EQ_INT(cg_split(v, (int64_t[]){2, 2}, 2, 0, parts), -1);
  CHECK_EQ_INT(cg_chunk(v, 3, 0, parts), 3); /* sizes 2, 2, 1 */
  float c2[1] = {4};
  CHECK_VALUES(parts[2], c2, 0);
  CHECK_EQ_INT(cg_chunk(cg_arange(0, 6, 1, CG_F32), 4, 0, parts), 3); /* sizes 2, 2, 2 */
}

static void test_interpolate(void) {
  cg_tensor *x = filled(CG_SHAPE(1, 1, 2, 3), 33);
  cg_tensor *n = cg_interpolate(x, (int64_t[]){3, 7}, 2, CG_INTERP_NEAREST, 0);
  CHECK(shape_is(n, CG_SHAPE(1, 1, 3, 7)));
  CHECK_VALUES(n, interp_nearest_3x7, 0);
  CHECK_VALUES(cg_interpolate(x, (int64_t[]){4, 5}, 2, CG_INTERP_LINEAR, 0), interp_bilinear_4x5, 1e-6);
  CHECK_VALUES(cg_interpolate(x, (int64_t[]){3, 4}, 2, CG_INTERP_LINEAR, 1), interp_bilinear_ac_3x4, 1e-6);
  CHECK(cg_interpolate(x, (int64_t[]){3, 4}, 2, CG_INTERP_NEAREST, 1) == NULL);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"conv2d_stride2_pad1_bias", test_conv2d_stride2_pad1_bias},
    {"conv2d_groups_dilation", test_conv2d_groups_dilation},
    {"conv1d_and_conv3d", test_conv1d_and_conv3d},
    {"conv_transpose2d", test_conv_transpose2d},
    {"cnn_backward", test_cnn_backward},
    {"conv_errors", test_conv_errors},
    {"pools", test_pools},
    {"linear", test_linear},
    {"batchnorm_and_rmsnorm", test_batchnorm_and_rmsnorm},
    {"batchnorm_train_gradients", test_batchnorm_train_gradients},
    {"dropout", test_dropout},
    {"sdpa_causal", test_sdpa_causal},
    {"cross_entropy", test_cross_entropy},
    {"nll_and_sparse_ce", test_nll_and_sparse_ce},
    {"binary_crossentropy", test_binary_crossentropy},
    {"logsumexp_std_one_hot", test_logsumexp_std_one_hot},
    {"gather", test_gather},
    {"tril_triu_masked_fill", test_tril_triu_masked_fill},
    {"cumulative", test_cumulative},
    {"argmin_any_all", test_argmin_any_all},
    {"shape_helpers", test_shape_helpers},
    {"interpolate", test_interpolate},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
