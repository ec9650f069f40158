/* SPDX-License-Identifier: BSD-3-Clause
 *
 * `weir rules check FILE...`: load and compile rule files the way weir run
 * would, and say what came of them.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "weir_match_int.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weir rules check [--strict] [--quiet] [--cache-dir DIR]\n"
		"                        [--block-matches first|every] FILE...\n"
		"  Loads rule files (.rules: Suricata subset, .yaml/.yml: weir native,\n"
		"  others: Hyperscan ID:/regex/flags), compiles them and prints what\n"
		"  loaded, what was skipped and why, compile time and sizes.\n"
		"  --strict         any skipped or invalid rule is an error (exit 2)\n"
		"  --quiet          no per-rule warnings, only the summary\n"
		"  --cache-dir DIR  reuse/store compiled databases in DIR\n"
		"  --block-matches first|every\n"
		"                   compile packet-mode rules as weir run's block_matches\n"
		"                   setting does (default first, as weir run's default)\n"
		"Exit status: 0 ok, 2 bad input (unreadable file, no rule loaded, --strict).\n");
}

static int cmp_reason(const void *a, const void *b)
{
	const struct weir_rules_reason *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The loaded / skipped-by-reason table (also used by the tests). */
static void print_stats(FILE *f, const struct weir_rules_stats *st0)
{
	static const char *const kind[] = { "skipped", "error", "warning" };
	struct weir_rules_stats st = *st0;
	qsort(st.reason, st.n_reasons, sizeof(st.reason[0]), cmp_reason);
	fprintf(f, "files: %u\nloaded: %u\nskipped: %u\nerrors: %u\nwarnings: %u\n", st.files,
		st.loaded, st.skipped, st.errors, st.warnings);
	for (unsigned i = 0; i < st.n_reasons; i++)
		fprintf(f, "  %-8s %7u  %s\n", kind[st.reason[i].kind], st.reason[i].count, st.reason[i].name);
	if (st.reasons_dropped)
		fprintf(f, "  (%u more of reasons not listed)\n", st.reasons_dropped);
}

static void print_info(FILE *f, const struct weir_match_info *in)
{
	fprintf(f, "compiled: %u rules (%u rejected by hyperscan)\n", in->n_rules, in->n_failed);
	if (in->n_confirm)
		fprintf(f, "confirmed by PCRE2: %u parts (back-references, lookaround: Hyperscan prefilters)\n",
			in->n_confirm);
	fprintf(f, "compile time: %.3f s (cache: %u hits, %u misses, %u bad)\n", in->compile_s,
		in->cache_hits, in->cache_misses, in->cache_bad);
	fprintf(f, "databases: %u block (%zu bytes), %u stream (%zu bytes); port groups: tcp %u, udp %u\n",
		in->n_db_block, in->db_bytes_block, in->n_db_stream, in->db_bytes_stream,
		in->port_groups[0], in->port_groups[1]);
	fprintf(f, "stream state per flow: %zu bytes per stream, up to %u streams per direction "
		"(%zu bytes per flow, both directions)\n", in->stream_state_bytes,
		in->max_streams_per_dir, in->stream_state_bytes * in->max_streams_per_dir * 2);
	fprintf(f, "scratch per worker: %zu bytes\n", in->scratch_bytes);
}

int weir_rules_check_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "strict", no_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "cache-dir", required_argument, NULL, 'c' },
		{ "block-matches", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct weir_rules_opts ro = { .diag = stderr };
	struct weir_match_opts mo = { .diag = stderr, .block_first_match = true };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "sqc:b:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': ro.strict = mo.strict = true; break;
		case 'q': ro.diag = NULL; break;
		case 'c': mo.cache_dir = optarg; break;
		case 'b':
			if (strcmp(optarg, "first") && strcmp(optarg, "every")) {
				fprintf(stderr, "weir rules check: --block-matches: '%s' is not first or every\n",
					optarg);
				return 2;
			}
			mo.block_first_match = !strcmp(optarg, "first");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	struct weir_ruleset *rs = weir_ruleset_new(&ro);
	if (!rs) {
		fprintf(stderr, "weir rules check: out of memory\n");
		return 1;
	}
	bool bad = false;
	for (int i = optind; i < argc; i++)
		bad |= weir_ruleset_load(rs, argv[i], WEIR_RULES_AUTO) < 0;
	print_stats(stdout, weir_ruleset_stats(rs));
	int status = 0;
	if (!weir_ruleset_count(rs)) {
		fprintf(stderr, "weir rules check: no rule loaded\n");
		status = 2;
	} else {
		char err[1024];
		struct weir_match *m = weir_match_compile(rs, &mo, err, sizeof(err));
		if (!m) {
			fprintf(stderr, "weir rules check: %s\n", err);
			status = 2;
		} else {
			print_info(stdout, weir_match_info(m));
			weir_match_free(m);
		}
	}
	if (bad)
		status = 2;
	weir_ruleset_free(rs);
	return status;
}
