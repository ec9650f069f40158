/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_conf: the config file and the pmd-config port profiles.
 *
 * Every setting is a row of a knob table (key, type, range, where it is
 * stored); one reader applies a mapping through a table, so all knobs get
 * the same syntax, range checks and error messages. Keys not in the table
 * are errors: a misspelt knob silently keeping its default is the worst
 * kind of config bug.
 */
#include "weir_conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <pcap/pcap.h>

#include "weir_build.h"
#include "weir_yaml.h"

#define NS_PER_S 1000000000ull

/* ---- group-by fields and aggregates ---------------------------------------- */

static const char *const field_names[WEIR_FIELD__COUNT] = {
#define WEIR_X(e, s, n) [WEIR_FIELD_##e] = s,
	WEIR_FIELD_LIST(WEIR_X)
#undef WEIR_X
};

static const unsigned field_sizes[WEIR_FIELD__COUNT] = {
#define WEIR_X(e, s, n) [WEIR_FIELD_##e] = n,
	WEIR_FIELD_LIST(WEIR_X)
#undef WEIR_X
};

static const char *const agg_names[WEIR_AGG__COUNT] = {
#define WEIR_X(e, s) [WEIR_AGG_##e] = s,
	WEIR_AGG_LIST(WEIR_X)
#undef WEIR_X
};

static int name_index(const char *const *names, unsigned count, const char *s)
{
	for (unsigned i = 0; i < count; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *weir_field_name(enum weir_field f)
{
	return (unsigned)f < WEIR_FIELD__COUNT ? field_names[f] : "?";
}

unsigned weir_field_size(enum weir_field f)
{
	return (unsigned)f < WEIR_FIELD__COUNT ? field_sizes[f] : 0;
}

int weir_field_parse(const char *name)
{
	return name_index(field_names, WEIR_FIELD__COUNT, name);
}

const char *weir_agg_name(enum weir_agg a)
{
	return (unsigned)a < WEIR_AGG__COUNT ? agg_names[a] : "?";
}

bool weir_field_numeric(enum weir_field f)
{
	switch (f) {
	case WEIR_FIELD_SRC_PORT: case WEIR_FIELD_DST_PORT: case WEIR_FIELD_PROTO:
	case WEIR_FIELD_L4_PROTO: case WEIR_FIELD_VLAN: case WEIR_FIELD_IP_VERSION:
	case WEIR_FIELD_TCP_FLAGS: case WEIR_FIELD_LENGTH: case WEIR_FIELD_IP_LEN:
	case WEIR_FIELD_PAYLOAD_LEN: case WEIR_FIELD_TTL: case WEIR_FIELD_TCP_WINDOW:
		return true;
	default:
		return false;
	}
}

static const char *skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* Copy an identifier ([a-z0-9_]) at p into buf; returns the end. */
static const char *read_ident(const char *p, char *buf, size_t len)
{
	size_t n = 0;

	while ((isalnum((unsigned char)*p) || *p == '_') && n + 1 < len)
		buf[n++] = *p++;
	buf[n] = '\0';
	return p;
}

/*
 * packets | bytes | ip_bytes | payload_bytes | first_ts | last_ts |
 * flag_counts | sum|min|max|avg|quantiles(NUMERIC_FIELD) | distinct(FIELD) |
 * topk(FIELD, K) with K in 1..100.
 */
int weir_agg_conf_parse(const char *text, struct weir_agg_conf *a, char *err, size_t errlen)
{
	char kind[32], field[32];
	const char *p = read_ident(skip_space(text), kind, sizeof(kind));
	int k = name_index(agg_names, WEIR_AGG__COUNT, kind), f = -1;
	unsigned long param = 0;

	memset(a, 0, sizeof(*a));
	if (k < 0) {
		snprintf(err, errlen, "unknown aggregate '%s' (known: packets, bytes, ip_bytes, "
			 "payload_bytes, sum(F), min(F), max(F), avg(F), distinct(F), topk(F, K), "
			 "quantiles(F), first_ts, last_ts, flag_counts)", text);
		return -1;
	}
	bool takes_field = k >= WEIR_AGG_SUM && k <= WEIR_AGG_QUANTILES;
	p = skip_space(p);
	if (!takes_field) {
		if (*p) {
			snprintf(err, errlen, "aggregate '%s' takes no argument", text);
			return -1;
		}
	} else {
		if (*p != '(') {
			snprintf(err, errlen, "aggregate '%s' needs a field: %s(FIELD%s)", text, kind,
				 k == WEIR_AGG_TOPK ? ", K" : "");
			return -1;
		}
		p = read_ident(skip_space(p + 1), field, sizeof(field));
		f = weir_field_parse(field);
		if (f < 0) {
			snprintf(err, errlen, "aggregate '%s': unknown field '%s'", text, field);
			return -1;
		}
		p = skip_space(p);
		if (k == WEIR_AGG_TOPK) {
			char *end;
			if (*p != ',') {
				snprintf(err, errlen, "aggregate '%s': topk needs K: topk(%s, 5)", text,
					 field);
				return -1;
			}
			param = strtoul(skip_space(p + 1), &end, 10);
			if (end == skip_space(p + 1) || param < 1 || param > 100) {
				snprintf(err, errlen, "aggregate '%s': K must be 1..100", text);
				return -1;
			}
			p = skip_space(end);
		}
		if (*p != ')' || *skip_space(p + 1)) {
			snprintf(err, errlen, "aggregate '%s': expected ')' at the end", text);
			return -1;
		}
		bool numeric = k != WEIR_AGG_DISTINCT && k != WEIR_AGG_TOPK;
		if (numeric && !weir_field_numeric((enum weir_field)f)) {
			snprintf(err, errlen, "aggregate '%s': %s needs a numeric field, not '%s'", text,
				 kind, field);
			return -1;
		}
	}
	a->kind = (enum weir_agg)k;
	a->field = f < 0 ? WEIR_FIELD_SRC_IP : (enum weir_field)f;
	a->param = (uint16_t)param;
	if (k == WEIR_AGG_TOPK)
		snprintf(a->name, sizeof(a->name), "topk(%s,%lu)", field, param);
	else if (takes_field)
		snprintf(a->name, sizeof(a->name), "%s(%s)", kind, field);
	else
		snprintf(a->name, sizeof(a->name), "%s", kind);
	return 0;
}

/* ---- having ------------------------------------------------------------------ */

struct hv_parser {
	const char *s, *p;
	const struct weir_query_conf *q;
	struct weir_having *h;
	char *err;
	size_t errlen;
};

static int hv_fail(struct hv_parser *hp, const char *what)
{
	snprintf(hp->err, hp->errlen, "having: column %d: %s", (int)(hp->p - hp->s) + 1, what);
	return -1;
}

static int hv_push(struct hv_parser *hp, uint8_t op, uint8_t agg, uint8_t sub, double num)
{
	if (hp->h->n == WEIR_HAVING_MAX)
		return hv_fail(hp, "expression too long");
	hp->h->node[hp->h->n].op = op;
	hp->h->node[hp->h->n].agg = agg;
	hp->h->node[hp->h->n].sub = sub;
	hp->h->node[hp->h->n].num = num;
	hp->h->n++;
	return 0;
}

static bool hv_word(struct hv_parser *hp, const char *w)
{
	size_t n = strlen(w);
	const char *p = skip_space(hp->p);

	if (strncmp(p, w, n) != 0 || isalnum((unsigned char)p[n]) || p[n] == '_')
		return false;
	hp->p = p + n;
	return true;
}

static bool hv_sym(struct hv_parser *hp, const char *w)
{
	const char *p = skip_space(hp->p);

	if (strncmp(p, w, strlen(w)) != 0)
		return false;
	hp->p = p + strlen(w);
	return true;
}

/* A number or an aggregate (its canonical text; quantiles(F).p50/.p90/.p99). */
static int hv_operand(struct hv_parser *hp)
{
	const char *p = skip_space(hp->p);
	char *end;
	double v = strtod(p, &end);

	if (end != p && (isdigit((unsigned char)*p) || *p == '.' || *p == '-')) {
		hp->p = end;
		return hv_push(hp, WEIR_HV_NUM, 0, 0, v);
	}
	/* the aggregate's text runs to its closing parenthesis, or is one word */
	const char *q = p;
	while (isalnum((unsigned char)*q) || *q == '_')
		q++;
	if (*q == '(') {
		while (*q && *q != ')')
			q++;
		if (*q == ')')
			q++;
	}
	if (q == p) {
		hp->p = p;
		return hv_fail(hp, "expected a number or an aggregate");
	}
	char text[64];
	struct weir_agg_conf a;
	char aerr[256];
	snprintf(text, sizeof(text), "%.*s", (int)(q - p), p);
	if (weir_agg_conf_parse(text, &a, aerr, sizeof(aerr)) < 0 && strncmp(text, "topk", 4) != 0) {
		hp->p = p;
		return hv_fail(hp, aerr);
	}
	int sub = 0;
	if (*q == '.') {
		static const char *const subs[] = {"p50", "p90", "p99"};
		char w[8];
		const char *e = read_ident(q + 1, w, sizeof(w));
		sub = name_index(subs, 3, w);
		if (sub < 0 || a.kind != WEIR_AGG_QUANTILES) {
			hp->p = q;
			return hv_fail(hp, "only quantiles(F) take .p50, .p90 or .p99");
		}
		q = e;
	} else if (a.kind == WEIR_AGG_QUANTILES) {
		sub = 0; /* the median unless told */
	}
	for (unsigned i = 0; i < hp->q->n_aggs; i++) {
		if (strcmp(hp->q->aggs[i].name, a.name) != 0)
			continue;
		if (a.kind == WEIR_AGG_TOPK) {
			hp->p = p;
			return hv_fail(hp, "topk is a list, not a number; having cannot compare it");
		}
		hp->p = q;
		return hv_push(hp, WEIR_HV_AGG, (uint8_t)i, (uint8_t)sub, 0);
	}
	char have[512] = "";
	size_t used = 0;
	for (unsigned i = 0; i < hp->q->n_aggs && used < sizeof(have); i++)
		used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%s", i ? ", " : "",
					 hp->q->aggs[i].name);
	snprintf(hp->err, hp->errlen, "having: aggregate '%s' is not one of the query's (%s)",
		 text, have);
	return -1;
}

static int hv_or(struct hv_parser *hp);

static int hv_unary(struct hv_parser *hp)
{
	if (hv_word(hp, "not") || hv_sym(hp, "!"))
		return hv_unary(hp) || hv_push(hp, WEIR_HV_NOT, 0, 0, 0);
	if (hv_sym(hp, "(")) {
		if (hv_or(hp))
			return -1;
		if (!hv_sym(hp, ")"))
			return hv_fail(hp, "expected ')'");
		return 0;
	}
	static const struct { const char *s; uint8_t op; } cmp[] = {
		{">=", WEIR_HV_GE}, {"<=", WEIR_HV_LE}, {"==", WEIR_HV_EQ}, {"!=", WEIR_HV_NE},
		{">", WEIR_HV_GT}, {"<", WEIR_HV_LT},
	};
	if (hv_operand(hp))
		return -1;
	for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++)
		if (hv_sym(hp, cmp[i].s))
			return hv_operand(hp) || hv_push(hp, cmp[i].op, 0, 0, 0);
	return hv_fail(hp, "expected a comparison (>, >=, <, <=, ==, !=)");
}

static int hv_and(struct hv_parser *hp)
{
	if (hv_unary(hp))
		return -1;
	while (hv_word(hp, "and") || hv_sym(hp, "&&"))
		if (hv_unary(hp) || hv_push(hp, WEIR_HV_AND, 0, 0, 0))
			return -1;
	return 0;
}

static int hv_or(struct hv_parser *hp)
{
	if (hv_and(hp))
		return -1;
	while (hv_word(hp, "or") || hv_sym(hp, "||"))
		if (hv_and(hp) || hv_push(hp, WEIR_HV_OR, 0, 0, 0))
			return -1;
	return 0;
}

int weir_having_parse(const char *text, const struct weir_query_conf *q, struct weir_having *h,
		      char *err, size_t errlen)
{
	struct hv_parser hp = { text, text, q, h, err, errlen };

	memset(h, 0, sizeof(*h));
	if (strlen(text) >= sizeof(h->text)) {
		snprintf(err, errlen, "having: longer than %zu characters", sizeof(h->text) - 1);
		return -1;
	}
	if (hv_or(&hp))
		return -1;
	if (*skip_space(hp.p))
		return hv_fail(&hp, "unexpected text");
	snprintf(h->text, sizeof(h->text), "%s", text);
	return 0;
}

/* ---- durations -------------------------------------------------------------- */

/*
 * An integer and a unit, nothing else: "10" is refused because a bare
 * number is ambiguous (seconds? ms?) and a wrong guess is silent.
 */
int weir_parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", NS_PER_S },
		{ "m", 60 * NS_PER_S }, { "h", 3600 * NS_PER_S },
	};
	uint64_t v = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].ns)
				return -1;
			*ns = v * units[i].ns;
			return 0;
		}
	}
	return -1;
}

/* ---- knob tables ------------------------------------------------------------ */

enum knob_kind {
	K_UINT,      /* decimal integer in [min, max] */
	K_SIZE,      /* same, k/M/G suffixes allowed */
	K_POW2,      /* K_SIZE that must be a power of two */
	K_BOOL,
	K_DURATION,  /* weir_parse_duration, ns in [min, max] */
	K_STR,       /* fits the char array */
	K_ENUM,      /* one of `names` */
	K_FN,        /* anything else: fn reads it */
};

struct knob {
	const char *key;
	enum knob_kind kind;
	size_t off, size;            /* where in the target struct, and how wide */
	uint64_t min, max;
	const struct weir_yname *names;
	int (*fn)(struct weir_yctx *y, const struct weir_ynode *n, void *base);
};

#define FIELD_SIZE(type, f) sizeof(((type *)0)->f)
#define KNOB(kind_, k, type, f, lo, hi) \
	{ .key = k, .kind = kind_, .off = offsetof(type, f), .size = FIELD_SIZE(type, f), \
	  .min = lo, .max = hi }
#define KNOB_ENUM(k, type, f, tbl) \
	{ .key = k, .kind = K_ENUM, .off = offsetof(type, f), .size = FIELD_SIZE(type, f), \
	  .names = tbl }
#define KNOB_FN(k, f) { .key = k, .kind = K_FN, .fn = f }
#define KNOB_END { .key = NULL }

/* Integers of any width the structs use (uint8..64, enums, int). */
static void store_uint(void *p, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: memcpy(p, &v, 8); break;
	}
}

static int knob_read(struct weir_yctx *y, const struct knob *k, const struct weir_ynode *n,
		     void *base)
{
	void *p = (char *)base + k->off;
	uint64_t v = 0;
	bool b;
	int e;

	switch (k->kind) {
	case K_UINT:
		if (weir_yread_uint(y, n, k->min, k->max, &v))
			return -1;
		break;
	case K_SIZE:
	case K_POW2:
		if (weir_yread_size(y, n, k->min, k->max, &v))
			return -1;
		if (k->kind == K_POW2 && (v & (v - 1)))
			return weir_yerr(y, n->line, "%s: %s is not a power of two", k->key, n->str);
		break;
	case K_DURATION:
		if (weir_yread_duration(y, n, k->min, k->max, &v))
			return -1;
		break;
	case K_BOOL:
		if (weir_yread_bool(y, n, &b))
			return -1;
		*(bool *)p = b;
		return 0;
	case K_STR:
		return weir_yread_str(y, n, p, k->size);
	case K_ENUM:
		if (weir_yread_enum(y, n, k->names, &e))
			return -1;
		v = (uint64_t)(uint32_t)e;
		break;
	case K_FN:
		return k->fn(y, n, base);
	}
	store_uint(p, k->size, v);
	return 0;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int unknown_key(struct weir_yctx *y, const struct weir_ynode *m, const struct knob *tab,
		       const char *const *skip)
{
	char known[512] = "";
	size_t used = 0;

	for (; skip && *skip && used < sizeof(known); skip++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
					 used ? ", " : "", *skip);
	for (; tab->key && used < sizeof(known); tab++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
					 used ? ", " : "", tab->key);
	return weir_yerr(y, m->key_line, "unknown key '%s' (known: %s)", m->key, known);
}

/*
 * Read every member of `map` through `tab`; members named in `skip` were
 * handled by the caller. The table ends with KNOB_END.
 */
static int knobs_apply(struct weir_yctx *y, const struct weir_ynode *map,
		       const struct knob *tab, void *base, const char *const *skip)
{
	if (weir_yexpect(y, map, WEIR_YMAP))
		return -1;
	WEIR_YFOREACH(m, map) {
		const struct knob *k = tab;

		if (in_list(skip, m->key))
			continue;
		while (k->key && strcmp(k->key, m->key) != 0)
			k++;
		if (!k->key)
			return unknown_key(y, m, tab, skip);
		if (knob_read(y, k, m, base))
			return -1;
	}
	return 0;
}

/* ---- queries ----------------------------------------------------------------- */

static void query_defaults(struct weir_query_conf *q)
{
	memset(q, 0, sizeof(*q));
	q->window = WEIR_WINDOW_TUMBLING;
	q->size_ns = 60 * NS_PER_S;
	q->max_keys = 0; /* set after the aggregates are known */
}

/*
 * group_by: a list of fields; src_ip/dst_ip may keep only a prefix:
 * src_ip/24 (IPv4 /24, IPv6 /64), src_ip/24/48 (IPv4 /24, IPv6 /48).
 */
static int read_group_by(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_query_conf *q = base;
	unsigned cnt = 0;

	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	WEIR_YFOREACH(it, n) {
		char name[32];
		unsigned p4 = 0, p6 = 0;
		int f;

		if (weir_yexpect(y, it, WEIR_YSCALAR))
			return -1;
		const char *slash = strchr(it->str, '/');
		snprintf(name, sizeof(name), "%.*s",
			 (int)(slash ? (size_t)(slash - it->str) : strlen(it->str)), it->str);
		f = weir_field_parse(name);
		if (f < 0) {
			char known[512] = "";
			size_t used = 0;
			for (unsigned i = 0; i < WEIR_FIELD__COUNT && used < sizeof(known); i++)
				used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
							 i ? ", " : "", field_names[i]);
			return weir_yerr(y, it->line, "unknown group_by field '%s' (known: %s)", name,
					 known);
		}
		if (slash) {
			int used = 0;
			if (f != WEIR_FIELD_SRC_IP && f != WEIR_FIELD_DST_IP)
				return weir_yerr(y, it->line, "'%s': only src_ip and dst_ip take a prefix",
						 it->str);
			if (sscanf(slash, "/%u%n/%u%n", &p4, &used, &p6, &used) < 1 ||
			    slash[used] != '\0' || p4 < 1 || p4 > 32 || (p6 && p6 > 128) ||
			    (strchr(slash + 1, '/') && p6 < 1))
				return weir_yerr(y, it->line,
						 "'%s': expected %s/N (IPv4 1..32) or %s/N/M (IPv6 1..128)",
						 it->str, name, name);
			if (!p6)
				p6 = 64;
		}
		for (unsigned i = 0; i < cnt; i++)
			if (q->group_by[i] == (enum weir_field)f)
				return weir_yerr(y, it->line, "duplicate group_by field '%s'", name);
		if (cnt == WEIR_MAX_GROUP_BY)
			return weir_yerr(y, it->line, "too many group_by fields (at most %d)",
					 WEIR_MAX_GROUP_BY);
		q->group_by[cnt] = (enum weir_field)f;
		q->prefix4[cnt] = (uint8_t)(p4 == 32 ? 0 : p4);
		q->prefix6[cnt] = (uint8_t)(p6 == 128 ? 0 : p6);
		cnt++;
	}
	q->n_group_by = cnt;
	return 0;
}

static int paren_depth(const char *s)
{
	int d = 0;

	for (; *s; s++)
		d += (*s == '(') - (*s == ')');
	return d;
}

/*
 * A flow sequence splits "topk(dst_port, 5)" at its comma into two items:
 * items are joined back while parentheses are open.
 */
static int read_aggregates(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_query_conf *q = base;
	unsigned cnt = 0;
	char err[512], text[128] = "";
	int line = 0;

	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	WEIR_YFOREACH(it, n) {
		if (weir_yexpect(y, it, WEIR_YSCALAR))
			return -1;
		if (!text[0])
			line = it->line;
		size_t used = strlen(text);
		snprintf(text + used, sizeof(text) - used, "%s%s", used ? ", " : "", it->str);
		if (paren_depth(text) > 0 && it->next)
			continue;
		if (cnt == WEIR_MAX_AGGS)
			return weir_yerr(y, line, "too many aggregates (at most %d)", WEIR_MAX_AGGS);
		if (weir_agg_conf_parse(text, &q->aggs[cnt], err, sizeof(err)) < 0)
			return weir_yerr(y, line, "%s", err);
		for (unsigned i = 0; i < cnt; i++)
			if (strcmp(q->aggs[i].name, q->aggs[cnt].name) == 0)
				return weir_yerr(y, line, "duplicate aggregate '%s'", text);
		cnt++;
		text[0] = '\0';
	}
	if (cnt == 0)
		return weir_yerr(y, n->line, "aggregates: at least one is needed");
	q->n_aggs = cnt;
	return 0;
}

static const struct weir_yname window_types[] = {
	{ "tumbling", WEIR_WINDOW_TUMBLING },
	{ "sliding", WEIR_WINDOW_SLIDING },
	{ "session", WEIR_WINDOW_SESSION },
	{ NULL, 0 },
};

#define DAY_NS (24 * 3600 * NS_PER_S)
/*
 *   window: {type: tumbling, size: 60s}
 *           {type: sliding, size: 60s, slide: 10s}
 *           {type: session, gap: 30s, max: 10m}
 *     type      tumbling | sliding | session                    tumbling
 *     size      window length (tumbling, sliding), 1ns..24h      60s
 *     slide     sliding: distance between window starts, <= size;
 *               windows start at multiples of it since the epoch.
 *               Packets are counted once, in panes of gcd(size, slide);
 *               at most 4096 panes a window
 *     gap       session: a key's session ends after this much
 *               event time without packets, 1ns..24h; required
 *     max       session: longest session, then a new one starts;
 *               applied at pane (= gap) granularity                 unbounded
 *     lateness  allowed lateness, 0..24h: packets up to this much
 *               behind the watermark update their window, which
 *               is emitted again with "late":true; later ones are
 *               dropped and counted (late)                          0
 */
static const struct knob window_knobs[] = {
	KNOB_ENUM("type", struct weir_query_conf, window, window_types),
	KNOB(K_DURATION, "size", struct weir_query_conf, size_ns, 1, DAY_NS),
	KNOB(K_DURATION, "slide", struct weir_query_conf, slide_ns, 1, DAY_NS),
	KNOB(K_DURATION, "gap", struct weir_query_conf, gap_ns, 1, DAY_NS),
	KNOB(K_DURATION, "max", struct weir_query_conf, max_ns, 1, 7 * DAY_NS),
	KNOB(K_DURATION, "lateness", struct weir_query_conf, lateness_ns, 0, DAY_NS),
	KNOB_END,
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int read_window(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_query_conf *q = base;

	if (knobs_apply(y, n, window_knobs, base, NULL))
		return -1;
	bool has_size = weir_yget(n, "size"), has_slide = weir_yget(n, "slide");
	bool has_gap = weir_yget(n, "gap"), has_max = weir_yget(n, "max");
	switch (q->window) {
	case WEIR_WINDOW_TUMBLING:
		if (!has_size)
			return weir_yerr(y, n->line, "window: needs a size (e.g. size: 60s)");
		if (has_slide || has_gap || has_max)
			return weir_yerr(y, n->line, "window: slide, gap and max are not for tumbling windows");
		break;
	case WEIR_WINDOW_SLIDING:
		if (!has_size || !has_slide)
			return weir_yerr(y, n->line, "window: sliding needs size and slide (e.g. size: 60s, slide: 10s)");
		if (has_gap || has_max)
			return weir_yerr(y, n->line, "window: gap and max are for session windows");
		if (q->slide_ns > q->size_ns)
			return weir_yerr(y, n->line, "window: slide (%" PRIu64 " ns) is larger than size (%" PRIu64 " ns)",
					 q->slide_ns, q->size_ns);
		if (q->size_ns / gcd64(q->size_ns, q->slide_ns) > 4096)
			return weir_yerr(y, n->line,
					 "window: size/gcd(size, slide) = %" PRIu64 " panes; at most 4096",
					 q->size_ns / gcd64(q->size_ns, q->slide_ns));
		break;
	case WEIR_WINDOW_SESSION:
		if (!has_gap)
			return weir_yerr(y, n->line, "window: session needs a gap (e.g. gap: 30s)");
		if (has_size || has_slide)
			return weir_yerr(y, n->line, "window: size and slide are not for session windows");
		if (has_max && q->max_ns < q->gap_ns)
			return weir_yerr(y, n->line, "window: max is shorter than gap");
		q->size_ns = q->gap_ns;
		break;
	}
	return 0;
}

/*
 *   emit: {on: close, every: 5s}
 *     on      close: final results when a window closes (the only one)
 *     every   also partial results ("final":false) each time the
 *             watermark passes a multiple of this, 1ms..24h          off
 */
static const struct weir_yname emit_ons[] = { { "close", 0 }, { NULL, 0 } };
struct emit_conf { int on; uint64_t every; };
static const struct knob emit_knobs[] = {
	KNOB_ENUM("on", struct emit_conf, on, emit_ons),
	KNOB(K_DURATION, "every", struct emit_conf, every, 1000000, DAY_NS),
	KNOB_END,
};

static int read_emit(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct emit_conf e = { 0, 0 };

	if (knobs_apply(y, n, emit_knobs, &e, NULL))
		return -1;
	((struct weir_query_conf *)base)->emit_every_ns = e.every;
	return 0;
}

/* Names end up in output records and file names: keep them plain. */
static int read_query_name(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_query_conf *q = base;

	if (weir_yread_str(y, n, q->name, sizeof(q->name)))
		return -1;
	if (!q->name[0])
		return weir_yerr(y, n->line, "name: empty");
	for (const char *p = q->name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return weir_yerr(y, n->line,
					 "name: '%s' has a '%c' (use letters, digits, '_' and '-')",
					 q->name, *p);
	return 0;
}

/*
 * One entry of queries:
 *   name        [A-Za-z0-9_-]+, unique, required
 *   filter      tcpdump expression plus weir predicates (match(ID),
 *               rule.severity >= N, flow.new, src_label == "x", ...;
 *               see lib/filter/weir_filter.h); compiled at start.
 *               Default: every packet
 *   group_by    list of fields (see WEIR_FIELD_LIST; src_ip/24 keeps a
 *               prefix), at most WEIR_MAX_GROUP_BY, no repeats; [] = one
 *               global group. Default []
 *   window      see window_knobs; default 60 s tumbling
 *   aggregates  list (see weir_agg_conf_parse), at least one, at most
 *               WEIR_MAX_AGGS, no repeats. Required
 *   having      threshold over the aggregates, e.g.
 *               "distinct(dst_port) > 100 and packets >= 10"; a true
 *               row also raises an alert record. Default none
 *   emit        see emit_knobs; default on close only
 *   max_keys    distinct keys per window per worker, 16..16M (k/M
 *               suffixes allowed); further keys are folded into one
 *               "_other" row (counted as overflow) so totals stay
 *               exact. Default 65536, or 4096 when the query has a
 *               distinct/topk/quantiles aggregate (KiBs per key)
 */
static const struct knob query_knobs[] = {
	KNOB_FN("name", read_query_name),
	KNOB(K_STR, "filter", struct weir_query_conf, filter, 0, 0),
	KNOB_FN("group_by", read_group_by),
	KNOB_FN("window", read_window),
	KNOB_FN("aggregates", read_aggregates),
	KNOB_FN("emit", read_emit),
	KNOB(K_SIZE, "max_keys", struct weir_query_conf, max_keys, 16, 16u << 20),
	KNOB_END,
};

static bool query_has_sketch(const struct weir_query_conf *q)
{
	for (unsigned i = 0; i < q->n_aggs; i++)
		if (q->aggs[i].kind == WEIR_AGG_DISTINCT || q->aggs[i].kind == WEIR_AGG_TOPK ||
		    q->aggs[i].kind == WEIR_AGG_QUANTILES)
			return true;
	return false;
}

/* After the knobs: what needs the whole query (having names aggregates). */
static int finish_query(struct weir_yctx *y, const struct weir_ynode *map, struct weir_query_conf *q)
{
	const struct weir_ynode *hv = weir_yget(map, "having");
	char err[768];

	if (!weir_yget(map, "aggregates"))
		return weir_yerr(y, map->line, "no aggregates (e.g. aggregates: [packets, bytes])");
	if (hv) {
		if (weir_yexpect(y, hv, WEIR_YSCALAR))
			return -1;
		if (weir_having_parse(hv->str, q, &q->having, err, sizeof(err)) < 0)
			return weir_yerr(y, hv->line, "%s", err);
	}
	if (!q->max_keys)
		q->max_keys = query_has_sketch(q) ? 4096 : 65536;
	return 0;
}

static int read_query(struct weir_yctx *y, const struct weir_ynode *map, struct weir_config *c)
{
	static const char *const later[] = { "having", NULL };
	struct weir_query_conf *q = &c->queries[c->n_queries];
	const struct weir_ynode *name;
	int rc;

	if (weir_yexpect(y, map, WEIR_YMAP))
		return -1;
	query_defaults(q);
	q->line = map->line;
	/* the name first, so that every later error can say which query */
	name = weir_yget(map, "name");
	if (!name)
		return weir_yerr(y, map->line, "query without a name");
	if (read_query_name(y, name, q))
		return -1;
	for (unsigned i = 0; i < c->n_queries; i++)
		if (strcmp(c->queries[i].name, q->name) == 0)
			return weir_yerr(y, name->line, "duplicate query name '%s' (first at line %d)",
					 q->name, c->queries[i].line);
	weir_yctx_prefix(y, "query '%s': ", q->name);
	rc = knobs_apply(y, map, query_knobs, q, later);
	if (!rc)
		rc = finish_query(y, map, q);
	weir_yctx_prefix(y, "%s", "");
	if (rc)
		return -1;
	c->n_queries++;
	return 0;
}

/*
 * A config's queries replace the built-in ones rather than add to them.
 * `queries: []` means no queries at all: packets are still received, parsed,
 * tracked in flows and matched against rules, but nothing is aggregated and
 * no window record is written (leave the key out to keep the built-in ones).
 */
static int read_queries(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_config *c = base;
	unsigned i = 0;

	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	c->n_queries = 0;
	WEIR_YFOREACH(it, n) {
		if (i++ == WEIR_MAX_QUERIES)
			return weir_yerr(y, it->line, "queries: too many (at most %d, WEIR_MAX_QUERIES)",
					 WEIR_MAX_QUERIES);
		if (read_query(y, it, c))
			return -1;
	}
	return 0;
}

/* ---- ports and profiles ------------------------------------------------------ */

/* A port being assembled from built-in defaults, a profile and overrides. */
struct port_build {
	struct weir_port_conf p;
	char driver[WEIR_NAME_MAX];         /* device name prefix the profile expects, "" = any */
	char driver_at[WEIR_PATH_MAX + 16]; /* "FILE:LINE: " of driver:, for the mismatch error */
	char pci_at[WEIR_PATH_MAX + 16];    /* "FILE:LINE: " of the pci: list in force */
};

/* What weir_config_add_port or a ports: entry asks for. */
struct port_req {
	const char *devargs;
	const char *profile;              /* NULL: picked by driver */
	struct weir_yctx *y;              /* config file being read; NULL from the CLI */
	const struct weir_ynode *entry;   /* its ports: entry (overrides), or NULL */
	char *err;
	size_t errlen;
};

void weir_port_defaults(struct weir_port_conf *p)
{
	memset(p, 0, sizeof(*p));
	p->rx_queues = 1;
	p->rx_descriptors = 1024;
	p->mbufs = 16384;
	p->mbuf_data_room = 2048 + 128; /* RTE_MBUF_DEFAULT_BUF_SIZE */
	p->promiscuous = true;          /* a monitor sees mirrored traffic not addressed to it */
	p->linktype = WEIR_LINK_ETHERNET;
}

static int perr(const struct port_req *r, const char *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "LOC port 'DEVARGS': message" */
static int perr(const struct port_req *r, const char *loc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->errlen)
		snprintf(r->err, r->errlen, "%sport '%s': %s", loc, r->devargs, msg);
	return -1;
}

/* "DDDD:BB:DD.F" or "BB:DD.F" (hex) -> canonical "dddd:bb:dd.f"; -1 if not one. */
static int pci_canon(const char *s, char out[32])
{
	unsigned dom = 0, bus, dev, fn;
	int used = -1;
	size_t len = strlen(s);

	if (len == 0 || len > 16 || strspn(s, "0123456789abcdefABCDEF:.") != len)
		return -1;
	if (sscanf(s, "%x:%x:%x.%x%n", &dom, &bus, &dev, &fn, &used) != 4 || (size_t)used != len) {
		dom = 0;
		if (sscanf(s, "%x:%x.%x%n", &bus, &dev, &fn, &used) != 3 || (size_t)used != len)
			return -1;
	}
	if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
		return -1;
	snprintf(out, 32, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

/* The device part of devargs: "net_pcap0" of "net_pcap0,rx_pcap=x". */
static void dev_name(const char *devargs, char *out, size_t len)
{
	size_t l = strcspn(devargs, ",");

	if (l >= len)
		l = len - 1;
	memcpy(out, devargs, l);
	out[l] = '\0';
}

/* Value of the first "key=" among the devargs; returns how many there are. */
static unsigned devarg_get(const char *devargs, const char *key, char *val, size_t len)
{
	size_t kl = strlen(key);
	unsigned hits = 0;

	for (const char *p = strchr(devargs, ','); p; p = strchr(p, ',')) {
		size_t l = strcspn(++p, ",");

		if (l > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			if (!hits++ && val)
				snprintf(val, len, "%.*s", (int)(l - kl - 1), p + kl + 1);
		}
	}
	return hits;
}

/* "key=value" present in devargs? */
static bool devarg_is(const char *devargs, const char *kv)
{
	char key[64], val[64];
	const char *eq = strchr(kv, '=');

	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	return devarg_get(devargs, key, val, sizeof(val)) && strcmp(val, eq + 1) == 0;
}

/* Does device `name` belong to driver `driver` ("pci" = any PCI address)? */
static bool driver_matches(const char *driver, const char *name)
{
	char pci[32];

	if (strcmp(driver, "pci") == 0)
		return pci_canon(name, pci) == 0;
	return strncmp(name, driver, strlen(driver)) == 0;
}

/*
 * Profile picked when none is given. First match wins, so the variants
 * keyed by a devarg come before their driver's plain entry.
 */
static const struct {
	const char *driver;
	const char *devarg;  /* "key=value" that must be present too, or NULL */
	const char *profile;
} default_profiles[] = {
	{ "net_pcap", "infinite_rx=1", "pcap-infinite" },
	{ "net_pcap", NULL, "pcap" },
	{ "net_null", NULL, "null" },
	{ "net_ring", NULL, "ring" },
	{ "net_memif", "role=server", "memif-server" },
	{ "net_memif", NULL, "memif-client" },
	{ "net_af_packet", NULL, "af_packet" },
	{ "net_tap", NULL, "tap" },
	{ "pci", NULL, "nic" },
};

/* NULL: no profile for this driver, built-in defaults apply. */
static const char *pick_profile(const char *devargs)
{
	char name[WEIR_PATH_MAX];

	dev_name(devargs, name, sizeof(name));
	for (size_t i = 0; i < sizeof(default_profiles) / sizeof(default_profiles[0]); i++) {
		if (!driver_matches(default_profiles[i].driver, name))
			continue;
		if (!default_profiles[i].devarg || devarg_is(devargs, default_profiles[i].devarg))
			return default_profiles[i].profile;
	}
	return NULL;
}

const char *weir_pmd_config_dir(void)
{
	const char *env = getenv("WEIR_PMD_CONFIG_DIR");

	return env && *env ? env : WEIR_PMD_CONFIG_DIR;
}

/* A bare name is looked up in the pmd-config directory, anything else is a path. */
static int profile_path(const char *profile, char *out, size_t len)
{
	size_t l = strlen(profile);
	bool is_path = strchr(profile, '/') || (l > 5 && strcmp(profile + l - 5, ".yaml") == 0);
	int n = is_path ? snprintf(out, len, "%s", profile)
			: snprintf(out, len, "%s/%s.yaml", weir_pmd_config_dir(), profile);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int read_driver(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct port_build *b = base;

	if (weir_yread_str(y, n, b->driver, sizeof(b->driver)))
		return -1;
	snprintf(b->driver_at, sizeof(b->driver_at), "%s:%d: ", y->file, n->key_line);
	return 0;
}

static int read_doc(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	return weir_yexpect(y, n, WEIR_YSCALAR);
}

static int read_pci(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct port_build *b = base;
	const unsigned max = sizeof(b->p.pci) / sizeof(b->p.pci[0]);
	unsigned cnt = 0;

	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	WEIR_YFOREACH(it, n) {
		if (weir_yexpect(y, it, WEIR_YSCALAR))
			return -1;
		if (cnt == max)
			return weir_yerr(y, it->line, "pci: too many addresses (at most %u)", max);
		if (pci_canon(it->str, b->p.pci[cnt]))
			return weir_yerr(y, it->line, "pci: '%s' is not a PCI address (DDDD:BB:DD.F)",
					 it->str);
		cnt++;
	}
	b->p.n_pci = cnt;
	snprintf(b->pci_at, sizeof(b->pci_at), "%s:%d: ", y->file, n->key_line);
	return 0;
}

static const struct weir_yname linktypes[] = {
	{ "ethernet", WEIR_LINK_ETHERNET },
	{ "raw", WEIR_LINK_RAW },
	{ "ipv4", WEIR_LINK_IPV4 },
	{ "ipv6", WEIR_LINK_IPV6 },
	{ "sll", WEIR_LINK_SLL },
	{ "sll2", WEIR_LINK_SLL2 },
	{ "null", WEIR_LINK_NULL },
	{ NULL, 0 },
};

#define PB struct port_build
/*
 * Profile keys (pmd-config/NAME.yaml); each may also be overridden in a
 * ports: entry of the config file. Defaults are weir_port_defaults().
 *   doc             free text for humans                          -
 *   driver          device name prefix the profile is meant for
 *                   (net_pcap, ...; "pci" = a PCI address); a
 *                   port of another driver is an error            any
 *   rx_queues       0..64; 0 = one per worker (RSS NICs)          1
 *   rx_descriptors  rx ring entries per queue, 32..32768          1024
 *   mbufs           mempool size of the port, 512..64M            16384
 *   mbuf_data_room  bytes per mbuf incl. 128 headroom, 256..65535 2176
 *   mtu             0 = the driver's default, else 68..65535      0
 *   scatter         chain frames bigger than one mbuf             false
 *   timestamps      rx timestamp offload (pcap/NIC time as
 *                   event time)                                   false
 *   rss             spread over rx queues by symmetric RSS        false
 *   promiscuous     see traffic not addressed to the port         true
 *   pci             PCI addresses weir may take; a PCI port must
 *                   be in this list (nothing is probed otherwise) []
 *   linktype        ethernet, raw, ipv4, ipv6, sll, sll2, null;
 *                   pcap ports take it from the file              ethernet
 */
static const struct knob port_knobs[] = {
	KNOB_FN("doc", read_doc),
	KNOB_FN("driver", read_driver),
	KNOB(K_UINT, "rx_queues", PB, p.rx_queues, 0, WEIR_MAX_WORKERS),
	KNOB(K_UINT, "rx_descriptors", PB, p.rx_descriptors, 32, 32768),
	KNOB(K_SIZE, "mbufs", PB, p.mbufs, 512, 64u << 20),
	KNOB(K_SIZE, "mbuf_data_room", PB, p.mbuf_data_room, 256, 65535),
	KNOB(K_UINT, "mtu", PB, p.mtu, 0, 65535),
	KNOB(K_BOOL, "scatter", PB, p.scatter, 0, 0),
	KNOB(K_BOOL, "timestamps", PB, p.timestamps, 0, 0),
	KNOB(K_BOOL, "rss", PB, p.rss, 0, 0),
	KNOB(K_BOOL, "promiscuous", PB, p.promiscuous, 0, 0),
	KNOB_FN("pci", read_pci),
	KNOB_ENUM("linktype", PB, p.linktype, linktypes),
	KNOB_END,
};
#undef PB

static int load_profile(struct port_build *b, const char *profile, const struct port_req *r,
			const char *loc)
{
	struct weir_yctx y;
	struct weir_ynode *root;
	int rc;

	if (profile_path(profile, b->p.profile, sizeof(b->p.profile)))
		return perr(r, loc, "profile '%s': path too long", profile);
	if (access(b->p.profile, R_OK))
		return perr(r, loc, "profile '%s': %s: %s", profile, b->p.profile, strerror(errno));
	weir_yctx_init(&y, b->p.profile, r->err, r->errlen);
	root = weir_yaml_load(&y);
	if (!root)
		return -1;
	rc = knobs_apply(&y, root, port_knobs, b, NULL);
	weir_yaml_free(root);
	return rc;
}

/* libpcap prefixes some messages with the file name; we print it once. */
static const char *pcap_msg(const char *msg, const char *path)
{
	size_t l = strlen(path);

	if (strncmp(msg, path, l) == 0 && strncmp(msg + l, ": ", 2) == 0)
		return msg + l + 2;
	return msg;
}

/* " (DLT_EN10MB)"; libpcap has no names for the private-use DLT_USER0..15 */
static void dlt_name(int dlt, char *buf, size_t len)
{
	const char *name = pcap_datalink_val_to_name(dlt);

	if (name)
		snprintf(buf, len, " (DLT_%s)", name);
	else if (dlt >= 147 && dlt <= 162)
		snprintf(buf, len, " (DLT_USER%d)", dlt - 147);
	else
		buf[0] = '\0';
}

/* The capture must open and be of a link type weir_pkt parses. */
static int check_pcap(struct port_build *b, const struct port_req *r, const char *loc)
{
	char eb[PCAP_ERRBUF_SIZE] = "", dname[64];
	const char *path = b->p.pcap_path;
	pcap_t *pc = pcap_open_offline(path, eb);
	int dlt;

	if (!pc) {
		snprintf(r->err, r->errlen, "%s%s: cannot open: %s", loc, path, pcap_msg(eb, path));
		return -1;
	}
	dlt = pcap_datalink(pc);
	pcap_close(pc);
	if (!weir_linktype_supported(dlt)) {
		dlt_name(dlt, dname, sizeof(dname));
		snprintf(r->err, r->errlen, "%s%s: unsupported link type %d%s", loc, path, dlt,
			 dname);
		return -1;
	}
	b->p.linktype = dlt;
	return 0;
}

/* A PCI port is taken only if the user listed its address in pci:. */
static int check_pci(struct port_build *b, const struct port_req *r, const char *loc,
		     const char *addr)
{
	for (unsigned i = 0; i < b->p.n_pci; i++) {
		if (strcmp(b->p.pci[i], addr) == 0) {
			/* allow-list only this port's device; other ports list their own */
			snprintf(b->p.pci[0], sizeof(b->p.pci[0]), "%s", addr);
			b->p.n_pci = 1;
			return 0;
		}
	}
	return perr(r, b->pci_at[0] ? b->pci_at : loc,
		    "PCI port needs the address allow-listed in pci: (%s is not listed)", addr);
}

static bool name_used(const struct weir_config *c, const char *name)
{
	char other[WEIR_PATH_MAX];

	for (unsigned i = 0; i < c->n_ports; i++) {
		dev_name(c->ports[i].devargs, other, sizeof(other));
		if (strcmp(other, name) == 0)
			return true;
	}
	return false;
}

/* Checks that need the whole picture: driver, PCI allow-list, pcap file. */
static int port_finish(const struct weir_config *c, struct port_build *b,
		       const struct port_req *r, const char *loc)
{
	char name[WEIR_PATH_MAX], pci[32];

	dev_name(r->devargs, name, sizeof(name));
	if (name_used(c, name))
		return perr(r, loc, "device name '%s' is already used by another port", name);
	if (b->driver[0] && !driver_matches(b->driver, name))
		return perr(r, b->driver_at, "profile is for %s devices, not '%s'",
			    strcmp(b->driver, "pci") == 0 ? "PCI" : b->driver, name);
	if (pci_canon(name, pci) == 0 && check_pci(b, r, loc, pci))
		return -1;
	if (strncmp(name, "net_pcap", 8) == 0) {
		unsigned n = devarg_get(r->devargs, "rx_pcap", b->p.pcap_path,
					sizeof(b->p.pcap_path));

		if (n > 1)
			return perr(r, loc, "one rx_pcap file per port (add a port per file)");
		if (n == 1) {
			if (check_pcap(b, r, loc))
				return -1;
			/* infinite_rx replays the preloaded file forever */
			b->p.finite = !devarg_is(r->devargs, "infinite_rx=1");
		}
	}
	return 0;
}

static int port_add(struct weir_config *c, const struct port_req *r)
{
	static const char *const entry_keys[] = { "devargs", "profile", NULL };
	char loc[WEIR_PATH_MAX + 16] = "";
	const char *profile = r->profile ? r->profile : pick_profile(r->devargs);
	struct port_build b = { .driver = "" };

	if (r->entry)
		snprintf(loc, sizeof(loc), "%s:%d: ", r->y->file, r->entry->line);
	if (c->n_ports >= WEIR_MAX_PORTS)
		return perr(r, loc, "too many ports (at most %d, WEIR_MAX_PORTS)", WEIR_MAX_PORTS);
	if (!r->devargs[0] || strlen(r->devargs) >= sizeof(b.p.devargs))
		return perr(r, loc, "devargs empty or longer than %d characters", WEIR_PATH_MAX - 1);
	weir_port_defaults(&b.p);
	snprintf(b.p.devargs, sizeof(b.p.devargs), "%s", r->devargs);
	b.p.line = r->entry ? r->entry->line : 0;
	if (profile && load_profile(&b, profile, r, loc))
		return -1;
	if (r->entry && knobs_apply(r->y, r->entry, port_knobs, &b, entry_keys))
		return -1;
	if (port_finish(c, &b, r, loc))
		return -1;
	c->ports[c->n_ports++] = b.p;
	return 0;
}

int weir_config_add_port(struct weir_config *c, const char *devargs, const char *profile,
			 char *err, size_t errlen)
{
	struct port_req r = { .devargs = devargs, .profile = profile, .err = err, .errlen = errlen };

	if (errlen)
		err[0] = '\0';
	return port_add(c, &r);
}

int weir_config_add_pcap(struct weir_config *c, const char *file, char *err, size_t errlen)
{
	char name[32], devargs[WEIR_PATH_MAX];
	unsigned i = 0;
	int n;

	if (strchr(file, ',')) {
		snprintf(err, errlen, "%s: file name has a ',' (the DPDK devargs separator): "
			 "rename or link the file", file);
		return -1;
	}
	do
		snprintf(name, sizeof(name), "net_pcap%u", i++);
	while (name_used(c, name));
	n = snprintf(devargs, sizeof(devargs), "%s,rx_pcap=%s", name, file);
	if (n < 0 || (size_t)n >= sizeof(devargs)) {
		snprintf(err, errlen, "%s: path too long", file);
		return -1;
	}
	return weir_config_add_port(c, devargs, NULL, err, errlen);
}

int weir_port_profile_load(struct weir_port_conf *p, const char *profile, char *err,
			   size_t errlen)
{
	struct port_req r = { .devargs = p->devargs, .err = err, .errlen = errlen };
	struct port_build b = { .p = *p };

	if (errlen)
		err[0] = '\0';
	if (load_profile(&b, profile, &r, ""))
		return -1;
	*p = b.p;
	return 0;
}

/* ports: entries: devargs (required), profile (optional), profile overrides. */
static int read_port(struct weir_yctx *y, const struct weir_ynode *map, struct weir_config *c)
{
	char devargs[WEIR_PATH_MAX], profile[WEIR_PATH_MAX];
	const struct weir_ynode *d, *pr;
	struct port_req r = { .devargs = devargs, .y = y, .entry = map,
			      .err = y->err, .errlen = y->errlen };
	int rc;

	if (weir_yexpect(y, map, WEIR_YMAP))
		return -1;
	d = weir_yget(map, "devargs");
	if (!d)
		return weir_yerr(y, map->line, "port without devargs");
	if (weir_yread_str(y, d, devargs, sizeof(devargs)))
		return -1;
	pr = weir_yget(map, "profile");
	if (pr && weir_yread_str(y, pr, profile, sizeof(profile)))
		return -1;
	r.profile = pr ? profile : NULL;
	weir_yctx_prefix(y, "port '%s': ", devargs);
	rc = port_add(c, &r);
	weir_yctx_prefix(y, "%s", "");
	return rc;
}

static int read_ports(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	WEIR_YFOREACH(it, n)
		if (read_port(y, it, base))
			return -1;
	return 0;
}

/* ---- matching and flows ------------------------------------------------------- */

int weir_config_add_rules(struct weir_config *c, const char *path, char *err, size_t errlen)
{
	if (c->n_rules == WEIR_MAX_RULE_FILES) {
		snprintf(err, errlen, "%s: too many rule files (at most %d)", path, WEIR_MAX_RULE_FILES);
		return -1;
	}
	if (snprintf(c->rules[c->n_rules], WEIR_PATH_MAX, "%s", path) >= WEIR_PATH_MAX) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	c->n_rules++;
	return 0;
}

/* rules: [FILE, ...]: added to those given with --rules. */
static int read_rules(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_config *c = base;
	char err[WEIR_PATH_MAX + 64];

	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	WEIR_YFOREACH(it, n) {
		char path[WEIR_PATH_MAX];
		if (weir_yread_str(y, it, path, sizeof(path)))
			return -1;
		if (weir_config_add_rules(c, path, err, sizeof(err)))
			return weir_yerr(y, it->line, "%s", err);
	}
	return 0;
}

/*
 * An inline pair "A:B": ports A and B (0-based, in the order the config's
 * ports: then --pcap/--port give them) forward to each other. Whether they
 * exist is checked when the ports open.
 */
int weir_config_add_inline(struct weir_config *c, const char *spec, char *err, size_t errlen)
{
	unsigned a, b;
	int used = 0;

	if (sscanf(spec, "%u:%u%n", &a, &b, &used) != 2 || spec[used] || a == b ||
	    a >= WEIR_MAX_PORTS || b >= WEIR_MAX_PORTS) {
		snprintf(err, errlen, "inline pair '%s': want A:B, two different port indexes below %d",
			 spec, WEIR_MAX_PORTS);
		return -1;
	}
	for (unsigned i = 0; i < c->n_inline; i++) {
		const struct weir_inline_pair *p = &c->inline_pairs[i];
		if (p->a == a || p->b == a || p->a == b || p->b == b) {
			snprintf(err, errlen, "inline pair '%s': port %u is already paired (%u:%u)", spec,
				 p->a == a || p->b == a ? a : b, p->a, p->b);
			return -1;
		}
	}
	c->inline_pairs[c->n_inline++] = (struct weir_inline_pair){(uint8_t)a, (uint8_t)b};
	return 0;
}

/* inline: ["A:B", ...]: added to those given with --inline. */
static int read_inline(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_config *c = base;
	char err[160];

	if (weir_yexpect(y, n, WEIR_YSEQ))
		return -1;
	WEIR_YFOREACH(it, n) {
		char spec[32];
		if (weir_yread_str(y, it, spec, sizeof(spec)))
			return -1;
		if (weir_config_add_inline(c, spec, err, sizeof(err)))
			return weir_yerr(y, it->line, "%s", err);
	}
	return 0;
}

static const struct weir_yname flows_modes[] = {
	{ "auto", WEIR_FLOWS_AUTO },
	{ "on", WEIR_FLOWS_ON },
	{ "off", WEIR_FLOWS_OFF },
	{ NULL, 0 },
};

#define FC struct weir_flows_conf
/*
 *   flows:
 *     timeouts:      idle time after which a flow ends, by class, 1s..24h:
 *       tcp_new          SYN seen, not yet established               30s
 *       tcp_established                                              1h
 *       tcp_closing      after FIN or RST                            30s
 *       udp                                                          2m
 *       other                                                        1m
 */
static const struct knob timeout_knobs[] = {
	KNOB(K_DURATION, "tcp_new", FC, timeout_ns[WEIR_FT_TCP_NEW], NS_PER_S, 24 * 3600 * NS_PER_S),
	KNOB(K_DURATION, "tcp_established", FC, timeout_ns[WEIR_FT_TCP_ESTABLISHED], NS_PER_S,
	     24 * 3600 * NS_PER_S),
	KNOB(K_DURATION, "tcp_closing", FC, timeout_ns[WEIR_FT_TCP_CLOSING], NS_PER_S,
	     24 * 3600 * NS_PER_S),
	KNOB(K_DURATION, "udp", FC, timeout_ns[WEIR_FT_UDP], NS_PER_S, 24 * 3600 * NS_PER_S),
	KNOB(K_DURATION, "other", FC, timeout_ns[WEIR_FT_OTHER], NS_PER_S, 24 * 3600 * NS_PER_S),
	KNOB_END,
};

static int read_timeouts(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	return knobs_apply(y, n, timeout_knobs, base, NULL);
}

/*
 *   flows:
 *     mode        auto | on | off: flow tracking; auto = on when rules are
 *                 loaded or records are wanted                        auto
 *     capacity    flows per worker, 1k..64M (k/M suffixes); a new flow in
 *                 a full table evicts the least recently seen         1M
 *     records     write {"type":"flow"} when a flow ends              false
 *     streams     Hyperscan stream states per worker (stream-mode
 *                 rules; one per flow direction with payload)         64k
 *     ooo_slots   held out-of-order TCP segments per worker, 0..65535 4096
 *     timeouts    see timeout_knobs
 */
static const struct knob flows_knobs[] = {
	KNOB_ENUM("mode", FC, mode, flows_modes),
	KNOB(K_SIZE, "capacity", FC, capacity, 1024, 64u << 20),
	KNOB(K_BOOL, "records", FC, records, 0, 0),
	KNOB(K_SIZE, "streams", FC, streams, 16, 16u << 20),
	KNOB(K_UINT, "ooo_slots", FC, ooo_slots, 0, 65535),
	KNOB_FN("timeouts", read_timeouts),
	KNOB_END,
};
#undef FC

static int read_flows(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	return knobs_apply(y, n, flows_knobs, &((struct weir_config *)base)->flows, NULL);
}

/* ---- metrics ------------------------------------------------------------------ */

int weir_config_set_metrics(struct weir_config *c, const char *listen, char *err, size_t errlen)
{
	struct weir_metrics_conf *m = &c->metrics;
	const char *port = strrchr(listen, ':'), *host = listen;
	size_t hlen = port ? (size_t)(port - listen) : 0;
	unsigned char addr[16];
	char *end;

	if (!port) {              /* "9464": loopback only */
		port = listen;
		host = "127.0.0.1";
		hlen = strlen(host);
	} else {
		port++;
		if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
			host++;
			hlen -= 2;
		}
	}
	if (hlen == 0 || hlen >= sizeof(m->host) || strlen(listen) >= sizeof(m->listen))
		goto bad;
	snprintf(m->host, sizeof(m->host), "%.*s", (int)hlen, host);
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (!isdigit((unsigned char)*port) || *end || errno || p > 65535)
		goto bad;
	if (inet_pton(AF_INET, m->host, addr) != 1 && inet_pton(AF_INET6, m->host, addr) != 1)
		goto bad;
	m->port = (uint16_t)p;
	snprintf(m->listen, sizeof(m->listen), "%s", listen);
	return 0;
bad:
	snprintf(err, errlen, "metrics listen address '%.100s' is not ADDR:PORT, [IPV6]:PORT or PORT "
		 "(numeric address, port 0..65535)", listen);
	m->listen[0] = m->host[0] = '\0';
	return -1;
}

static int read_metrics_listen(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	char addr[128], err[256];

	if (weir_yread_str(y, n, addr, sizeof(addr)))
		return -1;
	if (addr[0] && weir_config_set_metrics(base, addr, err, sizeof(err)) < 0)
		return weir_yerr(y, n->line, "%s", err);
	if (!addr[0])
		((struct weir_config *)base)->metrics.listen[0] = '\0';
	return 0;
}

/*
 *   metrics:
 *     listen      where GET /metrics (Prometheus text format) is served:
 *                 ADDR:PORT with a numeric IPv4 address, "[IPV6]:PORT"
 *                 (quoted: YAML reads [ as a list), or PORT alone for
 *                 127.0.0.1:PORT. Any address given explicitly is used
 *                 as is (0.0.0.0 exposes it to the network); the CLI's
 *                 --metrics overrides it; "" = off                   off
 */
static const struct knob metrics_knobs[] = {
	KNOB_FN("listen", read_metrics_listen),
	KNOB_END,
};

static int read_metrics(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	return knobs_apply(y, n, metrics_knobs, base, NULL);
}

/* ---- checkpoints ------------------------------------------------------------- */

#define CC struct weir_checkpoint_conf
/*
 *   checkpoint:
 *     dir            directory of checkpoint files (must exist; weir
 *                    writes ckpt-<seq>.wckpt there); "" = off         off
 *     interval       wall time between checkpoints, 0 = only when
 *                    asked (weirctl snapshot), 100ms..1d             60s
 *     every_packets  also one after every this many packets read
 *                    from the ports (k/M suffixes), 0 = off          0
 *     keep           checkpoints kept, 1..1000 (older ones deleted
 *                    once a new one is on disk)                      3
 */
static const struct knob checkpoint_knobs[] = {
	KNOB(K_STR, "dir", CC, dir, 0, 0),
	KNOB(K_DURATION, "interval", CC, interval_ns, 0, 86400 * NS_PER_S),
	KNOB(K_SIZE, "every_packets", CC, every_packets, 0, UINT64_MAX),
	KNOB(K_UINT, "keep", CC, keep, 1, 1000),
	KNOB_END,
};
#undef CC

static int read_checkpoint(struct weir_yctx *y, const struct weir_ynode *n, void *base)
{
	struct weir_checkpoint_conf *c = &((struct weir_config *)base)->checkpoint;

	if (knobs_apply(y, n, checkpoint_knobs, c, NULL) < 0)
		return -1;
	if (c->interval_ns && c->interval_ns < 100000000u)
		return weir_yerr(y, n->line, "checkpoint interval must be 0 or at least 100ms");
	return 0;
}

/* ---- the config file --------------------------------------------------------- */

static const struct weir_yname layers[] = {
	{ "outer", WEIR_PKT_OUTER },
	{ "inner", WEIR_PKT_INNER },
	{ NULL, 0 },
};

static const struct weir_yname time_kinds[] = {
	{ "event", WEIR_TIME_EVENT },
	{ "processing", WEIR_TIME_PROCESSING },
	{ NULL, 0 },
};

static const struct weir_yname block_matches_kinds[] = {
	{ "first", WEIR_BLOCK_MATCHES_FIRST },
	{ "every", WEIR_BLOCK_MATCHES_EVERY },
	{ NULL, 0 },
};

#define CF struct weir_config
/*
 * Top-level keys of the config file:
 *   workers          worker lcores, 1..64                          1
 *   out              JSON-lines output path, "-" = stdout          weir-out.jsonl
 *   eal              extra EAL arguments, appended as given        ""
 *   analysis_layer   outer | inner: which IP header of tunnelled
 *                    packets the queries see                       outer
 *   time             event: windows follow packet timestamps (pcap
 *                    or NIC); processing: the wall clock at rx      event
 *   watermark_delay  how late (event time) a packet may arrive and
 *                    still count in its window, 0..1h             2s
 *   idle_watermark   wall time after which an idle worker stops
 *                    holding the watermark back, 1ms..1h           1s
 *   burst            rx burst size, 1..512                         64
 *   ring_size        distributor -> worker ring entries, a power
 *                    of two in 64..1M                              4096
 *   summary          print the human summary at exit               true
 *   summary_top      rows per query per window in it, 0..1000      5
 *   ports            list of ports (see read_port); the CLI's
 *                    --pcap/--port add more                        none
 *   queries          list of queries (see query_knobs); replaces
 *                    the built-in hostpairs/protocols/totals;
 *                    [] = none (parse, flows, rules still run)     built-in
 *   combine_flows    flows whose packets each worker sums before
 *                    adding them to the queries, 0 = off, 0..16M.
 *                    Queries keyed on flow fields (addresses,
 *                    ports, protocols, VLAN, ip_version) whose
 *                    aggregates are sums, first/last time, or take
 *                    a flow field (distinct, topk, sum/min/max/avg)
 *                    then cost one upsert per flow and pane, not
 *                    per packet; results are the same (topk within
 *                    its bound). Memory: two tables (one sums, one
 *                    drains), about 400 bytes an entry per worker.
 *                    A full table drains early                     32768
 *   combine_min_queries  combine only when at least this many
 *                    queries can use it, 1..32                     2
 *   rules            list of rule files (Suricata .rules, native
 *                    .yaml, Hyperscan ID:/regex/flags); --rules
 *                    adds more                                     none
 *   rules_strict     a skipped or invalid rule fails the start     false
 *   rules_cache      directory caching compiled Hyperscan
 *                    databases: a path, "off", or "auto" =
 *                    $XDG_CACHE_HOME/weir/hs (~/.cache/weir/hs)   auto
 *   rules_max        distinct rule ids live at once (per-rule
 *                    counter slots; reloads and adds beyond it
 *                    are refused), 16..16M                        65536
 *   rules_compile_memory  bytes a rules reload/add compile may
 *                    allocate (its child process is killed past
 *                    it; the running rules stay)                   4G
 *   rules_compile_timeout  time a rules reload/add compile may
 *                    take, likewise                                300s
 *   alert_limit      alerts per rule per flow before further ones
 *                    are suppressed (counted), 0 = no limit        10
 *   block_matches    first | every: what a packet-mode rule reports
 *                    in one payload. first: its first match only
 *                    (Hyperscan's SINGLEMATCH, as Suricata compiles
 *                    its patterns), so a rule's "matches" counts
 *                    packets; Hyperscan stops looking for that rule
 *                    (1.4x the scan rate of every on bench-102).
 *                    every: each match, counted (pcapscan's figure)  first
 *   flows            flow tracking (see flows_knobs)
 *   labels           CSV of CIDR,label lines: src_label/dst_label
 *                    group-by fields and filter predicates          none
 *   dns_capacity     addresses learned from DNS answers per worker,
 *                    for dst_name (on when a query groups by it)    65536
 *   control_socket   path of the UNIX control socket weirctl talks
 *                    to (mode 0600; a stale socket there is
 *                    replaced, anything else refuses the start);
 *                    the CLI's --control overrides it; "" = none  ""
 *   metrics          Prometheus endpoint (see metrics_knobs)       off
 *   checkpoint       checkpoints of the window state (see
 *                    checkpoint_knobs)                             off
 *   replay_pps       read finite sources (pcap files) at this many
 *                    packets per second rather than as fast as
 *                    possible (k/M suffixes), 0 = unpaced           0
 *   inline           port pairs "A:B" (0-based port indexes) that
 *                    forward to each other after processing; drop
 *                    rules stop packets (and their flows); the
 *                    CLI's --inline adds more                      none
 */
static const struct knob config_knobs[] = {
	KNOB(K_UINT, "workers", CF, workers, 1, WEIR_MAX_WORKERS),
	KNOB(K_STR, "out", CF, out, 0, 0),
	KNOB(K_STR, "eal", CF, eal_args, 0, 0),
	KNOB_ENUM("analysis_layer", CF, layer, layers),
	KNOB_ENUM("time", CF, time, time_kinds),
	KNOB(K_DURATION, "watermark_delay", CF, watermark_delay_ns, 0, 3600 * NS_PER_S),
	KNOB(K_DURATION, "idle_watermark", CF, idle_watermark_ns, 1000000, 3600 * NS_PER_S),
	KNOB(K_UINT, "burst", CF, burst, 1, 512),
	KNOB(K_POW2, "ring_size", CF, ring_size, 64, 1u << 20),
	KNOB(K_BOOL, "summary", CF, summary, 0, 0),
	KNOB(K_UINT, "summary_top", CF, summary_top, 0, 1000),
	KNOB_FN("ports", read_ports),
	KNOB_FN("queries", read_queries),
	KNOB(K_SIZE, "combine_flows", CF, combine_flows, 0, 16u << 20),
	KNOB(K_UINT, "combine_min_queries", CF, combine_min_queries, 1, WEIR_MAX_QUERIES),
	KNOB_FN("rules", read_rules),
	KNOB(K_BOOL, "rules_strict", CF, rules_strict, 0, 0),
	KNOB(K_STR, "rules_cache", CF, rules_cache, 0, 0),
	KNOB(K_SIZE, "rules_max", CF, rules_max, 16, 16u << 20),
	KNOB(K_SIZE, "rules_compile_memory", CF, rules_compile_memory, 16u << 20, UINT64_MAX),
	KNOB(K_DURATION, "rules_compile_timeout", CF, rules_compile_timeout_ns, NS_PER_S, 86400 * NS_PER_S),
	KNOB(K_UINT, "alert_limit", CF, alert_limit, 0, 1u << 30),
	KNOB_ENUM("block_matches", CF, block_matches, block_matches_kinds),
	KNOB_FN("flows", read_flows),
	KNOB(K_STR, "labels", CF, labels, 0, 0),
	KNOB(K_SIZE, "dns_capacity", CF, dns_capacity, 16, 16u << 20),
	KNOB(K_STR, "control_socket", CF, control_socket, 0, 0),
	KNOB_FN("metrics", read_metrics),
	KNOB_FN("checkpoint", read_checkpoint),
	KNOB(K_SIZE, "replay_pps", CF, replay_pps, 0, 1000000000),
	KNOB_FN("inline", read_inline),
	KNOB_END,
};
#undef CF

/* Built-in queries: what most users want to see first on a link. */
#define AGG(k, n) { .kind = WEIR_AGG_##k, .name = n }
#define BUILTIN .window = WEIR_WINDOW_TUMBLING, .size_ns = 60 * NS_PER_S, .max_keys = 65536
static const struct weir_query_conf default_queries[] = {
	{ .name = "hostpairs", BUILTIN,
	  .n_group_by = 3, .group_by = { WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP, WEIR_FIELD_PROTO },
	  .n_aggs = 3, .aggs = { AGG(PACKETS, "packets"), AGG(BYTES, "bytes"), AGG(IP_BYTES, "ip_bytes") } },
	{ .name = "protocols", BUILTIN,
	  .n_group_by = 2, .group_by = { WEIR_FIELD_IP_VERSION, WEIR_FIELD_PROTO },
	  .n_aggs = 3, .aggs = { AGG(PACKETS, "packets"), AGG(BYTES, "bytes"), AGG(IP_BYTES, "ip_bytes") } },
	{ .name = "totals", BUILTIN,
	  .n_aggs = 4, .aggs = { AGG(PACKETS, "packets"), AGG(BYTES, "bytes"), AGG(IP_BYTES, "ip_bytes"),
				 AGG(PAYLOAD_BYTES, "payload_bytes") } },
};
#undef BUILTIN
#undef AGG

bool weir_query_uses_field(const struct weir_query_conf *c, enum weir_field f)
{
	for (unsigned i = 0; i < c->n_group_by; i++)
		if (c->group_by[i] == f)
			return true;
	for (unsigned i = 0; i < c->n_aggs; i++)
		if (c->aggs[i].kind >= WEIR_AGG_SUM && c->aggs[i].kind <= WEIR_AGG_QUANTILES &&
		    c->aggs[i].field == f)
			return true;
	return false;
}

void weir_config_defaults(struct weir_config *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = 1;
	snprintf(c->out, sizeof(c->out), "weir-out.jsonl");
	c->layer = WEIR_PKT_OUTER;
	c->watermark_delay_ns = 2 * NS_PER_S;
	c->idle_watermark_ns = 1 * NS_PER_S;
	c->combine_flows = 32768;
	c->combine_min_queries = 2;
	c->burst = 64;
	c->ring_size = 4096;
	c->summary = true;
	c->summary_top = 5;
	c->alert_limit = 10;
	c->rules_max = 1u << 16;
	c->rules_compile_memory = 4ull << 30;
	c->rules_compile_timeout_ns = 300 * NS_PER_S;
	snprintf(c->rules_cache, sizeof(c->rules_cache), "auto");
	c->dns_capacity = 1u << 16;
	c->checkpoint.interval_ns = 60 * NS_PER_S;
	c->checkpoint.keep = 3;
	c->flows.capacity = 1u << 20;
	c->flows.streams = 1u << 16;
	c->flows.ooo_slots = 4096;
	c->flows.timeout_ns[WEIR_FT_TCP_NEW] = 30 * NS_PER_S;
	c->flows.timeout_ns[WEIR_FT_TCP_ESTABLISHED] = 3600 * NS_PER_S;
	c->flows.timeout_ns[WEIR_FT_TCP_CLOSING] = 30 * NS_PER_S;
	c->flows.timeout_ns[WEIR_FT_UDP] = 120 * NS_PER_S;
	c->flows.timeout_ns[WEIR_FT_OTHER] = 60 * NS_PER_S;
	c->n_queries = sizeof(default_queries) / sizeof(default_queries[0]);
	memcpy(c->queries, default_queries, sizeof(default_queries));
}

/* src_label/dst_label need the labels file, wherever the key stands in the file. */
static int check_labels_used(struct weir_yctx *y, const struct weir_config *c)
{
	if (c->labels[0])
		return 0;
	for (unsigned q = 0; q < c->n_queries; q++)
		for (unsigned i = 0; i < c->queries[q].n_group_by; i++) {
			enum weir_field f = c->queries[q].group_by[i];
			if (f == WEIR_FIELD_SRC_LABEL || f == WEIR_FIELD_DST_LABEL)
				return weir_yerr(y, c->queries[q].line,
						 "query '%s': group_by %s needs a labels file (labels: FILE.csv)",
						 c->queries[q].name, weir_field_name(f));
		}
	return 0;
}

int weir_config_load(struct weir_config *c, const char *path, char *err, size_t errlen)
{
	struct weir_yctx y;
	struct weir_ynode *root;
	int rc;

	if (snprintf(c->path, sizeof(c->path), "%s", path) >= (int)sizeof(c->path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	weir_yctx_init(&y, c->path, err, errlen);
	root = weir_yaml_load(&y);
	if (!root)
		return -1;
	rc = knobs_apply(&y, root, config_knobs, c, NULL);
	if (!rc)
		rc = check_labels_used(&y, c);
	c->n_rules_file = c->n_rules;
	weir_yaml_free(root);
	return rc;
}
