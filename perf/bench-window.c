/* SPDX-License-Identifier: BSD-3-Clause
 *
 * bench-window: what a set of queries costs the data path per packet, without
 * the capture driver: a capture's packets are parsed once into memory, then
 * fed to weir_window_update_burst in bursts of 64 (with the watermark advance
 * weir does after each burst), pass after pass. Event time: one packet every
 * --gap ns (default 1000: a 1 Mpps link in real time, so windows close about
 * as often as they would live, and the cost measured is the per-packet one),
 * or the capture's own times (--gap 0: minutes of traffic in milliseconds,
 * every window closing: a stress test of the merger, which the worker then
 * waits on for shards). Only
 * those two calls are timed (TSC); the merger runs on a thread of its own, as
 * on weir's main lcore (on 2 CPUs the two share them as in weir). Filters, flows and labels are not run
 * (their stages are not part of lib/window): every packet passes every filter.
 *
 * usage: bench-window [--huge] [--rounds N] [--passes N] [--gap NS] CAPTURE BASE.yaml CONFIG.yaml...
 * Configs run interleaved (BASE, C1, C2, BASE, C1, C2, ...); each line gives
 * the median ns/packet over the rounds and its ratio to BASE's.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_cycles.h>
#include <rte_eal.h>

#include "weir_conf.h"
#include "weir_window.h"

#define BURST 64
#define MAX_CONFIGS 16
#define MAX_ROUNDS 64

struct capture {
	struct weir_pkt *pkts;
	uint64_t *ts;
	unsigned n;
	uint64_t span; /* last ts - first ts, + 1 s */
};

static int load_capture(const char *path, struct capture *c)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned cap = 1024;

	if (!pc) {
		fprintf(stderr, "bench-window: %s\n", err);
		return -1;
	}
	c->pkts = malloc(cap * sizeof(*c->pkts));
	c->ts = malloc(cap * sizeof(*c->ts));
	c->n = 0;
	while (c->pkts && c->ts && pcap_next_ex(pc, &h, &d) == 1) {
		if (c->n == cap) {
			cap *= 2;
			c->pkts = realloc(c->pkts, cap * sizeof(*c->pkts));
			c->ts = realloc(c->ts, cap * sizeof(*c->ts));
			if (!c->pkts || !c->ts)
				break;
		}
		weir_pkt_parse(d, h->caplen, h->caplen, (enum weir_linktype)pcap_datalink(pc),
			       WEIR_PKT_OUTER, &c->pkts[c->n]);
		c->ts[c->n++] = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
	}
	pcap_close(pc);
	if (!c->pkts || !c->ts || !c->n) {
		fprintf(stderr, "bench-window: %s: no packets read\n", path);
		return -1;
	}
	c->span = c->ts[c->n - 1] - c->ts[0] + 1000000000u;
	return 0;
}

static void drop_result(void *ctx, const struct weir_window_result *r)
{
	(void)r;
	++*(unsigned long *)ctx;
}

/* The merger, on its own thread as on weir's main lcore: workers wait on it for shards. */
struct merger {
	struct weir_window_set *s;
	unsigned long results;
	int stop;
};

static void *merger_main(void *arg)
{
	struct merger *m = arg;

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE))
		if (weir_window_merge_poll(m->s, drop_result, &m->results) == 0)
			usleep(100);
	return NULL;
}

/* One run: `passes` passes over the capture; returns TSC cycles per packet. */
static double run(const struct weir_config *cfg, const struct capture *c, unsigned passes,
		  uint64_t gap)
{
	char err[512];
	struct weir_window_set *s = weir_window_set_create(cfg, 1, err, sizeof(err));
	const struct weir_pkt *pk[BURST];
	uint64_t ts[BURST], cycles = 0, delay = 2000000000u;
	pthread_t th;

	if (!s) {
		fprintf(stderr, "bench-window: %s\n", err);
		exit(1);
	}
	struct merger mg = {.s = s};
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	if (pthread_create(&th, NULL, merger_main, &mg) != 0) {
		fprintf(stderr, "bench-window: cannot start the merger thread\n");
		exit(1);
	}
	for (unsigned p = 0; p < passes; p++) {
		for (unsigned i = 0; i < c->n; i += BURST) {
			unsigned n = c->n - i < BURST ? c->n - i : BURST;
			for (unsigned k = 0; k < n; k++) {
				pk[k] = &c->pkts[i + k];
				ts[k] = gap ? c->ts[0] + ((uint64_t)p * c->n + i + k) * gap
					    : c->ts[i + k] + (uint64_t)p * c->span;
			}
			struct weir_burst_meta m = {.ts = ts};
			uint64_t t0 = rte_rdtsc();
			weir_window_update_burst(w, pk, n, &m);
			uint64_t mx = weir_window_max_ts(w);
			if (mx > delay)
				weir_window_advance(w, mx - delay);
			cycles += rte_rdtsc() - t0;
		}
	}
	weir_window_advance(w, UINT64_MAX);
	__atomic_store_n(&mg.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	weir_window_merge_poll(s, drop_result, &mg.results);
	weir_window_set_free(s);
	return (double)cycles / ((double)c->n * passes);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"huge", no_argument, NULL, 'H'}, {"rounds", required_argument, NULL, 'r'},
		{"passes", required_argument, NULL, 'p'}, {"gap", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	unsigned rounds = 5, passes = 3;
	uint64_t gap = 1000;
	int huge = 0, o;
	static struct weir_config cfg[MAX_CONFIGS];
	static double ns[MAX_CONFIGS][MAX_ROUNDS];
	struct capture cap;
	char err[512], prefix[64];

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'H')
			huge = 1;
		else if (o == 'r')
			rounds = (unsigned)atoi(optarg);
		else if (o == 'p')
			passes = (unsigned)atoi(optarg);
		else if (o == 'g')
			gap = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	unsigned n_cfg = (unsigned)(argc - optind - 1);
	if (argc - optind < 3 || n_cfg > MAX_CONFIGS || rounds < 1 || rounds > MAX_ROUNDS || !passes) {
		fprintf(stderr, "usage: bench-window [--huge] [--rounds N<=%d] [--passes N] [--gap NS] CAPTURE "
			"BASE.yaml CONFIG.yaml...\n", MAX_ROUNDS);
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "--file-prefix=benchwin%d", (int)getpid());
	char *with_huge[] = {"bench-window", "--no-pci", "--in-memory", "--no-telemetry",
			     "--log-level=lib.eal:error", NULL};
	char *no_huge[] = {"bench-window", "--no-pci", "--no-huge", "-m", "2048", "--no-shconf",
			   "--no-telemetry", "--log-level=lib.eal:error", prefix, NULL};
	if ((huge ? rte_eal_init(5, with_huge) : rte_eal_init(9, no_huge)) < 0) {
		fprintf(stderr, "bench-window: EAL init failed\n");
		return 1;
	}
	if (load_capture(argv[optind], &cap) < 0)
		return 1;
	for (unsigned k = 0; k < n_cfg; k++) {
		weir_config_defaults(&cfg[k]);
		if (weir_config_load(&cfg[k], argv[optind + 1 + k], err, sizeof(err)) < 0) {
			fprintf(stderr, "bench-window: %s\n", err);
			return 2;
		}
	}
	double ghz = (double)rte_get_tsc_hz() / 1e9;
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned k = 0; k < n_cfg; k++)
			ns[k][r] = run(&cfg[k], &cap, passes, gap) / ghz;
	printf("bench-window: %u packets x %u passes, %u rounds, %s, event time %s\n", cap.n, passes,
	       rounds, huge ? "hugepages" : "no-huge (4 KiB pages)",
	       gap ? "one packet per --gap ns" : "the capture's");
	double base = 0;
	for (unsigned k = 0; k < n_cfg; k++) {
		qsort(ns[k], rounds, sizeof(double), cmp_double);
		double med = ns[k][rounds / 2];
		if (k == 0)
			base = med;
		printf("%-40s %3u queries %8.1f ns/pkt (min %.1f, max %.1f)  %+7.1f ns vs base\n",
		       argv[optind + 1 + k], cfg[k].n_queries, med, ns[k][0], ns[k][rounds - 1],
		       med - base);
	}
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
	return 0;
}
