// floor3: the c1 write latency floor of a 3-node replicated log on this machine, without any
// framework: three processes, loopback TCP with TCP_NODELAY, blocking I/O. A client sends
// 160-byte requests one at a time to the leader; the leader forwards each to both followers, then
// appends it with an O_DSYNC pwrite to its own pre-written 64 MiB file (as a preallocated WAL
// segment); each follower appends it the same way and acks 8 bytes; the leader answers the client
// once its own write is done and the first ack is in (two of three copies durable, Raft's commit).
//
//   floor3 follower PORT FILE
//   floor3 leader PORT FOLLOWER_PORT1 FOLLOWER_PORT2 FILE
//   floor3 client LEADER_PORT N        prints p50/p90/p99 of N writes (after 200 not counted)
//
// bench/c1-disk/floor3.sh runs all four. Build: gcc -O2 -o bench/bin/floor3 bench/c1-disk/floor3.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 160
#define ACK 8
#define FILE_BYTES (64 << 20)
#define WARMUP 200

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void read_full(int fd, void *buf, size_t n) {
  for (size_t o = 0; o < n;) {
    ssize_t r = read(fd, (char *)buf + o, n - o);
    if (r <= 0) exit(r == 0 ? 0 : 1); // the peer went away: the run is over
    o += r;
  }
}

static void write_full(int fd, const void *buf, size_t n) {
  for (size_t o = 0; o < n;) {
    ssize_t r = write(fd, (const char *)buf + o, n - o);
    if (r <= 0) die("write");
    o += r;
  }
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int no_delay(int s) {
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

static int accept_one(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = loopback(port);
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) die("listen");
  int c = accept(s, NULL, NULL);
  if (c < 0) die("accept");
  close(s);
  return no_delay(c);
}

static int dial(int port) {
  struct sockaddr_in a = loopback(port);
  for (int attempt = 0; attempt < 250; attempt++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) return no_delay(s);
    close(s);
    usleep(20000);
  }
  die("connect");
  return -1;
}

static int open_log(const char *path) {
  static char zeros[1 << 16];
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) die("open");
  for (int o = 0; o < FILE_BYTES; o += sizeof zeros) write_full(fd, zeros, sizeof zeros);
  if (fsync(fd) != 0) die("fsync");
  close(fd);
  fd = open(path, O_WRONLY | O_DSYNC);
  if (fd < 0) die("open");
  return fd;
}

static void append(int fd, const char *msg, off_t *pos) {
  if (pwrite(fd, msg, MSG, *pos) != MSG) die("pwrite");
  *pos = *pos + 2 * MSG > FILE_BYTES ? 0 : *pos + MSG;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  char msg[MSG];
  off_t pos = 0;
  memset(msg, 'v', sizeof msg);
  if (argc == 4 && strcmp(argv[1], "follower") == 0) {
    int log = open_log(argv[3]), leader = accept_one(atoi(argv[2]));
    for (;;) {
      read_full(leader, msg, MSG);
      append(log, msg, &pos);
      write_full(leader, msg, ACK);
    }
  }
  if (argc == 6 && strcmp(argv[1], "leader") == 0) {
    int log = open_log(argv[5]);
    int followers[2] = {dial(atoi(argv[3])), dial(atoi(argv[4]))};
    int client = accept_one(atoi(argv[2]));
    long acked[2] = {0, 0}, seq = 0;
    char ack[ACK];
    for (;;) {
      read_full(client, msg, MSG);
      seq++;
      write_full(followers[0], msg, MSG);
      write_full(followers[1], msg, MSG);
      append(log, msg, &pos); // in parallel with the followers' writes
      while (acked[0] < seq && acked[1] < seq) {
        struct pollfd p[2] = {{followers[0], POLLIN, 0}, {followers[1], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) die("poll");
        for (int i = 0; i < 2; i++)
          if (p[i].revents) {
            read_full(followers[i], ack, ACK);
            acked[i]++;
          }
      }
      write_full(client, msg, ACK);
    }
  }
  if (argc == 4 && strcmp(argv[1], "client") == 0) {
    int n = atoi(argv[3]), leader = dial(atoi(argv[2]));
    double *took = malloc(n * sizeof(double));
    for (int i = 0; i < n + WARMUP; i++) {
      double t0 = now_us();
      write_full(leader, msg, MSG);
      read_full(leader, msg, ACK);
      if (i >= WARMUP) took[i - WARMUP] = now_us() - t0;
    }
    qsort(took, n, sizeof(double), by_value);
    printf("floor3 c1: %d writes, p50 %.0f p90 %.0f p99 %.0f us\n", n, took[n / 2], took[(int)(n * .9)],
           took[(int)(n * .99)]);
    return 0;
  }
  fprintf(stderr, "usage: floor3 follower PORT FILE | leader PORT FPORT1 FPORT2 FILE | client PORT N\n");
  return 2;
}
