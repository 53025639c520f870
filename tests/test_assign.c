/* Assignment writes into the existing buffer: holders of the buffer see the new value. */
#include <string.h>
#include "harness.h"

static void test_assign_overwrites_in_place(void) {
  float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
  cg_tensor *x = cg_from_data(a, CG_F32, CG_SHAPE(4), NULL);
  cg_tensor *y = cg_mul_s(x, 2);
  float e0[4] = {2, 4, 6, 8};
  CHECK(th_max_diff(y, e0, 4) == 0); /* y realized from the old contents */
  CHECK(cg_assign(x, cg_from_data(b, CG_F32, CG_SHAPE(4), NULL)) == 0);
  CHECK(th_max_diff(x, b, 4) == 0);
  CHECK(th_max_diff(y, e0, 4) == 0);          /* an earlier result is a snapshot */
  float e1[4] = {20, 40, 60, 80};
  CHECK(th_max_diff(cg_mul_s(x, 2), e1, 4) == 0); /* new expressions see the new value */
}

static void test_assign_reading_itself(void) {
  float a[4] = {1, 2, 3, 4};
  cg_tensor *x = cg_from_data(a, CG_F32, CG_SHAPE(4), NULL);
  CHECK(cg_assign(x, cg_flip(x, CG_AXES(0))) == 0); /* would be wrong if done in place */
  float e[4] = {4, 3, 2, 1};
  CHECK(th_max_diff(x, e, 4) == 0);
  CHECK(cg_assign(x, cg_add_s(x, 1)) == 0);
  float e2[4] = {5, 4, 3, 2};
  CHECK(th_max_diff(x, e2, 4) == 0);
}

static void test_assign_broadcast_cast_and_region(void) {
  cg_tensor *x = cg_contiguous(cg_zeros(CG_SHAPE(3, 4), CG_F32));
  CHECK(cg_assign(x, cg_scalar(7, CG_I32)) == 0);
  float all7[12];
  for (int i = 0; i < 12; i++) all7[i] = 7;
  CHECK(th_max_diff(x, all7, 12) == 0);
  int64_t region[2][2] = {{1, 3}, {0, 2}};
  float v[4] = {1, 2, 3, 4};
  CHECK(cg_assign_region(x, region, 2, cg_from_data(v, CG_F32, CG_SHAPE(2, 2), NULL)) == 0);
  float e[12] = {7, 7, 7, 7, 1, 2, 7, 7, 3, 4, 7, 7};
  CHECK(th_max_diff(x, e, 12) == 0);
  int64_t bad[2][2] = {{0, 4}, {0, 1}};
  CHECK(cg_assign_region(x, bad, 2, cg_scalar(0, CG_F32)) == -1);
  CHECK(th_max_diff(x, e, 12) == 0); /* unchanged after the error */
  CHECK(cg_assign(x, cg_ones(CG_SHAPE(2), CG_F32)) == -1); /* shape mismatch */
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"assign_overwrites_in_place", test_assign_overwrites_in_place},
    {"assign_reading_itself", test_assign_reading_itself},
    {"assign_broadcast_cast_and_region", test_assign_broadcast_cast_and_region},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
