/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Window shards and the merger. See weir_window.h for the life of a shard.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "weir_window_int.h"

#define BURST_MAX WEIR_BURST_MAX

#define NO_PANE UINT64_MAX /* the flow combiner sums no pane */
/* A counter the control thread reads while its worker writes it. */
#define STORE(var, val) __atomic_store_n(&(var), (val), __ATOMIC_RELAXED)
#define FLOW_KEY_WORDS 6        /* its key: see flow_key */

const char *weir_qdrop_name(enum weir_qdrop r)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_QDROP_##e] = s,
		WEIR_QDROP_LIST(WEIR_X)
#undef WEIR_X
	};
	return r < WEIR_QDROP__COUNT ? names[r] : "?";
}

/* ---- tables ---------------------------------------------------------------- */

static uint32_t table_slots(uint32_t max_keys)
{
	return rte_align32pow2(max_keys * 2);
}

static uint32_t entry_stride(const struct weir_query *q)
{
	return q->key_words + q->agg_words + (q->blob_bytes ? 1 : 0);
}

/*
 * Entries start on a cache line (the slack is in the size), so that an
 * entry of 8 words (a v4/v6 host pair and three sums) is one line: one miss
 * per upsert, not two. Sketches live apart, in blobs handed out in insertion
 * order, so that the probed slots stay small.
 */
size_t weir_table_size(const struct weir_query *q, uint32_t max_keys)
{
	uint32_t slots = table_slots(max_keys);
	size_t stride = entry_stride(q);
	size_t tags = q->keys_nonzero ? 0 : RTE_ALIGN((size_t)slots * 4, 8);

	return RTE_ALIGN(sizeof(struct weir_table), 8) + tags + RTE_CACHE_LINE_SIZE +
	       (size_t)slots * stride * 8 + RTE_ALIGN((size_t)max_keys * 4, 8) + stride * 8 +
	       ((size_t)max_keys + 1) * q->blob_bytes;
}

struct weir_table *weir_table_init(void *mem, const struct weir_query *q, uint32_t max_keys)
{
	struct weir_table *t = mem;
	uint8_t *p = (uint8_t *)mem + RTE_ALIGN(sizeof(*t), 8);
	uint32_t slots = table_slots(max_keys);

	t->query = q->id;
	t->max_keys = max_keys;
	t->mask = slots - 1;
	t->key_words = q->key_words;
	t->agg_words = q->agg_words;
	t->stride = entry_stride(q);
	t->blob_bytes = q->blob_bytes;
	t->tagless = q->keys_nonzero;
	if (!t->tagless) { /* a tagless table has no tags */
		t->hashes = (uint32_t *)p;
		p += RTE_ALIGN((size_t)slots * 4, 8);
	}
	p = RTE_PTR_ALIGN_CEIL(p, RTE_CACHE_LINE_SIZE);
	t->entries = (uint64_t *)p;
	p += (size_t)slots * t->stride * 8;
	t->used = (uint32_t *)p;
	p += RTE_ALIGN((size_t)max_keys * 4, 8);
	t->other = (uint64_t *)p;
	p += (size_t)t->stride * 8;
	t->blobs = p;
	if (t->blob_bytes)
		t->other[t->key_words + t->agg_words] = max_keys;
	return t;
}

struct weir_table *weir_table_new(const struct weir_query *q, uint32_t max_keys)
{
	void *mem = calloc(1, weir_table_size(q, max_keys));

	return mem ? weir_table_init(mem, q, max_keys) : NULL;
}

void weir_table_reset(struct weir_table *t)
{
	/* Clear only what was used: a shard of 64k keys may hold a dozen. */
	for (uint32_t i = 0; i < t->n_used; i++) {
		uint32_t s = t->used[i];
		if (!t->tagless)
			t->hashes[s] = 0;
		memset(&t->entries[(size_t)s * t->stride], 0, (size_t)t->stride * 8);
	}
	memset(t->blobs, 0, (size_t)t->n_used * t->blob_bytes);
	if (t->has_other) {
		memset(t->other + t->key_words, 0, (size_t)t->agg_words * 8);
		memset(t->blobs + (size_t)t->max_keys * t->blob_bytes, 0, t->blob_bytes);
	}
	t->n_used = 0;
	t->overflow = 0;
	t->late = false;
	t->has_other = false;
}

static __rte_always_inline bool key_equal(const uint64_t *a, const struct weir_key *k,
					  unsigned words)
{
	uint64_t diff = 0;
	unsigned i = 0;

#ifdef __AVX2__
	/* keys of four words and more (host pairs): the first four in one compare */
	if (words >= 4) {
		__m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)a),
					     _mm256_loadu_si256((const __m256i *)k->w));
		diff = !_mm256_testz_si256(x, x);
		i = 4;
	}
#endif
	for (; i < words; i++)
		diff |= a[i] ^ k->w[i];
	return diff == 0;
}

/* Is the entry's key all zero (an empty slot of a tagless table)? */
static __rte_always_inline bool key_empty(const uint64_t *a, unsigned words)
{
	static const struct weir_key zero;

	return key_equal(a, &zero, words);
}

/* Key k (hash tag `tag`) into empty slot s; NULL when the table is full. */
static __rte_always_inline uint64_t *table_insert(struct weir_table *t, const struct weir_key *k,
						 uint32_t s, uint32_t tag, unsigned words)
{
	uint64_t *e = &t->entries[(size_t)s * t->stride];

	if (unlikely(t->n_used >= t->max_keys))
		return NULL;
	if (!t->tagless)
		t->hashes[s] = tag;
	memcpy(e, k->w, (size_t)words * 8);
	if (t->blob_bytes)
		e[words + t->agg_words] = t->n_used;
	t->used[t->n_used++] = s;
	return e + words;
}

/*
 * Inlined into the data path's loop; weir_table_upsert is the same for other
 * callers. words is t->key_words, a constant where the caller is specialized.
 * A tagless table's probe compares keys in the entry's line and nothing
 * else; another's compares the slot's hash tag first.
 */
static __rte_always_inline uint64_t *table_upsert(struct weir_table *t, const struct weir_key *k,
						  uint32_t h, unsigned words)
{
	uint32_t tag = h | 1, s = h & t->mask;

	for (;; s = (s + 1) & t->mask) {
		uint64_t *e = &t->entries[(size_t)s * t->stride];
		if (t->tagless) {
			if (key_equal(e, k, words))
				return e + words;
			if (key_empty(e, words))
				return table_insert(t, k, s, tag, words);
			continue;
		}
		uint32_t cur = t->hashes[s];
		if (cur == tag && key_equal(e, k, words))
			return e + words;
		if (cur == 0)
			return table_insert(t, k, s, tag, words);
	}
}

uint64_t *weir_table_upsert(struct weir_table *t, const struct weir_key *k, uint32_t h)
{
	return table_upsert(t, k, h, t->key_words);
}

uint8_t *weir_table_blob(const struct weir_table *t, const uint64_t *aggs)
{
	if (!t->blob_bytes)
		return NULL;
	return t->blobs + (size_t)aggs[t->agg_words] * t->blob_bytes;
}

uint64_t *weir_table_other(struct weir_table *t)
{
	t->has_other = true;
	return t->other + t->key_words;
}

const struct weir_key *weir_table_key(const struct weir_table *t, uint32_t i)
{
	return (const struct weir_key *)&t->entries[(size_t)t->used[i] * t->stride];
}

const uint64_t *weir_table_aggs(const struct weir_table *t, uint32_t i)
{
	return &t->entries[(size_t)t->used[i] * t->stride + t->key_words];
}

static void merge_entry(const struct weir_query *q, struct weir_table *dst, uint64_t *a,
			const struct weir_table *src, const uint64_t *b)
{
	weir_agg_merge(q, a, weir_table_blob(dst, a), b, weir_table_blob(src, b));
}

uint64_t weir_table_merge(const struct weir_query *q, struct weir_table *dst,
			  const struct weir_table *src)
{
	uint64_t lost = 0;

	for (uint32_t i = 0; i < src->n_used; i++) {
		struct weir_key k = {{0}};
		memcpy(k.w, weir_table_key(src, i), (size_t)src->key_words * 8);
		uint64_t *a = weir_table_upsert(dst, &k, weir_key_hash(&k, src->key_words));
		if (!a) {
			lost++;
			a = weir_table_other(dst);
		}
		merge_entry(q, dst, a, src, weir_table_aggs(src, i));
	}
	if (src->has_other)
		merge_entry(q, dst, weir_table_other(dst), src, src->other + src->key_words);
	dst->overflow += src->overflow + lost;
	return lost;
}

/* ---- window set ------------------------------------------------------------ */

static void pane_free(struct weir_window_set *s, unsigned qi, struct pane *p);
static uint64_t min_sealed_wm(const struct weir_window_set *s);

/*
 * Capacity >= every shard there can be, plus one barrier mark per worker, so
 * a worker's enqueue never fails. Shards held back during a barrier fit in
 * as many.
 */
static int create_sealed_ring(struct weir_window_set *s, char *err, size_t errlen)
{
	static unsigned instance;
	char name[RTE_RING_NAMESIZE];
	unsigned cap = s->n_workers * (WEIR_MAX_QUERIES * WEIR_WINDOW_SHARDS + 1);

	s->instance = __atomic_fetch_add(&instance, 1, __ATOMIC_RELAXED);
	snprintf(name, sizeof(name), "wsealed%u", s->instance);
	s->sealed = rte_ring_create(name, rte_align32pow2(cap + 1), SOCKET_ID_ANY, RING_F_SC_DEQ);
	s->marks = calloc(s->n_workers, sizeof(*s->marks));
	s->marked = calloc(s->n_workers, sizeof(*s->marked));
	s->held = calloc(cap, sizeof(*s->held));
	s->held_cap = cap;
	if (s->sealed && s->marks && s->marked && s->held)
		return 0;
	snprintf(err, errlen, "cannot create the window ring: %s",
		 s->sealed ? "out of memory" : rte_strerror(rte_errno));
	return -1;
}

/* The slot's free-shard rings and its shards, for every worker. */
static int create_slot_shards(struct weir_window_set *s, unsigned qi, char *err, size_t errlen)
{
	const struct weir_query *q = &s->q[qi];
	size_t sz = RTE_ALIGN(weir_table_size(q, q->conf.max_keys), 64);
	char name[RTE_RING_NAMESIZE];

	for (unsigned w = 0; w < s->n_workers; w++) {
		snprintf(name, sizeof(name), "wfree%u_%u", s->instance, s->ring_serial++);
		s->workers[w].q[qi].free = rte_ring_create(name, rte_align32pow2(WEIR_WINDOW_SHARDS + 1),
							   SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!s->workers[w].q[qi].free) {
			snprintf(err, errlen, "cannot create window rings: %s", rte_strerror(rte_errno));
			return -1;
		}
	}
	s->shard_mem[qi] = rte_zmalloc("weir_shards", sz * WEIR_WINDOW_SHARDS * s->n_workers, 64);
	if (!s->shard_mem[qi]) {
		snprintf(err, errlen,
			 "cannot allocate %zu MiB of window shards for query %s (lower max_keys or give "
			 "the EAL more memory)", (sz * WEIR_WINDOW_SHARDS * s->n_workers) >> 20,
			 q->conf.name);
		return -1;
	}
	uint8_t *p = s->shard_mem[qi];
	for (unsigned w = 0; w < s->n_workers; w++)
		for (unsigned k = 0; k < WEIR_WINDOW_SHARDS; k++, p += sz) {
			struct weir_table *t = weir_table_init(p, q, q->conf.max_keys);
			t->worker = w;
			rte_ring_enqueue(s->workers[w].q[qi].free, t);
		}
	return 0;
}

static void free_slot_state(struct weir_window_set *s, unsigned qi)
{
	struct merger_query *m = &s->mq[qi];

	while (m->panes) {
		struct pane *p = m->panes;
		m->panes = p->next;
		pane_free(s, qi, p);
	}
	free(m->sessions);
	while (m->n_spare)
		free(m->spare[--m->n_spare]);
	memset(m, 0, sizeof(*m));
	for (unsigned w = 0; s->workers && w < s->n_workers; w++) {
		struct query_shards *qs = &s->workers[w].q[qi];
		rte_ring_free(qs->free);
		memset(qs, 0, sizeof(*qs));
	}
	rte_free(s->shard_mem[qi]);
	s->shard_mem[qi] = NULL;
	s->live[qi] = false;
}

void weir_window_view_set(struct weir_window_view *v, const struct weir_window_set *s, unsigned qi,
			  uint64_t from, uint64_t until)
{
	v->active |= 1u << qi;
	v->from[qi] = from;
	v->until[qi] = until;
	v->fields_used |= s->q[qi].fields_used;
}

void weir_window_view_drop(struct weir_window_view *v, const struct weir_window_set *s, unsigned qi)
{
	v->active &= ~(1u << qi);
	v->fields_used = 0;
	for (uint32_t a = v->active; a; a &= a - 1)
		v->fields_used |= s->q[__builtin_ctz(a)].fields_used;
}

int weir_window_set_add(struct weir_window_set *s, const struct weir_query_conf *c, unsigned *slot,
			char *err, size_t errlen)
{
	unsigned qi = 0;

	while (qi < WEIR_MAX_QUERIES && s->live[qi])
		qi++;
	if (qi == WEIR_MAX_QUERIES) {
		snprintf(err, errlen, "%u queries already (the most there can be)", WEIR_MAX_QUERIES);
		return -1;
	}
	if (weir_query_compile(&s->q[qi], c, qi, err, errlen) < 0)
		return -1;
	uint64_t mk = (uint64_t)c->max_keys * s->n_workers;
	s->merged_max_keys[qi] = mk > (1u << 24) ? (1u << 24) : (uint32_t)mk;
	s->live[qi] = true;
	if (create_slot_shards(s, qi, err, errlen) < 0) {
		free_slot_state(s, qi);
		return -1;
	}
	if (qi >= s->n_queries)
		s->n_queries = qi + 1;
	*slot = qi;
	return 0;
}

/* The flow combiner's table layout: 6 key words; packets, bytes, ip_bytes, payload, ~first, last. */
static void combiner_layout(struct weir_query *q)
{
	memset(q, 0, sizeof(*q));
	q->key_words = FLOW_KEY_WORDS;
	q->agg_words = 6;
}

size_t weir_window_combiner_memory(uint32_t flows)
{
	struct weir_query q;

	if (!flows)
		return 0;
	combiner_layout(&q);
	return 2 * (weir_table_size(&q, flows) + RTE_CACHE_LINE_SIZE);
}

/* A flow combiner table, from DPDK memory as shards are: hugepages, no page faults later. */
static struct weir_table *combiner_table_new(const struct combiner *cb, uint32_t flows)
{
	void *mem = rte_zmalloc("weir_combiner", weir_table_size(&cb->layout, flows), RTE_CACHE_LINE_SIZE);

	return mem ? weir_table_init(mem, &cb->layout, flows) : NULL;
}

struct weir_window_set *weir_window_set_create(const struct weir_config *cfg, unsigned n_workers,
					       char *err, size_t errlen)
{
	struct weir_window_set *s = calloc(1, sizeof(*s));
	unsigned qi;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->n_workers = n_workers;
	s->workers = rte_zmalloc("weir_window_workers", sizeof(*s->workers) * n_workers,
				 RTE_CACHE_LINE_SIZE);
	if (!s->workers) {
		snprintf(err, errlen, "cannot allocate window workers");
		goto fail;
	}
	s->combine_flows = cfg->combine_flows;
	s->combine_min_queries = cfg->combine_min_queries;
	for (unsigned w = 0; w < n_workers; w++) {
		struct combiner *cb = &s->workers[w].cb;
		s->workers[w].set = s;
		s->workers[w].id = w;
		s->workers[w].view = &s->base;
		cb->cur.start = cb->drain.start = NO_PANE;
		if (!s->combine_flows)
			continue;
		combiner_layout(&cb->layout);
		cb->cur.t = combiner_table_new(cb, s->combine_flows);
		cb->spare = combiner_table_new(cb, s->combine_flows);
		if (!cb->cur.t || !cb->spare) {
			snprintf(err, errlen, "cannot allocate the flow combiner (combine_flows: %u)",
				 s->combine_flows);
			goto fail;
		}
	}
	if (create_sealed_ring(s, err, errlen) < 0)
		goto fail;
	for (unsigned i = 0; i < cfg->n_queries; i++) {
		if (weir_window_set_add(s, &cfg->queries[i], &qi, err, errlen) < 0)
			goto fail;
		weir_window_view_set(&s->base, s, qi, 0, UINT64_MAX);
	}
	return s;
fail:
	weir_window_set_free(s);
	return NULL;
}

struct weir_table *weir_merged_get(struct weir_window_set *s, unsigned qi)
{
	struct merger_query *m = &s->mq[qi];

	if (m->n_spare)
		return m->spare[--m->n_spare];
	return weir_table_new(&s->q[qi], s->merged_max_keys[qi]);
}

static void merged_put(struct weir_window_set *s, unsigned qi, struct weir_table *t)
{
	struct merger_query *m = &s->mq[qi];

	if (!t)
		return;
	if (m->n_spare == MERGER_SPARES) {
		free(t);
		return;
	}
	weir_table_reset(t);
	m->spare[m->n_spare++] = t;
}

static void pane_free(struct weir_window_set *s, unsigned qi, struct pane *p)
{
	merged_put(s, qi, p->t);
	free(p);
}

void weir_window_set_free(struct weir_window_set *s)
{
	if (!s)
		return;
	for (unsigned qi = 0; qi < s->n_queries; qi++)
		free_slot_state(s, qi);
	rte_ring_free(s->sealed);
	for (unsigned w = 0; s->workers && w < s->n_workers; w++)
	{
		rte_free(s->workers[w].cb.cur.t);
		rte_free(s->workers[w].cb.drain.t);
		rte_free(s->workers[w].cb.spare);
	}
	rte_free(s->workers);
	free(s->marks);
	free(s->marked);
	free(s->held);
	free(s);
}

bool weir_window_set_live(const struct weir_window_set *s, unsigned qi)
{
	return qi < WEIR_MAX_QUERIES && s->live[qi];
}

const struct weir_window_view *weir_window_set_base_view(const struct weir_window_set *s)
{
	return &s->base;
}

/*
 * A retiring query (one whose views end it at `until`) is done once every
 * worker's watermark is past the last pane it may still count (its late
 * data included), the merger has emitted all it holds, and every shard is
 * back on its free ring.
 */
bool weir_window_set_drained(struct weir_window_set *s, unsigned qi, uint64_t until)
{
	const struct weir_query *q = &s->q[qi];
	const struct merger_query *m = &s->mq[qi];
	uint64_t tail = q->conf.lateness_ns + q->pane_ns +
			(q->conf.window == WEIR_WINDOW_SESSION ? q->conf.gap_ns : 0);

	if (until > UINT64_MAX - tail || min_sealed_wm(s) < until + tail || m->panes ||
	    (m->sessions && m->sessions->n_used))
		return false;
	for (unsigned w = 0; w < s->n_workers; w++)
		if (__atomic_load_n(&s->workers[w].q[qi].n_open, __ATOMIC_RELAXED) ||
		    rte_ring_count(s->workers[w].q[qi].free) != WEIR_WINDOW_SHARDS)
			return false;
	return true;
}

void weir_window_set_release(struct weir_window_set *s, unsigned qi)
{
	free_slot_state(s, qi);
	weir_window_view_drop(&s->base, s, qi);
}

/* The flow combiner, below with the data path's updates. */
static void combiner_flush(struct weir_window_worker *w);
static void combiner_finish_drain(struct weir_window_worker *w);
static inline void combiner_check_view(struct weir_window_worker *w,
				       const struct weir_window_view *v);

void weir_window_worker_set_view(struct weir_window_worker *w, const struct weir_window_view *v)
{
	w->view = v ? v : &w->set->base;
	combiner_check_view(w, w->view);
}

uint64_t weir_window_next_boundary(const struct weir_query *q, uint64_t t)
{
	if (q->conf.window == WEIR_WINDOW_SESSION)
		return t + 1;
	return (t / q->slide_ns + 1) * q->slide_ns;
}

unsigned weir_window_set_n_queries(const struct weir_window_set *s)
{
	return s->n_queries;
}

const struct weir_query *weir_window_set_query(const struct weir_window_set *s, unsigned i)
{
	return &s->q[i];
}

struct weir_window_worker *weir_window_worker_get(struct weir_window_set *s, unsigned worker)
{
	return &s->workers[worker];
}

/* ---- worker side (data path) ----------------------------------------------- */


static void seal(struct weir_window_worker *w, struct weir_table *t)
{
	bool late = t->late; /* once enqueued the shard is the merger's: it resets it */

	/* Cannot fail: the ring holds every shard there is. */
	rte_ring_enqueue(w->set->sealed, t);
	if (late)
		w->n_late--;
}

static void publish_wm(struct weir_window_worker *w)
{
	__atomic_store_n(&w->sealed_wm, w->wm, __ATOMIC_RELEASE);
}

/*
 * Emit every: once the watermark passes a boundary, every open pane is
 * shipped as it is (a delta; counting goes on in a fresh shard), so that
 * the merger holds everything up to the boundary when all workers pass it.
 */
static bool partial_due(struct query_shards *qs, const struct weir_query *q, uint64_t wm)
{
	uint64_t every = q->conf.emit_every_ns;

	if (!every || wm == UINT64_MAX)
		return false;
	if (!qs->next_partial)
		qs->next_partial = (wm / every + 1) * every;
	if (wm < qs->next_partial)
		return false;
	qs->next_partial = (wm / every + 1) * every;
	return true;
}

void weir_window_advance(struct weir_window_worker *w, uint64_t wm)
{
	struct weir_window_set *s = w->set;
	bool moved = wm > w->wm;
	uint32_t active = w->view->active;
	/* only slots of this view or the last one can hold open shards: others may be changing */
	uint32_t todo = active | w->seen_active;

	if (!moved && !w->n_late && active == w->seen_active)
		return;
	/* the flows' sums go in before their panes can be sealed */
	if (moved && w->cb.drain.t && wm >= w->cb.drain.start + w->cb.pane_ns)
		combiner_finish_drain(w);
	if (moved && w->cb.cur.start != NO_PANE && wm >= w->cb.cur.start + w->cb.pane_ns) {
		combiner_flush(w);
		w->cb.cur.start = NO_PANE;
	}
	w->seen_active = active;
	if (moved)
		w->wm = wm;
	wm = w->wm;
	for (; todo; todo &= todo - 1) {
		unsigned qi = (unsigned)__builtin_ctz(todo);
		struct query_shards *qs = &w->q[qi];
		/* a query no longer in the view hands everything over */
		bool gone = !(active & (1u << qi));
		if (gone && !qs->n_open)
			continue;
		uint64_t pane = s->q[qi].pane_ns;
		bool partial = !gone && moved && partial_due(qs, &s->q[qi], wm);
		unsigned keep = 0;
		for (unsigned i = 0; i < qs->n_open; i++) {
			struct weir_table *t = qs->open[i];
			if (gone || wm == UINT64_MAX || t->window_start + pane <= wm || t->late || partial)
				seal(w, t);
			else
				qs->open[keep++] = t;
		}
		qs->n_open = keep;
	}
	publish_wm(w);
}

void weir_window_barrier(struct weir_window_worker *w, uint64_t epoch)
{
	struct weir_window_set *s = w->set;
	struct weir_window_mark *mk = &s->marks[w->id];

	combiner_flush(w);
	for (uint32_t todo = w->view->active | w->seen_active; todo; todo &= todo - 1) {
		struct query_shards *qs = &w->q[__builtin_ctz(todo)];
		for (unsigned i = 0; i < qs->n_open; i++)
			seal(w, qs->open[i]);
		qs->n_open = 0;
	}
	mk->epoch = epoch;
	mk->wm = w->wm;
	mk->max_ts = w->max_ts;
	for (unsigned qi = 0; qi < s->n_queries; qi++) {
		mk->next_partial[qi] = w->q[qi].next_partial;
		memcpy(mk->qdrop[qi], w->q[qi].qdrop, sizeof(mk->qdrop[qi]));
	}
	rte_ring_enqueue(s->sealed, mk);
}

/* Insert t into the ascending open list. */
static void open_insert(struct query_shards *qs, struct weir_table *t)
{
	unsigned i = qs->n_open++;

	while (i > 0 && qs->open[i - 1]->window_start > t->window_start) {
		qs->open[i] = qs->open[i - 1];
		i--;
	}
	qs->open[i] = t;
}

/* The open shard of the pane starting at `start`, or NULL. */
static struct weir_table *open_shard(const struct query_shards *qs, uint64_t start)
{
	for (unsigned i = qs->n_open; i-- > 0;)
		if (qs->open[i]->window_start == start)
			return qs->open[i];
	return NULL;
}

/* Is a pane starting at `start` still open, late but allowed, or too late? */
enum pane_state { PANE_OPEN, PANE_LATE_OK, PANE_TOO_LATE };

static inline enum pane_state pane_state(const struct weir_window_worker *w,
					 const struct weir_query *q, uint64_t start)
{
	uint64_t end = start + q->pane_ns;

	if (end > w->wm)
		return PANE_OPEN;
	return end + q->conf.lateness_ns > w->wm && w->wm != UINT64_MAX ? PANE_LATE_OK
									: PANE_TOO_LATE;
}

/*
 * Open a shard for the pane starting at `start`; NULL when that pane has
 * become too late meanwhile. Shards in flight to the merger come back
 * soon, so we wait for one (late deltas are shipped first: they come back
 * too). When every shard of the query is open (events spread over more
 * panes than there are shards), the oldest one is shipped as it is: the
 * merger adds it into its pane, and a later packet of that pane opens a
 * fresh shard. The watermark stays where it is, so no other query (nor
 * this one) sees packets turn late.
 */
static struct weir_table *open_new_shard(struct weir_window_worker *w, unsigned qi, uint64_t start)
{
	struct query_shards *qs = &w->q[qi];
	const struct weir_query *q = &w->set->q[qi];
	struct weir_table *t;

	while (rte_ring_dequeue(qs->free, (void **)&t) != 0) {
		if (w->n_late) {
			weir_window_advance(w, w->wm);
		} else if (qs->n_open == WEIR_WINDOW_SHARDS) {
			seal(w, qs->open[0]);
			memmove(&qs->open[0], &qs->open[1], --qs->n_open * sizeof(qs->open[0]));
		} else {
			/* The merger is behind; on shared cores let it run. */
			sched_yield();
		}
	}
	t->window_start = start;
	t->late = pane_state(w, q, start) == PANE_LATE_OK;
	if (t->late)
		w->n_late++;
	open_insert(qs, t);
	return t;
}

/*
 * What a packet adds to an entry: packets, bytes, ip_bytes, payload bytes
 * (v, indexed by enum weir_word_src), and its time as first and last. The
 * flow combiner's flush adds a flow's sums the same way: then v[0] packets
 * share the packet's fields.
 */
struct pkt_sums {
	uint64_t v[4];
	uint64_t first, last;
};

_Static_assert(WEIR_WSRC_ONE == 0 && WEIR_WSRC_LEN == 1 && WEIR_WSRC_IP_BYTES == 2 &&
	       WEIR_WSRC_PAYLOAD == 3, "struct pkt_sums indexes v by these");

/* The sums of packet i: its own, or (fs) the flow sums it stands for. */
static __rte_always_inline struct pkt_sums sums_of(const struct weir_pkt *p, uint64_t ts,
						   const struct flow_sums *fs, unsigned i)
{
	if (fs)
		return (struct pkt_sums){{fs->packets[i], fs->bytes[i], fs->ip_bytes[i],
					  fs->payload[i]}, fs->first[i], fs->last[i]};
	return (struct pkt_sums){{1, p->pkt_len, p->ip_bytes, p->payload_len}, ts, ts};
}

/* The value an inline-word op adds or compares. false: the packet lacks its field. */
static inline bool word_src(const struct weir_word_op *op, const struct pkt_sums *ps,
			    const struct weir_burst_fields *bf, unsigned i, uint64_t *v)
{
	switch ((enum weir_word_src)op->src) {
	case WEIR_WSRC_ONE: case WEIR_WSRC_LEN: case WEIR_WSRC_IP_BYTES: case WEIR_WSRC_PAYLOAD:
		*v = ps->v[op->src];
		return true;
	case WEIR_WSRC_TS: *v = op->op == WEIR_WOP_MIN ? ps->first : ps->last; return true;
	case WEIR_WSRC_FIELD: *v = bf->num[op->field][i]; return (bf->have[i] >> op->field) & 1;
	}
	return false;
}

/* The inline-word aggregates: one load, one add or max each, no call. */
static inline void apply_word_ops(uint64_t *a, const struct weir_query *q,
				  const struct weir_burst_fields *bf, unsigned i,
				  const struct pkt_sums *ps)
{
	if (likely(q->word_adds_only)) { /* packets, bytes, ip_bytes, payload_bytes */
		const uint64_t *v = ps->v;
		const struct weir_word_op *op = q->word_op;
		/* unrolled: a query has one to four of these, the loop's control cost as much */
		switch (q->n_word_ops) {
		case 4: a[op[3].word] += v[op[3].src]; /* fall through */
		case 3: a[op[2].word] += v[op[2].src]; /* fall through */
		case 2: a[op[1].word] += v[op[1].src]; /* fall through */
		case 1: a[op[0].word] += v[op[0].src]; /* fall through */
		case 0: return;
		default: break;
		}
		for (unsigned j = 0; j < q->n_word_ops; j++)
			a[op[j].word] += v[op[j].src];
		return;
	}
	uint64_t n = ps->v[0]; /* packets that share the field (1 but in a flush) */
	for (unsigned j = 0; j < q->n_word_ops; j++) {
		const struct weir_word_op *op = &q->word_op[j];
		uint64_t *w = a + op->word, v;
		if (unlikely(!word_src(op, ps, bf, i, &v)))
			continue; /* the packet lacks the field: it does not count here */
		if (op->src == WEIR_WSRC_FIELD)
			v *= op->op == WEIR_WOP_ADD || op->op == WEIR_WOP_AVG ? n : 1;
		switch ((enum weir_word_op_kind)op->op) {
		case WEIR_WOP_ADD: w[0] += v; break;
		case WEIR_WOP_MAX: w[0] = RTE_MAX(w[0], v); break;
		case WEIR_WOP_MIN: w[0] = RTE_MAX(w[0], ~v); break;
		case WEIR_WOP_MAXP1: w[0] = RTE_MAX(w[0], v + 1); break;
		case WEIR_WOP_AVG: w[0] += v; w[1] += n; break;
		}
	}
}

static inline void add_packet(struct weir_table *t, uint64_t *a, const struct weir_query *q,
			      const struct weir_pkt *p, const struct weir_burst_fields *bf,
			      const struct weir_burst_meta *m, unsigned i, const struct pkt_sums *ps)
{
	apply_word_ops(a, q, bf, i, ps);
	if (unlikely(q->n_slow)) {
		uint8_t *blob = weir_table_blob(t, a);
		for (unsigned j = 0; j < q->n_slow; j++)
			weir_agg_update_slot(q, q->slow_slot[j], a, blob, p, m, i, ps->v[0]);
	}
}

/* A packet whose key does not fit: into _other, so totals stay exact. */
static void add_overflow(struct query_shards *qs, struct weir_table *t, const struct weir_query *q,
			 const struct weir_pkt *p, const struct weir_burst_fields *bf,
			 const struct weir_burst_meta *m, unsigned i, const struct pkt_sums *ps)
{
	t->overflow += ps->v[0];
	qs->qdrop[WEIR_QDROP_OVERFLOW] += ps->v[0];
	add_packet(t, weir_table_other(t), q, p, bf, m, i, ps);
}

/* A query's work on one chunk of up to 64 packets of a burst (bit j: packet base + j). */
#define CHUNK 64
struct burst_state {
	struct weir_key keys[CHUNK];
	struct weir_table *tab[CHUNK];
	uint32_t hash[CHUNK];
};

/*
 * The data path is compiled once per key size: `words` (q->key_words) a
 * constant, so the key's zeroing, hash, compare and copy are unrolled.
 * WITH_KEY_WORDS calls fn(..., words) with the constant matching q.
 */
_Static_assert(WEIR_KEY_WORDS == 6, "WITH_KEY_WORDS has a case per key size");
#define WITH_KEY_WORDS(q, fn, ...)                                   \
	do {                                                         \
		switch ((q)->key_words) {                            \
		case 1: fn(__VA_ARGS__, 1); break;                   \
		case 2: fn(__VA_ARGS__, 2); break;                   \
		case 3: fn(__VA_ARGS__, 3); break;                   \
		case 4: fn(__VA_ARGS__, 4); break;                   \
		case 5: fn(__VA_ARGS__, 5); break;                   \
		default: fn(__VA_ARGS__, WEIR_KEY_WORDS); break;     \
		}                                                    \
	} while (0)

_Static_assert(offsetof(struct weir_pkt, dst_ip) == offsetof(struct weir_pkt, src_ip) + 16,
	       "ip_pair copies both addresses at once");

/*
 * The keys of packets base..base+n-1 from the burst's fields, field by field:
 * each loop runs over the packets with the field's key word, shift and mask
 * loaded once. Addresses are copied and masked to their prefix (a whole
 * src_ip, dst_ip pair in one copy, with the hidden ip_version byte), every
 * other field OR-ed into its key word. Packets the query does not key get
 * keys too (from zeroed fields), never used. The keys are read back in a
 * later pass, once these stores have retired.
 */
static __rte_always_inline void chunk_keys(const struct weir_query *q,
					   const struct weir_burst_fields *bf,
					   const struct weir_pkt *const *pkts, unsigned base,
					   unsigned n, struct weir_key *keys, unsigned words)
{
	/* the hidden ip_version byte: any query with an address has it */
	unsigned vw = (unsigned)q->ipver_off / 8, vshift = (unsigned)q->ipver_off % 8 * 8;

	for (unsigned j = 0; j < n; j++)
		for (unsigned w = 0; w < words; w++) /* only the words compared and stored */
			keys[j].w[w] = 0;
	if (q->ip_pair >= 0) {
		unsigned kw = (unsigned)q->ip_pair;
		for (unsigned j = 0; j < n; j++) {
			const struct weir_pkt *p = pkts[base + j];
			memcpy(&keys[j].w[kw], p->src_ip, 32);
			keys[j].w[vw] |= (uint64_t)p->ip_version << vshift;
		}
	} else {
		for (unsigned f = 0; f < q->n_key_ip; f++) {
			bool src = q->key_ip[f].field == WEIR_FIELD_SRC_IP;
			unsigned kw = q->key_ip[f].word;
			if (q->key_ip[f].masked) {
				const uint64_t *m4 = q->key_ip[f].mask4, *m6 = q->key_ip[f].mask6;
				for (unsigned j = 0; j < n; j++) {
					const struct weir_pkt *p = pkts[base + j];
					const uint64_t *mask = p->ip_version == 4 ? m4 : m6;
					uint64_t ip[2];
					memcpy(ip, src ? p->src_ip : p->dst_ip, 16);
					keys[j].w[kw] = ip[0] & mask[0];
					keys[j].w[kw + 1] = ip[1] & mask[1];
				}
			} else {
				for (unsigned j = 0; j < n; j++)
					memcpy(&keys[j].w[kw], src ? pkts[base + j]->src_ip
								      : pkts[base + j]->dst_ip, 16);
			}
		}
		if (q->ipver_off >= 0)
			for (unsigned j = 0; j < n; j++)
				keys[j].w[vw] |= (uint64_t)pkts[base + j]->ip_version << vshift;
	}
	for (unsigned f = 0; f < q->n_key_num; f++) {
		const uint64_t *v = &bf->num[q->key_num[f].field][base];
		unsigned kw = q->key_num[f].word, shift = q->key_num[f].shift;
		for (unsigned j = 0; j < n; j++)
			keys[j].w[kw] |= v[j] << shift;
	}
}

/*
 * Second half of a query's chunk: upsert the resolved packets (bits of
 * `todo`). fs: the packets stand for flows, with these sums (a flow
 * combiner's flush); NULL: each is one packet.
 */
static __rte_always_inline void upsert_chunk_kw(struct query_shards *qs,
						const struct weir_query *q, struct burst_state *b,
						const struct weir_burst_fields *bf,
						const struct weir_pkt *const *pkts,
						const struct weir_burst_meta *m, unsigned base,
						uint64_t todo, const struct flow_sums *fs,
						unsigned words)
{
	/* the plain form's words and masks in registers, not reloaded after each add */
	const bool plain = !fs && q->plain_adds;
	const unsigned w_one = q->src_word[WEIR_WSRC_ONE], w_len = q->src_word[WEIR_WSRC_LEN],
		       w_ipb = q->src_word[WEIR_WSRC_IP_BYTES], w_pay = q->src_word[WEIR_WSRC_PAYLOAD];
	const uint64_t m_one = q->src_mask[WEIR_WSRC_ONE], m_len = q->src_mask[WEIR_WSRC_LEN],
		       m_ipb = q->src_mask[WEIR_WSRC_IP_BYTES], m_pay = q->src_mask[WEIR_WSRC_PAYLOAD];

	for (; todo; todo &= todo - 1) {
		unsigned j = (unsigned)__builtin_ctzll(todo), i = base + j;
		uint64_t *a = table_upsert(b->tab[j], &b->keys[j], b->hash[j], words);
		if (plain && likely(a)) {
			const struct weir_pkt *p = pkts[i];
			a[w_one] += 1 & m_one;
			a[w_len] += p->pkt_len & m_len;
			a[w_ipb] += p->ip_bytes & m_ipb;
			a[w_pay] += p->payload_len & m_pay;
			continue;
		}
		struct pkt_sums ps = sums_of(pkts[i], m->ts[i], fs, i);
		if (unlikely(!a)) {
			add_overflow(qs, b->tab[j], q, pkts[i], bf, m, i, &ps);
			continue;
		}
		add_packet(b->tab[j], a, q, pkts[i], bf, m, i, &ps);
	}
}

/* Out of line: one copy per key size, not one per call site in each variant. */
static __rte_noinline void upsert_chunk(struct query_shards *qs, const struct weir_query *q,
					struct burst_state *b, const struct weir_burst_fields *bf,
					const struct weir_pkt *const *pkts,
					const struct weir_burst_meta *m, unsigned base, uint64_t todo)
{
	WITH_KEY_WORDS(q, upsert_chunk_kw, qs, q, b, bf, pkts, m, base, todo, NULL);
}

/* The same for a flush's flows: off the per-packet path, the sums read per flow. */
static __rte_noinline void upsert_flows(struct query_shards *qs, const struct weir_query *q,
					struct burst_state *b, const struct weir_burst_fields *bf,
					const struct weir_pkt *const *pkts,
					const struct weir_burst_meta *m, uint64_t todo,
					const struct flow_sums *fs)
{
	WITH_KEY_WORDS(q, upsert_chunk_kw, qs, q, b, bf, pkts, m, 0, todo, fs);
}

static __rte_always_inline void upsert_resolved(struct query_shards *qs,
						const struct weir_query *q, struct burst_state *b,
						const struct weir_burst_fields *bf,
						const struct weir_pkt *const *pkts,
						const struct weir_burst_meta *m, unsigned base,
						uint64_t todo, const struct flow_sums *fs)
{
	if (fs)
		upsert_flows(qs, q, b, bf, pkts, m, todo, fs);
	else
		upsert_chunk(qs, q, b, bf, pkts, m, base, todo);
}

/* The shard for a packet at ts, opening one if needed; NULL: too late. */
static inline struct weir_table *shard_for(struct weir_window_worker *w, unsigned qi, uint64_t ts,
					   bool *opened)
{
	const struct weir_query *q = &w->set->q[qi];
	struct query_shards *qs = &w->q[qi];
	uint64_t start = ts - ts % q->pane_ns;
	struct weir_table *t = open_shard(qs, start);

	*opened = false;
	if (t)
		return t;
	if (pane_state(w, q, start) == PANE_TOO_LATE)
		return NULL;
	*opened = true;
	return open_new_shard(w, qi, start);
}

static inline bool filtered_out(const struct weir_burst_meta *m, unsigned i, unsigned qi)
{
	return m->query_pass && !(m->query_pass[i] & (1u << qi));
}

static inline bool outside_life(const struct weir_window_view *v, unsigned qi, bool bounded,
				uint64_t ts)
{
	return bounded && (ts < v->from[qi] || ts >= v->until[qi]);
}

static inline uint64_t low_bits(unsigned n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* Bit j: have[j] holds every bit of need (j < n <= 64); 8 packets a step with AVX2. */
static inline uint64_t chunk_have_all(const uint32_t *have, uint32_t need, unsigned n)
{
	uint64_t bits = 0;
	unsigned j = 0;

#ifdef __AVX2__
	const __m256i nv = _mm256_set1_epi32((int)need);
	for (; j + 8 <= n; j += 8) {
		__m256i h = _mm256_loadu_si256((const __m256i *)(have + j));
		__m256i ok = _mm256_cmpeq_epi32(_mm256_and_si256(h, nv), nv);
		bits |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(ok)) << j;
	}
#endif
	for (; j < n; j++)
		bits |= (uint64_t)((have[j] & need) == need) << j;
	return bits;
}

/* Packets in the chunk's bits: their count, or (fs) the packets of those flows. */
static __rte_always_inline uint64_t packets_of(uint64_t bits, const struct flow_sums *fs)
{
	uint64_t sum = 0;

	if (!fs)
		return (uint64_t)__builtin_popcountll(bits);
	for (; bits; bits &= bits - 1)
		sum += fs->packets[__builtin_ctzll(bits)];
	return sum;
}

/*
 * The chunk's packets that query qi keys: within the query's life, past its
 * filter, with every group-by field. Counts those filtered and those without
 * a key. Each test is a loop of its own over the chunk, without branches.
 */
static __rte_always_inline uint64_t chunk_keyed(struct weir_window_worker *w, unsigned qi,
						bool bounded, const struct weir_burst_fields *bf,
						const struct weir_burst_meta *m, unsigned base,
						unsigned n, const struct flow_sums *fs)
{
	const struct weir_query *q = &w->set->q[qi];
	struct query_shards *qs = &w->q[qi];
	uint64_t live = low_bits(n), pass, keyed = 0;

	if (unlikely(bounded))
		for (unsigned j = 0; j < n; j++)
			if (outside_life(w->view, qi, true, m->ts[base + j]))
				live &= ~(1ull << j); /* before the query started or after it ended */
	pass = live;
	if (m->query_pass) {
		uint64_t ok = 0;
		for (unsigned j = 0; j < n; j++)
			ok |= (uint64_t)((m->query_pass[base + j] >> qi) & 1) << j;
		pass &= ok;
		if (!fs) /* a flush's flows were counted as their packets were summed */
			qs->qdrop[WEIR_QDROP_FILTERED] += packets_of(live & ~pass, fs);
	}
	keyed = chunk_have_all(&bf->have[base], q->need, n);
	keyed &= pass;
	if (!fs)
		qs->qdrop[WEIR_QDROP_NO_KEY] += packets_of(pass & ~keyed, fs);
	return keyed;
}

/* The slot of hash h and its entry into the cache, ahead of the upsert. */
static __rte_always_inline void prefetch_slot(const struct weir_table *t, uint32_t h)
{
	uint32_t s = h & t->mask;

	if (!t->tagless)
		rte_prefetch0(&t->hashes[s]);
	rte_prefetch0(&t->entries[(size_t)s * t->stride]);
	/* an entry over 8 words may straddle two lines: fetch its last word's too */
	if (t->stride > 8)
		rte_prefetch0(&t->entries[(size_t)s * t->stride + t->stride - 1]);
}

/* Packet j's hash into the chunk's state, and its slot and entry prefetched. */
static __rte_always_inline void resolve(struct burst_state *b, unsigned j, struct weir_table *t,
					 unsigned words)
{
	uint32_t h = weir_key_hash(&b->keys[j], words);

	b->tab[j] = t;
	b->hash[j] = h;
	prefetch_slot(t, h);
}

/*
 * One query over a chunk: keys, field by field; then panes and hashes
 * (prefetching the slot and its entry); then the upserts. A chunk nearly
 * always falls in one pane (lo..hi: its packets' times): then the shard is
 * found once. Otherwise packet by packet; opening a shard may seal others,
 * so packets already resolved are upserted before that happens.
 */
static __rte_always_inline void update_chunk_kw(struct weir_window_worker *w, unsigned qi,
						 bool bounded, const struct weir_burst_fields *bf,
						 const struct weir_pkt *const *pkts,
						 unsigned base, unsigned n,
						 const struct weir_burst_meta *m, uint64_t lo,
						 uint64_t hi, const struct flow_sums *fs,
						 unsigned words)
{
	const struct weir_query *q = &w->set->q[qi];
	struct query_shards *qs = &w->q[qi];
	uint64_t pane = q->pane_ns, start = lo - lo % pane;
	const uint64_t *ts = m->ts;
	struct burst_state b;
	struct weir_table *cur = NULL; /* shard of the previous packet's pane */
	uint64_t todo = chunk_keyed(w, qi, bounded, bf, m, base, n, fs), resolved = 0;

	if (!todo)
		return;
	chunk_keys(q, bf, pkts, base, n, b.keys, words);
	if (likely(hi - start < pane)) {
		/* nothing is resolved yet: opening a shard may seal others */
		bool opened;
		cur = shard_for(w, qi, lo, &opened);
		if (unlikely(!cur)) {
			qs->qdrop[WEIR_QDROP_LATE] += packets_of(todo, fs);
			return;
		}
		for (uint64_t t = todo; t; t &= t - 1)
			resolve(&b, (unsigned)__builtin_ctzll(t), cur, words);
		upsert_resolved(qs, q, &b, bf, pkts, m, base, todo, fs);
		return;
	}
	for (; todo; todo &= todo - 1) {
		unsigned j = (unsigned)__builtin_ctzll(todo), i = base + j;
		/* the division and the shard search only when a packet leaves the
		 * previous one's pane (unsigned: a ts before it wraps to a huge difference) */
		if (!cur || ts[i] - cur->window_start >= pane) {
			uint64_t pstart = ts[i] - ts[i] % pane;
			cur = open_shard(qs, pstart);
			if (!cur) {
				if (pane_state(w, q, pstart) == PANE_TOO_LATE) {
					qs->qdrop[WEIR_QDROP_LATE] += packets_of(1ull << j, fs);
					continue;
				}
				upsert_resolved(qs, q, &b, bf, pkts, m, base, resolved, fs);
				resolved = 0;
				/* may seal shards: nothing resolved before i refers to them now */
				cur = open_new_shard(w, qi, pstart);
				if (!cur) {
					qs->qdrop[WEIR_QDROP_LATE] += packets_of(1ull << j, fs);
					continue;
				}
			}
		}
		resolve(&b, j, cur, words);
		resolved |= 1ull << j;
	}
	upsert_resolved(qs, q, &b, bf, pkts, m, base, resolved, fs);
}

static void update_chunk(struct weir_window_worker *w, unsigned qi, bool bounded,
			 const struct weir_pkt *const *pkts, unsigned base, unsigned n,
			 const struct weir_burst_meta *m, uint64_t lo, uint64_t hi)
{
	WITH_KEY_WORDS(&w->set->q[qi], update_chunk_kw, w, qi, bounded, &w->bf, pkts, base, n, m,
		       lo, hi, NULL);
}

/* A flush's flows (at most a chunk) into query qi: its sums per flow. */
static void update_flows(struct weir_window_worker *w, unsigned qi,
			 const struct weir_burst_fields *bf, const struct weir_pkt *const *pkts,
			 unsigned n, const struct weir_burst_meta *m, uint64_t lo, uint64_t hi,
			 const struct flow_sums *fs)
{
	WITH_KEY_WORDS(&w->set->q[qi], update_chunk_kw, w, qi, false, bf, pkts, 0, n, m, lo, hi,
		       fs);
}

/*
 * A `rule`-keyed query: each packet counts once per rule it matched, so
 * keys are built per (packet, rule) and upserted at once; bursts carry few
 * matches, so this path keeps it simple rather than batched.
 */
static void update_query_rules(struct weir_window_worker *w, unsigned qi, bool bounded,
			       const struct weir_pkt *const *pkts, unsigned n,
			       const struct weir_burst_meta *m)
{
	const struct weir_query *q = &w->set->q[qi];
	struct query_shards *qs = &w->q[qi];
	const struct weir_burst_rules *rules = m->rules;

	for (unsigned i = 0; i < n; i++) {
		struct weir_key k;
		bool opened;
		unsigned lo = rules ? rules->off[i] : 0, hi = rules ? rules->off[i + 1] : 0;
		if (outside_life(w->view, qi, bounded, m->ts[i]))
			continue;
		if (filtered_out(m, i, qi)) {
			qs->qdrop[WEIR_QDROP_FILTERED]++;
			continue;
		}
		if (lo == hi || (w->bf.have[i] & q->need) != q->need) {
			qs->qdrop[WEIR_QDROP_NO_KEY]++;
			continue;
		}
		chunk_keys(q, &w->bf, pkts, i, 1, &k, WEIR_KEY_WORDS);
		struct weir_table *t = shard_for(w, qi, m->ts[i], &opened);
		if (!t) {
			qs->qdrop[WEIR_QDROP_LATE]++;
			continue;
		}
		for (unsigned r = lo; r < hi; r++) {
			memcpy((uint8_t *)k.w + q->rule_off, &rules->ids[r], 4);
			uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, q->key_words));
			struct pkt_sums ps = sums_of(pkts[i], m->ts[i], NULL, i);
			if (unlikely(!a))
				add_overflow(qs, t, q, pkts[i], &w->bf, m, i, &ps);
			else
				add_packet(t, a, q, pkts[i], &w->bf, m, i, &ps);
		}
	}
}

/* ---- the flow combiner (data path) ------------------------------------------ */

/*
 * With many queries a packet costs one table upsert per query, and tables of
 * thousands of keys answer from L3 or memory. Most queries key on, and
 * count, what every packet of a unidirectional flow shares (addresses,
 * ports, protocol, VLAN): for those (weir_query.combinable) the worker first
 * sums each flow's packets over a pane in one table of its own (packets,
 * bytes, ip_bytes, payload bytes, first and last time), then adds each
 * flow's sums into every such query once: a flush. This is the flow cache
 * of IPFIX exporters and pmacct, or Flink's local-global aggregation.
 *
 * The results are those of counting packet by packet: sums add, first/last
 * and min/max keep, distinct sees the same items; topk's Space-Saving gets
 * each flow as one weighted add, in another order (the same error bound).
 * A filtered query's pass bit is part of the flow's key, so a flow's
 * packets that pass and those that do not are summed apart.
 *
 * The sums go in before any state they belong in leaves the worker: when a
 * chunk opens a later pane, the table drains a step per burst while a
 * second one sums the new pane; the rest goes at once when the watermark
 * reaches the pane's end, at a checkpoint barrier, when the query set
 * changes, and when the table is full. Packets of an earlier pane (out of order) and chunks that
 * span two panes go to the queries directly; both ways add into the same
 * shards. The combiner runs when at least combine_min_queries queries can
 * use it (one query would pay the flow table on top of its own).
 */
_Static_assert(CHUNK == WEIR_COMBINE_CHUNK, "a flush hands over a chunk of flows at a time");

/* The flow key: addresses, ports, protocols, version, VLAN, the fields' presence, pass bits. */
static __rte_always_inline void flow_key(struct weir_key *k, const struct weir_pkt *p, uint32_t pass)
{
	memcpy(&k->w[0], p->src_ip, 16);
	memcpy(&k->w[2], p->dst_ip, 16);
	k->w[4] = p->src_port | (uint64_t)p->dst_port << 16 | (uint64_t)p->proto << 32 |
		  (uint64_t)p->l4_proto << 40 | (uint64_t)p->ip_version << 48 |
		  (uint64_t)((p->flags & WEIR_PKT_F_L4) != 0) << 56 | (uint64_t)(p->n_vlan != 0) << 57;
	k->w[5] = p->vlan | (uint64_t)pass << 32;
}

/* A packet with a flow key's fields: what the queries' keys and field aggregates read. */
static void flow_pkt(struct weir_pkt *p, const uint64_t *k)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->src_ip, &k[0], 16);
	memcpy(p->dst_ip, &k[2], 16);
	p->src_port = (uint16_t)k[4];
	p->dst_port = (uint16_t)(k[4] >> 16);
	p->proto = (uint8_t)(k[4] >> 32);
	p->l4_proto = (uint8_t)(k[4] >> 40);
	p->ip_version = (uint8_t)(k[4] >> 48);
	p->flags = (k[4] >> 56) & 1 ? WEIR_PKT_F_L4 : 0;
	p->n_vlan = (k[4] >> 57) & 1;
	p->vlan = (uint16_t)k[5];
}

/* Flows from..to-1 of ct (in insertion order) into ct's queries, a chunk of flows at a time. */
static void hand_over(struct weir_window_worker *w, const struct combiner_table *ct, uint32_t from,
		      uint32_t to)
{
	struct combiner *cb = &w->cb;
	const struct weir_table *t = ct->t;
	uint32_t fields = 0;

	cb->flushing = true; /* opening a shard may advance the worker: no hand-over within */
	for (uint32_t left = ct->qset; left; left &= left - 1)
		fields |= w->set->q[__builtin_ctz(left)].fields_used;
	for (uint32_t base = from; base < to; base += CHUNK) {
		unsigned n = RTE_MIN(to - base, (uint32_t)CHUNK);
		uint64_t lo = UINT64_MAX, hi = 0;
		for (unsigned j = 0; j < n; j++) {
			const uint64_t *k = &t->entries[(size_t)t->used[base + j] * t->stride];
			const uint64_t *a = k + FLOW_KEY_WORDS;
			flow_pkt(&cb->pkt[j], k);
			cb->pktp[j] = &cb->pkt[j];
			cb->pass[j] = (uint32_t)(k[5] >> 32) | ~ct->filtered;
			cb->sums.packets[j] = a[0];
			cb->sums.bytes[j] = a[1];
			cb->sums.ip_bytes[j] = a[2];
			cb->sums.payload[j] = a[3];
			cb->sums.first[j] = cb->ts[j] = ~a[4];
			cb->sums.last[j] = a[5];
			lo = RTE_MIN(lo, cb->ts[j]);
			hi = RTE_MAX(hi, cb->ts[j]);
		}
		struct weir_burst_meta m = {.ts = cb->ts, .query_pass = cb->pass};
		weir_burst_fields_fill(&cb->bf, fields, cb->pktp, &m, n);
		for (uint32_t left = ct->qset; left; left &= left - 1)
			update_flows(w, (unsigned)__builtin_ctz(left), &cb->bf, cb->pktp, n, &m, lo, hi,
				     &cb->sums);
	}
	cb->flushing = false;
}

/* A table handed over whole: counted, emptied. */
static void handed_over(struct combiner *cb, struct weir_table *t)
{
	STORE(cb->st.flows, cb->st.flows + t->n_used);
	STORE(cb->st.flushes, cb->st.flushes + 1);
	weir_table_reset(t);
}

/*
 * The previous pane's flows go to the queries a step (DRAIN_STEP flows)
 * per burst, so that no burst waits for thousands of hand-overs at a pane
 * boundary (a NIC's rx ring would overflow meanwhile); the rest at once
 * when the watermark reaches that pane's end, or the current table must go.
 */
#define DRAIN_STEP 32
static void combiner_drain_step(struct weir_window_worker *w)
{
	struct combiner *cb = &w->cb;
	struct weir_table *t = cb->drain.t;
	uint32_t to = RTE_MIN(cb->drained + DRAIN_STEP, t->n_used);

	hand_over(w, &cb->drain, cb->drained, to);
	cb->drained = to;
	if (to < t->n_used)
		return;
	handed_over(cb, t);
	cb->spare = t;
	cb->drain.t = NULL;
}

static void combiner_finish_drain(struct weir_window_worker *w)
{
	struct combiner *cb = &w->cb;

	if (!cb->drain.t || cb->flushing)
		return;
	hand_over(w, &cb->drain, cb->drained, cb->drain.t->n_used);
	handed_over(cb, cb->drain.t);
	cb->spare = cb->drain.t;
	cb->drain.t = NULL;
}

/* Everything to the queries now: the draining pane, then the current one (its pane stays). */
static void combiner_flush(struct weir_window_worker *w)
{
	struct combiner *cb = &w->cb;

	if (cb->flushing)
		return;
	combiner_finish_drain(w);
	if (!cb->cur.t || !cb->cur.t->n_used)
		return;
	hand_over(w, &cb->cur, 0, cb->cur.t->n_used);
	handed_over(cb, cb->cur.t);
}

/*
 * The current table starts draining (what drained before goes at once), the
 * spare one takes over the pane: a later pane begins, or the table is full.
 */
static void combiner_rotate(struct weir_window_worker *w)
{
	struct combiner *cb = &w->cb;

	combiner_finish_drain(w);
	if (!cb->cur.t->n_used)
		return;
	cb->drain = cb->cur;
	cb->drained = 0;
	cb->cur.t = cb->spare;
	cb->spare = NULL;
}

/* The queries of view v the combiner can serve, and their panes' gcd; after a flush. */
static void combiner_view(struct weir_window_worker *w, const struct weir_window_view *v)
{
	struct combiner *cb = &w->cb;
	uint32_t cand = 0;
	uint64_t pane = 0;

	combiner_flush(w);
	cb->seen = *v;
	cb->cur.start = NO_PANE;
	cb->cur.qset = 0;
	for (uint32_t left = cb->cur.t ? v->active : 0; left; left &= left - 1) {
		unsigned qi = (unsigned)__builtin_ctz(left);
		if (w->set->q[qi].combinable) {
			cand |= 1u << qi;
			pane = weir_gcd64(pane, w->set->q[qi].pane_ns);
		}
	}
	cb->cand = (unsigned)__builtin_popcount(cand) >= w->set->combine_min_queries ? cand : 0;
	cb->pane_ns = pane;
}

/*
 * Views are compared by content: a freed generation's address may come
 * back. Once per view set (weir_window_worker_set_view, every burst in the
 * pipeline); a burst whose view was set and checked is not checked again.
 */
static inline void combiner_check_view(struct weir_window_worker *w, const struct weir_window_view *v)
{
	if (unlikely(memcmp(v, &w->cb.seen, sizeof(*v)) != 0))
		combiner_view(w, v);
	w->cb.checked = v;
}

/* Start summing the pane at `start`: for the queries live over all of it, if still open. */
static void combiner_begin(struct weir_window_worker *w, uint64_t start)
{
	struct combiner *cb = &w->cb;
	const struct weir_window_view *v = w->view;
	uint32_t qset = 0;

	cb->cur.start = start;
	cb->cur.filtered = 0;
	if (start + cb->pane_ns > w->wm) /* else its panes are sealed: late packets go direct */
		for (uint32_t left = cb->cand; left; left &= left - 1) {
			unsigned qi = (unsigned)__builtin_ctz(left);
			if (v->from[qi] <= start && v->until[qi] >= start + cb->pane_ns)
				qset |= 1u << qi;
		}
	if ((unsigned)__builtin_popcount(qset) < w->set->combine_min_queries)
		qset = 0;
	for (uint32_t left = qset; left; left &= left - 1)
		if (w->set->q[__builtin_ctz(left)].conf.filter[0])
			cb->cur.filtered |= 1u << __builtin_ctz(left);
	cb->cur.qset = qset;
}

/* A chunk's packets into their flows' sums (keys and prefetches first, then the adds). */
static __rte_noinline void combine_packets(struct weir_window_worker *w,
					   const struct weir_pkt *const *pkts, unsigned base,
					   unsigned n, const struct weir_burst_meta *m)
{
	struct combiner *cb = &w->cb;
	struct weir_table *t = cb->cur.t;
	struct weir_key keys[CHUNK];
	uint32_t hash[CHUNK];

	for (unsigned j = 0; j < n; j++) {
		uint32_t filtered = cb->cur.filtered;
		uint32_t pass = m->query_pass ? m->query_pass[base + j] & filtered : filtered;
		flow_key(&keys[j], pkts[base + j], pass);
		hash[j] = weir_key_hash(&keys[j], FLOW_KEY_WORDS);
		prefetch_slot(t, hash[j]);
	}
	for (unsigned j = 0; j < n; j++) {
		const struct weir_pkt *p = pkts[base + j];
		uint64_t ts = m->ts[base + j];
		uint64_t *a = table_upsert(t, &keys[j], hash[j], FLOW_KEY_WORDS);
		if (unlikely(!a)) { /* full: it drains, the other table goes on with the pane */
			STORE(cb->st.full, cb->st.full + 1);
			combiner_rotate(w);
			t = cb->cur.t;
			a = table_upsert(t, &keys[j], hash[j], FLOW_KEY_WORDS);
		}
		a[0]++;
		a[1] += p->pkt_len;
		a[2] += p->ip_bytes;
		a[3] += p->payload_len;
		a[4] = RTE_MAX(a[4], ~ts);
		a[5] = RTE_MAX(a[5], ts);
	}
	STORE(cb->st.packets, cb->st.packets + n);
}

/*
 * Sum a chunk (packets at lo..hi) into its flows when it lies in the pane
 * being summed, or opens a later one. false: the queries take it directly.
 */
static bool combine_chunk(struct weir_window_worker *w, const struct weir_pkt *const *pkts,
			  unsigned base, unsigned n, const struct weir_burst_meta *m, uint64_t lo,
			  uint64_t hi)
{
	struct combiner *cb = &w->cb;
	uint64_t start = lo - lo % cb->pane_ns;

	if (hi - start >= cb->pane_ns)
		return false; /* spans two panes: once a pane, not worth splitting */
	if (start != cb->cur.start) {
		if (cb->cur.start != NO_PANE && start < cb->cur.start)
			return false; /* behind the pane being summed */
		combiner_rotate(w);
		combiner_begin(w, start);
	}
	if (!cb->cur.qset)
		return false;
	/* what the queries do not count, counted now: their counters stay live */
	for (uint32_t left = cb->cur.qset; left; left &= left - 1)
		chunk_keyed(w, (unsigned)__builtin_ctz(left), false, &w->bf, m, base, n, NULL);
	combine_packets(w, pkts, base, n, m);
	return true;
}

/* Does a burst or chunk with packets at lo..hi cross query qi's start or end? */
static inline bool crosses_life(const struct weir_window_view *v, unsigned qi, uint64_t lo,
				uint64_t hi)
{
	return v->from[qi] > lo || v->until[qi] <= hi;
}

void weir_window_update_burst(struct weir_window_worker *w, const struct weir_pkt *const *pkts,
			      unsigned n, const struct weir_burst_meta *meta)
{
	const struct weir_window_view *v = w->view;
	uint64_t lo = UINT64_MAX, hi = 0, clo[WEIR_BURST_MAX / CHUNK], chi[WEIR_BURST_MAX / CHUNK];
	uint32_t chunked = 0;

	RTE_ASSERT(n <= WEIR_BURST_MAX);
	for (unsigned c = 0; c * CHUNK < n; c++) {
		clo[c] = UINT64_MAX;
		chi[c] = 0;
		for (unsigned i = c * CHUNK; i < RTE_MIN(n, (c + 1) * CHUNK); i++) {
			chi[c] = meta->ts[i] > chi[c] ? meta->ts[i] : chi[c];
			clo[c] = meta->ts[i] < clo[c] ? meta->ts[i] : clo[c];
		}
		lo = RTE_MIN(lo, clo[c]);
		hi = RTE_MAX(hi, chi[c]);
	}
	if (hi > w->max_ts)
		w->max_ts = hi;
	if (unlikely(w->cb.checked != v)) /* a caller that never sets a view: the base one */
		combiner_check_view(w, v);
	if (!v->active) { /* parse only: no query reads the fields */
		if (unlikely(w->cb.drain.t != NULL))
			combiner_drain_step(w);
		return;
	}
	weir_burst_fields_fill(&w->bf, v->fields_used, pkts, meta, n);
	for (uint32_t act = v->active; act; act &= act - 1) {
		unsigned qi = (unsigned)__builtin_ctz(act);
		/* per-packet life checks only for a burst that crosses a query's start or end */
		if (unlikely(w->set->q[qi].rule_off >= 0))
			update_query_rules(w, qi, crosses_life(v, qi, lo, hi), pkts, n, meta);
		else
			chunked |= 1u << qi;
	}
	for (unsigned c = 0; c * CHUNK < n; c++) {
		unsigned cn = RTE_MIN(n - c * CHUNK, (unsigned)CHUNK);
		uint32_t direct = chunked;
		if (w->cb.cand && combine_chunk(w, pkts, c * CHUNK, cn, meta, clo[c], chi[c]))
			direct &= ~w->cb.cur.qset;
		for (uint32_t act = direct; act; act &= act - 1) {
			unsigned qi = (unsigned)__builtin_ctz(act);
			update_chunk(w, qi, crosses_life(v, qi, clo[c], chi[c]), pkts, c * CHUNK, cn,
				     meta, clo[c], chi[c]);
		}
	}
	if (unlikely(w->cb.drain.t != NULL))
		combiner_drain_step(w);
}

uint64_t weir_window_max_ts(const struct weir_window_worker *w)
{
	return w->max_ts;
}

uint64_t weir_window_qdrop(const struct weir_window_worker *w, unsigned query, enum weir_qdrop r)
{
	return w->q[query].qdrop[r];
}

/* ---- merger (control thread) ----------------------------------------------- */

struct pane *weir_pane_get(struct weir_window_set *s, unsigned qi, uint64_t start, bool *created)
{
	struct pane **pp = &s->mq[qi].panes;

	*created = false;
	while (*pp && (*pp)->start < start)
		pp = &(*pp)->next;
	if (*pp && (*pp)->start == start)
		return *pp;
	struct pane *p = calloc(1, sizeof(*p));
	struct weir_table *t = p ? weir_merged_get(s, qi) : NULL;
	if (!t) {
		free(p);
		return NULL;
	}
	p->start = start;
	p->t = t;
	p->t->window_start = start;
	p->next = *pp;
	*pp = p;
	*created = true;
	return p;
}

static void emit(struct weir_window_set *s, unsigned qi, uint64_t start, uint64_t end,
		 const struct weir_table *t, bool final, bool late)
{
	struct weir_window_result r = { &s->q[qi], start, end, t, final, late };

	if (!t->n_used && !t->has_other)
		return;
	s->emit(s->emit_ctx, &r);
	s->emitted++;
}

/* ---- tumbling and sliding windows: panes [ws, ws + size) ---- */

static bool window_emitted(const struct merger_query *m, uint64_t ws)
{
	return m->started && ws < m->next_window;
}

/* Start of the first window holding the pane at ps. */
static uint64_t first_window_of(const struct weir_query *q, uint64_t ps)
{
	uint64_t ws = ps - ps % q->slide_ns;

	while (ws >= q->slide_ns && ws - q->slide_ns + q->conf.size_ns > ps)
		ws -= q->slide_ns;
	return ws;
}

/* Merge the panes of window [ws, ws + size) and emit them. */
static void emit_window(struct weir_window_set *s, unsigned qi, uint64_t ws, bool final, bool late)
{
	const struct weir_query *q = &s->q[qi];
	uint64_t we = ws + q->conf.size_ns;
	struct pane *first = s->mq[qi].panes;
	struct weir_table *t;

	while (first && first->start < ws)
		first = first->next;
	if (!first || first->start >= we)
		return;
	if (q->pane_ns == q->conf.size_ns) { /* tumbling: the pane is the window */
		emit(s, qi, ws, we, first->t, final, late);
		return;
	}
	t = weir_merged_get(s, qi);
	if (!t) {
		s->mq[qi].overflow += 1;
		return;
	}
	for (struct pane *p = first; p && p->start < we; p = p->next)
		s->mq[qi].overflow += weir_table_merge(q, t, p->t);
	emit(s, qi, ws, we, t, final, late);
	merged_put(s, qi, t);
}

/*
 * Is the next window of a query complete at wm? Moves next_window past
 * stretches without panes first.
 */
static bool window_ready(struct weir_window_set *s, unsigned qi, uint64_t wm)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];
	struct pane *p = m->panes;

	if (q->conf.window == WEIR_WINDOW_SESSION || !p)
		return false;
	if (!m->started) {
		m->next_window = first_window_of(q, p->start);
		m->started = true;
	}
	while (p && p->start + q->pane_ns <= m->next_window)
		p = p->next;
	if (!p)
		return false;
	if (p->start >= m->next_window + q->conf.size_ns)
		m->next_window = first_window_of(q, p->start);
	return wm == UINT64_MAX || m->next_window + q->conf.size_ns <= wm;
}

/* Emit complete windows, oldest first across queries (the summary groups by window). */
static void emit_windows(struct weir_window_set *s, uint64_t wm)
{
	for (;;) {
		int best = -1;
		for (unsigned qi = 0; qi < s->n_queries; qi++)
			if (s->live[qi] && window_ready(s, qi, wm) &&
			    (best < 0 || s->mq[qi].next_window < s->mq[best].next_window))
				best = (int)qi;
		if (best < 0)
			return;
		emit_window(s, (unsigned)best, s->mq[best].next_window, true, false);
		s->mq[best].next_window += s->q[best].slide_ns;
	}
}

/* Re-emit the already emitted windows that hold panes with late data. */
static void emit_late(struct weir_window_set *s, unsigned qi)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];
	uint64_t lo = UINT64_MAX, hi = 0;

	for (struct pane *p = m->panes; p; p = p->next) {
		if (!p->dirty)
			continue;
		p->dirty = false;
		uint64_t ws = first_window_of(q, p->start);
		lo = ws < lo ? ws : lo;
		hi = p->start > hi ? p->start : hi;
	}
	for (uint64_t ws = lo; lo != UINT64_MAX && ws <= hi && window_emitted(m, ws);
	     ws += q->slide_ns)
		emit_window(s, qi, ws, true, true);
}

static void emit_partials(struct weir_window_set *s, unsigned qi, uint64_t wm)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];

	if (!m->started || !m->panes)
		return;
	uint64_t ws = first_window_of(q, m->panes->start);
	for (ws = ws > m->next_window ? ws : m->next_window; ws <= wm; ws += q->slide_ns)
		emit_window(s, qi, ws, false, false);
}

/* Panes no window will need again: every window holding them emitted, lateness passed. */
static void free_panes(struct weir_window_set *s, unsigned qi, uint64_t wm)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];

	while (m->panes) {
		struct pane *p = m->panes;
		uint64_t last_ws = p->start - p->start % q->slide_ns;
		if (!window_emitted(m, last_ws) ||
		    (wm != UINT64_MAX && last_ws + q->conf.size_ns + q->conf.lateness_ns > wm))
			break;
		m->panes = p->next;
		pane_free(s, qi, p);
	}
}

/* ---- session windows: panes of one gap, folded into per-key sessions ---- */

static uint64_t slot_first(const struct weir_query *q, const uint64_t *a)
{
	return ~a[q->slot[q->first_slot].word];
}

static uint64_t slot_last(const struct weir_query *q, const uint64_t *a)
{
	return a[q->slot[q->last_slot].word];
}

void weir_window_row_bounds(const struct weir_window_result *r, uint32_t i, bool other,
			    uint64_t *start, uint64_t *end)
{
	const struct weir_query *q = r->q;

	if (q->conf.window != WEIR_WINDOW_SESSION) {
		*start = r->start;
		*end = r->end;
		return;
	}
	const uint64_t *a = other ? r->t->other + r->t->key_words : weir_table_aggs(r->t, i);
	*start = slot_first(q, a);
	*end = slot_last(q, a) + q->conf.gap_ns;
}

/* Copy one entry (key, aggregates, sketches) into t, or into its _other. */
static void table_add_entry(const struct weir_query *q, struct weir_table *t,
			    const struct weir_table *src, const struct weir_key *k,
			    const uint64_t *a, uint64_t *overflow)
{
	uint64_t *d = k ? weir_table_upsert(t, k, weir_key_hash(k, q->key_words)) : NULL;

	if (!d) {
		if (k)
			(*overflow)++;
		d = weir_table_other(t);
	}
	weir_agg_merge(q, d, weir_table_blob(t, d), a, weir_table_blob(src, a));
}

static void emit_sessions(struct weir_window_set *s, unsigned qi, struct weir_table *t,
			  bool final, bool late);

/*
 * Add a closed session to the batch `closed`. A key's second session in
 * one batch would merge with its first: the batch is emitted first.
 */
static void close_session(struct weir_window_set *s, unsigned qi, struct weir_table *closed,
			  bool late, const struct weir_table *src, const struct weir_key *k,
			  const uint64_t *a)
{
	const struct weir_query *q = &s->q[qi];
	uint32_t h = weir_key_hash(k, q->key_words);
	uint64_t *d = weir_table_upsert(closed, k, h);

	if (d && slot_last(q, d) != 0) {
		emit_sessions(s, qi, closed, true, late);
		weir_table_reset(closed);
		d = weir_table_upsert(closed, k, h);
	}
	if (!d) {
		s->mq[qi].overflow++;
		d = weir_table_other(closed);
	}
	weir_agg_merge(q, d, weir_table_blob(closed, d), a, weir_table_blob(src, a));
}

static void emit_sessions(struct weir_window_set *s, unsigned qi, struct weir_table *t,
			  bool final, bool late)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (uint32_t i = 0; i < t->n_used + (t->has_other ? 1 : 0); i++) {
		struct weir_window_result r = { &s->q[qi], 0, 0, t, final, late };
		uint64_t a, b;
		weir_window_row_bounds(&r, i, i == t->n_used, &a, &b);
		lo = a < lo ? a : lo;
		hi = b > hi ? b : hi;
	}
	emit(s, qi, lo, hi, t, final, late);
}

/*
 * Fold a complete pane into the open sessions: a key's session goes on
 * when the pane's first packet is less than a gap after its last one (and
 * the session is younger than max), else the old session closes.
 */
static void fold_pane(struct weir_window_set *s, unsigned qi, const struct weir_table *pane,
		      struct weir_table *open, struct weir_table *closed, bool late)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];

	for (uint32_t i = 0; i < pane->n_used; i++) {
		const struct weir_key *k = weir_table_key(pane, i);
		const uint64_t *a = weir_table_aggs(pane, i);
		uint64_t *cur = weir_table_upsert(open, k, weir_key_hash(k, q->key_words));
		if (!cur) {
			table_add_entry(q, closed, pane, NULL, a, &m->overflow);
			m->overflow++;
			continue;
		}
		uint64_t last = slot_last(q, cur);
		bool fresh = last == 0;
		uint64_t first = slot_first(q, a);
		bool gap = !fresh && first > last && first - last >= q->conf.gap_ns;
		bool too_long = !fresh && q->conf.max_ns &&
				pane->window_start >= slot_first(q, cur) + q->conf.max_ns;
		if (gap || too_long) {
			close_session(s, qi, closed, late, open, k, cur);
			memset(cur, 0, (size_t)q->agg_words * 8);
			if (q->blob_bytes)
				memset(weir_table_blob(open, cur), 0, q->blob_bytes);
		}
		weir_agg_merge(q, cur, weir_table_blob(open, cur), a, weir_table_blob(pane, a));
	}
	if (pane->has_other)
		table_add_entry(q, closed, pane, NULL, pane->other + pane->key_words, &m->overflow);
}

/* Close the sessions that ended before wm: into `closed`; the rest stay open. */
static void close_sessions(struct weir_window_set *s, unsigned qi, uint64_t wm,
			   struct weir_table *closed)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];
	struct weir_table *open = m->sessions, *keep = weir_merged_get(s, qi);
	/* every pane before `bound` is folded in: later packets start at or after it */
	uint64_t bound = wm - wm % q->pane_ns;

	if (!keep)
		return;
	for (uint32_t i = 0; i < open->n_used; i++) {
		const uint64_t *a = weir_table_aggs(open, i);
		uint64_t last = slot_last(q, a);
		bool done = wm == UINT64_MAX || last + q->conf.gap_ns <= bound;
		if (done)
			close_session(s, qi, closed, false, open, weir_table_key(open, i), a);
		else
			table_add_entry(q, keep, open, weir_table_key(open, i), a, &m->overflow);
	}
	merged_put(s, qi, open);
	m->sessions = keep;
}

static void run_sessions(struct weir_window_set *s, unsigned qi, uint64_t wm)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];
	struct weir_table *closed, *late;

	if (!m->sessions && !(m->sessions = weir_merged_get(s, qi)))
		return;
	closed = weir_merged_get(s, qi);
	late = weir_merged_get(s, qi);
	if (!closed || !late)
		goto out;
	while (m->panes && (wm == UINT64_MAX || m->panes->start + q->pane_ns <= wm)) {
		struct pane *p = m->panes;
		/* a delta for a pane already folded in: sessions still open take it */
		bool is_late = p->start < m->assembled;
		fold_pane(s, qi, p->t, m->sessions, is_late ? late : closed, is_late);
		if (p->start >= m->assembled)
			m->assembled = p->start + q->pane_ns;
		m->panes = p->next;
		pane_free(s, qi, p);
	}
	close_sessions(s, qi, wm, closed);
	emit_sessions(s, qi, closed, true, false);
	emit_sessions(s, qi, late, true, true);
out:
	merged_put(s, qi, closed);
	merged_put(s, qi, late);
}

static void session_partials(struct weir_window_set *s, unsigned qi)
{
	if (s->mq[qi].sessions)
		emit_sessions(s, qi, s->mq[qi].sessions, false, false);
}

/* ---- the merger loop ---- */

static void merge_shard(struct weir_window_set *s, struct weir_table *t)
{
	unsigned qi = t->query;
	struct merger_query *m = &s->mq[qi];
	bool created;
	struct pane *p = weir_pane_get(s, qi, t->window_start, &created);

	if (p) {
		m->overflow += weir_table_merge(&s->q[qi], p->t, t);
		if (t->late && s->q[qi].conf.window != WEIR_WINDOW_SESSION &&
		    window_emitted(m, first_window_of(&s->q[qi], p->start)))
			p->dirty = true;
	} else {
		m->overflow += t->n_used;
	}
	weir_table_reset(t);
	rte_ring_enqueue(s->workers[t->worker].q[qi].free, t);
}

static bool is_mark(const struct weir_window_set *s, const void *obj)
{
	return (uintptr_t)obj >= (uintptr_t)s->marks &&
	       (uintptr_t)obj < (uintptr_t)(s->marks + s->n_workers);
}

/* A shard or a barrier mark from the ring. */
static void take_sealed(struct weir_window_set *s, void *obj)
{
	if (is_mark(s, obj)) {
		unsigned w = (unsigned)((struct weir_window_mark *)obj - s->marks);
		s->marked[w] = true;
		s->n_marked++;
		return;
	}
	struct weir_table *t = obj;
	if (s->n_marked && s->marked[t->worker])
		s->held[s->n_held++] = t; /* after its barrier: not in this checkpoint */
	else
		merge_shard(s, t);
}

bool weir_window_set_aligned(const struct weir_window_set *s, uint64_t *epoch)
{
	if (s->n_marked != s->n_workers)
		return false;
	*epoch = s->marks[0].epoch;
	return true;
}

void weir_window_set_barrier_done(struct weir_window_set *s)
{
	memset(s->marked, 0, s->n_workers * sizeof(*s->marked));
	s->n_marked = 0;
	for (unsigned i = 0; i < s->n_held; i++)
		merge_shard(s, s->held[i]);
	s->n_held = 0;
}

static uint64_t min_sealed_wm(const struct weir_window_set *s)
{
	uint64_t m = UINT64_MAX;

	for (unsigned w = 0; w < s->n_workers; w++) {
		uint64_t v = __atomic_load_n(&s->workers[w].sealed_wm, __ATOMIC_ACQUIRE);
		if (v < m)
			m = v;
	}
	return m;
}

static bool partial_boundary(struct merger_query *m, const struct weir_query *q, uint64_t wm)
{
	uint64_t every = q->conf.emit_every_ns;

	if (!every || wm == UINT64_MAX || !wm)
		return false;
	if (!m->next_partial)
		m->next_partial = (wm / every + 1) * every;
	if (wm < m->next_partial)
		return false;
	m->next_partial = (wm / every + 1) * every;
	return true;
}

unsigned weir_window_merge_poll(struct weir_window_set *s, weir_window_emit_fn fn, void *ctx)
{
	/* Read the watermarks before draining: shards sealed before them are in the ring. */
	uint64_t wm = min_sealed_wm(s);
	void *objs[64];
	unsigned n;

	s->emit = fn;
	s->emit_ctx = ctx;
	s->emitted = 0;
	while ((n = rte_ring_dequeue_burst(s->sealed, objs, RTE_DIM(objs), NULL)) > 0)
		for (unsigned i = 0; i < n; i++)
			take_sealed(s, objs[i]);
	/* The watermark may already be past a barrier whose shards are held back. */
	if (s->n_marked)
		return 0;
	for (unsigned qi = 0; qi < s->n_queries; qi++) {
		const struct weir_query *q = &s->q[qi];
		if (!s->live[qi])
			continue;
		bool partial = partial_boundary(&s->mq[qi], q, wm);
		if (q->conf.window == WEIR_WINDOW_SESSION) {
			run_sessions(s, qi, wm);
			if (partial)
				session_partials(s, qi);
			continue;
		}
		emit_late(s, qi);
		if (partial) {
			emit_windows(s, wm);
			emit_partials(s, qi, wm);
		}
	}
	emit_windows(s, wm);
	for (unsigned qi = 0; qi < s->n_queries; qi++)
		if (s->live[qi] && s->q[qi].conf.window != WEIR_WINDOW_SESSION)
			free_panes(s, qi, wm);
	return s->emitted;
}

unsigned weir_window_set_peek(struct weir_window_set *s, unsigned qi, weir_window_emit_fn fn,
			      void *ctx)
{
	const struct weir_query *q = &s->q[qi];
	struct merger_query *m = &s->mq[qi];
	struct pane *last = m->panes;

	s->emit = fn;
	s->emit_ctx = ctx;
	s->emitted = 0;
	if (q->conf.window == WEIR_WINDOW_SESSION) {
		session_partials(s, qi);
		return s->emitted;
	}
	if (q->pane_ns == q->conf.size_ns) {
		for (struct pane *p = m->panes; p; p = p->next)
			if (!window_emitted(m, p->start))
				emit(s, qi, p->start, p->start + q->conf.size_ns, p->t, false, false);
		return s->emitted;
	}
	while (last && last->next)
		last = last->next;
	for (uint64_t ws = last ? first_window_of(q, last->start) : 1; last && ws <= last->start;
	     ws += q->slide_ns)
		if (!window_emitted(m, ws))
			emit_window(s, qi, ws, false, false);
	return s->emitted;
}

uint64_t weir_window_set_qdrop(const struct weir_window_set *s, unsigned query, enum weir_qdrop r)
{
	uint64_t sum = 0;

	for (unsigned w = 0; w < s->n_workers; w++)
		sum += __atomic_load_n(&s->workers[w].q[query].qdrop[r], __ATOMIC_RELAXED);
	return sum;
}

void weir_window_set_combine_stats(const struct weir_window_set *s, struct weir_combine_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned w = 0; w < s->n_workers; w++) {
		const struct weir_combine_stats *c = &s->workers[w].cb.st;
		st->packets += __atomic_load_n(&c->packets, __ATOMIC_RELAXED);
		st->flows += __atomic_load_n(&c->flows, __ATOMIC_RELAXED);
		st->flushes += __atomic_load_n(&c->flushes, __ATOMIC_RELAXED);
		st->full += __atomic_load_n(&c->full, __ATOMIC_RELAXED);
	}
}

uint64_t weir_window_set_merge_overflow(const struct weir_window_set *s, unsigned query)
{
	return __atomic_load_n(&s->mq[query].overflow, __ATOMIC_RELAXED);
}
