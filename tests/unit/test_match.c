/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Unit tests of lib/match: the three rule formats (every supported Suricata
 * keyword with hand-computed payloads that must and must not match, port
 * syntax, loader errors with exact FILE:LINE), grouping, the cache, the data
 * path (dedup, negation, streams), the ET Open corpus table and the
 * Hyperscan oracle on ../shared/data (skipped when that folder is absent).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tools/hsmatch.h"
#include "weir_match.h"

/* ------------------------------------------------------------- fixtures */

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weir-match-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* A rule set with its diagnostics captured in memory. */
struct fx {
	struct weir_ruleset *rs;
	struct weir_match *m;
	struct weir_match_worker *w;
	FILE *diag;
	char *diag_buf;
	size_t diag_len;
};

static void fx_init(struct fx *f, bool strict, uint8_t mode)
{
	memset(f, 0, sizeof(*f));
	f->diag = open_memstream(&f->diag_buf, &f->diag_len);
	struct weir_rules_opts o = { .strict = strict, .diag = f->diag, .default_mode = mode };
	f->rs = weir_ruleset_new(&o);
	cr_assert_not_null(f->rs);
}

static const char *fx_diag(struct fx *f)
{
	fflush(f->diag);
	return f->diag_buf ? f->diag_buf : "";
}

static void fx_free(struct fx *f)
{
	weir_match_worker_free(f->w);
	weir_match_free(f->m);
	weir_ruleset_free(f->rs);
	fclose(f->diag);
	free(f->diag_buf);
}

static int fx_load(struct fx *f, const char *name, const char *text)
{
	return weir_ruleset_load(f->rs, write_file(name, text, strlen(text)), WEIR_RULES_AUTO);
}

static void fx_compile(struct fx *f, const struct weir_match_opts *o, unsigned streams)
{
	char err[512];
	f->m = weir_match_compile(f->rs, o, err, sizeof(err));
	cr_assert_not_null(f->m, "compile: %s", err);
	f->w = weir_match_worker_new(f->m, streams, err, sizeof(err));
	cr_assert_not_null(f->w, "worker: %s", err);
}

static struct weir_match_pkt tcp_pkt(uint16_t sport, uint16_t dport, uint8_t flags)
{
	return (struct weir_match_pkt){ .l4_proto = 6, .flags = (uint8_t)(flags | WEIR_MATCH_F_PORTS),
					.src_port = sport, .dst_port = dport };
}

/* Block-scan and return the hit of rule `id` (NULL when it did not match). */
static const struct weir_match_hit *scan_for(struct fx *f, const struct weir_match_pkt *p,
					     const void *data, size_t len, uint32_t id)
{
	static struct weir_match_result res;
	cr_assert_geq(weir_match_scan(f->w, p, data, (uint32_t)len, &res), 0);
	for (uint32_t i = 0; i < res.n_hits; i++)
		if (res.hit[i].id == id)
			return &res.hit[i];
	return NULL;
}

/* ------------------------------------------------ Suricata keywords */

/* A to-server packet on an established flow, TCP 40000 -> 80. */
#define CLIENT_FLAGS (WEIR_MATCH_F_TO_SERVER | WEIR_MATCH_F_ESTABLISHED | WEIR_MATCH_F_FLOW)

struct kw_case {
	const char *opts;            /* between msg and sid */
	const char *payload;
	size_t len;                  /* 0: strlen */
	bool match;
};

/* 1 matched, 0 not, -1 the rule did not load (diag printed). */
static int kw_match(const struct kw_case *c)
{
	struct fx f;
	char rule[2048];
	fx_init(&f, false, WEIR_MODE_PACKET);
	snprintf(rule, sizeof(rule), "alert tcp any any -> any any (msg:\"t\"; %s sid:7;)\n", c->opts);
	if (fx_load(&f, "k.rules", rule) != 1) {
		cr_log_error("rule did not load: %s: %s", rule, fx_diag(&f));
		fx_free(&f);
		return -1;
	}
	fx_compile(&f, NULL, 0);
	struct weir_match_pkt p = tcp_pkt(40000, 80, CLIENT_FLAGS);
	int r = scan_for(&f, &p, c->payload, c->len ? c->len : strlen(c->payload), 7) != NULL;
	fx_free(&f);
	return r;
}

static void run_cases(const struct kw_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = kw_match(&cases[i]);
		cr_expect_eq(r, cases[i].match, "%s on \"%s\": got %d, want %d", cases[i].opts,
			     cases[i].payload, r, cases[i].match);
	}
}

TestSuite(suricata, .init = setup, .fini = teardown);

Test(suricata, content_and_nocase)
{
	static const struct kw_case c[] = {
		{ "content:\"abc\";", "xxabcxx", 0, true },
		{ "content:\"abc\";", "xxabxcx", 0, false },
		{ "content:\"abc\";", "xxABCxx", 0, false },
		{ "content:\"abc\"; nocase;", "xxABCxx", 0, true },
		{ "content:\"aBc\"; nocase;", "abc", 0, true },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

/* offset/depth: the content must lie in [offset, offset + depth) */
Test(suricata, offset_and_depth)
{
	static const struct kw_case c[] = {
		{ "content:\"abc\"; offset:2;", "xxabc", 0, true },
		{ "content:\"abc\"; offset:2;", "xabc", 0, false },
		{ "content:\"abc\"; offset:2;", "abcxabc", 0, true },
		{ "content:\"abc\"; depth:5;", "xxabc", 0, true },
		{ "content:\"abc\"; depth:5;", "xxxabc", 0, false },
		{ "content:\"abc\"; offset:2; depth:4;", "xxabc", 0, true },
		{ "content:\"abc\"; offset:2; depth:4;", "xxxabc", 0, true },
		{ "content:\"abc\"; offset:2; depth:4;", "xxxxabc", 0, false },
		{ "content:\"abc\"; offset:2; depth:4;", "xabcx", 0, false },
		{ "content:\"abc\"; depth:3;", "abc", 0, true },
		/* startswith = depth of the content's length at offset 0 */
		{ "content:\"abc\"; startswith;", "abcx", 0, true },
		{ "content:\"abc\"; startswith;", "xabc", 0, false },
		{ "content:\"abc\"; endswith;", "xxabc", 0, true },
		{ "content:\"abc\"; endswith;", "abcx", 0, false },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

/* distance d / within w: the next content starts d.. bytes after the
 * previous one ends and ends at most d + w bytes after it */
Test(suricata, distance_and_within)
{
	static const struct kw_case c[] = {
		{ "content:\"ab\"; content:\"cd\"; distance:2;", "abxxcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; distance:2;", "abxcd", 0, false },
		{ "content:\"ab\"; content:\"cd\"; distance:2;", "abxxxxxcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; distance:0;", "cdab", 0, false },
		{ "content:\"ab\"; content:\"cd\"; distance:0;", "abcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; within:4;", "abcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; within:4;", "abxxcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; within:4;", "abxxxcd", 0, false },
		{ "content:\"ab\"; content:\"cd\"; distance:1; within:3;", "abxcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; distance:1; within:3;", "abxxcd", 0, true },
		{ "content:\"ab\"; content:\"cd\"; distance:1; within:3;", "abxxxcd", 0, false },
		{ "content:\"ab\"; content:\"cd\"; distance:1; within:3;", "abcd", 0, false },
		/* a later "ab" gives the chain another chance, as Suricata retries */
		{ "content:\"ab\"; content:\"cd\"; within:2;", "abxxcd abcd", 0, true },
		/* three in a chain */
		{ "content:\"a\"; content:\"b\"; distance:1; within:1; content:\"c\"; within:1;", "axbc", 0, true },
		{ "content:\"a\"; content:\"b\"; distance:1; within:1; content:\"c\"; within:1;", "axbxc", 0, false },
		/* offset on the head of a chain anchors the chain */
		{ "content:\"ab\"; offset:1; depth:3; content:\"cd\"; distance:0;", "xabzzcd", 0, true },
		{ "content:\"ab\"; offset:1; depth:3; content:\"cd\"; distance:0;", "xxxabzzcd", 0, false },
		/* distance/within on the first content count from the start */
		{ "content:\"ab\"; distance:2;", "xxab", 0, true },
		{ "content:\"ab\"; distance:2;", "xab", 0, false },
		{ "content:\"ab\"; distance:1; within:3;", "xab", 0, true },
		{ "content:\"ab\"; distance:1; within:3;", "xxab", 0, true },
		{ "content:\"ab\"; distance:1; within:3;", "xxxab", 0, false },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

Test(suricata, independent_contents_any_order)
{
	static const struct kw_case c[] = {
		{ "content:\"xyz\"; content:\"abc\";", "abc..xyz", 0, true },
		{ "content:\"xyz\"; content:\"abc\";", "xyz..abc", 0, true },
		{ "content:\"xyz\"; content:\"abc\";", "xyz", 0, false },
		/* overlapping contents both present */
		{ "content:\"abc\"; content:\"bcd\";", "abcd", 0, true },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

Test(suricata, negated_content)
{
	static const struct kw_case c[] = {
		{ "content:\"abc\"; content:!\"xyz\";", "abc", 0, true },
		{ "content:\"abc\"; content:!\"xyz\";", "abc xyz", 0, false },
		{ "content:\"abc\"; content:!\"xyz\";", "xyz abc", 0, false },
		{ "content:\"abc\"; content:!\"xyz\"; depth:3;", "abcxyz", 0, true },
		{ "content:\"abc\"; content:!\"xyz\"; depth:3;", "xyzabc", 0, false },
		{ "content:\"abc\"; content:!\"XYZ\"; nocase;", "abc xyz", 0, false },
		{ "content:!\"xyz\"; content:\"abc\";", "abc", 0, true },
		{ "content:\"abc\"; pcre:!\"/x+z/\";", "abc xxz", 0, false },
		{ "content:\"abc\"; pcre:!\"/x+z/\";", "abc xy", 0, true },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

Test(suricata, hex_and_escapes)
{
	static const struct kw_case c[] = {
		{ "content:\"|41 42|C|0d0a|\";", "xABC\r\n", 0, true },
		{ "content:\"|41 42|C|0d0a|\";", "xABC\n", 0, false },
		{ "content:\"|00 ff|\";", "a\0\xff", 3, true },
		{ "content:\"|00 ff|\";", "a\0\xfe", 3, false },
		{ "content:\"a\\;b\\\"c\\\\d\\:e\";", "a;b\"c\\d:e", 0, true },
		/* regex syntax in a content is literal */
		{ "content:\".*(\";", "x.*(", 0, true },
		{ "content:\".*(\";", "xab(", 0, false },
		{ "content:\"|2e|\"; nocase;", "a.b", 0, true },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

Test(suricata, pcre_and_flags)
{
	static const struct kw_case c[] = {
		{ "pcre:\"/ab+c/\";", "xabbbc", 0, true },
		{ "pcre:\"/ab+c/\";", "xABBC", 0, false },
		{ "pcre:\"/ab+c/i\";", "xABBC", 0, true },
		{ "pcre:\"/a.c/\";", "a\nc", 0, false },
		{ "pcre:\"/a.c/s\";", "a\nc", 0, true },
		{ "pcre:\"/^x/\";", "a\nx", 0, false },
		{ "pcre:\"/^x/m\";", "a\nx", 0, true },
		{ "pcre:\"/a b c/x\";", "abc", 0, true },
		{ "pcre:\"/bc/A\";", "abc", 0, false },
		{ "pcre:\"/ab/A\";", "abc", 0, true },
		{ "pcre:\"/ab+?c/G\";", "abbc", 0, true },
		/* relative: from the previous match's end; ^ = right there */
		{ "content:\"foo\"; pcre:\"/^bar/R\";", "foobar", 0, true },
		{ "content:\"foo\"; pcre:\"/^bar/R\";", "foo bar", 0, false },
		{ "content:\"foo\"; pcre:\"/bar/R\";", "foo xbar", 0, true },
		{ "content:\"foo\"; pcre:\"/bar/R\";", "barfoo", 0, false },
		{ "content:\"foo\"; pcre:\"/b.r/Ri\";", "fooBxR", 0, true },
		{ "content:\"foo\"; pcre:\"/bar/R\"; content:\"z\"; within:1;", "fooxbarz", 0, true },
		{ "content:\"foo\"; pcre:\"/bar/R\"; content:\"z\"; within:1;", "fooxbarxz", 0, false },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

/* Ignored keywords load and change nothing. */
Test(suricata, ignored_keywords)
{
	static const struct kw_case c[] = {
		{ "content:\"abc\"; fast_pattern; reference:url,example.com; metadata:a b, c d;"
		  " classtype:misc-attack; rev:3; gid:1; target:dest_ip; rawbytes;", "abc", 0, true },
		{ "content:\"abc\"; fast_pattern:only;", "abc", 0, true },
		{ "content:\"abc\"; fast_pattern:1,2;", "ab", 0, false },
	};
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

Test(suricata, header_fields_and_metadata)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "h.rules",
			     "drop udp any 53 -> any any (msg:\"say \\\"hi\\\"\"; content:\"a\"; "
			     "classtype:trojan-activity; sid:10; rev:4;)\n"
			     "pass tcp any any -> any any (content:\"b\"; priority:4; sid:11;)\n"
			     "alert tcp-stream any any -> any any (content:\"c\"; sid:12;)\n"
			     "alert icmp any any -> any any (content:\"d\"; classtype:nosuch; sid:13;)\n"),
		     4, "%s", fx_diag(&f));
	const struct weir_rule *r = weir_ruleset_find(f.rs, 10);
	cr_assert_str_eq(r->msg, "say \"hi\"");
	cr_assert_eq(r->action, WEIR_ACTION_DROP);
	cr_assert_eq(r->rev, 4);
	cr_assert_eq(r->severity, 1);
	cr_assert_eq(r->scope.l4_proto, 17);
	cr_assert_str_eq(r->tags[0], "classtype:trojan-activity");
	cr_assert_eq(r->line, 1);
	r = weir_ruleset_find(f.rs, 11);
	cr_assert_eq(r->action, WEIR_ACTION_PASS);
	cr_assert_eq(r->severity, 4);
	cr_assert_eq(weir_ruleset_find(f.rs, 12)->mode, WEIR_MODE_STREAM);
	cr_assert_eq(weir_ruleset_find(f.rs, 13)->severity, 3);
	cr_assert_eq(weir_ruleset_find(f.rs, 13)->scope.l4_proto, 1);
	fx_free(&f);
}

Test(suricata, line_continuation_and_comments)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "c.rules",
			     "# a comment\n\n#alert tcp any any -> any any (content:\"x\"; sid:1;)\n"
			     "alert tcp any any -> any any (msg:\"m\"; \\\n    content:\"abc\"; \\\n"
			     "    sid:2;)\r\n"
			     "alert tcp any any -> any any (content:\"q\"; sid:3;)\n"), 2, "%s", fx_diag(&f));
	cr_assert_eq(weir_ruleset_find(f.rs, 2)->line, 4);
	cr_assert_eq(weir_ruleset_find(f.rs, 3)->line, 7);
	cr_assert_null(weir_ruleset_find(f.rs, 1));
	fx_free(&f);
}

/* Direction, established and protocol are checked per packet. */
Test(suricata, flow_keyword)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "f.rules",
			     "alert tcp any any -> any any (flow:to_server,established; content:\"a\"; sid:1;)\n"
			     "alert tcp any any -> any any (flow:from_server; content:\"a\"; sid:2;)\n"
			     "alert tcp any any -> any any (flow:not_established; content:\"a\"; sid:3;)\n"
			     "alert tcp any any -> any any (flow:stateless; content:\"a\"; sid:4;)\n"
			     "alert udp any any -> any any (content:\"a\"; sid:5;)\n"), 5, "%s", fx_diag(&f));
	fx_compile(&f, NULL, 0);
	struct weir_match_pkt est_c2s = tcp_pkt(1, 2, CLIENT_FLAGS);
	struct weir_match_pkt new_s2c = tcp_pkt(2, 1, WEIR_MATCH_F_TO_CLIENT | WEIR_MATCH_F_FLOW);
	struct weir_match_pkt unknown = tcp_pkt(1, 2, 0);
	cr_assert_not_null(scan_for(&f, &est_c2s, "a", 1, 1));
	cr_assert_null(scan_for(&f, &new_s2c, "a", 1, 1));
	cr_assert_null(scan_for(&f, &unknown, "a", 1, 1));
	cr_assert_null(scan_for(&f, &est_c2s, "a", 1, 2));
	cr_assert_not_null(scan_for(&f, &new_s2c, "a", 1, 2));
	cr_assert_not_null(scan_for(&f, &new_s2c, "a", 1, 3));
	cr_assert_null(scan_for(&f, &est_c2s, "a", 1, 3));
	cr_assert_null(scan_for(&f, &unknown, "a", 1, 3));
	cr_assert_not_null(scan_for(&f, &unknown, "a", 1, 4));
	cr_assert_null(scan_for(&f, &unknown, "a", 1, 5));
	struct weir_match_pkt udp = { .l4_proto = 17, .flags = WEIR_MATCH_F_PORTS, .src_port = 1, .dst_port = 2 };
	cr_assert_not_null(scan_for(&f, &udp, "a", 1, 5));
	cr_assert_null(scan_for(&f, &udp, "a", 1, 4));
	fx_free(&f);
}

Test(suricata, header_ports_vars_and_bidirectional)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(weir_ruleset_set_var(f.rs, "WEB_PORTS", "[8080,8443]"), 0);
	cr_assert_eq(fx_load(&f, "p.rules",
			     "alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (content:\"a\"; sid:1;)\n"
			     "alert tcp any [1024:,!5000] -> any ![80,443] (content:\"a\"; sid:2;)\n"
			     "alert tcp any any -> any $WEB_PORTS (content:\"a\"; sid:3;)\n"
			     "alert tcp any 25 <> any 3000:3010 (content:\"a\"; sid:4;)\n"
			     "alert tcp any :1023 -> any $SHELLCODE_PORTS (content:\"a\"; sid:5;)\n"),
		     5, "%s", fx_diag(&f));
	fx_compile(&f, NULL, 0);
	struct { uint16_t sp, dp; uint32_t id; bool match; } c[] = {
		{ 40000, 80, 1, true },   { 40000, 81, 1, false },  { 80, 40000, 1, false },
		{ 2000, 22, 2, true },    { 5000, 22, 2, false },   { 1000, 22, 2, false },
		{ 2000, 443, 2, false },  { 2000, 8443, 3, true },  { 2000, 8444, 3, false },
		{ 25, 3005, 4, true },    { 3005, 25, 4, true },    { 3005, 26, 4, false },
		{ 100, 81, 5, true },     { 100, 80, 5, false },    { 2000, 81, 5, false },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct weir_match_pkt p = tcp_pkt(c[i].sp, c[i].dp, 0);
		cr_expect_eq(scan_for(&f, &p, "a", 1, c[i].id) != NULL, c[i].match, "sid %u %u->%u",
			     c[i].id, c[i].sp, c[i].dp);
	}
	/* no ports known: port-scoped rules cannot apply */
	struct weir_match_pkt np = { .l4_proto = 6 };
	cr_assert_null(scan_for(&f, &np, "a", 1, 1));
	fx_free(&f);
}

/* Each way a rule is skipped, counted under its reason, warned with FILE:LINE and sid. */
Test(suricata, skipped_with_reason)
{
	static const struct { const char *rule, *reason; } c[] = {
		{ "alert http any any -> any any (content:\"a\"; sid:%u;)", "proto http" },
		{ "alert tcp any any -> any any (content:\"a\"; http_uri; sid:%u;)", "keyword http_uri" },
		{ "alert tcp any any -> any any (http.uri; content:\"a\"; sid:%u;)", "keyword http.uri" },
		{ "alert tcp any any -> any any (content:\"a\"; dsize:>10; sid:%u;)", "keyword dsize" },
		{ "alert tcp any any -> any any (content:\"a\"; byte_test:1,>,2,0; sid:%u;)", "keyword byte_test" },
		{ "alert tcp any any -> any any (flowbits:isset,x; content:\"a\"; sid:%u;)", "keyword flowbits" },
		{ "alert tcp any any -> any any (content:\"a\"; isdataat:1,relative; sid:%u;)", "keyword isdataat" },
		{ "alert tcp any any -> any any (content:\"a\"; flags:S; sid:%u;)", "keyword flags" },
		{ "alert tcp any any -> any any (content:\"a\"; threshold:type limit, track by_src, count 1, seconds 60; sid:%u;)", "keyword threshold" },
		{ "alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:-2; sid:%u;)", "negative distance" },
		{ "alert tcp any any -> any any (content:\"a\"; content:!\"b\"; within:3; sid:%u;)", "negated relative content" },
		{ "alert tcp any any -> any any (content:!\"a\"; content:\"b\"; distance:0; sid:%u;)", "relative to negated content" },
		{ "alert tcp any any -> any any (content:!\"a\"; sid:%u;)", "only negated content" },
		{ "alert tcp any any -> any any (msg:\"x\"; flow:established; sid:%u;)", "no content or pcre" },
		{ "alert tcp 10.0.0.0/8 any -> any any (content:\"a\"; sid:%u;)", "ip address" },
		{ "alert tcp !$HOME_NET any -> any any (content:\"a\"; sid:%u;)", "ip address" },
		{ "reject tcp any any -> any any (content:\"a\"; sid:%u;)", "action reject" },
		{ "alert tcp any any -> any any (content:\"a\"; flow:only_stream; sid:%u;)", "flow:only_stream" },
		{ "alert tcp any any -> any any (pcre:\"/a/U\"; sid:%u;)", "pcre modifier U" },
		/* packet mode confirms these with PCRE2 (scan.pcre2_*); stream mode cannot */
		{ "alert tcp-stream any any -> any any (pcre:\"/(a)\\1/\"; sid:%u;)", "hyperscan: Back-references are unsupported" },
		{ "alert tcp-stream any any -> any any (pcre:\"/a(?=b)/\"; sid:%u;)", "hyperscan: Zero-width assertions are not supported" },
		{ "alert tcp any any -> any any (content:\"a\"; offset:1; content:\"b\"; pcre:\"/x|^y/R\"; sid:%u;)", "relative pcre with anchor" },
		{ "alert tcp any any -> any any (content:\"z\"; content:\"a\"; offset:2; distance:1; sid:%u;)", "offset/depth with distance/within" },
		{ "alert tcp-stream any any -> any any (content:\"a\"; content:!\"b\"; sid:%u;)", "negated content in stream mode" },
		{ "alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:0; within:65535; sid:%u;)", "hyperscan: Bounded repeat is too large" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct fx f;
		char rule[512], want[512];
		fx_init(&f, false, WEIR_MODE_PACKET);
		snprintf(rule, sizeof(rule), c[i].rule, (unsigned)(100 + i));
		strcat(rule, "\n");
		cr_expect_eq(fx_load(&f, "s.rules", rule), 0, "%s", rule);
		const struct weir_rules_stats *st = weir_ruleset_stats(f.rs);
		cr_expect_eq(st->skipped, 1, "%s: %s", rule, fx_diag(&f));
		cr_expect_eq(weir_rules_stats_count(st, c[i].reason), 1, "%s: want reason '%s', got: %s",
			     rule, c[i].reason, fx_diag(&f));
		snprintf(want, sizeof(want), "%s/s.rules:1: sid %u: skipped: ", tmpdir, (unsigned)(100 + i));
		cr_expect(strncmp(fx_diag(&f), want, strlen(want)) == 0, "diag '%s', want prefix '%s'",
			  fx_diag(&f), want);
		fx_free(&f);
	}
}

Test(suricata, errors_name_file_line_and_sid)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	int n = fx_load(&f, "e.rules",
			"alert tcp any any -> any any (content:\"ok\"; sid:1;)\n"
			"alert tcp any any -> any any (content:\"x\";)\n"
			"alert tcp any any -> any any (content:\"|4|\"; sid:3;)\n"
			"alert tcp any any -> any any (content:\"ok2\"; sid:1;)\n"
			"alert tcp any any -> any any (content:\"abc; sid:5;)\n"
			"alert tcp any any any any (content:\"a\"; sid:6;)\n"
			"alert tcp any any -> any 99999 (content:\"a\"; sid:7;)\n"
			"alert tcp any any -> any any (nocase; content:\"a\"; sid:8;)\n"
			"alert tcp any any -> any any (content:\"abc\"; depth:2; sid:9;)\n"
			"alert tcp any any -> any any (content:\"a\"; content:\"bcd\"; within:2; sid:10;)\n"
			"alert tcp any any -> any any (content:\"\\x\"; sid:11;)\n"
			"garbage\n");
	cr_assert_eq(n, 1);
	const char *want =
		"%1$s/e.rules:2: error: rule has no sid\n"
		"%1$s/e.rules:3: sid 3: error: invalid hex in content \"|4|\"\n"
		"%1$s/e.rules:4: sid 1: error: duplicate id 1 (first defined at %1$s/e.rules:1)\n"
		"%1$s/e.rules:5: error: unterminated quote in option 'content'\n"
		"%1$s/e.rules:6: sid 6: error: header must be: action proto src sport -> dst dport\n"
		"%1$s/e.rules:7: sid 7: error: invalid port '99999'\n"
		"%1$s/e.rules:8: sid 8: error: nocase without a content before it\n"
		"%1$s/e.rules:9: sid 9: error: depth 2 is shorter than its content (3 bytes)\n"
		"%1$s/e.rules:10: sid 10: error: within 2 is shorter than its content (3 bytes)\n"
		"%1$s/e.rules:11: sid 11: error: invalid escape '\\x' in content \"\\x\"\n"
		"%1$s/e.rules:12: error: expected 'header (options)'\n";
	char *exp;
	cr_assert_gt(asprintf(&exp, want, tmpdir), 0);
	cr_assert_str_eq(fx_diag(&f), exp);
	free(exp);
	cr_assert_eq(weir_ruleset_stats(f.rs)->errors, 11);
	cr_assert_eq(weir_rules_stats_count(weir_ruleset_stats(f.rs), "duplicate id"), 1);
	fx_free(&f);
}

Test(suricata, strict_turns_skips_into_errors)
{
	struct fx f;
	fx_init(&f, true, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "s.rules",
			     "alert tcp any any -> any any (content:\"a\"; sid:1;)\n"
			     "alert tcp any any -> any any (content:\"a\"; dsize:5; sid:2;)\n"), -1);
	char *exp;
	cr_assert_gt(asprintf(&exp, "%s/s.rules:2: sid 2: error: keyword 'dsize' not supported\n", tmpdir), 0);
	cr_assert_str_eq(fx_diag(&f), exp);
	free(exp);
	fx_free(&f);
}

/* ----------------------------------------------------------- port sets */

TestSuite(portset);

static void expect_ports(const char *text, const char *ranges)
{
	struct weir_portset ps;
	char err[160], got[1024] = "";
	cr_assert_eq(weir_portset_parse(text, &ps, err, sizeof(err)), 0, "%s: %s", text, err);
	for (unsigned i = 0; i < ps.n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u-%u", i ? "," : "",
			 ps.r[i].lo, ps.r[i].hi);
	cr_assert_str_eq(got, ranges, "%s", text);
}

Test(portset, syntax)
{
	expect_ports("any", "0-65535");
	expect_ports("80", "80-80");
	expect_ports("1024:", "1024-65535");
	expect_ports(":1023", "0-1023");
	expect_ports("1000:2000", "1000-2000");
	expect_ports("!22", "0-21,23-65535");
	expect_ports("[80,443,8000:8100,!8080]", "80-80,443-443,8000-8079,8081-8100");
	expect_ports("[!80]", "0-79,81-65535");
	expect_ports("[1:10,![2,4]]", "1-1,3-3,5-10");
	expect_ports("[80, 443]", "80-80,443-443");
	expect_ports("![1:65535]", "0-0");
}

/* Ranges that start or end at a 64-port word edge, nesting, repeated '!'. */
Test(portset, word_edges_and_nesting)
{
	expect_ports("[0,63,64,127,128,65535]", "0-0,63-64,127-128,65535-65535");
	expect_ports("65535:", "65535-65535");
	expect_ports("[64:127,!64,!127]", "65-126");
	expect_ports("[1000:1063,!1001,!1063]", "1000-1000,1002-1062");
	expect_ports("[!80,!443]", "0-79,81-442,444-65535");
	expect_ports("[[1,2],[3:5,![4]]]", "1-3,5-5");
	expect_ports("!!!80", "0-79,81-65535");
	expect_ports("[any,!1:65534]", "0-0,65535-65535");
	expect_ports("[![!5]]", "5-5");
	struct weir_portset ps;
	char err[160];
	/* exactly 32 ranges: 0, 2, ..., 60, 62-65535 */
	cr_assert_eq(weir_portset_parse("![1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,"
					"39,41,43,45,47,49,51,53,55,57,59,61]", &ps, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(ps.n, 32);
	cr_assert_eq(ps.r[31].lo, 62);
	cr_assert_eq(ps.r[31].hi, 65535);
}

Test(portset, errors)
{
	static const struct { const char *text, *err; } c[] = {
		{ "[80", "expected ',' or ']' in port list at ''" },
		{ "70000", "invalid port '70000'" },
		{ "10:5", "empty port range '10:5'" },
		{ "!any", "port set '!any' is empty" },
		{ "$HTTP_PORTS", "unknown variable $HTTP_PORTS" },
		{ "x", "invalid port 'x'" },
		{ "80x", "invalid port set '80x'" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct weir_portset ps;
		char err[160];
		cr_expect_eq(weir_portset_parse(c[i].text, &ps, err, sizeof(err)), -1, "%s", c[i].text);
		cr_expect_str_eq(err, c[i].err, "%s", c[i].text);
	}
	struct weir_portset ps;
	char many[512] = "[", err[160];
	for (int p = 1; p < 80; p += 2)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%d,", p);
	strcat(many, "999]");
	cr_assert_eq(weir_portset_parse(many, &ps, err, sizeof(err)), -1);
	cr_assert(strstr(err, "too many ranges"), "%s", err);
}

Test(portset, has)
{
	struct weir_portset ps;
	char err[160];
	cr_assert_eq(weir_portset_parse("[22,80:90,!85]", &ps, err, sizeof(err)), 0);
	cr_assert(weir_portset_has(&ps, 22));
	cr_assert(weir_portset_has(&ps, 84));
	cr_assert_not(weir_portset_has(&ps, 85));
	cr_assert(weir_portset_has(&ps, 90));
	cr_assert_not(weir_portset_has(&ps, 91));
	cr_assert_not(weir_portset_has(&ps, 0));
}

/* ------------------------------------------------ native and hs files */

TestSuite(loaders, .init = setup, .fini = teardown);

Test(loaders, native_example_file)
{
	struct fx f;
	fx_init(&f, true, WEIR_MODE_PACKET);
	char path[1024];
	snprintf(path, sizeof(path), "%s/rules/example.yaml", getenv("WEIR_SOURCE_DIR") ? getenv("WEIR_SOURCE_DIR") : ".");
	int n = weir_ruleset_load(f.rs, path, WEIR_RULES_AUTO);
	cr_assert_gt(n, 0, "%s", fx_diag(&f));
	cr_assert_str_eq(fx_diag(&f), "");
	fx_compile(&f, NULL, 16);
	fx_free(&f);
}

Test(loaders, native_fields)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "n.yaml",
			     "rules:\n"
			     "  - id: 1\n"
			     "    msg: curl\n"
			     "    pattern: 'User-Agent:\\s*curl/'\n"
			     "    flags: [nocase, singlematch]\n"
			     "    proto: tcp\n"
			     "    dst_port: [80, \"8000:8100\", \"!8080\"]\n"
			     "    src_port: any\n"
			     "    direction: to_server\n"
			     "    established: true\n"
			     "    mode: stream\n"
			     "    severity: 2\n"
			     "    action: count\n"
			     "    tags: [web, tools]\n"
			     "  - id: 2\n"
			     "    literal: \"a.b\\x01\"\n"
			     "    min_offset: 4\n"
			     "    max_offset: 10\n"
			     "    proto: 132\n"), 2, "%s", fx_diag(&f));
	const struct weir_rule *r = weir_ruleset_find(f.rs, 1);
	cr_assert_str_eq(r->msg, "curl");
	cr_assert_str_eq(r->parts[0].expr, "User-Agent:\\s*curl/");
	cr_assert_eq(r->parts[0].flags, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
	cr_assert_eq(r->scope.l4_proto, 6);
	cr_assert_eq(r->scope.dport.n, 3);
	cr_assert_eq(r->scope.dir, WEIR_DIR_TO_SERVER);
	cr_assert_eq(r->scope.est, WEIR_EST_YES);
	cr_assert_eq(r->mode, WEIR_MODE_STREAM);
	cr_assert_eq(r->severity, 2);
	cr_assert_eq(r->action, WEIR_ACTION_COUNT);
	cr_assert_eq(r->n_tags, 2);
	cr_assert_str_eq(r->tags[1], "tools");
	cr_assert_eq(r->line, 2);
	r = weir_ruleset_find(f.rs, 2);
	cr_assert_str_eq(r->parts[0].expr, "a\\x2eb\\x01");
	cr_assert_eq(r->parts[0].ext.flags, HS_EXT_FLAG_MIN_OFFSET | HS_EXT_FLAG_MAX_OFFSET);
	cr_assert_eq(r->parts[0].ext.min_offset, 4);
	cr_assert_eq(r->scope.l4_proto, 132);
	fx_free(&f);
}

Test(loaders, native_errors)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	int n = fx_load(&f, "bad.yaml",
			"rules:\n"
			"  - id: 1\n"
			"    pattern: 'ok'\n"
			"  - id: 2\n"
			"    pattern: '(unclosed'\n"
			"  - id: 3\n"
			"    pattern: 'a'\n"
			"    colour: red\n"
			"  - id: 4\n"
			"    pattern: 'a'\n"
			"    literal: 'b'\n"
			"  - pattern: 'a'\n"
			"  - id: 1\n"
			"    pattern: 'dup'\n"
			"  - id: 7\n"
			"    pattern: 'a'\n"
			"    mode: sometimes\n"
			"  - id: 8\n"
			"    pattern: 'a'\n"
			"    dst_port: '70000'\n");
	cr_assert_eq(n, 1);
	const char *want =
		"%1$s/bad.yaml:5: id 2: error: invalid regex: Missing close parenthesis for group started at index 0.: (unclosed\n"
		"%1$s/bad.yaml:8: id 3: error: unknown key 'colour'\n"
		"%1$s/bad.yaml:9: id 4: error: a rule needs exactly one of pattern, literal\n"
		"%1$s/bad.yaml:12: error: a rule needs an id\n"
		"%1$s/bad.yaml:13: id 1: error: duplicate id 1 (first defined at %1$s/bad.yaml:2)\n"
		"%1$s/bad.yaml:17: id 7: error: mode: expected one of packet, stream; got 'sometimes'\n"
		"%1$s/bad.yaml:20: id 8: error: dst_port: invalid port '70000'\n";
	char *exp;
	cr_assert_gt(asprintf(&exp, want, tmpdir), 0);
	cr_assert_str_eq(fx_diag(&f), exp);
	free(exp);
	fx_free(&f);
}

Test(loaders, native_syntax_error_and_not_a_rules_file)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "s.yaml", "rules:\n  - id: 1\n   pattern: [\n"), -1);
	cr_assert(strstr(fx_diag(&f), "/s.yaml:3: error: "), "%s", fx_diag(&f));
	cr_assert_eq(fx_load(&f, "t.yaml", "queries: []\n"), 0);
	cr_assert(strstr(fx_diag(&f), "/t.yaml:1: error: expected a mapping with a 'rules:' list\n"),
		  "%s", fx_diag(&f));
	fx_free(&f);
}

Test(loaders, hs_pattern_file)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	int n = fx_load(&f, "p.txt",
			"# comment\n"
			"\n"
			"1:/abc/i\n"
			"2:/a.c/smHV8W\n"
			"3:/x(/\n"
			"4:/abc/q\n"
			"nonsense\n"
			"1:/dup/\n"
			"5:/wi/th/slash/\n"
			"6://\n");
	cr_assert_eq(n, 3, "%s", fx_diag(&f));
	const char *want =
		"%1$s/p.txt:5: id 3: error: invalid regex: Missing close parenthesis for group started at index 1.: x(\n"
		"%1$s/p.txt:6: id 4: error: unknown flag 'q' (flags: i m s H V 8 W L)\n"
		"%1$s/p.txt:7: error: expected ID:/regex/flags, got 'nonsense'\n"
		"%1$s/p.txt:8: id 1: error: duplicate id 1 (first defined at %1$s/p.txt:3)\n"
		"%1$s/p.txt:10: id 6: error: empty expression\n";
	char *exp;
	cr_assert_gt(asprintf(&exp, want, tmpdir), 0);
	cr_assert_str_eq(fx_diag(&f), exp);
	free(exp);
	const struct weir_rule *r = weir_ruleset_find(f.rs, 2);
	cr_assert_eq(r->parts[0].flags, HS_FLAG_DOTALL | HS_FLAG_MULTILINE | HS_FLAG_SINGLEMATCH |
					 HS_FLAG_ALLOWEMPTY | HS_FLAG_UTF8 | HS_FLAG_UCP);
	cr_assert_str_eq(weir_ruleset_find(f.rs, 5)->parts[0].expr, "wi/th/slash");
	cr_assert_eq(weir_ruleset_find(f.rs, 5)->mode, WEIR_MODE_PACKET);
	cr_assert_eq(weir_ruleset_find(f.rs, 5)->scope.l4_proto, 0);
	fx_free(&f);
}

Test(loaders, empty_binary_and_missing_files)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "empty.rules", ""), 0);
	cr_assert_eq(fx_load(&f, "comments.yaml", "# nothing yet\n"), 0);
	static const char garbage[] = "\x7f" "ELF\x02\x01\x01\0\0\0\x03\x00>\x00";
	cr_assert_eq(weir_ruleset_load(f.rs, write_file("garbage.txt", garbage, sizeof(garbage)),
				       WEIR_RULES_AUTO), -1);
	char noise[4096];
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (char)(1 + (i * 7) % 31);
	cr_assert_eq(weir_ruleset_load(f.rs, write_file("noise.rules", noise, sizeof(noise)),
				       WEIR_RULES_AUTO), -1);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/missing.rules", tmpdir);
	cr_assert_eq(weir_ruleset_load(f.rs, missing, WEIR_RULES_AUTO), -1);
	const char *want =
		"%1$s/empty.rules: warning: no rules in file\n"
		"%1$s/comments.yaml: warning: no rules in file\n"
		"%1$s/garbage.txt: error: binary data (NUL byte at offset 7), not a rule file\n"
		"%1$s/noise.rules: error: binary data (control characters), not a rule file\n"
		"%1$s/missing.rules: error: cannot open: No such file or directory\n";
	char *exp;
	cr_assert_gt(asprintf(&exp, want, tmpdir), 0);
	cr_assert_str_eq(fx_diag(&f), exp);
	free(exp);
	const struct weir_rules_stats *st = weir_ruleset_stats(f.rs);
	cr_assert_eq(st->warnings, 2);
	cr_assert_eq(st->errors, 3);
	cr_assert_eq(st->files, 5);
	fx_free(&f);
}

/* --------------------------------------------------------- data path */

TestSuite(scan, .init = setup, .fini = teardown);

/* Hits per rule, deduplicated; matches counted each (every) or once per rule (first). */
Test(scan, dedup_counts_every_or_first_match)
{
	static const struct { bool first; uint32_t m1, m2, total, next; } c[] = {
		{ false, 3, 4, 7, 1 }, /* the next scan: "zz" */
		{ true, 1, 1, 2, 1 },
	};
	for (int k = 0; k < 2; k++) {
		struct fx f;
		fx_init(&f, false, WEIR_MODE_PACKET);
		cr_assert_eq(fx_load(&f, "d.txt", "1:/ab/\n2:/b/\n3:/zz/\n"), 3);
		struct weir_match_opts o = { .block_first_match = c[k].first };
		fx_compile(&f, &o, 0);
		struct weir_match_pkt p = tcp_pkt(1, 2, 0);
		struct weir_match_result res;
		cr_assert_eq(weir_match_scan(f.w, &p, (const uint8_t *)"ab ab ab b", 10, &res), 2);
		cr_assert_eq(res.matches, c[k].total, "first=%d", c[k].first);
		cr_assert_eq(res.hit[0].id, 1);
		cr_assert_eq(res.hit[0].matches, c[k].m1, "first=%d", c[k].first);
		cr_assert_eq(res.hit[1].id, 2);
		cr_assert_eq(res.hit[1].matches, c[k].m2, "first=%d", c[k].first);
		/* the next scan starts afresh */
		cr_assert_eq(weir_match_scan(f.w, &p, (const uint8_t *)"zz", 2, &res), 1);
		cr_assert_eq(res.hit[0].id, 3);
		cr_assert_eq(res.hit[0].matches, c[k].next);
		cr_assert_eq(weir_match_scan(f.w, &p, (const uint8_t *)"", 0, &res), 0);
		fx_free(&f);
	}
}

/* One hand-checked case: a payload and the ids of the rules it must hit. */
struct hit_case {
	const char *payload, *want; /* want: ascending ids, space-separated */
};

/* Block-scan c's payload (TCP 40000 -> 80) and check the ids hit in [lo, hi]. */
static void expect_hits(struct fx *f, const struct hit_case *c, unsigned lo, unsigned hi, int first,
			struct weir_match_result *res)
{
	struct weir_match_pkt p = tcp_pkt(40000, 80, 0);
	cr_assert_geq(weir_match_scan(f->w, &p, (const uint8_t *)c->payload, (uint32_t)strlen(c->payload),
				      res), 0);
	char got[64] = "";
	for (unsigned id = lo; id <= hi; id++)
		for (uint32_t k = 0; k < res->n_hits; k++)
			if (res->hit[k].id == id)
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", got[0] ? " " : "", id);
	cr_assert_str_eq(got, c->want, "first=%d payload '%s'", first, c->payload);
}

/*
 * First-match compiles leave combinations (several contents), negated
 * contents and som_leftmost patterns (Hyperscan refuses SINGLEMATCH on
 * them) with the same hits as every-match compiles, hand-checked.
 */
Test(scan, first_match_same_hits_for_combinations_negations_som)
{
	static const struct hit_case cases[] = {
		{ "foo bar bar", "10 11 12 13" }, { "foo baz bar", "10 12 13" },
		{ "bar foo", "11 12 13" },        { "foofoo", "11" },
		{ "xbarx", "12 13" },             { "nothing", "" },
	};
	for (int first = 0; first < 2; first++) {
		struct fx f;
		fx_init(&f, true, WEIR_MODE_PACKET);
		cr_assert_eq(fx_load(&f, "c.rules",
				     "alert tcp any any -> any any (msg:\"and\"; content:\"foo\"; "
				     "content:\"bar\"; distance:0; sid:10;)\n"
				     "alert tcp any any -> any any (msg:\"neg\"; content:\"foo\"; "
				     "content:!\"baz\"; sid:11;)\n"
				     "alert tcp any any -> any any (msg:\"one\"; content:\"bar\"; sid:12;)\n"),
			     3, "%s", fx_diag(&f));
		cr_assert_eq(fx_load(&f, "s.yaml",
				     "rules:\n  - id: 13\n    pattern: 'b.r'\n    flags: [som_leftmost]\n"),
			     1, "%s", fx_diag(&f));
		struct weir_match_opts o = { .block_first_match = first, .strict = true };
		fx_compile(&f, &o, 0);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct weir_match_result res;
			expect_hits(&f, &cases[i], 10, 13, first, &res);
			if (first)
				for (uint32_t k = 0; k < res.n_hits; k++)
					cr_assert(res.hit[k].matches == 1 || res.hit[k].id == 13,
						  "rule %u reported %u matches", res.hit[k].id, res.hit[k].matches);
		}
		fx_free(&f);
	}
}

/*
 * Back-references and lookaround: Hyperscan prefilters, PCRE2 confirms (packet
 * mode); a pcre alone, with a content, negated, and two such pcres in one
 * rule. Expectations by hand. Stream mode keeps skipping them.
 */
Test(scan, pcre2_confirms_what_hyperscan_prefilters)
{
	static const struct hit_case cases[] = {
		{ "ababx", "1" },       { "xyz", "2" },           { "ayz", "" },
		{ "foo <ab>ab", "3" },  { "foo <ab>ba", "" },     { "<ab>ab", "" },
		{ "bar zz", "" },       { "bar z z", "4" },       { "abab cc", "1 6" },
		{ "abab c", "1" },      { "cc", "" },
	};
	for (int first = 0; first < 2; first++) {
		struct fx f;
		fx_init(&f, false, WEIR_MODE_PACKET);
		cr_assert_eq(fx_load(&f, "br.rules",
			"alert tcp any any -> any any (msg:\"backref\"; pcre:\"/(ab)\\1/\"; sid:1;)\n"
			"alert tcp any any -> any any (msg:\"lookbehind\"; pcre:\"/(?<=x)yz/\"; sid:2;)\n"
			"alert tcp any any -> any any (content:\"foo\"; pcre:\"/<(\\w+)>\\1/\"; sid:3;)\n"
			"alert tcp any any -> any any (content:\"bar\"; pcre:!\"/(z)\\1/\"; sid:4;)\n"
			"alert tcp-stream any any -> any any (pcre:\"/(cd)\\1/\"; sid:5;)\n"
			"alert tcp any any -> any any (pcre:\"/(ab)\\1/\"; pcre:\"/(c)\\1/\"; sid:6;)\n"),
			5, "%s", fx_diag(&f));
		cr_assert(weir_ruleset_find(f.rs, 1)->parts[0].confirm);
		cr_assert(!weir_ruleset_find(f.rs, 3)->parts[0].confirm);
		cr_assert(weir_ruleset_find(f.rs, 3)->parts[1].confirm);
		cr_assert_eq(weir_rules_stats_count(weir_ruleset_stats(f.rs),
						    "hyperscan: Back-references are unsupported"), 1);
		struct weir_match_opts o = { .block_first_match = first, .strict = true };
		fx_compile(&f, &o, 0);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct weir_match_result res;
			expect_hits(&f, &cases[i], 1, 6, first, &res);
			cr_assert_eq(res.confirm_errors, 0);
		}
		cr_assert_gt(weir_match_worker_stats(f.w)->confirms, 0);
		fx_free(&f);
	}
}

/* A confirmation that exhausts PCRE2's match limit is no match, counted. */
Test(scan, pcre2_confirm_limit_is_counted)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "redos.rules",
		"alert tcp any any -> any any (pcre:\"/^(a|aa)+(?<=b)\\1$/\"; sid:7;)\n"), 1, "%s", fx_diag(&f));
	fx_compile(&f, NULL, 0);
	struct weir_match_pkt p = tcp_pkt(40000, 80, 0);
	char text[64];
	memset(text, 'a', sizeof(text));
	struct weir_match_result res;
	cr_assert_eq(weir_match_scan(f.w, &p, (const uint8_t *)text, sizeof(text), &res), 0);
	cr_assert_eq(res.confirm_errors, 1);
	fx_free(&f);
}

Test(scan, hits_beyond_the_array_are_counted)
{
	struct fx f;
	char text[8192] = "";
	fx_init(&f, false, WEIR_MODE_PACKET);
	for (int i = 1; i <= WEIR_MATCH_MAX_HITS + 5; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%d:/x/\n", i);
	cr_assert_eq(fx_load(&f, "h.txt", text), WEIR_MATCH_MAX_HITS + 5);
	fx_compile(&f, NULL, 0);
	struct weir_match_pkt p = tcp_pkt(1, 2, 0);
	struct weir_match_result res;
	cr_assert_eq(weir_match_scan(f.w, &p, (const uint8_t *)"xx", 2, &res), WEIR_MATCH_MAX_HITS);
	cr_assert_eq(res.hits_dropped, 5);
	cr_assert_eq(res.matches, 2 * (WEIR_MATCH_MAX_HITS + 5));
	fx_free(&f);
}

/* Port groups: rules about one port get their own database; a packet is
 * matched exactly as without groups, and scanned once or twice. */
Test(scan, port_groups_are_exact)
{
	struct fx f;
	char text[16384] = "";
	fx_init(&f, false, WEIR_MODE_PACKET);
	for (int i = 0; i < 10; i++) {
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "alert tcp any any -> any 80 (content:\"p80-%d\"; sid:%d;)\n"
			 "alert tcp any any -> any 25 (content:\"p25-%d\"; sid:%d;)\n"
			 "alert tcp any 80 -> any any (content:\"s80-%d\"; sid:%d;)\n",
			 i, 100 + i, i, 200 + i, i, 300 + i);
	}
	strcat(text, "alert tcp any any -> any any (content:\"any\"; sid:1;)\n"
		     "alert tcp any any -> any [80,25] (content:\"both\"; sid:2;)\n"
		     "alert tcp any any -> any 443 (content:\"p443\"; sid:3;)\n");
	cr_assert_eq(fx_load(&f, "g.rules", text), 33, "%s", fx_diag(&f));
	fx_compile(&f, NULL, 0);
	const struct weir_match_info *in = weir_match_info(f.m);
	cr_assert_eq(in->port_groups[0], 2, "tcp groups %u", in->port_groups[0]);
	const char *payload = "p80-3 p25-4 s80-5 any both p443";
	struct { uint16_t sp, dp; uint32_t ids[8]; } c[] = {
		{ 40000, 80, { 103, 1, 2 } },
		{ 40000, 25, { 204, 1, 2 } },
		{ 80, 25, { 204, 305, 1, 2 } },      /* two groups: two scans, no double counts */
		{ 80, 40000, { 305, 1 } },
		{ 40000, 443, { 1, 3 } },
		{ 40000, 22, { 1 } },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct weir_match_pkt p = tcp_pkt(c[i].sp, c[i].dp, 0);
		struct weir_match_result res;
		unsigned want = 0;
		while (want < 8 && c[i].ids[want])
			want++;
		cr_expect_eq(weir_match_scan(f.w, &p, (const uint8_t *)payload, (uint32_t)strlen(payload), &res),
			     (int)want, "%u->%u", c[i].sp, c[i].dp);
		cr_expect_eq(res.matches, want, "%u->%u", c[i].sp, c[i].dp);
		for (unsigned k = 0; k < want; k++)
			cr_expect_not_null(scan_for(&f, &p, payload, strlen(payload), c[i].ids[k]),
					   "%u->%u: sid %u", c[i].sp, c[i].dp, c[i].ids[k]);
	}
	fx_free(&f);
}

/* A pattern split across two segments: stream mode sees it, block mode
 * does not; the state comes from the pool and goes back to it. */
Test(scan, cross_packet_stream_match)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "x.yaml",
			     "rules:\n"
			     "  - id: 1\n    pattern: 'attack-payload'\n    mode: stream\n"
			     "  - id: 2\n    pattern: 'attack-payload'\n    mode: packet\n"
			     "  - id: 3\n    pattern: 'end$'\n    mode: stream\n"), 3, "%s", fx_diag(&f));
	fx_compile(&f, NULL, 2);
	const struct weir_match_info *in = weir_match_info(f.m);
	cr_assert_gt(in->stream_state_bytes, 0);
	cr_assert_eq(in->max_streams_per_dir, 1);
	struct weir_match_pkt p = tcp_pkt(40000, 80, 0);
	struct weir_match_stream s = { 0 };
	struct weir_match_result res;
	cr_assert_eq(weir_match_stream_open(f.w, &p, &s), 0);
	cr_assert_eq(weir_match_worker_stats(f.w)->streams_open, 1);
	cr_assert_eq(weir_match_stream_scan(f.w, &s, &p, (const uint8_t *)"xx attack-", 10, &res), 0);
	cr_assert_null(scan_for(&f, &p, "xx attack-", 10, 2));
	cr_assert_eq(weir_match_stream_scan(f.w, &s, &p, (const uint8_t *)"payload end", 11, &res), 1);
	cr_assert_eq(res.hit[0].id, 1);
	cr_assert_null(scan_for(&f, &p, "payload end", 11, 2));
	/* `end$` is only known to be at the end when the stream closes */
	cr_assert_eq(weir_match_stream_close(f.w, &s, &p, &res), 1);
	cr_assert_eq(res.hit[0].id, 3);
	cr_assert_eq(weir_match_worker_stats(f.w)->streams_open, 0);
	cr_assert_eq(s.open, 0);
	fx_free(&f);
}

Test(scan, stream_pool_exhaustion_is_counted)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_STREAM);
	cr_assert_eq(fx_load(&f, "s.txt", "1:/abc/\n"), 1);
	fx_compile(&f, NULL, 1);
	struct weir_match_pkt p = tcp_pkt(1, 2, 0);
	struct weir_match_stream a = { 0 }, b = { 0 };
	cr_assert_eq(weir_match_stream_open(f.w, &p, &a), 0);
	cr_assert_eq(weir_match_stream_open(f.w, &p, &b), -1);
	cr_assert_eq(weir_match_worker_stats(f.w)->pool_exhausted, 1);
	cr_assert_eq(weir_match_stream_close(f.w, &a, &p, NULL), 0);
	cr_assert_eq(weir_match_stream_open(f.w, &p, &b), 0);
	cr_assert_eq(weir_match_stream_close(f.w, &b, &p, NULL), 0);
	/* no stream rule for the scope: nothing opened */
	struct fx g;
	fx_init(&g, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&g, "b.txt", "1:/abc/\n"), 1);
	fx_compile(&g, NULL, 1);
	cr_assert_eq(weir_match_stream_open(g.w, &p, &a), 1);
	struct weir_match_result res;
	cr_assert_eq(weir_match_stream_scan(g.w, &a, &p, (const uint8_t *)"abc", 3, &res), 0);
	cr_assert_eq(weir_match_stream_close(g.w, &a, &p, &res), 0);
	fx_free(&g);
	fx_free(&f);
}

Test(scan, pkt_scope_from_parsed_packet)
{
	struct weir_pkt p = { .l4_proto = 17, .flags = WEIR_PKT_F_PORTS | WEIR_PKT_F_L4,
			      .src_port = 53, .dst_port = 4000 };
	struct weir_match_pkt mp = weir_match_pkt_of(&p, WEIR_MATCH_F_TO_CLIENT);
	cr_assert_eq(mp.l4_proto, 17);
	cr_assert_eq(mp.src_port, 53);
	cr_assert_eq(mp.flags, WEIR_MATCH_F_TO_CLIENT | WEIR_MATCH_F_PORTS);
	p.l4_proto = 1; /* ICMP type/code are not ports */
	mp = weir_match_pkt_of(&p, 0);
	cr_assert_eq(mp.flags, 0);
	cr_assert_eq(mp.src_port, 0);
}

/* Both ports with their own group: a flow direction has two streams, and a
 * rule in both databases is reported once. */
Test(scan, stream_with_two_port_groups)
{
	struct fx f;
	char text[8192] = "";
	fx_init(&f, false, WEIR_MODE_STREAM);
	for (int i = 0; i < 8; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "alert tcp any any -> any 80 (content:\"p80-%d\"; sid:%d;)\n"
			 "alert tcp any 25 -> any any (content:\"s25-%d\"; sid:%d;)\n", i, 100 + i, i, 200 + i);
	strcat(text, "alert tcp any any -> any any (content:\"anyport\"; sid:1;)\n"
		     "alert tcp any any -> any [80,25] (content:\"both\"; sid:2;)\n");
	cr_assert_eq(fx_load(&f, "g.rules", text), 18, "%s", fx_diag(&f));
	fx_compile(&f, NULL, 4);
	cr_assert_eq(weir_match_info(f.m)->max_streams_per_dir, 2);
	struct weir_match_pkt p = tcp_pkt(25, 80, 0);
	struct weir_match_stream st = { 0 };
	struct weir_match_result res;
	cr_assert_eq(weir_match_stream_open(f.w, &p, &st), 0);
	cr_assert_eq(st.open, 2);
	cr_assert_eq(weir_match_stream_scan(f.w, &st, &p, (const uint8_t *)"p80-1 s25-2 any", 15, &res), 2);
	cr_assert_eq(weir_match_stream_scan(f.w, &st, &p, (const uint8_t *)"port bo", 7, &res), 1);
	cr_assert_eq(res.hit[0].id, 1);
	cr_assert_eq(res.matches, 1);
	cr_assert_eq(weir_match_stream_scan(f.w, &st, &p, (const uint8_t *)"th", 2, &res), 1);
	cr_assert_eq(res.hit[0].id, 2);
	cr_assert_eq(res.matches, 1);
	cr_assert_eq(weir_match_stream_close(f.w, &st, &p, &res), 0);
	cr_assert_eq(weir_match_worker_stats(f.w)->streams_open, 0);
	fx_free(&f);
}

/* An expression Hyperscan's parser accepts but its compiler refuses: the
 * rule is reported with FILE:LINE and left out, the others work. */
Test(scan, compile_rejects_one_rule)
{
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "r.txt", "1:/a.{0,400}b/L\n2:/xyz/\n"), 2);
	char err[512];
	struct weir_match_opts o = { .diag = f.diag };
	f.m = weir_match_compile(f.rs, &o, err, sizeof(err));
	cr_assert_not_null(f.m, "%s", err);
	cr_assert_eq(weir_match_info(f.m)->n_failed, 1);
	cr_assert_eq(weir_match_info(f.m)->n_rules, 1);
	char *exp;
	cr_assert_gt(asprintf(&exp, "%s/r.txt:1: id 1: error: hyperscan rejected: Pattern is too large.: a.{0,400}b\n",
			      tmpdir), 0);
	cr_assert_str_eq(fx_diag(&f), exp);
	free(exp);
	f.w = weir_match_worker_new(f.m, 0, err, sizeof(err));
	struct weir_match_pkt p = tcp_pkt(1, 2, 0);
	cr_assert_not_null(scan_for(&f, &p, "xyz", 3, 2));
	cr_assert_null(scan_for(&f, &p, "ab", 2, 1));
	o.strict = true;
	cr_assert_null(weir_match_compile(f.rs, &o, err, sizeof(err)));
	cr_assert(strstr(err, "r.txt:1: id 1: hyperscan rejected: Pattern is too large."), "%s", err);
	fx_free(&f);
}

/* ------------------------------------------------------- compile cache */

TestSuite(cache, .init = setup, .fini = teardown);

static unsigned count_files(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

Test(cache, reload_skips_compilation_and_bad_files_are_rebuilt)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/cache", tmpdir);
	struct weir_match_opts o = { .cache_dir = dir };
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	cr_assert_eq(fx_load(&f, "c.txt", "1:/abc/\n2:/de+f/i\n"), 2);
	fx_compile(&f, &o, 0);
	cr_assert_eq(weir_match_info(f.m)->cache_misses, 1);
	cr_assert_eq(weir_match_info(f.m)->cache_hits, 0);
	cr_assert_eq(count_files(dir), 1);
	weir_match_worker_free(f.w);
	weir_match_free(f.m);
	fx_compile(&f, &o, 0);
	cr_assert_eq(weir_match_info(f.m)->cache_hits, 1);
	cr_assert_eq(weir_match_info(f.m)->cache_misses, 0);
	struct weir_match_pkt p = tcp_pkt(1, 2, 0);
	cr_assert_not_null(scan_for(&f, &p, "xDEEF", 5, 2));
	/* corrupt the file: ignored, recompiled, rewritten */
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	char file[1024];
	snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
	closedir(d);
	FILE *fp = fopen(file, "r+b");
	fseek(fp, 100, SEEK_SET);
	fputc(0x5a, fp);
	fclose(fp);
	weir_match_worker_free(f.w);
	weir_match_free(f.m);
	fx_compile(&f, &o, 0);
	cr_assert_eq(weir_match_info(f.m)->cache_bad, 1);
	cr_assert_eq(weir_match_info(f.m)->cache_hits, 0);
	cr_assert_not_null(scan_for(&f, &p, "xDEEF", 5, 2));
	weir_match_worker_free(f.w);
	weir_match_free(f.m);
	truncate(file, 10);
	fx_compile(&f, &o, 0);
	cr_assert_eq(weir_match_info(f.m)->cache_bad, 1);
	weir_match_worker_free(f.w);
	weir_match_free(f.m);
	fx_compile(&f, &o, 0);
	cr_assert_eq(weir_match_info(f.m)->cache_hits, 1);
	/* another rule set: another file */
	cr_assert_eq(fx_load(&f, "d.txt", "3:/ghi/\n"), 1);
	weir_match_worker_free(f.w);
	weir_match_free(f.m);
	fx_compile(&f, &o, 0);
	cr_assert_eq(weir_match_info(f.m)->cache_misses, 1);
	cr_assert_eq(count_files(dir), 2);
	fx_free(&f);
}

/* ---------------------------------------------------------- rules check */

TestSuite(check, .init = setup, .fini = teardown);

static int run_check(int argc, char **argv, char **out)
{
	fflush(stdout);
	char path[600];
	snprintf(path, sizeof(path), "%s/check.out", tmpdir);
	int saved = dup(1);
	FILE *f = fopen(path, "w");
	dup2(fileno(f), 1);
	int rc = weir_rules_check_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(f);
	f = fopen(path, "r");
	size_t n = 0;
	*out = calloc(1, 65536);
	n = fread(*out, 1, 65535, f);
	(*out)[n] = '\0';
	fclose(f);
	return rc;
}

Test(check, summary_and_exit_status)
{
	static const char rules[] = "alert tcp any any -> any 80 (content:\"a\"; sid:1;)\n"
				    "alert tcp any any -> any any (content:\"a\"; dsize:3; sid:2;)\n";
	const char *good = strdup(write_file("good.rules", rules, strlen(rules)));
	char *out;
	char *argv1[] = { "check", "--quiet", (char *)good, NULL };
	cr_assert_eq(run_check(3, argv1, &out), 0);
	cr_assert(strstr(out, "loaded: 1\nskipped: 1\n"), "%s", out);
	cr_assert(strstr(out, "skipped        1  keyword dsize"), "%s", out);
	cr_assert(strstr(out, "compile time: "), "%s", out);
	cr_assert(strstr(out, "stream state per flow: "), "%s", out);
	free(out);
	char *argv2[] = { "check", "--quiet", "--strict", (char *)good, NULL };
	cr_assert_eq(run_check(4, argv2, &out), 2);
	free(out);
	char *argv3[] = { "check", "--quiet", "/nonexistent/x.rules", NULL };
	cr_assert_eq(run_check(3, argv3, &out), 2);
	free(out);
	free((char *)good);
}

/* ------------------------------------------------ ../shared/data corpora */

static const char *shared_data(void)
{
	const char *d = getenv("WEIR_SHARED_DATA");
	static char buf[1024];
	if (!d)
		d = "../shared/data";
	snprintf(buf, sizeof(buf), "%s/oracle/hs_oracle-ndpi-mix.tsv", d);
	return access(buf, R_OK) == 0 ? d : NULL;
}

#define NEED_SHARED_DATA(d)                                                                    \
	const char *d = shared_data();                                                         \
	if (!d)                                                                                \
		cr_skip_test("../shared/data is absent (set WEIR_SHARED_DATA): skipped")

TestSuite(etopen, .timeout = 240);

static bool plain_keyword(const char *p, size_t k)
{
	static const char *const kw[] = {
		"msg", "content", "nocase", "offset", "depth", "distance", "within", "pcre", "flow",
		"sid", "rev", "classtype", "priority", "reference", "metadata", "fast_pattern", NULL,
	};
	for (int i = 0; kw[i]; i++)
		if (strlen(kw[i]) == k && !strncmp(p, kw[i], k))
			return true;
	return false;
}

/* An independent reading of "the plain subset" (data README): tcp, udp,
 * icmp or ip, only the plain keywords, flow only for direction and state. */
static bool plain_rule(const char *line)
{
	char proto[32] = "";
	sscanf(line, "%*s %31s", proto);
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "icmp") && strcmp(proto, "ip"))
		return false;
	if (strstr(line, "only_stream") || strstr(line, "no_stream") || strstr(line, "_frag"))
		return false;
	const char *p = strchr(line, '(');
	if (!p)
		return false;
	for (p++;;) {
		while (*p == ' ')
			p++;
		if (!*p || *p == ')' || *p == '\n')
			return true;
		if (!plain_keyword(p, strcspn(p, ":; )")))
			return false;
		bool q = false;
		for (; *p && (q || *p != ';'); p++) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				q = !q;
		}
		if (!*p)
			return true;
		p++;
	}
}

/* Rules with an action at the start of the line (what Suricata loads);
 * the sids of the plain ones are appended to plain[]. */
static unsigned count_active(const char *path, uint32_t *plain, unsigned *n_plain)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned n = 0;
	while (f && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "alert ", 6) && strncmp(line, "drop ", 5) && strncmp(line, "pass ", 5))
			continue;
		n++;
		const char *sid = strstr(line, "; sid:");
		if (plain_rule(line) && sid && *n_plain < 4096)
			plain[(*n_plain)++] = (uint32_t)strtoul(sid + 6, NULL, 10);
	}
	free(line);
	if (f)
		fclose(f);
	return n;
}

static int cmp_reason(const void *a, const void *b)
{
	const struct weir_rules_reason *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->count != y->count ? (x->count < y->count ? 1 : -1) : strcmp(x->name, y->name);
}

Test(etopen, corpus_table)
{
	NEED_SHARED_DATA(data);
	char dir[1200];
	snprintf(dir, sizeof(dir), "%s/rules/et-open", data);
	struct dirent **names;
	int nf = scandir(dir, &names, NULL, alphasort);
	cr_assert_gt(nf, 0);
	struct fx f;
	fx_init(&f, false, WEIR_MODE_PACKET);
	unsigned active = 0, n_plain = 0, files = 0;
	static uint32_t plain[4096];
	for (int i = 0; i < nf; i++) {
		const char *n = names[i]->d_name;
		size_t len = strlen(n);
		if (len > 6 && !strcmp(n + len - 6, ".rules")) {
			char path[2400];
			snprintf(path, sizeof(path), "%s/%s", dir, n);
			cr_assert_geq(weir_ruleset_load(f.rs, path, WEIR_RULES_AUTO), 0);
			active += count_active(path, plain, &n_plain);
			files++;
		}
		free(names[i]);
	}
	free(names);
	const struct weir_rules_stats *st = weir_ruleset_stats(f.rs);
	/* the table, as `weir rules check` prints it */
	cr_log_info("ET Open: %u files, %u active rules, %u in the plain subset", files, active, n_plain);
	cr_log_info("loaded %u, skipped %u, errors %u, warnings %u", st->loaded, st->skipped,
		    st->errors, st->warnings);
	struct weir_rules_stats sorted = *st;
	qsort(sorted.reason, sorted.n_reasons, sizeof(sorted.reason[0]), cmp_reason);
	for (unsigned i = 0; i < sorted.n_reasons; i++)
		cr_log_info("  %-8s %6u  %s", sorted.reason[i].kind == WEIR_REASON_SKIP ? "skipped"
					      : sorted.reason[i].kind == WEIR_REASON_ERROR ? "error" : "warning",
			    sorted.reason[i].count, sorted.reason[i].name);
	/* every active rule is either loaded or skipped with a reason */
	cr_assert_eq(files, 7);
	cr_assert_eq(active, 8276);
	cr_assert_eq(st->loaded + st->skipped, active);
	cr_assert_eq(st->errors, 0, "%s", fx_diag(&f));
	cr_assert_eq(st->warnings, 1); /* emerging-deleted: every rule commented out */
	/* every plain rule loads (pcres with back-references or lookaround too:
	 * Hyperscan prefilters them, PCRE2 confirms) */
	const char *diag = fx_diag(&f);
	unsigned plain_loaded = 0, plain_hs = 0;
	for (unsigned i = 0; i < n_plain; i++) {
		char needle[96];
		snprintf(needle, sizeof(needle), ": sid %u: skipped: hyperscan cannot compile: ", plain[i]);
		if (weir_ruleset_find(f.rs, plain[i]))
			plain_loaded++;
		else if (strstr(diag, needle))
			plain_hs++;
		else
			cr_log_error("plain rule sid %u neither loaded nor rejected by Hyperscan", plain[i]);
	}
	cr_log_info("plain subset: %u loaded, %u with a pcre Hyperscan cannot compile", plain_loaded, plain_hs);
	cr_assert_eq(plain_loaded, n_plain);
	cr_assert_eq(plain_hs, 0);
	cr_assert_eq(n_plain, 456);
	cr_assert_eq(st->loaded, 500);
	static const struct { const char *reason; unsigned n; } table[] = {
		{ "proto http", 7485 },         { "proto smtp", 53 },           { "keyword threshold", 28 },
		{ "keyword flowbits", 27 },     { "keyword dsize", 25 },        { "keyword isdataat", 22 },
		{ "keyword byte_test", 21 },    { "proto dns", 21 },            { "keyword flags", 18 },
		{ "proto smb", 16 },            { "proto tls", 13 },            { "keyword itype", 10 },
		{ "keyword file_data", 5 },     { "keyword stream_size", 5 },   { "proto ftp", 5 },
		{ "proto ssh", 5 },             { "keyword xbits", 4 },         { "keyword byte_extract", 3 },
		{ "keyword file.data", 3 },     { "keyword icode", 3 },         { "flow:only_stream", 1 },
		{ "ip address", 1 },            { "keyword app-layer-protocol", 1 },
		{ "keyword http.cookie", 1 },
	};
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		cr_expect_eq(weir_rules_stats_count(st, table[i].reason), table[i].n, "%s", table[i].reason);
		sum += table[i].n;
	}
	cr_assert_eq(sum, st->skipped, "reasons not in the table");
	/* and everything loaded compiles, with every match or (weir run's default) the first */
	fx_compile(&f, NULL, 0);
	cr_assert_eq(weir_match_info(f.m)->n_failed, 0);
	cr_assert_eq(weir_match_info(f.m)->n_rules, 500);
	char err[512];
	struct weir_match_opts first = { .block_first_match = true };
	struct weir_match *m1 = weir_match_compile(f.rs, &first, err, sizeof(err));
	cr_assert_not_null(m1, "%s", err);
	cr_assert_eq(weir_match_info(m1)->n_failed, 0);
	cr_assert_eq(weir_match_info(m1)->n_rules, 500);
	weir_match_free(m1);
	fx_free(&f);
}

/* ---------------------------------------------------------------- oracle */

TestSuite(oracle, .timeout = 240);

static void oracle_check_opts(const char *data, const char *patterns, const char *tsv_name,
			      enum hsm_def def, bool stream, bool first_match)
{
	char path[1200], err[512];
	struct fx f;
	fx_init(&f, true, stream ? WEIR_MODE_STREAM : WEIR_MODE_PACKET);
	cr_assert_eq(weir_ruleset_load(f.rs, patterns, WEIR_RULES_AUTO), 102, "%s", fx_diag(&f));
	struct weir_match_opts mo = { .block_first_match = first_match };
	fx_compile(&f, &mo, 0);
	struct hsm_capture cap;
	snprintf(path, sizeof(path), "%s/pcaps/ndpi-mix.pcap", data);
	cr_assert_eq(hsm_load(path, def, &cap, err, sizeof(err)), 0, "%s", err);
	struct hsm_oracle o;
	snprintf(path, sizeof(path), "%s/oracle/%s", data, tsv_name);
	cr_assert_eq(hsm_oracle_load(path, &o), 0);
	cr_assert_eq(cap.n, o.payload_pkts);
	cr_assert_eq(cap.bytes, o.payload_bytes);
	cr_assert_eq(cap.streams, o.streams);
	struct hsm_count counts[102];
	double s;
	int rc = stream ? hsm_stream(f.m, &cap, counts, 102, &s) : hsm_block(f.m, &cap, counts, 102, &s);
	cr_assert_eq(rc, 0);
	cr_log_info("%s %s: %zu payload packets in %.3f s: %.0f packets/s, %.2f Gbit/s", tsv_name,
		    stream ? "stream" : "block", cap.n, s, (double)cap.n / s, (double)cap.bytes * 8 / s / 1e9);
	unsigned bad = 0;
	for (unsigned i = 0; i < o.n; i++) {
		const struct hsm_count *want = &o.row[i], *got = NULL;
		for (unsigned k = 0; k < 102; k++)
			if (counts[k].id == want->id)
				got = &counts[k];
		cr_assert_not_null(got, "id %u", want->id);
		/* first match only: one match per matching packet */
		uint64_t want_block = first_match ? want->block_pkts : want->block_matches;
		bool same = stream ? got->stream_matches == want->stream_matches
				   : got->block_matches == want_block && got->block_pkts == want->block_pkts;
		if (!same)
			cr_log_error("id %u: got %lu %lu %lu, oracle %lu %lu %lu", want->id, got->block_matches,
				     got->block_pkts, got->stream_matches, want->block_matches, want->block_pkts,
				     want->stream_matches);
		bad += !same;
	}
	cr_assert_eq(o.n, 102);
	cr_assert_eq(bad, 0, "%u patterns differ from %s", bad, tsv_name);
	hsm_free(&cap);
	fx_free(&f);
}

static void oracle_check(const char *data, const char *patterns, const char *tsv_name, enum hsm_def def,
			 bool stream)
{
	oracle_check_opts(data, patterns, tsv_name, def, stream, false);
}

Test(oracle, block_compat)
{
	NEED_SHARED_DATA(data);
	char p[1200];
	snprintf(p, sizeof(p), "%s/patterns/bench-102.txt", data);
	oracle_check(data, p, "hs_oracle-ndpi-mix.tsv", HSM_COMPAT, false);
}

Test(oracle, stream_compat)
{
	NEED_SHARED_DATA(data);
	char p[1200];
	snprintf(p, sizeof(p), "%s/patterns/bench-102.txt", data);
	oracle_check(data, p, "hs_oracle-ndpi-mix.tsv", HSM_COMPAT, true);
}

/* block_matches: first (weir run's default): the oracle's matched packets */
Test(oracle, block_compat_first_match)
{
	NEED_SHARED_DATA(data);
	char p[1200];
	snprintf(p, sizeof(p), "%s/patterns/bench-102.txt", data);
	oracle_check_opts(data, p, "hs_oracle-ndpi-mix.tsv", HSM_COMPAT, false, true);
}

/* stream databases are compiled as before whatever block_matches says */
Test(oracle, stream_compat_first_match)
{
	NEED_SHARED_DATA(data);
	char p[1200];
	snprintf(p, sizeof(p), "%s/patterns/bench-102.txt", data);
	oracle_check_opts(data, p, "hs_oracle-ndpi-mix.tsv", HSM_COMPAT, true, true);
}

/* VLAN-tagged and IPv6 payloads too (see hsmatch.h for how it differs). */
Test(oracle, block_ext)
{
	NEED_SHARED_DATA(data);
	char p[1200];
	snprintf(p, sizeof(p), "%s/patterns/bench-102.txt", data);
	oracle_check(data, p, "hs_oracle-ndpi-mix-ext.tsv", HSM_EXT, false);
}

Test(oracle, stream_ext)
{
	NEED_SHARED_DATA(data);
	char p[1200];
	snprintf(p, sizeof(p), "%s/patterns/bench-102.txt", data);
	oracle_check(data, p, "hs_oracle-ndpi-mix-ext.tsv", HSM_EXT, true);
}

/* bench-102 with H (singlematch) added to every pattern's flags. */
static const char *singlematch_copy(const char *data)
{
	char src[1200];
	snprintf(src, sizeof(src), "%s/patterns/bench-102.txt", data);
	FILE *in = fopen(src, "r");
	cr_assert_not_null(in);
	static char dst[600];
	snprintf(dst, sizeof(dst), "%s/bench-102-H.txt", tmpdir);
	FILE *out = fopen(dst, "w");
	char line[4096];
	while (fgets(line, sizeof(line), in)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		fprintf(out, "%s%s\n", line, line[0] && line[0] != '#' ? "H" : "");
	}
	fclose(in);
	fclose(out);
	return dst;
}

TestSuite(oracle_h, .init = setup, .fini = teardown, .timeout = 240);

Test(oracle_h, block_singlematch)
{
	NEED_SHARED_DATA(data);
	oracle_check(data, singlematch_copy(data), "hs_oracle-ndpi-mix-H.tsv", HSM_COMPAT, false);
}

Test(oracle_h, stream_singlematch)
{
	NEED_SHARED_DATA(data);
	oracle_check(data, singlematch_copy(data), "hs_oracle-ndpi-mix-H.tsv", HSM_COMPAT, true);
}
