/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Private to lib/match: what the loaders, the compiler and the scanner share.
 */
#ifndef WEIR_MATCH_INT_H
#define WEIR_MATCH_INT_H

#include <stdarg.h>

#include "weir_match.h"

/* A rule file bigger than this is a mistake (ET Open's largest is 3.7 MB). */
#define WEIR_RULES_MAX_FILE (256u << 20)

struct weir_var {
	char *name, *value;
};

struct weir_ruleset {
	struct weir_rules_opts opts;
	struct weir_rule *rules;
	unsigned n, cap;
	uint32_t *ht;                /* id -> index + 1, open addressing */
	unsigned ht_cap;             /* power of two */
	char **files;                /* interned origin names */
	unsigned n_files;
	struct weir_var *vars;
	unsigned n_vars;
	struct weir_rules_stats stats;
	unsigned file_problems;      /* skips/errors/warnings in the file being loaded */
};

/* Where a rule comes from, for messages. */
struct weir_origin {
	const char *file;
	unsigned line;
	uint32_t id;                 /* 0 = not known yet */
	const char *id_name;         /* "sid", "id" */
};

/*
 * Count `reason` under `kind` and write "FILE:LINE: <id_name> ID: <what>:
 * <detail>" on the diag stream (what = skipped / error / warning). Under
 * strict every kind is printed as an error.
 */
void weir_rules_report(struct weir_ruleset *rs, const struct weir_origin *o,
		       enum weir_reason_kind kind, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Check each part compiles with Hyperscan in the rule's mode (hs_expression_
 * ext_info). A packet-mode part Hyperscan can only prefilter (back-references,
 * lookaround) and PCRE2 compiles gets confirm = true. On failure fills msg
 * ("<hs message>: <expr>") and reason (the hs message without its position)
 * and returns -1.
 */
int weir_rule_validate(struct weir_rule *r, char *msg, size_t msglen,
		       char *reason, size_t reasonlen);

/* The PCRE2 pattern of a part, with its Hyperscan flags' meaning; NULL when
 * PCRE2 refuses it. */
struct pcre2_real_code_8;
struct pcre2_real_code_8 *weir_part_pcre2(const struct weir_rule_part *p);

/* Take ownership of *r and add it; a duplicate id is reported and freed.
 * 0 added, -1 not. */
int weir_rules_add(struct weir_ruleset *rs, struct weir_rule *r, const struct weir_origin *o);

void weir_rule_free_fields(struct weir_rule *r);
/* Append a part (expr copied); -1 when out of memory. */
int weir_rule_add_part(struct weir_rule *r, const char *expr, unsigned flags,
		       const hs_expr_ext_t *ext, bool negated);
int weir_rule_add_tag(struct weir_rule *r, const char *tag);
void weir_rule_init(struct weir_rule *r, const char *file, unsigned line);
void weir_portset_any(struct weir_portset *ps);

/* weir_portset_parse with $VARS from rs (NULL: none). */
int weir_portset_parse_vars(const struct weir_ruleset *rs, const char *text,
			    struct weir_portset *ps, char *err, size_t errlen);

/* Interned copy of a file name (lives as long as the set). */
const char *weir_rules_intern_file(struct weir_ruleset *rs, const char *path);
const char *weir_ruleset_var(const struct weir_ruleset *rs, const char *name);

/* Loaders over a whole file in memory (NUL-terminated, no NUL inside). */
int weir_load_suricata(struct weir_ruleset *rs, const char *file, char *text, size_t len);
int weir_load_hspat(struct weir_ruleset *rs, const char *file, char *text, size_t len);
int weir_load_native(struct weir_ruleset *rs, const char *file, const char *text);

/* Hyperscan flag letters of pattern files (i m s H V 8 W L): -1 on an
 * unknown letter (*bad set to it). */
int weir_hs_flags_parse(const char *s, unsigned *flags, char *bad);

/* Append `\xHH` / plain byte escapes of data into a growing buffer. */
struct weir_sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};
void weir_sbuf_add(struct weir_sbuf *b, const char *s, size_t n);
void weir_sbuf_printf(struct weir_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weir_sbuf_literal(struct weir_sbuf *b, const uint8_t *data, size_t n);
char *weir_sbuf_take(struct weir_sbuf *b); /* NULL when out of memory */

/* ------------------------------------------------- compiled match object */

enum weir_class { WEIR_CLASS_TCP, WEIR_CLASS_UDP, WEIR_CLASS_OTHER, WEIR_CLASS__COUNT };
#define WEIR_NO_NEG UINT32_MAX
#define WEIR_NO_DB UINT16_MAX
#define WEIR_MAX_GROUPS 255

#define WEIR_NO_CONFIRM UINT32_MAX
#define WEIR_CONFIRM_RULE (UINT32_MAX - 1)

/* What a Hyperscan id of one database stands for. */
struct weir_report {
	uint32_t rule;               /* dense rule index */
	uint32_t neg;                /* negated part index, or WEIR_NO_NEG: the rule matched */
	uint32_t confirm;            /* PCRE2 confirmation: an index into weir_match.confirm,
				      * WEIR_CONFIRM_RULE (a combination: every positive
				      * confirm part of the rule) or WEIR_NO_CONFIRM */
};

/* A part Hyperscan prefilters, confirmed by PCRE2. */
struct weir_confirm {
	struct pcre2_real_code_8 *re;
	bool negated;
};

struct weir_db {
	hs_database_t *hs;
	struct weir_report *reports; /* by Hyperscan id */
	unsigned n_reports;
	uint8_t mode;
	uint64_t key[2];             /* what it was compiled from (cache key) */
};

/* The scope check the match callback runs, packed. */
struct weir_rt_rule {
	uint32_t id;
	uint32_t neg_first;          /* first of n_neg entries of the negated-part table */
	uint16_t n_neg;
	uint16_t n_confirm;          /* parts confirmed by PCRE2, from confirm_first */
	uint32_t confirm_first;
	uint8_t l4_proto, dir, est;
	bool scope_any;              /* nothing to check */
	bool ports_any, bidir;
	const struct weir_rule *rule;
};

struct weir_class_groups {
	uint8_t *port_group;         /* [65536]: group of a port (0 = none); NULL without groups */
	unsigned n_groups;
	uint16_t group_port[WEIR_MAX_GROUPS + 1];
	uint16_t db[2][WEIR_MAX_GROUPS + 1]; /* [mode][group]: database index or WEIR_NO_DB */
};

struct weir_match {
	const struct weir_ruleset *rs;
	unsigned n_rules;            /* rules in the databases (dense indices) */
	struct weir_rt_rule *rt;
	unsigned n_neg;
	struct weir_confirm *confirm;
	unsigned n_confirm;
	struct weir_db *dbs;
	unsigned n_dbs;
	struct weir_class_groups cls[WEIR_CLASS__COUNT];
	hs_scratch_t *scratch;       /* prototype for hs_clone_scratch */
	struct weir_match_info info;
};

enum weir_class weir_class_of(uint8_t l4_proto);

uint64_t weir_monotonic_ns(void);

#endif /* WEIR_MATCH_INT_H */
