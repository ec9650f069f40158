/* SPDX-License-Identifier: BSD-3-Clause
 *
 * pktdump: run weir_pkt_parse over a pcap/pcapng file, for tests.
 *
 *   pktdump [--inner] [--header] [--summary] [--wide] FILE
 *       one TSV line per record: frame, ip_version, src, dst, proto, l4_proto,
 *       src_port, dst_port, ip_bytes, vlan, malformed ("-" where there is no value);
 *       --wide adds tunnel, flags (hex), l4_off, payload_off, payload_len
 *   pktdump [--inner] --bench N FILE
 *       preload the file, parse every record N times, print Mpps
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir_pkt.h"

struct opts {
	enum weir_pkt_layer layer;
	int header;
	int summary;
	int wide;
	long bench;
	const char *file;
};

static void usage(void)
{
	fprintf(stderr, "usage: pktdump [--inner] [--header] [--summary] [--wide] [--bench N] FILE.pcap[ng]\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inner"))
			o->layer = WEIR_PKT_INNER;
		else if (!strcmp(argv[i], "--header"))
			o->header = 1;
		else if (!strcmp(argv[i], "--summary"))
			o->summary = 1;
		else if (!strcmp(argv[i], "--wide"))
			o->wide = 1;
		else if (!strcmp(argv[i], "--bench") && i + 1 < argc)
			o->bench = strtol(argv[++i], NULL, 10);
		else if (argv[i][0] == '-' || o->file)
			usage();
		else
			o->file = argv[i];
	}
	if (!o->file || o->bench < 0)
		usage();
}

static pcap_t *open_capture(const char *file, int *dlt)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(file, err);

	if (!pc) {
		fprintf(stderr, "pktdump: %s\n", err);
		exit(1);
	}
	*dlt = pcap_datalink(pc);
	if (!weir_linktype_supported(*dlt))
		fprintf(stderr, "pktdump: %s: link type %d not supported (every record is bad-link)\n",
			file, *dlt);
	return pc;
}

static const char *const tunnel_names[] = {"none", "ipip", "6in4", "4in6", "6in6", "gre", "vxlan", "gtpu"};

static void print_line(uint64_t frame, const struct weir_pkt *p, int wide)
{
	char src[64] = "-", dst[64] = "-", proto[8] = "-", l4[8] = "-", sp[8] = "-", dp[8] = "-";

	if (p->ip_version) {
		weir_pkt_format_ip(p->ip_version, p->src_ip, src, sizeof(src));
		weir_pkt_format_ip(p->ip_version, p->dst_ip, dst, sizeof(dst));
		snprintf(proto, sizeof(proto), "%u", p->proto);
		snprintf(l4, sizeof(l4), "%u", p->l4_proto);
	}
	if (p->flags & WEIR_PKT_F_PORTS) {
		snprintf(sp, sizeof(sp), "%u", p->src_port);
		snprintf(dp, sizeof(dp), "%u", p->dst_port);
	}
	printf("%" PRIu64 "\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t%" PRIu32 "\t%u\t%s", frame, p->ip_version,
	       src, dst, proto, l4, sp, dp, p->ip_bytes, p->vlan, weir_pkt_malformed_name(p->malformed));
	if (wide)
		printf("\t%s\t0x%04x\t%u\t%u\t%" PRIu32, tunnel_names[p->tunnel & 7], p->flags, p->l4_off,
		       p->payload_off, p->payload_len);
	putchar('\n');
}

static int dump(const struct opts *o)
{
	uint64_t by_reason[WEIR_PKT_MAL__COUNT] = {0}, by_tunnel[8] = {0}, n = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct weir_pkt p;
	int dlt, rc;
	pcap_t *pc = open_capture(o->file, &dlt);

	if (o->header)
		printf("frame\tip_version\tsrc\tdst\tproto\tl4_proto\tsrc_port\tdst_port\tip_bytes\tvlan\tmalformed%s\n",
		       o->wide ? "\ttunnel\tflags\tl4_off\tpayload_off\tpayload_len" : "");
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		/* a block of exactly caplen bytes: under ASan, a read past the record is caught */
		uint8_t *rec = malloc(h->caplen ? h->caplen : 1);

		if (!rec) {
			fprintf(stderr, "pktdump: out of memory\n");
			exit(1);
		}
		memcpy(rec, data, h->caplen);
		weir_pkt_parse(rec, h->caplen, h->caplen, (enum weir_linktype)dlt, o->layer, &p);
		free(rec);
		print_line(++n, &p, o->wide);
		by_reason[p.malformed]++;
		by_tunnel[p.tunnel & 7]++;
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "pktdump: %s: %s (after %" PRIu64 " records)\n", o->file,
			pcap_geterr(pc), n);
	pcap_close(pc);
	if (o->summary) {
		fprintf(stderr, "records\t%" PRIu64 "\n", n);
		for (unsigned i = 0; i < WEIR_PKT_MAL__COUNT; i++)
			if (by_reason[i])
				fprintf(stderr, "malformed\t%s\t%" PRIu64 "\n", weir_pkt_malformed_name(i),
					by_reason[i]);
		for (unsigned i = 0; i < 8; i++)
			if (by_tunnel[i])
				fprintf(stderr, "tunnel\t%s\t%" PRIu64 "\n", tunnel_names[i], by_tunnel[i]);
	}
	return rc == PCAP_ERROR ? 1 : 0;
}

#define BENCH_PREFETCH 4

/* All records back to back in one buffer, so the timing loop sees memory, not libpcap. */
struct corpus {
	uint8_t *buf;
	uint32_t *off, *len;
	size_t n, cap, used, bufcap;
};

static void *xrealloc(void *p, size_t sz)
{
	p = realloc(p, sz);
	if (!p) {
		fprintf(stderr, "pktdump: out of memory\n");
		exit(1);
	}
	return p;
}

static void corpus_add(struct corpus *c, const uint8_t *data, uint32_t len)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4096;
		c->off = xrealloc(c->off, c->cap * sizeof(*c->off));
		c->len = xrealloc(c->len, c->cap * sizeof(*c->len));
	}
	if (c->used + len > c->bufcap) {
		c->bufcap = (c->used + len) * 2;
		c->buf = xrealloc(c->buf, c->bufcap);
	}
	memcpy(c->buf + c->used, data, len);
	c->off[c->n] = (uint32_t)c->used;
	c->len[c->n++] = len;
	c->used += len;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench(const struct opts *o)
{
	struct corpus c = {0};
	struct pcap_pkthdr *h;
	const u_char *data;
	struct weir_pkt p;
	uint64_t sink = 0;
	int dlt;
	pcap_t *pc = open_capture(o->file, &dlt);
	double t0, t;

	while (pcap_next_ex(pc, &h, &data) == 1)
		corpus_add(&c, data, h->caplen);
	pcap_close(pc);
	if (c.n == 0 || o->bench == 0)
		return 0;
	/*
	 * Twice: as is (every header a cache miss: the file is larger than the
	 * caches), then prefetching a few records ahead, as a burst loop over
	 * mbufs would.
	 */
	for (int pf = 0; pf <= 1; pf++) {
		t0 = now_s();
		for (long r = 0; r < o->bench; r++)
			for (size_t i = 0; i < c.n; i++) {
				if (pf && i + BENCH_PREFETCH < c.n)
					__builtin_prefetch(c.buf + c.off[i + BENCH_PREFETCH]);
				weir_pkt_parse(c.buf + c.off[i], c.len[i], c.len[i],
					       (enum weir_linktype)dlt, o->layer, &p);
				sink += p.ip_bytes + p.src_port + p.malformed;
			}
		t = now_s() - t0;
		printf("parsed %zu records x %ld in %.3f s: %.1f Mpps, %.1f ns/pkt (%s layer%s, checksum %" PRIu64 ")\n",
		       c.n, o->bench, t, (double)c.n * (double)o->bench / t / 1e6,
		       t * 1e9 / ((double)c.n * (double)o->bench),
		       o->layer == WEIR_PKT_INNER ? "inner" : "outer", pf ? ", prefetch" : "", sink);
	}
	free(c.buf);
	free(c.off);
	free(c.len);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	parse_args(argc, argv, &o);
	return o.bench ? bench(&o) : dump(&o);
}
