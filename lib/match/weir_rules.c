/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_rules: the rule set, its bookkeeping (ids, reasons, messages), port
 * sets, reading rule files and the Hyperscan pattern-file loader. Control
 * plane only: plain heap.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "weir_match_int.h"

/* Variables a Suricata rule set expects, as Suricata's default suricata.yaml
 * sets them, except the address groups: weir's scope has no addresses, so
 * they are `any` (as on a sensor configured with HOME_NET/EXTERNAL_NET any). */
static const struct { const char *name, *value; } default_vars[] = {
	{ "HOME_NET", "any" },       { "EXTERNAL_NET", "any" },
	{ "HTTP_SERVERS", "any" },   { "SMTP_SERVERS", "any" },
	{ "SQL_SERVERS", "any" },    { "DNS_SERVERS", "any" },
	{ "TELNET_SERVERS", "any" }, { "AIM_SERVERS", "any" },
	{ "DC_SERVERS", "any" },     { "DNP3_SERVER", "any" },
	{ "DNP3_CLIENT", "any" },    { "MODBUS_CLIENT", "any" },
	{ "MODBUS_SERVER", "any" },  { "ENIP_CLIENT", "any" },
	{ "ENIP_SERVER", "any" },
	{ "HTTP_PORTS", "80" },      { "SHELLCODE_PORTS", "!80" },
	{ "ORACLE_PORTS", "1521" },  { "SSH_PORTS", "22" },
	{ "DNP3_PORTS", "20000" },   { "MODBUS_PORTS", "502" },
	{ "FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]" },
	{ "FTP_PORTS", "21" },       { "GENEVE_PORTS", "6081" },
	{ "VXLAN_PORTS", "4789" },   { "TEREDO_PORTS", "3544" },
};

uint64_t weir_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ string buf */

void weir_sbuf_add(struct weir_sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void weir_sbuf_printf(struct weir_sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		weir_sbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Bytes as a Hyperscan literal: alphanumerics as they are, everything else
 * \xHH, so no byte can be read as regex syntax. */
void weir_sbuf_literal(struct weir_sbuf *b, const uint8_t *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (isalnum(data[i]) || data[i] == '_')
			weir_sbuf_add(b, (const char *)&data[i], 1);
		else
			weir_sbuf_printf(b, "\\x%02x", data[i]);
	}
}

char *weir_sbuf_take(struct weir_sbuf *b)
{
	if (b->oom || !b->s) {
		free(b->s);
		b->s = NULL;
		return b->oom ? NULL : strdup("");
	}
	char *s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

/* ----------------------------------------------------------------- rules */

void weir_portset_any(struct weir_portset *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->n = 1;
	ps->any = true;
	ps->r[0].lo = 0;
	ps->r[0].hi = 65535;
}

void weir_rule_init(struct weir_rule *r, const char *file, unsigned line)
{
	memset(r, 0, sizeof(*r));
	r->severity = 3;
	r->action = WEIR_ACTION_ALERT;
	r->mode = WEIR_MODE_PACKET;
	weir_portset_any(&r->scope.sport);
	weir_portset_any(&r->scope.dport);
	r->file = file;
	r->line = line;
}

void weir_rule_free_fields(struct weir_rule *r)
{
	for (unsigned i = 0; i < r->n_parts; i++)
		free(r->parts[i].expr);
	free(r->parts);
	for (unsigned i = 0; i < r->n_tags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r->msg);
	r->parts = NULL;
	r->tags = NULL;
	r->msg = NULL;
	r->n_parts = r->n_tags = 0;
}

int weir_rule_add_part(struct weir_rule *r, const char *expr, unsigned flags,
		       const hs_expr_ext_t *ext, bool negated)
{
	struct weir_rule_part *p = realloc(r->parts, (r->n_parts + 1) * sizeof(*p));
	if (!p)
		return -1;
	r->parts = p;
	p = &r->parts[r->n_parts];
	memset(p, 0, sizeof(*p));
	p->expr = strdup(expr);
	if (!p->expr)
		return -1;
	p->flags = flags;
	if (ext)
		p->ext = *ext;
	p->negated = negated;
	r->n_parts++;
	return 0;
}

int weir_rule_add_tag(struct weir_rule *r, const char *tag)
{
	char **t = realloc(r->tags, (r->n_tags + 1) * sizeof(*t));
	if (!t)
		return -1;
	r->tags = t;
	t[r->n_tags] = strdup(tag);
	if (!t[r->n_tags])
		return -1;
	r->n_tags++;
	return 0;
}

const char *weir_rule_action_name(unsigned a)
{
	static const char *const n[] = { "alert", "count", "drop", "pass" };
	return a < 4 ? n[a] : "?";
}

const char *weir_rule_mode_name(unsigned m)
{
	return m == WEIR_MODE_STREAM ? "stream" : m == WEIR_MODE_PACKET ? "packet" : "?";
}

/* -------------------------------------------------------------- ruleset */

struct weir_ruleset *weir_ruleset_new(const struct weir_rules_opts *opts)
{
	struct weir_ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	if (opts)
		rs->opts = *opts;
	for (size_t i = 0; i < sizeof(default_vars) / sizeof(default_vars[0]); i++) {
		if (weir_ruleset_set_var(rs, default_vars[i].name, default_vars[i].value) < 0) {
			weir_ruleset_free(rs);
			return NULL;
		}
	}
	return rs;
}

void weir_ruleset_free(struct weir_ruleset *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < rs->n; i++)
		weir_rule_free_fields(&rs->rules[i]);
	free(rs->rules);
	free(rs->ht);
	for (unsigned i = 0; i < rs->n_files; i++)
		free(rs->files[i]);
	free(rs->files);
	for (unsigned i = 0; i < rs->n_vars; i++) {
		free(rs->vars[i].name);
		free(rs->vars[i].value);
	}
	free(rs->vars);
	free(rs);
}

int weir_ruleset_set_var(struct weir_ruleset *rs, const char *name, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return -1;
	for (unsigned i = 0; i < rs->n_vars; i++) {
		if (strcmp(rs->vars[i].name, name) == 0) {
			free(rs->vars[i].value);
			rs->vars[i].value = v;
			return 0;
		}
	}
	struct weir_var *nv = realloc(rs->vars, (rs->n_vars + 1) * sizeof(*nv));
	if (!nv) {
		free(v);
		return -1;
	}
	rs->vars = nv;
	nv[rs->n_vars].name = strdup(name);
	if (!nv[rs->n_vars].name) {
		free(v);
		return -1;
	}
	nv[rs->n_vars].value = v;
	rs->n_vars++;
	return 0;
}

const char *weir_ruleset_var(const struct weir_ruleset *rs, const char *name)
{
	for (unsigned i = 0; i < rs->n_vars; i++)
		if (strcmp(rs->vars[i].name, name) == 0)
			return rs->vars[i].value;
	return NULL;
}

unsigned weir_ruleset_count(const struct weir_ruleset *rs)
{
	return rs->n;
}

const struct weir_rule *weir_ruleset_rule(const struct weir_ruleset *rs, unsigned idx)
{
	return idx < rs->n ? &rs->rules[idx] : NULL;
}

const struct weir_rules_stats *weir_ruleset_stats(const struct weir_ruleset *rs)
{
	return &rs->stats;
}

unsigned weir_rules_stats_count(const struct weir_rules_stats *st, const char *reason)
{
	for (unsigned i = 0; i < st->n_reasons; i++)
		if (strcmp(st->reason[i].name, reason) == 0)
			return st->reason[i].count;
	return 0;
}

static uint32_t id_hash(uint32_t id)
{
	return id * 2654435761u;
}

static int ht_grow(struct weir_ruleset *rs)
{
	unsigned cap = rs->ht_cap ? rs->ht_cap * 2 : 1024;
	uint32_t *ht = calloc(cap, sizeof(*ht));
	if (!ht)
		return -1;
	for (unsigned i = 0; i < rs->n; i++) {
		unsigned h = id_hash(rs->rules[i].id) & (cap - 1);
		while (ht[h])
			h = (h + 1) & (cap - 1);
		ht[h] = i + 1;
	}
	free(rs->ht);
	rs->ht = ht;
	rs->ht_cap = cap;
	return 0;
}

const struct weir_rule *weir_ruleset_find(const struct weir_ruleset *rs, uint32_t id)
{
	if (!rs->ht_cap)
		return NULL;
	for (unsigned h = id_hash(id) & (rs->ht_cap - 1); rs->ht[h]; h = (h + 1) & (rs->ht_cap - 1))
		if (rs->rules[rs->ht[h] - 1].id == id)
			return &rs->rules[rs->ht[h] - 1];
	return NULL;
}

const char *weir_rules_intern_file(struct weir_ruleset *rs, const char *path)
{
	for (unsigned i = 0; i < rs->n_files; i++)
		if (strcmp(rs->files[i], path) == 0)
			return rs->files[i];
	char **f = realloc(rs->files, (rs->n_files + 1) * sizeof(*f));
	if (!f)
		return NULL;
	rs->files = f;
	f[rs->n_files] = strdup(path);
	return f[rs->n_files] ? f[rs->n_files++] : NULL;
}

static void count_reason(struct weir_rules_stats *st, enum weir_reason_kind kind, const char *reason)
{
	for (unsigned i = 0; i < st->n_reasons; i++) {
		if (st->reason[i].kind == kind && strcmp(st->reason[i].name, reason) == 0) {
			st->reason[i].count++;
			return;
		}
	}
	if (st->n_reasons == WEIR_RULES_MAX_REASONS) {
		st->reasons_dropped++;
		return;
	}
	struct weir_rules_reason *r = &st->reason[st->n_reasons++];
	snprintf(r->name, sizeof(r->name), "%s", reason);
	r->kind = (uint8_t)kind;
	r->count = 1;
}

void weir_rules_report(struct weir_ruleset *rs, const struct weir_origin *o,
		       enum weir_reason_kind kind, const char *reason, const char *fmt, ...)
{
	static const char *const what[] = { "skipped", "error", "warning" };

	count_reason(&rs->stats, kind, reason);
	if (kind == WEIR_REASON_SKIP)
		rs->stats.skipped++;
	else if (kind == WEIR_REASON_ERROR)
		rs->stats.errors++;
	else
		rs->stats.warnings++;
	rs->file_problems++;
	if (!rs->opts.diag)
		return;
	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	FILE *d = rs->opts.diag;
	fprintf(d, "%s:", o->file);
	if (o->line)
		fprintf(d, "%u:", o->line);
	if (o->id)
		fprintf(d, " %s %u:", o->id_name ? o->id_name : "id", o->id);
	fprintf(d, " %s: %s\n", rs->opts.strict ? "error" : what[kind], detail);
}

int weir_rules_add(struct weir_ruleset *rs, struct weir_rule *r, const struct weir_origin *o)
{
	const struct weir_rule *dup = weir_ruleset_find(rs, r->id);
	if (dup) {
		weir_rules_report(rs, o, WEIR_REASON_ERROR, "duplicate id",
				  "duplicate id %u (first defined at %s:%u)", r->id, dup->file, dup->line);
		weir_rule_free_fields(r);
		return -1;
	}
	if ((rs->n + 1) * 2 > rs->ht_cap && ht_grow(rs) < 0)
		goto oom;
	if (rs->n == rs->cap) {
		unsigned cap = rs->cap ? rs->cap * 2 : 256;
		struct weir_rule *nr = realloc(rs->rules, cap * sizeof(*nr));
		if (!nr)
			goto oom;
		rs->rules = nr;
		rs->cap = cap;
	}
	rs->rules[rs->n] = *r;
	unsigned h = id_hash(r->id) & (rs->ht_cap - 1);
	while (rs->ht[h])
		h = (h + 1) & (rs->ht_cap - 1);
	rs->ht[h] = ++rs->n;
	rs->stats.loaded++;
	return 0;
oom:
	weir_rules_report(rs, o, WEIR_REASON_ERROR, "out of memory", "out of memory");
	weir_rule_free_fields(r);
	return -1;
}

/* A deep copy of r (from another set) into rs: how merged and delta sets are built. */
int weir_ruleset_copy_rule(struct weir_ruleset *rs, const struct weir_rule *r)
{
	struct weir_origin o = {.file = r->file, .line = r->line, .id = r->id};
	struct weir_rule c;

	weir_rule_init(&c, weir_rules_intern_file(rs, r->file), r->line);
	c.id = r->id;
	c.rev = r->rev;
	c.severity = r->severity;
	c.action = r->action;
	c.mode = r->mode;
	c.scope = r->scope;
	c.msg = strdup(r->msg ? r->msg : "");
	bool ok = c.msg && c.file;
	for (unsigned i = 0; ok && i < r->n_parts; i++)
		if ((ok = weir_rule_add_part(&c, r->parts[i].expr, r->parts[i].flags, &r->parts[i].ext,
					     r->parts[i].negated) == 0))
			c.parts[i].confirm = r->parts[i].confirm;
	for (unsigned i = 0; ok && i < r->n_tags; i++)
		ok = weir_rule_add_tag(&c, r->tags[i]) == 0;
	if (!ok) {
		weir_rule_free_fields(&c);
		weir_rules_report(rs, &o, WEIR_REASON_ERROR, "out of memory", "out of memory");
		return -1;
	}
	return weir_rules_add(rs, &c, &o);
}

/* Hyperscan's message without " at index N" so that equal problems share a
 * reason. */
static void hs_reason(const char *msg, char *reason, size_t len)
{
	const char *at = strstr(msg, " at index");
	size_t n = at ? (size_t)(at - msg) : strlen(msg);
	if (n && msg[n - 1] == '.')
		n--;
	snprintf(reason, len, "hyperscan: %.*s", (int)n, msg);
}

pcre2_code *weir_part_pcre2(const struct weir_rule_part *p)
{
	static const struct { unsigned hs; uint32_t pcre; } map[] = {
		{ HS_FLAG_CASELESS, PCRE2_CASELESS }, { HS_FLAG_DOTALL, PCRE2_DOTALL },
		{ HS_FLAG_MULTILINE, PCRE2_MULTILINE },
		/* invalid UTF-8 in a payload is then no match, never undefined */
		{ HS_FLAG_UTF8, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF }, { HS_FLAG_UCP, PCRE2_UCP },
	};
	uint32_t opts = 0;
	int code;
	PCRE2_SIZE off;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (p->flags & map[i].hs)
			opts |= map[i].pcre;
	return pcre2_compile((PCRE2_SPTR)p->expr, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
}

/* Hyperscan runs a superset of the part (HS_FLAG_PREFILTER) and PCRE2 the
 * part itself: it can be confirmed. Not in stream mode (the stream's earlier
 * bytes are gone when Hyperscan reports) nor with offset parameters or
 * som_leftmost, which prefiltering does not keep. */
static bool confirmable(const struct weir_rule *r, const struct weir_rule_part *p)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *ce = NULL;
	if (r->mode == WEIR_MODE_STREAM || p->ext.flags || (p->flags & HS_FLAG_SOM_LEFTMOST))
		return false;
	if (hs_expression_info(p->expr, p->flags | HS_FLAG_PREFILTER, &info, &ce) != HS_SUCCESS) {
		hs_free_compile_error(ce);
		return false;
	}
	free(info);
	pcre2_code *re = weir_part_pcre2(p);
	pcre2_code_free(re);
	return re != NULL;
}

int weir_rule_validate(struct weir_rule *r, char *msg, size_t msglen,
		       char *reason, size_t reasonlen)
{
	for (unsigned i = 0; i < r->n_parts; i++) {
		struct weir_rule_part *p = &r->parts[i];
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *ce = NULL;
		p->confirm = false;
		if (hs_expression_ext_info(p->expr, p->flags, &p->ext, &info, &ce) == HS_SUCCESS) {
			free(info);
			continue;
		}
		if (confirmable(r, p)) {
			hs_free_compile_error(ce);
			p->confirm = true;
			continue;
		}
		snprintf(msg, msglen, "%s: %s", ce ? ce->message : "rejected", p->expr);
		hs_reason(ce ? ce->message : "rejected", reason, reasonlen);
		hs_free_compile_error(ce);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ port sets */

/*
 * A port set is parsed into a 65,536-bit map (negations and lists compose
 * simply) and then read back as ranges. Every map operation works on 64-bit
 * words. The maps a parse needs (the result, two per list, one per negation)
 * come from a scratch pool that lives for that one parse and is used in
 * stack order, so a list item costs no allocation.
 */
#define PORT_WORDS (65536 / 64)
#define PORTVAR_DEPTH 8

struct portbits {
	uint64_t w[PORT_WORDS];
};

static void bits_set_range(struct portbits *b, unsigned lo, unsigned hi)
{
	unsigned lw = lo >> 6, hw = hi >> 6;
	uint64_t lm = ~0ull << (lo & 63), hm = ~0ull >> (63 - (hi & 63));
	if (lw == hw) {
		b->w[lw] |= lm & hm;
		return;
	}
	b->w[lw] |= lm;
	for (unsigned i = lw + 1; i < hw; i++)
		b->w[i] = ~0ull;
	b->w[hw] |= hm;
}

/* The first port >= p whose bit is `set`; 65536 when there is none. */
static unsigned bits_next(const struct portbits *b, unsigned p, bool set)
{
	if (p >= 65536)
		return 65536;
	unsigned i = p >> 6;
	uint64_t flip = set ? 0 : ~0ull;
	uint64_t w = (b->w[i] ^ flip) & (~0ull << (p & 63));
	while (!w) {
		if (++i == PORT_WORDS)
			return 65536;
		w = b->w[i] ^ flip;
	}
	return i << 6 | (unsigned)__builtin_ctzll(w);
}

struct portparse {
	const struct weir_ruleset *rs;   /* for $VARS; NULL = none */
	char *err;
	size_t errlen;
	int depth;
	struct portbits **pool;          /* scratch maps: [0, used) are taken */
	unsigned n_pool, used;
};

static int pp_err(struct portparse *pp, const char *fmt, const char *arg)
{
	snprintf(pp->err, pp->errlen, fmt, arg);
	return -1;
}

/* A zeroed scratch map, given back with pp_put in reverse order of taking;
 * NULL after reporting when out of memory. */
static struct portbits *pp_get(struct portparse *pp)
{
	if (pp->used == pp->n_pool) {
		struct portbits **np = realloc(pp->pool, (pp->n_pool + 1) * sizeof(*np));
		if (!np) {
			pp_err(pp, "%s", "out of memory");
			return NULL;
		}
		pp->pool = np;
		if (!(np[pp->n_pool] = malloc(sizeof(struct portbits)))) {
			pp_err(pp, "%s", "out of memory");
			return NULL;
		}
		pp->n_pool++;
	}
	struct portbits *b = pp->pool[pp->used++];
	memset(b, 0, sizeof(*b));
	return b;
}

static void pp_put(struct portparse *pp, unsigned n)
{
	pp->used -= n;
}

static void pp_free(struct portparse *pp)
{
	for (unsigned i = 0; i < pp->n_pool; i++)
		free(pp->pool[i]);
	free(pp->pool);
}

static int parse_port_num(const char **s, unsigned *out)
{
	if (!isdigit((unsigned char)**s))
		return -1;
	unsigned long v = 0;
	while (isdigit((unsigned char)**s)) {
		v = v * 10 + (unsigned)(**s - '0');
		if (v > 65535)
			return -1;
		(*s)++;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_set(struct portparse *pp, const char **s, struct portbits *out);

/* N, N:, :M, N:M */
static int parse_range(struct portparse *pp, const char **s, struct portbits *out)
{
	const char *start = *s;
	unsigned lo = 0, hi = 65535;
	if (**s != ':' && parse_port_num(s, &lo) < 0)
		return pp_err(pp, "invalid port '%s'", start);
	hi = lo;
	if (**s == ':') {
		(*s)++;
		hi = 65535;
		if (isdigit((unsigned char)**s) && parse_port_num(s, &hi) < 0)
			return pp_err(pp, "invalid port range '%s'", start);
	}
	if (hi < lo)
		return pp_err(pp, "empty port range '%s'", start);
	bits_set_range(out, lo, hi);
	return 0;
}

static int parse_var(struct portparse *pp, const char **s, struct portbits *out)
{
	char name[64];
	size_t n = 0;
	(*s)++;
	while ((isalnum((unsigned char)**s) || **s == '_') && n + 1 < sizeof(name))
		name[n++] = *(*s)++;
	name[n] = '\0';
	const char *val = pp->rs ? weir_ruleset_var(pp->rs, name) : NULL;
	if (!val)
		return pp_err(pp, "unknown variable $%s", name);
	if (++pp->depth > PORTVAR_DEPTH)
		return pp_err(pp, "variables nest too deep at $%s", name);
	const char *v = val;
	int rc = parse_set(pp, &v, out);
	if (rc == 0 && *v)
		rc = pp_err(pp, "invalid port set '%s'", val);
	pp->depth--;
	return rc;
}

/* [a,b,!c]: the union of the positive items (everything when there is
 * none) minus the union of the negated ones, as Suricata reads it. Items
 * are parsed straight into the two unions (a set only ever adds to its
 * output; on failure the whole parse fails). */
static int parse_list(struct portparse *pp, const char **s, struct portbits *out)
{
	struct portbits *pos = pp_get(pp);
	if (!pos)
		return -1;
	struct portbits *neg = pp_get(pp);
	if (!neg) {
		pp_put(pp, 1);
		return -1;
	}
	bool any_pos = false;
	int rc = 0;
	(*s)++;
	for (;;) {
		while (**s == ' ')
			(*s)++;
		bool negated = **s == '!';
		if (negated)
			(*s)++;
		rc = parse_set(pp, s, negated ? neg : pos);
		if (rc < 0)
			break;
		any_pos |= !negated;
		while (**s == ' ')
			(*s)++;
		if (**s == ',') {
			(*s)++;
			continue;
		}
		if (**s == ']') {
			(*s)++;
			break;
		}
		rc = pp_err(pp, "expected ',' or ']' in port list at '%s'", *s);
		break;
	}
	for (unsigned i = 0; rc == 0 && i < PORT_WORDS; i++)
		out->w[i] |= (any_pos ? pos->w[i] : ~0ull) & ~neg->w[i];
	pp_put(pp, 2);
	return rc;
}

static int parse_set(struct portparse *pp, const char **s, struct portbits *out)
{
	if (**s == '!') {
		struct portbits *tmp = pp_get(pp);
		if (!tmp)
			return -1;
		(*s)++;
		int rc = parse_set(pp, s, tmp);
		for (unsigned i = 0; rc == 0 && i < PORT_WORDS; i++)
			out->w[i] |= ~tmp->w[i];
		pp_put(pp, 1);
		return rc;
	}
	if (**s == '[')
		return parse_list(pp, s, out);
	if (**s == '$')
		return parse_var(pp, s, out);
	if (strncmp(*s, "any", 3) == 0) {
		*s += 3;
		bits_set_range(out, 0, 65535);
		return 0;
	}
	return parse_range(pp, s, out);
}

static int bits_to_set(struct portparse *pp, const struct portbits *b, struct weir_portset *ps,
		       const char *text)
{
	memset(ps, 0, sizeof(*ps));
	for (unsigned lo = bits_next(b, 0, true); lo < 65536;) {
		unsigned end = bits_next(b, lo, false);
		if (ps->n == WEIR_PORTSET_MAX)
			return pp_err(pp, "port set '%s' has too many ranges (at most 32)", text);
		ps->r[ps->n].lo = (uint16_t)lo;
		ps->r[ps->n].hi = (uint16_t)(end - 1);
		ps->n++;
		lo = bits_next(b, end, true);
	}
	if (!ps->n)
		return pp_err(pp, "port set '%s' is empty", text);
	ps->any = ps->n == 1 && ps->r[0].lo == 0 && ps->r[0].hi == 65535;
	return 0;
}

int weir_portset_parse_vars(const struct weir_ruleset *rs, const char *text,
			    struct weir_portset *ps, char *err, size_t errlen)
{
	struct portparse pp = { .rs = rs, .err = err, .errlen = errlen };
	struct portbits *b = pp_get(&pp);
	int rc = -1;
	if (b) {
		const char *s = text;
		rc = parse_set(&pp, &s, b);
		if (rc == 0 && *s)
			rc = pp_err(&pp, "invalid port set '%s'", text);
		if (rc == 0)
			rc = bits_to_set(&pp, b, ps, text);
	}
	pp_free(&pp);
	return rc;
}

int weir_portset_parse(const char *s, struct weir_portset *ps, char *err, size_t errlen)
{
	return weir_portset_parse_vars(NULL, s, ps, err, errlen);
}

bool weir_portset_has(const struct weir_portset *ps, uint16_t port)
{
	for (unsigned i = 0; i < ps->n; i++) {
		if (port < ps->r[i].lo)
			return false;
		if (port <= ps->r[i].hi)
			return true;
	}
	return false;
}

/* ------------------------------------------------------- pattern files */

int weir_hs_flags_parse(const char *s, unsigned *flags, char *bad)
{
	static const struct { char c; unsigned f; } tab[] = {
		{ 'i', HS_FLAG_CASELESS },  { 'm', HS_FLAG_MULTILINE },
		{ 's', HS_FLAG_DOTALL },    { 'H', HS_FLAG_SINGLEMATCH },
		{ 'V', HS_FLAG_ALLOWEMPTY },{ '8', HS_FLAG_UTF8 },
		{ 'W', HS_FLAG_UCP },       { 'L', HS_FLAG_SOM_LEFTMOST },
	};
	*flags = 0;
	for (; *s; s++) {
		size_t i = 0;
		while (i < sizeof(tab) / sizeof(tab[0]) && tab[i].c != *s)
			i++;
		if (i == sizeof(tab) / sizeof(tab[0])) {
			*bad = *s;
			return -1;
		}
		*flags |= tab[i].f;
	}
	return 0;
}

/* "ID:/regex/flags" -> rule; -1 after reporting. */
static int hspat_line(struct weir_ruleset *rs, const char *file, unsigned lineno, char *line)
{
	struct weir_origin o = { .file = file, .line = lineno, .id_name = "id" };
	char *p = line;
	unsigned long long id = 0;
	if (!isdigit((unsigned char)*p))
		goto syntax;
	while (isdigit((unsigned char)*p)) {
		id = id * 10 + (unsigned)(*p++ - '0');
		if (id > UINT32_MAX)
			goto syntax;
	}
	o.id = (uint32_t)id;
	if (p[0] != ':' || p[1] != '/')
		goto syntax;
	char *expr = p + 2;
	char *slash = strrchr(expr, '/');
	if (!slash)
		goto syntax;
	*slash = '\0';
	unsigned flags;
	char bad;
	if (weir_hs_flags_parse(slash + 1, &flags, &bad) < 0) {
		weir_rules_report(rs, &o, WEIR_REASON_ERROR, "unknown flag",
				  "unknown flag '%c' (flags: i m s H V 8 W L)", bad);
		return -1;
	}
	if (!*expr) {
		weir_rules_report(rs, &o, WEIR_REASON_ERROR, "empty expression", "empty expression");
		return -1;
	}
	struct weir_rule r;
	weir_rule_init(&r, file, lineno);
	r.id = o.id;
	r.mode = rs->opts.default_mode;
	r.msg = strdup("");
	if (!r.msg || weir_rule_add_part(&r, expr, flags, NULL, false) < 0) {
		weir_rule_free_fields(&r);
		weir_rules_report(rs, &o, WEIR_REASON_ERROR, "out of memory", "out of memory");
		return -1;
	}
	char msg[1024], reason[56];
	if (weir_rule_validate(&r, msg, sizeof(msg), reason, sizeof(reason)) < 0) {
		weir_rules_report(rs, &o, WEIR_REASON_ERROR, "invalid regex", "invalid regex: %s", msg);
		weir_rule_free_fields(&r);
		return -1;
	}
	return weir_rules_add(rs, &r, &o);
syntax:
	weir_rules_report(rs, &o, WEIR_REASON_ERROR, "syntax",
			  "expected ID:/regex/flags, got '%.60s'", line);
	return -1;
}

int weir_load_hspat(struct weir_ruleset *rs, const char *file, char *text, size_t len)
{
	int added = 0;
	unsigned lineno = 0;
	for (char *line = text; line && line < text + len;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		size_t n = strlen(line);
		while (n && isspace((unsigned char)line[n - 1]))
			line[--n] = '\0';
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (*s && *s != '#' && hspat_line(rs, file, lineno, s) == 0)
			added++;
		line = nl ? nl + 1 : NULL;
	}
	return added;
}

/* --------------------------------------------------------- reading files */

/* Text, not a binary: no NUL (-1, *bad_off set), and few control
 * characters in the first 4 KiB (-2). */
static int check_text(const char *buf, size_t len, size_t *bad_off)
{
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		*bad_off = (size_t)(nul - buf);
		return -1;
	}
	size_t ctl = 0, n = len < 4096 ? len : 4096;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v')
			ctl++;
	}
	return ctl * 20 > n ? -2 : 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > WEIR_RULES_MAX_FILE) {
		snprintf(err, errlen, "file too large (%lld bytes, at most %u)",
			 (long long)st.st_size, WEIR_RULES_MAX_FILE);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			snprintf(err, errlen, "read error: %s", n < 0 ? strerror(errno) : "short read");
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
out:
	close(fd);
	return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static enum weir_rules_format detect_format(const char *path)
{
	if (ends_with(path, ".rules"))
		return WEIR_RULES_SURICATA;
	if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
		return WEIR_RULES_NATIVE;
	return WEIR_RULES_HSPAT;
}

int weir_ruleset_load(struct weir_ruleset *rs, const char *path, enum weir_rules_format fmt)
{
	struct weir_origin o = { .file = path };
	char err[256];
	size_t len = 0, bad_off;

	rs->stats.files++;
	rs->file_problems = 0;
	const char *file = weir_rules_intern_file(rs, path);
	char *text = read_file(path, &len, err, sizeof(err));
	if (!file || !text) {
		weir_rules_report(rs, &o, WEIR_REASON_ERROR, "unreadable file", "%s",
				  file ? err : "out of memory");
		free(text);
		return -1;
	}
	int bin = check_text(text, len, &bad_off);
	if (bin < 0) {
		if (bin == -1)
			weir_rules_report(rs, &o, WEIR_REASON_ERROR, "binary file",
					  "binary data (NUL byte at offset %zu), not a rule file", bad_off);
		else
			weir_rules_report(rs, &o, WEIR_REASON_ERROR, "binary file",
					  "binary data (control characters), not a rule file");
		free(text);
		return -1;
	}
	if (fmt == WEIR_RULES_AUTO)
		fmt = detect_format(path);
	unsigned before = rs->stats.loaded;
	int rc;
	if (fmt == WEIR_RULES_SURICATA)
		rc = weir_load_suricata(rs, file, text, len);
	else if (fmt == WEIR_RULES_HSPAT)
		rc = weir_load_hspat(rs, file, text, len);
	else
		rc = weir_load_native(rs, file, text);
	free(text);
	if (rc >= 0 && rs->stats.loaded == before && rs->file_problems == 0)
		weir_rules_report(rs, &o, WEIR_REASON_WARN, "empty file", "no rules in file");
	if (rc < 0 || (rs->opts.strict && rs->file_problems))
		return -1;
	return (int)(rs->stats.loaded - before);
}
