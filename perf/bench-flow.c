/* SPDX-License-Identifier: BSD-3-Clause
 *
 * bench-flow: flow-table lookups per second with 1M flows, weir_flow beside
 * a baseline written on DPDK's rte_hash (cuckoo hash, bulk lookup with its
 * own prefetching) over the same canonical keys, in one run.
 *
 *   random    every lookup picks one of the flows at random (table >> cache)
 *   repeated  lookups cycle over 256 flows (everything cached)
 *   insert    the first packet of every flow (creation)
 *   cow       copy-on-write snapshot of the full table (weir only): the
 *             stop-the-world snapshot beside cow_begin, steps of 2048 entries
 *             (one after every burst of random lookups), and those lookups'
 *             cost while a copy runs against the same lookups without one;
 *             the copy is checked byte for byte against the snapshot
 *   flush     ending every flow through the callback (weir only)
 *
 * Only the lookup calls are timed (TSC): each burst's descriptors are copied
 * to a burst array first, as a parsed burst sits in cache in the pipeline.
 * The baseline does less than weir (no direction, no TCP state, no timeout
 * lists), so the ratio is what those cost on top of a plain hash lookup.
 *
 * cow, 2026-11-23, 2-core AMD EPYC VM shared with other work, 1M flows,
 * hugepages (medians: preemption puts ~10 ms into any max, idle included):
 * stop-the-world snapshot 120-130 ms; cow_begin 0.8 us; 481 steps of 2048
 * per copy, 13.6 us each (p99 28-45 us), 6.5 ms in all; a burst of 64
 * random lookups 5.3 us without a copy, 8.8 us while one runs (82 -> 137 ns
 * a lookup: about half the lookups copy their flow first); with no copy
 * running the lookups cost what they did before copy-on-write. Streaming
 * stores into the shadow halved the steps (28 -> 13.6 us) and prefetching
 * the entries a hit copies cut 20 ns a lookup.
 *
 * usage: bench-flow [--flows N] [--lookups N] [--huge]
 *   --huge  hugepage memory (--in-memory); default --no-huge -m 1024
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "weir_flow.h"

#define BURST 64 /* RTE_HASH_LOOKUP_BULK_MAX */
#define REPEATED 256
#define COW_STEP 2048
#define COW_COPIES 5

struct opts {
	unsigned flows;
	unsigned long lookups;
	int huge;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: fast and good enough to scatter keys */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Distinct IPv4 TCP/UDP flows: random source, unique destination. */
static struct weir_pkt *make_flows(unsigned n)
{
	struct weir_pkt *p = calloc(n, sizeof(*p));

	for (unsigned i = 0; p && i < n; i++) {
		uint64_t r = rnd();
		uint32_t a = (uint32_t)r, b = i; /* b: unique per flow */
		p[i].ip_version = 4;
		p[i].proto = p[i].l4_proto = (r >> 32) & 1 ? 6 : 17;
		memcpy(p[i].src_ip, &a, 4);
		memcpy(p[i].dst_ip, &b, 4);
		p[i].src_port = (uint16_t)(r >> 40);
		p[i].dst_port = (uint16_t)(r >> 24);
		p[i].tcp_flags = 0x10;
		p[i].flags = WEIR_PKT_F_L4 | WEIR_PKT_F_PORTS;
		p[i].ip_bytes = 100;
		p[i].pkt_len = 114;
	}
	return p;
}

/* ---- baseline: rte_hash over the canonical key ------------------------------------ */

struct base_stats {
	uint64_t pkts[2], bytes[2], last_ts;
};

static void base_key(const struct weir_pkt *p, struct weir_flow_key *k, unsigned *dir)
{
	int c = memcmp(p->src_ip, p->dst_ip, 16);
	unsigned d = c > 0 || (c == 0 && p->src_port > p->dst_port);

	memcpy(k->lo_ip, d ? p->dst_ip : p->src_ip, 16);
	memcpy(k->hi_ip, d ? p->src_ip : p->dst_ip, 16);
	k->lo_port = d ? p->dst_port : p->src_port;
	k->hi_port = d ? p->src_port : p->dst_port;
	k->vlan = p->vlan;
	k->proto = p->l4_proto;
	k->ip_version = p->ip_version;
	*dir = d;
}

struct base {
	struct rte_hash *h;
	struct base_stats *stats;
	unsigned n;
};

static int base_init(struct base *b, unsigned flows)
{
	struct rte_hash_parameters hp = {
		.name = "bench_flow_base",
		.entries = flows + flows / 4,
		.key_len = sizeof(struct weir_flow_key),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
	};
	b->h = rte_hash_create(&hp);
	b->stats = rte_zmalloc("bench_base", (size_t)flows * sizeof(*b->stats), 64);
	b->n = 0;
	return b->h && b->stats ? 0 : -1;
}

static void base_burst(struct base *b, const struct weir_pkt *pk, unsigned n, uint64_t ts,
		       int insert)
{
	struct weir_flow_key keys[BURST];
	const void *kp[BURST];
	void *data[BURST];
	unsigned dir[BURST];

	for (unsigned i = 0; i < n; i++) {
		base_key(&pk[i], &keys[i], &dir[i]);
		kp[i] = &keys[i];
	}
	if (insert) {
		for (unsigned i = 0; i < n; i++) {
			struct base_stats *s = &b->stats[b->n++];
			rte_hash_add_key_data(b->h, kp[i], s);
			data[i] = s;
		}
	} else {
		uint64_t hits = 0;
		rte_hash_lookup_bulk_data(b->h, kp, n, &hits, data);
	}
	for (unsigned i = 0; i < n; i++) {
		struct base_stats *s = data[i];
		s->pkts[dir[i]]++;
		s->bytes[dir[i]] += pk[i].ip_bytes;
		s->last_ts = ts;
	}
}

/* ---- runs ----------------------------------------------------------------------- */

enum pattern { SEQUENTIAL, RANDOM, CYCLE };

struct run {
	struct weir_flow_table *t;
	struct base *b;
	const struct weir_pkt *flows;
	unsigned n_flows;
};

static unsigned pick(const struct run *r, enum pattern pat, unsigned long i)
{
	switch (pat) {
	case SEQUENTIAL:
		return (unsigned)i;
	case RANDOM:
		return (unsigned)(rnd() % r->n_flows);
	default:
		return (unsigned)(i % REPEATED);
	}
}

/* TSC cycles spent in the lookups of `count` packets. weir when b == NULL. */
static uint64_t timed(struct run *r, int weir, enum pattern pat, unsigned long count)
{
	struct weir_pkt burst[BURST];
	const struct weir_pkt *pp[BURST];
	uint64_t ts[BURST], cycles = 0, now = 1700000000ull * WEIR_FLOW_SEC;
	struct weir_flow *fo[BURST];
	uint8_t dir[BURST];

	for (unsigned i = 0; i < BURST; i++)
		pp[i] = &burst[i];
	for (unsigned long done = 0; done < count;) {
		unsigned n = count - done < BURST ? (unsigned)(count - done) : BURST;
		for (unsigned i = 0; i < n; i++) {
			burst[i] = r->flows[pick(r, pat, done + i)];
			ts[i] = now;
		}
		uint64_t t0 = rte_rdtsc();
		if (weir)
			weir_flow_lookup_burst(r->t, pp, ts, n, fo, dir, NULL);
		else
			base_burst(r->b, burst, n, now, pat == SEQUENTIAL);
		cycles += rte_rdtsc() - t0;
		done += n;
		now += 1000;
	}
	return cycles;
}

static double per_sec(unsigned long n, uint64_t cycles)
{
	return (double)n * (double)rte_get_tsc_hz() / (double)cycles;
}

static void report(const char *what, unsigned long n, uint64_t cw, uint64_t cb)
{
	double w = per_sec(n, cw), b = per_sec(n, cb);

	printf("%-9s weir %7.2f M/s %6.1f ns   rte_hash %7.2f M/s %6.1f ns   weir/rte_hash %.2fx\n",
	       what, w / 1e6, 1e9 / w, b / 1e6, 1e9 / b, w / b);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double us(uint64_t cycles)
{
	return (double)cycles * 1e6 / (double)rte_get_tsc_hz();
}

/* Random lookups of one burst, timed; the flows stay in the table (ts never lapses them). */
static uint64_t one_burst(struct run *r, uint64_t now)
{
	struct weir_pkt burst[BURST];
	const struct weir_pkt *pp[BURST];
	uint64_t ts[BURST];
	struct weir_flow *fo[BURST];
	uint8_t dir[BURST];

	for (unsigned i = 0; i < BURST; i++) {
		burst[i] = r->flows[pick(r, RANDOM, i)];
		pp[i] = &burst[i];
		ts[i] = now;
	}
	uint64_t t0 = rte_rdtsc();
	weir_flow_lookup_burst(r->t, pp, ts, BURST, fo, dir, NULL);
	return rte_rdtsc() - t0;
}

/* p-quantile (0..1) of n sorted values, in us. */
static double q_us(const uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n);

	return us(v[k < n ? k : n - 1]);
}

static double mean_us(const uint64_t *v, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += v[i];
	return us(sum) / (double)n;
}

/*
 * COW_COPIES copies of the whole table: begin, then a burst of random
 * lookups and a step of COW_STEP entries until complete; after each copy
 * as many bursts without one (idle), so that drift on a shared machine
 * hits both alike. Per-burst times are compared by their medians, which a
 * preempted burst does not move.
 */
static int bench_cow(struct run *r, uint32_t capacity)
{
	char err[256];
	size_t max = weir_flow_table_snapshot_max(r->t);
	size_t cap = COW_COPIES * (r->n_flows / COW_STEP + 2);
	uint8_t *ref = malloc(max), *buf = malloc(max);
	uint64_t *step = malloc(cap * sizeof(uint64_t)), *busy = malloc(cap * sizeof(uint64_t)),
		 *idle = malloc(cap * sizeof(uint64_t));
	uint64_t now = 1700000000ull * WEIR_FLOW_SEC + 10 * WEIR_FLOW_SEC, t0;
	uint64_t snap_cy = 0, begin_cy = 0, begin_max = 0, ser_cy = 0;
	size_t n = 0, len = 0;

	if (!ref || !buf || !step || !busy || !idle)
		return -1;
	t0 = rte_rdtsc();
	if (weir_flow_cow_enable(r->t, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-flow: %s\n", err);
		return -1;
	}
	uint64_t enable = rte_rdtsc() - t0;
	for (unsigned c = 0; c < COW_COPIES; c++) {
		t0 = rte_rdtsc();
		len = weir_flow_table_snapshot(r->t, ref, max);
		snap_cy += rte_rdtsc() - t0;
		t0 = rte_rdtsc();
		weir_flow_cow_begin(r->t);
		uint64_t b = rte_rdtsc() - t0;
		begin_cy += b;
		begin_max = b > begin_max ? b : begin_max;
		size_t first = n;
		for (int done = 0; !done && n < cap; n++) {
			busy[n] = one_burst(r, now);
			now += 1000;
			t0 = rte_rdtsc();
			done = weir_flow_cow_step(r->t, COW_STEP);
			step[n] = rte_rdtsc() - t0;
		}
		for (size_t i = first; i < n; i++, now += 1000)
			idle[i] = one_burst(r, now);
		t0 = rte_rdtsc();
		size_t got = weir_flow_cow_snapshot(r->t, buf, max);
		ser_cy += rte_rdtsc() - t0;
		if (got != len || memcmp(buf, ref, len)) {
			fprintf(stderr, "bench-flow: copy %u differs from the snapshot at begin\n", c);
			return -1;
		}
	}
	double steps_us = mean_us(step, n) * (double)n / COW_COPIES;
	qsort(step, n, sizeof(uint64_t), cmp_u64);
	qsort(busy, n, sizeof(uint64_t), cmp_u64);
	qsort(idle, n, sizeof(uint64_t), cmp_u64);
	printf("cow       enable %.1f ms (%.0f MiB shadow, %.1f B/flow); snapshot at a barrier %.2f ms, "
	       "%zu bytes\n",
	       us(enable) / 1e3, weir_flow_cow_memory(r->t) / 1048576.0,
	       (double)weir_flow_cow_memory(r->t) / capacity, us(snap_cy) / 1e3 / COW_COPIES, len);
	printf("cow       begin %.2f us (max %.2f); %zu steps of %d per copy, all of them %.2f ms; "
	       "serialize %.2f ms (any thread)\n",
	       us(begin_cy) / COW_COPIES, us(begin_max), n / COW_COPIES, COW_STEP, steps_us / 1e3,
	       us(ser_cy) / 1e3 / COW_COPIES);
	printf("cow       step of %d: p50 %.1f us, p90 %.1f, p99 %.1f, max %.1f, mean %.1f\n", COW_STEP,
	       q_us(step, n, .5), q_us(step, n, .9), q_us(step, n, .99), us(step[n - 1]),
	       mean_us(step, n));
	printf("cow       burst of %d random lookups, copy running / none: p50 %.2f / %.2f us "
	       "(%.0f / %.0f ns a lookup), p99 %.2f / %.2f us, max %.1f / %.1f us\n",
	       BURST, q_us(busy, n, .5), q_us(idle, n, .5), q_us(busy, n, .5) * 1e3 / BURST,
	       q_us(idle, n, .5) * 1e3 / BURST, q_us(busy, n, .99), q_us(idle, n, .99),
	       us(busy[n - 1]), us(idle[n - 1]));
	free(ref);
	free(buf);
	free(step);
	free(busy);
	free(idle);
	return 0;
}

static void count_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
		      enum weir_flow_end why)
{
	(*(unsigned long *)ctx)++;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"flows", required_argument, NULL, 'f'},
					   {"lookups", required_argument, NULL, 'l'},
					   {"huge", no_argument, NULL, 'H'},
					   {NULL, 0, NULL, 0}};
	int c;

	o->flows = 1000000;
	o->lookups = 20000000;
	o->huge = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'f')
			o->flows = (unsigned)strtoul(optarg, NULL, 0);
		else if (c == 'l')
			o->lookups = strtoul(optarg, NULL, 0);
		else if (c == 'H')
			o->huge = 1;
		else
			return -1;
	}
	return o->flows >= REPEATED && o->flows <= (1u << 30) ? 0 : -1;
}

static int eal_up(int huge)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=benchflow%d", (int)getpid());
	char *with_huge[] = {"bench-flow", "--no-pci", "--in-memory", "--no-telemetry",
			     "--log-level=lib.eal:error", NULL};
	char *no_huge[] = {"bench-flow", "--no-pci", "--no-huge", "-m", "1024", "--no-shconf",
			   "--no-telemetry", "--log-level=lib.eal:error", prefix, NULL};
	return huge ? rte_eal_init(5, with_huge) : rte_eal_init(9, no_huge);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct weir_flow_conf c;
	struct base b;
	char err[256];

	if (parse_opts(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: bench-flow [--flows N (>= %d)] [--lookups N] [--huge]\n",
			REPEATED);
		return 2;
	}
	if (eal_up(o.huge) < 0) {
		fprintf(stderr, "bench-flow: EAL init failed\n");
		return 1;
	}
	weir_flow_conf_default(&c);
	if (c.capacity < o.flows)
		c.capacity = rte_align32pow2(o.flows);
	struct run r = {.flows = make_flows(o.flows), .n_flows = o.flows, .b = &b};
	r.t = weir_flow_table_create(&c, err, sizeof(err));
	if (!r.t || !r.flows || base_init(&b, o.flows) < 0) {
		fprintf(stderr, "bench-flow: %s\n", r.t ? "out of memory" : err);
		return 1;
	}
	printf("bench-flow: %u flows (capacity %u, %.0f MiB), %lu lookups per run, burst %d, %s\n",
	       o.flows, c.capacity, weir_flow_table_memory(&c) / 1048576.0, o.lookups, BURST,
	       o.huge ? "hugepages" : "no-huge (4 KiB pages)");
	report("insert", o.flows, timed(&r, 1, SEQUENTIAL, o.flows),
	       timed(&r, 0, SEQUENTIAL, o.flows));
	report("random", o.lookups, timed(&r, 1, RANDOM, o.lookups),
	       timed(&r, 0, RANDOM, o.lookups));
	report("repeated", o.lookups, timed(&r, 1, CYCLE, o.lookups),
	       timed(&r, 0, CYCLE, o.lookups));
	printf("weir: %u flows, created %lu, hits %lu, table_full %lu, no_flow %lu\n",
	       weir_flow_count(r.t), (unsigned long)weir_flow_counter(r.t, WEIR_FLOW_CNT_CREATED),
	       (unsigned long)weir_flow_counter(r.t, WEIR_FLOW_CNT_HITS),
	       (unsigned long)weir_flow_counter(r.t, WEIR_FLOW_CNT_TABLE_FULL),
	       (unsigned long)weir_flow_counter(r.t, WEIR_FLOW_CNT_NO_FLOW));
	if (bench_cow(&r, c.capacity) < 0)
		return 1;
	unsigned long ended = 0;
	uint64_t t0 = rte_rdtsc();
	weir_flow_flush(r.t, count_end, &ended);
	uint64_t cy = rte_rdtsc() - t0;
	printf("flush     weir %7.2f M/s %6.1f ns   (%lu flows ended through the callback)\n",
	       per_sec(ended, cy) / 1e6, 1e9 / per_sec(ended, cy), ended);
	weir_flow_table_free(r.t);
	rte_hash_free(b.h);
	rte_free(b.stats);
	free((void *)r.flows);
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir); /* --file-prefix leaves an empty runtime folder */
	return 0;
}
