/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_match_scan: the data path. Per worker: a cloned scratch, dedup
 * arrays stamped with a per-scan epoch (so nothing is cleared per packet)
 * and a pool of stream states. No allocation, lock or syscall after
 * weir_match_worker_new.
 *
 * Stream state memory: Hyperscan allocates a stream's state in
 * hs_open_stream through the process-wide stream allocator. weir installs
 * one (once) that takes fixed-size objects from the pool of the worker
 * that is opening or closing the stream, found through a thread-local
 * pointer set only around those calls; any other caller in the process gets
 * malloc/free. Each pool object is hs_stream_size() of the largest stream
 * database, rounded up to 64 bytes. A pool is single-threaded by design
 * (a worker's streams are opened, scanned and closed on that worker), hence
 * lock-free.
 *
 * PCRE2 confirmations (parts Hyperscan only prefilters) run on the payload
 * with a per-worker match data, match context and JIT stack made in
 * weir_match_worker_new, each part at most once per scan (the result is
 * stamped with the scan's epoch), bounded by a match limit. A pattern PCRE2
 * could not JIT-compile runs in its interpreter, whose backtracking frames
 * may come from the heap beyond its first 20 KiB: bounded by a heap limit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "weir_match_int.h"

#define NO_SLOT UINT32_MAX
/* PCRE2's backtracking budget per confirmation (its default is 10M): a
 * pathological pattern costs a bounded time and counts a confirm error. */
#define CONFIRM_MATCH_LIMIT 1000000
#define CONFIRM_JIT_STACK (512u << 10)
#define CONFIRM_HEAP_LIMIT_KIB 8192

struct stream_pool {
	uint8_t *slab;
	size_t obj_size;
	uint32_t n, top;
	uint32_t *free_idx;          /* stack of free objects */
};

struct weir_match_worker {
	const struct weir_match *m;
	hs_scratch_t *scratch;
	uint32_t epoch;              /* of the current scan; +2 per scan (two phases) */
	uint32_t *rule_epoch;        /* per rule: epoch (+ phase) it was last hit */
	uint32_t *rule_slot;         /* per rule: its index in the result, or NO_SLOT */
	uint32_t *neg_epoch;         /* per negated part: epoch it last matched */
	uint32_t *confirm_epoch;     /* per confirm part: epoch of its cached result */
	uint8_t *confirm_ok;         /* that result */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	struct stream_pool pool;
	struct weir_match_worker_stats st;
};

/* One scan call's state, handed to the Hyperscan callback. */
struct scan_ctx {
	struct weir_match_worker *w;
	const struct weir_rt_rule *rt;
	const struct weir_report *reports;
	const struct weir_match_pkt *pkt;
	struct weir_match_result *res;
	const uint8_t *data;         /* the payload of a block scan (NULL in stream mode) */
	uint32_t len;
	uint32_t epoch, phase;
};

static __thread struct stream_pool *tls_pool;

/* ------------------------------------------------------------------ scope */

struct weir_match_pkt weir_match_pkt_of(const struct weir_pkt *p, uint8_t flow_flags)
{
	struct weir_match_pkt mp = { .l4_proto = p->l4_proto, .flags = flow_flags };
	bool l4_ports = p->l4_proto == 6 || p->l4_proto == 17 || p->l4_proto == 132;
	if (l4_ports && (p->flags & WEIR_PKT_F_PORTS)) {
		mp.flags |= WEIR_MATCH_F_PORTS;
		mp.src_port = p->src_port;
		mp.dst_port = p->dst_port;
	}
	return mp;
}

static bool ports_ok(const struct weir_rule_scope *s, const struct weir_match_pkt *p)
{
	if (!(p->flags & WEIR_MATCH_F_PORTS))
		return false;
	if (weir_portset_has(&s->sport, p->src_port) && weir_portset_has(&s->dport, p->dst_port))
		return true;
	return s->bidir && weir_portset_has(&s->sport, p->dst_port) &&
	       weir_portset_has(&s->dport, p->src_port);
}

static bool scope_ok(const struct weir_rt_rule *r, const struct weir_match_pkt *p)
{
	if (r->l4_proto && r->l4_proto != p->l4_proto)
		return false;
	if (r->dir == WEIR_DIR_TO_SERVER && !(p->flags & WEIR_MATCH_F_TO_SERVER))
		return false;
	if (r->dir == WEIR_DIR_TO_CLIENT && !(p->flags & WEIR_MATCH_F_TO_CLIENT))
		return false;
	if (r->est == WEIR_EST_YES && !(p->flags & WEIR_MATCH_F_ESTABLISHED))
		return false;
	if (r->est == WEIR_EST_NO &&
	    (p->flags & (WEIR_MATCH_F_FLOW | WEIR_MATCH_F_ESTABLISHED)) != WEIR_MATCH_F_FLOW)
		return false;
	return r->ports_any || ports_ok(&r->rule->scope, p);
}

/*
 * Databases for a scope: the group of the destination port, then the one of
 * the source port when it differs. 0, 1 or 2 indices into m->dbs.
 */
static unsigned select_dbs(const struct weir_match *m, unsigned mode, const struct weir_match_pkt *p,
			   uint16_t out[2])
{
	const struct weir_class_groups *g = &m->cls[weir_class_of(p->l4_proto)];
	unsigned gd = 0, gs = 0;
	if (g->port_group && (p->flags & WEIR_MATCH_F_PORTS)) {
		gd = g->port_group[p->dst_port];
		gs = g->port_group[p->src_port];
	}
	unsigned n = 0;
	uint16_t a = g->db[mode][gd ? gd : gs];
	if (a != WEIR_NO_DB)
		out[n++] = a;
	if (gd && gs) {
		uint16_t b = g->db[mode][gs];
		if (b != WEIR_NO_DB && b != a)
			out[n++] = b;
	}
	return n;
}

/* ------------------------------------------------------------------ match */

static void add_hit(struct scan_ctx *c, uint32_t rule)
{
	struct weir_match_result *res = c->res;
	struct weir_match_worker *w = c->w;
	w->rule_epoch[rule] = c->epoch + c->phase;
	if (res->n_hits == WEIR_MATCH_MAX_HITS) {
		w->rule_slot[rule] = NO_SLOT;
		res->hits_dropped++;
		return;
	}
	w->rule_slot[rule] = res->n_hits;
	res->hit[res->n_hits++] = (struct weir_match_hit){ .rule = rule, .id = c->rt[rule].id };
}

/* Does PCRE2 confirm part k of the confirm table on this scan's payload? */
static bool confirm_part(struct scan_ctx *c, uint32_t k)
{
	struct weir_match_worker *w = c->w;
	if (w->confirm_epoch[k] == c->epoch)
		return w->confirm_ok[k];
	int rc = -1;
	if (c->data) {
		w->st.confirms++;
		rc = pcre2_match(w->m->confirm[k].re, c->data, c->len, 0, 0, w->md, w->mctx);
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
			c->res->confirm_errors++;
	}
	w->confirm_epoch[k] = c->epoch;
	w->confirm_ok[k] = rc >= 0;
	return rc >= 0;
}

/* A report of a prefiltered part, or of a combination with such parts. */
static bool confirmed(struct scan_ctx *c, const struct weir_report *rep, const struct weir_rt_rule *r)
{
	if (rep->confirm != WEIR_CONFIRM_RULE)
		return confirm_part(c, rep->confirm);
	for (uint32_t k = r->confirm_first; k < r->confirm_first + r->n_confirm; k++)
		if (!c->w->m->confirm[k].negated && !confirm_part(c, k))
			return false;
	return true;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *arg)
{
	struct scan_ctx *c = arg;
	const struct weir_report *rep = &c->reports[id];
	const struct weir_rt_rule *r = &c->rt[rep->rule];
	struct weir_match_worker *w = c->w;
	(void)from;
	(void)to;
	(void)flags;
	if (!r->scope_any && !scope_ok(r, c->pkt))
		return 0;
	if (rep->confirm != WEIR_NO_CONFIRM && !confirmed(c, rep, r))
		return 0;
	if (rep->neg != WEIR_NO_NEG) {
		w->neg_epoch[rep->neg] = c->epoch;
		return 0;
	}
	uint32_t seen = w->rule_epoch[rep->rule];
	/* the second database repeats what the first one found for rules in both */
	if (c->phase == 1 && seen == c->epoch)
		return 0;
	if (seen != c->epoch + c->phase)
		add_hit(c, rep->rule);
	uint32_t slot = w->rule_slot[rep->rule];
	if (slot != NO_SLOT)
		c->res->hit[slot].matches++;
	c->res->matches++;
	return 0;
}

/* Drop hits whose rule has a negated part that matched in this scan. */
static void apply_negations(struct scan_ctx *c)
{
	struct weir_match_result *res = c->res;
	uint32_t out = 0;
	for (uint32_t i = 0; i < res->n_hits; i++) {
		const struct weir_rt_rule *r = &c->rt[res->hit[i].rule];
		bool vetoed = false;
		for (uint32_t k = 0; k < r->n_neg && !vetoed; k++)
			vetoed = c->w->neg_epoch[r->neg_first + k] == c->epoch;
		if (vetoed) {
			res->matches -= res->hit[i].matches;
			continue;
		}
		c->w->rule_slot[res->hit[i].rule] = out;
		res->hit[out++] = res->hit[i];
	}
	res->n_hits = out;
}

static void begin_scan(struct scan_ctx *c, struct weir_match_worker *w, const struct weir_match_pkt *p,
		       struct weir_match_result *res)
{
	/* epoch and epoch + 1 (second phase) are this scan's; wrap by clearing */
	if (w->epoch >= UINT32_MAX - 4) {
		memset(w->rule_epoch, 0, (w->m->n_rules ? w->m->n_rules : 1) * sizeof(uint32_t));
		memset(w->neg_epoch, 0, (w->m->n_neg ? w->m->n_neg : 1) * sizeof(uint32_t));
		memset(w->confirm_epoch, 0, (w->m->n_confirm ? w->m->n_confirm : 1) * sizeof(uint32_t));
		w->epoch = 0;
	}
	w->epoch += 2;
	*c = (struct scan_ctx){ .w = w, .rt = w->m->rt, .pkt = p, .res = res, .epoch = w->epoch };
	res->n_hits = 0;
	res->hits_dropped = 0;
	res->matches = 0;
	res->confirm_errors = 0;
}

static void end_scan(struct scan_ctx *c)
{
	if (c->w->m->n_neg)
		apply_negations(c);
}

int weir_match_scan(struct weir_match_worker *w, const struct weir_match_pkt *pkt,
		    const uint8_t *data, uint32_t len, struct weir_match_result *res)
{
	struct scan_ctx c;
	uint16_t dbs[2];
	begin_scan(&c, w, pkt, res);
	c.data = data;
	c.len = len;
	w->st.scans++;
	unsigned n = select_dbs(w->m, WEIR_MODE_PACKET, pkt, dbs);
	for (unsigned i = 0; i < n; i++) {
		const struct weir_db *d = &w->m->dbs[dbs[i]];
		c.reports = d->reports;
		c.phase = i;
		if (hs_scan(d->hs, (const char *)data, len, 0, w->scratch, on_match, &c) != HS_SUCCESS) {
			w->st.hs_errors++;
			return -1;
		}
	}
	end_scan(&c);
	return (int)res->n_hits;
}

/* ---------------------------------------------------------------- streams */

static void *pool_alloc(size_t size)
{
	struct stream_pool *p = tls_pool;
	if (!p)
		return malloc(size);
	if (size > p->obj_size || !p->top)
		return NULL;
	return p->slab + (size_t)p->free_idx[--p->top] * p->obj_size;
}

static void pool_free(void *ptr)
{
	struct stream_pool *p = tls_pool;
	uint8_t *b = ptr;
	if (p && b >= p->slab && b < p->slab + (size_t)p->n * p->obj_size) {
		p->free_idx[p->top++] = (uint32_t)((size_t)(b - p->slab) / p->obj_size);
		return;
	}
	free(ptr);
}

static void install_allocator(void)
{
	hs_set_stream_allocator(pool_alloc, pool_free);
}

int weir_match_stream_open(struct weir_match_worker *w, const struct weir_match_pkt *pkt,
			   struct weir_match_stream *s)
{
	uint16_t dbs[2];
	unsigned n = select_dbs(w->m, WEIR_MODE_STREAM, pkt, dbs);
	memset(s, 0, sizeof(*s));
	if (!n)
		return 1;
	tls_pool = &w->pool;
	for (unsigned i = 0; i < n; i++) {
		if (hs_open_stream(w->m->dbs[dbs[i]].hs, 0, &s->hs[i]) != HS_SUCCESS) {
			for (unsigned k = 0; k < i; k++)
				hs_close_stream(s->hs[k], w->scratch, NULL, NULL);
			tls_pool = NULL;
			memset(s, 0, sizeof(*s));
			w->st.pool_exhausted++;
			return -1;
		}
		s->db[i] = dbs[i];
	}
	tls_pool = NULL;
	s->open = n;
	w->st.streams_open += n;
	w->st.streams_opened += n;
	return 0;
}

int weir_match_stream_scan(struct weir_match_worker *w, struct weir_match_stream *s,
			   const struct weir_match_pkt *pkt, const uint8_t *data, uint32_t len,
			   struct weir_match_result *res)
{
	struct scan_ctx c;
	begin_scan(&c, w, pkt, res);
	w->st.stream_scans++;
	for (unsigned i = 0; i < s->open; i++) {
		c.reports = w->m->dbs[s->db[i]].reports;
		c.phase = i;
		if (hs_scan_stream(s->hs[i], (const char *)data, len, 0, w->scratch, on_match, &c) !=
		    HS_SUCCESS) {
			w->st.hs_errors++;
			return -1;
		}
	}
	end_scan(&c);
	return (int)res->n_hits;
}

int weir_match_stream_close(struct weir_match_worker *w, struct weir_match_stream *s,
			    const struct weir_match_pkt *pkt, struct weir_match_result *res)
{
	struct scan_ctx c;
	struct weir_match_result discard;
	int rc = 0;
	begin_scan(&c, w, pkt, res ? res : &discard);
	tls_pool = &w->pool;
	for (unsigned i = 0; i < s->open; i++) {
		c.reports = w->m->dbs[s->db[i]].reports;
		c.phase = i;
		if (hs_close_stream(s->hs[i], w->scratch, res ? on_match : NULL, &c) != HS_SUCCESS) {
			w->st.hs_errors++;
			rc = -1;
		}
	}
	tls_pool = NULL;
	w->st.streams_open -= s->open;
	memset(s, 0, sizeof(*s));
	end_scan(&c);
	return rc < 0 ? rc : (int)c.res->n_hits;
}

/* ----------------------------------------------------------------- worker */

void weir_match_worker_forget_streams(struct weir_match_worker *w)
{
	struct stream_pool *p = &w->pool;

	for (uint32_t i = 0; i < p->n; i++)
		p->free_idx[i] = p->n - 1 - i;
	p->top = p->n;
	w->st.streams_open = 0;
}

static int pool_init(struct stream_pool *p, size_t state_bytes, unsigned n)
{
	memset(p, 0, sizeof(*p));
	if (!state_bytes || !n)
		return 0;
	p->obj_size = (state_bytes + 63) & ~(size_t)63;
	p->slab = aligned_alloc(64, p->obj_size * n);
	p->free_idx = malloc(n * sizeof(*p->free_idx));
	if (!p->slab || !p->free_idx)
		return -1;
	/* touch the memory now, not on the first open of the data path */
	memset(p->slab, 0, p->obj_size * n);
	for (uint32_t i = 0; i < n; i++)
		p->free_idx[i] = n - 1 - i;
	p->n = p->top = n;
	return 0;
}

struct weir_match_worker *weir_match_worker_new(const struct weir_match *m, unsigned max_streams,
						char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, install_allocator);
	struct weir_match_worker *w = calloc(1, sizeof(*w));
	if (!w)
		goto oom;
	w->m = m;
	w->rule_epoch = calloc(m->n_rules ? m->n_rules : 1, sizeof(uint32_t));
	w->rule_slot = calloc(m->n_rules ? m->n_rules : 1, sizeof(uint32_t));
	w->neg_epoch = calloc(m->n_neg ? m->n_neg : 1, sizeof(uint32_t));
	w->confirm_epoch = calloc(m->n_confirm ? m->n_confirm : 1, sizeof(uint32_t));
	w->confirm_ok = calloc(m->n_confirm ? m->n_confirm : 1, 1);
	if (!w->rule_epoch || !w->rule_slot || !w->neg_epoch || !w->confirm_epoch || !w->confirm_ok)
		goto oom;
	if (m->n_confirm) {
		/* one ovector pair: a confirmation asks "is there a match", not where */
		w->md = pcre2_match_data_create(1, NULL);
		w->mctx = pcre2_match_context_create(NULL);
		w->jit = pcre2_jit_stack_create(32u << 10, CONFIRM_JIT_STACK, NULL);
		if (!w->md || !w->mctx || !w->jit)
			goto oom;
		pcre2_jit_stack_assign(w->mctx, NULL, w->jit);
		pcre2_set_match_limit(w->mctx, CONFIRM_MATCH_LIMIT);
		pcre2_set_heap_limit(w->mctx, CONFIRM_HEAP_LIMIT_KIB);
	}
	if (pool_init(&w->pool, m->info.stream_state_bytes, max_streams) < 0)
		goto oom;
	if (m->scratch && hs_clone_scratch(m->scratch, &w->scratch) != HS_SUCCESS) {
		snprintf(err, errlen, "hyperscan: cannot clone scratch");
		weir_match_worker_free(w);
		return NULL;
	}
	return w;
oom:
	snprintf(err, errlen, "out of memory");
	weir_match_worker_free(w);
	return NULL;
}

void weir_match_worker_free(struct weir_match_worker *w)
{
	if (!w)
		return;
	hs_free_scratch(w->scratch);
	free(w->rule_epoch);
	free(w->rule_slot);
	free(w->neg_epoch);
	free(w->confirm_epoch);
	free(w->confirm_ok);
	pcre2_match_data_free(w->md);
	pcre2_match_context_free(w->mctx);
	pcre2_jit_stack_free(w->jit);
	free(w->pool.slab);
	free(w->pool.free_idx);
	free(w);
}

const struct weir_match_worker_stats *weir_match_worker_stats(const struct weir_match_worker *w)
{
	return &w->st;
}
