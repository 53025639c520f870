#ifndef CGRAD_TOOLS_TRAIN_H
#define CGRAD_TOOLS_TRAIN_H
#include <time.h>
/* cgrad train ...: argv after the word "train" */
int cmd_train(int argc, char **argv);
static inline double clock_gettime_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
#endif
