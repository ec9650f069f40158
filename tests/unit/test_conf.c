/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_conf: defaults, the config schema, durations, every error class
 * with its file:line, pmd-config profiles and port checks (pcap files
 * written here with libpcap, PCI allow-listing).
 *
 * Test configs live in tests/data/conf/, found through WEIR_SOURCE_DIR.
 * Expected errors are compared from the start of the message, so a test
 * pins the file, the line and the wording.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "weir_build.h"
#include "weir_conf.h"

#define S(x) (x##ull * 1000000000ull)
#define MS(x) (x##ull * 1000000ull)

static char errbuf[2048];
static struct weir_config cfg; /* ~70 KB: keep it off the stack */

static const char *source_dir(void)
{
	const char *s = getenv("WEIR_SOURCE_DIR");

	return s && *s ? s : WEIR_SOURCE_DIR;
}

/* A few rotating buffers so that paths can be built inline. */
static char *scratch(void)
{
	static char bufs[8][1024];
	static unsigned i;

	return bufs[i++ % 8];
}

static const char *data(const char *name)
{
	char *p = scratch();

	snprintf(p, 1024, "%s/tests/data/conf/%s", source_dir(), name);
	return p;
}

static const char *bundled(const char *name)
{
	char *p = scratch();

	snprintf(p, 1024, "%s/pmd-config/%s.yaml", source_dir(), name);
	return p;
}

/* Profiles come from this checkout whatever the caller's environment says. */
static void use_bundled_profiles(void)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%s/pmd-config", source_dir());
	setenv("WEIR_PMD_CONFIG_DIR", dir, 1);
}

/* Line (1-based) of the first line of `path` starting with `prefix`. */
static int line_of(const char *path, const char *prefix)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	cr_assert(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	cr_assert_fail("%s: no line starts with '%s'", path, prefix);
	return 0;
}

static void assert_err_starts(const char *want)
{
	cr_assert(strncmp(errbuf, want, strlen(want)) == 0, "error\n  got:  %s\n  want: %s...",
		  errbuf, want);
}

static void load_ok(const char *name)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, data(name), errbuf, sizeof(errbuf)), 0, "%s", errbuf);
}

/* Loading `name` fails with "PATH:" + `tail` (the message may go on). */
static void load_fails(const char *name, const char *tail)
{
	char want[2048];
	const char *path = data(name);

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), -1, "%s loaded", name);
	snprintf(want, sizeof(want), "%s:%s", path, tail);
	assert_err_starts(want);
}

/* ---- temporary files ------------------------------------------------------- */

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void tmp_init(void)
{
	use_bundled_profiles();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weir-test-conf-XXXXXX");
	cr_assert(mkdtemp(tmpdir));
}

static void tmp_fini(void)
{
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp(const char *name)
{
	char *p = scratch();

	snprintf(p, 1024, "%s/%s", tmpdir, name);
	return p;
}

static const char *write_file(const char *name, const void *buf, size_t len)
{
	const char *path = tmp(name);
	FILE *f = fopen(path, "wb");

	cr_assert(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	return path;
}

static const char *write_text(const char *name, const char *text)
{
	return write_file(name, text, strlen(text));
}

/* One 60-byte IPv4/UDP frame (or its IP part for raw link types). */
static const uint8_t frame[60] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
	0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	0x04, 0xd2, 0x00, 0x35, 0, 26, 0, 0,
};

static const char *write_pcap(const char *name, int dlt)
{
	const char *path = tmp(name);
	pcap_t *p = pcap_open_dead(dlt, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	struct pcap_pkthdr h = { .ts = { 1, 0 }, .caplen = sizeof(frame), .len = sizeof(frame) };

	cr_assert(d, "%s", pcap_geterr(p));
	pcap_dump((u_char *)d, &h, frame);
	pcap_dump_close(d);
	pcap_close(p);
	return path;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

/* libpcap reads pcapng but cannot write it: section, interface, one packet. */
static const char *write_pcapng(const char *name, uint16_t linktype)
{
	uint8_t buf[28 + 20 + 32 + sizeof(frame)], *p = buf;
	uint32_t epb_len = 32 + sizeof(frame);

	p = put32(p, 0x0A0D0D0A), p = put32(p, 28), p = put32(p, 0x1A2B3C4D);
	p = put32(p, 1);                                   /* version 1.0 */
	p = put32(p, 0xffffffff), p = put32(p, 0xffffffff); /* section length unknown */
	p = put32(p, 28);
	p = put32(p, 1), p = put32(p, 20), p = put32(p, linktype), p = put32(p, 65535);
	p = put32(p, 20);
	p = put32(p, 6), p = put32(p, epb_len), p = put32(p, 0), p = put32(p, 0);
	p = put32(p, 1000000), p = put32(p, sizeof(frame)), p = put32(p, sizeof(frame));
	memcpy(p, frame, sizeof(frame));
	p += sizeof(frame);
	put32(p, epb_len);
	return write_file(name, buf, sizeof(buf));
}

/* ---- defaults and name tables -------------------------------------------------- */

static void assert_query(const struct weir_query_conf *q, const char *name,
			 const enum weir_field *gb, unsigned ngb, const enum weir_agg *ag,
			 unsigned nag, uint64_t size_ns, uint32_t max_keys)
{
	cr_assert_str_eq(q->name, name);
	cr_assert_eq(q->n_group_by, ngb, "%s: %u group_by", name, q->n_group_by);
	for (unsigned i = 0; i < ngb; i++)
		cr_assert_eq(q->group_by[i], gb[i], "%s: group_by[%u]", name, i);
	cr_assert_eq(q->n_aggs, nag, "%s: %u aggs", name, q->n_aggs);
	for (unsigned i = 0; i < nag; i++)
		cr_assert_eq(q->aggs[i].kind, ag[i], "%s: aggs[%u]", name, i);
	cr_assert_eq(q->window, WEIR_WINDOW_TUMBLING);
	cr_assert_eq(q->size_ns, size_ns, "%s: size %lu", name, (unsigned long)q->size_ns);
	cr_assert_eq(q->max_keys, max_keys, "%s: max_keys %u", name, q->max_keys);
}

static const enum weir_agg three_aggs[] = { WEIR_AGG_PACKETS, WEIR_AGG_BYTES, WEIR_AGG_IP_BYTES };

static void assert_builtin_queries(const struct weir_config *c)
{
	static const enum weir_field hp[] = { WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP, WEIR_FIELD_PROTO };
	static const enum weir_field pr[] = { WEIR_FIELD_IP_VERSION, WEIR_FIELD_PROTO };
	static const enum weir_agg tot[] = { WEIR_AGG_PACKETS, WEIR_AGG_BYTES, WEIR_AGG_IP_BYTES,
					     WEIR_AGG_PAYLOAD_BYTES };

	cr_assert_eq(c->n_queries, 3);
	assert_query(&c->queries[0], "hostpairs", hp, 3, three_aggs, 3, S(60), 65536);
	assert_query(&c->queries[1], "protocols", pr, 2, three_aggs, 3, S(60), 65536);
	assert_query(&c->queries[2], "totals", NULL, 0, tot, 4, S(60), 65536);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(c->queries[i].line, 0);
}

Test(defaults, values)
{
	memset(&cfg, 0xa5, sizeof(cfg));
	weir_config_defaults(&cfg);
	cr_assert_str_eq(cfg.path, "");
	cr_assert_eq(cfg.workers, 1);
	cr_assert_str_eq(cfg.out, "weir-out.jsonl");
	cr_assert_str_eq(cfg.eal_args, "");
	cr_assert_eq(cfg.layer, WEIR_PKT_OUTER);
	cr_assert_eq(cfg.watermark_delay_ns, S(2));
	cr_assert_eq(cfg.idle_watermark_ns, S(1));
	cr_assert_eq(cfg.burst, 64);
	cr_assert_eq(cfg.ring_size, 4096);
	cr_assert_eq(cfg.summary, true);
	cr_assert_eq(cfg.summary_top, 5);
	cr_assert_eq(cfg.n_ports, 0);
	assert_builtin_queries(&cfg);
}

Test(defaults, port_defaults)
{
	struct weir_port_conf p;

	weir_port_defaults(&p);
	cr_assert_eq(p.rx_queues, 1);
	cr_assert_eq(p.rx_descriptors, 1024);
	cr_assert_eq(p.mbufs, 16384);
	cr_assert_eq(p.mbuf_data_room, 2176);
	cr_assert_eq(p.linktype, WEIR_LINK_ETHERNET);
	cr_assert_eq(p.n_pci, 0);
	cr_assert_not(p.finite);
}

Test(names, fields_and_aggs)
{
	cr_assert_str_eq(weir_field_name(WEIR_FIELD_SRC_IP), "src_ip");
	cr_assert_str_eq(weir_field_name(WEIR_FIELD_TCP_FLAGS), "tcp_flags");
	cr_assert_eq(weir_field_size(WEIR_FIELD_DST_IP), 16);
	cr_assert_eq(weir_field_size(WEIR_FIELD_VLAN), 2);
	cr_assert_eq(weir_field_size(WEIR_FIELD_PROTO), 1);
	for (int f = 0; f < WEIR_FIELD__COUNT; f++)
		cr_assert_eq(weir_field_parse(weir_field_name(f)), f);
	struct weir_agg_conf ac;
	char err[512];
	for (int a = 0; a <= WEIR_AGG_PAYLOAD_BYTES; a++) {
		cr_assert_eq(weir_agg_conf_parse(weir_agg_name(a), &ac, err, sizeof(err)), 0);
		cr_assert_eq(ac.kind, a);
		cr_assert_str_eq(ac.name, weir_agg_name(a));
	}
	cr_assert_eq(weir_field_parse("src_mac"), -1);
	cr_assert_eq(weir_field_parse("SRC_IP"), -1);
	cr_assert_eq(weir_agg_conf_parse("pkts", &ac, err, sizeof(err)), -1);
	cr_assert_str_eq(weir_field_name(WEIR_FIELD__COUNT), "?");
	cr_assert_str_eq(weir_agg_name(WEIR_AGG__COUNT), "?");
	cr_assert_eq(weir_field_size(WEIR_FIELD__COUNT), 0);
}

/* ---- durations ------------------------------------------------------------------ */

Test(duration, good)
{
	static const struct { const char *s; uint64_t ns; } ok[] = {
		{ "60s", S(60) }, { "500ms", MS(500) }, { "2m", S(120) }, { "1h", S(3600) },
		{ "10us", 10000 }, { "100ns", 100 }, { "0s", 0 }, { "007ms", MS(7) },
		{ "18446744073709551615ns", UINT64_MAX }, { "5124095h", 5124095ull * S(3600) },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t ns = 1;

		cr_assert_eq(weir_parse_duration(ok[i].s, &ns), 0, "%s", ok[i].s);
		cr_assert_eq(ns, ok[i].ns, "%s", ok[i].s);
	}
}

Test(duration, bad)
{
	static const char *const bad[] = {
		"10", "5x", "-1s", "", "s", " 1s", "1s ", "1.5s", "+1s", "1 s", "1S", "1sec",
		"0x10s", "1ms5", "18446744073709551616ns", "99999999999999999999s",
		"5124096h", "307445735m",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ns = 42;

		cr_assert_eq(weir_parse_duration(bad[i], &ns), -1, "'%s' accepted", bad[i]);
		cr_assert_eq(ns, 42, "'%s' wrote the output", bad[i]);
	}
	cr_assert_eq(weir_parse_duration(NULL, NULL), -1);
}

/* ---- valid configs --------------------------------------------------------------- */

TestSuite(config, .init = use_bundled_profiles);

Test(config, full)
{
	static const enum weir_field flows[] = { WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP,
						 WEIR_FIELD_SRC_PORT, WEIR_FIELD_DST_PORT,
						 WEIR_FIELD_L4_PROTO };
	static const enum weir_field vl[] = { WEIR_FIELD_VLAN, WEIR_FIELD_IP_VERSION,
					      WEIR_FIELD_TCP_FLAGS, WEIR_FIELD_PROTO };
	static const enum weir_agg pb[] = { WEIR_AGG_PACKETS, WEIR_AGG_BYTES };
	static const enum weir_agg pay[] = { WEIR_AGG_PAYLOAD_BYTES };
	static const enum weir_agg all[] = { WEIR_AGG_PACKETS, WEIR_AGG_IP_BYTES, WEIR_AGG_BYTES,
					     WEIR_AGG_PAYLOAD_BYTES };

	load_ok("full.yaml");
	cr_assert_str_eq(cfg.path, data("full.yaml"));
	cr_assert_eq(cfg.workers, 4);
	cr_assert_str_eq(cfg.out, "-");
	cr_assert_str_eq(cfg.eal_args, "--log-level=7 --huge-unlink");
	cr_assert_eq(cfg.layer, WEIR_PKT_INNER);
	cr_assert_eq(cfg.watermark_delay_ns, MS(500));
	cr_assert_eq(cfg.idle_watermark_ns, MS(250));
	cr_assert_eq(cfg.burst, 128);
	cr_assert_eq(cfg.ring_size, 16384);
	cr_assert_eq(cfg.summary, false);
	cr_assert_eq(cfg.summary_top, 10);

	cr_assert_eq(cfg.n_queries, 3);
	assert_query(&cfg.queries[0], "flows", flows, 5, pb, 2, S(10), 1u << 20);
	assert_query(&cfg.queries[1], "global", NULL, 0, pay, 1, S(60), 65536);
	assert_query(&cfg.queries[2], "vlans-2", vl, 4, all, 4, S(60), 65536);
	cr_assert_eq(cfg.queries[0].line, 21);
	cr_assert_eq(cfg.queries[1].line, 26);
	cr_assert_eq(cfg.queries[2].line, 32);

	cr_assert_eq(cfg.n_ports, 2);
	cr_assert_str_eq(cfg.ports[0].devargs, "net_null0");
	cr_assert_str_eq(cfg.ports[0].profile, bundled("null"));
	cr_assert_eq(cfg.ports[0].rx_queues, 2);
	cr_assert_eq(cfg.ports[0].mbufs, 32768);
	cr_assert_eq(cfg.ports[0].promiscuous, true);
	cr_assert_eq(cfg.ports[0].mtu, 9000);
	cr_assert_eq(cfg.ports[0].line, 13);
	cr_assert_not(cfg.ports[0].finite);
	cr_assert_str_eq(cfg.ports[1].devargs, "net_ring0");
	cr_assert_str_eq(cfg.ports[1].profile, bundled("ring"));
	cr_assert_eq(cfg.ports[1].line, 19);
}

Test(config, no_queries_keeps_builtin)
{
	load_ok("minimal.yaml");
	cr_assert_eq(cfg.workers, 2);
	cr_assert_eq(cfg.burst, 64);
	assert_builtin_queries(&cfg);
}

Test(config, loads_over_current_contents)
{
	weir_config_defaults(&cfg);
	cfg.burst = 256;
	cr_assert_eq(weir_config_load(&cfg, data("minimal.yaml"), errbuf, sizeof(errbuf)), 0);
	cr_assert_eq(cfg.burst, 256);
	cr_assert_eq(cfg.workers, 2);
}

/* Every spelling of a boolean, the size suffixes, the ranges' edges. */
Test(config, knob_syntax, .init = tmp_init, .fini = tmp_fini)
{
	static const struct { const char *word; bool v; } bools[] = {
		{ "true", true }, { "false", false }, { "yes", true }, { "no", false },
		{ "on", true }, { "off", false }, { "True", true }, { "OFF", false },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		snprintf(text, sizeof(text), "summary: %s\n", bools[i].word);
		weir_config_defaults(&cfg);
		cfg.summary = !bools[i].v;
		cr_assert_eq(weir_config_load(&cfg, write_text("b.yaml", text), errbuf,
					      sizeof(errbuf)), 0, "%s", errbuf);
		cr_assert_eq(cfg.summary, bools[i].v, "%s", bools[i].word);
	}
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, write_text("e.yaml",
		"workers: 64\nburst: 512\nring_size: 1M\nsummary_top: 0\n"
		"watermark_delay: 0s\nidle_watermark: 1ms\nout: ''\neal: \"-l 0-3\"\n"
		"analysis_layer: outer\nblock_matches: every\n"), errbuf, sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.workers, 64);
	cr_assert_eq(cfg.burst, 512);
	cr_assert_eq(cfg.ring_size, 1u << 20);
	cr_assert_eq(cfg.summary_top, 0);
	cr_assert_eq(cfg.watermark_delay_ns, 0);
	cr_assert_eq(cfg.idle_watermark_ns, MS(1));
	cr_assert_str_eq(cfg.out, "");
	cr_assert_str_eq(cfg.eal_args, "-l 0-3");
	cr_assert_eq(cfg.layer, WEIR_PKT_OUTER);
	cr_assert_eq(cfg.block_matches, WEIR_BLOCK_MATCHES_EVERY);
	weir_config_defaults(&cfg);
	cr_assert_eq(cfg.block_matches, WEIR_BLOCK_MATCHES_FIRST);
	cr_assert_neq(weir_config_load(&cfg, write_text("m.yaml", "block_matches: all\n"), errbuf,
				       sizeof(errbuf)), 0);
	cr_assert(strstr(errbuf, "1: block_matches: expected one of first, every; got 'all'"), "%s", errbuf);
}

Test(config, too_many_queries, .init = tmp_init, .fini = tmp_fini)
{
	char text[8192];
	size_t used = snprintf(text, sizeof(text), "queries:\n");
	char want[1024];
	const char *path;

	for (int i = 0; i <= WEIR_MAX_QUERIES; i++)
		used += snprintf(text + used, sizeof(text) - used,
				 "  - {name: q%d, aggregates: [packets]}\n", i);
	path = write_text("many.yaml", text);
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:%d: queries: too many (at most 32, WEIR_MAX_QUERIES)",
		 path, WEIR_MAX_QUERIES + 2);
	cr_assert_str_eq(errbuf, want);
}

Test(config, exactly_max_queries, .init = tmp_init, .fini = tmp_fini)
{
	char text[8192];
	size_t used = snprintf(text, sizeof(text), "queries:\n");

	for (int i = 0; i < WEIR_MAX_QUERIES; i++)
		used += snprintf(text + used, sizeof(text) - used,
				 "  - {name: q%d, aggregates: [packets]}\n", i);
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, write_text("max.yaml", text), errbuf, sizeof(errbuf)),
		     0, "%s", errbuf);
	cr_assert_eq(cfg.n_queries, WEIR_MAX_QUERIES);
	cr_assert_str_eq(cfg.queries[31].name, "q31");
}

/*
 * `queries: []` means no queries (parse, flows and rules still run): it replaces
 * the built-in ones with none, whether alone, with other keys, or in flow style.
 */
Test(config, empty_queries_means_none, .init = tmp_init, .fini = tmp_fini)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(cfg.n_queries, 3);
	cr_assert_eq(weir_config_load(&cfg, write_text("none.yaml", "queries: []\n"), errbuf,
				      sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.n_queries, 0);

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, write_text("none2.yaml",
		"workers: 2\nqueries: []\nflows: {mode: on}\nsummary: false\n"), errbuf,
		sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.n_queries, 0);
	cr_assert_eq(cfg.workers, 2);

	/* a later queries: list after an empty one is read as usual */
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, write_text("some.yaml",
		"queries:\n  - {name: q, aggregates: [packets]}\n"), errbuf, sizeof(errbuf)), 0,
		"%s", errbuf);
	cr_assert_eq(cfg.n_queries, 1);
	/* and leaving the key out keeps the built-in ones */
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, write_text("keep.yaml", "workers: 1\n"), errbuf,
				      sizeof(errbuf)), 0, "%s", errbuf);
	assert_builtin_queries(&cfg);
	/* a mapping is still no list */
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, write_text("map.yaml", "queries: {}\n"), errbuf,
				      sizeof(errbuf)), -1);
}

/* ---- config errors: each with its file:line ------------------------------------ */

Test(config_errors, unknown_key)
{
	load_fails("bad-unknown-key.yaml", "3: unknown key 'wokers' (known: workers, out, eal, ");
}

Test(config_errors, bad_value)
{
	load_fails("bad-value.yaml", "2: workers: expected an unsigned integer, got 'many'");
}

Test(config_errors, out_of_range)
{
	load_fails("bad-range.yaml", "1: burst: 0 is out of range 1..512");
}

Test(config_errors, ring_size_not_power_of_two)
{
	load_fails("bad-ring-size.yaml", "1: ring_size: 1000 is not a power of two");
}

Test(config_errors, bad_bool)
{
	load_fails("bad-bool.yaml",
		   "1: summary: expected true or false (yes/no, on/off), got 'maybe'");
}

Test(config_errors, bad_duration)
{
	load_fails("bad-duration.yaml", "2: watermark_delay: expected a duration such as 60s");
}

Test(config_errors, bad_enum)
{
	load_fails("bad-layer.yaml",
		   "1: analysis_layer: expected one of outer, inner; got 'middle'");
}

Test(config_errors, duplicate_yaml_key)
{
	load_fails("bad-dup-key.yaml", "3: duplicate key 'workers' (first at line 1)");
}

Test(config_errors, anchors_and_aliases)
{
	load_fails("bad-anchor.yaml", "1: YAML anchors (&w) are not supported");
	load_fails("bad-alias.yaml", "1: YAML anchors (&w) are not supported");
}

Test(config_errors, top_level_not_a_mapping)
{
	load_fails("bad-top-list.yaml", "1: expected a mapping, got a sequence");
}

Test(config_errors, two_documents)
{
	load_fails("bad-two-docs.yaml", "2: only one YAML document per file");
}

Test(config_errors, syntax_error)
{
	/* FILE:LINE:COL: libyaml's problem (its context) */
	load_fails("bad-syntax.yaml", "5:15: did not find expected ',' or ']' "
		   "(while parsing a flow sequence at line 4)");
	load_fails("bad-indent.yaml", "2:8: mapping values are not allowed in this context");
}

Test(config_errors, empty_file)
{
	load_fails("empty.yaml", "1: empty file (no YAML document)");
	load_fails("comments-only.yaml", "1: empty file (no YAML document)");
}

Test(config_errors, binary_garbage, .init = tmp_init, .fini = tmp_fini)
{
	static const uint8_t elf[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, '\n', 0xff };
	static const uint8_t latin1[] = "workers: 1\nout: caf\xe9.jsonl\n";
	char want[1024];
	const char *path = write_file("garbage.yaml", elf, sizeof(elf));

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:1: binary data (NUL byte), not a YAML text file", path);
	cr_assert_str_eq(errbuf, want);

	/* no NUL, but not UTF-8: libyaml's reader error, placed by its offset */
	path = write_file("latin1.yaml", latin1, sizeof(latin1) - 1);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:2:10: invalid trailing UTF-8 octet (byte 0x2E)", path);
	cr_assert_str_eq(errbuf, want);
}

Test(config_errors, missing_file)
{
	char want[1024];
	const char *path = data("no-such-file.yaml");

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	cr_assert_str_eq(errbuf, want);
}

Test(config_errors, directory)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, data(""), errbuf, sizeof(errbuf)), -1);
	cr_assert(strstr(errbuf, ": cannot read: Is a directory"), "%s", errbuf);
}

Test(config_errors, duplicate_query_name)
{
	load_fails("bad-dup-query.yaml", "4: duplicate query name 'a' (first at line 2)");
}

Test(config_errors, unknown_field)
{
	load_fails("bad-field.yaml", "3: query 'hostpairs': unknown group_by field 'src_mac' "
		   "(known: src_ip, dst_ip, src_port, dst_port, proto, l4_proto, vlan, ip_version, "
		   "tcp_flags, length, ip_len, payload_len, ttl, tcp_window, rule, flow_id, direction, "
		   "src_label, dst_label, dst_name)");
}

Test(config_errors, unknown_aggregate)
{
	load_fails("bad-agg.yaml", "5: query 'q': unknown aggregate 'pkts' "
		   "(known: packets, bytes, ip_bytes, payload_bytes, sum(F), min(F), max(F), avg(F), "
		   "distinct(F), topk(F, K), quantiles(F), first_ts, last_ts, flag_counts)");
}

Test(config_errors, window_size_zero)
{
	load_fails("bad-window-size.yaml", "3: query 'q': size: 0s is out of range 1ns..24h");
}

Test(config_errors, window_type)
{
	load_fails("bad-window-type.yaml",
		   "3: query 'q': type: expected one of tumbling, sliding, session; got 'hopping'");
}

Test(config_errors, window_without_size)
{
	load_fails("bad-window-nosize.yaml", "3: query 'q': window: needs a size");
}

Test(config_errors, too_many_group_by)
{
	load_fails("bad-too-many-group-by.yaml",
		   "12: query 'q': too many group_by fields (at most 8)");
}

Test(config_errors, duplicate_field_and_aggregate)
{
	load_fails("bad-dup-field.yaml", "3: query 'q': duplicate group_by field 'src_ip'");
	load_fails("bad-dup-agg.yaml", "3: query 'q': duplicate aggregate 'bytes'");
}

Test(config_errors, no_aggregates)
{
	load_fails("bad-no-aggs.yaml", "4: query 'q': no aggregates");
	load_fails("bad-empty-aggs.yaml", "3: query 'q': aggregates: at least one is needed");
}

Test(config_errors, query_keys_and_names)
{
	load_fails("bad-query-key.yaml", "3: query 'q': unknown key 'windw' (known: having, name, "
		   "filter, group_by, window, aggregates, emit, max_keys)");
	load_fails("bad-query-name.yaml", "2: name: 'host pairs' has a ' '");
	load_fails("bad-query-noname.yaml", "2: query without a name");
	load_fails("bad-max-keys.yaml", "4: query 'q': max_keys: 8 is out of range 16..16777216");
}

Test(config_errors, stream_semantics)
{
	load_fails("bad-slide-gt-size.yaml",
		   "3: query 'q': window: slide (20000000000 ns) is larger than size (10000000000 ns)");
	load_fails("bad-session-nogap.yaml", "3: query 'q': window: session needs a gap");
	load_fails("bad-having-agg.yaml",
		   "5: query 'q': having: aggregate 'distinct(src_port)' is not one of the query's "
		   "(packets, distinct(dst_port))");
	load_fails("bad-having-syntax.yaml", "4: query 'q': having: column 10: expected a number or an aggregate");
	load_fails("bad-agg-arg.yaml",
		   "3: query 'q': aggregate 'sum(src_ip)': sum needs a numeric field, not 'src_ip'");
	load_fails("bad-prefix.yaml", "3: query 'q': 'src_ip/33': expected src_ip/N");
}

Test(config, stream_queries)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, data("stream-queries.yaml"), errbuf, sizeof(errbuf)), 0,
		     "%s", errbuf);
	cr_assert_eq(cfg.n_queries, 2);
	const struct weir_query_conf *a = &cfg.queries[0], *b = &cfg.queries[1];
	cr_assert_eq(a->window, WEIR_WINDOW_SLIDING);
	cr_assert_eq(a->size_ns, 60 * 1000000000ull);
	cr_assert_eq(a->slide_ns, 10 * 1000000000ull);
	cr_assert_eq(a->lateness_ns, 5 * 1000000000ull);
	cr_assert_eq(a->emit_every_ns, 5 * 1000000000ull);
	cr_assert_eq(a->prefix4[0], 24);
	cr_assert_eq(a->prefix6[0], 64);
	cr_assert_str_eq(a->filter, "tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8");
	cr_assert_eq(a->n_aggs, 5);
	cr_assert_str_eq(a->aggs[2].name, "distinct(dst_port)");
	cr_assert_eq(a->aggs[4].kind, WEIR_AGG_TOPK);
	cr_assert_eq(a->aggs[4].param, 5);
	cr_assert_str_eq(a->aggs[4].name, "topk(dst_port,5)");
	cr_assert_eq(a->having.n, 3, "agg, number, comparison");
	cr_assert_eq(a->max_keys, 4096, "sketch queries default to 4096 keys");
	cr_assert_eq(b->window, WEIR_WINDOW_SESSION);
	cr_assert_eq(b->gap_ns, 30 * 1000000000ull);
	cr_assert_eq(b->max_ns, 600 * 1000000000ull);
	cr_assert_eq(b->aggs[1].kind, WEIR_AGG_QUANTILES);
	cr_assert_eq(b->aggs[1].field, WEIR_FIELD_LENGTH);
}

Test(config_errors, ports)
{
	load_fails("bad-port-key.yaml", "3: port 'net_null0': unknown key 'rx_queue' (known: "
		   "devargs, profile, doc, driver, rx_queues, ");
	load_fails("bad-port-value.yaml",
		   "4: port 'net_null0': rx_queues: 100 is out of range 0..64");
	load_fails("bad-port-nodevargs.yaml", "2: port without devargs");
	load_fails("bad-port-profile.yaml", "3: port 'net_null0': profile 'no-such-profile': ");
	cr_assert(strstr(errbuf, "/no-such-profile.yaml: No such file or directory"), "%s", errbuf);
}

Test(config_errors, port_driver_mismatch)
{
	char want[2048];

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, data("bad-port-driver.yaml"), errbuf,
				      sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:%d: port 'net_null0': profile is for net_ring devices, "
		 "not 'net_null0'", bundled("ring"), line_of(bundled("ring"), "driver:"));
	cr_assert_str_eq(errbuf, want);
}

Test(config_errors, port_pci_not_listed)
{
	load_fails("bad-port-pci.yaml", "3: port '0000:3b:00.0': PCI port needs the address "
		   "allow-listed in pci: (0000:3b:00.0 is not listed)");
}

Test(config, port_pci_listed)
{
	load_ok("port-pci.yaml");
	cr_assert_eq(cfg.n_ports, 1);
	cr_assert_str_eq(cfg.ports[0].profile, bundled("mlx5"));
	cr_assert_eq(cfg.ports[0].n_pci, 1);
	cr_assert_str_eq(cfg.ports[0].pci[0], "0000:3b:00.0");
	cr_assert_eq(cfg.ports[0].rss, true);
	cr_assert_eq(cfg.ports[0].rx_queues, 0);
	cr_assert_eq(cfg.ports[0].rx_descriptors, 4096);
}

/* ---- profiles ---------------------------------------------------------------------- */

TestSuite(profiles, .init = use_bundled_profiles);

static const char *const bundled_names[] = {
	"pcap", "pcap-infinite", "null", "ring", "memif-client", "memif-server",
	"af_packet", "tap", "mlx5", "ice", "i40e", "ixgbe", "nic",
};

Test(profiles, every_bundled_profile_loads)
{
	unsigned seen = 0;
	DIR *d = opendir(weir_pmd_config_dir());
	struct dirent *e;

	cr_assert(d, "%s", weir_pmd_config_dir());
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct weir_port_conf p;
		char path[2048];

		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", weir_pmd_config_dir(), e->d_name);
		weir_port_defaults(&p);
		cr_assert_eq(weir_port_profile_load(&p, path, errbuf, sizeof(errbuf)), 0, "%s",
			     errbuf);
		cr_assert_str_eq(p.profile, path);
		seen++;
	}
	closedir(d);
	cr_assert_geq(seen, sizeof(bundled_names) / sizeof(bundled_names[0]));
	for (size_t i = 0; i < sizeof(bundled_names) / sizeof(bundled_names[0]); i++) {
		struct weir_port_conf p;

		weir_port_defaults(&p);
		cr_assert_eq(weir_port_profile_load(&p, bundled_names[i], errbuf, sizeof(errbuf)), 0,
			     "%s: %s", bundled_names[i], errbuf);
		cr_assert_str_eq(p.profile, bundled(bundled_names[i]));
	}
}

static struct weir_port_conf profile(const char *name)
{
	struct weir_port_conf p;

	weir_port_defaults(&p);
	cr_assert_eq(weir_port_profile_load(&p, name, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
	return p;
}

Test(profiles, pcap_values)
{
	struct weir_port_conf p = profile("pcap"), inf = profile("pcap-infinite");

	cr_assert_eq(p.rx_queues, 1);
	cr_assert_eq(p.timestamps, true);
	cr_assert_eq(p.scatter, true);
	cr_assert_eq(p.mbufs, 16384);
	cr_assert_eq(p.mbuf_data_room, 2048 + 128);
	cr_assert_eq(inf.timestamps, false);
	cr_assert_eq(inf.scatter, false);
	cr_assert_eq(inf.mbufs, 262144);
}

Test(profiles, nic_values)
{
	static const char *const nics[] = { "mlx5", "ice", "i40e", "ixgbe", "nic" };

	for (size_t i = 0; i < sizeof(nics) / sizeof(nics[0]); i++) {
		struct weir_port_conf p = profile(nics[i]);

		cr_assert_eq(p.rss, true, "%s", nics[i]);
		cr_assert_eq(p.rx_queues, 0, "%s", nics[i]);
		cr_assert_eq(p.rx_descriptors, 4096, "%s", nics[i]);
		cr_assert_geq(p.mbufs, 16u * 4096 + 16 * 64 + 16 * 512, "%s", nics[i]);
		cr_assert_eq(p.n_pci, 0, "%s: the pci list is the user's to fill", nics[i]);
		cr_assert_eq(p.promiscuous, true, "%s", nics[i]);
	}
}

Test(profiles, every_key)
{
	struct weir_port_conf p = profile(data("profile-custom.yaml"));

	cr_assert_eq(p.rx_queues, 3);
	cr_assert_eq(p.rx_descriptors, 512);
	cr_assert_eq(p.mbufs, 8192);
	cr_assert_eq(p.mbuf_data_room, 4224);
	cr_assert_eq(p.mtu, 1500);
	cr_assert_eq(p.scatter, true);
	cr_assert_eq(p.timestamps, true);
	cr_assert_eq(p.rss, true);
	cr_assert_eq(p.promiscuous, false);
	cr_assert_eq(p.linktype, WEIR_LINK_RAW);
}

Test(profiles, dir_from_env)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%s/tests/data/conf", source_dir());
	setenv("WEIR_PMD_CONFIG_DIR", dir, 1);
	cr_assert_str_eq(weir_pmd_config_dir(), dir);
	struct weir_port_conf p = profile("profile-custom");
	cr_assert_eq(p.rx_queues, 3);

	unsetenv("WEIR_PMD_CONFIG_DIR");
	cr_assert_str_eq(weir_pmd_config_dir(), WEIR_PMD_CONFIG_DIR);
}

Test(profiles, errors)
{
	struct weir_port_conf p;
	char want[2048];

	weir_port_defaults(&p);
	cr_assert_eq(weir_port_profile_load(&p, data("profile-bad-key.yaml"), errbuf,
					    sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:3: unknown key 'rx_ques' (known: doc, driver, ",
		 data("profile-bad-key.yaml"));
	assert_err_starts(want);

	cr_assert_eq(weir_port_profile_load(&p, data("profile-bad-pci.yaml"), errbuf,
					    sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:2: pci: 'eth0' is not a PCI address (DDDD:BB:DD.F)",
		 data("profile-bad-pci.yaml"));
	cr_assert_str_eq(errbuf, want);

	cr_assert_eq(weir_port_profile_load(&p, "no-such", errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "port '': profile 'no-such': %s: No such file or directory",
		 bundled("no-such"));
	cr_assert_str_eq(errbuf, want);
}

static const char *add_port(const char *devargs, const char *prof)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_port(&cfg, devargs, prof, errbuf, sizeof(errbuf)), 0,
		     "%s: %s", devargs, errbuf);
	cr_assert_eq(cfg.n_ports, 1);
	cr_assert_str_eq(cfg.ports[0].devargs, devargs);
	return cfg.ports[0].profile;
}

Test(profiles, picked_by_driver)
{
	cr_assert_str_eq(add_port("net_null0", NULL), bundled("null"));
	cr_assert_str_eq(add_port("net_null1,size=64,copy=0", NULL), bundled("null"));
	cr_assert_str_eq(add_port("net_ring0", NULL), bundled("ring"));
	cr_assert_str_eq(add_port("net_memif0,role=server,id=1", NULL), bundled("memif-server"));
	cr_assert_str_eq(add_port("net_memif0,socket=/tmp/m.sock", NULL), bundled("memif-client"));
	cr_assert_str_eq(add_port("net_af_packet0,iface=veth0", NULL), bundled("af_packet"));
	cr_assert_str_eq(add_port("net_tap0,iface=weir0", NULL), bundled("tap"));
	cr_assert_eq(cfg.ports[0].promiscuous, true);
	/* no profile for this driver: built-in defaults */
	cr_assert_str_eq(add_port("net_vhost0,iface=/tmp/v.sock", NULL), "");
	cr_assert_eq(cfg.ports[0].rx_queues, 1);
}

Test(profiles, explicit_profile)
{
	cr_assert_str_eq(add_port("net_null0", data("profile-custom.yaml")),
			 data("profile-custom.yaml"));
	cr_assert_eq(cfg.ports[0].rx_queues, 3);
	cr_assert_eq(cfg.ports[0].linktype, WEIR_LINK_RAW);
}

Test(profiles, driver_mismatch)
{
	char want[2048];

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_port(&cfg, "net_null0", "pcap", errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:%d: port 'net_null0': profile is for net_pcap devices, "
		 "not 'net_null0'", bundled("pcap"), line_of(bundled("pcap"), "driver:"));
	cr_assert_str_eq(errbuf, want);

	cr_assert_eq(weir_config_add_port(&cfg, "net_null0", "nic", errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:%d: port 'net_null0': profile is for PCI devices, "
		 "not 'net_null0'", bundled("nic"), line_of(bundled("nic"), "driver:"));
	cr_assert_str_eq(errbuf, want);
	cr_assert_eq(cfg.n_ports, 0);
}

Test(profiles, pci_without_allow_list)
{
	char want[2048];

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_port(&cfg, "0000:3b:00.0", NULL, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:%d: port '0000:3b:00.0': PCI port needs the address "
		 "allow-listed in pci: (0000:3b:00.0 is not listed)", bundled("nic"),
		 line_of(bundled("nic"), "pci:"));
	cr_assert_str_eq(errbuf, want);
	cr_assert_eq(cfg.n_ports, 0);
}

Test(profiles, pci_allow_listed)
{
	add_port("0000:3b:00.0", data("profile-pci.yaml"));
	cr_assert_eq(cfg.ports[0].n_pci, 1);
	cr_assert_str_eq(cfg.ports[0].pci[0], "0000:3b:00.0");
	cr_assert_eq(cfg.ports[0].rss, true);
	/* short form, devargs after the address, upper-case hex */
	add_port("3B:00.1,rxq_cqe_comp_en=1", data("profile-pci.yaml"));
	cr_assert_eq(cfg.ports[0].n_pci, 1);
	cr_assert_str_eq(cfg.ports[0].pci[0], "0000:3b:00.1");
}

Test(ports, limits_and_names, .init = use_bundled_profiles)
{
	char dev[32];

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_port(&cfg, "net_null0", NULL, errbuf, sizeof(errbuf)), 0);
	cr_assert_eq(weir_config_add_port(&cfg, "net_null0,size=128", NULL, errbuf,
					  sizeof(errbuf)), -1);
	cr_assert_str_eq(errbuf, "port 'net_null0,size=128': device name 'net_null0' is already "
			 "used by another port");
	cr_assert_eq(weir_config_add_port(&cfg, "", NULL, errbuf, sizeof(errbuf)), -1);
	for (int i = 1; i < WEIR_MAX_PORTS; i++) {
		snprintf(dev, sizeof(dev), "net_null%d", i);
		cr_assert_eq(weir_config_add_port(&cfg, dev, NULL, errbuf, sizeof(errbuf)), 0, "%s",
			     errbuf);
	}
	cr_assert_eq(weir_config_add_port(&cfg, "net_ring0", NULL, errbuf, sizeof(errbuf)), -1);
	cr_assert_str_eq(errbuf, "port 'net_ring0': too many ports (at most 16, WEIR_MAX_PORTS)");
	cr_assert_eq(cfg.n_ports, WEIR_MAX_PORTS);
}

/* ---- pcap ports ---------------------------------------------------------------------- */

TestSuite(pcap, .init = tmp_init, .fini = tmp_fini);

Test(pcap, valid_file)
{
	const char *path = write_pcap("tiny.pcap", DLT_EN10MB);
	char dev[2048];

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, path, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.n_ports, 1);
	snprintf(dev, sizeof(dev), "net_pcap0,rx_pcap=%s", path);
	cr_assert_str_eq(cfg.ports[0].devargs, dev);
	cr_assert_str_eq(cfg.ports[0].pcap_path, path);
	cr_assert_str_eq(cfg.ports[0].profile, bundled("pcap"));
	cr_assert_eq(cfg.ports[0].linktype, WEIR_LINK_ETHERNET);
	cr_assert_eq(cfg.ports[0].finite, true);
	cr_assert_eq(cfg.ports[0].timestamps, true);
	cr_assert_eq(cfg.ports[0].n_pci, 0);

	/* a second file gets the next free device name */
	cr_assert_eq(weir_config_add_pcap(&cfg, path, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert(strncmp(cfg.ports[1].devargs, "net_pcap1,", 10) == 0, "%s", cfg.ports[1].devargs);
}

Test(pcap, link_type_from_file)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, write_pcap("raw.pcap", DLT_RAW), errbuf,
					  sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.ports[0].linktype, DLT_RAW);
	cr_assert_eq(weir_config_add_pcap(&cfg, write_pcap("sll.pcap", DLT_LINUX_SLL), errbuf,
					  sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.ports[1].linktype, WEIR_LINK_SLL);
}

Test(pcap, pcapng)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, write_pcapng("tiny.pcapng", 1), errbuf,
					  sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.ports[0].linktype, WEIR_LINK_ETHERNET);
	cr_assert_eq(cfg.ports[0].finite, true);
}

Test(pcap, missing_file)
{
	char want[2048];
	const char *path = tmp("missing.pcap");

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	cr_assert_str_eq(errbuf, want);
	cr_assert_eq(cfg.n_ports, 0);
}

Test(pcap, not_a_pcap)
{
	char want[2048];
	const char *path = write_text("notes.pcap", "this is not a capture\n");

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: unknown file format", path);
	cr_assert_str_eq(errbuf, want);
}

Test(pcap, unsupported_link_type)
{
	char want[2048];
	const char *path = write_pcap("user0.pcap", 147);

	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s: unsupported link type 147 (DLT_USER0)", path);
	cr_assert_str_eq(errbuf, want);
}

Test(pcap, comma_in_file_name)
{
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_pcap(&cfg, "a,b.pcap", errbuf, sizeof(errbuf)), -1);
	cr_assert(strncmp(errbuf, "a,b.pcap: file name has a ','", 29) == 0, "%s", errbuf);
}

Test(pcap, infinite_rx)
{
	char dev[2048];

	snprintf(dev, sizeof(dev), "net_pcap0,rx_pcap=%s,infinite_rx=1",
		 write_pcap("loop.pcap", DLT_EN10MB));
	cr_assert_str_eq(add_port(dev, NULL), bundled("pcap-infinite"));
	cr_assert_eq(cfg.ports[0].finite, false);
	cr_assert_eq(cfg.ports[0].timestamps, false);
	cr_assert_eq(cfg.ports[0].mbufs, 262144);
	cr_assert_str_eq(cfg.ports[0].pcap_path, tmp("loop.pcap"));
}

Test(pcap, one_file_per_port)
{
	char dev[2048];
	const char *path = write_pcap("a.pcap", DLT_EN10MB);

	snprintf(dev, sizeof(dev), "net_pcap0,rx_pcap=%s,rx_pcap=%s", path, path);
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_add_port(&cfg, dev, NULL, errbuf, sizeof(errbuf)), -1);
	cr_assert(strstr(errbuf, "one rx_pcap file per port"), "%s", errbuf);
}

/* A ports: entry of a config file, with overrides and a pcap error placed at its line. */
Test(pcap, config_file_port)
{
	char text[2048], want[2048];
	const char *pcap = write_pcap("cfg.pcap", DLT_EN10MB);
	const char *path;

	snprintf(text, sizeof(text), "workers: 2\nports:\n  - devargs: \"net_pcap0,rx_pcap=%s\"\n"
		 "    scatter: false\n    mbufs: 4k\n", pcap);
	path = write_text("ok.yaml", text);
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
	cr_assert_eq(cfg.n_ports, 1);
	cr_assert_eq(cfg.ports[0].line, 3);
	cr_assert_eq(cfg.ports[0].scatter, false);
	cr_assert_eq(cfg.ports[0].mbufs, 4096);
	cr_assert_eq(cfg.ports[0].timestamps, true);
	cr_assert_eq(cfg.ports[0].finite, true);

	snprintf(text, sizeof(text), "ports:\n  - devargs: net_null0\n"
		 "  - devargs: \"net_pcap0,rx_pcap=%s\"\n", tmp("gone.pcap"));
	path = write_text("bad.yaml", text);
	weir_config_defaults(&cfg);
	cr_assert_eq(weir_config_load(&cfg, path, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s:3: %s: cannot open: No such file or directory", path,
		 tmp("gone.pcap"));
	cr_assert_str_eq(errbuf, want);
}
