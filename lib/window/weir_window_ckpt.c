/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_window_ckpt: the merger's state, aligned at a checkpoint barrier, to
 * bytes and back. The format is described with the API in weir_window.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include "weir_window_int.h"

#define WIN_MAGIC 0x4e495757u /* "WWIN" */
#define WIN_VERSION 1u

/*
 * Output cursor. With p == NULL it only counts, so that one walk sizes the
 * buffer and a second one fills it.
 */
struct wcur {
	uint8_t *p;
	size_t off;
};

static void put(struct wcur *c, const void *v, size_t n)
{
	if (c->p)
		memcpy(c->p + c->off, v, n);
	c->off += n;
}

static void put8(struct wcur *c, uint8_t v)
{
	put(c, &v, 1);
}

static void put32(struct wcur *c, uint32_t v)
{
	v = rte_cpu_to_le_32(v);
	put(c, &v, 4);
}

static void put64(struct wcur *c, uint64_t v)
{
	v = rte_cpu_to_le_64(v);
	put(c, &v, 8);
}

static void put_table(struct wcur *c, const struct weir_query *q, const struct weir_table *t)
{
	size_t n = t ? weir_table_snapshot_size(q, t) : 0;

	put64(c, n);
	if (n && c->p)
		weir_table_snapshot(q, t, c->p + c->off, n);
	c->off += n;
}

/* What a query's saved state depends on: restoring it under another definition would lie. */
static uint64_t state_hash(const struct weir_query *q)
{
	const struct weir_query_conf *c = &q->conf;
	uint64_t v[] = {c->window, c->size_ns, c->slide_ns, c->gap_ns, c->max_ns, c->lateness_ns,
			c->emit_every_ns, weir_table_layout_hash(q), q->pane_ns, c->max_keys};
	uint32_t lo = rte_hash_crc(c->filter, strlen(c->filter), 0x57494e31u);
	uint32_t hi = rte_hash_crc(v, sizeof(v), lo);

	return (uint64_t)hi << 32 | rte_hash_crc(v, sizeof(v), ~lo);
}

static unsigned count_panes(const struct merger_query *m)
{
	unsigned n = 0;

	for (const struct pane *p = m->panes; p; p = p->next)
		n++;
	return n;
}

static void put_query(struct wcur *c, const struct weir_window_set *s, unsigned qi)
{
	const struct weir_query *q = &s->q[qi];
	const struct merger_query *m = &s->mq[qi];
	size_t name_len = strlen(q->conf.name);

	put32(c, (uint32_t)name_len);
	put(c, q->conf.name, name_len);
	put64(c, state_hash(q));
	put8(c, m->started);
	put64(c, m->next_window);
	put64(c, m->next_partial);
	put64(c, m->assembled);
	put64(c, m->overflow);
	for (unsigned w = 0; w < s->n_workers; w++) {
		put64(c, s->marks[w].next_partial[qi]);
		for (unsigned r = 0; r < WEIR_QDROP__COUNT; r++)
			put64(c, s->marks[w].qdrop[qi][r]);
	}
	put32(c, count_panes(m));
	for (const struct pane *p = m->panes; p; p = p->next) {
		put64(c, p->start);
		put8(c, p->dirty);
		put_table(c, q, p->t);
	}
	put_table(c, q, m->sessions && m->sessions->n_used ? m->sessions : NULL);
}

static void put_set(struct wcur *c, const struct weir_window_set *s)
{
	unsigned nq = 0;

	for (unsigned qi = 0; qi < s->n_queries; qi++)
		nq += s->live[qi];
	put32(c, WIN_MAGIC);
	put32(c, WIN_VERSION);
	put32(c, s->n_workers);
	put32(c, nq);
	for (unsigned w = 0; w < s->n_workers; w++) {
		put64(c, s->marks[w].wm);
		put64(c, s->marks[w].max_ts);
	}
	for (unsigned qi = 0; qi < s->n_queries; qi++)
		if (s->live[qi])
			put_query(c, s, qi);
}

void *weir_window_set_save(const struct weir_window_set *s, size_t *len)
{
	struct wcur c = {0};

	put_set(&c, s);
	c.p = malloc(c.off ? c.off : 1);
	if (!c.p)
		return NULL;
	*len = c.off;
	c.off = 0;
	put_set(&c, s);
	return c.p;
}

/* ---- load ------------------------------------------------------------------ */

/* Input cursor: every read is bounds-checked; the first short read sets `bad`. */
struct rcur {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const void *take(struct rcur *c, size_t n)
{
	if (c->bad || n > c->len - c->off) {
		c->bad = true;
		return NULL;
	}
	c->off += n;
	return c->p + c->off - n;
}

static uint8_t get8(struct rcur *c)
{
	const uint8_t *v = take(c, 1);

	return v ? *v : 0;
}

static uint32_t get32(struct rcur *c)
{
	const void *v = take(c, 4);
	uint32_t x = 0;

	if (v)
		memcpy(&x, v, 4);
	return rte_le_to_cpu_32(x);
}

static uint64_t get64(struct rcur *c)
{
	const void *v = take(c, 8);
	uint64_t x = 0;

	if (v)
		memcpy(&x, v, 8);
	return rte_le_to_cpu_64(x);
}

/* The live slot configured under `name`, or -1. */
static int find_query(const struct weir_window_set *s, const char *name)
{
	for (unsigned qi = 0; qi < s->n_queries; qi++)
		if (s->live[qi] && !strcmp(s->q[qi].conf.name, name))
			return (int)qi;
	return -1;
}

/* One saved table into t (NULL: skip it); its bytes are consumed either way. */
static int load_table(struct rcur *c, const struct weir_query *q, struct weir_table *t,
		      char *err, size_t errlen)
{
	uint64_t n = get64(c);
	const void *b = n ? take(c, n) : NULL;

	if (c->bad)
		return weir_window_fail(err, errlen, "truncated in query '%s'", q ? q->conf.name : "?");
	if (!t || !n)
		return 0;
	char why[256];
	if (weir_table_restore(q, t, b, n, why, sizeof(why)) < 0)
		return weir_window_fail(err, errlen, "query '%s': %s", q->conf.name, why);
	return 0;
}

/* The workers' part of a query: their drop counters and partial-result boundaries. */
static void load_worker_parts(struct rcur *c, struct weir_window_set *s, int qi, unsigned saved)
{
	for (unsigned w = 0; w < saved; w++) {
		uint64_t np = get64(c);
		/* fewer or more workers now: sums go to worker 0 */
		struct query_shards *qs = qi >= 0 ? &s->workers[saved == s->n_workers ? w : 0].q[qi]
						  : NULL;
		if (qs && np > qs->next_partial)
			qs->next_partial = np;
		for (unsigned r = 0; r < WEIR_QDROP__COUNT; r++) {
			uint64_t d = get64(c);
			if (qs)
				qs->qdrop[r] += d;
		}
	}
}

static int load_panes(struct rcur *c, struct weir_window_set *s, int qi, const struct weir_query *q,
		      char *err, size_t errlen)
{
	uint32_t n = get32(c);

	for (uint32_t i = 0; i < n && !c->bad; i++) {
		uint64_t start = get64(c);
		bool dirty = get8(c) != 0, created = false;
		struct pane *p = qi >= 0 ? weir_pane_get(s, (unsigned)qi, start, &created) : NULL;
		if (qi >= 0 && (!p || !created))
			return weir_window_fail(err, errlen, "query '%s': %s", q->conf.name,
				    p ? "two panes with one start" : "out of memory");
		if (p)
			p->dirty = dirty;
		if (load_table(c, q, p ? p->t : NULL, err, errlen) < 0)
			return -1;
		if (p)
			p->t->window_start = start;
	}
	return 0;
}

static int load_query(struct rcur *c, struct weir_window_set *s, unsigned saved_workers,
		      bool *seen, weir_window_load_fn report, void *ctx, char *err, size_t errlen)
{
	char name[WEIR_NAME_MAX];
	uint32_t nl = get32(c);
	const void *nb = nl < sizeof(name) ? take(c, nl) : NULL;

	if (!nb)
		return weir_window_fail(err, errlen, "truncated or bad query name (length %u)", nl);
	memcpy(name, nb, nl);
	name[nl] = '\0';
	uint64_t hash = get64(c);
	int qi = find_query(s, name);
	if (qi >= 0 && seen[qi])
		return weir_window_fail(err, errlen, "query '%s' saved twice", name);
	if (qi >= 0)
		seen[qi] = true;
	if (qi >= 0 && hash != state_hash(&s->q[qi])) {
		if (report)
			report(ctx, name, "changed");
		qi = -1;
	} else if (report) {
		report(ctx, name, qi >= 0 ? "restored" : "removed");
	}
	const struct weir_query *q = qi >= 0 ? &s->q[qi] : NULL;
	struct merger_query m = {.started = get8(c) != 0};
	m.next_window = get64(c);
	m.next_partial = get64(c);
	m.assembled = get64(c);
	m.overflow = get64(c);
	load_worker_parts(c, s, qi, saved_workers);
	if (qi >= 0) {
		struct merger_query *mq = &s->mq[qi];
		mq->started = m.started;
		mq->next_window = m.next_window;
		mq->next_partial = m.next_partial;
		mq->assembled = m.assembled;
		mq->overflow = m.overflow;
	}
	if (load_panes(c, s, qi, q, err, errlen) < 0)
		return -1;
	struct weir_table *sess = NULL;
	if (qi >= 0 && q->conf.window == WEIR_WINDOW_SESSION) {
		sess = s->mq[qi].sessions = s->mq[qi].sessions ? s->mq[qi].sessions
							    : weir_merged_get(s, (unsigned)qi);
		if (!sess)
			return weir_window_fail(err, errlen, "query '%s': out of memory", name);
	}
	return load_table(c, q, sess, err, errlen);
}

int weir_window_set_load(struct weir_window_set *s, const void *buf, size_t len,
			 weir_window_load_fn report, void *ctx, char *err, size_t errlen)
{
	struct rcur c = {.p = buf, .len = len};
	bool seen[WEIR_MAX_QUERIES] = {false};

	if (get32(&c) != WIN_MAGIC)
		return weir_window_fail(err, errlen, "window state: bad magic");
	uint32_t version = get32(&c), workers = get32(&c), nq = get32(&c);
	if (version != WIN_VERSION)
		return weir_window_fail(err, errlen, "window state version %u, this build reads %u", version,
			    WIN_VERSION);
	if (!workers || workers > WEIR_MAX_WORKERS || nq > WEIR_MAX_QUERIES)
		return weir_window_fail(err, errlen, "window state: %u workers, %u queries: out of range",
			    workers, nq);
	uint64_t wm = UINT64_MAX, max_ts = 0;
	for (unsigned w = 0; w < workers; w++) {
		uint64_t a = get64(&c), b = get64(&c);
		if (workers == s->n_workers) {
			s->workers[w].wm = s->workers[w].sealed_wm = a;
			s->workers[w].max_ts = b;
		}
		wm = a < wm ? a : wm;
		max_ts = b > max_ts ? b : max_ts;
	}
	for (unsigned w = 0; workers != s->n_workers && w < s->n_workers; w++) {
		s->workers[w].wm = s->workers[w].sealed_wm = wm;
		s->workers[w].max_ts = max_ts;
	}
	for (unsigned i = 0; i < nq; i++)
		if (load_query(&c, s, workers, seen, report, ctx, err, errlen) < 0)
			return -1;
	if (c.bad || c.off != len)
		return weir_window_fail(err, errlen, "window state: %s", c.bad ? "truncated" : "trailing bytes");
	for (unsigned qi = 0; report && qi < s->n_queries; qi++)
		if (s->live[qi] && !seen[qi])
			report(ctx, s->q[qi].conf.name, "new");
	return 0;
}
