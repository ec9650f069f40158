/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Unit tests of lib/enrich: CIDR labels on rte_lpm/rte_lpm6, DNS answer
 * parsing (crafted frames, malformed captures, and the DNS captures of
 * ../shared/data checked frame by frame against tshark), the per-worker
 * address -> name table and the names dictionary.
 *
 * Every DNS parse reads a heap block of exactly the frame's length, so that
 * under ASan a read past the frame is a crash, not a silent pass.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fnmatch.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_memory.h>

#include "test_eal.h"
#include "weir_build.h"
#include "weir_burst.h"
#include "weir_enrich.h"
#include "weir_pkt.h"

/* ---------------------------------------------------------------- helpers */

/* A file holding `text`; the path is written to path (64 bytes). */
static void write_tmp(char *path, const char *text)
{
	snprintf(path, 64, "/tmp/weir-labels-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static struct weir_labels *load_text(const char *text, char *path, char *err, size_t errlen)
{
	write_tmp(path, text);
	return weir_labels_load(path, err, errlen);
}

static struct weir_pkt ip_pkt(const char *src, const char *dst)
{
	struct weir_pkt p;

	memset(&p, 0, sizeof(p));
	if (strchr(src, ':')) {
		p.ip_version = 6;
		cr_assert_eq(inet_pton(AF_INET6, src, p.src_ip), 1, "%s", src);
		cr_assert_eq(inet_pton(AF_INET6, dst, p.dst_ip), 1, "%s", dst);
	} else {
		p.ip_version = 4;
		cr_assert_eq(inet_pton(AF_INET, src, p.src_ip), 1, "%s", src);
		cr_assert_eq(inet_pton(AF_INET, dst, p.dst_ip), 1, "%s", dst);
	}
	return p;
}

/* --------------------------------------------------------------- labels */

static const char nested_csv[] =
	"# weir labels: nested prefixes\n"
	"10.0.0.0/8,corp\n"
	"  10.1.0.0/16 ,  \"lab\"  \n"
	"\n"
	"10.1.2.3/32,host\r\n"
	"   # indented comment\n"
	"2001:db8::/32,v6net\n"
	"2001:db8:1:2::/64, \"v6 lab, inner\"\n"
	"192.168.1.1,corp\n"
	"2001:db8::53,\"dns \"\"primary\"\"\"\n"
	"10.0.0.0/8,corp\n"; /* the same prefix and label again: accepted */

Test(labels, longest_match_v4_v6_and_boundaries, .init = eal_up, .fini = eal_down)
{
	char path[64], err[256];
	struct weir_labels *l = load_text(nested_csv, path, err, sizeof(err));

	cr_assert_not_null(l, "%s", err);
	cr_assert_eq(weir_labels_count(l), 6);
	const char *names[] = {NULL, "corp", "lab", "host", "v6net", "v6 lab, inner",
			       "dns \"primary\""};
	for (uint32_t id = 1; id <= 6; id++) {
		cr_assert_str_eq(weir_labels_name(l, id), names[id]);
		cr_assert_eq(weir_labels_find(l, names[id]), id);
	}
	cr_assert_null(weir_labels_name(l, 0));
	cr_assert_null(weir_labels_name(l, 7));
	cr_assert_eq(weir_labels_find(l, "nope"), 0);

	static const struct {
		const char *ip;
		uint32_t id;
	} cases[] = {
		{"10.0.0.0", 1},        {"10.255.255.255", 1},   {"9.255.255.255", 0},
		{"11.0.0.0", 0},        {"10.0.255.255", 1},     {"10.1.0.0", 2},
		{"10.1.255.255", 2},    {"10.2.0.0", 1},         {"10.1.2.2", 2},
		{"10.1.2.3", 3},        {"10.1.2.4", 2},         {"192.168.1.1", 1},
		{"192.168.1.0", 0},     {"192.168.1.2", 0},      {"0.0.0.0", 0},
		{"255.255.255.255", 0},
		{"2001:db8::", 4},      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 4},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 0},    {"2001:db9::", 0},
		{"2001:db8:1:2::", 5},  {"2001:db8:1:2:ffff:ffff:ffff:ffff", 5},
		{"2001:db8:1:3::", 4},  {"2001:db8:1:1:ffff:ffff:ffff:ffff", 4},
		{"2001:db8::53", 6},    {"2001:db8::52", 4},     {"::ffff:10.1.2.3", 0},
		{"::", 0},
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct weir_pkt pk[N + 1];
	const struct weir_pkt *pp[N + 1];
	uint32_t src[N + 1], dst[N + 1];

	/* src = case i, dst = case N-1-i of the same family when there is one */
	for (unsigned i = 0; i < N; i++) {
		unsigned j = N - 1 - i;
		bool v6i = strchr(cases[i].ip, ':') != NULL, v6j = strchr(cases[j].ip, ':') != NULL;

		pk[i] = ip_pkt(cases[i].ip, v6i == v6j ? cases[j].ip : cases[i].ip);
		pp[i] = &pk[i];
	}
	memset(&pk[N], 0, sizeof(pk[N])); /* not IP */
	pk[N].src_ip[0] = 10;
	pp[N] = &pk[N];
	memset(src, 0xff, sizeof(src));
	memset(dst, 0xff, sizeof(dst));
	weir_labels_lookup_burst(l, pp, N + 1, src, dst);
	for (unsigned i = 0; i < N; i++) {
		unsigned j = N - 1 - i;
		bool v6i = strchr(cases[i].ip, ':') != NULL, v6j = strchr(cases[j].ip, ':') != NULL;

		cr_expect_eq(src[i], cases[i].id, "src %s: %u, want %u", cases[i].ip, src[i],
			     cases[i].id);
		cr_expect_eq(dst[i], v6i == v6j ? cases[j].id : cases[i].id, "dst of packet %u", i);
	}
	cr_expect_eq(src[N], 0);
	cr_expect_eq(dst[N], 0);
	weir_labels_free(l);
	unlink(path);
}

/*
 * Thousands of long prefixes (IPv4 /25../32, IPv6 /25../128 sharing heads at every byte):
 * the tables are sized from the file (tbl8 groups counted per distinct head), and every
 * prefix must then be found with its own label.
 */
Test(labels, long_prefixes_fit_the_sized_tables, .init = eal_up, .fini = eal_down)
{
	enum { N = 3000 };
	static char text[N * 2 * 64];
	static struct weir_pkt pk[2 * N];
	static const struct weir_pkt *pp[2 * N];
	static uint32_t want[2 * N], src[2 * N], dst[2 * N];
	uint64_t r = 0x9e3779b97f4a7c15u;
	size_t off = 0;
	char path[64], err[256];

	for (unsigned i = 0; i < N; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		/* IPv4: a /32 inside 172.16/12, unique by i */
		uint32_t v4 = 0xac100000u | (i * 331u % 0xfffffu);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%u.%u.%u.%u,h%u\n", v4 >> 24,
					(v4 >> 16) & 255, (v4 >> 8) & 255, v4 & 255, i);
		pk[2 * i] = ip_pkt("0.0.0.0", "0.0.0.0");
		for (int b = 0; b < 4; b++)
			pk[2 * i].src_ip[b] = (uint8_t)(v4 >> (24 - 8 * b));
		want[2 * i] = 2 * i + 1;
		/* IPv6: 2001:db8:<i/256>:<random>::<i> /128 */
		char a6[64];
		snprintf(a6, sizeof(a6), "2001:db8:%x:%x::%x", i / 256, (unsigned)(r & 0xffff), i);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s/128,v%u\n", a6, i);
		pk[2 * i + 1] = ip_pkt(a6, "::1");
		want[2 * i + 1] = 2 * i + 2;
	}
	struct weir_labels *l = load_text(text, path, err, sizeof(err));
	cr_assert_not_null(l, "%s", err);
	cr_assert_eq(weir_labels_count(l), 2 * N);
	for (unsigned i = 0; i < 2 * N; i++)
		pp[i] = &pk[i];
	weir_labels_lookup_burst(l, pp, 2 * N, src, dst);
	for (unsigned i = 0; i < 2 * N; i++)
		cr_assert_eq(src[i], want[i], "packet %u: %u, want %u", i, src[i], want[i]);
	weir_labels_free(l);
	unlink(path);
}

Test(labels, needs_the_eal)
{
	/* without the EAL: a clear error, no crash */
	char path[64], err[256];
	struct weir_labels *l = load_text("10.0.0.0/8,a\n", path, err, sizeof(err));
	cr_assert_null(l);
	cr_expect(strstr(err, "EAL is not initialised"), "%s", err);
	unlink(path);
}

Test(labels, quoted_fields_bom_crlf, .init = eal_up, .fini = eal_down)
{
	char path[64], err[256];
	struct weir_labels *l = load_text("\xef\xbb\xbf\"10.0.0.0/8\",\"a\"\r\n\"::/1\" , b # not a comment\r\n",
					  path, err, sizeof(err));
	cr_assert_not_null(l, "%s", err);
	cr_expect_eq(weir_labels_count(l), 2);
	cr_expect_str_eq(weir_labels_name(l, 1), "a");
	cr_expect_str_eq(weir_labels_name(l, 2), "b # not a comment");
	weir_labels_free(l);
	unlink(path);
}

/* Bursts longer than WEIR_BURST_MAX are taken in chunks; /0 labels what nothing else does. */
Test(labels, long_burst_and_default_route, .init = eal_up, .fini = eal_down)
{
	char path[64], err[256];
	struct weir_labels *l = load_text("0.0.0.0/0,internet\n10.0.0.0/8,corp\n::/0,v6 internet\n"
					  "fe80::/10,link-local\n",
					  path, err, sizeof(err));
	cr_assert_not_null(l, "%s", err);
	enum { N = WEIR_BURST_MAX * 2 + 7 };
	static struct weir_pkt pk[N];
	static const struct weir_pkt *pp[N];
	static uint32_t src[N], dst[N];

	for (unsigned i = 0; i < N; i++) {
		switch (i % 3) {
		case 0: pk[i] = ip_pkt("10.9.8.7", "8.8.8.8"); break;
		case 1: pk[i] = ip_pkt("fe80::1", "2001:db8::1"); break;
		default: memset(&pk[i], 0, sizeof(pk[i])); break;
		}
		pp[i] = &pk[i];
	}
	weir_labels_lookup_burst(l, pp, N, src, dst);
	for (unsigned i = 0; i < N; i++) {
		static const uint32_t ws[3] = {2, 4, 0}, wd[3] = {1, 3, 0};

		cr_assert_eq(src[i], ws[i % 3], "packet %u", i);
		cr_assert_eq(dst[i], wd[i % 3], "packet %u", i);
	}
	weir_labels_free(l);
	unlink(path);
}

/* Several tables at once (unique rte_lpm names), and many created one after another. */
Test(labels, many_tables, .init = eal_up, .fini = eal_down)
{
	char p1[64], p2[64], err[256];
	struct weir_labels *a = load_text("10.0.0.0/8,a\n", p1, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	struct weir_labels *b = load_text("2001:db8::/32,b\n", p2, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	struct weir_labels *c = weir_labels_load(p1, err, sizeof(err)); /* same file again */
	weir_labels_free(a);
	cr_assert_not_null(c, "%s", err);
	struct weir_pkt pk = ip_pkt("10.1.1.1", "1.1.1.1");
	const struct weir_pkt *pp = &pk;
	uint32_t s, d;
	weir_labels_lookup_burst(c, &pp, 1, &s, &d);
	cr_assert_eq(s, 1);
	cr_assert_eq(d, 0);
	weir_labels_lookup_burst(b, &pp, 1, &s, &d); /* IPv4 packet, IPv6-only table */
	cr_assert_eq(s, 0);
	weir_labels_free(b);
	/* one after another beside c (the test EAL has 256 MiB; each family's table takes
	   64 MiB of tbl24) */
	for (int i = 0; i < 8; i++) {
		struct weir_labels *x = weir_labels_load(i & 1 ? p2 : p1, err, sizeof(err));
		cr_assert_not_null(x, "round %d: %s", i, err);
		weir_labels_free(x);
	}
	weir_labels_lookup_burst(c, &pp, 1, &s, &d);
	cr_assert_eq(s, 1);
	weir_labels_free(c);
	/* an empty file: no tables, every lookup 0 */
	unlink(p2); /* its name is reused */
	struct weir_labels *e = load_text("# nothing\n\n", p2, err, sizeof(err));
	cr_assert_not_null(e, "%s", err);
	cr_assert_eq(weir_labels_count(e), 0);
	weir_labels_lookup_burst(e, &pp, 1, &s, &d);
	cr_assert_eq(s + d, 0);
	weir_labels_free(e);
	unlink(p1);
	unlink(p2);
}

/* Each bad file: NULL and exactly "PATH:LINE: reason..." */
Test(labels, bad_files_name_file_and_line, .init = eal_up, .fini = eal_down)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *why; /* the message after "PATH:LINE: " starts with this */
	} cases[] = {
		{"10.0.0.0/8,a\n10.0.0/8,b\n", 2, "bad CIDR '10.0.0/8': not an IPv4 address"},
		{"hello,world\n", 1, "bad CIDR 'hello': not an IPv4 address"},
		{"2001:db8::/32,a\n2001:db8:::/48,b\n", 2, "bad CIDR '2001:db8:::/48': not an IPv6"},
		{"10.0.0.0/,a\n", 1, "bad CIDR '10.0.0.0/': missing prefix length"},
		{"10.0.0.0/8x,a\n", 1, "bad CIDR '10.0.0.0/8x': prefix length is not a number"},
		{"# c\n\n10.0.0.0/33,a\n", 3, "prefix length 33 out of range in '10.0.0.0/33' (0-32)"},
		{"2001:db8::/129,a\n", 1, "prefix length 129 out of range in '2001:db8::/129' (0-128)"},
		{"10.0.0.0/99999999999,a\n", 1, "prefix length 99999999999 out of range"},
		{"# c\n10.0.0.0/8\n", 2, "missing label"},
		{"10.0.0.0/8,\n", 1, "missing label"},
		{"10.0.0.0/8,   \t\n", 1, "missing label"},
		{"10.0.0.0/8,\"\"\n", 1, "missing label"},
		{",corp\n", 1, "missing CIDR"},
		{"10.0.0.0/8,\"corp\n", 1, "unterminated quoted label"},
		{"10.0.0.0/8,\"corp\" x\n", 1, "unexpected text after the quoted label"},
		{"10.0.0.0/8,a\n10.1.2.3/16,b\n", 2, "host bits set in '10.1.2.3/16' (the prefix is 10.1.0.0/16)"},
		{"2001:db8::1/64,b\n", 1, "host bits set in '2001:db8::1/64' (the prefix is 2001:db8::/64)"},
		{"10.0.0.0/8,a\n\n10.0.0.0/8,a\n10.0.0.0/8,b\n", 4,
		 "duplicate prefix 10.0.0.0/8: labelled \"b\" here and \"a\" on line 1"},
		{"2001:db8::/32,a\n10.0.0.0/8,x\n2001:0db8:0::/32,b\n", 3,
		 "duplicate prefix 2001:db8::/32: labelled \"b\" here and \"a\" on line 1"},
		{"1.2.3.4,a\n1.2.3.4/32,b\n", 2,
		 "duplicate prefix 1.2.3.4/32: labelled \"b\" here and \"a\" on line 1"},
		{"1.0.0.0/8,0123456789012345678901234567890123456789012345678901234567890123\n", 1,
		 "label too long (64 bytes, at most 63)"},
		{"1.0.0.0/8,\"0123456789012345678901234567890123456789012345678901234567890123\"\n",
		 1, "label too long (at most 63 bytes)"},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[64], err[512], want[512];
		struct weir_labels *l = load_text(cases[i].text, path, err, sizeof(err));

		cr_expect_null(l, "case %u loaded", i);
		weir_labels_free(l);
		snprintf(want, sizeof(want), "%s:%u: %s", path, cases[i].line, cases[i].why);
		cr_expect(strncmp(err, want, strlen(want)) == 0, "case %u:\n got  %s\n want %s", i, err,
			  want);
		unlink(path);
	}
	/* a 63-byte label is fine */
	char path[64], err[256];
	struct weir_labels *l = load_text(
		"1.0.0.0/8,012345678901234567890123456789012345678901234567890123456789012\n", path,
		err, sizeof(err));
	cr_expect_not_null(l, "%s", err);
	weir_labels_free(l);
	unlink(path);
	/* a file that is not there */
	l = weir_labels_load("/nonexistent/labels.csv", err, sizeof(err));
	cr_expect_null(l);
	cr_expect_str_eq(err, "/nonexistent/labels.csv: cannot open: No such file or directory");
}

/* ------------------------------------------------------- DNS: crafted frames */

struct buf {
	uint8_t b[4096];
	uint32_t n;
};

static void put(struct buf *f, const void *src, uint32_t n)
{
	cr_assert_leq(f->n + n, sizeof(f->b));
	memcpy(f->b + f->n, src, n);
	f->n += n;
}

static void put8(struct buf *f, uint8_t v)
{
	put(f, &v, 1);
}

static void put16(struct buf *f, uint16_t v)
{
	put8(f, (uint8_t)(v >> 8));
	put8(f, (uint8_t)v);
}

static void put32(struct buf *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

/* "a.b.c" as uncompressed labels + root */
static void put_name(struct buf *f, const char *dotted)
{
	while (*dotted) {
		const char *e = strchr(dotted, '.');
		size_t k = e ? (size_t)(e - dotted) : strlen(dotted);

		put8(f, (uint8_t)k);
		put(f, dotted, (uint32_t)k);
		dotted += k + (e != NULL);
	}
	put8(f, 0);
}

static void dns_hdr(struct buf *f, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
		    uint16_t ar)
{
	put16(f, 0x1234);
	put16(f, flags);
	put16(f, qd);
	put16(f, an);
	put16(f, ns);
	put16(f, ar);
}

static void rr_head(struct buf *f, uint16_t type, uint16_t cls, uint32_t ttl, uint16_t rdlen)
{
	put16(f, type);
	put16(f, cls);
	put32(f, ttl);
	put16(f, rdlen);
}

/*
 * The reference response: question WWW.Example.COM A; answers CNAME ->
 * edge.example.net, A 93.184.216.34 (ttl 60), AAAA 2606:2800:220:1::1946 (ttl
 * 120), A of class CH (ignored), an A with rdlength 5 (ignored), then an NS
 * in authority and a glue A plus an OPT in additional (neither emitted).
 */
static uint32_t ref_q_end, ref_a_end, ref_aaaa_end; /* where ref_response's parts end */

static void ref_response(struct buf *m)
{
	static const uint8_t a4[4] = {93, 184, 216, 34};
	uint8_t a6[16];
	uint32_t target;

	inet_pton(AF_INET6, "2606:2800:220:1::1946", a6);
	m->n = 0;
	dns_hdr(m, 0x8180, 1, 5, 1, 2);
	put_name(m, "WWW.Example.COM");
	put16(m, 1);
	put16(m, 1);
	ref_q_end = m->n;
	/* CNAME */
	put16(m, 0xc00c);
	rr_head(m, 5, 1, 300, 18);
	target = m->n;
	put_name(m, "edge.example.net");
	/* A, owner = the CNAME target (pointer) */
	put16(m, (uint16_t)(0xc000 | target));
	rr_head(m, 1, 1, 60, 4);
	put(m, a4, 4);
	ref_a_end = m->n;
	put16(m, (uint16_t)(0xc000 | target));
	rr_head(m, 28, 1, 120, 16);
	put(m, a6, 16);
	ref_aaaa_end = m->n;
	put16(m, (uint16_t)(0xc000 | target));
	rr_head(m, 1, 3, 60, 4); /* class CH */
	put(m, a4, 4);
	put16(m, (uint16_t)(0xc000 | target));
	rr_head(m, 1, 1, 60, 5); /* A with 5 bytes */
	put(m, a4, 4);
	put8(m, 0);
	/* authority NS */
	put16(m, 0xc010); /* example.com */
	rr_head(m, 2, 1, 3600, 6);
	put8(m, 3);
	put(m, "ns1", 3);
	put16(m, 0xc010);
	/* additional: glue A, OPT */
	put16(m, (uint16_t)(0xc000 | (m->n - 6)));
	rr_head(m, 1, 1, 3600, 4);
	put(m, a4, 4);
	put8(m, 0);
	rr_head(m, 41, 1232, 0, 0);
}

enum { L4_UDP = 17, L4_TCP = 6 };

/* Ethernet + IPv4 or IPv6 + UDP/TCP (sport -> dport) + payload */
static void frame(struct buf *f, int v6, int l4, uint16_t sport, uint16_t dport,
		  const uint8_t *pl, uint32_t plen)
{
	static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	uint32_t l4len = (l4 == L4_UDP ? 8 : 20) + plen;

	f->n = 0;
	put(f, macs, 12);
	if (!v6) {
		static const uint8_t ips[8] = {192, 0, 2, 53, 192, 0, 2, 1};

		put16(f, 0x0800);
		put8(f, 0x45);
		put8(f, 0);
		put16(f, (uint16_t)(20 + l4len));
		put32(f, 0);
		put8(f, 64);
		put8(f, (uint8_t)l4);
		put16(f, 0);
		put(f, ips, 8);
	} else {
		uint8_t a[16];

		put16(f, 0x86dd);
		put32(f, 0x60000000);
		put16(f, (uint16_t)l4len);
		put8(f, (uint8_t)l4);
		put8(f, 64);
		inet_pton(AF_INET6, "2001:db8::53", a);
		put(f, a, 16);
		inet_pton(AF_INET6, "2001:db8::1", a);
		put(f, a, 16);
	}
	put16(f, sport);
	put16(f, dport);
	if (l4 == L4_UDP) {
		put16(f, (uint16_t)l4len);
		put16(f, 0);
	} else {
		put32(f, 1000);
		put32(f, 2000);
		put16(f, 0x5018);
		put16(f, 65535);
		put32(f, 0);
	}
	put(f, pl, plen);
}

/* Parse frame bytes [0, len) from an exact-size heap copy (pkt_len = len). */
static unsigned parse_exact(const uint8_t *data, uint32_t len, uint64_t ts,
			    struct weir_dns_answer *out, unsigned max)
{
	uint8_t *c = malloc(len ? len : 1);
	struct weir_pkt p;
	unsigned n;

	cr_assert_not_null(c);
	memcpy(c, data, len);
	weir_pkt_parse(c, len, len, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	n = weir_dns_parse(&p, c, len, ts, out, max);
	free(c);
	return n;
}

static const uint64_t TS = UINT64_C(1700000000123456789);

static void expect_ref_answers(const struct weir_dns_answer *a, unsigned n)
{
	char s[64];

	cr_assert_eq(n, 2);
	cr_expect_eq(a[0].ip_version, 4);
	weir_pkt_format_ip(4, a[0].ip, s, sizeof(s));
	cr_expect_str_eq(s, "93.184.216.34");
	for (int i = 4; i < 16; i++)
		cr_expect_eq(a[0].ip[i], 0);
	cr_expect_eq(a[0].expiry_ns, TS + UINT64_C(60000000000));
	cr_expect_eq(a[1].ip_version, 6);
	weir_pkt_format_ip(6, a[1].ip, s, sizeof(s));
	cr_expect_str_eq(s, "2606:2800:220:1::1946");
	cr_expect_eq(a[1].expiry_ns, TS + UINT64_C(120000000000));
	for (unsigned i = 0; i < n; i++) {
		cr_expect_str_eq(a[i].name, "www.example.com");
		cr_expect_eq(a[i].name_hash, weir_dns_name_hash("www.example.com"));
		cr_expect_neq(a[i].name_hash, 0);
	}
}

Test(dns, udp_v4_v6_response)
{
	struct buf m, f;
	struct weir_dns_answer a[8];

	ref_response(&m);
	for (int v6 = 0; v6 <= 1; v6++) {
		frame(&f, v6, L4_UDP, 53, 40000, m.b, m.n);
		memset(a, 0xaa, sizeof(a));
		expect_ref_answers(a, parse_exact(f.b, f.n, TS, a, 8));
		/* port 53 on the destination side is accepted too (QR decides) */
		frame(&f, v6, L4_UDP, 40000, 53, m.b, m.n);
		cr_expect_eq(parse_exact(f.b, f.n, TS, a, 8), 2);
		/* not port 53 */
		frame(&f, v6, L4_UDP, 5353, 40000, m.b, m.n);
		cr_expect_eq(parse_exact(f.b, f.n, TS, a, 8), 0);
	}
	/* max caps the answers written */
	frame(&f, 0, L4_UDP, 53, 40000, m.b, m.n);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 1), 1);
	cr_expect_eq(a[0].ip_version, 4);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 0), 0);
	/* a query (QR = 0) gives nothing */
	m.b[2] &= 0x7f;
	frame(&f, 0, L4_UDP, 53, 40000, m.b, m.n);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 8), 0);
	/* any rcode is fine (NXDOMAIN with answers is odd but parsed) */
	ref_response(&m);
	m.b[3] = 0x83;
	frame(&f, 0, L4_UDP, 53, 40000, m.b, m.n);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 8), 2);
	/* bytes after the last record are ignored */
	ref_response(&m);
	put32(&m, 0xdeadbeef);
	frame(&f, 0, L4_UDP, 53, 40000, m.b, m.n);
	expect_ref_answers(a, parse_exact(f.b, f.n, TS, a, 8));
}

Test(dns, tcp_length_prefixed_messages)
{
	struct buf m, seg, f;
	struct weir_dns_answer a[8];

	ref_response(&m);
	/* one message */
	seg.n = 0;
	put16(&seg, (uint16_t)m.n);
	put(&seg, m.b, m.n);
	frame(&f, 0, L4_TCP, 53, 40000, seg.b, seg.n);
	expect_ref_answers(a, parse_exact(f.b, f.n, TS, a, 8));
	/* two messages in one segment: both read */
	put16(&seg, (uint16_t)m.n);
	put(&seg, m.b, m.n);
	frame(&f, 1, L4_TCP, 53, 40000, seg.b, seg.n);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 8), 4);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 3), 3);
	/* a complete one then the head of the next: the complete one */
	seg.n -= 10;
	frame(&f, 0, L4_TCP, 53, 40000, seg.b, seg.n);
	expect_ref_answers(a, parse_exact(f.b, f.n, TS, a, 8));
	/* every cut of a single message: nothing */
	for (uint32_t k = 0; k < m.n + 2; k++) {
		frame(&f, 0, L4_TCP, 53, 40000, seg.b, k);
		cr_assert_eq(parse_exact(f.b, f.n, TS, a, 8), 0, "TCP payload cut at %u", k);
	}
	/* the length prefix missing (a message continued from an earlier segment) */
	frame(&f, 0, L4_TCP, 53, 40000, m.b, m.n);
	cr_expect_eq(parse_exact(f.b, f.n, TS, a, 8), 0);
}

/* Every prefix of a valid response frame, and every cut of the message in a consistent datagram. */
Test(dns, truncations_give_nothing)
{
	struct buf m, f;
	struct weir_dns_answer a[8];

	ref_response(&m);
	frame(&f, 0, L4_UDP, 53, 40000, m.b, m.n);
	for (uint32_t k = 0; k < f.n; k++)
		cr_assert_eq(parse_exact(f.b, k, TS, a, 8), 0, "frame cut at %u of %u", k, f.n);
	cr_assert_eq(parse_exact(f.b, f.n, TS, a, 8), 2);
	for (uint32_t k = 0; k < m.n; k++) {
		frame(&f, k & 1, L4_UDP, 53, 40000, m.b, k);
		cr_assert_eq(parse_exact(f.b, f.n, TS, a, 8), 0, "message cut at %u of %u", k, m.n);
	}
	/* parse_exact's len is also the bound when the parsed packet claims more */
	frame(&f, 0, L4_UDP, 53, 40000, m.b, m.n);
	uint8_t *c = malloc(f.n - 1);
	struct weir_pkt p;
	memcpy(c, f.b, f.n - 1);
	weir_pkt_parse(f.b, f.n, f.n, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p); /* whole frame */
	cr_assert_eq(weir_dns_parse(&p, c, f.n - 1, TS, a, 8), 0); /* but only n-1 bytes given */
	free(c);
}

/*
 * The first fragment of an IP-fragmented response (MF set, offset 0; the UDP length
 * is the whole datagram's): the answers complete in it count, as tshark shows them
 * once reassembled. A cut inside the question gives nothing; so does the same cut
 * without MF (a capture cut short).
 */
Test(dns, first_ip_fragment_keeps_the_complete_answers)
{
	struct buf m, f;
	struct weir_dns_answer a[8];

	ref_response(&m);
	for (int v6 = 0; v6 <= 1; v6++) {
		for (uint32_t k = 0; k <= m.n; k++) {
			uint32_t hl = v6 ? 14 + 40 + 8 : 14 + 20 + 8, want;
			struct buf g;

			frame(&f, v6, L4_UDP, 53, 40000, m.b, m.n);
			g.n = 0;
			if (!v6) {
				put(&g, f.b, hl + k);
				g.b[16] = (uint8_t)((20 + 8 + k) >> 8); /* IP total length: the fragment */
				g.b[17] = (uint8_t)(20 + 8 + k);
				g.b[20] = 0x20; /* MF */
			} else { /* a fragment header (offset 0, M) between IPv6 and UDP */
				put(&g, f.b, 14 + 40);
				g.b[14 + 4] = (uint8_t)((8 + 8 + k) >> 8);
				g.b[14 + 5] = (uint8_t)(8 + 8 + k);
				g.b[14 + 6] = 44;
				put8(&g, 17);
				put8(&g, 0);
				put16(&g, 0x0001); /* offset 0, M = 1 */
				put32(&g, 0xabcd);
				put(&g, f.b + 14 + 40, 8 + k);
			}
			want = k < ref_a_end ? 0 : k < ref_aaaa_end ? 1 : 2;
			if (k < ref_q_end)
				want = 0;
			cr_assert_eq(parse_exact(g.b, g.n, TS, a, 8), want, "IPv%d fragment of %u bytes",
				     v6 ? 6 : 4, k);
			if (want == 2)
				expect_ref_answers(a, 2);
			/* the same bytes, not a fragment: a datagram cut short */
			if (!v6 && k < m.n) {
				g.b[20] = 0;
				cr_assert_eq(parse_exact(g.b, g.n, TS, a, 8), 0);
			}
		}
	}
}

static unsigned parse_msg_udp(const struct buf *m, struct weir_dns_answer *a, unsigned max)
{
	struct buf f;

	frame(&f, 0, L4_UDP, 53, 40000, m->b, m->n);
	return parse_exact(f.b, f.n, TS, a, max);
}

/* A response whose question is `qname_wire` (raw bytes) and one A answer pointing at it. */
static void with_question(struct buf *m, const uint8_t *qname_wire, uint32_t qlen)
{
	m->n = 0;
	dns_hdr(m, 0x8180, 1, 1, 0, 0);
	put(m, qname_wire, qlen);
	put16(m, 1);
	put16(m, 1);
	put16(m, 0xc00c);
	rr_head(m, 1, 1, 30, 4);
	put32(m, 0x0a000001);
}

Test(dns, names_compression_loops_and_limits)
{
	struct buf m;
	struct weir_dns_answer a[4];

	/* question is a pointer to itself: a loop */
	static const uint8_t self[] = {0xc0, 0x0c};
	with_question(&m, self, sizeof(self));
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* two labels then a pointer back to the first label: a loop with content */
	static const uint8_t loop2[] = {1, 'a', 1, 'b', 0xc0, 0x0c};
	with_question(&m, loop2, sizeof(loop2));
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* answer name: pointer past the end of the message */
	static const uint8_t ok[] = {3, 'f', 'O', 'o', 0};
	with_question(&m, ok, sizeof(ok));
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1);
	cr_expect_str_eq(a[0].name, "foo");
	m.b[12 + sizeof(ok) + 4 + 1] = 0xff; /* answer's pointer -> 0x0cff */
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* a label length running past the end */
	static const uint8_t longlab[] = {60, 'a', 'b', 0};
	with_question(&m, longlab, sizeof(longlab));
	m.n = 12 + 4; /* the message ends inside the label */
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* extended (0x40) and reserved (0x80) label types */
	static const uint8_t ext[] = {0x41, 'a', 0}, res[] = {0x81, 'a', 0};
	with_question(&m, ext, sizeof(ext));
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	with_question(&m, res, sizeof(res));
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* root question name */
	static const uint8_t root[] = {0};
	with_question(&m, root, sizeof(root));
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1);
	cr_expect_str_eq(a[0].name, ".");
	/* escapes: non-printable bytes, '.' and '\' inside a label */
	static const uint8_t odd[] = {6, 'A', 1, '.', '\\', ' ', 0xff, 2, 'C', 'd', 0};
	with_question(&m, odd, sizeof(odd));
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1);
	cr_expect_str_eq(a[0].name, "a\\001\\046\\092\\032\\255.cd");
	/* 255 bytes of wire name is the limit */
	uint8_t big[300];
	uint32_t n = 0;
	for (int i = 0; i < 4; i++) {
		big[n++] = 62;
		memset(big + n, 'x', 62);
		n += 62;
	}
	big[n++] = 0; /* 4 * 63 + 1 = 253 */
	with_question(&m, big, n);
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1);
	cr_expect_eq(strlen(a[0].name), 4 * 62 + 3);
	big[n - 1] = 1;
	big[n++] = 'y';
	big[n++] = 0; /* 255 */
	with_question(&m, big, n);
	cr_expect_eq(parse_msg_udp(&m, a, 4), 1);
	big[n - 1] = 1;
	big[n++] = 'z';
	big[n++] = 0; /* 257 */
	with_question(&m, big, n);
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* a name written out longer than WEIR_DNS_NAME_MAX - 1 (escapes): unusable */
	n = 0;
	for (int i = 0; i < 3; i++) {
		big[n++] = 63;
		memset(big + n, 0x01, 63);
		n += 63;
	}
	big[n++] = 0;
	with_question(&m, big, n);
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* a chain of pointers (each to the next) is followed up to the hop limit */
	m.n = 0;
	dns_hdr(&m, 0x8180, 1, 1, 0, 0);
	put_name(&m, "chain.example"); /* at 12 */
	put16(&m, 1);
	put16(&m, 1);
	uint32_t prev = 12;
	/* answer 1: a TXT record whose rdata holds 100 pointers, each to the one before */
	put16(&m, 0xc00c);
	rr_head(&m, 16, 1, 30, 200);
	for (int i = 0; i < 100; i++) {
		put16(&m, (uint16_t)(0xc000 | prev));
		prev = m.n - 2;
	}
	/* answer 2: A whose owner name starts at the end of the chain */
	put16(&m, (uint16_t)(0xc000 | prev));
	rr_head(&m, 1, 1, 30, 4);
	put32(&m, 0x0a000002);
	m.b[7] = 2;
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1, "a chain of 101 pointers");
	cr_expect_str_eq(a[0].name, "chain.example");
	/* 130 pointers: past the hop limit (128) */
	m.n = 0;
	dns_hdr(&m, 0x8180, 1, 2, 0, 0);
	put_name(&m, "chain.example");
	put16(&m, 1);
	put16(&m, 1);
	prev = 12;
	put16(&m, 0xc00c);
	rr_head(&m, 16, 1, 30, 260);
	for (int i = 0; i < 130; i++) {
		put16(&m, (uint16_t)(0xc000 | prev));
		prev = m.n - 2;
	}
	put16(&m, (uint16_t)(0xc000 | prev));
	rr_head(&m, 1, 1, 30, 4);
	put32(&m, 0x0a000002);
	cr_assert_eq(parse_msg_udp(&m, a, 4), 0, "a chain of 131 pointers");
}

Test(dns, sections_counts_and_ttl)
{
	struct buf m;
	struct weir_dns_answer a[4];
	static const uint8_t q[] = {1, 'x', 0};

	/* no question: nothing to name the addresses with */
	m.n = 0;
	dns_hdr(&m, 0x8180, 0, 1, 0, 0);
	put_name(&m, "x");
	rr_head(&m, 1, 1, 30, 4);
	put32(&m, 0x0a000001);
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* counts promising more records than there are */
	with_question(&m, q, sizeof(q));
	m.b[11] = 1; /* one additional record that is not there */
	cr_expect_eq(parse_msg_udp(&m, a, 4), 0);
	/* two questions: the first names the answers */
	m.n = 0;
	dns_hdr(&m, 0x8180, 2, 1, 0, 0);
	put_name(&m, "First.example");
	put32(&m, 0x00010001);
	put_name(&m, "second.example");
	put32(&m, 0x00010001);
	put16(&m, 0xc000 | 31);
	rr_head(&m, 1, 1, 0x80000000u, 4); /* TTL with the top bit: 0 (RFC 2181) */
	put32(&m, 0x0a000001);
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1);
	cr_expect_str_eq(a[0].name, "first.example");
	cr_expect_eq(a[0].expiry_ns, TS);
	m.n -= 14; /* the RR head and rdata again, with a TTL of 2^31 - 1 */
	rr_head(&m, 1, 1, 0x7fffffffu, 4);
	put32(&m, 0x0a000001);
	cr_assert_eq(parse_msg_udp(&m, a, 4), 1);
	cr_expect_eq(a[0].expiry_ns, TS + UINT64_C(0x7fffffff) * 1000000000u);
	/* an expiry past 2^64 saturates */
	struct buf f;
	frame(&f, 0, L4_UDP, 53, 1, m.b, m.n);
	cr_assert_eq(parse_exact(f.b, f.n, UINT64_MAX - 5, a, 4), 1);
	cr_expect_eq(a[0].expiry_ns, UINT64_MAX);
}

Test(dns, name_hash)
{
	cr_expect_neq(weir_dns_name_hash(""), 0);
	cr_expect_eq(weir_dns_name_hash("example.com"), weir_dns_name_hash("example.com"));
	cr_expect_neq(weir_dns_name_hash("example.com"), weir_dns_name_hash("example.org"));
	/* no collisions over a few thousand similar names, every length 0..40 */
	enum { N = 4000 };
	static uint64_t h[N];
	char s[64];
	for (int i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "host%d.%.*s", i, i % 41, "abcdefghijklmnopqrstuvwxyz0123456789abcdef");
		h[i] = weir_dns_name_hash(s);
		cr_assert_neq(h[i], 0);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			cr_assert_neq(h[i], h[j], "%d %d", i, j);
}

/* --------------------------------------------------------------- DNS table */

static struct weir_dns_answer ans(uint8_t ver, const char *ip, uint64_t hash, uint64_t expiry)
{
	struct weir_dns_answer a;

	memset(&a, 0, sizeof(a));
	a.ip_version = ver;
	cr_assert_eq(inet_pton(ver == 4 ? AF_INET : AF_INET6, ip, a.ip), 1);
	a.name_hash = hash;
	a.expiry_ns = expiry;
	return a;
}

static uint64_t look(const struct weir_dns_table *t, uint8_t ver, const char *ip, uint64_t ts)
{
	uint8_t b[16] = {0};

	cr_assert_eq(inet_pton(ver == 4 ? AF_INET : AF_INET6, ip, b), 1);
	return weir_dns_table_lookup(t, ver, b, ts);
}

static void table_basics(void)
{
	char err[128];
	struct weir_dns_table *t = weir_dns_table_create(1000, SOCKET_ID_ANY, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	struct weir_dns_answer a = ans(4, "10.0.0.1", 111, 1000);

	cr_expect_eq(look(t, 4, "10.0.0.1", 0), 0);
	weir_dns_table_insert(t, &a);
	cr_expect_eq(look(t, 4, "10.0.0.1", 0), 111);
	cr_expect_eq(look(t, 4, "10.0.0.1", 999), 111);
	cr_expect_eq(look(t, 4, "10.0.0.1", 1000), 0); /* ts == expiry: expired */
	cr_expect_eq(look(t, 4, "10.0.0.1", 1001), 0);
	cr_expect_eq(look(t, 4, "10.0.0.2", 0), 0);
	/* the same address again: new name, new expiry */
	a = ans(4, "10.0.0.1", 222, 5000);
	weir_dns_table_insert_ts(t, &a, 1500);
	cr_expect_eq(look(t, 4, "10.0.0.1", 1500), 222);
	cr_expect_eq(look(t, 4, "10.0.0.1", 4999), 222);
	cr_expect_eq(look(t, 4, "10.0.0.1", 5000), 0);
	/* a shorter TTL replaces a longer one too: the latest answer wins */
	a = ans(4, "10.0.0.1", 333, 2000);
	weir_dns_table_insert(t, &a);
	cr_expect_eq(look(t, 4, "10.0.0.1", 2000), 0);
	/* IPv4 and IPv6 with the same leading bytes are distinct */
	cr_expect_eq(look(t, 6, "a00:1::", 0), 0);
	a = ans(6, "a00:1::", 444, 9000);
	weir_dns_table_insert(t, &a);
	cr_expect_eq(look(t, 6, "a00:1::", 0), 444);
	cr_expect_eq(look(t, 4, "10.0.0.1", 0), 333);
	a = ans(6, "::a00:1", 555, 9000);
	weir_dns_table_insert(t, &a);
	cr_expect_eq(look(t, 6, "::a00:1", 0), 555);
	cr_expect_eq(look(t, 6, "a00:1::", 0), 444);
	cr_expect_eq(look(t, 4, "10.0.0.1", 0), 333);
	cr_expect_eq(weir_dns_table_evictions(t), 0);
	/* a thousand addresses fit a 1024-slot table without evictions (8-slot windows) */
	char ip[32];
	uint64_t ev0 = weir_dns_table_evictions(t);
	for (int i = 0; i < 600; i++) {
		snprintf(ip, sizeof(ip), "172.16.%d.%d", i / 256, i % 256);
		a = ans(4, ip, 1000 + (uint64_t)i, 1u << 30);
		weir_dns_table_insert_ts(t, &a, 1);
	}
	uint32_t found = 0;
	for (int i = 0; i < 600; i++) {
		snprintf(ip, sizeof(ip), "172.16.%d.%d", i / 256, i % 256);
		uint64_t h = look(t, 4, ip, 2);
		found += h == 1000 + (uint64_t)i;
		cr_assert(h == 0 || h == 1000 + (uint64_t)i);
	}
	cr_expect_eq(found + weir_dns_table_evictions(t) - ev0, 600);
	cr_log_info("600 addresses in 1024 slots: %" PRIu64 " evictions", weir_dns_table_evictions(t) - ev0);
	weir_dns_table_free(t);
}

Test(dns_table, insert_lookup_expiry_replace_v4_v6)
{
	table_basics();
}

Test(dns_table, same_with_dpdk_memory, .init = eal_up, .fini = eal_down)
{
	table_basics();
}

Test(dns_table, full_table_evicts_expired_first_then_earliest)
{
	char err[128];
	/* 3 rounds up to 4 slots: one probe window of 4 covers the table */
	struct weir_dns_table *t = weir_dns_table_create(3, SOCKET_ID_ANY, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	static const char *ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
	static const uint64_t exp[] = {400, 100, 300, 200};
	for (int i = 0; i < 4; i++) {
		struct weir_dns_answer a = ans(4, ips[i], 10 + (uint64_t)i, exp[i]);
		weir_dns_table_insert_ts(t, &a, 50);
	}
	for (int i = 0; i < 4; i++)
		cr_expect_eq(look(t, 4, ips[i], 50), 10 + (uint64_t)i);
	cr_expect_eq(weir_dns_table_evictions(t), 0);
	/* full, nothing expired at ts 50: the one expiring first (10.0.0.2) goes, counted */
	struct weir_dns_answer a = ans(4, "10.0.0.5", 50, 1000);
	weir_dns_table_insert_ts(t, &a, 50);
	cr_expect_eq(weir_dns_table_evictions(t), 1);
	cr_expect_eq(look(t, 4, "10.0.0.2", 50), 0);
	cr_expect_eq(look(t, 4, "10.0.0.5", 50), 50);
	cr_expect_eq(look(t, 4, "10.0.0.1", 50), 10);
	/* at ts 250, 10.0.0.4 (expiry 200) is expired: replaced, not an eviction */
	a = ans(6, "2001:db8::6", 60, 2000);
	weir_dns_table_insert_ts(t, &a, 250);
	cr_expect_eq(weir_dns_table_evictions(t), 1);
	cr_expect_eq(look(t, 6, "2001:db8::6", 250), 60);
	cr_expect_eq(look(t, 4, "10.0.0.3", 250), 12);
	cr_expect_eq(look(t, 4, "10.0.0.1", 250), 10);
	/* the same address of a full table: replaced in place, no eviction */
	a = ans(4, "10.0.0.1", 70, 3000);
	weir_dns_table_insert_ts(t, &a, 250);
	cr_expect_eq(weir_dns_table_evictions(t), 1);
	cr_expect_eq(look(t, 4, "10.0.0.1", 2999), 70);
	/* plain insert cannot tell expired from live: 10.0.0.3 (300) goes and counts */
	a = ans(4, "10.0.0.7", 80, 4000);
	weir_dns_table_insert(t, &a);
	cr_expect_eq(weir_dns_table_evictions(t), 2);
	cr_expect_eq(look(t, 4, "10.0.0.3", 0), 0);
	cr_expect_eq(look(t, 4, "10.0.0.7", 0), 80);
	weir_dns_table_free(t);

	/* capacity 1 */
	t = weir_dns_table_create(1, SOCKET_ID_ANY, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	a = ans(4, "1.1.1.1", 1, 10);
	weir_dns_table_insert_ts(t, &a, 0);
	a = ans(4, "1.1.1.2", 2, 10);
	weir_dns_table_insert_ts(t, &a, 5);
	cr_expect_eq(weir_dns_table_evictions(t), 1);
	cr_expect_eq(look(t, 4, "1.1.1.2", 5), 2);
	cr_expect_eq(look(t, 4, "1.1.1.1", 5), 0);
	weir_dns_table_free(t);
	/* bad capacities */
	cr_expect_null(weir_dns_table_create(0, SOCKET_ID_ANY, err, sizeof(err)));
	cr_expect(strstr(err, "capacity 0"), "%s", err);
	weir_dns_table_free(NULL);
}

Test(dns_names, dictionary)
{
	struct weir_dns_names *d = weir_dns_names_create();
	char s[64];

	cr_assert_not_null(d);
	cr_expect_null(weir_dns_names_get(d, 42));
	cr_expect_null(weir_dns_names_get(d, 0));
	for (int i = 0; i < 20000; i++) {
		snprintf(s, sizeof(s), "n%d.example", i);
		weir_dns_names_add(d, weir_dns_name_hash(s), s);
	}
	weir_dns_names_add(d, weir_dns_name_hash("n1.example"), "other"); /* keeps the first */
	weir_dns_names_add(d, 0, "zero");                                 /* ignored */
	for (int i = 0; i < 20000; i++) {
		snprintf(s, sizeof(s), "n%d.example", i);
		const char *g = weir_dns_names_get(d, weir_dns_name_hash(s));
		cr_assert_not_null(g, "%s", s);
		cr_assert_str_eq(g, s);
	}
	cr_expect_null(weir_dns_names_get(d, 0));
	weir_dns_names_free(d);
	weir_dns_names_free(NULL);
}

/* ----------------------------------------------- captures: ../shared/data */

static const char *shared_data(void)
{
	const char *d = getenv("WEIR_SHARED_DATA");
	static char buf[1024];

	if (!d) {
		snprintf(buf, sizeof(buf), "%s/../shared/data", WEIR_SOURCE_DIR);
		d = buf;
	}
	char probe[1200];
	snprintf(probe, sizeof(probe), "%s/pcaps/proto", d);
	return access(probe, R_OK) == 0 ? d : NULL;
}

#define NEED_SHARED_DATA(d)                                                                   \
	const char *d = shared_data();                                                        \
	if (!d)                                                                               \
		cr_skip_test("../shared/data is absent (set WEIR_SHARED_DATA): skipped")

typedef void (*frame_fn)(void *ctx, uint64_t frame_no, const uint8_t *data, uint32_t len,
			 uint64_t ts_ns, int dlt);

/* Every record of a capture, each in an exact-size heap block. */
static uint64_t each_frame(const char *path, frame_fn fn, void *ctx)
{
	char e[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, e);
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0;

	cr_assert_not_null(pc, "%s: %s", path, e);
	int dlt = pcap_datalink(pc);
	while (pcap_next_ex(pc, &h, &data) == 1) {
		uint8_t *c = malloc(h->caplen ? h->caplen : 1);
		cr_assert_not_null(c);
		memcpy(c, data, h->caplen);
		fn(ctx, ++n, c, h->caplen,
		   (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec, dlt);
		free(c);
	}
	pcap_close(pc);
	return n;
}

struct robust {
	uint64_t frames, parsed, answers, forced;
};

/* weir_dns_parse on every frame, and again as if every UDP/TCP payload came from port 53. */
static void robust_frame(void *ctx, uint64_t no, const uint8_t *data, uint32_t len, uint64_t ts,
			 int dlt)
{
	struct robust *r = ctx;
	struct weir_dns_answer a[64];
	struct weir_pkt p;

	(void)no;
	r->frames++;
	if (!weir_linktype_supported(dlt))
		return;
	for (int layer = 0; layer <= 1; layer++) {
		weir_pkt_parse(data, len, len, (enum weir_linktype)dlt, (enum weir_pkt_layer)layer,
			       &p);
		unsigned n = weir_dns_parse(&p, data, len, ts, a, 64);
		r->parsed++;
		r->answers += n;
		for (unsigned i = 0; i < n; i++) {
			cr_assert(a[i].ip_version == 4 || a[i].ip_version == 6);
			cr_assert_lt(strlen(a[i].name), WEIR_DNS_NAME_MAX);
			cr_assert_eq(a[i].name_hash, weir_dns_name_hash(a[i].name));
		}
		if (p.flags & WEIR_PKT_F_L4) {
			p.src_port = 53;
			r->forced++;
			r->answers += weir_dns_parse(&p, data, len, ts, a, 64);
		}
	}
}

Test(dns_captures, malformed_captures_parse_in_bounds, .timeout = 120)
{
	NEED_SHARED_DATA(d);
	char dir[1200];
	snprintf(dir, sizeof(dir), "%s/pcaps/proto", d);
	DIR *dh = opendir(dir);
	cr_assert_not_null(dh);
	struct dirent *de;
	unsigned files = 0;
	struct robust r = {0};

	while ((de = readdir(dh))) {
		if (fnmatch("bad-*.pcap*", de->d_name, 0) != 0 && fnmatch("dns-*.pcap", de->d_name, 0) != 0)
			continue;
		char path[1600];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		each_frame(path, robust_frame, &r);
		files++;
	}
	closedir(dh);
	cr_assert_geq(files, 9, "bad-*.pcap and dns-*.pcap captures");
	cr_log_info("%u captures, %" PRIu64 " frames, %" PRIu64 " parses (%" PRIu64
		    " with port 53 forced), %" PRIu64 " answers",
		    files, r.frames, r.parsed, r.forced, r.answers);
}

/* --------------------------------------------------------------- vs tshark */

struct ans_row {
	uint64_t frame;
	uint8_t ver;
	uint8_t ip[16];
	uint32_t ttl;
	char name[WEIR_DNS_NAME_MAX];
};

struct rows {
	struct ans_row *r;
	size_t n, cap;
	uint64_t *flagged; /* frames tshark reassembled (R) or marked malformed (M) */
	char *flag_kind;
	size_t nf, capf;
	uint64_t (*map)[2]; /* F rows: reassembled frame -> first fragment's frame */
	size_t nmap, capmap;
};

static void rows_add(struct rows *s, const struct ans_row *r)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		cr_assert_not_null(s->r);
	}
	s->r[s->n++] = *r;
}

static int row_cmp(const void *a, const void *b)
{
	const struct ans_row *x = a, *y = b;
	int c;

	if (x->frame != y->frame)
		return x->frame < y->frame ? -1 : 1;
	if ((c = strcmp(x->name, y->name)))
		return c;
	if (x->ver != y->ver)
		return x->ver < y->ver ? -1 : 1;
	if ((c = memcmp(x->ip, y->ip, 16)))
		return c;
	return x->ttl < y->ttl ? -1 : x->ttl > y->ttl;
}

static bool have_tshark(void)
{
	return system("tshark -v >/dev/null 2>&1") == 0;
}

/* tshark's rows for a capture, through tests/integration/tshark_dns.py */
static void tshark_rows(const char *cap, struct rows *s)
{
	const char *src = getenv("WEIR_SOURCE_DIR") ? getenv("WEIR_SOURCE_DIR") : WEIR_SOURCE_DIR;
	char cmd[4096], line[2048];

	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/integration/tshark_dns.py' '%s'", src, cap);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *save, *kind = strtok_r(line, "\t\n", &save), *fr = strtok_r(NULL, "\t\n", &save);

		cr_assert(kind && fr, "bad tshark_dns.py row");
		if (kind[0] == 'A') {
			char *name = strtok_r(NULL, "\t\n", &save), *ip = strtok_r(NULL, "\t\n", &save);
			char *ttl = strtok_r(NULL, "\t\n", &save);
			struct ans_row r = {0};

			cr_assert(name && ip && ttl);
			r.frame = strtoull(fr, NULL, 10);
			snprintf(r.name, sizeof(r.name), "%s", name);
			r.ver = strchr(ip, ':') ? 6 : 4;
			cr_assert_eq(inet_pton(r.ver == 4 ? AF_INET : AF_INET6, ip, r.ip), 1, "%s", ip);
			r.ttl = (uint32_t)strtoul(ttl, NULL, 10);
			if (r.ttl > INT32_MAX) /* as weir_dns_parse: RFC 2181 */
				r.ttl = 0;
			rows_add(s, &r);
		} else {
			if (kind[0] == 'F') { /* reassembled in fr, first fragment in the next field */
				char *f0 = strtok_r(NULL, "\t\n", &save);

				cr_assert_not_null(f0);
				if (s->nmap == s->capmap) {
					s->capmap = s->capmap ? s->capmap * 2 : 64;
					s->map = realloc(s->map, s->capmap * sizeof(*s->map));
				}
				s->map[s->nmap][0] = strtoull(fr, NULL, 10);
				s->map[s->nmap++][1] = strtoull(f0, NULL, 10);
			}
			if (s->nf == s->capf) {
				s->capf = s->capf ? s->capf * 2 : 64;
				s->flagged = realloc(s->flagged, s->capf * sizeof(*s->flagged));
				s->flag_kind = realloc(s->flag_kind, s->capf);
			}
			s->flagged[s->nf] = strtoull(fr, NULL, 10);
			s->flag_kind[s->nf++] = kind[0];
		}
	}
	cr_assert_eq(pclose(f), 0, "%s failed", cmd);
	/* answers of a reassembled datagram belong to its first fragment, the frame weir reads */
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->nmap; k++)
			if (s->r[i].frame == s->map[k][0])
				s->r[i].frame = s->map[k][1];
}

static void weir_frame(void *ctx, uint64_t no, const uint8_t *data, uint32_t len, uint64_t ts,
		       int dlt)
{
	struct rows *s = ctx;
	struct weir_dns_answer a[256];
	struct weir_pkt p;

	cr_assert(weir_linktype_supported(dlt), "link type %d", dlt);
	/* tshark dissects DNS inside tunnels: the inner analysis layer (the same as the outer one
	   for packets without a tunnel) */
	weir_pkt_parse(data, len, len, (enum weir_linktype)dlt, WEIR_PKT_INNER, &p);
	unsigned n = weir_dns_parse(&p, data, len, ts, a, 256);
	for (unsigned i = 0; i < n; i++) {
		struct ans_row r = {.frame = no, .ver = a[i].ip_version};

		memcpy(r.ip, a[i].ip, 16);
		cr_assert_geq(a[i].expiry_ns, ts);
		cr_assert_eq((a[i].expiry_ns - ts) % 1000000000u, 0);
		r.ttl = (uint32_t)((a[i].expiry_ns - ts) / 1000000000u);
		snprintf(r.name, sizeof(r.name), "%s", a[i].name);
		rows_add(s, &r);
	}
}

/* A frame whose answers are known to differ from tshark's, and why. */
struct known_diff {
	uint64_t frame;
	const char *why;
};

static void describe(const struct ans_row *r, char *out, size_t n)
{
	char ip[64];

	weir_pkt_format_ip(r->ver, r->ip, ip, sizeof(ip));
	snprintf(out, n, "%s %s ttl %u", r->name, ip, r->ttl);
}

/*
 * Compare, frame by frame, the (question name, address, ttl) answers of weir
 * and tshark. Frames listed in `known` must differ (and a listed frame that
 * agrees fails too, so the list stays exact); every other frame must agree.
 */
static void compare_capture(const char *rel, const struct known_diff *known, size_t nknown,
			    unsigned min_answers)
{
	NEED_SHARED_DATA(d);
	if (!have_tshark())
		cr_skip_test("tshark is not installed: skipped");
	char path[1200];
	snprintf(path, sizeof(path), "%s/pcaps/%s", d, rel);
	struct rows t = {0}, w = {0};
	tshark_rows(path, &t);
	uint64_t frames = each_frame(path, weir_frame, &w);
	if (t.n)
		qsort(t.r, t.n, sizeof(*t.r), row_cmp);
	if (w.n)
		qsort(w.r, w.n, sizeof(*w.r), row_cmp);

	size_t i = 0, j = 0, agree_frames = 0, agree_answers = 0;
	unsigned unexpected = 0;
	bool *seen = calloc(nknown + 1, 1);
	while (i < t.n || j < w.n) {
		uint64_t fr = i < t.n && (j >= w.n || t.r[i].frame <= w.r[j].frame) ? t.r[i].frame
										   : w.r[j].frame;
		size_t i0 = i, j0 = j;
		while (i < t.n && t.r[i].frame == fr)
			i++;
		while (j < w.n && w.r[j].frame == fr)
			j++;
		bool same = i - i0 == j - j0;
		for (size_t k = 0; same && k < i - i0; k++)
			same = row_cmp(&t.r[i0 + k], &w.r[j0 + k]) == 0;
		const struct known_diff *kd = NULL;
		for (size_t k = 0; k < nknown; k++)
			if (known[k].frame == fr) {
				kd = &known[k];
				seen[k] = true;
			}
		if (same) {
			agree_frames++;
			agree_answers += i - i0;
			cr_expect_null(kd, "%s frame %" PRIu64 ": listed as a difference (%s) but agrees",
				       rel, fr, kd ? kd->why : "");
			continue;
		}
		char flags[64] = "";
		for (size_t k = 0; k < t.nf; k++)
			if (t.flagged[k] == fr)
				snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), " %c",
					 t.flag_kind[k]);
		if (kd) {
			cr_log_info("%s frame %" PRIu64 ": tshark %zu answers, weir %zu (known: %s)", rel,
				    fr, i - i0, j - j0, kd->why);
			continue;
		}
		unexpected++;
		cr_log_error("%s frame %" PRIu64 ": tshark %zu answers, weir %zu; tshark flags:%s",
			     rel, fr, i - i0, j - j0, flags[0] ? flags : " none");
		char s[400];
		for (size_t k = i0; k < i; k++) {
			describe(&t.r[k], s, sizeof(s));
			cr_log_error("  tshark: %s", s);
		}
		for (size_t k = j0; k < j; k++) {
			describe(&w.r[k], s, sizeof(s));
			cr_log_error("  weir:   %s", s);
		}
	}
	for (size_t k = 0; k < nknown; k++)
		cr_expect(seen[k], "%s frame %" PRIu64 ": listed as a difference (%s) but neither has answers",
			  rel, known[k].frame, known[k].why);
	cr_log_info("%s: %" PRIu64 " frames; %zu frames with answers agree (%zu answers); "
		    "tshark %zu answers, weir %zu; %zu known differences",
		    rel, frames, agree_frames, agree_answers, t.n, w.n, nknown);
	cr_expect_eq(unexpected, 0, "%s: %u frames differ from tshark (see the log)", rel, unexpected);
	cr_expect_geq(agree_answers, min_answers, "%s: too few answers compared", rel);
	free(seen);
	free(t.r);
	free(t.flagged);
	free(t.flag_kind);
	free(t.map);
	free(w.r);
}

TestSuite(tshark, .timeout = 300);

Test(tshark, dns_ppa)
{
	compare_capture("proto/dns-ppa-dns.cap.pcap", NULL, 0, 10);
}

Test(tshark, dns_tcp)
{
	compare_capture("proto/dns-tcpdump-dns_tcp.pcap", NULL, 0, 2);
}

Test(tshark, dns_fragmented)
{
	compare_capture("proto/dns-ndpi-fragmented.pcap", NULL, 0, 1);
}

Test(tshark, dns_exfiltration)
{
	compare_capture("proto/dns-ndpi-exfiltration.pcap", NULL, 0, 0);
}

Test(tshark, dns_bad_traffic)
{
	compare_capture("proto/dns-ndpi-bad-dns-traffic.pcap", NULL, 0, 0);
}

Test(tshark, bad_badpackets)
{
	compare_capture("proto/bad-ndpi-badpackets.pcap", NULL, 0, 1);
}

Test(tshark, bad_fuzz_2006)
{
	compare_capture("proto/bad-ndpi-fuzz-2006-06-26-2594.pcap", NULL, 0, 1);
}

/*
 * nDPI's malformed_dns.pcap: crafted responses (question 1 www.xt.com, question 2 a
 * name of 34 + 63 + 63 + ... bytes of labels, past the 255-byte limit, then an A and a
 * CNAME whose target is over-long too). weir rejects a message with an invalid name
 * (none of it is trusted); tshark prints "<Name too long>" and shows the A record.
 */
#define XT_COM_WHY "crafted response: 2nd question name over 255 bytes; weir rejects the message"

Test(tshark, bad_malformed_dns)
{
	static const struct known_diff known[] = {
		{2, XT_COM_WHY}, {3, XT_COM_WHY}, {5, XT_COM_WHY}, {6, XT_COM_WHY},
	};
	compare_capture("proto/bad-ndpi-malformed_dns.pcap", known, 4, 0);
}

Test(tshark, ndpi_mix)
{
	static const struct known_diff known[] = {
		/* UDP 5333 -> 21554: tshark's heuristic DNS-over-UDP dissector takes it;
		   weir reads port 53 only */
		{4521, "DNS on UDP 5333 -> 21554 (not port 53), found by tshark's heuristic"},
		/* the malformed_dns.pcap responses, again */
		{23909, XT_COM_WHY}, {23925, XT_COM_WHY}, {24772, XT_COM_WHY}, {24780, XT_COM_WHY},
	};
	compare_capture("ndpi-mix.pcap", known, 5, 300);
}
