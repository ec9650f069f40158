/* SPDX-License-Identifier: BSD-3-Clause
 *
 * bench-flow: flow-table lookups per second with 1M flows, weir_flow beside
 * a baseline written on DPDK's rte_hash (cuckoo hash, bulk lookup with its
 * own prefetching) over the same canonical keys, in one run.
 *
 *   random    every lookup picks one of the flows at random (table >> cache)
 *   repeated  lookups cycle over 256 flows (everything cached)
 *   insert    the first packet of every flow (creation)
 *   flush     ending every flow through the callback (weir only)
 *
 * Only the lookup calls are timed (TSC): each burst's descriptors are copied
 * to a burst array first, as a parsed burst sits in cache in the pipeline.
 * The baseline does less than weir (no direction, no TCP state, no timeout
 * lists), so the ratio is what those cost on top of a plain hash lookup.
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
