// probemesh pcap capture: one libpcap handle per interface, read on a native thread.
// Per packet the thread only runs each indicator's compiled BPF program over the captured header
// bytes and bumps counters (and a bounded per-source table for top talkers): no JS per packet.
// JS reads the counters under a mutex the thread holds only while it processes one batch.
#include <node_api.h>
#include <pcap/pcap.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 4096;  // packets per locked batch: bounds how long a read() can wait

struct Host {
  uint8_t key[17];  // family (4 or 6) + address
  bool used;
  uint64_t packets, bytes;
};

/** One indicator filter: its BPF program, counters, and for top talkers a bounded hash table. */
struct Slot {
  uint32_t id;
  bool all;  // empty filter: every packet
  bpf_program prog;
  uint64_t packets = 0, bytes = 0;
  std::vector<Host> hosts;  // open addressing, size a power of two; empty unless top talkers
  size_t maxHosts = 0, usedHosts = 0;
  uint64_t overflowPackets = 0, overflowBytes = 0;  // sources that found the table full
};

struct Capture {
  pcap_t* p = nullptr;
  int linktype = 0;
  int fd = -1, wake = -1;
  std::thread thread;
  std::mutex mu;  // guards everything below and the pcap handle while the thread runs
  std::atomic<bool> stop{false};
  bool closed = false;
  std::vector<Slot*> slots;
  uint32_t nextId = 1;
  uint64_t seen = 0;            // packets libpcap handed us
  uint64_t processDrops = 0;    // packets analysed only in part (top-talker table full)
  std::string error;            // why the thread ended, if it did
};

// ---- per packet ---------------------------------------------------------------------------------

/** The source address of an IPv4/IPv6 packet as family+address; false for anything else. */
bool sourceOf(int linktype, const u_char* b, uint32_t caplen, uint8_t key[17]) {
  uint32_t off = 0, proto = 0;
  switch (linktype) {
    case DLT_EN10MB:
      if (caplen < 14) return false;
      proto = (b[12] << 8) | b[13];
      off = 14;
      while ((proto == 0x8100 || proto == 0x88a8) && caplen >= off + 4) {
        proto = (b[off + 2] << 8) | b[off + 3];
        off += 4;
      }
      break;
    case DLT_LINUX_SLL:
      if (caplen < 16) return false;
      proto = (b[14] << 8) | b[15];
      off = 16;
      break;
    case DLT_LINUX_SLL2:
      if (caplen < 20) return false;
      proto = (b[0] << 8) | b[1];
      off = 20;
      break;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      if (caplen < 1) return false;
      proto = (b[0] >> 4) == 4 ? 0x0800 : (b[0] >> 4) == 6 ? 0x86dd : 0;
      break;
    default:
      return false;
  }
  memset(key, 0, 17);
  if (proto == 0x0800 && caplen >= off + 20) {
    key[0] = 4;
    memcpy(key + 1, b + off + 12, 4);
    return true;
  }
  if (proto == 0x86dd && caplen >= off + 40) {
    key[0] = 6;
    memcpy(key + 1, b + off + 8, 16);
    return true;
  }
  return false;
}

inline uint64_t hashKey(const uint8_t k[17]) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (int i = 0; i < 17; i++) h = (h ^ k[i]) * 1099511628211ull;
  return h;
}

void countHost(Capture* c, Slot* s, const pcap_pkthdr* h, const u_char* b) {
  uint8_t key[17];
  if (!sourceOf(c->linktype, b, h->caplen, key)) return;  // not IP: nobody to attribute
  size_t mask = s->hosts.size() - 1;
  for (size_t i = hashKey(key) & mask;; i = (i + 1) & mask) {
    Host& e = s->hosts[i];
    if (e.used && memcmp(e.key, key, 17) == 0) {
      e.packets++;
      e.bytes += h->len;
      return;
    }
    if (!e.used) {
      if (s->usedHosts >= s->maxHosts) break;
      memcpy(e.key, key, 17);
      e.used = true;
      e.packets = 1;
      e.bytes = h->len;
      s->usedHosts++;
      return;
    }
  }
  s->overflowPackets++;
  s->overflowBytes += h->len;
  c->processDrops++;
}

void onPacket(u_char* user, const pcap_pkthdr* h, const u_char* b) {
  Capture* c = reinterpret_cast<Capture*>(user);
  c->seen++;
  for (Slot* s : c->slots) {
    if (!s->all && !pcap_offline_filter(&s->prog, h, b)) continue;
    s->packets++;
    s->bytes += h->len;
    if (!s->hosts.empty()) countHost(c, s, h, b);
  }
}

void run(Capture* c) {
  pollfd fds[2] = {{c->fd, POLLIN, 0}, {c->wake, POLLIN, 0}};
  while (!c->stop.load(std::memory_order_relaxed)) {
    if (poll(fds, 2, 200) < 0 && errno != EINTR) {
      std::lock_guard<std::mutex> g(c->mu);
      c->error = std::string("poll: ") + strerror(errno);
      return;
    }
    if (c->stop.load(std::memory_order_relaxed)) return;
    for (;;) {  // drain what is ready, one locked batch at a time
      std::lock_guard<std::mutex> g(c->mu);
      int n = pcap_dispatch(c->p, kBatch, onPacket, reinterpret_cast<u_char*>(c));
      if (n < 0) {
        c->error = n == PCAP_ERROR ? pcap_geterr(c->p) : "capture ended";
        return;
      }
      if (n < kBatch || c->stop.load(std::memory_order_relaxed)) break;
    }
  }
}

// ---- lifetime -----------------------------------------------------------------------------------

void freeSlot(Slot* s) {
  if (!s->all) pcap_freecode(&s->prog);
  delete s;
}

void closeCapture(Capture* c) {
  if (c->closed) return;
  c->closed = true;
  c->stop = true;
  uint64_t one = 1;
  if (write(c->wake, &one, sizeof one) < 0) { /* the poll timeout ends the thread anyway */ }
  if (c->thread.joinable()) c->thread.join();
  for (Slot* s : c->slots) freeSlot(s);
  c->slots.clear();
  pcap_close(c->p);
  close(c->wake);
}

void cleanupHook(void* arg) { closeCapture(static_cast<Capture*>(arg)); }

void finalize(napi_env env, void* data, void*) {
  Capture* c = static_cast<Capture*>(data);
  if (!c->closed) {
    napi_remove_env_cleanup_hook(env, cleanupHook, c);
    closeCapture(c);
  }
  delete c;
}

// ---- N-API glue ---------------------------------------------------------------------------------

#define CALL(x)                                        \
  do {                                                 \
    if ((x) != napi_ok) return nullptr;                \
  } while (0)

napi_value fail(napi_env env, const std::string& code, const std::string& msg) {
  napi_throw_error(env, code.c_str(), msg.c_str());
  return nullptr;
}

bool args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == want;
}

std::string str(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, v, s.data(), len + 1, &len);
  return s;
}

int64_t num(napi_env env, napi_value v) {
  int64_t x = 0;
  napi_get_value_int64(env, v, &x);
  return x;
}

Capture* capture(napi_env env, napi_value v) {
  void* data = nullptr;
  napi_get_value_external(env, v, &data);
  Capture* c = static_cast<Capture*>(data);
  if (!c || c->closed) {
    napi_throw_error(env, "ECLOSED", "capture is closed");
    return nullptr;
  }
  return c;
}

napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

/** open(interface, snaplen, bufferBytes, timeoutMs, promiscuous) → capture; starts its thread. */
napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!args(env, info, 5, argv)) return fail(env, "EINVAL", "open(interface, snaplen, bufferBytes, timeoutMs, promiscuous)");
  std::string ifname = str(env, argv[0]);
  bool promisc = false;
  napi_get_value_bool(env, argv[4], &promisc);
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t* p = pcap_create(ifname.c_str(), errbuf);
  if (!p) return fail(env, "EPCAP", errbuf);
  pcap_set_snaplen(p, static_cast<int>(num(env, argv[1])));
  pcap_set_buffer_size(p, static_cast<int>(num(env, argv[2])));
  pcap_set_timeout(p, static_cast<int>(num(env, argv[3])));  // TPACKET_V3 block retire timeout
  pcap_set_promisc(p, promisc ? 1 : 0);
  int rc = pcap_activate(p);
  if (rc < 0) {
    std::string why = pcap_geterr(p);
    std::string code = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "ENODEV" : rc == PCAP_ERROR_PERM_DENIED ? "EPERM" : rc == PCAP_ERROR_IFACE_NOT_UP ? "ENETDOWN" : "EPCAP";
    if (why.empty()) why = pcap_statustostr(rc);
    pcap_close(p);
    return fail(env, code, why);
  }
  if (pcap_setnonblock(p, 1, errbuf) < 0) {
    pcap_close(p);
    return fail(env, "EPCAP", errbuf);
  }
  Capture* c = new Capture();
  c->p = p;
  c->linktype = pcap_datalink(p);
  c->fd = pcap_get_selectable_fd(p);
  c->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  c->thread = std::thread(run, c);
  napi_add_env_cleanup_hook(env, cleanupHook, c);
  napi_value out;
  CALL(napi_create_external(env, c, finalize, nullptr, &out));
  return out;
}

/** addFilter(capture, expr, maxHosts) → slot id; maxHosts > 0 keeps a per-source table. */
napi_value AddFilter(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return fail(env, "EINVAL", "addFilter(capture, expr, maxHosts)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  std::string expr = str(env, argv[1]);
  int64_t maxHosts = num(env, argv[2]);
  Slot* s = new Slot();
  s->all = expr.empty();
  if (maxHosts > 0) {
    size_t size = 1;
    while (size < static_cast<size_t>(maxHosts) * 2) size <<= 1;  // load ≤ 1/2
    s->hosts.assign(size, Host{});
    s->maxHosts = static_cast<size_t>(maxHosts);
  }
  std::lock_guard<std::mutex> g(c->mu);
  if (!s->all && pcap_compile(c->p, &s->prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0) {
    std::string why = pcap_geterr(c->p);
    delete s;
    return fail(env, "EFILTER", why);
  }
  s->id = c->nextId++;
  c->slots.push_back(s);
  return number(env, s->id);
}

/** removeFilter(capture, id). */
napi_value RemoveFilter(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return fail(env, "EINVAL", "removeFilter(capture, id)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  uint32_t id = static_cast<uint32_t>(num(env, argv[1]));
  std::lock_guard<std::mutex> g(c->mu);
  auto it = std::find_if(c->slots.begin(), c->slots.end(), [id](Slot* s) { return s->id == id; });
  if (it != c->slots.end()) {
    freeSlot(*it);
    c->slots.erase(it);
  }
  return nullptr;
}

/** setKernelFilter(capture, expr): what the kernel lets into the ring ("" = everything). */
napi_value SetKernelFilter(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return fail(env, "EINVAL", "setKernelFilter(capture, expr)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  std::string expr = str(env, argv[1]);
  std::lock_guard<std::mutex> g(c->mu);
  bpf_program prog;
  if (pcap_compile(c->p, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0) return fail(env, "EFILTER", pcap_geterr(c->p));
  int rc = pcap_setfilter(c->p, &prog);
  pcap_freecode(&prog);
  if (rc < 0) return fail(env, "EFILTER", pcap_geterr(c->p));
  return nullptr;
}

/**
 * counters(capture) → Float64Array [seen, kernelDrops, ifDrops, processDrops, then id, packets,
 * bytes per slot]; throws with the thread's error if the capture ended.
 */
napi_value Counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return fail(env, "EINVAL", "counters(capture)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  std::vector<double> out;
  {
    std::lock_guard<std::mutex> g(c->mu);
    if (!c->error.empty()) return fail(env, "ECAPTURE", c->error);
    pcap_stat st{};
    if (pcap_stats(c->p, &st) < 0) return fail(env, "ECAPTURE", pcap_geterr(c->p));
    out = {double(c->seen), double(st.ps_drop), double(st.ps_ifdrop), double(c->processDrops)};
    for (Slot* s : c->slots) {
      out.push_back(s->id);
      out.push_back(double(s->packets));
      out.push_back(double(s->bytes));
    }
  }
  napi_value ab, arr;
  void* data;
  CALL(napi_create_arraybuffer(env, out.size() * sizeof(double), &data, &ab));
  memcpy(data, out.data(), out.size() * sizeof(double));
  CALL(napi_create_typedarray(env, napi_float64_array, out.size(), ab, 0, &arr));
  return arr;
}

/**
 * takeHosts(capture, id, top, byBytes) → [[address, packets, bytes] …, ["other", packets, bytes]]:
 * the window's top sources, then the table starts afresh.
 */
napi_value TakeHosts(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!args(env, info, 4, argv)) return fail(env, "EINVAL", "takeHosts(capture, id, top, byBytes)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  uint32_t id = static_cast<uint32_t>(num(env, argv[1]));
  size_t top = static_cast<size_t>(num(env, argv[2]));
  bool byBytes = false;
  napi_get_value_bool(env, argv[3], &byBytes);
  std::vector<Host> hosts;
  uint64_t otherPackets = 0, otherBytes = 0;
  {
    std::lock_guard<std::mutex> g(c->mu);
    auto it = std::find_if(c->slots.begin(), c->slots.end(), [id](Slot* s) { return s->id == id; });
    if (it == c->slots.end() || (*it)->hosts.empty()) return fail(env, "EINVAL", "no such top-talker filter");
    Slot* s = *it;
    hosts.reserve(s->usedHosts);
    for (Host& h : s->hosts)
      if (h.used) hosts.push_back(h);
    otherPackets = s->overflowPackets;
    otherBytes = s->overflowBytes;
    std::fill(s->hosts.begin(), s->hosts.end(), Host{});
    s->usedHosts = 0;
    s->overflowPackets = s->overflowBytes = 0;
  }
  auto more = [byBytes](const Host& a, const Host& b) {
    uint64_t x = byBytes ? a.bytes : a.packets, y = byBytes ? b.bytes : b.packets;
    return x != y ? x > y : memcmp(a.key, b.key, 17) < 0;
  };
  size_t n = std::min(top, hosts.size());
  std::partial_sort(hosts.begin(), hosts.begin() + n, hosts.end(), more);
  for (size_t i = n; i < hosts.size(); i++) {  // the rest fold into "other"
    otherPackets += hosts[i].packets;
    otherBytes += hosts[i].bytes;
  }
  napi_value arr;
  CALL(napi_create_array(env, &arr));
  auto push = [&](uint32_t i, const char* name, uint64_t packets, uint64_t bytes) -> bool {
    napi_value row, s;
    if (napi_create_array_with_length(env, 3, &row) != napi_ok) return false;
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, row, 0, s);
    napi_set_element(env, row, 1, number(env, double(packets)));
    napi_set_element(env, row, 2, number(env, double(bytes)));
    return napi_set_element(env, arr, i, row) == napi_ok;
  };
  for (size_t i = 0; i < n; i++) {
    char name[INET6_ADDRSTRLEN];
    inet_ntop(hosts[i].key[0] == 4 ? AF_INET : AF_INET6, hosts[i].key + 1, name, sizeof name);
    if (!push(static_cast<uint32_t>(i), name, hosts[i].packets, hosts[i].bytes)) return nullptr;
  }
  if (otherPackets && !push(static_cast<uint32_t>(n), "other", otherPackets, otherBytes)) return nullptr;
  return arr;
}

/** close(capture): stops the thread and frees the handle. Idempotent. */
napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return fail(env, "EINVAL", "close(capture)");
  void* data = nullptr;
  napi_get_value_external(env, argv[0], &data);
  Capture* c = static_cast<Capture*>(data);
  if (c && !c->closed) {
    napi_remove_env_cleanup_hook(env, cleanupHook, c);
    closeCapture(c);
  }
  return nullptr;
}

/** cpuMs(capture) → CPU time the capture thread has used, in ms. */
napi_value CpuMs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return fail(env, "EINVAL", "cpuMs(capture)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  clockid_t cid;
  timespec ts{};
  if (!c->thread.joinable() || pthread_getcpuclockid(c->thread.native_handle(), &cid) != 0 || clock_gettime(cid, &ts) != 0) return number(env, 0);
  return number(env, ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

/** info(capture) → { linktype, snaplen }. */
napi_value Info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return fail(env, "EINVAL", "info(capture)");
  Capture* c = capture(env, argv[0]);
  if (!c) return nullptr;
  napi_value o, name;
  CALL(napi_create_object(env, &o));
  const char* dlt = pcap_datalink_val_to_name(c->linktype);
  napi_create_string_utf8(env, dlt ? dlt : "unknown", NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, o, "linktype", name);
  napi_set_named_property(env, o, "snaplen", number(env, pcap_snapshot(c->p)));
  return o;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addFilter", nullptr, AddFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"removeFilter", nullptr, RemoveFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setKernelFilter", nullptr, SetKernelFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"counters", nullptr, Counters, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"takeHosts", nullptr, TakeHosts, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cpuMs", nullptr, CpuMs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "libpcapVersion", v);
  return exports;
}
