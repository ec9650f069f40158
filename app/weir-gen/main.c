/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir-gen: a DPDK traffic generator with loss, reordering and latency measurement.
 *
 * One lcore sends on the tx port and polls the rx port (the DUT's output) in the same loop:
 * on a 2-core machine the DUT needs the other core, and a second generator lcore would only
 * steal it. Frames are precomputed (synthesized or read from a pcap) before the EAL starts;
 * the hot loop allocates mbufs in bursts of 32, copies a precomputed frame into each and
 * writes the 18-byte measurement trailer (magic + trial, sequence number, TSC) at the frame's
 * end. No syscall and no heap allocation in the loop (a progress line once a second on a
 * terminal is the one write).
 *
 * Trailer (little-endian, the last 18 bytes of every frame sent):
 *   u32 magic   0x4757TTTT ("WG" + the trial number's low 16 bits)
 *   u64 seq     0, 1, 2, ... per trial, in send order
 *   u48 tsc     low 48 bits of the TSC when the frame was handed to the port
 * Synthesized frames carry it at the end of the UDP/TCP payload; pcap frames get it appended
 * after the captured bytes (beyond the IP total length: padding that parsers ignore).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include "gen_parse.h"

#define BURST 32
#define TRAILER_LEN 18
#define MAGIC_HI 0x47570000u
#define TSC_MASK ((1ull << 48) - 1)
#define MAX_LEN 9216 /* rx length histogram bound */
#define POOL_MBUFS 16383
#define RING_DESC 1024

/* Latency histogram, log-linear over ns: exact below 128, then 64 sub-buckets per power of
 * two (relative error < 1/64). 2^42 ns (~73 min) is the top. */
#define HIST_BUCKETS (64 * 37 + 128)

/* ---------------------------------------------------------------- options */

static struct {
	const char *write_pcap, *tx, *rx, *eal, *pcap, *payload_file, *json, *trials, *size_s, *rate_s, *proto_s;
	struct gen_rate rate;
	struct gen_size size;
	bool tcp, dry_run, hold, quiet, ignore_speed, progress_forced;
	uint64_t flows, count, loops;
	double duration, drain_s, link_wait, settle_s, catch_up_s;
	unsigned mbuf_size;
	int cpu;
} opt = {
	.flows = 1, .drain_s = 0.1, .settle_s = 0.5, .catch_up_s = 500e-6, .link_wait = 10, .mbuf_size = RTE_MBUF_DEFAULT_DATAROOM, .cpu = -1,
	.size_s = "64", .rate_s = "max", .proto_s = "udp",
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: weir-gen --tx DEVARGS [--rx DEVARGS] [traffic] [rate] [options]\n"
"Sends traffic on a DPDK port and measures what comes back through the DUT: loss, reordering,\n"
"duplicates and latency (every frame carries an 18-byte trailer: magic, sequence number, TSC).\n"
"\n"
"Ports:\n"
"  --tx DEVARGS        port to send on, as an EAL --vdev (net_memif0,role=server,socket=/tmp/a)\n"
"  --rx DEVARGS        port the DUT returns the traffic on (default: the --tx port itself)\n"
"  --eal \"ARGS\"        extra EAL arguments. weir-gen adds --no-pci (unless ARGS allow-list PCI\n"
"                      devices with -a/--allow), --in-memory (or, with fewer than 256 MiB of free\n"
"                      hugepages, --no-huge -m 512 --no-shconf and a one-line warning) and\n"
"                      --file-prefix weir-gen-PID (its runtime folder is removed at exit)\n"
"  --cpu N             pin the generator lcore to CPU N (default: the first CPU we may use)\n"
"  --link-wait S       wait up to S seconds for the ports' links (default 10; memif: the peer)\n"
"  --settle S          once the links are up, wait S seconds (receiving) before the first\n"
"                      trial: the DUT may start forwarding after its links are up (0.5)\n"
"  --mbuf-size N       mbuf data room in bytes (default 2048): frames up to N bytes (incl. the\n"
"                      trailer) can be sent; raise it for jumbo sizes or jumbo pcap records\n"
"\n"
"Traffic (synthesized Ethernet/IPv4/UDP by default):\n"
"  --size S            frame size incl. the 4-byte FCS as in RFC 2544 (a frame holds S-4 bytes):\n"
"                      64 | LO-HI (uniform over LO..HI, e.g. 64-1518) | imix (the classic simple\n"
"                      IMIX: 64, 570 and 1518 bytes in the ratio 7:4:1, 12-packet interleaved\n"
"                      cycle). Default 64; minimum 64 (UDP) or 76 (TCP)\n"
"  --flows N           distinct 5-tuples, deterministic: flow f is 198.18.H.L:(1024+f/65024) ->\n"
"                      198.19.0.1:5001 where H.L is host f%%65024+1 of 198.18.0.0/16 (default 1)\n"
"  --proto udp|tcp     L4 protocol (tcp: ACK|PSH segments with a valid checksum, updated per\n"
"                      packet for the trailer; UDP checksum is 0, i.e. none)\n"
"  --payload-file F    payload bytes from F: each non-empty line (without its newline) is one\n"
"                      payload, \\xHH escapes give any byte; flow f carries line f %% LINES at the\n"
"                      start of its L4 payload (truncated, with a warning, when the frame is too\n"
"                      small; the rest of the payload is zeros, then the trailer)\n"
"  --pcap FILE         replay the Ethernet frames of FILE (pcap or pcapng) in a loop instead,\n"
"                      preloaded before sending; the trailer is appended after each frame\n"
"  --loops N           replay FILE N times (default 1 unless --duration/--count is given)\n"
"\n"
"Rate and length:\n"
"  --rate R            max | N pps/kpps/Mpps | N bit/kbit/Mbit/Gbit (bits/s count wire bytes:\n"
"                      frame + FCS + 20 bytes of preamble and inter-frame gap; frames shorter\n"
"                      than 64 bytes count as 64). Token bucket on the TSC. Default max\n"
"  --duration S        send for S seconds (default 10 unless --count or --pcap is given)\n"
"  --count N           send N packets (k/M/G suffixes)\n"
"  --drain S           after sending, keep receiving S seconds before counting loss (0.1)\n"
"  --trials FILE|-     run several trials in one process (ports stay up): each line of FILE\n"
"                      is 'RATE SECONDS'; one JSON summary line per trial on stdout\n"
"  --catch-up US       token bucket depth in microseconds of tokens (default 500, at least 64\n"
"                      frames): after an interruption (a shared CPU) up to that much traffic\n"
"                      leaves at once; 0: 64 frames. Frames leave in batches of up to 2 us of\n"
"                      tokens (1..32)\n"
"  --ignore-link-speed don't refuse a rate above the port's reported link speed\n"
"\n"
"Output:\n"
"  --json FILE         write the JSON summary to FILE (written whole, then renamed) instead of\n"
"                      stdout\n"
"  --hold              after the summary, keep the ports open until SIGINT/SIGTERM (so a\n"
"                      harness can stop memif clients before this server)\n"
"  --progress          print the progress line even when stderr is not a terminal\n"
"  --quiet             no progress line\n"
"  --dry-run           check the options and frames, print them as JSON, don't start DPDK\n"
"  --write-pcap F      with --dry-run: write the precomputed frames (one cycle of flows and\n"
"                      sizes, stamped with trial 0, seq = index) to the pcap F, e.g. to check\n"
"                      a --payload-file or the checksums with tshark\n"
"  -h, --help\n"
"\n"
"Once a second (stderr on a terminal): tx Mpps and Gbit/s, rx Mpps, loss, p50/p99 latency.\n"
"The summary (JSON): target and achieved rates (pps, bit/s), sent, received (frames with our\n"
"trailer of this trial), lost = sent - (received - duplicates) after the drain, loss_ratio,\n"
"reordered (sequence below the highest seen), duplicates, stale (our trailer, another trial),\n"
"foreign (no trailer), tx_full (frames the port refused at least once: they are kept and\n"
"retried until accepted, never dropped; they count in sent once accepted), latency_ns (min,\n"
"mean, p50, p90, p99, p999, max; rx TSC - tx TSC of frames with our trailer), rx_lengths (frame\n"
"lengths received, without FCS) and durations. If the achieved rate is below 0.95 x the target\n"
"weir-gen says so on stderr (target_reached: false).\n"
"Exit status: 0 done, 1 runtime failure (EAL, port, link down), 2 bad input.\n");
}

static void die_input(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_input(const char *fmt, ...)
{
	va_list ap;
	fputs("weir-gen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---------------------------------------------------------------- frames */

struct tmpl {
	uint8_t *data;
	uint16_t len;      /* bytes in the mbuf, trailer included */
	uint16_t l4_off;   /* TCP: offset of the TCP header, else 0 */
	uint32_t csum_base; /* TCP: folded sum of pseudo header + segment with zero trailer/csum */
	double cost_bits;  /* wire bits */
};

static struct tmpl *tmpls;
static uint32_t n_tmpls;
static uint64_t pcap_records;
static double mean_wire_bits;

static unsigned wire_bytes(unsigned len)
{
	return (len < 60 ? 60 : len) + 4 + 20;
}

static unsigned char payload_lines[4096][256];
static unsigned payload_len[4096];
static unsigned n_payloads;

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static void load_payloads(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	unsigned lineno = 0;

	if (!f)
		die_input("--payload-file %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) && n_payloads < 4096) {
		size_t n = strcspn(line, "\r\n"), k = 0;
		lineno++;
		if (n == 0)
			continue;
		for (size_t i = 0; i < n && k < 256; i++) {
			if (line[i] == '\\' && i + 3 < n + 1 && line[i + 1] == 'x' && hexval(line[i + 2]) >= 0 &&
			    hexval(line[i + 3]) >= 0) {
				payload_lines[n_payloads][k++] = (unsigned char)(hexval(line[i + 2]) * 16 + hexval(line[i + 3]));
				i += 3;
			} else {
				payload_lines[n_payloads][k++] = (unsigned char)line[i];
			}
		}
		payload_len[n_payloads++] = (unsigned)k;
	}
	if (ferror(f))
		die_input("--payload-file %s: %s", path, strerror(errno));
	fclose(f);
	if (n_payloads == 0)
		die_input("--payload-file %s: no non-empty line", path);
}

static uint16_t fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

static uint64_t flow_of_tmpl_warned;

/* One synthesized frame of `size` bytes (incl. FCS) for flow f. */
static void build_frame(struct tmpl *t, unsigned size, uint64_t f)
{
	unsigned len = size - 4, l4_len = opt.tcp ? 20 : 8;
	uint8_t *p = calloc(1, len);
	uint32_t src = 0xc6120000u + (uint32_t)(f % 65024) + 1, dst = 0xc6130001u;
	uint16_t sport = (uint16_t)(1024 + f / 65024), dport = 5001;
	unsigned ip_len = len - 14, pay_off = 34 + l4_len, pay_room = len - pay_off - TRAILER_LEN;

	if (!p)
		die_input("out of memory for frame templates");
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
	memcpy(p, macs, 12);
	put16(p + 12, 0x0800);
	p[14] = 0x45;
	put16(p + 16, (uint16_t)ip_len);
	put16(p + 20, 0x4000); /* DF */
	p[22] = 64;
	p[23] = opt.tcp ? 6 : 17;
	put32(p + 26, src);
	put32(p + 30, dst);
	uint16_t ipc = (uint16_t)~fold(rte_raw_cksum(p + 14, 20)); /* native order, like the sum */
	memcpy(p + 24, &ipc, 2);
	put16(p + 34, sport);
	put16(p + 36, dport);
	if (n_payloads) {
		unsigned k = (unsigned)(f % n_payloads), n = payload_len[k];
		if (n > pay_room) {
			if (!flow_of_tmpl_warned++)
				fprintf(stderr, "weir-gen: warning: payload line %u (%u bytes) truncated to %u bytes in %u-byte frames\n",
					k + 1, n, pay_room, size);
			n = pay_room;
		}
		memcpy(p + pay_off, payload_lines[k], n);
	}
	t->data = p;
	t->len = (uint16_t)len;
	t->cost_bits = wire_bytes(len) * 8.0;
	if (opt.tcp) {
		uint8_t ph[12];
		put32(p + 38, (uint32_t)(f * 1000003u)); /* seq */
		put32(p + 42, 1);                        /* ack */
		p[46] = 5 << 4;
		p[47] = 0x18; /* ACK|PSH */
		put16(p + 48, 65535);
		memcpy(ph, p + 26, 8);
		ph[8] = 0;
		ph[9] = 6;
		put16(ph + 10, (uint16_t)(len - 34));
		t->l4_off = 34;
		t->csum_base = fold(rte_raw_cksum(ph, 12) + (uint32_t)rte_raw_cksum(p + 34, len - 34));
		uint16_t c = (uint16_t)~t->csum_base; /* valid with a zero trailer (--write-pcap) */
		memcpy(p + 50, &c, 2);
	} else {
		put16(p + 38, (uint16_t)(len - 34));
		/* UDP checksum 0: none (valid for IPv4) */
	}
}

static unsigned long long gcd(unsigned long long a, unsigned long long b)
{
	while (b) {
		unsigned long long t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void build_synth(void)
{
	unsigned long long n, s_cycle;
	uint64_t rng = 0x77656972ull;
	unsigned max_len = opt.size.hi - 4;

	if (opt.size.kind == SIZE_IMIX)
		s_cycle = 12;
	else if (opt.size.kind == SIZE_RANGE)
		s_cycle = 4096;
	else
		s_cycle = 1;
	/* Every flow with every size of the cycle: lcm(flows, cycle) frames (a multiple of flows
	 * for ranges, where the sizes are drawn). */
	if (opt.size.kind == SIZE_RANGE)
		n = opt.flows >= s_cycle ? opt.flows : (s_cycle + opt.flows - 1) / opt.flows * opt.flows;
	else
		n = opt.flows / gcd(opt.flows, s_cycle) * s_cycle;
	if (n * (unsigned long long)(max_len + 64) > (1ull << 30) || n > UINT32_MAX)
		die_input("--flows %" PRIu64 " with --size %s needs %llu precomputed frames (over 1 GiB): use fewer flows",
			  opt.flows, opt.size_s, n);
	if (max_len > opt.mbuf_size)
		die_input("--size %s: %u-byte frames exceed the mbuf data room (%u bytes): raise --mbuf-size",
			  opt.size_s, max_len, opt.mbuf_size);
	tmpls = calloc(n, sizeof(*tmpls));
	if (!tmpls)
		die_input("out of memory for %llu frame templates", n);
	double sum = 0;
	for (unsigned long long i = 0; i < n; i++) {
		unsigned size;
		if (opt.size.kind == SIZE_IMIX) {
			size = gen_imix_pattern[i % 12];
		} else if (opt.size.kind == SIZE_RANGE) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
			size = opt.size.lo + (unsigned)(rng % (opt.size.hi - opt.size.lo + 1));
		} else {
			size = opt.size.lo;
		}
		build_frame(&tmpls[i], size, i % opt.flows);
		sum += tmpls[i].cost_bits;
	}
	n_tmpls = (uint32_t)n;
	mean_wire_bits = sum / n;
}

static void build_pcap(void)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t cap = 1024;
	double sum = 0;
	int rc;

	FILE *f = fopen(opt.pcap, "rb");
	if (!f)
		die_input("--pcap %s: %s", opt.pcap, strerror(errno));
	fclose(f);
	p = pcap_open_offline(opt.pcap, errbuf);
	if (!p)
		die_input("--pcap %s: %s", opt.pcap, errbuf);
	if (pcap_datalink(p) != DLT_EN10MB)
		die_input("--pcap %s: link type %s is not Ethernet (weir-gen replays Ethernet frames only)",
			  opt.pcap, pcap_datalink_val_to_name(pcap_datalink(p)) ?: "?");
	tmpls = calloc(cap, sizeof(*tmpls));
	while (tmpls && (rc = pcap_next_ex(p, &h, &d)) == 1) {
		uint64_t rec = n_tmpls + 1;
		unsigned len = h->caplen + TRAILER_LEN;
		if (len > opt.mbuf_size)
			die_input("--pcap %s: record %" PRIu64 " has %u bytes, %u with the 18-byte trailer, over the mbuf "
				  "data room of %u bytes: use --mbuf-size %u (or larger)",
				  opt.pcap, rec, h->caplen, len, opt.mbuf_size, len);
		if (n_tmpls == cap) {
			cap *= 2;
			tmpls = realloc(tmpls, cap * sizeof(*tmpls));
			if (!tmpls)
				break;
		}
		struct tmpl *t = &tmpls[n_tmpls++];
		memset(t, 0, sizeof(*t));
		t->data = calloc(1, len);
		if (!t->data)
			die_input("out of memory preloading %s", opt.pcap);
		memcpy(t->data, d, h->caplen);
		t->len = (uint16_t)len;
		t->cost_bits = wire_bytes(len) * 8.0;
		sum += t->cost_bits;
	}
	if (!tmpls)
		die_input("out of memory preloading %s", opt.pcap);
	if (rc == -1)
		die_input("--pcap %s: record %u: %s", opt.pcap, n_tmpls + 1, pcap_geterr(p));
	pcap_close(p);
	if (n_tmpls == 0)
		die_input("--pcap %s: no records", opt.pcap);
	pcap_records = n_tmpls;
	mean_wire_bits = sum / n_tmpls;
}

/* ---------------------------------------------------------------- measurement */

struct stats {
	uint64_t sent, received, duplicates, reordered, stale, foreign, tx_full, alloc_fail, rx_tx_port;
	uint64_t rx_bytes;
	uint64_t lat_n, lat_min, lat_max;
	double lat_sum;
	uint64_t hist[HIST_BUCKETS];
	uint64_t lengths[MAX_LEN + 1];
	/* sequence tracking */
	int64_t highest;
	uint64_t tx_start, tx_end, end;
};

#define SEEN_BITS (1u << 22)
static uint64_t seen[SEEN_BITS / 64];
static struct stats st;
static double ns_per_cycle;
static volatile sig_atomic_t stop_flag;

static unsigned hist_index(uint64_t v)
{
	if (v < 128)
		return (unsigned)v;
	unsigned msb = 63 - (unsigned)__builtin_clzll(v), shift = msb - 6;
	unsigned idx = 64 * shift + (unsigned)(v >> shift);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned idx)
{
	if (idx < 128)
		return idx;
	unsigned shift = idx / 64 - 1;
	uint64_t m = idx - 64 * shift;
	return (m << shift) + ((1ull << shift) >> 1); /* middle of the bucket */
}

static uint64_t percentile(const struct stats *s, double q)
{
	if (!s->lat_n)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)s->lat_n), acc = 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		acc += s->hist[i];
		if (acc >= want) {
			uint64_t v = hist_value(i);
			return v < s->lat_min ? s->lat_min : v > s->lat_max ? s->lat_max : v;
		}
	}
	return s->lat_max;
}

static inline void seen_clear(uint64_t seq) { seen[(seq % SEEN_BITS) / 64] &= ~(1ull << (seq % 64)); }

static inline void track_seq(uint64_t seq)
{
	uint64_t bit = 1ull << (seq % 64), *w = &seen[(seq % SEEN_BITS) / 64];

	if ((int64_t)seq > st.highest) {
		uint64_t from = (uint64_t)(st.highest + 1);
		if (seq - from >= SEEN_BITS)
			memset(seen, 0, sizeof(seen));
		else
			for (uint64_t s = from; s < seq; s++)
				seen_clear(s);
		*w |= bit;
		st.highest = (int64_t)seq;
		return;
	}
	if ((uint64_t)st.highest - seq >= SEEN_BITS) { /* too old to tell: count as reordered */
		st.reordered++;
		return;
	}
	if (*w & bit) {
		st.duplicates++;
		return;
	}
	*w |= bit;
	st.reordered++;
}

static uint16_t trial_id;
static uint16_t tx_port, rx_port;
static struct rte_mempool *pool;

static inline void rx_one(struct rte_mbuf *m, uint64_t now)
{
	uint8_t buf[TRAILER_LEN];
	const uint8_t *t;
	uint32_t len = m->pkt_len, magic;
	uint64_t seq, tsc = 0;

	st.lengths[len > MAX_LEN ? MAX_LEN : len]++;
	st.rx_bytes += len;
	if (len < TRAILER_LEN) {
		st.foreign++;
		return;
	}
	t = rte_pktmbuf_read(m, len - TRAILER_LEN, TRAILER_LEN, buf);
	memcpy(&magic, t, 4);
	if ((magic & 0xffff0000u) != MAGIC_HI) {
		st.foreign++;
		return;
	}
	if ((magic & 0xffff) != trial_id) {
		st.stale++;
		return;
	}
	memcpy(&seq, t + 4, 8);
	memcpy(&tsc, t + 12, 6);
	st.received++;
	track_seq(seq);
	uint64_t ns = (uint64_t)((double)((now - tsc) & TSC_MASK) * ns_per_cycle);
	st.hist[hist_index(ns)]++;
	st.lat_n++;
	st.lat_sum += (double)ns;
	if (ns < st.lat_min)
		st.lat_min = ns;
	if (ns > st.lat_max)
		st.lat_max = ns;
}

static inline void rx_poll(void)
{
	struct rte_mbuf *rb[BURST];
	uint16_t n;

	for (int k = 0; k < 4; k++) {
		n = rte_eth_rx_burst(rx_port, 0, rb, BURST);
		if (!n)
			break;
		uint64_t now = rte_rdtsc();
		for (uint16_t i = 0; i < n; i++)
			rx_one(rb[i], now);
		rte_pktmbuf_free_bulk(rb, n);
		if (n < BURST)
			break;
	}
	if (rx_port != tx_port) { /* anything on the tx port's rx side: counted and freed */
		n = rte_eth_rx_burst(tx_port, 0, rb, BURST);
		st.rx_tx_port += n;
		if (n)
			rte_pktmbuf_free_bulk(rb, n);
	}
}

/* Writes the trailer (and the TCP checksum) of a frame built from template t. */
static inline void stamp_data(uint8_t *p, const struct tmpl *t, uint64_t seq, uint64_t tsc)
{
	uint8_t *tr = p + t->len - TRAILER_LEN;
	uint32_t magic = MAGIC_HI | trial_id;

	memcpy(tr, &magic, 4);
	memcpy(tr + 4, &seq, 8);
	memcpy(tr + 12, &tsc, 6);
	if (t->l4_off) {
		uint16_t s = fold(rte_raw_cksum(tr, TRAILER_LEN));
		if ((t->len - TRAILER_LEN - t->l4_off) & 1)
			s = (uint16_t)((s >> 8) | (s << 8));
		uint16_t c = (uint16_t)~fold((uint32_t)t->csum_base + s);
		memcpy(p + t->l4_off + 16, &c, 2);
	}
}

static inline void stamp(struct rte_mbuf *m, const struct tmpl *t, uint64_t seq, uint64_t tsc)
{
	stamp_data(rte_pktmbuf_mtod(m, uint8_t *), t, seq, tsc);
}

/* ---------------------------------------------------------------- the loop */

struct trial {
	struct gen_rate rate;
	double duration; /* 0: none */
	uint64_t count;  /* 0: none */
	double target_pps, target_bps;
	char rate_s[128]; /* as given */
};

static void progress(const struct stats *prev, double dt)
{
	double tx = (double)(st.sent - prev->sent) / dt, rx = (double)(st.received - prev->received) / dt;
	double bits = tx * mean_wire_bits;
	int64_t lost = (int64_t)st.sent - (int64_t)(st.received - st.duplicates);
	fprintf(stderr, "\rtx %8.3f Mpps %7.3f Gbit/s | rx %8.3f Mpps | loss %-10" PRId64 " | p50 %8.1f us p99 %8.1f us ",
		tx / 1e6, bits / 1e9, rx / 1e6, lost, percentile(&st, 0.5) / 1e3, percentile(&st, 0.99) / 1e3);
}

static void run_trial(const struct trial *tr, bool show)
{
	uint64_t hz = rte_get_tsc_hz(), now, last, next_prog, end_tsc = 0;
	struct rte_mbuf *pend[BURST];
	uint16_t n_pend = 0;
	uint32_t ti = 0;
	uint64_t seq = 0, limit = tr->count;
	double credit = 0, per_cycle = 0, depth = 0, batch_credit = 0;
	bool bits = tr->rate.kind == RATE_BPS;
	static struct stats prev;

	memset(&st, 0, offsetof(struct stats, lengths));
	memset(st.lengths, 0, sizeof(st.lengths));
	st.highest = -1;
	st.lat_min = UINT64_MAX;
	memset(seen, 0, sizeof(seen));
	prev = st;
	if (tr->rate.kind != RATE_MAX) {
		per_cycle = tr->rate.value / (double)hz;
		/*
		 * Bucket depth: 2 bursts, or --catch-up (500 us) of tokens, so that a loop
		 * interrupted for a moment (a shared CPU) catches up instead of losing rate.
		 * Frames leave in batches of up to 2 us of tokens (1..32 frames): one tx call per
		 * frame would cost more than the frame at Mpps rates.
		 */
		double unit = bits ? mean_wire_bits : 1.0, pps = tr->rate.value / unit;
		depth = RTE_MAX(2.0 * BURST * (bits ? 8.0 * (MAX_LEN + 24) : 1.0), tr->rate.value * opt.catch_up_s);
		batch_credit = RTE_MIN((double)BURST, RTE_MAX(1.0, pps * 2e-6)) * unit;
	}
	now = last = rte_rdtsc();
	st.tx_start = now;
	next_prog = now + hz;
	if (tr->duration > 0)
		end_tsc = now + (uint64_t)(tr->duration * (double)hz);
	while (!stop_flag) {
		now = rte_rdtsc();
		rx_poll();
		if ((end_tsc && now >= end_tsc) || (limit && st.sent >= limit))
			break;
		if (unlikely(show && now >= next_prog)) {
			progress(&prev, (double)(now - next_prog + hz) / (double)hz);
			prev = st;
			next_prog = now + hz;
		}
		/* how many new frames the bucket allows */
		unsigned room = BURST - n_pend, n = room;
		if (limit && n > limit - st.sent - n_pend)
			n = (unsigned)(limit - st.sent - n_pend);
		if (per_cycle > 0) {
			credit += (double)(now - last) * per_cycle;
			if (credit > depth)
				credit = depth;
			unsigned k = 0;
			if (credit < batch_credit && n == room)
				n = 0; /* not a batch yet (the last frames of a --count go singly) */
			uint32_t j = ti;
			while (k < n) {
				double c = bits ? tmpls[j].cost_bits : 1.0;
				if (credit < c)
					break;
				credit -= c;
				k++;
				if (++j == n_tmpls)
					j = 0;
			}
			n = k;
		}
		last = now;
		if (n) {
			if (rte_pktmbuf_alloc_bulk(pool, pend + n_pend, n) != 0) {
				st.alloc_fail += n;
				n = 0; /* the tokens are spent: the rate stays honest */
			}
			for (unsigned i = 0; i < n; i++) {
				struct rte_mbuf *m = pend[n_pend + i];
				const struct tmpl *t = &tmpls[ti];
				rte_memcpy(rte_pktmbuf_mtod(m, void *), t->data, t->len);
				m->data_len = m->pkt_len = t->len;
				m->hash.usr = ti;
				stamp(m, t, seq++, now);
				if (++ti == n_tmpls)
					ti = 0;
			}
		} else if (n_pend == 0) {
			continue;
		}
		uint16_t old = n_pend, offered = (uint16_t)(n_pend + n);
		if (old) /* refused earlier: stamped again with the time they are offered now */
			for (uint16_t i = 0; i < old; i++) {
				uint64_t s;
				const struct tmpl *t = &tmpls[pend[i]->hash.usr];
				memcpy(&s, rte_pktmbuf_mtod(pend[i], uint8_t *) + t->len - TRAILER_LEN + 4, 8);
				stamp(pend[i], t, s, now);
			}
		uint16_t a = rte_eth_tx_burst(tx_port, 0, pend, offered);
		st.sent += a;
		st.tx_full += a >= old ? (uint64_t)(offered - a) : n;
		n_pend = (uint16_t)(offered - a);
		if (n_pend && a)
			memmove(pend, pend + a, n_pend * sizeof(pend[0]));
	}
	st.tx_end = rte_rdtsc();
	if (n_pend)
		rte_pktmbuf_free_bulk(pend, n_pend);
	/* drain: what the DUT still holds */
	uint64_t drain_end = st.tx_end + (uint64_t)(opt.drain_s * (double)hz);
	while (rte_rdtsc() < drain_end)
		rx_poll();
	st.end = rte_rdtsc();
	if (show)
		fputc('\n', stderr);
}

/* ---------------------------------------------------------------- summary */

static uint32_t link_speed_mbps;

static void write_summary(FILE *f, const struct trial *tr, unsigned trial_no)
{
	double hz = (double)rte_get_tsc_hz();
	double tx_s = (double)(st.tx_end - st.tx_start) / hz, all_s = (double)(st.end - st.tx_start) / hz;
	double ach_pps = tx_s > 0 ? (double)st.sent / tx_s : 0, ach_bps = ach_pps * mean_wire_bits;
	int64_t lost = (int64_t)st.sent - (int64_t)(st.received - st.duplicates);
	bool reached = true;

	if (tr->rate.kind != RATE_MAX && ach_pps < 0.95 * tr->target_pps) {
		char a[64], b[64];
		reached = false;
		gen_fmt_rate(a, sizeof(a), ach_pps, "pps");
		gen_fmt_rate(b, sizeof(b), tr->target_pps, "pps");
		fprintf(stderr, "weir-gen: target rate not reached: the port/CPU sustained %s of %s (tx_full %" PRIu64 ")\n",
			a, b, st.tx_full);
	}
	fprintf(f, "{\"trial\":%u,\"rate\":\"%s\",", trial_no, tr->rate_s);
	fprintf(f, "\"target_pps\":%.1f,\"target_bps\":%.1f,\"achieved_pps\":%.1f,\"achieved_bps\":%.1f,"
		"\"target_reached\":%s,",
		tr->rate.kind == RATE_MAX ? 0.0 : tr->target_pps, tr->rate.kind == RATE_MAX ? 0.0 : tr->target_bps,
		ach_pps, ach_bps, reached ? "true" : "false");
	fprintf(f, "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRId64 ",\"loss_ratio\":%.9f,"
		"\"reordered\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"foreign\":%" PRIu64 ","
		"\"tx_full\":%" PRIu64 ",\"tx_full_policy\":\"retried\",\"alloc_fail\":%" PRIu64 ",\"rx_on_tx_port\":%" PRIu64 ",",
		st.sent, st.received, lost, st.sent ? (double)lost / (double)st.sent : 0.0, st.reordered,
		st.duplicates, st.stale, st.foreign, st.tx_full, st.alloc_fail, st.rx_tx_port);
	fprintf(f, "\"latency_ns\":{\"samples\":%" PRIu64 ",\"min\":%" PRIu64 ",\"mean\":%.1f,\"p50\":%" PRIu64
		",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "},",
		st.lat_n, st.lat_n ? st.lat_min : 0, st.lat_n ? st.lat_sum / (double)st.lat_n : 0.0,
		percentile(&st, 0.5), percentile(&st, 0.9), percentile(&st, 0.99), percentile(&st, 0.999),
		st.lat_n ? st.lat_max : 0);
	fprintf(f, "\"rx_lengths\":{");
	bool first = true;
	for (unsigned i = 0; i <= MAX_LEN; i++)
		if (st.lengths[i]) {
			fprintf(f, "%s\"%u\":%" PRIu64, first ? "" : ",", i, st.lengths[i]);
			first = false;
		}
	fprintf(f, "},\"size\":\"%s\",\"flows\":%" PRIu64 ",\"proto\":\"%s\",\"pcap\":", opt.pcap ? "pcap" : opt.size_s,
		opt.flows, opt.tcp ? "tcp" : "udp");
	if (opt.pcap)
		fprintf(f, "{\"file\":\"%s\",\"records\":%" PRIu64 "}", opt.pcap, pcap_records);
	else
		fprintf(f, "null");
	fprintf(f, ",\"link_speed_mbps\":%u,\"mean_wire_bytes\":%.2f,\"tx_duration_s\":%.6f,\"duration_s\":%.6f,\"drain_s\":%g}\n",
		link_speed_mbps, mean_wire_bits / 8, tx_s, all_s, opt.drain_s);
	fflush(f);
}

/* ---------------------------------------------------------------- EAL, ports */

static char runtime_dir[PATH_MAX];

static uint64_t hugepages_free_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t pages = 0, kb = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			pages = v;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			kb = v;
	}
	if (f)
		fclose(f);
	return pages * kb * 1024;
}

static void start_eal(const char *prog)
{
	static char store[8192], *argv[128];
	int argc = 0;
	size_t used = 0;
	char buf[256];
#define PUSH(s) do { size_t n_ = strlen(s) + 1; if (argc >= 126 || used + n_ > sizeof(store)) die_input("--eal: too many arguments"); \
		argv[argc++] = memcpy(store + used, (s), n_); used += n_; } while (0)
	const char *eal = opt.eal ? opt.eal : "";

	PUSH(prog);
	if (!strstr(eal, "--lcores") && !strstr(eal, "-l ") && !strstr(eal, "-c ")) {
		int cpu = opt.cpu;
		if (cpu < 0) {
			cpu_set_t set;
			cpu = 0;
			if (sched_getaffinity(0, sizeof(set), &set) == 0)
				for (int c = 0; c < CPU_SETSIZE; c++)
					if (CPU_ISSET(c, &set)) {
						cpu = c;
						break;
					}
		}
		snprintf(buf, sizeof(buf), "0@%d", cpu);
		PUSH("--lcores");
		PUSH(buf);
	}
	if (!strstr(eal, "-a ") && !strstr(eal, "--allow"))
		PUSH("--no-pci");
	bool own_prefix = !strstr(eal, "--file-prefix");
	if (!strstr(eal, "--no-huge") && !strstr(eal, "--in-memory") && own_prefix) {
		uint64_t need = (uint64_t)POOL_MBUFS * (opt.mbuf_size + RTE_PKTMBUF_HEADROOM + 256) + (128ull << 20);
		if (hugepages_free_bytes() >= need) {
			PUSH("--in-memory");
		} else {
			fprintf(stderr, "weir-gen: warning: fewer than %llu MiB of free hugepages, running with --no-huge -m 512 (slower)\n",
				(unsigned long long)(need >> 20));
			PUSH("--no-huge");
			PUSH("-m");
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)((need >> 20) > 512 ? (need >> 20) : 512));
			PUSH(buf);
			PUSH("--no-shconf");
		}
	}
	if (own_prefix) {
		snprintf(buf, sizeof(buf), "weir-gen-%d", (int)getpid());
		PUSH("--file-prefix");
		PUSH(buf);
	}
	if (!strstr(eal, "--log-level"))
		{ PUSH("--log-level=lib.eal:error"); PUSH("--log-level=lib.telemetry:error"); }
	PUSH("--vdev");
	PUSH(opt.tx);
	if (opt.rx && strcmp(opt.rx, opt.tx) != 0) {
		PUSH("--vdev");
		PUSH(opt.rx);
	}
	for (const char *s = eal; *s;) {
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strcspn(s, " \t");
		if (!n)
			break;
		if (n >= sizeof(buf))
			die_input("--eal: argument too long");
		snprintf(buf, sizeof(buf), "%.*s", (int)n, s);
		PUSH(buf);
		s += n;
	}
	argv[argc] = NULL;
	if (getenv("WEIR_DEBUG_EAL")) {
		for (int i = 0; i < argc; i++)
			fprintf(stderr, "%s ", argv[i]);
		fputc('\n', stderr);
	}
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "weir-gen: EAL init failed: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	if (own_prefix)
		snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
#undef PUSH
}

static void remove_runtime_dir(void)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX + 300];

	if (!runtime_dir[0] || !(d = opendir(runtime_dir)))
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", runtime_dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(runtime_dir);
}

static uint16_t port_by_devargs(const char *devargs)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t id;
	size_t n = strcspn(devargs, ",");

	snprintf(name, sizeof(name), "%.*s", (int)n, devargs);
	if (rte_eth_dev_get_port_by_name(name, &id) != 0) {
		fprintf(stderr, "weir-gen: no port '%s' after EAL init (is '%s' a valid --vdev?)\n", name, devargs);
		exit(2);
	}
	return id;
}

static void setup_port(uint16_t port, const char *what)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if ((rc = rte_eth_dev_info_get(port, &info)) != 0 ||
	    (rc = rte_eth_dev_configure(port, 1, 1, &conf)) != 0 ||
	    (rc = rte_eth_rx_queue_setup(port, 0, RING_DESC, rte_eth_dev_socket_id(port), NULL, pool)) != 0 ||
	    (rc = rte_eth_tx_queue_setup(port, 0, RING_DESC, rte_eth_dev_socket_id(port), NULL)) != 0 ||
	    (rc = rte_eth_dev_start(port)) != 0) {
		fprintf(stderr, "weir-gen: %s port %u: set-up failed: %s\n", what, port, rte_strerror(-rc));
		exit(1);
	}
	rte_eth_promiscuous_enable(port);
}

/* 0 when up; link speed in Mbit/s (0 unknown) in *speed. */
static int wait_link(uint16_t port, const char *devargs, uint32_t *speed)
{
	struct rte_eth_link link;
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc();
	bool said = false;

	for (;;) {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(port, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			break;
		if (stop_flag || rte_rdtsc() - t0 > (uint64_t)(opt.link_wait * (double)hz)) {
			fprintf(stderr, "weir-gen: port %s: link down after %g s (is the peer running?)\n", devargs,
				opt.link_wait);
			return -1;
		}
		if (!said && rte_rdtsc() - t0 > hz && !opt.quiet) {
			fprintf(stderr, "weir-gen: waiting for the link of %s\n", devargs);
			said = true;
		}
		rte_delay_us_sleep(10000);
	}
	*speed = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ---------------------------------------------------------------- main */

static void resolve_rate(struct trial *t)
{
	if (t->rate.kind == RATE_PPS) {
		t->target_pps = t->rate.value;
		t->target_bps = t->rate.value * mean_wire_bits;
	} else if (t->rate.kind == RATE_BPS) {
		t->target_bps = t->rate.value;
		t->target_pps = t->rate.value / mean_wire_bits;
	}
}

static int check_speed(const struct trial *t, uint32_t speed_mbps, const char *devargs)
{
	if (opt.ignore_speed || !speed_mbps || t->rate.kind == RATE_MAX)
		return 0;
	if (t->target_bps > (double)speed_mbps * 1e6 * 1.0001) {
		char a[64], b[64];
		gen_fmt_rate(a, sizeof(a), t->target_bps, "bit/s");
		gen_fmt_rate(b, sizeof(b), (double)speed_mbps * 1e6, "bit/s");
		fprintf(stderr, "weir-gen: --rate %s is %s on the wire, above the link speed of %s (%s); "
			"--ignore-link-speed sends anyway\n", opt.rate_s, a, devargs, b);
		return -1;
	}
	return 0;
}

static void print_dry_run(const struct trial *t)
{
	uint64_t sizes[MAX_LEN + 1] = {0};
	printf("{\"rate_kind\":\"%s\",\"rate_value\":%.3f,\"target_pps\":%.3f,\"target_bps\":%.3f,",
	       t->rate.kind == RATE_MAX ? "max" : t->rate.kind == RATE_PPS ? "pps" : "bps", t->rate.value,
	       t->target_pps, t->target_bps);
	printf("\"size\":\"%s\",\"size_lo\":%u,\"size_hi\":%u,\"flows\":%" PRIu64 ",\"proto\":\"%s\","
	       "\"duration\":%g,\"count\":%" PRIu64 ",\"templates\":%u,\"mean_wire_bytes\":%.3f,\"frame_lengths\":{",
	       opt.pcap ? "pcap" : opt.size_s, opt.size.lo, opt.size.hi, opt.flows, opt.tcp ? "tcp" : "udp",
	       t->duration, t->count, n_tmpls, mean_wire_bits / 8);
	for (uint32_t i = 0; i < n_tmpls; i++)
		sizes[tmpls[i].len]++;
	bool first = true;
	for (unsigned i = 0; i <= MAX_LEN; i++)
		if (sizes[i]) {
			printf("%s\"%u\":%" PRIu64, first ? "" : ",", i, sizes[i]);
			first = false;
		}
	printf("},\"pcap_records\":%" PRIu64 "}\n", pcap_records);
}

/* --dry-run --write-pcap F: the precomputed frames as a pcap, to inspect, stamped as the tx
 * loop stamps them (trial 0, sequence = frame index, TSC 0x123456789abc). */
static void write_frames(const char *path)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = p ? pcap_dump_open(p, path) : NULL;

	if (!d)
		die_input("--write-pcap %s: %s", path, p ? pcap_geterr(p) : "pcap_open_dead failed");
	for (uint32_t i = 0; i < n_tmpls; i++) {
		struct pcap_pkthdr h = {.ts = {.tv_sec = i / 1000000, .tv_usec = i % 1000000},
					.caplen = tmpls[i].len, .len = tmpls[i].len};
		static uint8_t buf[65536];
		memcpy(buf, tmpls[i].data, tmpls[i].len);
		stamp_data(buf, &tmpls[i], i, 0x123456789abcull);
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(p);
}

static FILE *open_json(char *tmp, size_t len)
{
	if (!opt.json)
		return stdout;
	snprintf(tmp, len, "%s.tmp.%d", opt.json, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "weir-gen: --json %s: %s\n", opt.json, strerror(errno));
		exit(1);
	}
	return f;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"tx", 1, 0, 't'}, {"rx", 1, 0, 'r'}, {"eal", 1, 0, 'e'}, {"cpu", 1, 0, 'C'},
		{"pcap", 1, 0, 'p'}, {"loops", 1, 0, 'L'}, {"size", 1, 0, 's'}, {"flows", 1, 0, 'f'},
		{"proto", 1, 0, 'P'}, {"payload-file", 1, 0, 'F'}, {"rate", 1, 0, 'R'},
		{"duration", 1, 0, 'd'}, {"count", 1, 0, 'n'}, {"drain", 1, 0, 'D'}, {"json", 1, 0, 'j'},
		{"trials", 1, 0, 'T'}, {"hold", 0, 0, 'H'}, {"quiet", 0, 0, 'q'}, {"progress", 0, 0, 'G'},
		{"dry-run", 0, 0, 'y'}, {"link-wait", 1, 0, 'W'}, {"mbuf-size", 1, 0, 'M'},
		{"ignore-link-speed", 0, 0, 'I'}, {"settle", 1, 0, 'S'}, {"write-pcap", 1, 0, 'w'}, {"catch-up", 1, 0, 'U'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0},
	};
	char err[512];
	int c;
	uint64_t v;
	bool have_duration = false, have_loops = false;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't': opt.tx = optarg; break;
		case 'r': opt.rx = optarg; break;
		case 'e': opt.eal = optarg; break;
		case 'C':
			if (gen_parse_count("--cpu", optarg, 0, CPU_SETSIZE - 1, &v, err, sizeof(err)))
				die_input("%s", err);
			opt.cpu = (int)v;
			break;
		case 'p': opt.pcap = optarg; break;
		case 'L':
			if (gen_parse_count("--loops", optarg, 1, UINT32_MAX, &opt.loops, err, sizeof(err)))
				die_input("%s", err);
			have_loops = true;
			break;
		case 's': opt.size_s = optarg; break;
		case 'f':
			if (gen_parse_count("--flows", optarg, 1, 16000000, &opt.flows, err, sizeof(err)))
				die_input("%s", err);
			break;
		case 'P': opt.proto_s = optarg; break;
		case 'F': opt.payload_file = optarg; break;
		case 'R': opt.rate_s = optarg; break;
		case 'd':
			if (gen_parse_seconds("--duration", optarg, &opt.duration, err, sizeof(err)))
				die_input("%s", err);
			have_duration = true;
			break;
		case 'n':
			if (gen_parse_count("--count", optarg, 1, UINT64_MAX / 2, &opt.count, err, sizeof(err)))
				die_input("%s", err);
			break;
		case 'D':
			if (strcmp(optarg, "0") == 0)
				opt.drain_s = 0;
			else if (gen_parse_seconds("--drain", optarg, &opt.drain_s, err, sizeof(err)))
				die_input("%s", err);
			break;
		case 'j': opt.json = optarg; break;
		case 'T': opt.trials = optarg; break;
		case 'H': opt.hold = true; break;
		case 'q': opt.quiet = true; break;
		case 'G': opt.progress_forced = true; break;
		case 'y': opt.dry_run = true; break;
		case 'W':
			if (gen_parse_seconds("--link-wait", optarg, &opt.link_wait, err, sizeof(err)))
				die_input("%s", err);
			break;
		case 'M':
			if (gen_parse_count("--mbuf-size", optarg, 256, 65535 - RTE_PKTMBUF_HEADROOM, &v, err, sizeof(err)))
				die_input("%s", err);
			opt.mbuf_size = (unsigned)v;
			break;
		case 'I': opt.ignore_speed = true; break;
		case 'w': opt.write_pcap = optarg; break;
		case 'U':
			if (gen_parse_count("--catch-up", optarg, 0, 1000000, &v, err, sizeof(err)))
				die_input("%s", err);
			opt.catch_up_s = (double)v * 1e-6;
			break;
		case 'S':
			if (strcmp(optarg, "0") == 0)
				opt.settle_s = 0;
			else if (gen_parse_seconds("--settle", optarg, &opt.settle_s, err, sizeof(err)))
				die_input("%s", err);
			break;
		case 'h': usage(stdout); return 0;
		default: fprintf(stderr, "Try 'weir-gen --help'.\n"); return 2;
		}
	}
	if (optind < argc)
		die_input("unexpected argument '%s' (try --help)", argv[optind]);
	if (!opt.tx && !opt.dry_run)
		die_input("--tx DEVARGS is required (e.g. --tx net_memif0,role=server,socket=/tmp/gen.sock)");
	if (strcmp(opt.proto_s, "udp") && strcmp(opt.proto_s, "tcp"))
		die_input("invalid --proto '%s': udp or tcp", opt.proto_s);
	opt.tcp = strcmp(opt.proto_s, "tcp") == 0;
	if (gen_parse_rate(opt.rate_s, &opt.rate, err, sizeof(err)))
		die_input("%s", err);
	if (gen_parse_size(opt.size_s, opt.tcp ? 76 : 64, &opt.size, err, sizeof(err)))
		die_input("%s", err);
	if (have_loops && !opt.pcap)
		die_input("--loops needs --pcap");
	if (opt.pcap && opt.payload_file)
		die_input("--payload-file applies to synthesized traffic, not to --pcap");
	if (opt.count && have_duration)
		die_input("give --duration or --count, not both");
	if (opt.payload_file)
		load_payloads(opt.payload_file);
	if (opt.pcap)
		build_pcap();
	else
		build_synth();

	struct trial t0 = {.rate = opt.rate, .duration = opt.duration, .count = opt.count};
	snprintf(t0.rate_s, sizeof(t0.rate_s), "%s", opt.rate_s);
	if (opt.pcap && !have_duration && !opt.count)
		t0.count = (have_loops ? opt.loops : 1) * pcap_records;
	else if (opt.pcap && have_loops)
		die_input("give --loops or --duration/--count, not both");
	if (!t0.count && !have_duration)
		t0.duration = 10;
	resolve_rate(&t0);
	if (opt.dry_run) {
		if (opt.write_pcap)
			write_frames(opt.write_pcap);
		print_dry_run(&t0);
		return 0;
	}
	FILE *trials = NULL;
	if (opt.trials) {
		trials = strcmp(opt.trials, "-") == 0 ? stdin : fopen(opt.trials, "r");
		if (!trials)
			die_input("--trials %s: %s", opt.trials, strerror(errno));
	}

	/* no SA_RESTART: a signal ends a --trials read waiting for its next line */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	start_eal(argv[0]);
	ns_per_cycle = 1e9 / (double)rte_get_tsc_hz();
	pool = rte_pktmbuf_pool_create("weir_gen", POOL_MBUFS, 256, 0,
				       (uint16_t)(opt.mbuf_size + RTE_PKTMBUF_HEADROOM), rte_socket_id());
	if (!pool) {
		fprintf(stderr, "weir-gen: mbuf pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	tx_port = port_by_devargs(opt.tx);
	rx_port = opt.rx ? port_by_devargs(opt.rx) : tx_port;
	setup_port(tx_port, "tx");
	if (rx_port != tx_port)
		setup_port(rx_port, "rx");

	int rc = 0;
	bool show = !opt.quiet && (opt.progress_forced || isatty(2));
	char tmp[PATH_MAX + 32];
	FILE *out = open_json(tmp, sizeof(tmp));
	unsigned trial_no = 0;
	char line[256];

	for (;;) {
		struct trial t = t0;
		if (trials) {
			char rs[128];
			double secs;
			if (!fgets(line, sizeof(line), trials))
				break;
			if (line[strspn(line, " \t\r\n")] == 0 || line[0] == '#')
				continue;
			if (sscanf(line, "%127s %lf", rs, &secs) != 2 || secs <= 0) {
				fprintf(stderr, "weir-gen: --trials: bad line '%.*s' (want 'RATE SECONDS')\n",
					(int)strcspn(line, "\n"), line);
				rc = 2;
				break;
			}
			if (gen_parse_rate(rs, &t.rate, err, sizeof(err))) {
				fprintf(stderr, "weir-gen: --trials: %s\n", err);
				rc = 2;
				break;
			}
			t.duration = secs;
			t.count = 0;
			snprintf(t.rate_s, sizeof(t.rate_s), "%s", rs);
			resolve_rate(&t);
		}
		uint32_t sp_tx = 0, sp_rx = 0;
		if (wait_link(tx_port, opt.tx, &sp_tx) || (rx_port != tx_port && wait_link(rx_port, opt.rx, &sp_rx))) {
			rc = 1;
			break;
		}
		link_speed_mbps = sp_tx;
		if (check_speed(&t, sp_tx, opt.tx)) {
			rc = 2;
			break;
		}
		if (!trial_no && opt.settle_s > 0) { /* the peer may still be starting its forwarding */
			uint64_t e = rte_rdtsc() + (uint64_t)(opt.settle_s * (double)rte_get_tsc_hz());
			while (rte_rdtsc() < e && !stop_flag)
				rx_poll();
		}
		trial_no++;
		trial_id = (uint16_t)trial_no;
		run_trial(&t, show);
		write_summary(out, &t, trial_no);
		if (!trials || stop_flag)
			break;
	}
	if (opt.json) {
		fclose(out);
		if (trial_no && rename(tmp, opt.json) != 0) {
			fprintf(stderr, "weir-gen: --json %s: %s\n", opt.json, strerror(errno));
			rc = 1;
		} else if (!trial_no) {
			unlink(tmp);
		}
	}
	while (opt.hold && !stop_flag)
		rte_delay_us_sleep(50000);
	rte_eth_dev_stop(tx_port);
	if (rx_port != tx_port)
		rte_eth_dev_stop(rx_port);
	rte_eth_dev_close(tx_port);
	if (rx_port != tx_port)
		rte_eth_dev_close(rx_port);
	rte_eal_cleanup();
	remove_runtime_dir();
	return rc;
}
