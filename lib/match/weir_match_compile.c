/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_match_compile: rules -> Hyperscan databases, off the data path.
 *
 * Grouping (so a packet is scanned only against rules that can apply):
 *  - three L4 classes, tcp / udp / other; a rule for any protocol is in all
 *    three, unless it names ports (then tcp and udp only);
 *  - within tcp and udp, port groups: a rule whose destination (else source)
 *    port set is a few single ports is "about" those ports. A port that at
 *    least group_min_rules rules are about gets its own group (at most
 *    max_port_groups per class, the most used first). A rule goes into the
 *    groups of its ports when every one of them got a group, else into the
 *    class's group 0 (rules that apply to any port);
 *  - each group's database holds group 0's rules plus its own, so a packet
 *    whose src or dst port has a group is scanned once, against that
 *    database; one whose ports both have (different) groups is scanned
 *    against both and the second scan ignores rules the first one reported;
 *  - block (packet mode) and stream databases are separate.
 * The exact scope (protocol, ports, direction, established) is checked per
 * match in the callback: a group is a superset of what applies.
 *
 * A rule with several positive parts is a Hyperscan logical combination
 * (AND of QUIET sub-expressions); negated parts report on their own ids and
 * the scanner drops rules whose negated part matched anywhere in the payload
 * (Hyperscan's own NOT means "not yet", which is not Suricata's meaning).
 * A part the loaders marked `confirm` is compiled with HS_FLAG_PREFILTER and
 * its reports name the PCRE2 pattern that confirms them on the payload (a
 * combination's report: each positive confirm part of its rule).
 *
 * Cache: one file per database, named by a 128-bit hash of everything the
 * compile reads (mode, expressions, flags, ids, extended parameters) plus
 * hs_version() and the platform; contents checked (magic, key, length,
 * checksum) and anything wrong is ignored, recompiled and rewritten.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "weir_match_int.h"

#define CACHE_MAGIC "WEIRHSDB"
#define CACHE_VERSION 1

enum weir_class weir_class_of(uint8_t l4_proto)
{
	return l4_proto == 6 ? WEIR_CLASS_TCP : l4_proto == 17 ? WEIR_CLASS_UDP : WEIR_CLASS_OTHER;
}

/* ------------------------------------------------------------ grouping */

/* The single ports a rule is "about" (destination first), or 0 of them. */
#define GROUP_PORTS_MAX 16
static unsigned rule_group_ports(const struct weir_rule *r, uint16_t out[GROUP_PORTS_MAX])
{
	const struct weir_portset *sets[2] = { &r->scope.dport, &r->scope.sport };
	for (int s = 0; s < 2; s++) {
		const struct weir_portset *ps = sets[s];
		unsigned n = 0;
		bool small = !ps->any;
		for (unsigned i = 0; small && i < ps->n; i++) {
			if ((unsigned)ps->r[i].hi - ps->r[i].lo + n >= GROUP_PORTS_MAX) {
				small = false;
				break;
			}
			for (unsigned p = ps->r[i].lo; p <= ps->r[i].hi; p++)
				out[n++] = (uint16_t)p;
		}
		if (small && n)
			return n;
	}
	return 0;
}

static bool rule_in_class(const struct weir_rule *r, enum weir_class c)
{
	if (r->scope.l4_proto)
		return weir_class_of(r->scope.l4_proto) == c;
	bool ports = !r->scope.sport.any || !r->scope.dport.any;
	return c != WEIR_CLASS_OTHER || !ports;
}

struct port_count {
	uint16_t port;
	unsigned n;
};

static int cmp_count(const void *a, const void *b)
{
	const struct port_count *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return (int)x->port - (int)y->port;
}

/* Pick the port groups of one class (tcp or udp). */
static int choose_groups(struct weir_match *m, enum weir_class c, const struct weir_match_opts *o,
			 const uint8_t *alive)
{
	struct port_count *cnt = calloc(65536, sizeof(*cnt));
	if (!cnt)
		return -1;
	for (unsigned p = 0; p < 65536; p++)
		cnt[p].port = (uint16_t)p;
	for (unsigned i = 0; i < m->n_rules; i++) {
		uint16_t ports[GROUP_PORTS_MAX];
		const struct weir_rule *r = m->rt[i].rule;
		if (!alive[i] || !rule_in_class(r, c))
			continue;
		unsigned n = rule_group_ports(r, ports);
		for (unsigned k = 0; k < n; k++)
			cnt[ports[k]].n++;
	}
	qsort(cnt, 65536, sizeof(*cnt), cmp_count);
	struct weir_class_groups *g = &m->cls[c];
	unsigned max = o->max_port_groups < WEIR_MAX_GROUPS ? o->max_port_groups : WEIR_MAX_GROUPS;
	unsigned n = 0;
	while (n < max && cnt[n].n >= o->group_min_rules && cnt[n].n)
		n++;
	if (n) {
		g->port_group = calloc(65536, 1);
		if (!g->port_group) {
			free(cnt);
			return -1;
		}
		for (unsigned k = 0; k < n; k++) {
			g->port_group[cnt[k].port] = (uint8_t)(k + 1);
			g->group_port[k + 1] = cnt[k].port;
		}
	}
	g->n_groups = n;
	free(cnt);
	return 0;
}

/* Group of rule r in class c: 0 (any port) or, via *groups, its port groups. */
static unsigned rule_groups(const struct weir_match *m, enum weir_class c, const struct weir_rule *r,
			    uint8_t groups[GROUP_PORTS_MAX])
{
	const struct weir_class_groups *g = &m->cls[c];
	uint16_t ports[GROUP_PORTS_MAX];
	unsigned n = g->port_group ? rule_group_ports(r, ports) : 0;
	for (unsigned k = 0; k < n; k++) {
		groups[k] = g->port_group[ports[k]];
		if (!groups[k])
			return 0;
	}
	return n;
}

static bool rule_in_group(const struct weir_match *m, enum weir_class c, const struct weir_rule *r,
			  unsigned group)
{
	uint8_t groups[GROUP_PORTS_MAX];
	unsigned n = rule_groups(m, c, r, groups);
	if (!n)
		return true; /* group-0 rules are in every database of the class */
	for (unsigned k = 0; k < n; k++)
		if (groups[k] == group)
			return true;
	return false;
}

/* ------------------------------------------------------- expression list */

struct exprs {
	const char **expr;
	unsigned *flags, *ids;
	const hs_expr_ext_t **ext;
	char **owned;                /* combination strings */
	uint32_t *rule_of;           /* expression -> rule index (for errors) */
	unsigned *part_of;
	struct weir_report *reports;
	unsigned n, cap, n_owned;
	bool som;
};

static void exprs_free(struct exprs *e)
{
	for (unsigned i = 0; i < e->n_owned; i++)
		free(e->owned[i]);
	free(e->expr);
	free(e->flags);
	free(e->ids);
	free(e->ext);
	free(e->owned);
	free(e->rule_of);
	free(e->part_of);
	free(e->reports);
	memset(e, 0, sizeof(*e));
}

static int exprs_grow(struct exprs *e)
{
	unsigned cap = e->cap ? e->cap * 2 : 64;
#define GROW(f) do { void *p = realloc(e->f, cap * sizeof(*e->f)); if (!p) return -1; e->f = p; } while (0)
	GROW(expr); GROW(flags); GROW(ids); GROW(ext); GROW(owned); GROW(rule_of); GROW(part_of);
	GROW(reports);
#undef GROW
	e->cap = cap;
	return 0;
}

static int exprs_add(struct exprs *e, const char *expr, unsigned flags, const hs_expr_ext_t *ext,
		     uint32_t rule, unsigned part, uint32_t neg, uint32_t confirm)
{
	if (e->n == e->cap && exprs_grow(e) < 0)
		return -1;
	unsigned i = e->n++;
	e->expr[i] = expr;
	e->flags[i] = flags;
	e->ids[i] = i;
	e->ext[i] = ext && ext->flags ? ext : NULL;
	e->rule_of[i] = rule;
	e->part_of[i] = part;
	e->reports[i] = (struct weir_report){ .rule = rule, .neg = neg, .confirm = confirm };
	e->som |= (flags & HS_FLAG_SOM_LEFTMOST) != 0;
	return 0;
}

/*
 * Does positive part k trigger rule r in Hyperscan? The parts PCRE2 confirms
 * do not, unless every positive part is one (then the first does, prefiltered):
 * Hyperscan refuses prefiltered operands in a combination, and a confirmation
 * reads the whole payload anyway, whatever Hyperscan reported.
 */
static bool triggers(const struct weir_rule *r, unsigned k)
{
	const struct weir_rule_part *p = &r->parts[k];
	if (p->negated)
		return false;
	if (!p->confirm)
		return true;
	for (unsigned j = 0; j < r->n_parts; j++)
		if (!r->parts[j].negated && (!r->parts[j].confirm || j < k))
			return false;
	return true;
}

/*
 * Every part of rule i Hyperscan scans for: the triggers (a logical AND when
 * several), each negated part on its own. `single` (HS_FLAG_SINGLEMATCH or 0)
 * goes on what reports: a lone trigger, a negated part, the combination.
 * Never on a combination's operands (they are quiet, and Hyperscan then
 * mis-evaluates the combination) nor on som_leftmost parts (refused). A
 * report of a rule with positive confirm parts confirms them all
 * (WEIR_CONFIRM_RULE); a negated confirm part's report confirms itself.
 */
static int add_rule_exprs(struct exprs *e, const struct weir_match *m, uint32_t i, unsigned single)
{
	const struct weir_rule *r = m->rt[i].rule;
	unsigned n_trig = 0, neg = 0, conf = 0;
	bool pos_confirm = false;
	for (unsigned k = 0; k < r->n_parts; k++) {
		n_trig += triggers(r, k);
		pos_confirm |= !r->parts[k].negated && r->parts[k].confirm;
	}
	uint32_t rule_confirm = pos_confirm ? WEIR_CONFIRM_RULE : WEIR_NO_CONFIRM;
	struct weir_sbuf comb = { 0 };
	for (unsigned k = 0; k < r->n_parts; k++) {
		const struct weir_rule_part *p = &r->parts[k];
		unsigned flags = p->flags | (p->confirm ? HS_FLAG_PREFILTER : 0);
		uint32_t negi = WEIR_NO_NEG, confirm = rule_confirm;
		uint32_t own = p->confirm ? m->rt[i].confirm_first + conf++ : WEIR_NO_CONFIRM;
		if (p->negated) {
			negi = m->rt[i].neg_first + neg++;
			confirm = own;
		} else if (!triggers(r, k)) {
			continue;
		}
		if (!p->negated && n_trig > 1) {
			flags |= HS_FLAG_QUIET;
			weir_sbuf_printf(&comb, "%s%u", comb.len ? " & " : "", e->n);
		} else if (!(flags & HS_FLAG_SOM_LEFTMOST)) {
			flags |= single;
		}
		if (exprs_add(e, p->expr, flags, &p->ext, i, k, negi, confirm) < 0) {
			free(comb.s);
			return -1;
		}
	}
	if (n_trig <= 1)
		return 0;
	char *c = weir_sbuf_take(&comb);
	if (!c || exprs_add(e, c, HS_FLAG_COMBINATION | single, NULL, i, 0, WEIR_NO_NEG, rule_confirm) < 0) {
		free(c);
		return -1;
	}
	e->owned[e->n_owned++] = c;
	return 0;
}

/* ------------------------------------------------------------------ cache */

struct key128 {
	uint64_t a, b;
};

static void key_add(struct key128 *k, const void *data, size_t n)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < n; i++) {
		k->a = (k->a ^ p[i]) * 0x100000001b3ull;                 /* FNV-1a */
		k->b = (k->b ^ p[i]) * 0x9e3779b97f4a7c15ull;
		k->b ^= k->b >> 29;
	}
}

static struct key128 db_key(const struct exprs *e, unsigned mode)
{
	struct key128 k = { 0xcbf29ce484222325ull, 0x6a09e667f3bcc909ull };
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	const char *ver = hs_version();
	key_add(&k, CACHE_MAGIC, 8);
	key_add(&k, ver, strlen(ver) + 1);
	key_add(&k, &plat.tune, sizeof(plat.tune));
	key_add(&k, &plat.cpu_features, sizeof(plat.cpu_features));
	key_add(&k, &mode, sizeof(mode));
	for (unsigned i = 0; i < e->n; i++) {
		hs_expr_ext_t ext;
		memset(&ext, 0, sizeof(ext));
		if (e->ext[i])
			ext = *e->ext[i];
		key_add(&k, e->expr[i], strlen(e->expr[i]) + 1);
		key_add(&k, &e->flags[i], sizeof(e->flags[i]));
		key_add(&k, &e->ids[i], sizeof(e->ids[i]));
		key_add(&k, &ext, sizeof(ext));
	}
	return k;
}

struct cache_hdr {
	char magic[8];
	uint32_t version, reserved;
	uint64_t key_a, key_b, len, sum;
};

static uint64_t checksum(const void *data, size_t n)
{
	struct key128 k = { 0xcbf29ce484222325ull, 0 };
	key_add(&k, data, n);
	return k.a;
}

static void cache_path(char *buf, size_t len, const char *dir, struct key128 k)
{
	snprintf(buf, len, "%s/weir-%016llx%016llx.hsdb", dir, (unsigned long long)k.a,
		 (unsigned long long)k.b);
}

/* NULL when absent; *bad set when a file was there but unusable. */
static hs_database_t *cache_load(const char *dir, struct key128 k, bool *bad)
{
	char path[4096];
	cache_path(path, sizeof(path), dir, k);
	FILE *f = fopen(path, "rb");
	*bad = false;
	if (!f)
		return NULL;
	struct cache_hdr h;
	hs_database_t *db = NULL;
	char *buf = NULL;
	*bad = true;
	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, CACHE_MAGIC, 8) ||
	    h.version != CACHE_VERSION || h.key_a != k.a || h.key_b != k.b || h.len > (1ull << 34))
		goto out;
	buf = malloc(h.len ? h.len : 1);
	if (!buf || fread(buf, 1, h.len, f) != h.len || fgetc(f) != EOF || checksum(buf, h.len) != h.sum)
		goto out;
	if (hs_deserialize_database(buf, h.len, &db) != HS_SUCCESS)
		db = NULL;
	*bad = db == NULL;
out:
	free(buf);
	fclose(f);
	return db;
}

/* Written to a temporary name and renamed, so readers never see half a file. */
static void cache_store(const char *dir, struct key128 k, const hs_database_t *db)
{
	char *bytes = NULL;
	size_t len = 0;
	if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return;
	char path[4096], tmp[4200];
	cache_path(path, sizeof(path), dir, k);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	(void)mkdir(dir, 0755);
	FILE *f = fopen(tmp, "wb");
	struct cache_hdr h = { .version = CACHE_VERSION, .key_a = k.a, .key_b = k.b, .len = len,
			       .sum = checksum(bytes, len) };
	memcpy(h.magic, CACHE_MAGIC, 8);
	bool ok = f && fwrite(&h, sizeof(h), 1, f) == 1 && fwrite(bytes, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = false;
	if (ok)
		ok = rename(tmp, path) == 0;
	if (!ok)
		unlink(tmp);
	free(bytes);
}

/* ---------------------------------------------------------------- compile */

struct build {
	struct weir_match *m;
	const struct weir_match_opts *o;
	uint8_t *alive;              /* per dense rule: still in (not rejected by Hyperscan) */
	char *err;
	size_t errlen;
};

/* Report the rule behind a Hyperscan compile error and take it out. */
static void reject_rule(struct build *b, const struct exprs *e, const hs_compile_error_t *ce)
{
	uint32_t i = e->rule_of[ce->expression];
	const struct weir_rule *r = b->m->rt[i].rule;
	b->alive[i] = 0;
	b->m->info.n_failed++;
	if (b->o->diag)
		fprintf(b->o->diag, "%s:%u: id %u: error: hyperscan rejected: %s: %s\n", r->file, r->line,
			r->id, ce->message, e->expr[ce->expression]);
	snprintf(b->err, b->errlen, "%s:%u: id %u: hyperscan rejected: %s: %s", r->file, r->line, r->id,
		 ce->message, e->expr[ce->expression]);
}

static unsigned hs_mode_of(const struct exprs *e, unsigned mode)
{
	unsigned hs_mode = mode == WEIR_MODE_STREAM ? HS_MODE_STREAM : HS_MODE_BLOCK;
	if (e->som && mode == WEIR_MODE_STREAM)
		hs_mode |= HS_MODE_SOM_HORIZON_LARGE;
	return hs_mode;
}

/* 0 compiled, 1 a rule was rejected (retry without it), -1 fatal. */
static int compile_db(struct build *b, struct exprs *e, unsigned hs_mode, struct key128 k,
		      hs_database_t **db)
{
	const char *dir = b->o->cache_dir;
	bool bad = false;
	if (dir && (*db = cache_load(dir, k, &bad)) != NULL) {
		b->m->info.cache_hits++;
		return 0;
	}
	b->m->info.cache_bad += bad;
	b->m->info.cache_misses += dir != NULL;
	if (b->o->cache_only) {
		snprintf(b->err, b->errlen, "a database is not in the cache");
		return -1;
	}
	hs_compile_error_t *ce = NULL;
	if (hs_compile_ext_multi(e->expr, e->flags, e->ids, e->ext, e->n, hs_mode, NULL, db, &ce) !=
	    HS_SUCCESS) {
		int rc = -1;
		if (ce && ce->expression >= 0) {
			reject_rule(b, e, ce);
			rc = b->o->strict ? -1 : 1;
		} else {
			snprintf(b->err, b->errlen, "hyperscan: %s", ce ? ce->message : "compile failed");
		}
		hs_free_compile_error(ce);
		return rc;
	}
	if (dir)
		cache_store(dir, k, *db);
	return 0;
}

/* The database of (mode, class, group), reused when an equal one exists. */
static int build_db(struct build *b, unsigned mode, enum weir_class c, unsigned group, uint16_t *out)
{
	struct weir_match *m = b->m;
	struct exprs e = { 0 };
	bool own = false; /* any rule of this group (not only group 0's) */
	unsigned single = mode != WEIR_MODE_STREAM && b->o->block_first_match ? HS_FLAG_SINGLEMATCH : 0;
	*out = WEIR_NO_DB;
	for (uint32_t i = 0; i < m->n_rules; i++) {
		const struct weir_rule *r = m->rt[i].rule;
		if (!b->alive[i] || r->mode != mode || !rule_in_class(r, c) || !rule_in_group(m, c, r, group))
			continue;
		uint8_t groups[GROUP_PORTS_MAX];
		own |= group && rule_groups(m, c, r, groups) > 0;
		if (add_rule_exprs(&e, m, i, single) < 0) {
			exprs_free(&e);
			snprintf(b->err, b->errlen, "out of memory");
			return -1;
		}
	}
	if (!e.n || (group && !own)) {
		/* nothing, or exactly group 0's database */
		*out = group ? m->cls[c].db[mode][0] : WEIR_NO_DB;
		exprs_free(&e);
		return 0;
	}
	unsigned hs_mode = hs_mode_of(&e, mode);
	struct key128 k = db_key(&e, hs_mode);
	/* a class whose rules are exactly another's (rules for any protocol)
	 * shares its database */
	for (unsigned i = 0; i < m->n_dbs; i++) {
		const struct weir_db *d = &m->dbs[i];
		if (d->key[0] == k.a && d->key[1] == k.b && d->n_reports == e.n &&
		    !memcmp(d->reports, e.reports, e.n * sizeof(*e.reports))) {
			*out = (uint16_t)i;
			exprs_free(&e);
			return 0;
		}
	}
	hs_database_t *db = NULL;
	int rc = compile_db(b, &e, hs_mode, k, &db);
	if (rc != 0) {
		exprs_free(&e);
		return rc;
	}
	struct weir_db *d = &m->dbs[m->n_dbs];
	d->hs = db;
	d->mode = (uint8_t)mode;
	d->key[0] = k.a;
	d->key[1] = k.b;
	d->reports = e.reports;
	d->n_reports = e.n;
	e.reports = NULL;
	exprs_free(&e);
	*out = (uint16_t)m->n_dbs++;
	return 0;
}

static void free_dbs(struct weir_match *m)
{
	for (unsigned i = 0; i < m->n_dbs; i++) {
		hs_free_database(m->dbs[i].hs);
		free(m->dbs[i].reports);
	}
	m->n_dbs = 0;
	for (int c = 0; c < WEIR_CLASS__COUNT; c++) {
		free(m->cls[c].port_group);
		memset(&m->cls[c], 0, sizeof(m->cls[c]));
	}
}

/* Every database; 1 when a rule was rejected and everything must be redone. */
static int build_all(struct build *b)
{
	struct weir_match *m = b->m;
	free_dbs(m);
	/* the figures describe the pass that succeeds */
	m->info.cache_hits = m->info.cache_misses = m->info.cache_bad = 0;
	for (int c = 0; c < WEIR_CLASS__COUNT; c++) {
		if (c != WEIR_CLASS_OTHER && choose_groups(m, (enum weir_class)c, b->o, b->alive) < 0) {
			snprintf(b->err, b->errlen, "out of memory");
			return -1;
		}
		for (unsigned mode = 0; mode < 2; mode++) {
			for (unsigned g = 0; g <= m->cls[c].n_groups; g++) {
				int rc = build_db(b, mode, (enum weir_class)c, g, &m->cls[c].db[mode][g]);
				if (rc != 0)
					return rc;
			}
		}
	}
	return 0;
}

/* The PCRE2 patterns of the rules' confirm parts, in rule and part order. */
static int setup_confirm(struct weir_match *m, unsigned n)
{
	m->confirm = calloc(n ? n : 1, sizeof(*m->confirm));
	if (!m->confirm)
		return -1;
	for (unsigned i = 0; i < m->n_rules; i++) {
		const struct weir_rule *r = m->rt[i].rule;
		for (unsigned k = 0; k < r->n_parts; k++) {
			if (!r->parts[k].confirm)
				continue;
			struct weir_confirm *c = &m->confirm[m->n_confirm++];
			c->negated = r->parts[k].negated;
			/* the loaders compiled it already: only memory can fail here */
			if (!(c->re = weir_part_pcre2(&r->parts[k])))
				return -1;
			(void)pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE); /* else the interpreter runs it */
		}
	}
	return 0;
}

static int setup_rules(struct weir_match *m, const struct weir_ruleset *rs)
{
	unsigned n_confirm = 0;
	m->n_rules = weir_ruleset_count(rs);
	m->rt = calloc(m->n_rules ? m->n_rules : 1, sizeof(*m->rt));
	if (!m->rt)
		return -1;
	for (unsigned i = 0; i < m->n_rules; i++) {
		const struct weir_rule *r = weir_ruleset_rule(rs, i);
		struct weir_rt_rule *t = &m->rt[i];
		t->rule = r;
		t->id = r->id;
		t->neg_first = m->n_neg;
		t->confirm_first = n_confirm;
		for (unsigned k = 0; k < r->n_parts; k++) {
			t->n_neg += r->parts[k].negated;
			t->n_confirm += r->parts[k].confirm;
		}
		m->n_neg += t->n_neg;
		n_confirm += t->n_confirm;
		t->l4_proto = r->scope.l4_proto;
		t->dir = r->scope.dir;
		t->est = r->scope.est;
		t->bidir = r->scope.bidir;
		t->ports_any = r->scope.sport.any && r->scope.dport.any;
		t->scope_any = !t->l4_proto && t->dir == WEIR_DIR_ANY && t->est == WEIR_EST_ANY && t->ports_any;
	}
	return setup_confirm(m, n_confirm);
}

static int finish(struct weir_match *m, char *err, size_t errlen)
{
	struct weir_match_info *in = &m->info;
	for (unsigned i = 0; i < m->n_dbs; i++) {
		size_t sz = 0;
		const struct weir_db *d = &m->dbs[i];
		if (hs_alloc_scratch(d->hs, &m->scratch) != HS_SUCCESS) {
			snprintf(err, errlen, "hyperscan: cannot allocate scratch");
			return -1;
		}
		hs_database_size(d->hs, &sz);
		if (d->mode == WEIR_MODE_STREAM) {
			in->n_db_stream++;
			in->db_bytes_stream += sz;
			if (hs_stream_size(d->hs, &sz) == HS_SUCCESS && sz > in->stream_state_bytes)
				in->stream_state_bytes = sz;
		} else {
			in->n_db_block++;
			in->db_bytes_block += sz;
		}
	}
	if (m->scratch)
		hs_scratch_size(m->scratch, &in->scratch_bytes);
	in->n_rules = m->n_rules - in->n_failed;
	in->n_confirm = m->n_confirm;
	for (int c = 0; c < 2; c++)
		in->port_groups[c] = m->cls[c].n_groups;
	/* a flow direction opens one stream per database its scope selects:
	 * two when its ports fall in two different groups */
	for (int c = 0; c < WEIR_CLASS__COUNT; c++) {
		const struct weir_class_groups *g = &m->cls[c];
		unsigned dbs = 0;
		for (unsigned k = 0; k <= g->n_groups; k++)
			dbs += g->db[WEIR_MODE_STREAM][k] != WEIR_NO_DB;
		unsigned n = !dbs ? 0 : g->n_groups >= 2 ? 2 : 1;
		if (n > in->max_streams_per_dir)
			in->max_streams_per_dir = n;
	}
	return 0;
}

struct weir_match *weir_match_compile(const struct weir_ruleset *rs,
				      const struct weir_match_opts *opts,
				      char *err, size_t errlen)
{
	uint64_t t0 = weir_monotonic_ns();
	struct weir_match_opts o = { 0 };
	if (opts)
		o = *opts;
	if (!o.group_min_rules)
		o.group_min_rules = 8;
	if (!o.max_port_groups)
		o.max_port_groups = 16;
	struct weir_match *m = calloc(1, sizeof(*m));
	struct build b = { .m = m, .o = &o, .err = err, .errlen = errlen };
	if (!m || setup_rules(m, rs) < 0)
		goto oom;
	m->rs = rs;
	/* at most one database per (mode, class, group) */
	m->dbs = calloc(2 * WEIR_CLASS__COUNT * (WEIR_MAX_GROUPS + 1), sizeof(*m->dbs));
	b.alive = malloc(m->n_rules ? m->n_rules : 1);
	if (!m->dbs || !b.alive)
		goto oom;
	memset(b.alive, 1, m->n_rules);
	int rc;
	while ((rc = build_all(&b)) == 1)
		;
	if (rc < 0 || finish(m, err, errlen) < 0)
		goto fail;
	free(b.alive);
	m->info.compile_s = (double)(weir_monotonic_ns() - t0) / 1e9;
	return m;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(b.alive);
	weir_match_free(m);
	return NULL;
}

void weir_match_free(struct weir_match *m)
{
	if (!m)
		return;
	free_dbs(m);
	free(m->dbs);
	free(m->rt);
	for (unsigned i = 0; i < m->n_confirm; i++)
		pcre2_code_free(m->confirm[i].re);
	free(m->confirm);
	hs_free_scratch(m->scratch);
	free(m);
}

const struct weir_match_info *weir_match_info(const struct weir_match *m)
{
	return &m->info;
}

const struct weir_rule *weir_match_rule(const struct weir_match *m, uint32_t idx)
{
	return idx < m->n_rules ? m->rt[idx].rule : NULL;
}
