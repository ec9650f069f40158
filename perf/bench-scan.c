/* SPDX-License-Identifier: BSD-3-Clause
 *
 * bench-scan: the scan-only baseline of perf/bench-match.sh. The idea of
 * Hyperscan's pcapscan example, written in the project: every payload of a
 * capture is preloaded into memory, then block-scanned one hs_scan per
 * payload on one core, pass after pass, and only the scan loop is timed.
 *
 * Engines (each timed on its own, same payloads, same order):
 *   raw         one Hyperscan block database of every pattern of the file,
 *               compiled with hs_compile_multi from the ID:/regex/flags lines
 *               as pcapscan parses them; hs_scan with a callback that counts.
 *   raw_first   the same with HS_FLAG_SINGLEMATCH added to every pattern that
 *               is not som_leftmost (L): what weir's default block_matches:
 *               first compiles; its matches per pass are matched packets
 *               per pattern, summed.
 *   weir_match  the file loaded and compiled by lib/match (scope-grouped
 *               databases, per-rule dedup), weir_match_scan per payload with
 *               the packet's scope (protocol, ports; no flow state);
 *               --block-matches first (the default, as weir run's) or every.
 *
 * Payload definitions (--def):
 *   weir    (default) what weir's pipeline scans (lib/io/weir_inspect.c),
 *           for TCP and UDP: weir_pkt_parse of the Ethernet frame, outer
 *           layer, L4 header parsed, not a fragment, payload_len > 0 (VLAN,
 *           QinQ, MPLS, PPPoE, IPv4 options, IPv6 extension headers walked;
 *           clamped to the capture and the IP length; an IPv4 total length
 *           of 0, as TSO captures have, takes the rest of the frame).
 *   compat  pcapscan's and hs_oracle-ndpi-mix.tsv's: IPv4 read at offset
 *           14 whatever the ethertype, not a fragment, TCP or UDP, payload
 *           ending where the IPv4 total length says (clamped to the capture).
 *
 * Output: a header line, then per engine one line
 *   RESULT engine=raw def=weir payloads=N bytes=N passes=N seconds=S
 *          pps=X gbps=X matches_per_pass=N
 * pps: payload packets scanned per second; gbps: payload bits per second / 1e9.
 *
 * usage: bench-scan [--engine LIST] [--def weir|compat] [--block-matches first|every]
 *                   [--seconds S] [--passes N] [--cpu N] PCAP PATTERNS
 *   --engine LIST  comma-separated engines, or both (raw,weir_match, the
 *                default) or all (raw,raw_first,weir_match)
 *   --seconds S  scan passes until S seconds have elapsed (default 5), after
 *                one untimed warm-up pass; --passes N: exactly N timed passes
 *   --cpu N      pin the process to CPU N first (default: not pinned)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "weir_match.h"
#include "weir_pkt.h"

#define ETH_HLEN 14

enum def { DEF_WEIR, DEF_COMPAT };

struct payload {
	uint64_t off;                /* into the payload buffer */
	uint32_t len;
	struct weir_match_pkt scope;
};

struct capture {
	uint8_t *buf;                /* every payload, back to back */
	size_t used, cap;
	struct payload *pl;
	size_t n, n_cap;
	uint64_t records, bytes;
};

struct opts {
	const char *engine;
	bool wm_first;               /* weir_match compiled with block_first_match */
	enum def def;
	double seconds;
	unsigned long passes;
	int cpu;
	const char *pcap, *patterns;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the capture --------------------------------------------------------------- */

static bool payload_weir(const uint8_t *data, uint32_t caplen, struct weir_pkt *p,
			 const uint8_t **pl)
{
	weir_pkt_parse(data, caplen, caplen, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, p);
	if (!(p->flags & WEIR_PKT_F_L4) || (p->flags & WEIR_PKT_F_FRAG) ||
	    (p->l4_proto != 6 && p->l4_proto != 17) || !p->payload_len || !p->payload_off)
		return false;
	*pl = data + p->payload_off;
	return true;
}

/* Like pcapscan: the bytes from offset 14 read as IPv4, the ethertype not looked at. */
static bool payload_compat(const uint8_t *data, uint32_t caplen, struct weir_pkt *p,
			   const uint8_t **pl)
{
	if (caplen <= ETH_HLEN)
		return false;
	const uint8_t *ip = data + ETH_HLEN;
	weir_pkt_parse(ip, caplen - ETH_HLEN, caplen - ETH_HLEN, WEIR_LINK_IPV4, WEIR_PKT_OUTER, p);
	if (p->ip_version != 4 || (p->flags & WEIR_PKT_F_FRAG) || !(p->flags & WEIR_PKT_F_L4) ||
	    (p->l4_proto != 6 && p->l4_proto != 17) || !p->payload_len)
		return false;
	unsigned total_length = (unsigned)ip[2] << 8 | ip[3];
	if (total_length + p->l3_off <= p->payload_off)
		return false;
	*pl = ip + p->payload_off;
	return true;
}

static int add(struct capture *c, const uint8_t *data, uint32_t len, const struct weir_pkt *p)
{
	if (c->n == c->n_cap) {
		size_t n = c->n_cap ? c->n_cap * 2 : 65536;
		struct payload *pl = realloc(c->pl, n * sizeof(*pl));
		if (!pl)
			return -1;
		c->pl = pl;
		c->n_cap = n;
	}
	if (c->used + len > c->cap) {
		size_t n = c->cap ? c->cap * 2 : (64u << 20);
		while (n < c->used + len)
			n *= 2;
		uint8_t *b = realloc(c->buf, n);
		if (!b)
			return -1;
		c->buf = b;
		c->cap = n;
	}
	memcpy(c->buf + c->used, data, len);
	c->pl[c->n] = (struct payload){.off = c->used, .len = len, .scope = weir_match_pkt_of(p, 0)};
	c->n++;
	c->used += len;
	c->bytes += len;
	return 0;
}

static int load_capture(const char *path, enum def def, struct capture *c)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);

	memset(c, 0, sizeof(*c));
	if (!pc) {
		fprintf(stderr, "bench-scan: %s: %s\n", path, err);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "bench-scan: %s: not an Ethernet capture\n", path);
		pcap_close(pc);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		struct weir_pkt p;
		const uint8_t *pl;
		bool ok;
		c->records++;
		ok = def == DEF_WEIR ? payload_weir(data, h->caplen, &p, &pl)
				     : payload_compat(data, h->caplen, &p, &pl);
		if (ok && add(c, pl, p.payload_len, &p) < 0) {
			fprintf(stderr, "bench-scan: out of memory\n");
			pcap_close(pc);
			return -1;
		}
	}
	if (r != PCAP_ERROR_BREAK) {
		fprintf(stderr, "bench-scan: %s: %s\n", path, pcap_geterr(pc));
		pcap_close(pc);
		return -1;
	}
	pcap_close(pc);
	return 0;
}

/* ---- raw: pcapscan's pattern parse, one database -------------------------------- */

struct raw_db {
	unsigned n;
	char **expr;
	unsigned *flags, *ids;
	hs_database_t *db;
	hs_scratch_t *scratch;
};

static int raw_flags(const char *s, unsigned *flags)
{
	*flags = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'i': *flags |= HS_FLAG_CASELESS; break;
		case 'm': *flags |= HS_FLAG_MULTILINE; break;
		case 's': *flags |= HS_FLAG_DOTALL; break;
		case 'H': *flags |= HS_FLAG_SINGLEMATCH; break;
		case 'V': *flags |= HS_FLAG_ALLOWEMPTY; break;
		case '8': *flags |= HS_FLAG_UTF8; break;
		case 'W': *flags |= HS_FLAG_UCP; break;
		case 'L': *flags |= HS_FLAG_SOM_LEFTMOST; break;
		case '\r': case '\n': case ' ': break;
		default: return -1;
		}
	}
	return 0;
}

/* "ID:/regex/flags" lines, '#' comments and blank lines skipped, as pcapscan does:
 * the regex runs from the first '/' after the colon to the last '/'. */
static int raw_compile(const char *path, bool first, struct raw_db *r)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	unsigned lineno = 0, cap = 0;

	memset(r, 0, sizeof(*r));
	if (!f) {
		fprintf(stderr, "bench-scan: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (!len || line[0] == '#')
			continue;
		char *colon = strchr(line, ':'), *slash = strrchr(line, '/');
		if (!colon || colon[1] != '/' || slash <= colon + 1) {
			fprintf(stderr, "bench-scan: %s:%u: not ID:/regex/flags\n", path, lineno);
			fclose(f);
			return -1;
		}
		if (r->n == cap) {
			cap = cap ? cap * 2 : 256;
			r->expr = realloc(r->expr, cap * sizeof(*r->expr));
			r->flags = realloc(r->flags, cap * sizeof(*r->flags));
			r->ids = realloc(r->ids, cap * sizeof(*r->ids));
			if (!r->expr || !r->flags || !r->ids) {
				fclose(f);
				return -1;
			}
		}
		*slash = '\0';
		r->ids[r->n] = (unsigned)strtoul(line, NULL, 10);
		r->expr[r->n] = strdup(colon + 2);
		if (raw_flags(slash + 1, &r->flags[r->n]) < 0) {
			fprintf(stderr, "bench-scan: %s:%u: unknown flag in '%s'\n", path, lineno, slash + 1);
			fclose(f);
			return -1;
		}
		if (first && !(r->flags[r->n] & HS_FLAG_SOM_LEFTMOST))
			r->flags[r->n] |= HS_FLAG_SINGLEMATCH;
		r->n++;
	}
	fclose(f);
	hs_compile_error_t *ce = NULL;
	if (hs_compile_multi((const char *const *)r->expr, r->flags, r->ids, r->n, HS_MODE_BLOCK, NULL,
			     &r->db, &ce) != HS_SUCCESS) {
		fprintf(stderr, "bench-scan: raw compile: pattern %d: %s\n", ce ? ce->expression : -1,
			ce ? ce->message : "?");
		hs_free_compile_error(ce);
		return -1;
	}
	if (hs_alloc_scratch(r->db, &r->scratch) != HS_SUCCESS) {
		fprintf(stderr, "bench-scan: hs_alloc_scratch failed\n");
		return -1;
	}
	return 0;
}

static void raw_free(struct raw_db *r)
{
	for (unsigned i = 0; i < r->n; i++)
		free(r->expr[i]);
	free(r->expr);
	free(r->flags);
	free(r->ids);
	hs_free_scratch(r->scratch);
	hs_free_database(r->db);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *ctx)
{
	(void)id, (void)from, (void)to, (void)flags;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* One pass; returns the matches, or UINT64_MAX on a scan error. */
static uint64_t raw_pass(const struct raw_db *r, const struct capture *c)
{
	uint64_t matches = 0;
	for (size_t i = 0; i < c->n; i++)
		if (hs_scan(r->db, (const char *)c->buf + c->pl[i].off, c->pl[i].len, 0, r->scratch,
			    on_match, &matches) != HS_SUCCESS)
			return UINT64_MAX;
	return matches;
}

/* ---- weir_match ---------------------------------------------------------------- */

struct wm {
	struct weir_ruleset *rs;
	struct weir_match *m;
	struct weir_match_worker *w;
	struct weir_match_result *res;
};

static int wm_compile(const char *path, bool first, struct wm *x)
{
	char err[512];
	struct weir_rules_opts ro = {.diag = stderr};
	struct weir_match_opts mo = {.diag = stderr, .block_first_match = first};

	memset(x, 0, sizeof(*x));
	x->rs = weir_ruleset_new(&ro);
	if (!x->rs || weir_ruleset_load(x->rs, path, WEIR_RULES_AUTO) <= 0) {
		fprintf(stderr, "bench-scan: %s: no rule loaded\n", path);
		return -1;
	}
	x->m = weir_match_compile(x->rs, &mo, err, sizeof(err));
	if (!x->m) {
		fprintf(stderr, "bench-scan: weir_match_compile: %s\n", err);
		return -1;
	}
	x->w = weir_match_worker_new(x->m, 0, err, sizeof(err));
	x->res = calloc(1, sizeof(*x->res));
	if (!x->w || !x->res) {
		fprintf(stderr, "bench-scan: weir_match_worker_new: %s\n", x->w ? "out of memory" : err);
		return -1;
	}
	return 0;
}

static void wm_free(struct wm *x)
{
	free(x->res);
	weir_match_worker_free(x->w);
	weir_match_free(x->m);
	weir_ruleset_free(x->rs);
}

static uint64_t wm_pass(struct wm *x, const struct capture *c)
{
	uint64_t matches = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct payload *p = &c->pl[i];
		if (weir_match_scan(x->w, &p->scope, c->buf + p->off, p->len, x->res) < 0)
			return UINT64_MAX;
		matches += x->res->matches;
	}
	return matches;
}

/* ---- timing ---------------------------------------------------------------------- */

typedef uint64_t (*pass_fn)(void *engine, const struct capture *c);
static uint64_t raw_pass_v(void *e, const struct capture *c) { return raw_pass(e, c); }
static uint64_t wm_pass_v(void *e, const struct capture *c) { return wm_pass(e, c); }

static int timed(const char *name, pass_fn fn, void *engine, const struct capture *c,
		 const struct opts *o)
{
	/* warm-up pass, untimed: page faults, caches, branch predictors */
	uint64_t per_pass = fn(engine, c);
	if (per_pass == UINT64_MAX) {
		fprintf(stderr, "bench-scan: %s: scan error\n", name);
		return -1;
	}
	unsigned long passes = 0;
	double t0 = now_s(), t;
	do {
		uint64_t m = fn(engine, c);
		if (m != per_pass) {
			fprintf(stderr, "bench-scan: %s: pass %lu matched %" PRIu64 ", the warm-up %" PRIu64 "\n",
				name, passes, m, per_pass);
			return -1;
		}
		passes++;
		t = now_s() - t0;
	} while (o->passes ? passes < o->passes : t < o->seconds);
	double pps = (double)c->n * passes / t;
	double gbps = (double)c->bytes * passes * 8 / t / 1e9;
	printf("RESULT engine=%s def=%s payloads=%zu bytes=%" PRIu64 " passes=%lu seconds=%.3f "
	       "pps=%.0f gbps=%.4f matches_per_pass=%" PRIu64 "\n",
	       name, o->def == DEF_WEIR ? "weir" : "compat", c->n, c->bytes, passes, t, pps, gbps,
	       per_pass);
	fflush(stdout);
	return 0;
}

/* Is `name` one of the comma-separated engines of `list`? */
static bool has_engine(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !strncmp(p, name, n))
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-scan [--engine raw,raw_first,weir_match|both|all] [--def weir|compat]\n"
		   "                  [--block-matches first|every] [--seconds S | --passes N]\n"
		   "                  [--cpu N] PCAP PATTERNS\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.engine = "both", .wm_first = true, .def = DEF_WEIR, .seconds = 5, .cpu = -1};
	static const struct option lo[] = {
		{"engine", required_argument, NULL, 'e'}, {"def", required_argument, NULL, 'd'},
		{"block-matches", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'}, {"passes", required_argument, NULL, 'n'},
		{"cpu", required_argument, NULL, 'c'},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'e': o.engine = optarg; break;
		case 'd':
			if (!strcmp(optarg, "weir"))
				o.def = DEF_WEIR;
			else if (!strcmp(optarg, "compat"))
				o.def = DEF_COMPAT;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'b':
			if (strcmp(optarg, "first") && strcmp(optarg, "every")) {
				usage(stderr);
				return 2;
			}
			o.wm_first = !strcmp(optarg, "first");
			break;
		case 's': o.seconds = atof(optarg); break;
		case 'n': o.passes = strtoul(optarg, NULL, 10); break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *list = !strcmp(o.engine, "both") ? "raw,weir_match"
			   : !strcmp(o.engine, "all")  ? "raw,raw_first,weir_match" : o.engine;
	bool raw = has_engine(list, "raw"), raw_first = has_engine(list, "raw_first");
	bool wmx = has_engine(list, "weir_match");
	if (argc - optind != 2 || (!raw && !raw_first && !wmx) || (!o.passes && !(o.seconds > 0))) {
		usage(stderr);
		return 2;
	}
	o.pcap = argv[optind];
	o.patterns = argv[optind + 1];
	if (o.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			fprintf(stderr, "bench-scan: warning: cannot pin to CPU %d: %s\n", o.cpu,
				strerror(errno));
	}

	struct capture c;
	if (load_capture(o.pcap, o.def, &c) < 0)
		return 1;
	printf("bench-scan: %s: %" PRIu64 " records, %zu payloads (def %s), %" PRIu64
	       " payload bytes; hyperscan %s\n",
	       o.pcap, c.records, c.n, o.def == DEF_WEIR ? "weir" : "compat", c.bytes, hs_version());
	if (!c.n) {
		fprintf(stderr, "bench-scan: no payload to scan\n");
		return 1;
	}

	int rc = 0;
	for (int first = 0; first < 2; first++) {
		if (rc || !(first ? raw_first : raw))
			continue;
		struct raw_db r;
		if (raw_compile(o.patterns, first, &r) < 0 ||
		    timed(first ? "raw_first" : "raw", raw_pass_v, &r, &c, &o) < 0)
			rc = 1;
		raw_free(&r);
	}
	if (wmx && rc == 0) {
		struct wm x;
		if (wm_compile(o.patterns, o.wm_first, &x) < 0 || timed("weir_match", wm_pass_v, &x, &c, &o) < 0)
			rc = 1;
		wm_free(&x);
	}
	free(c.buf);
	free(c.pl);
	return rc;
}
