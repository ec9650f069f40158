/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_match: payload matching with Hyperscan.
 *
 * Three stages, each with its own object:
 *
 *   weir_ruleset  rules loaded from files (control plane, plain heap):
 *                 weir's native YAML format, a Suricata/Snort subset, and
 *                 Hyperscan pattern files (ID:/regex/flags). Rules that use
 *                 what weir cannot express exactly are skipped with a reason
 *                 (counted per reason, warned with FILE:LINE and the id).
 *   weir_match    the rules compiled into Hyperscan databases grouped by
 *                 scope (L4 class tcp/udp/other x port group x block/stream),
 *                 optionally cached on disk. Immutable once built, shared
 *                 read-only by every worker.
 *   weir_match_worker
 *                 one per worker thread: a Hyperscan scratch cloned from the
 *                 match, per-packet dedup arrays and a preallocated pool of
 *                 stream states. The scan calls take it and never allocate,
 *                 lock or make syscalls.
 *
 * The module knows nothing of ports, flows or mbufs: the caller gives the
 * payload bytes and a small scope descriptor (struct weir_match_pkt), and, for
 * stream mode, keeps one struct weir_match_stream per flow direction and calls
 * the stream functions in the order it wants the bytes scanned.
 * rules/README.md documents the rule formats and what each keyword means.
 */
#ifndef WEIR_MATCH_H
#define WEIR_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hs/hs.h>

#include "weir_pkt.h"

/* ------------------------------------------------------------------ rules */

enum weir_rule_action { WEIR_ACTION_ALERT, WEIR_ACTION_COUNT, WEIR_ACTION_DROP, WEIR_ACTION_PASS };
enum weir_rule_mode { WEIR_MODE_PACKET, WEIR_MODE_STREAM };
enum weir_rule_dir { WEIR_DIR_ANY, WEIR_DIR_TO_SERVER, WEIR_DIR_TO_CLIENT };
/* flow:established / not_established / neither */
enum weir_rule_est { WEIR_EST_ANY, WEIR_EST_YES, WEIR_EST_NO };

/* Port set: sorted, disjoint, inclusive ranges (negation is resolved into
 * the complement at load time). `any` is the single range 0-65535. */
#define WEIR_PORTSET_MAX 32
struct weir_portset {
	uint8_t n;
	bool any;
	struct { uint16_t lo, hi; } r[WEIR_PORTSET_MAX];
};

struct weir_rule_scope {
	uint8_t l4_proto;            /* IP protocol number (6 tcp, 17 udp, 1 icmp); 0 = any */
	uint8_t dir;                 /* enum weir_rule_dir */
	uint8_t est;                 /* enum weir_rule_est */
	bool bidir;                  /* Suricata `<>`: the ports may match either way round */
	struct weir_portset sport, dport;
};

/*
 * One Hyperscan expression of a rule. A native or pattern-file rule has one
 * part; a Suricata rule has one part per independent content chain or pcre
 * (all must match) plus its negated contents (none may match).
 */
struct weir_rule_part {
	char *expr;                  /* Hyperscan expression, NUL-terminated */
	unsigned flags;              /* HS_FLAG_* */
	hs_expr_ext_t ext;           /* offset/length constraints (ext.flags 0 = none) */
	bool negated;
	bool confirm;                /* set by the loaders: Hyperscan cannot run it exactly
				      * (back-references, lookaround), so it is compiled with
				      * HS_FLAG_PREFILTER (a superset of its matches) and each
				      * report is confirmed by PCRE2 on the payload; packet
				      * mode only */
};

struct weir_rule {
	uint32_t id;                 /* sid / native id / pattern-file id; unique in a ruleset */
	uint32_t rev;
	char *msg;                   /* "" when none */
	uint8_t severity;            /* 1 = most severe; Suricata priority; default 3 */
	uint8_t action;              /* enum weir_rule_action */
	uint8_t mode;                /* enum weir_rule_mode */
	struct weir_rule_scope scope;
	unsigned n_parts;
	struct weir_rule_part *parts;
	unsigned n_tags;
	char **tags;                 /* native tags; classtype:X for Suricata rules */
	const char *file;            /* origin */
	unsigned line;
};

/* Rule file formats. AUTO picks by name: .rules -> SURICATA, .yaml/.yml ->
 * NATIVE, anything else -> HSPAT (Hyperscan's ID:/regex/flags lines). */
enum weir_rules_format { WEIR_RULES_AUTO, WEIR_RULES_NATIVE, WEIR_RULES_SURICATA, WEIR_RULES_HSPAT };

struct weir_rules_opts {
	bool strict;                 /* every skip or error fails the load */
	FILE *diag;                  /* warnings and errors, one line each; NULL = silent */
	uint8_t default_mode;        /* mode of pattern-file rules and of Suricata rules
				      * (but tcp-pkt / tcp-stream); default PACKET */
};

/* Why rules were skipped or rejected, with counts (the `rules check` table). */
enum weir_reason_kind { WEIR_REASON_SKIP, WEIR_REASON_ERROR, WEIR_REASON_WARN };
#define WEIR_RULES_MAX_REASONS 128
struct weir_rules_stats {
	unsigned files;
	unsigned loaded;             /* rules in the set */
	unsigned skipped;            /* valid rules weir cannot express exactly */
	unsigned errors;             /* invalid rules (syntax, bad regex, duplicate id) */
	unsigned warnings;           /* file-level (empty file) */
	unsigned n_reasons;
	struct weir_rules_reason {
		char name[56];       /* "keyword http.uri", "proto http", "invalid regex" */
		uint8_t kind;        /* enum weir_reason_kind */
		unsigned count;
	} reason[WEIR_RULES_MAX_REASONS];
	unsigned reasons_dropped;    /* counts of reasons beyond the table */
};

struct weir_ruleset;

/* opts may be NULL (defaults). NULL only when out of memory. */
struct weir_ruleset *weir_ruleset_new(const struct weir_rules_opts *opts);
void weir_ruleset_free(struct weir_ruleset *rs);

/*
 * Set a Suricata variable ("HTTP_PORTS", "[80,8080]"). Defaults: see
 * rules/README.md (HOME_NET, EXTERNAL_NET and *_SERVERS are `any`).
 * 0, or -1 when out of memory.
 */
int weir_ruleset_set_var(struct weir_ruleset *rs, const char *name, const char *value);

/*
 * Load one file into the set. Invalid and unsupported rules are reported on
 * opts.diag ("FILE:LINE: sid N: skipped: keyword 'dsize' not supported") and
 * counted; the valid ones are kept. Returns the number of rules added, or -1
 * when the file could not be read or is not text, or (strict) when anything
 * in it was skipped or invalid.
 */
int weir_ruleset_load(struct weir_ruleset *rs, const char *path, enum weir_rules_format fmt);

unsigned weir_ruleset_count(const struct weir_ruleset *rs);
const struct weir_rule *weir_ruleset_rule(const struct weir_ruleset *rs, unsigned idx);
const struct weir_rule *weir_ruleset_find(const struct weir_ruleset *rs, uint32_t id);
const struct weir_rules_stats *weir_ruleset_stats(const struct weir_ruleset *rs);
/* Add a deep copy of r (a rule of another set): 0, or -1 (duplicate id, out of memory). */
int weir_ruleset_copy_rule(struct weir_ruleset *rs, const struct weir_rule *r);
/* Count of one reason by name ("keyword dsize"); 0 when absent. */
unsigned weir_rules_stats_count(const struct weir_rules_stats *st, const char *reason);

/* Port set syntax shared by both formats: "any", "80", "1024:", ":1023",
 * "1000:2000", "!22", "[80,443,8000:8100,!8080]". 0 or -1 (err filled). */
int weir_portset_parse(const char *s, struct weir_portset *ps, char *err, size_t errlen);
bool weir_portset_has(const struct weir_portset *ps, uint16_t port);

/* Names used in the native format and in messages. */
const char *weir_rule_action_name(unsigned a);
const char *weir_rule_mode_name(unsigned m);

/* ---------------------------------------------------------------- compile */

struct weir_match_opts {
	const char *cache_dir;       /* serialized databases are cached here; NULL = no cache */
	FILE *diag;                  /* compile errors; NULL = silent */
	bool strict;                 /* a rule Hyperscan rejects fails the compile */
	bool cache_only;             /* a database missing from the cache fails it (compiles nothing) */
	unsigned group_min_rules;    /* rules a port needs to get its own group (0 = 8) */
	unsigned max_port_groups;    /* per L4 class (0 = 16, at most 255) */
	bool block_first_match;      /* packet-mode rules report their first match in a payload
				      * only (HS_FLAG_SINGLEMATCH, as Suricata compiles its
				      * patterns; not on som_leftmost parts, which Hyperscan
				      * refuses it for): a hit's `matches` is then 1, and
				      * Hyperscan skips the work of finding and reporting the
				      * rest. false: every match is reported and counted */
};

struct weir_match_info {
	double compile_s;            /* wall time of weir_match_compile */
	unsigned n_rules;            /* rules in the databases */
	unsigned n_failed;           /* rules Hyperscan rejected at compile (reported on diag) */
	unsigned n_confirm;          /* parts Hyperscan prefilters and PCRE2 confirms */
	unsigned n_db_block, n_db_stream;
	unsigned cache_hits, cache_misses, cache_bad; /* bad: corrupt or stale files ignored */
	size_t db_bytes_block, db_bytes_stream;       /* hs_database_size, all groups */
	size_t stream_state_bytes;   /* hs_stream_size of the largest stream database: the
				      * bytes one open stream costs (pool object size) */
	unsigned max_streams_per_dir;/* streams one flow direction opens (1, or 2 when both
				      * ports have their own group) */
	size_t scratch_bytes;        /* per worker */
	unsigned port_groups[3];     /* port groups of tcp, udp (other has none) */
};

struct weir_match;

/*
 * Compile every rule of rs (which must outlive the match; it is read, not
 * changed). Off the data path. Rules Hyperscan rejects are reported on
 * opts.diag with FILE:LINE and the expression and left out (or fail the
 * compile when strict). NULL with err filled on failure.
 */
struct weir_match *weir_match_compile(const struct weir_ruleset *rs,
				      const struct weir_match_opts *opts,
				      char *err, size_t errlen);
void weir_match_free(struct weir_match *m);
const struct weir_match_info *weir_match_info(const struct weir_match *m);
/* Rule by the dense index reported in struct weir_match_hit. */
const struct weir_rule *weir_match_rule(const struct weir_match *m, uint32_t idx);

/* -------------------------------------------------------------- data path */

/* What the caller knows of the packet's flow. */
#define WEIR_MATCH_F_TO_SERVER   0x01 /* sent by the flow's initiator */
#define WEIR_MATCH_F_TO_CLIENT   0x02
#define WEIR_MATCH_F_ESTABLISHED 0x04
#define WEIR_MATCH_F_FLOW        0x08 /* flow state known: ESTABLISHED is meaningful */
#define WEIR_MATCH_F_PORTS       0x10 /* src_port/dst_port are valid (TCP, UDP, SCTP) */

/* Scope of one scan. Rules with a direction, an established requirement or
 * ports never match when the flag they need is missing. */
struct weir_match_pkt {
	uint8_t l4_proto;
	uint8_t flags;               /* WEIR_MATCH_F_* */
	uint16_t src_port, dst_port; /* host order; ignored unless TCP/UDP */
};

/* The scope of a parsed packet (ports only when WEIR_PKT_F_PORTS is set). */
struct weir_match_pkt weir_match_pkt_of(const struct weir_pkt *p, uint8_t flow_flags);

#define WEIR_MATCH_MAX_HITS 32
struct weir_match_hit {
	uint32_t rule;               /* dense index: weir_match_rule() */
	uint32_t id;                 /* rule id */
	uint32_t matches;            /* Hyperscan reports for it in this scan */
};

/* Distinct rules matched by one scan call, each once. */
struct weir_match_result {
	uint32_t n_hits;
	uint32_t hits_dropped;       /* distinct rules beyond WEIR_MATCH_MAX_HITS */
	uint64_t matches;            /* every report, dropped rules included */
	uint32_t confirm_errors;     /* PCRE2 confirmations that ended in an error (match
				      * limit, invalid UTF-8 under a utf8 rule): not a match */
	struct weir_match_hit hit[WEIR_MATCH_MAX_HITS];
};

struct weir_match_worker;

/*
 * Per worker, off the data path. max_streams: stream states preallocated
 * (each open stream holds one; a flow direction opens max_streams_per_dir at
 * most). NULL with err filled on failure.
 */
struct weir_match_worker *weir_match_worker_new(const struct weir_match *m, unsigned max_streams,
						char *err, size_t errlen);
void weir_match_worker_free(struct weir_match_worker *w);
/*
 * Every stream state back to the pool, the streams open on it abandoned
 * (not closed): for a worker state that no thread uses, about to serve
 * again (weir keeps recently retired databases compiled).
 */
void weir_match_worker_forget_streams(struct weir_match_worker *w);

/*
 * Block-scan one payload against the databases of its scope. Fills *res.
 * Returns res->n_hits, or -1 on a Hyperscan error.
 */
int weir_match_scan(struct weir_match_worker *w, const struct weir_match_pkt *pkt,
		    const uint8_t *data, uint32_t len, struct weir_match_result *res);

/*
 * Stream mode: one struct per flow direction, zeroed by the caller, owned by
 * the caller's flow entry (24 bytes). Open, scan and close it on the worker
 * that opened it. The scope fixed at open (protocol, ports) selects the
 * databases; direction/established are checked per scan.
 */
struct weir_match_stream {
	hs_stream_t *hs[2];
	uint16_t db[2];
	uint32_t open;               /* streams open: 0, 1 or 2 */
};

/* 0: open; 1: no stream rule applies to this scope (nothing to do, scans
 * are no-ops); -1: the stream pool is exhausted (counted). */
int weir_match_stream_open(struct weir_match_worker *w, const struct weir_match_pkt *pkt,
			   struct weir_match_stream *s);
/* Scan the next bytes of the stream; matches may span earlier calls. */
int weir_match_stream_scan(struct weir_match_worker *w, struct weir_match_stream *s,
			   const struct weir_match_pkt *pkt, const uint8_t *data, uint32_t len,
			   struct weir_match_result *res);
/* Close, reporting end-of-data matches (`$`, `\b` at the end) into res
 * (may be NULL to discard them). The states return to the pool. */
int weir_match_stream_close(struct weir_match_worker *w, struct weir_match_stream *s,
			    const struct weir_match_pkt *pkt, struct weir_match_result *res);

struct weir_match_worker_stats {
	uint64_t scans, stream_scans, hs_errors;
	uint64_t confirms;           /* PCRE2 runs (one per confirmed part and scan) */
	uint64_t streams_open, streams_opened, pool_exhausted;
};
const struct weir_match_worker_stats *weir_match_worker_stats(const struct weir_match_worker *w);

/* -------------------------------------------------------------------- cli */

/*
 * `weir rules check [--strict] [--quiet] [--cache-dir DIR] FILE...`: load,
 * compile, print loaded / skipped by reason / compile time / database sizes /
 * stream state per flow. argv[0] is the command's name (not read). Exit
 * status 0, or 2 on bad input (a file unreadable, no rule loaded, a rule
 * Hyperscan rejects under --strict, any skip under --strict).
 */
int weir_rules_check_main(int argc, char **argv);

#endif /* WEIR_MATCH_H */
