/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Window shards and the merger. See weir_window.h for the life of a shard.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "weir_window.h"

#define BURST_MAX WEIR_BURST_MAX

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

/*
 * Entries start on a cache line (the slack is in the size), so that an
 * entry of 8 words (a v4/v6 host pair and three sums) is one line: one miss
 * per upsert, not two.
 */
size_t weir_table_size(const struct weir_query *q, uint32_t max_keys)
{
	uint32_t slots = table_slots(max_keys);
	size_t stride = q->key_words + q->n_aggs;

	return RTE_ALIGN(sizeof(struct weir_table), 8) + RTE_ALIGN((size_t)slots * 4, 8) +
	       RTE_CACHE_LINE_SIZE + (size_t)slots * stride * 8 + RTE_ALIGN((size_t)max_keys * 4, 8);
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
	t->n_aggs = q->n_aggs;
	t->stride = q->key_words + q->n_aggs;
	t->hashes = (uint32_t *)p;
	p += RTE_ALIGN((size_t)slots * 4, 8);
	p = RTE_PTR_ALIGN_CEIL(p, RTE_CACHE_LINE_SIZE);
	t->entries = (uint64_t *)p;
	p += (size_t)slots * t->stride * 8;
	t->used = (uint32_t *)p;
	return t;
}

void weir_table_reset(struct weir_table *t)
{
	/* Clear only what was used: a shard of 64k keys may hold a dozen. */
	for (uint32_t i = 0; i < t->n_used; i++) {
		uint32_t s = t->used[i];
		t->hashes[s] = 0;
		memset(&t->entries[(size_t)s * t->stride], 0, (size_t)t->stride * 8);
	}
	t->n_used = 0;
	t->overflow = 0;
}

static inline bool key_equal(const uint64_t *a, const struct weir_key *k, unsigned words)
{
	uint64_t diff = 0;

	for (unsigned i = 0; i < words; i++)
		diff |= a[i] ^ k->w[i];
	return diff == 0;
}

/* Inlined into the data path's loop; weir_table_upsert is the same for other callers. */
static __rte_always_inline uint64_t *table_upsert(struct weir_table *t, const struct weir_key *k,
						  uint32_t h)
{
	uint32_t tag = h | 1, s = h & t->mask;

	for (;;) {
		uint32_t cur = t->hashes[s];
		uint64_t *e = &t->entries[(size_t)s * t->stride];
		if (cur == tag && key_equal(e, k, t->key_words))
			return e + t->key_words;
		if (cur == 0) {
			if (unlikely(t->n_used >= t->max_keys))
				return NULL;
			t->hashes[s] = tag;
			memcpy(e, k->w, (size_t)t->key_words * 8);
			t->used[t->n_used++] = s;
			return e + t->key_words;
		}
		s = (s + 1) & t->mask;
	}
}

uint64_t *weir_table_upsert(struct weir_table *t, const struct weir_key *k, uint32_t h)
{
	return table_upsert(t, k, h);
}

const struct weir_key *weir_table_key(const struct weir_table *t, uint32_t i)
{
	return (const struct weir_key *)&t->entries[(size_t)t->used[i] * t->stride];
}

const uint64_t *weir_table_aggs(const struct weir_table *t, uint32_t i)
{
	return &t->entries[(size_t)t->used[i] * t->stride + t->key_words];
}

uint64_t weir_table_merge(struct weir_table *dst, const struct weir_table *src)
{
	uint64_t lost = 0;

	for (uint32_t i = 0; i < src->n_used; i++) {
		struct weir_key k = {{0}};
		memcpy(k.w, weir_table_key(src, i), (size_t)src->key_words * 8);
		uint64_t *a = weir_table_upsert(dst, &k, weir_key_hash(&k, src->key_words));
		const uint64_t *b = weir_table_aggs(src, i);
		if (!a) {
			lost++;
			continue;
		}
		for (uint32_t j = 0; j < src->n_aggs; j++)
			a[j] += b[j];
	}
	dst->overflow += src->overflow + lost;
	return lost;
}

/* ---- window set ------------------------------------------------------------ */

struct query_shards {
	struct weir_table *open[WEIR_WINDOW_SHARDS]; /* ascending window_start */
	unsigned n_open;
	struct rte_ring *free;                       /* merger -> worker */
	uint64_t qdrop[WEIR_QDROP__COUNT];
};

struct weir_window_worker {
	struct weir_window_set *set;
	unsigned id;
	uint64_t max_ts;
	uint64_t wm;          /* every window ending at or before wm is sealed */
	struct query_shards q[WEIR_MAX_QUERIES];
	/* Read by the merger: written with release after the shards are enqueued. */
	uint64_t sealed_wm __rte_cache_aligned;
} __rte_cache_aligned;

struct pending_window {
	uint64_t start;
	struct weir_table *merged;
	struct pending_window *next;
};

struct weir_window_set {
	unsigned n_queries;
	unsigned n_workers;
	struct weir_query q[WEIR_MAX_QUERIES];
	struct rte_ring *sealed;                     /* workers -> merger */
	struct weir_window_worker *workers;
	void *shard_mem;
	/* merger side (control thread only) */
	struct pending_window *pending[WEIR_MAX_QUERIES];
	uint64_t merge_overflow[WEIR_MAX_QUERIES];
	uint32_t merged_max_keys[WEIR_MAX_QUERIES];
};

static int create_rings(struct weir_window_set *s, unsigned total_shards, char *err, size_t errlen)
{
	static unsigned instance;
	char name[RTE_RING_NAMESIZE];
	unsigned id = __atomic_fetch_add(&instance, 1, __ATOMIC_RELAXED);

	snprintf(name, sizeof(name), "wsealed%u", id);
	/* Capacity >= every shard in existence, so a worker's enqueue never fails. */
	s->sealed = rte_ring_create(name, rte_align32pow2(total_shards + 1), SOCKET_ID_ANY,
				    RING_F_SC_DEQ);
	if (!s->sealed)
		goto fail;
	for (unsigned w = 0; w < s->n_workers; w++)
		for (unsigned qi = 0; qi < s->n_queries; qi++) {
			snprintf(name, sizeof(name), "wfree%u_%u_%u", id, w, qi);
			s->workers[w].q[qi].free = rte_ring_create(
				name, rte_align32pow2(WEIR_WINDOW_SHARDS + 1), SOCKET_ID_ANY,
				RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!s->workers[w].q[qi].free)
				goto fail;
		}
	return 0;
fail:
	snprintf(err, errlen, "cannot create window rings: %s", rte_strerror(rte_errno));
	return -1;
}

static int create_shards(struct weir_window_set *s, char *err, size_t errlen)
{
	size_t total = 0;

	for (unsigned qi = 0; qi < s->n_queries; qi++)
		total += RTE_ALIGN(weir_table_size(&s->q[qi], s->q[qi].conf.max_keys), 64) *
			 WEIR_WINDOW_SHARDS * s->n_workers;
	s->shard_mem = rte_zmalloc("weir_shards", total, 64);
	if (!s->shard_mem) {
		snprintf(err, errlen,
			 "cannot allocate %zu MiB of window shards (lower max_keys or give the EAL more memory)",
			 total >> 20);
		return -1;
	}
	uint8_t *p = s->shard_mem;
	for (unsigned w = 0; w < s->n_workers; w++)
		for (unsigned qi = 0; qi < s->n_queries; qi++) {
			size_t sz = RTE_ALIGN(weir_table_size(&s->q[qi], s->q[qi].conf.max_keys), 64);
			for (unsigned k = 0; k < WEIR_WINDOW_SHARDS; k++, p += sz) {
				struct weir_table *t = weir_table_init(p, &s->q[qi], s->q[qi].conf.max_keys);
				t->worker = w;
				rte_ring_enqueue(s->workers[w].q[qi].free, t);
			}
		}
	return 0;
}

struct weir_window_set *weir_window_set_create(const struct weir_config *cfg, unsigned n_workers,
					       char *err, size_t errlen)
{
	struct weir_window_set *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->n_queries = cfg->n_queries;
	s->n_workers = n_workers;
	for (unsigned qi = 0; qi < s->n_queries; qi++) {
		if (weir_query_compile(&s->q[qi], &cfg->queries[qi], qi, err, errlen) < 0)
			goto fail;
		uint64_t mk = (uint64_t)cfg->queries[qi].max_keys * n_workers;
		s->merged_max_keys[qi] = mk > (1u << 24) ? (1u << 24) : (uint32_t)mk;
	}
	s->workers = rte_zmalloc("weir_window_workers", sizeof(*s->workers) * n_workers,
				 RTE_CACHE_LINE_SIZE);
	if (!s->workers) {
		snprintf(err, errlen, "cannot allocate window workers");
		goto fail;
	}
	for (unsigned w = 0; w < n_workers; w++) {
		s->workers[w].set = s;
		s->workers[w].id = w;
	}
	if (create_rings(s, n_workers * s->n_queries * WEIR_WINDOW_SHARDS, err, errlen) < 0 ||
	    create_shards(s, err, errlen) < 0)
		goto fail;
	return s;
fail:
	weir_window_set_free(s);
	return NULL;
}

void weir_window_set_free(struct weir_window_set *s)
{
	if (!s)
		return;
	for (unsigned qi = 0; qi < s->n_queries; qi++)
		while (s->pending[qi]) {
			struct pending_window *p = s->pending[qi];
			s->pending[qi] = p->next;
			free(p->merged);
			free(p);
		}
	if (s->workers)
		for (unsigned w = 0; w < s->n_workers; w++)
			for (unsigned qi = 0; qi < s->n_queries; qi++)
				rte_ring_free(s->workers[w].q[qi].free);
	rte_ring_free(s->sealed);
	rte_free(s->shard_mem);
	rte_free(s->workers);
	free(s);
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
	/* Cannot fail: the ring holds every shard there is. */
	rte_ring_enqueue(w->set->sealed, t);
}

static void publish_wm(struct weir_window_worker *w)
{
	__atomic_store_n(&w->sealed_wm, w->wm, __ATOMIC_RELEASE);
}

void weir_window_advance(struct weir_window_worker *w, uint64_t wm)
{
	struct weir_window_set *s = w->set;

	if (wm <= w->wm)
		return;
	w->wm = wm;
	for (unsigned qi = 0; qi < s->n_queries; qi++) {
		struct query_shards *qs = &w->q[qi];
		uint64_t size = s->q[qi].conf.size_ns;
		unsigned keep = 0;
		for (unsigned i = 0; i < qs->n_open; i++) {
			struct weir_table *t = qs->open[i];
			if (wm == UINT64_MAX || t->window_start + size <= wm)
				seal(w, t);
			else
				qs->open[keep++] = t;
		}
		qs->n_open = keep;
	}
	publish_wm(w);
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

/* The open shard of the window starting at `start`, or NULL. */
static struct weir_table *open_shard(const struct query_shards *qs, uint64_t start)
{
	for (unsigned i = qs->n_open; i-- > 0;)
		if (qs->open[i]->window_start == start)
			return qs->open[i];
	return NULL;
}

/*
 * Open a shard for the window starting at `start`; NULL when that window
 * has been sealed meanwhile (late). Shards in flight to the merger come
 * back soon, so we wait for one; only when every shard is open (events
 * spread over more windows than there are shards) is the oldest window
 * sealed early, its watermark jumping to its end.
 */
static struct weir_table *open_new_shard(struct weir_window_worker *w, unsigned qi, uint64_t start)
{
	struct query_shards *qs = &w->q[qi];
	uint64_t size = w->set->q[qi].conf.size_ns;
	struct weir_table *t;

	while (rte_ring_dequeue(qs->free, (void **)&t) != 0) {
		if (qs->n_open == WEIR_WINDOW_SHARDS) {
			weir_window_advance(w, qs->open[0]->window_start + size);
			if (start + size <= w->wm)
				return NULL;
		} else {
			/* The merger is behind; on shared cores let it run. */
			sched_yield();
		}
	}
	t->window_start = start;
	open_insert(qs, t);
	return t;
}

/* Table-driven rather than a switch per aggregate: one load and one add each. */
static inline void add_aggs(uint64_t *a, const struct weir_query *q, const struct weir_pkt *p)
{
	const uint64_t v[WEIR_AGG__COUNT] = {
		[WEIR_AGG_PACKETS] = 1,
		[WEIR_AGG_BYTES] = p->pkt_len,
		[WEIR_AGG_IP_BYTES] = p->ip_bytes,
		[WEIR_AGG_PAYLOAD_BYTES] = p->payload_len,
	};

	for (unsigned j = 0; j < q->n_aggs; j++)
		a[j] += v[q->conf.aggs[j]];
}

struct burst_state {
	struct weir_key keys[BURST_MAX];
	struct weir_table *tab[BURST_MAX];
	uint32_t hash[BURST_MAX];
	bool has_key[BURST_MAX];
};

/* Second half of a query's burst: upsert packets [lo, hi) into their shards. */
static void upsert_range(struct query_shards *qs, const struct weir_query *q,
			 struct burst_state *b, const struct weir_pkt *const *pkts, unsigned lo,
			 unsigned hi)
{
	for (unsigned i = lo; i < hi; i++) {
		if (!b->tab[i])
			continue;
		uint64_t *a = table_upsert(b->tab[i], &b->keys[i], b->hash[i]);
		if (unlikely(!a)) {
			b->tab[i]->overflow++;
			qs->qdrop[WEIR_QDROP_OVERFLOW]++;
			continue;
		}
		add_aggs(a, q, pkts[i]);
	}
}

/*
 * One query over a burst, in three passes: keys; then windows and hashes
 * (prefetching the slot and its entry); then the upserts. Hashing in a pass
 * of its own reads each key after its byte-sized stores have retired (read
 * at once, the 8-byte loads cannot be forwarded from them and stall).
 * Opening a shard may seal others, so packets already resolved are upserted
 * before that happens.
 */
static void update_query(struct weir_window_worker *w, unsigned qi,
			 const struct weir_pkt *const *pkts, const uint64_t *ts, unsigned n)
{
	const struct weir_query *q = &w->set->q[qi];
	struct query_shards *qs = &w->q[qi];
	uint64_t size = q->conf.size_ns;
	struct burst_state b;
	struct weir_table *cur = NULL; /* shard of the previous packet's window */
	unsigned lo = 0;

	for (unsigned i = 0; i < n; i++) {
		b.tab[i] = NULL;
		b.has_key[i] = weir_key_extract(q, pkts[i], &b.keys[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		if (unlikely(!b.has_key[i])) {
			qs->qdrop[WEIR_QDROP_NO_KEY]++;
			continue;
		}
		/*
		 * A burst nearly always falls in one window: the division and the
		 * shard search only when a packet leaves the previous one's window
		 * (unsigned: a ts before it wraps to a huge difference).
		 */
		if (unlikely(!cur || ts[i] - cur->window_start >= size)) {
			uint64_t start = ts[i] - ts[i] % size;
			cur = open_shard(qs, start);
			if (!cur) {
				if (start + size <= w->wm) {
					qs->qdrop[WEIR_QDROP_LATE]++;
					continue;
				}
				upsert_range(qs, q, &b, pkts, lo, i);
				lo = i;
				/* may seal shards: nothing resolved before i refers to them now */
				cur = open_new_shard(w, qi, start);
				if (!cur) {
					qs->qdrop[WEIR_QDROP_LATE]++;
					continue;
				}
			}
		}
		uint32_t h = weir_key_hash(&b.keys[i], q->key_words);
		uint32_t s = h & cur->mask;
		b.tab[i] = cur;
		b.hash[i] = h;
		rte_prefetch0(&cur->hashes[s]);
		rte_prefetch0(&cur->entries[(size_t)s * cur->stride]);
	}
	upsert_range(qs, q, &b, pkts, lo, n);
}

/*
 * A `rule`-keyed query: each packet counts once per rule it matched, so
 * keys are built per (packet, rule) and upserted at once; bursts carry few
 * matches, so this path keeps it simple rather than batched.
 */
static void update_query_rules(struct weir_window_worker *w, unsigned qi,
			       const struct weir_pkt *const *pkts, const uint64_t *ts, unsigned n,
			       const struct weir_burst_rules *rules)
{
	const struct weir_query *q = &w->set->q[qi];
	struct query_shards *qs = &w->q[qi];
	uint64_t size = q->conf.size_ns;

	for (unsigned i = 0; i < n; i++) {
		struct weir_key k;
		unsigned lo = rules ? rules->off[i] : 0, hi = rules ? rules->off[i + 1] : 0;
		if (lo == hi || !weir_key_extract(q, pkts[i], &k)) {
			qs->qdrop[WEIR_QDROP_NO_KEY]++;
			continue;
		}
		uint64_t start = ts[i] - ts[i] % size;
		struct weir_table *t = open_shard(qs, start);
		if (!t && start + size > w->wm)
			t = open_new_shard(w, qi, start);
		if (!t) {
			qs->qdrop[WEIR_QDROP_LATE]++;
			continue;
		}
		for (unsigned r = lo; r < hi; r++) {
			memcpy((uint8_t *)k.w + q->rule_off, &rules->ids[r], 4);
			uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, q->key_words));
			if (unlikely(!a)) {
				t->overflow++;
				qs->qdrop[WEIR_QDROP_OVERFLOW]++;
				continue;
			}
			add_aggs(a, q, pkts[i]);
		}
	}
}

void weir_window_update_burst(struct weir_window_worker *w, const struct weir_pkt *const *pkts,
			      const uint64_t *ts, unsigned n, const struct weir_burst_rules *rules)
{
	RTE_ASSERT(n <= WEIR_BURST_MAX);
	for (unsigned i = 0; i < n; i++)
		if (ts[i] > w->max_ts)
			w->max_ts = ts[i];
	for (unsigned qi = 0; qi < w->set->n_queries; qi++) {
		if (unlikely(w->set->q[qi].rule_off >= 0))
			update_query_rules(w, qi, pkts, ts, n, rules);
		else
			update_query(w, qi, pkts, ts, n);
	}
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

static struct pending_window *pending_get(struct weir_window_set *s, unsigned qi, uint64_t start)
{
	struct pending_window **pp = &s->pending[qi];

	while (*pp && (*pp)->start < start)
		pp = &(*pp)->next;
	if (*pp && (*pp)->start == start)
		return *pp;
	const struct weir_query *q = &s->q[qi];
	struct pending_window *p = calloc(1, sizeof(*p));
	void *mem = p ? calloc(1, weir_table_size(q, s->merged_max_keys[qi])) : NULL;
	if (!mem) {
		free(p);
		return NULL;
	}
	p->start = start;
	p->merged = weir_table_init(mem, q, s->merged_max_keys[qi]);
	p->merged->window_start = start;
	p->next = *pp;
	*pp = p;
	return p;
}

static void merge_shard(struct weir_window_set *s, struct weir_table *t)
{
	struct pending_window *p = pending_get(s, t->query, t->window_start);

	if (p)
		s->merge_overflow[t->query] += weir_table_merge(p->merged, t);
	else
		s->merge_overflow[t->query] += t->n_used;
	weir_table_reset(t);
	rte_ring_enqueue(s->workers[t->worker].q[t->query].free, t);
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

unsigned weir_window_merge_poll(struct weir_window_set *s, weir_window_emit_fn emit, void *ctx)
{
	/* Read the watermarks before draining: shards sealed before them are in the ring. */
	uint64_t wm = min_sealed_wm(s);
	void *objs[64];
	unsigned n, emitted = 0;

	while ((n = rte_ring_dequeue_burst(s->sealed, objs, RTE_DIM(objs), NULL)) > 0)
		for (unsigned i = 0; i < n; i++)
			merge_shard(s, objs[i]);
	/* Emit complete windows, oldest first across all queries. */
	for (;;) {
		int best = -1;
		for (unsigned qi = 0; qi < s->n_queries; qi++) {
			struct pending_window *p = s->pending[qi];
			if (!p || (wm != UINT64_MAX && p->start + s->q[qi].conf.size_ns > wm))
				continue;
			if (best < 0 || p->start < s->pending[best]->start)
				best = (int)qi;
		}
		if (best < 0)
			break;
		struct pending_window *p = s->pending[best];
		s->pending[best] = p->next;
		emit(ctx, &s->q[best], p->start, p->start + s->q[best].conf.size_ns, p->merged);
		free(p->merged);
		free(p);
		emitted++;
	}
	return emitted;
}

uint64_t weir_window_set_qdrop(const struct weir_window_set *s, unsigned query, enum weir_qdrop r)
{
	uint64_t sum = 0;

	for (unsigned w = 0; w < s->n_workers; w++)
		sum += s->workers[w].q[query].qdrop[r];
	return sum;
}

uint64_t weir_window_set_merge_overflow(const struct weir_window_set *s, unsigned query)
{
	return s->merge_overflow[query];
}
