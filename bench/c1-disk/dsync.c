// dsync: O_DSYNC pwrite latency of one or more writer processes on one disk, each writing 200 bytes
// at a time into its own pre-written, fsynced 8 MiB file (as a preallocated WAL segment is).
//
//   dsync ROUNDS PERIOD_US OFFSET_US...     one writer process per OFFSET_US
//
// PERIOD_US > 0: writer i writes at base + round * PERIOD_US + OFFSET_US (absolute sleeps), so
//                several writers can be started staggered, as a leader's and its followers' are.
// PERIOD_US = 0: back to back, no sleep.
// PERIOD_US < 0: an idle gap of -PERIOD_US after each write (nanosleep; SPIN=1 busy-waits instead).
// Prints, per writer, p50/p90/p99 of the pwrite's duration and how late the sleeps woke (µs).
// Build: gcc -O2 -o bench/bin/dsync bench/c1-disk/dsync.c
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FILE_BYTES (8 << 20)
#define WRITE_BYTES 200
#define STRIDE 4096

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double at(const double *sorted, int n, double p) { return sorted[(int)(p * (n - 1))]; }

static void sleep_until(double t_us) {
  struct timespec ts = {(time_t)(t_us / 1e6), 0};
  ts.tv_nsec = (long)((t_us - ts.tv_sec * 1e6) * 1e3);
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int writer(int w, int rounds, double period, double offset, double base, int spin) {
  char path[64], buf[WRITE_BYTES];
  snprintf(path, sizeof path, "dsync-%d.dat", w);
  int fd = open(path, O_WRONLY | O_DSYNC);
  if (fd < 0) return 1;
  double *took = malloc(rounds * sizeof(double)), *late = malloc(rounds * sizeof(double));
  memset(buf, 'y', sizeof buf);
  off_t pos = 0;
  for (int r = 0; r < rounds; r++) {
    late[r] = 0;
    if (period > 0) {
      double target = base + r * period + offset;
      sleep_until(target);
      late[r] = now_us() - target;
    } else if (period < 0 && r > 0) {
      double target = now_us() - period;
      if (spin) while (now_us() < target) {}
      else sleep_until(target);
      late[r] = now_us() - target;
    }
    double t0 = now_us();
    if (pwrite(fd, buf, sizeof buf, pos) != sizeof buf) return 1;
    took[r] = now_us() - t0;
    pos = (pos + STRIDE + WRITE_BYTES > FILE_BYTES) ? 0 : pos + STRIDE;
  }
  qsort(took, rounds, sizeof(double), by_value);
  qsort(late, rounds, sizeof(double), by_value);
  printf("%s writer %d, offset %.0f us, period %.0f us: pwrite p50 %.1f p90 %.1f p99 %.1f | woke late p50 %.1f p99 %.1f\n",
         spin ? "spin" : "sleep", w, offset, period, at(took, rounds, .5), at(took, rounds, .9), at(took, rounds, .99),
         at(late, rounds, .5), at(late, rounds, .99));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: dsync ROUNDS PERIOD_US OFFSET_US...\n");
    return 2;
  }
  int rounds = atoi(argv[1]), writers = argc - 3, spin = getenv("SPIN") != NULL;
  double period = atof(argv[2]);
  static char block[1 << 16];
  memset(block, 'x', sizeof block);
  char path[64];
  for (int w = 0; w < writers; w++) {
    snprintf(path, sizeof path, "dsync-%d.dat", w);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    for (int o = 0; o < FILE_BYTES; o += sizeof block)
      if (write(fd, block, sizeof block) != sizeof block) return 1;
    fsync(fd);
    close(fd);
  }
  double base = now_us() + 200000;
  for (int w = 0; w < writers; w++)
    if (fork() == 0) return writer(w, rounds, period, atof(argv[3 + w]), base, spin);
  int failed = 0, status;
  for (int w = 0; w < writers; w++) failed |= wait(&status) < 0 || status != 0;
  for (int w = 0; w < writers; w++) {
    snprintf(path, sizeof path, "dsync-%d.dat", w);
    unlink(path);
  }
  return failed;
}
