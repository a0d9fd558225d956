// The capture bench's fast sender: loops the frames of a pcap file out of one interface through an
// AF_PACKET socket that bypasses the qdisc, in sendmmsg batches, paced to a rate (token bucket on
// CLOCK_MONOTONIC) or as fast as it can, until it has sent `packets` or `seconds` have passed, from
// `threads` threads (one socket each, a share of rate and count each). Prints "sent <n> in <seconds>
// seconds". Built by bench/capture.ts: cc -O2 -pthread -o sender capture-sender.c
//   usage: capture-sender <interface> <file.pcap> <pps|max> <packets> <seconds> [threads]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 100000
#define MAX_BATCH 64
#define MAX_THREADS 64

static void die(const char *what) {
  perror(what);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/** The frames of a classic little-endian pcap file (the bench writes them), each in its own buffer. */
static size_t load(const char *path, struct iovec *frames) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  uint32_t global[6], rec[4];
  if (fread(global, 4, 6, f) != 6 || global[0] != 0xa1b2c3d4) {
    fprintf(stderr, "%s: not a little-endian microsecond pcap file\n", path);
    exit(1);
  }
  size_t n = 0;
  while (n < MAX_FRAMES && fread(rec, 4, 4, f) == 4) {
    if (rec[2] > 65535 || rec[2] < 14) {
      fprintf(stderr, "%s: record %zu has length %u\n", path, n, rec[2]);
      exit(1);
    }
    frames[n].iov_base = malloc(rec[2]);
    frames[n].iov_len = rec[2];
    if (!frames[n].iov_base || fread(frames[n].iov_base, 1, rec[2], f) != rec[2]) die(path);
    n++;
  }
  fclose(f);
  if (!n) {
    fprintf(stderr, "%s: no frames\n", path);
    exit(1);
  }
  return n;
}

struct job {
  const char *interface;
  const struct iovec *frames;
  size_t nframes;
  int max;
  double rate, start, end;
  uint64_t total, sent;
};

/** One sender: its own socket, its share of the rate and count. */
static void *run(void *arg) {
  struct job *j = arg;
  const unsigned ifindex = if_nametoindex(j->interface);
  if (!ifindex) die(j->interface);
  const int fd = socket(AF_PACKET, SOCK_RAW, 0); // protocol 0: send only, nothing is received
  if (fd < 0) die("socket");
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = (int)ifindex};
  if (bind(fd, (struct sockaddr *)&ll, sizeof ll)) die("bind");
  const int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one)) die("PACKET_QDISC_BYPASS");
  prctl(PR_SET_TIMERSLACK, 1UL); // wake on time when pacing

  // Small batches at low rates keep the pacing smooth: one batch every 50 µs or so.
  size_t batch = j->max ? MAX_BATCH : (size_t)(j->rate / 20000);
  if (batch < 1) batch = 1;
  if (batch > MAX_BATCH) batch = MAX_BATCH;
  struct mmsghdr msgs[MAX_BATCH];
  memset(msgs, 0, sizeof msgs);

  uint64_t sent = 0;
  size_t next = 0; // the frame sent next, looping over the file
  for (double t = j->start; sent < j->total && t < j->end; t = now()) {
    uint64_t due = j->total;
    if (!j->max) {
      due = (uint64_t)((t - j->start) * j->rate) + 1;
      if (due > j->total) due = j->total;
    }
    if (due <= sent) {
      // Sleep until a whole batch is due (or the last packets).
      const uint64_t want = sent + batch < j->total ? sent + batch : j->total;
      double at = j->start + (double)(want - 1) / j->rate;
      if (at > j->end) at = j->end;
      struct timespec ts = {.tv_sec = (time_t)at, .tv_nsec = (long)((at - (time_t)at) * 1e9)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
      continue;
    }
    const size_t n = due - sent < batch ? (size_t)(due - sent) : batch;
    for (size_t i = 0; i < n; i++) {
      msgs[i].msg_hdr.msg_iov = (struct iovec *)&j->frames[(next + i) % j->nframes];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = sendmmsg(fd, msgs, n, 0);
    if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue; // the device is busy: again
      die("sendmmsg");
    }
    sent += r;
    next = (next + r) % j->nframes;
  }
  j->sent = sent;
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s <interface> <file.pcap> <pps|max> <packets> <seconds> [threads]\n", argv[0]);
    return 2;
  }
  const int max = strcmp(argv[3], "max") == 0;
  const double rate = max ? 0 : atof(argv[3]);
  const uint64_t total = strtoull(argv[4], NULL, 10);
  const double seconds = atof(argv[5]);
  const int threads = argc == 7 ? atoi(argv[6]) : 1;
  if ((!max && !(rate > 0)) || !total || !(seconds > 0) || threads < 1 || threads > MAX_THREADS) {
    fprintf(stderr, "bad rate, packets, seconds or threads: %s %s %s %s\n", argv[3], argv[4], argv[5], argc == 7 ? argv[6] : "1");
    return 2;
  }
  static struct iovec frames[MAX_FRAMES];
  const size_t nframes = load(argv[2], frames);

  struct job jobs[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  const double start = now();
  for (int i = 0; i < threads; i++) {
    // Shares of the count that add up to it, each thread at its share of the rate.
    const uint64_t share = total * (i + 1) / threads - total * i / threads;
    jobs[i] = (struct job){argv[1], frames, nframes, max, rate * share / total, start, start + seconds, share, 0};
    if (!share) continue;
    if (pthread_create(&ids[i], NULL, run, &jobs[i])) die("pthread_create");
  }
  uint64_t sent = 0;
  for (int i = 0; i < threads; i++) {
    if (!jobs[i].total) continue;
    pthread_join(ids[i], NULL);
    sent += jobs[i].sent;
  }
  printf("sent %llu in %.6f seconds\n", (unsigned long long)sent, now() - start);
  return 0;
}
