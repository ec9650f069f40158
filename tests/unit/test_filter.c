/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_filter: tcpdump expressions run by rte_bpf checked packet by packet
 * against libpcap's own pcap_offline_filter on the shared captures (JIT and
 * interpreter both), several link types at once, weir predicates on a
 * hand-made burst, their combinations with tcpdump parts, error messages and
 * the JIT / interpreter choice.
 *
 * `len` (and greater/less): rte_bpf reads the mbuf's pkt_len, the captured
 * length, while pcap_offline_filter reads the pcap header's wire length. weir
 * defines `len` as the captured length (a DPDK port keeps no wire length), so
 * the oracle runs with hdr.len = caplen; the packets where the wire-length
 * answer differs are counted and printed, not failed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <criterion/criterion.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "weir_filter.h"

#include "test_eal.h"

static struct rte_mempool *pool;

static void setup(void)
{
	eal_up();
	pool = rte_pktmbuf_pool_create("filter", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	cr_assert_not_null(pool, "mbuf pool");
}

static void teardown(void)
{
	rte_mempool_free(pool);
	eal_down();
}

TestSuite(filter, .init = setup, .fini = teardown, .timeout = 600);

/* ---- helpers ---------------------------------------------------------------------------- */

/* An mbuf holding d[0..len); split > 0 puts only the first `split` bytes
 * in the first segment (loads across segments), else segments fill up. */
static struct rte_mbuf *mk(const uint8_t *d, uint32_t len, uint16_t port, uint32_t split)
{
	struct rte_mbuf *h = NULL;
	uint32_t off = 0;

	do {
		struct rte_mbuf *s = rte_pktmbuf_alloc(pool);
		cr_assert_not_null(s, "mbuf alloc");
		uint32_t k = len - off;
		if (k > rte_pktmbuf_tailroom(s))
			k = rte_pktmbuf_tailroom(s);
		if (h == NULL && split > 0 && k > split)
			k = split;
		char *p = rte_pktmbuf_append(s, (uint16_t)k);
		cr_assert_not_null(p);
		memcpy(p, d + off, k);
		off += k;
		if (h == NULL)
			h = s;
		else
			cr_assert_eq(rte_pktmbuf_chain(h, s), 0);
	} while (off < len);
	h->port = port;
	return h;
}

static const char *shared_data(void)
{
	static char buf[1024];
	const char *d = getenv("WEIR_SHARED_DATA");

	if (d == NULL)
		d = "../shared/data";
	snprintf(buf, sizeof(buf), "%s/pcaps/ndpi-mix.pcap", d);
	return access(buf, R_OK) == 0 ? d : NULL;
}

#define NEED_SHARED_DATA(d)                                                                    \
	const char *d = shared_data();                                                         \
	if (!d)                                                                                \
		cr_skip_test("../shared/data is absent (set WEIR_SHARED_DATA): skipped")

/* libpcap's program for `expr` on link type lt; 0 when libpcap refuses it (msg set). */
static int oracle(const char *expr, int lt, struct bpf_program *bp, char *msg, size_t len)
{
	pcap_t *pc = pcap_open_dead(lt, 262144);
	int ok;

	cr_assert_not_null(pc);
	ok = pcap_compile(pc, bp, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (!ok && msg)
		snprintf(msg, len, "%s", pcap_geterr(pc));
	pcap_close(pc);
	return ok;
}

static uint32_t test_label_id(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "lan") == 0)
		return 1;
	if (strcmp(name, "wan") == 0)
		return 2;
	return 0;
}

/* ---- tcpdump expressions against libpcap --------------------------------------------- */

enum need {
	MIX,  /* on ndpi-mix: matches some packets, not all */
	ANY,  /* over all captures: matches some packets, not all */
	NOBPF, /* libpcap compiles it, rte_bpf cannot run it: weir refuses it */
};

static const struct {
	const char *expr;
	enum need need;
} exprs[] = {
	{"tcp", MIX},
	{"udp", MIX},
	{"icmp", MIX},
	{"ip6", MIX},
	{"arp", MIX},
	{"vlan", ANY},
	{"tcp port 80", MIX},
	{"udp port 53", MIX},
	{"portrange 1-1023", MIX},
	{"net 10.0.0.0/8", MIX},
	{"src net 192.168.0.0/16 and not dst port 443", MIX},
	{"host 95.237.48.208", MIX},
	{"src host 10.0.2.15 or dst host 10.0.2.15", MIX},
	{"tcp[tcpflags] & tcp-syn != 0", MIX},
	{"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", MIX},
	{"tcp[tcpflags] & (tcp-fin|tcp-rst) != 0", MIX},
	{"tcp[20] == 0x47", MIX},
	{"tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420", MIX},
	{"udp[8:2] & 0x8000 != 0", MIX},
	{"ip[6:2] & 0x1fff != 0", MIX},
	{"ip[8] < 64", MIX},
	{"ip[0] & 0xf > 5", ANY},
	{"ip and ip[2:2] > 1400", MIX},
	{"len > 1000", MIX},
	{"greater 500", MIX},
	{"less 100", MIX},
	{"ether broadcast", MIX},
	{"ether multicast", MIX},
	{"ether[0] & 1 != 0", MIX},
	{"ip multicast", MIX},
	{"icmp6", MIX},
	{"icmp[icmptype] == icmp-echo", MIX},
	{"ip6 and tcp", MIX},
	{"ip6 and udp port 53", ANY},
	{"ip6[6] == 17", MIX},
	{"tcp and (port 80 or port 443)", MIX},
	{"dst port 443 or src port 443", MIX},
	{"udp and not port 53", MIX},
	{"not ip", MIX},
	{"ip proto 41", MIX},  /* 6in4; the captures hold no GRE (47) */
	{"ip proto 113", MIX},
	{"ether proto 0x8100", ANY},
	{"vlan and tcp", ANY},
	{"mpls", ANY},
	{"pppoes", ANY},
	{"tcp[13] == 2", MIX},
	{"ip6 protochain 6", NOBPF}, /* a loop: rte_bpf (and its converter) run none */
};

#define N_EXPR (sizeof(exprs) / sizeof(exprs[0]))

struct expr_stats {
	uint64_t compared, matched, wire_diff, mism_jit, mism_interp;
	uint64_t mix_total, mix_matched;
	int jit, interp, files, skipped;
};

struct capture {
	pcap_t *pc;
	int lt;
	struct weir_filter *wf[N_EXPR];
	struct bpf_program bp[N_EXPR];
	int ok[N_EXPR];
};

static void run_capture(const char *path, int is_mix, struct expr_stats *st)
{
	char ebuf[PCAP_ERRBUF_SIZE], err[512], msg[512];
	struct capture c = {0};

	c.pc = pcap_open_offline(path, ebuf);
	cr_assert_not_null(c.pc, "%s: %s", path, ebuf);
	c.lt = pcap_datalink(c.pc);
	struct weir_filter_env env = {.port_linktype = &c.lt, .n_ports = 1};
	char first[600] = "";
	unsigned refused = 0;

	for (unsigned e = 0; e < N_EXPR; e++) {
		c.ok[e] = oracle(exprs[e].expr, c.lt, &c.bp[e], msg, sizeof(msg));
		c.wf[e] = weir_filter_compile(exprs[e].expr, &env, err, sizeof(err));
		if (!c.ok[e]) {
			/* libpcap refuses it for this link type: weir must too. */
			cr_expect_null(c.wf[e], "%s: '%s' compiled though libpcap says %s", path,
				       exprs[e].expr, msg);
			if (refused++ == 0)
				snprintf(first, sizeof(first), "'%s': %s", exprs[e].expr, msg);
			st[e].skipped++;
			weir_filter_free(c.wf[e]);
			c.wf[e] = NULL;
			continue;
		}
		if (exprs[e].need == NOBPF) {
			cr_expect_null(c.wf[e], "'%s' compiled", exprs[e].expr);
			cr_expect(strstr(err, "not supported by rte_bpf") != NULL, "'%s': %s",
				  exprs[e].expr, err);
			if (is_mix)
				fprintf(stderr, "  skip '%s': %s\n", exprs[e].expr, err);
			st[e].skipped++;
			weir_filter_free(c.wf[e]);
			c.wf[e] = NULL;
			continue;
		}
		cr_assert_not_null(c.wf[e], "%s: '%s': %s", path, exprs[e].expr, err);
		st[e].files++;
		if (weir_filter_jitted(c.wf[e]))
			st[e].jit = 1;
		else
			st[e].interp = 1;
	}

	if (refused)
		fprintf(stderr, "  %s (link type %s): libpcap (and weir) refuse %u expressions, e.g. %s\n",
			strrchr(path, '/') + 1, pcap_datalink_val_to_name(c.lt), refused, first);

	struct pcap_pkthdr *h;
	const u_char *d;
	struct pcap_pkthdr hdr[WEIR_BURST_MAX];
	size_t off[WEIR_BURST_MAX];
	struct rte_mbuf *m[WEIR_BURST_MAX];
	uint8_t *arena = NULL;
	size_t arena_cap = 0;
	int rc = 1;
	uint64_t seq = 0;

	while (rc == 1) {
		unsigned n = 0;
		size_t used = 0;
		while (n < WEIR_BURST_MAX && (rc = pcap_next_ex(c.pc, &h, &d)) == 1) {
			if (used + h->caplen > arena_cap) {
				arena_cap = (used + h->caplen) * 2;
				arena = realloc(arena, arena_cap);
				cr_assert_not_null(arena);
			}
			memcpy(arena + used, d, h->caplen);
			hdr[n] = *h;
			off[n] = used;
			used += h->caplen;
			/* every 7th packet split after 40 bytes: loads across segments */
			m[n] = mk(d, h->caplen, 0, seq++ % 7 == 3 ? 40 : 0);
			n++;
		}
		cr_assert(rc == 1 || rc == PCAP_ERROR_BREAK, "%s: %s", path, pcap_geterr(c.pc));
		for (unsigned e = 0; n > 0 && e < N_EXPR; e++) {
			if (c.wf[e] == NULL)
				continue;
			uint8_t pass_jit[WEIR_BURST_MAX], pass_int[WEIR_BURST_MAX];
			int jit = weir_filter_jitted(c.wf[e]);
			weir_filter_burst(c.wf[e], m, NULL, n, pass_jit);
			weir_filter_use_jit(c.wf[e], 0);
			weir_filter_burst(c.wf[e], m, NULL, n, pass_int);
			weir_filter_use_jit(c.wf[e], 1);
			cr_assert_eq(weir_filter_jitted(c.wf[e]), jit);
			for (unsigned i = 0; i < n; i++) {
				struct pcap_pkthdr cap = hdr[i];
				cap.len = cap.caplen; /* weir's `len`: the captured length */
				int want = pcap_offline_filter(&c.bp[e], &cap, arena + off[i]) != 0;
				int wire = pcap_offline_filter(&c.bp[e], &hdr[i], arena + off[i]) != 0;
				st[e].compared++;
				st[e].matched += (uint64_t)want;
				st[e].wire_diff += (uint64_t)(want != wire);
				if (is_mix) {
					st[e].mix_total++;
					st[e].mix_matched += (uint64_t)want;
				}
				if (pass_jit[i] != want && st[e].mism_jit++ < 3)
					fprintf(stderr, "  MISMATCH '%s' %s packet %llu: weir %d libpcap %d\n",
						exprs[e].expr, strrchr(path, '/') + 1,
						(unsigned long long)(seq - n + i + 1), pass_jit[i], want);
				if (pass_int[i] != want && st[e].mism_interp++ < 3)
					fprintf(stderr, "  MISMATCH (interpreter) '%s' %s packet %llu: weir %d libpcap %d\n",
						exprs[e].expr, strrchr(path, '/') + 1,
						(unsigned long long)(seq - n + i + 1), pass_int[i], want);
			}
		}
		if (n > 0)
			rte_pktmbuf_free_bulk(m, n);
	}
	free(arena);
	pcap_close(c.pc);
	for (unsigned e = 0; e < N_EXPR; e++) {
		weir_filter_free(c.wf[e]);
		if (c.ok[e])
			pcap_freecode(&c.bp[e]);
	}
}

static int pcap_name(const struct dirent *de)
{
	const char *dot = strrchr(de->d_name, '.');
	return dot && (strcmp(dot, ".pcap") == 0 || strcmp(dot, ".pcapng") == 0);
}

Test(filter, tcpdump_matches_libpcap)
{
	NEED_SHARED_DATA(data);
	static struct expr_stats st[N_EXPR];
	char path[2048], dir[1536];
	struct dirent **list;
	uint64_t total = 0, files = 0;

	memset(st, 0, sizeof(st));
	snprintf(path, sizeof(path), "%s/pcaps/ndpi-mix.pcap", data);
	run_capture(path, 1, st);
	files++;
	snprintf(dir, sizeof(dir), "%s/pcaps/proto", data);
	int nf = scandir(dir, &list, pcap_name, alphasort);
	cr_assert_geq(nf, 0, "%s", dir);
	for (int i = 0; i < nf; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		run_capture(path, 0, st);
		files++;
		free(list[i]);
	}
	free(list);

	int any_jit = 0, any_interp = 0;
	fprintf(stderr, "%-48s %6s %9s %9s %9s %9s %8s\n", "expression", "engine", "compared",
		"matched", "mix", "mix-all", "wire-len");
	for (unsigned e = 0; e < N_EXPR; e++) {
		const struct expr_stats *s = &st[e];
		fprintf(stderr, "%-48s %6s %9llu %9llu %9llu %9llu %8llu\n", exprs[e].expr,
			s->jit && s->interp ? "mixed" : s->jit ? "jit" : s->interp ? "interp" : "-",
			(unsigned long long)s->compared, (unsigned long long)s->matched,
			(unsigned long long)s->mix_matched, (unsigned long long)s->mix_total,
			(unsigned long long)s->wire_diff);
		total += s->compared;
		any_jit |= s->jit;
		any_interp |= s->interp;
	}
	fprintf(stderr, "%zu expressions x %llu files: %llu (expression, packet) pairs compared\n",
		N_EXPR, (unsigned long long)files, (unsigned long long)total);
	for (unsigned e = 0; e < N_EXPR; e++) {
		const struct expr_stats *s = &st[e];
		cr_expect_eq(s->mism_jit, 0, "'%s': %llu packets differ from libpcap", exprs[e].expr,
			     (unsigned long long)s->mism_jit);
		cr_expect_eq(s->mism_interp, 0, "'%s' (interpreter): %llu packets differ from libpcap",
			     exprs[e].expr, (unsigned long long)s->mism_interp);
		if (exprs[e].need == NOBPF)
			cr_expect_eq(s->compared, 0);
		else if (exprs[e].need == MIX)
			cr_expect(s->mix_matched > 0 && s->mix_matched < s->mix_total,
				  "'%s' matched %llu of %llu packets of ndpi-mix: a weak check",
				  exprs[e].expr, (unsigned long long)s->mix_matched,
				  (unsigned long long)s->mix_total);
		else
			cr_expect(s->matched > 0 && s->matched < s->compared,
				  "'%s' matched %llu of %llu packets: a weak check", exprs[e].expr,
				  (unsigned long long)s->matched, (unsigned long long)s->compared);
	}
	cr_expect(any_jit && any_interp, "both engines exercised");
	cr_expect_gt(st[0].compared, 100000);
}

/* ---- several link types at once ------------------------------------------------------ */

Test(filter, per_port_link_types)
{
	NEED_SHARED_DATA(data);
	static const char *const ex[] = {
		"tcp port 80", "ip6", "udp", "tcp[20] == 0x47", "tcp[tcpflags] & tcp-syn != 0",
		"host 10.0.2.15", "ip[8] < 64", "less 100", "flow.new or tcp port 80",
	};
	enum { NE = sizeof(ex) / sizeof(ex[0]), NPKT = 8192 };
	const int lts[2] = {DLT_EN10MB, DLT_RAW};
	struct weir_filter_env env = {.port_linktype = lts, .n_ports = 2};
	struct weir_filter *wf[NE];
	struct bpf_program bp[NE][2];
	char path[2048], ebuf[PCAP_ERRBUF_SIZE], err[512];

	for (unsigned e = 0; e < NE; e++) {
		wf[e] = weir_filter_compile(ex[e], &env, err, sizeof(err));
		cr_assert_not_null(wf[e], "'%s': %s", ex[e], err);
		/* "flow.new or X" with no flows is X */
		const char *t = strncmp(ex[e], "flow.new or ", 12) == 0 ? ex[e] + 12 : ex[e];
		for (int l = 0; l < 2; l++)
			cr_assert(oracle(t, lts[l], &bp[e][l], NULL, 0), "'%s'", t);
	}
	snprintf(path, sizeof(path), "%s/pcaps/ndpi-mix.pcap", data);
	pcap_t *pc = pcap_open_offline(path, ebuf);
	cr_assert_not_null(pc, "%s", ebuf);

	struct pcap_pkthdr *h;
	const u_char *d;
	static uint8_t buf[WEIR_BURST_MAX][2048];
	struct pcap_pkthdr hdr[WEIR_BURST_MAX];
	struct rte_mbuf *m[WEIR_BURST_MAX];
	uint64_t per_port[3] = {0}, hits[2] = {0}, compared = 0;
	unsigned seen = 0;

	while (seen < NPKT) {
		unsigned n = 0;
		while (n < WEIR_BURST_MAX && pcap_next_ex(pc, &h, &d) == 1) {
			uint32_t len = h->caplen < sizeof(buf[0]) ? h->caplen : sizeof(buf[0]);
			uint16_t port = 0, et = len >= 14 ? (uint16_t)(d[12] << 8 | d[13]) : 0;
			if ((et == 0x0800 || et == 0x86dd) && seen % 2 == 0) {
				port = 1; /* the same packet as raw IP */
				d += 14;
				len -= 14;
			}
			if (seen % 97 == 5)
				port = 7; /* outside the port table */
			memcpy(buf[n], d, len);
			hdr[n] = *h;
			hdr[n].caplen = hdr[n].len = len;
			m[n] = mk(buf[n], len, port, 0);
			per_port[port == 7 ? 2 : port]++;
			n++;
			seen++;
		}
		if (n == 0)
			break;
		for (unsigned e = 0; e < NE; e++) {
			uint8_t pass[WEIR_BURST_MAX];
			weir_filter_burst(wf[e], m, NULL, n, pass);
			for (unsigned i = 0; i < n; i++) {
				uint16_t port = m[i]->port;
				int want = port < 2 && pcap_offline_filter(&bp[e][port], &hdr[i], buf[i]);
				cr_assert_eq(pass[i], want, "'%s' packet %u port %u: weir %d, libpcap %d",
					     ex[e], seen - n + i + 1, port, pass[i], want);
				if (port < 2)
					hits[port] += (uint64_t)want;
				compared++;
			}
		}
		rte_pktmbuf_free_bulk(m, n);
	}
	pcap_close(pc);
	fprintf(stderr, "per-port link types: %llu comparisons; packets per port: EN10MB %llu, RAW %llu, "
		"unknown %llu; matches EN10MB %llu, RAW %llu\n", (unsigned long long)compared,
		(unsigned long long)per_port[0], (unsigned long long)per_port[1],
		(unsigned long long)per_port[2], (unsigned long long)hits[0], (unsigned long long)hits[1]);
	cr_expect(hits[0] > 0 && hits[1] > 0 && per_port[2] > 0);
	for (unsigned e = 0; e < NE; e++) {
		weir_filter_free(wf[e]);
		pcap_freecode(&bp[e][0]);
		pcap_freecode(&bp[e][1]);
	}
}

/* ---- a hand-made burst ----------------------------------------------------------------- */

#define NP 8
#define ALL 0xffu

struct pkt {
	uint8_t b[128];
	uint32_t len;
};

static struct pkt pk[NP];

static uint32_t put_eth(uint8_t *b, uint16_t type)
{
	static const uint8_t mac[12] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
					0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
	memcpy(b, mac, 12);
	b[12] = (uint8_t)(type >> 8);
	b[13] = (uint8_t)type;
	return 14;
}

static uint32_t put_l4(uint8_t *b, uint8_t proto, uint16_t sp, uint16_t dp, uint8_t flags,
		       const char *payload)
{
	uint32_t n = 0, pl = payload ? (uint32_t)strlen(payload) : 0;

	if (proto == 6) {
		memset(b, 0, 20);
		b[0] = (uint8_t)(sp >> 8), b[1] = (uint8_t)sp, b[2] = (uint8_t)(dp >> 8), b[3] = (uint8_t)dp;
		b[12] = 5 << 4;
		b[13] = flags;
		b[14] = 0xff;
		n = 20;
	} else if (proto == 17) {
		b[0] = (uint8_t)(sp >> 8), b[1] = (uint8_t)sp, b[2] = (uint8_t)(dp >> 8), b[3] = (uint8_t)dp;
		b[4] = 0, b[5] = (uint8_t)(8 + pl), b[6] = b[7] = 0;
		n = 8;
	} else { /* ICMP echo */
		memset(b, 0, 8);
		b[0] = 8;
		n = 8;
	}
	memcpy(b + n, payload ? payload : "", pl);
	return n + pl;
}

static void ip4(struct pkt *p, const char *src, const char *dst, uint8_t proto, int opts,
		uint16_t sp, uint16_t dp, uint8_t flags, const char *payload)
{
	uint8_t *b = p->b;
	uint32_t o = put_eth(b, 0x0800), ihl = opts ? 6 : 5;

	memset(b + o, 0, ihl * 4);
	b[o] = (uint8_t)(0x40 | ihl);
	b[o + 8] = 64;
	b[o + 9] = proto;
	cr_assert_eq(inet_pton(AF_INET, src, b + o + 12), 1);
	cr_assert_eq(inet_pton(AF_INET, dst, b + o + 16), 1);
	uint32_t l4 = put_l4(b + o + ihl * 4, proto, sp, dp, flags, payload);
	uint32_t tot = ihl * 4 + l4;
	b[o + 2] = (uint8_t)(tot >> 8), b[o + 3] = (uint8_t)tot;
	p->len = o + tot;
}

static void ip6(struct pkt *p, const char *src, const char *dst, uint8_t proto, uint16_t sp,
		uint16_t dp, uint8_t flags)
{
	uint8_t *b = p->b;
	uint32_t o = put_eth(b, 0x86dd);

	memset(b + o, 0, 40);
	b[o] = 0x60;
	b[o + 6] = proto;
	b[o + 7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, src, b + o + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, b + o + 24), 1);
	uint32_t l4 = put_l4(b + o + 40, proto, sp, dp, flags, NULL);
	b[o + 4] = (uint8_t)(l4 >> 8), b[o + 5] = (uint8_t)l4;
	p->len = o + 40 + l4;
}

static void arp(struct pkt *p)
{
	static const uint8_t body[28] = {0, 1, 8, 0, 6, 4, 0, 1, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
					 10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 10, 0, 0, 6};
	uint32_t o = put_eth(p->b, 0x0806);
	memcpy(p->b + o, body, sizeof(body));
	p->len = o + sizeof(body);
}

static void make_packets(void)
{
	memset(pk, 0, sizeof(pk));
	ip4(&pk[0], "10.0.0.1", "10.0.0.2", 6, 0, 1234, 80, 0x02, "GET / HTTP/1.0\r\n");
	ip4(&pk[1], "10.0.0.2", "10.0.0.1", 6, 0, 80, 1234, 0x12, NULL);
	ip4(&pk[2], "10.0.0.3", "8.8.8.8", 17, 0, 5353, 53, 0, "query");
	ip4(&pk[3], "8.8.8.8", "10.0.0.3", 17, 0, 53, 5353, 0, "answer");
	ip6(&pk[4], "fd00::1", "fd00::2", 6, 40000, 443, 0x10);
	ip4(&pk[5], "192.168.1.1", "10.0.0.1", 6, 1, 2222, 22, 0x18, NULL);
	arp(&pk[6]);
	ip4(&pk[7], "10.0.0.2", "10.0.0.9", 1, 0, 0, 0, 0, NULL);
}

/*
 * Meta: rules p0 {1 sev 3}, p2 {1 sev 1, 7 sev 2}, p3 {7 sev 4}, p4 {9 sev 2},
 * p6 {1 sev 5}; flow_new p0 p2 p4 p5; labels (lan 1, wan 2) src 1,0,1,2,0,1,0,2
 * dst 0,1,2,1,0,1,0,0.
 */
static struct weir_burst_rules rules;
static const uint8_t flow_new[NP] = {1, 0, 1, 0, 1, 1, 0, 0};
static const uint32_t src_label[NP] = {1, 0, 1, 2, 0, 1, 0, 2};
static const uint32_t dst_label[NP] = {0, 1, 2, 1, 0, 1, 0, 0};
static const uint64_t ts[NP];

static struct weir_burst_meta full_meta(void)
{
	static const struct {
		uint32_t id;
		uint8_t sev;
	} r[NP][2] = {
		{{1, 3}}, {{0, 0}}, {{1, 1}, {7, 2}}, {{7, 4}}, {{9, 2}}, {{0, 0}}, {{1, 5}}, {{0, 0}},
	};
	memset(&rules, 0, sizeof(rules));
	for (unsigned i = 0; i < NP; i++) {
		rules.off[i] = (uint16_t)rules.n;
		for (unsigned j = 0; j < 2; j++)
			if (r[i][j].id) {
				rules.ids[rules.n] = r[i][j].id;
				rules.sev[rules.n++] = r[i][j].sev;
			}
	}
	rules.off[NP] = (uint16_t)rules.n;
	return (struct weir_burst_meta){.ts = ts, .rules = &rules, .flow_new = flow_new,
					.src_label = src_label, .dst_label = dst_label};
}

static struct weir_filter_env eth_env(void)
{
	static const int lt = DLT_EN10MB;
	return (struct weir_filter_env){.port_linktype = &lt, .n_ports = 1,
					.label_id = test_label_id};
}

/* Bit i: packet i passed `expr`. */
static unsigned weir_mask(const char *expr, const struct weir_burst_meta *meta)
{
	struct weir_filter_env env = eth_env();
	struct rte_mbuf *m[NP];
	uint8_t pass[NP];
	char err[512];
	unsigned mask = 0;

	struct weir_filter *f = weir_filter_compile(expr, &env, err, sizeof(err));
	cr_assert_not_null(f, "'%s': %s", expr, err);
	for (unsigned i = 0; i < NP; i++)
		m[i] = mk(pk[i].b, pk[i].len, 0, i % 2 ? 30 : 0);
	for (int jit = 1; jit >= 0; jit--) {
		unsigned mk_ = 0;
		weir_filter_use_jit(f, jit);
		weir_filter_burst(f, m, meta, NP, pass);
		for (unsigned i = 0; i < NP; i++) {
			cr_assert(pass[i] <= 1);
			mk_ |= (unsigned)pass[i] << i;
		}
		if (jit)
			mask = mk_;
		else
			cr_assert_eq(mk_, mask, "'%s': interpreter 0x%02x, JIT 0x%02x", expr, mk_, mask);
	}
	rte_pktmbuf_free_bulk(m, NP);
	weir_filter_free(f);
	return mask;
}

/* Bit i: libpcap passes packet i for tcpdump expression `expr`. */
static unsigned pcap_mask(const char *expr)
{
	struct bpf_program bp;
	char msg[512];
	unsigned mask = 0;

	cr_assert(oracle(expr, DLT_EN10MB, &bp, msg, sizeof(msg)), "'%s': %s", expr, msg);
	for (unsigned i = 0; i < NP; i++) {
		struct pcap_pkthdr h = {.caplen = pk[i].len, .len = pk[i].len};
		mask |= (unsigned)(pcap_offline_filter(&bp, &h, pk[i].b) != 0) << i;
	}
	pcap_freecode(&bp);
	return mask;
}

Test(filter, crafted_tcpdump)
{
	static const struct {
		const char *expr;
		unsigned want;
	} c[] = {
		{"tcp", 0x33}, {"udp", 0x0c}, {"udp port 53", 0x0c}, {"tcp port 80", 0x03},
		{"tcp[tcpflags] & tcp-syn != 0", 0x03}, {"ip[0] & 0xf > 5", 0x20},
		{"host 10.0.0.1 or host 10.0.0.2", 0xa3}, {"arp", 0x40}, {"icmp", 0x80},
		{"ip6", 0x10}, {"port 53", 0x0c},
		/* indirect loads (converter bug 1) */
		{"tcp[20] == 0x47", 0x01}, {"tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420", 0x01},
		{"tcp[13] == 0x12", 0x02},
	};

	make_packets();
	for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		unsigned p = pcap_mask(c[k].expr), w = weir_mask(c[k].expr, NULL);
		cr_expect_eq(p, c[k].want, "libpcap '%s': 0x%02x, hand-computed 0x%02x", c[k].expr, p,
			     c[k].want);
		cr_expect_eq(w, p, "'%s': weir 0x%02x, libpcap 0x%02x", c[k].expr, w, p);
	}
}

Test(filter, weir_predicates)
{
	static const struct {
		const char *expr;
		unsigned want;
	} c[] = {
		{"match(1)", 0x45}, {"match(7)", 0x0c}, {"match(9)", 0x10}, {"match(4)", 0x00},
		{"rule.severity == 2", 0x14}, {"rule.severity < 2", 0x04},
		{"rule.severity <= 2", 0x14}, {"rule.severity > 3", 0x48},
		{"rule.severity >= 3", 0x49}, {"rule.severity != 3", 0x5c},
		{"flow.new", 0x35}, {"not flow.new", 0xca}, {"!flow.new", 0xca},
		{"src_label == \"lan\"", 0x25}, {"src_label == \"wan\"", 0x88},
		{"src_label != \"lan\"", 0xda}, {"dst_label != \"lan\"", 0xd5},
		{"dst_label == \"wan\"", 0x04},
		{"match(1) and flow.new", 0x05}, {"match(1) or flow.new", 0x75},
		{"match(1) && !flow.new || match(9)", 0x50},
		{"match(1) and (flow.new or match(9))", 0x05},
		{"((match(7)))", 0x0c},
	};
	struct weir_burst_meta meta = full_meta();

	make_packets();
	for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		unsigned w = weir_mask(c[k].expr, &meta);
		cr_expect_eq(w, c[k].want, "'%s': 0x%02x, want 0x%02x", c[k].expr, w, c[k].want);
	}

	/* Stages not running (NULL arrays, or no meta at all): predicates are
	 * false, labels read as 0. */
	struct weir_burst_meta empty = {.ts = ts};
	const struct weir_burst_meta *none[2] = {&empty, NULL};
	for (int k = 0; k < 2; k++) {
		cr_expect_eq(weir_mask("match(1)", none[k]), 0u);
		cr_expect_eq(weir_mask("not match(1)", none[k]), ALL);
		cr_expect_eq(weir_mask("rule.severity >= 0", none[k]), 0u);
		cr_expect_eq(weir_mask("flow.new", none[k]), 0u);
		cr_expect_eq(weir_mask("src_label == \"lan\"", none[k]), 0u);
		cr_expect_eq(weir_mask("dst_label != \"lan\"", none[k]), ALL);
		cr_expect_eq(weir_mask("flow.new or tcp", none[k]), 0x33u);
	}
}

Test(filter, combinations)
{
	struct weir_burst_meta meta = full_meta();

	make_packets();
	const unsigned T = pcap_mask("tcp"), UDP = pcap_mask("udp"), U53 = pcap_mask("udp port 53"),
		       P80 = pcap_mask("tcp port 80"), SYN = pcap_mask("tcp[tcpflags] & tcp-syn != 0"),
		       OPT = pcap_mask("ip[0] & 0xf > 5"), P53 = pcap_mask("port 53"),
		       H = pcap_mask("host 10.0.0.1 or host 10.0.0.2");
	const unsigned M1 = 0x45, M7 = 0x0c, M9 = 0x10, F = 0x35, S2 = 0x14, S3 = 0x48,
		       WAN = 0x88, DNL = 0xd5;
	const struct {
		const char *expr;
		unsigned want;
	} c[] = {
		{"tcp and match(1)", T & M1},
		/* `and` binds tighter than `or` (libpcap would go left to right) */
		{"match(1) or udp port 53 and flow.new", M1 | (U53 & F)},
		{"(match(1) or udp port 53) and flow.new", (M1 | U53) & F},
		{"tcp or udp and match(7)", T | (UDP & M7)},
		{"match(1) and tcp or udp", (M1 & T) | UDP},
		{"tcp or udp and flow.new", T | (UDP & F)},
		{"not tcp and not match(1)", ~T & ~M1 & ALL},
		{"!(tcp || flow.new) && src_label == \"wan\"", ~(T | F) & WAN & ALL},
		{"not match(1) or rule.severity <= 2 and dst_label != \"lan\"",
		 (~M1 | (S2 & DNL)) & ALL},
		{"not (match(1) or flow.new) and tcp", ~(M1 | F) & T & ALL},
		{"rule.severity > 3 || !tcp && match(9)", S3 | (~T & M9 & ALL)},
		{"tcp && !flow.new", T & ~F & ALL},
		{"(tcp) and match(1)", T & M1},
		/* one program per weir-free subtree, tcpdump syntax inside it */
		{"flow.new and (tcp port 80 or udp port 53)", F & (P80 | U53)},
		{"((tcp or udp) and not (port 53)) and flow.new", (T | UDP) & ~P53 & F & ALL},
		{"match(1) and (host 10.0.0.1 or 10.0.0.2)", M1 & H},
		{"flow.new and tcp[tcpflags] & tcp-syn != 0", F & SYN},
		/* parentheses followed by an operator belong to the tcpdump part */
		{"match(7) or (ip[0] & 0xf) > 5", M7 | OPT},
		{"not (ip[0] & 0xf) > 5 and flow.new", ~OPT & F & ALL},
		{"flow.new and tcp[13] == 0x12 or match(9)", (F & pcap_mask("tcp[13] == 0x12")) | M9},
	};

	cr_assert_eq(T, 0x33u);
	cr_assert_eq(OPT, 0x20u);
	for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		unsigned w = weir_mask(c[k].expr, &meta);
		cr_expect_eq(w, c[k].want, "'%s': 0x%02x, want 0x%02x", c[k].expr, w, c[k].want);
	}
}

/* ---- errors ------------------------------------------------------------------------------ */

static void expect_error(const struct weir_filter_env *env, const char *expr, const char *want)
{
	char err[512] = "";
	struct weir_filter *f = weir_filter_compile(expr, env, err, sizeof(err));

	cr_expect_null(f, "'%s' compiled", expr ? expr : "(null)");
	weir_filter_free(f);
	cr_expect(strstr(err, want) != NULL, "'%s': error \"%s\" lacks \"%s\"", expr ? expr : "(null)",
		  err, want);
	fprintf(stderr, "  %-40s -> %s\n", expr ? expr : "(null)", err);
}

Test(filter, errors)
{
	struct weir_filter_env env = eth_env();
	struct weir_filter_env nolabels = env;
	struct bpf_program bp;
	char msg[512], want[600];

	nolabels.label_id = NULL;

	/* libpcap's own message, prefixed by the part that failed */
	cr_assert(!oracle("tcp port eighty", DLT_EN10MB, &bp, msg, sizeof(msg)));
	snprintf(want, sizeof(want), "'tcp port eighty': %s", msg);
	expect_error(&env, "tcp port eighty", want);
	expect_error(&env, "flow.new and tcp port eighty", want);
	expect_error(&env, "match(3) or (tcp port eighty and udp)", "'tcp port eighty and udp': ");
	expect_error(&env, "ip broadcast", "'ip broadcast': ");
	expect_error(&env, "tcp and", "'tcp and': ");

	/* weir syntax, with the column */
	expect_error(&env, "match(", "column 7: expected a rule id");
	expect_error(&env, "match(x)", "column 7: expected a rule id");
	expect_error(&env, "match(1", "column 8: expected ')'");
	expect_error(&env, "rule.severity >> 3", "column 15: expected a comparison operator");
	expect_error(&env, "rule.severity > 300", "column 17: expected a severity");
	expect_error(&env, "flow.new and", "column 13: expected a filter term, found the end");
	expect_error(&env, "(flow.new", "column 10: expected ')'");
	expect_error(&env, "flow.new)", "column 9: expected the end");
	expect_error(&env, "match(1) tcp", "column 10: expected 'and', 'or' or the end");
	expect_error(&env, "src_label = \"lan\"", "column 11: expected a comparison operator (== !=)");
	expect_error(&env, "src_label == lan", "column 14: expected a label name in double quotes");
	expect_error(&env, "src_label == \"lan", "column 14: unterminated string");
	expect_error(&env, "flow.new and tcp[0 & match(1)", "column 22: expected 'and', 'or' or the end");
	expect_error(&env, "tcp and ip[0] & (match(1)) > 1", "column 18: weir predicate inside");
	expect_error(&env, "ip6 protochain 6", "'ip6 protochain 6': not supported by rte_bpf: the program loops");

	/* labels resolve at compile time */
	expect_error(&env, "src_label == \"nope\"", "unknown label \"nope\"");
	expect_error(&env, "tcp and dst_label != \"dmz\"", "column 22: unknown label \"dmz\"");
	expect_error(&nolabels, "src_label == \"lan\"", "label \"lan\": no lookup table loaded");

	expect_error(&env, "", "empty filter");
	expect_error(&env, "   ", "empty filter");
	expect_error(&env, NULL, "empty filter");

	/* a part libpcap refuses for one of the ports' link types */
	const int lts[2] = {DLT_EN10MB, DLT_RAW};
	struct weir_filter_env two = {.port_linktype = lts, .n_ports = 2};
	expect_error(&two, "ether broadcast", "'ether broadcast' (link type RAW): ");
}

/* ---- JIT or interpreter --------------------------------------------------------------------- */

Test(filter, jit_choice)
{
	static const struct {
		const char *expr;
		int jit;
	} c[] = {
		{"tcp", 1},
		{"tcp port 80", 1},                       /* jset #0x1fff: encoded right */
		{"ip[6:2] & 0x1fff != 0", 1},
		{"tcp[20] == 0x47", 1},
		{"tcp[tcpflags] & tcp-syn != 0", 0},      /* jset #0x2: JIT bug, interpreter */
		{"ether[0] & 1 != 0", 0},
		{"flow.new", 1},                          /* no program at all */
		{"flow.new and tcp port 80", 1},
		{"flow.new and tcp[13] & 2 != 0", 0},
		{"tcp port 80 or (match(1) and tcp[13] & 0x7f != 0)", 0},
	};
	struct weir_filter_env env = eth_env();
	char err[512];

	for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct weir_filter *f = weir_filter_compile(c[k].expr, &env, err, sizeof(err));
		cr_assert_not_null(f, "'%s': %s", c[k].expr, err);
		cr_expect_eq(weir_filter_jitted(f), c[k].jit, "'%s': jitted %d", c[k].expr,
			     weir_filter_jitted(f));
		if (c[k].jit && strcmp(c[k].expr, "flow.new") != 0) {
			cr_expect_eq(weir_filter_use_jit(f, 0), 0, "'%s'", c[k].expr);
			cr_expect_eq(weir_filter_use_jit(f, 1), 1, "'%s'", c[k].expr);
		}
		weir_filter_free(f);
	}
}
