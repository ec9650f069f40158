/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Flow table, timeouts, eviction and TCP segment ordering. See weir_flow.h
 * for the contract; this file explains the how.
 *
 * Memory, all from rte_zmalloc at creation:
 *   buckets   one cache line each: 8 signatures, 8 flow indices, a spill count
 *   entries   struct weir_flow [capacity]
 *   aux       struct flow_aux [capacity]: what only list operations touch
 *   slots     held TCP segment headers [ooo_slots + 1] (index 0 = none)
 *   slot_data ooo_slots * ooo_slot_size bytes
 * Free flows are handed out from a high-water mark, then from a free list
 * threaded through aux.next; free slots from a list threaded through
 * slots[].next.
 *
 * Copy-on-write snapshots (weir_flow_cow_*), from weir_flow_cow_enable:
 *   shadow entries [capacity], shadow aux [capacity], a bitmap of capacity
 *   bits (entries copied ahead of the step cursor), the saved table state.
 * cow_begin saves the table-level state (list heads, counters, ...) and
 * the high-water mark hwm0; entries [0, hwm0) are then copied to the shadow
 * by cow_step in index order, and every write to entry/aux i while the copy
 * runs first calls COW(t, i), which copies i ahead of the cursor when it
 * was not yet. So each shadow entry holds what the live one held at begin,
 * and the serializer walks the saved lists through the shadow alone.
 * Entries that were free at begin are copied too (never read), and the
 * ones at or past hwm0 did not exist at begin: nothing to copy. Steps clear
 * each bitmap word once the cursor has passed it, so a finished copy leaves
 * the bitmap all zero and begin need not clear it.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "weir_flow.h"

#define BURST_MAX 256
#define NIL UINT32_MAX
#define NS_PER_MS 1000000ull
#define HASH_SEED 0x5bd1e995u
#define ALT_SEED 0x27d4eb2fu
#define MAX_CAPACITY (1u << 30)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

_Static_assert(sizeof(struct weir_flow_key) == 40, "flow key has padding");
_Static_assert(sizeof(struct weir_flow) == 128, "struct weir_flow must stay two cache lines");
_Static_assert(WEIR_FLOW_CNT_TCP_HELD - WEIR_FLOW_CNT_TCP_EMPTY == WEIR_TCP_HELD,
	       "tcp class counters follow enum weir_tcp_class");

/*
 * A key lives in its primary bucket, or in its alternate when the primary
 * was full (two choices keep buckets from overflowing long before the table
 * is full). `spilled` counts the flows that went from this bucket to their
 * alternate, so a lookup only reads the alternate when it may hold the key.
 */
struct bucket {
	uint16_t sig[WEIR_FLOW_WAYS]; /* 0: empty way */
	uint32_t idx[WEIR_FLOW_WAYS];
	uint32_t spilled;
	uint32_t _pad[3];
} __rte_cache_aligned;
_Static_assert(sizeof(struct bucket) == 64, "a bucket is one cache line");

/* Where a key may live: its primary bucket, its alternate (computed when needed). */
struct home {
	struct bucket *prim;
	uint32_t hash;
	uint16_t sig;
};

/*
 * Beside each flow, touched only when it joins or leaves a timeout list and
 * when TCP segments are held: keeping it out of struct weir_flow keeps that
 * at two cache lines.
 */
struct flow_aux {
	uint32_t prev, next; /* timeout list of the flow's class; free/retired lists use next */
	uint32_t enq_ms;     /* joined the list at first_ts + enq_ms ms (rounded down) */
	uint16_t held[2];    /* first held segment slot per direction, 0: none */
};
_Static_assert(sizeof(struct flow_aux) == 16, "flow_aux is 16 bytes");

struct tq {
	uint32_t head, tail;
};

/* A held piece of a TCP segment: at most one slot of bytes. */
struct seg_slot {
	uint32_t seq;
	uint16_t len;
	uint16_t next; /* next held piece of the same direction (ascending seq), or free list */
};

struct cow;

struct weir_flow_table {
	struct weir_flow_conf conf;
	uint8_t cow_active;     /* a copy-on-write snapshot is being copied: COW() before writes */
	uint32_t mask;          /* buckets - 1 */
	uint32_t hwm;           /* entries below it were handed out at least once */
	uint32_t free_head;     /* recycled entries (aux.next) */
	uint32_t retired_head;  /* closed by port reuse, their callback pending (aux.next) */
	uint32_t n_active;
	unsigned rotate;        /* class expire starts with, for fairness under budget */
	uint64_t next_id;
	struct tq tq[WEIR_FLOW_TO__COUNT];
	struct bucket *buckets;
	struct weir_flow *entries;
	struct flow_aux *aux;
	struct seg_slot *slots;
	uint8_t *slot_data;
	uint16_t slot_free;     /* free slots */
	uint16_t slot_done;     /* delivered by the last call, reclaimed at the next */
	uint32_t slots_free_n;
	uint32_t held_n;        /* pieces on the flows' held lists (not those in slot_done) */
	uint64_t held_bytes;    /* and their bytes: a copy-on-write snapshot's header needs them */
	uint64_t cnt[WEIR_FLOW_CNT__COUNT];
	struct cow *cow;        /* NULL until weir_flow_cow_enable */
};

/*
 * What the snapshot writer reads: the entries and aux links (the table's,
 * or a copy-on-write shadow) and the table-level state. slots: the held
 * segment pool to tally held pieces from, or NULL when held/held_bytes
 * were taken already.
 */
struct snap_view {
	const struct weir_flow *entries;
	const struct flow_aux *aux;
	const struct seg_slot *slots;
	uint32_t head[WEIR_FLOW_TO__COUNT]; /* timeout list heads */
	uint32_t retired_head;
	uint32_t n_active, worker, capacity, buckets, rotate;
	uint32_t held;
	uint64_t held_bytes;
	uint64_t next_id;
	uint64_t timeout_ns[WEIR_FLOW_TO__COUNT];
	uint64_t cnt[WEIR_FLOW_CNT__COUNT];
};

/* Copy-on-write snapshot state (see the top of this file). */
struct cow {
	uint32_t cursor;            /* entries below it are in the shadow */
	uint32_t hwm;               /* t->hwm at begin: the entries to copy */
	uint64_t *copied;           /* bit i: entry i copied ahead of the cursor */
	struct weir_flow *entries;  /* shadow, [capacity] */
	struct flow_aux *aux;       /* shadow, [capacity] */
	int done;                   /* view holds a finished copy */
	struct snap_view v;         /* saved at begin; entries/aux point to the shadow */
};

/*
 * Copy n bytes (a multiple of 16, both 16-aligned) into the shadow. The
 * data path never reads the shadow back: on x86, streaming stores write it
 * without reading its lines first and without evicting the worker's own;
 * shadow_fence() makes them visible before the copy is reported complete.
 */
static inline void shadow_copy(void *dst, const void *src, size_t n)
{
#ifdef __SSE2__
	__m128i *d = dst;
	const __m128i *s = src;

	for (size_t k = 0; k < n / 16; k++)
		_mm_stream_si128(d + k, _mm_load_si128(s + k));
#else
	memcpy(dst, src, n);
#endif
}

static inline void shadow_fence(void)
{
#ifdef __SSE2__
	_mm_sfence();
#endif
}

/*
 * Entry i (and aux i) is about to be written while a copy runs: copy it
 * first unless the copy has it already or never needs it (i >= hwm0, NIL).
 */
static __attribute__((noinline, cold)) void cow_touch(struct weir_flow_table *t, uint32_t i)
{
	struct cow *w = t->cow;

	if (i < w->cursor || i >= w->hwm)
		return;
	uint64_t bit = 1ull << (i & 63), *word = &w->copied[i >> 6];
	if (*word & bit)
		return;
	*word |= bit;
	shadow_copy(&w->entries[i], &t->entries[i], sizeof(struct weir_flow));
	shadow_copy(&w->aux[i], &t->aux[i], sizeof(struct flow_aux));
}

/* Before any write to entry i or aux i: one predictable branch when no copy runs. */
#define COW(t, i)                                  \
	do {                                       \
		if (unlikely((t)->cow_active))     \
			cow_touch((t), (i));       \
	} while (0)

/* ---- names ------------------------------------------------------------------ */

const char *weir_flow_counter_name(enum weir_flow_counter c)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_FLOW_CNT_##e] = s,
		WEIR_FLOW_COUNTER_LIST(WEIR_X)
#undef WEIR_X
	};
	return (unsigned)c < WEIR_FLOW_CNT__COUNT ? names[c] : "?";
}

const char *weir_flow_end_name(enum weir_flow_end r)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_FLOW_END_##e] = s,
		WEIR_FLOW_END_LIST(WEIR_X)
#undef WEIR_X
	};
	return (unsigned)r < WEIR_FLOW_END__COUNT ? names[r] : "?";
}

const char *weir_flow_state_name(unsigned state)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_FLOW_##e] = s,
		WEIR_FLOW_STATE_LIST(WEIR_X)
#undef WEIR_X
	};
	return state < RTE_DIM(names) ? names[state] : "?";
}

const char *weir_flow_timeout_name(enum weir_flow_timeout c)
{
	static const char *const names[] = {
#define WEIR_X(e, s, d) [WEIR_FLOW_TO_##e] = s,
		WEIR_FLOW_TIMEOUT_LIST(WEIR_X)
#undef WEIR_X
	};
	return (unsigned)c < WEIR_FLOW_TO__COUNT ? names[c] : "?";
}

const char *weir_tcp_class_name(enum weir_tcp_class c)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_TCP_##e] = s,
		WEIR_TCP_CLASS_LIST(WEIR_X)
#undef WEIR_X
	};
	return (unsigned)c < WEIR_TCP__COUNT ? names[c] : "?";
}

/* ---- configuration and memory ------------------------------------------------ */

void weir_flow_conf_default(struct weir_flow_conf *c)
{
	static const uint64_t secs[] = {
#define WEIR_X(e, s, d) [WEIR_FLOW_TO_##e] = d,
		WEIR_FLOW_TIMEOUT_LIST(WEIR_X)
#undef WEIR_X
	};

	memset(c, 0, sizeof(*c));
	c->capacity = 1u << 20;
	for (unsigned i = 0; i < WEIR_FLOW_TO__COUNT; i++)
		c->timeout_ns[i] = secs[i] * WEIR_FLOW_SEC;
	c->ooo_slots = 4096;
	c->ooo_slot_size = 2048;
	c->ooo_per_flow = 16;
	c->socket = -1;
}

static uint32_t n_buckets(const struct weir_flow_conf *c)
{
	if (c->buckets)
		return c->buckets;
	/* 2-4 ways per flow: a bucket overflows rarely below full capacity */
	uint32_t b = rte_align32pow2(c->capacity) / 4;
	return b ? b : 1;
}

static const char *conf_error(const struct weir_flow_conf *c)
{
	if (c->capacity == 0 || c->capacity > MAX_CAPACITY)
		return "capacity must be 1..2^30 flows";
	if (c->buckets && (!rte_is_power_of_2(c->buckets) || c->buckets > MAX_CAPACITY))
		return "buckets must be a power of two";
	for (unsigned i = 0; i < WEIR_FLOW_TO__COUNT; i++)
		if (c->timeout_ns[i] == 0 || c->timeout_ns[i] > 366 * 86400 * WEIR_FLOW_SEC)
			return "timeouts must be 1 ns..366 days";
	if (c->ooo_slots > UINT16_MAX)
		return "ooo_slots must be at most 65535";
	if (c->ooo_slot_size < 64 || c->ooo_slot_size > 16384)
		return "ooo_slot_size must be 64..16384 bytes";
	if (c->ooo_per_flow > WEIR_TCP_MAX_HELD)
		return "ooo_per_flow too large";
	return NULL;
}

/* The sizes of the five arrays, in allocation order. */
static void array_sizes(const struct weir_flow_conf *c, size_t sz[5])
{
	sz[0] = (size_t)n_buckets(c) * sizeof(struct bucket);
	sz[1] = (size_t)c->capacity * sizeof(struct weir_flow);
	sz[2] = (size_t)c->capacity * sizeof(struct flow_aux);
	sz[3] = ((size_t)c->ooo_slots + 1) * sizeof(struct seg_slot);
	sz[4] = (size_t)c->ooo_slots * c->ooo_slot_size + 1; /* +1: never a 0-byte request */
}

size_t weir_flow_table_memory(const struct weir_flow_conf *c)
{
	size_t sz[5], total = sizeof(struct weir_flow_table);

	if (conf_error(c))
		return 0;
	array_sizes(c, sz);
	for (unsigned i = 0; i < 5; i++)
		total += sz[i];
	return total;
}

void weir_flow_table_free(struct weir_flow_table *t)
{
	if (!t)
		return;
	if (t->cow) {
		rte_free(t->cow->entries);
		rte_free(t->cow->aux);
		rte_free(t->cow->copied);
		rte_free(t->cow);
	}
	rte_free(t->buckets);
	rte_free(t->entries);
	rte_free(t->aux);
	rte_free(t->slots);
	rte_free(t->slot_data);
	rte_free(t);
}

static void slots_init(struct weir_flow_table *t)
{
	/* ascending free list, so the first holds use the first slots */
	for (uint32_t s = t->conf.ooo_slots; s >= 1; s--) {
		t->slots[s].next = t->slot_free;
		t->slot_free = (uint16_t)s;
	}
	t->slots_free_n = t->conf.ooo_slots;
}

struct weir_flow_table *weir_flow_table_create(const struct weir_flow_conf *c, char *err,
					       size_t errlen)
{
	const char *bad = conf_error(c);
	size_t sz[5];

	if (bad) {
		snprintf(err, errlen, "flow table: %s", bad);
		return NULL;
	}
	struct weir_flow_table *t = rte_zmalloc_socket("weir_flow", sizeof(*t), RTE_CACHE_LINE_SIZE,
						       c->socket);
	if (!t)
		goto nomem;
	t->conf = *c;
	t->mask = n_buckets(c) - 1;
	t->free_head = t->retired_head = NIL;
	t->next_id = 1;
	for (unsigned i = 0; i < WEIR_FLOW_TO__COUNT; i++)
		t->tq[i].head = t->tq[i].tail = NIL;
	array_sizes(c, sz);
	void **arr[5] = {(void **)&t->buckets, (void **)&t->entries, (void **)&t->aux,
			 (void **)&t->slots, (void **)&t->slot_data};
	for (unsigned i = 0; i < 5; i++) {
		*arr[i] = rte_zmalloc_socket("weir_flow", sz[i], RTE_CACHE_LINE_SIZE, c->socket);
		if (!*arr[i])
			goto nomem;
	}
	slots_init(t);
	return t;
nomem:
	snprintf(err, errlen,
		 "flow table: cannot allocate %zu MiB for %u flows (lower the capacity or give the EAL more memory)",
		 weir_flow_table_memory(c) >> 20, c->capacity);
	weir_flow_table_free(t);
	return NULL;
}

uint32_t weir_flow_count(const struct weir_flow_table *t)
{
	return t->n_active;
}

uint64_t weir_flow_counter(const struct weir_flow_table *t, enum weir_flow_counter c)
{
	/* read while the worker counts: relaxed, each value whole */
	return (unsigned)c < WEIR_FLOW_CNT__COUNT ? __atomic_load_n(&t->cnt[c], __ATOMIC_RELAXED) : 0;
}

uint32_t weir_flow_tcp_held(const struct weir_flow_table *t)
{
	return t->conf.ooo_slots - t->slots_free_n;
}

void weir_flow_describe(const struct weir_flow *f, struct weir_flow_info *o)
{
	unsigned c = weir_flow_client(f);

	memset(o, 0, sizeof(*o));
	o->id = f->id;
	o->first_ts = f->first_ts;
	o->last_ts = f->last_ts;
	o->ip_version = f->key.ip_version;
	o->proto = f->key.proto;
	o->vlan = f->key.vlan;
	memcpy(o->client_ip, c ? f->key.hi_ip : f->key.lo_ip, 16);
	memcpy(o->server_ip, c ? f->key.lo_ip : f->key.hi_ip, 16);
	o->client_port = c ? f->key.hi_port : f->key.lo_port;
	o->server_port = c ? f->key.lo_port : f->key.hi_port;
	for (unsigned i = 0; i < 2; i++) { /* i = 0: to server, sent by the client */
		unsigned dir = c ^ i;
		o->pkts[i] = f->pkts[dir];
		o->bytes[i] = f->bytes[dir];
		o->tcp_flags[i] = f->tcp_flags[dir];
	}
	o->state = f->state;
	o->rules = f->rules;
}

/* ---- classes and timeout lists -------------------------------------------------- */

static inline unsigned flow_class(const struct weir_flow *f)
{
	switch (f->key.proto) {
	case IPPROTO_TCP:
		return f->state == WEIR_FLOW_NEW	 ? WEIR_FLOW_TO_TCP_NEW
		       : f->state == WEIR_FLOW_ESTABLISHED ? WEIR_FLOW_TO_TCP_ESTABLISHED
							   : WEIR_FLOW_TO_TCP_CLOSING;
	case IPPROTO_UDP:
		return WEIR_FLOW_TO_UDP;
	default:
		return WEIR_FLOW_TO_OTHER;
	}
}

static inline uint32_t flow_index(const struct weir_flow_table *t, const struct weir_flow *f)
{
	return (uint32_t)(f - t->entries);
}

/* Append flow i to its class list; it joins at its last_ts. */
static void tq_append(struct weir_flow_table *t, unsigned c, uint32_t i)
{
	const struct weir_flow *f = &t->entries[i];
	struct flow_aux *a = &t->aux[i];
	struct tq *q = &t->tq[c];
	uint64_t ms = (f->last_ts - f->first_ts) / NS_PER_MS;

	COW(t, i);
	COW(t, q->tail); /* NIL when empty: nothing */
	/* Rounded down and saturated: only ever a lower bound of the join time. */
	a->enq_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	a->prev = q->tail;
	a->next = NIL;
	if (q->tail == NIL)
		q->head = i;
	else
		t->aux[q->tail].next = i;
	q->tail = i;
}

static void tq_unlink(struct weir_flow_table *t, unsigned c, uint32_t i)
{
	struct flow_aux *a = &t->aux[i];
	struct tq *q = &t->tq[c];

	COW(t, i);
	COW(t, a->prev);
	COW(t, a->next);
	if (a->prev == NIL)
		q->head = a->next;
	else
		t->aux[a->prev].next = a->next;
	if (a->next == NIL)
		q->tail = a->prev;
	else
		t->aux[a->next].prev = a->prev;
}

static inline uint64_t joined_at(const struct weir_flow_table *t, uint32_t i)
{
	return t->entries[i].first_ts + (uint64_t)t->aux[i].enq_ms * NS_PER_MS;
}

/* Has `since` + `timeout` been reached at `now`? (no overflow, no wrap) */
static inline int reached(uint64_t since, uint64_t timeout, uint64_t now)
{
	return now >= since && now - since >= timeout;
}

static inline int timed_out(const struct weir_flow_table *t, const struct weir_flow *f,
			    uint64_t now)
{
	return reached(f->last_ts, t->conf.timeout_ns[flow_class(f)], now);
}

static inline enum weir_flow_end timeout_reason(const struct weir_flow *f)
{
	return flow_class(f) == WEIR_FLOW_TO_TCP_CLOSING ? WEIR_FLOW_END_CLOSED
							 : WEIR_FLOW_END_TIMEOUT;
}

/* ---- entries and buckets ------------------------------------------------------- */

static inline uint32_t key_hash(const struct weir_flow_key *k)
{
	return rte_hash_crc(k, sizeof(*k), HASH_SEED);
}

static inline struct home home_of(const struct weir_flow_table *t, uint32_t h)
{
	return (struct home){&t->buckets[h & t->mask], h, (uint16_t)((h >> 16) | 1)};
}

static inline struct bucket *home_alt(const struct weir_flow_table *t, const struct home *h)
{
	uint32_t p = h->hash & t->mask;
	/* a hash of the hash: independent of the primary's bits */
	uint32_t a = rte_hash_crc_4byte(h->hash, ALT_SEED) & t->mask;

	return &t->buckets[a != p ? a : (p + 1) & t->mask];
}

/* Keys are 8-aligned and 40 bytes: five words, no call to memcmp. */
static inline int key_equal(const struct weir_flow_key *a, const struct weir_flow_key *b)
{
	uint64_t x[5], y[5], diff = 0;

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	for (unsigned i = 0; i < 5; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

static inline uint32_t bucket_find(const struct weir_flow_table *t, const struct bucket *b,
				   uint16_t sig, const struct weir_flow_key *k)
{
	for (unsigned w = 0; w < WEIR_FLOW_WAYS; w++)
		if (b->sig[w] == sig && key_equal(&t->entries[b->idx[w]].key, k))
			return b->idx[w];
	return NIL;
}

static inline uint32_t home_find(const struct weir_flow_table *t, const struct home *h,
				 const struct weir_flow_key *k)
{
	uint32_t i = bucket_find(t, h->prim, h->sig, k);

	if (i == NIL && h->prim->spilled)
		i = bucket_find(t, home_alt(t, h), h->sig, k);
	return i;
}

static inline int bucket_free_way(const struct bucket *b)
{
	for (unsigned w = 0; w < WEIR_FLOW_WAYS; w++)
		if (b->sig[w] == 0)
			return (int)w;
	return -1;
}

/* A free way for a new key: in the primary, else in the alternate; -1 none. */
static inline int home_free_way(const struct weir_flow_table *t, const struct home *h,
				struct bucket **b)
{
	int w = bucket_free_way(h->prim);

	*b = h->prim;
	if (w < 0 && (*b = home_alt(t, h)) != h->prim)
		w = bucket_free_way(*b);
	return w;
}

static inline void home_insert(const struct home *h, struct bucket *b, int way, uint32_t i)
{
	b->sig[way] = h->sig;
	b->idx[way] = i;
	if (b != h->prim)
		h->prim->spilled++;
}

static int bucket_clear(struct bucket *b, uint32_t i)
{
	for (unsigned w = 0; w < WEIR_FLOW_WAYS; w++)
		if (b->sig[w] && b->idx[w] == i) {
			b->sig[w] = 0;
			return 1;
		}
	return 0;
}

static void home_remove(struct weir_flow_table *t, uint32_t i)
{
	struct home h = home_of(t, key_hash(&t->entries[i].key));

	if (!bucket_clear(h.prim, i) && bucket_clear(home_alt(t, &h), i))
		h.prim->spilled--;
}

static uint32_t entry_alloc(struct weir_flow_table *t)
{
	uint32_t i = t->free_head;

	if (i != NIL) {
		t->free_head = t->aux[i].next;
		return i;
	}
	return t->hwm < t->conf.capacity ? t->hwm++ : NIL;
}

static inline int entry_available(const struct weir_flow_table *t)
{
	return t->free_head != NIL || t->hwm < t->conf.capacity;
}

/* ---- held TCP segment slots ----------------------------------------------------- */

static inline uint8_t *slot_bytes(const struct weir_flow_table *t, uint16_t s)
{
	return t->slot_data + (size_t)(s - 1) * t->conf.ooo_slot_size;
}

static inline void slot_free(struct weir_flow_table *t, uint16_t s)
{
	t->slots[s].next = t->slot_free;
	t->slot_free = s;
	t->slots_free_n++;
}

static void slot_free_chain(struct weir_flow_table *t, uint16_t s)
{
	while (s) {
		uint16_t next = t->slots[s].next;
		slot_free(t, s);
		s = next;
	}
}

/* Free a flow direction's held pieces (they leave the held count). */
static void held_free_chain(struct weir_flow_table *t, uint16_t s)
{
	while (s) {
		uint16_t next = t->slots[s].next;
		t->held_n--;
		t->held_bytes -= t->slots[s].len;
		slot_free(t, s);
		s = next;
	}
}

/* Slots delivered by the previous call may be reused from now on. */
static inline void slots_reclaim(struct weir_flow_table *t)
{
	if (t->slot_done) {
		slot_free_chain(t, t->slot_done);
		t->slot_done = 0;
	}
}

/* ---- ending flows --------------------------------------------------------------- */

static const enum weir_flow_counter end_counter[WEIR_FLOW_END__COUNT] = {
	[WEIR_FLOW_END_TIMEOUT] = WEIR_FLOW_CNT_TIMEOUT,
	[WEIR_FLOW_END_CLOSED] = WEIR_FLOW_CNT_CLOSED,
	[WEIR_FLOW_END_EVICTED] = WEIR_FLOW_CNT_EVICTED,
	[WEIR_FLOW_END_FLUSHED] = WEIR_FLOW_CNT_FLUSHED,
};

/* Callback, then free: flow i is already out of its list and its bucket. */
static void flow_finish(struct weir_flow_table *t, uint32_t i, enum weir_flow_end why,
			weir_flow_end_fn cb, void *ctx)
{
	struct flow_aux *a = &t->aux[i];

	COW(t, i); /* the callback may change the flow */
	t->cnt[end_counter[why]]++;
	if (cb)
		cb(ctx, t, &t->entries[i], why);
	held_free_chain(t, a->held[0]);
	held_free_chain(t, a->held[1]);
	a->held[0] = a->held[1] = 0;
	a->next = t->free_head;
	t->free_head = i;
	t->n_active--;
}

static void flow_end(struct weir_flow_table *t, uint32_t i, enum weir_flow_end why,
		     weir_flow_end_fn cb, void *ctx)
{
	tq_unlink(t, flow_class(&t->entries[i]), i);
	home_remove(t, i);
	flow_finish(t, i, why, cb, ctx);
}

/*
 * A flow that a packet of the current burst ends after the burst returned
 * it: a closed TCP flow whose 5-tuple starts over, or one that timed out
 * before a later packet of the burst. Unhash it now so the packet gets its
 * own flow, but keep the entry (earlier packets of this burst point to it)
 * until the next call, which runs the callback.
 */
static void flow_retire(struct weir_flow_table *t, uint32_t i)
{
	tq_unlink(t, flow_class(&t->entries[i]), i); /* COW(t, i) */
	home_remove(t, i);
	t->aux[i].next = t->retired_head;
	t->retired_head = i;
}

/*
 * The reason is the one expire gives, from the state the flow was left in:
 * closed for port reuse (only a closed flow is reused), timeout or closed
 * for a timeout.
 */
static void retired_drain(struct weir_flow_table *t, weir_flow_end_fn cb, void *ctx)
{
	while (t->retired_head != NIL) {
		uint32_t i = t->retired_head;
		t->retired_head = t->aux[i].next;
		flow_finish(t, i, timeout_reason(&t->entries[i]), cb, ctx);
	}
}

/* Common start of every call that may end flows or reuse slots. */
static inline void call_start(struct weir_flow_table *t, weir_flow_end_fn cb, void *ctx)
{
	if (unlikely(t->retired_head != NIL))
		retired_drain(t, cb, ctx);
	slots_reclaim(t);
}

/* ---- eviction ----------------------------------------------------------------- */

static inline int evictable(const struct weir_flow *f)
{
	return !(f->flags & WEIR_FLOW_F_BURST);
}

/* The least recently seen of v and the flows of b not returned in this burst. */
static uint32_t bucket_lru(const struct weir_flow_table *t, const struct bucket *b, uint32_t v)
{
	for (unsigned w = 0; w < WEIR_FLOW_WAYS; w++) {
		if (!b->sig[w])
			continue;
		const struct weir_flow *f = &t->entries[b->idx[w]];
		if (evictable(f) && (v == NIL || f->last_ts < t->entries[v].last_ts))
			v = b->idx[w];
	}
	return v;
}

static uint32_t home_victim(const struct weir_flow_table *t, const struct home *h)
{
	const struct bucket *alt = home_alt(t, h);
	uint32_t v = bucket_lru(t, h->prim, NIL);

	return alt != h->prim ? bucket_lru(t, alt, v) : v;
}

/* The timeout-list head nearest its own deadline, or NIL. */
static uint32_t list_victim(const struct weir_flow_table *t)
{
	uint32_t v = NIL;
	uint64_t best = 0;

	for (unsigned c = 0; c < WEIR_FLOW_TO__COUNT; c++) {
		uint32_t i = t->tq[c].head;
		if (i == NIL || !evictable(&t->entries[i]))
			continue;
		uint64_t deadline = t->entries[i].last_ts + t->conf.timeout_ns[c];
		if (v == NIL || deadline < best) {
			v = i;
			best = deadline;
		}
	}
	return v;
}

/*
 * Make room for a new key of home h at event time ts: end a victim, then
 * return a free way (bucket in *b), or -1 when nothing may be evicted.
 */
static int make_room(struct weir_flow_table *t, const struct home *h, struct bucket **b,
		     uint64_t ts)
{
	uint32_t v;

	t->cnt[WEIR_FLOW_CNT_TABLE_FULL]++;
	if (home_free_way(t, h, b) < 0)
		v = home_victim(t, h);
	else if ((v = list_victim(t)) == NIL)
		v = home_victim(t, h);
	if (v == NIL)
		return -1;
	const struct weir_flow *f = &t->entries[v];
	flow_end(t, v, timed_out(t, f, ts) ? timeout_reason(f) : WEIR_FLOW_END_EVICTED,
		 t->conf.on_end, t->conf.on_end_ctx);
	return home_free_way(t, h, b);
}

/* ---- per-packet work -------------------------------------------------------------- */

static inline int has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* memcmp's order of two addresses (<0, 0, >0), on two big-endian words. */
static inline int addr_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t u = rte_be_to_cpu_64(x[i]), v = rte_be_to_cpu_64(y[i]);
		if (u != v)
			return u < v ? -1 : 1;
	}
	return 0;
}

/* Canonical key and direction of p; -1, or the no-flow counter that applies. */
static inline int make_key(const struct weir_pkt *p, struct weir_flow_key *k, uint8_t *dir)
{
	uint16_t sp = 0, dp = 0;

	if (p->ip_version != 4 && p->ip_version != 6)
		return WEIR_FLOW_CNT_NOT_IP;
	if ((p->flags & WEIR_PKT_F_FRAG) && !(p->flags & WEIR_PKT_F_FRAG_FIRST))
		return WEIR_FLOW_CNT_FRAGMENT;
	if (has_ports(p->l4_proto)) {
		if (!(p->flags & (WEIR_PKT_F_PORTS | WEIR_PKT_F_L4)))
			return WEIR_FLOW_CNT_NO_PORTS;
		sp = p->src_port;
		dp = p->dst_port;
	}
	int c = addr_cmp(p->src_ip, p->dst_ip);
	unsigned d = c > 0 || (c == 0 && sp > dp);
	memcpy(k->lo_ip, d ? p->dst_ip : p->src_ip, 16);
	memcpy(k->hi_ip, d ? p->src_ip : p->dst_ip, 16);
	k->lo_port = d ? dp : sp;
	k->hi_port = d ? sp : dp;
	k->vlan = p->vlan;
	k->proto = p->l4_proto;
	k->ip_version = p->ip_version;
	*dir = (uint8_t)d;
	return -1;
}

static inline void set_client(struct weir_flow *f, unsigned dir)
{
	f->flags = (uint8_t)((f->flags & ~WEIR_FLOW_F_CLIENT_HI) | (dir ? WEIR_FLOW_F_CLIENT_HI : 0));
}

/* TCP flags into state; a class change moves the flow to its new list. */
static void tcp_track(struct weir_flow_table *t, struct weir_flow *f, unsigned dir, uint8_t fl)
{
	unsigned before = flow_class(f);

	f->tcp_flags[dir] |= fl;
	if (f->state == WEIR_FLOW_NEW && (fl & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		set_client(f, dir);
	if (fl & TCP_RST)
		f->state = WEIR_FLOW_CLOSED;
	else if (fl & TCP_FIN)
		f->state = (f->tcp_flags[0] & f->tcp_flags[1] & TCP_FIN)
				   ? WEIR_FLOW_CLOSED
				   : RTE_MAX(f->state, (uint8_t)WEIR_FLOW_CLOSING);
	else if (f->state == WEIR_FLOW_NEW && f->pkts[0] && f->pkts[1] &&
		 (fl & (TCP_SYN | TCP_ACK)) == TCP_ACK)
		f->state = WEIR_FLOW_ESTABLISHED;
	unsigned after = flow_class(f);
	if (after != before) {
		uint32_t i = flow_index(t, f);
		tq_unlink(t, before, i);
		tq_append(t, after, i);
	}
}

/* Count packet p (direction dir, time ts) into its flow. */
static inline void flow_account(struct weir_flow_table *t, struct weir_flow *f,
				const struct weir_pkt *p, unsigned dir, uint64_t ts)
{
	if (ts > f->last_ts)
		f->last_ts = ts;
	else if (ts < f->first_ts)
		f->first_ts = ts; /* keeps joined_at() a lower bound */
	f->pkts[dir]++;
	f->bytes[dir] += p->ip_bytes;
	if (f->key.proto == IPPROTO_TCP)
		tcp_track(t, f, dir, p->tcp_flags);
	else if (f->state == WEIR_FLOW_NEW && f->pkts[dir ^ 1])
		f->state = WEIR_FLOW_ESTABLISHED;
}

static uint32_t flow_create(struct weir_flow_table *t, const struct home *h,
			    const struct weir_flow_key *k, const struct weir_pkt *p, unsigned dir,
			    uint64_t ts)
{
	struct bucket *b;
	int way = home_free_way(t, h, &b);

	if (unlikely(way < 0 || !entry_available(t))) {
		way = make_room(t, h, &b, ts);
		if (way < 0) {
			t->cnt[WEIR_FLOW_CNT_NO_FLOW]++;
			t->cnt[WEIR_FLOW_CNT_FULL]++;
			return NIL;
		}
	}
	uint32_t i = entry_alloc(t);
	struct weir_flow *f = &t->entries[i];
	COW(t, i); /* a slot free at begin: copied, never read, but kept simple */
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->first_ts = f->last_ts = ts;
	f->id = (uint64_t)t->conf.worker << 48 | (t->next_id++ & ((1ull << 48) - 1));
	/* a SYN+ACK comes from the server */
	int from_server = k->proto == IPPROTO_TCP &&
			  (p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
	set_client(f, dir ^ (unsigned)from_server);
	/* F_ALT: a snapshot puts the flow back in the same bucket, where it is sure to fit */
	f->flags |= (uint8_t)(WEIR_FLOW_F_NEW | (b != h->prim ? WEIR_FLOW_F_ALT : 0));
	t->aux[i].held[0] = t->aux[i].held[1] = 0;
	home_insert(h, b, way, i);
	tq_append(t, flow_class(f), i);
	t->cnt[WEIR_FLOW_CNT_CREATED]++;
	t->n_active++;
	return i;
}

/* A SYN without ACK on a closed TCP flow is a new connection on the 5-tuple. */
static inline int tcp_reopens(const struct weir_flow *f, const struct weir_pkt *p)
{
	return f->key.proto == IPPROTO_TCP && f->state == WEIR_FLOW_CLOSED &&
	       (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

/*
 * A hit on a flow that timed out before this packet (the comparison expire
 * makes, at the packet's time): end it as expire would have, had it run in
 * time, so that the packet starts a new flow whatever the burst cuts and
 * expire budgets were. A flow this burst returned already keeps its entry
 * until the next call (its callback waits); any other ends now, like an
 * eviction.
 */
static void flow_lapse(struct weir_flow_table *t, uint32_t i)
{
	const struct weir_flow *f = &t->entries[i];

	if (f->flags & WEIR_FLOW_F_BURST)
		flow_retire(t, i);
	else
		flow_end(t, i, timeout_reason(f), t->conf.on_end, t->conf.on_end_ctx);
}

static struct weir_flow *find_or_create(struct weir_flow_table *t, const struct weir_flow_key *k,
					const struct home *h, const struct weir_pkt *p,
					unsigned dir, uint64_t ts)
{
	uint32_t i = home_find(t, h, k);

	if (i != NIL) {
		/* key, last_ts (first line) and state (second) are in cache: prefetched */
		const struct weir_flow *f = &t->entries[i];
		if (unlikely(timed_out(t, f, ts))) {
			flow_lapse(t, i);
			i = NIL;
		} else if (unlikely(tcp_reopens(f, p))) {
			flow_retire(t, i);
			i = NIL;
		}
	}
	if (i == NIL) {
		i = flow_create(t, h, k, p, dir, ts);
		if (i == NIL)
			return NULL;
	} else {
		/* created flows were COW'd by flow_create; callers write returned flows */
		COW(t, i);
		t->cnt[WEIR_FLOW_CNT_HITS]++;
	}
	struct weir_flow *f = &t->entries[i];
	flow_account(t, f, p, dir, ts);
	f->flags |= WEIR_FLOW_F_BURST;
	return f;
}

/* A hit on entry i will copy it while a copy runs: fetch what cow_touch reads and writes. */
static inline void prefetch_cow(const struct weir_flow_table *t, uint32_t i)
{
	const struct cow *w = t->cow;

	if (i < w->cursor || i >= w->hwm)
		return;
	rte_prefetch0(&w->copied[i >> 6]);
	rte_prefetch0(&t->aux[i]);
#ifndef __SSE2__ /* streaming stores do not read the shadow */
	__builtin_prefetch(&w->entries[i], 1, 3);
	__builtin_prefetch((const uint8_t *)&w->entries[i] + RTE_CACHE_LINE_SIZE, 1, 3);
	__builtin_prefetch(&w->aux[i], 1, 3);
#endif
}

/*
 * Second pass: fetch the flows whose signature matches in the primary
 * bucket; failing that, the alternate bucket if the primary spilled.
 * cow: a copy runs (a constant where inlined: one branch per burst).
 */
static inline void prefetch_candidates(const struct weir_flow_table *t, const struct home *h,
				       int cow)
{
	const struct bucket *b = h->prim;
	int hit = 0;

	for (unsigned w = 0; w < WEIR_FLOW_WAYS; w++)
		if (b->sig[w] == h->sig) {
			const struct weir_flow *f = &t->entries[b->idx[w]];
			rte_prefetch0(f);
			rte_prefetch0((const uint8_t *)f + RTE_CACHE_LINE_SIZE);
			if (cow)
				prefetch_cow(t, b->idx[w]);
			hit = 1;
		}
	if (!hit && b->spilled)
		rte_prefetch0(home_alt(t, h));
}

static unsigned lookup_chunk(struct weir_flow_table *t, const struct weir_pkt *const *pkts,
			     const uint64_t *ts, unsigned n, struct weir_flow **flows_out,
			     uint8_t *dir_out, uint8_t *state_out)
{
	struct weir_flow_key keys[BURST_MAX];
	struct home homes[BURST_MAX];
	uint8_t keyed[BURST_MAX];
	unsigned found = 0;

	t->cnt[WEIR_FLOW_CNT_LOOKUPS] += n;
	for (unsigned i = 0; i < n; i++) {
		int why = make_key(pkts[i], &keys[i], &dir_out[i]);
		flows_out[i] = NULL;
		keyed[i] = why < 0;
		if (unlikely(why >= 0)) {
			dir_out[i] = 0;
			t->cnt[WEIR_FLOW_CNT_NO_FLOW]++;
			t->cnt[why]++;
			continue;
		}
		homes[i] = home_of(t, key_hash(&keys[i]));
		rte_prefetch0(homes[i].prim);
	}
	if (likely(!t->cow_active)) {
		for (unsigned i = 0; i < n; i++)
			if (keyed[i])
				prefetch_candidates(t, &homes[i], 0);
	} else {
		for (unsigned i = 0; i < n; i++)
			if (keyed[i])
				prefetch_candidates(t, &homes[i], 1);
	}
	for (unsigned i = 0; i < n; i++) {
		if (!keyed[i])
			continue;
		flows_out[i] = find_or_create(t, &keys[i], &homes[i], pkts[i], dir_out[i], ts[i]);
		found += flows_out[i] != NULL;
		/* a later packet of the burst may close the flow: keep this packet's view */
		if (state_out && flows_out[i])
			state_out[i] = flows_out[i]->state;
	}
	return found;
}

unsigned weir_flow_lookup_burst(struct weir_flow_table *t, const struct weir_pkt *const *pkts,
				const uint64_t *ts, unsigned n, struct weir_flow **flows_out,
				uint8_t *dir_out, uint8_t *state_out)
{
	unsigned found = 0;

	call_start(t, t->conf.on_end, t->conf.on_end_ctx);
	for (unsigned off = 0; off < n; off += BURST_MAX)
		found += lookup_chunk(t, pkts + off, ts + off, RTE_MIN(n - off, (unsigned)BURST_MAX),
				      flows_out + off, dir_out + off, state_out ? state_out + off : NULL);
	/* Only now: every chunk's flows are protected from eviction by later chunks. */
	for (unsigned i = 0; i < n; i++)
		if (flows_out[i])
			flows_out[i]->flags &= (uint8_t)~WEIR_FLOW_F_BURST;
	return found;
}

/* ---- expiry ---------------------------------------------------------------------- */

/*
 * Class list c is ordered by join time. A head that joined less than the
 * timeout ago means every flow behind it did too: stop. Otherwise the head
 * either timed out (end it) or was seen since it joined (it rejoins at the
 * tail; once the walk comes back to a rejoined flow, it has seen them all).
 */
static unsigned expire_class(struct weir_flow_table *t, unsigned c, uint64_t now,
			     unsigned *budget, weir_flow_end_fn cb, void *ctx)
{
	uint64_t timeout = t->conf.timeout_ns[c];
	uint32_t first_rejoined = NIL, i;
	unsigned ended = 0;

	while (*budget && (i = t->tq[c].head) != NIL && i != first_rejoined) {
		if (!reached(joined_at(t, i), timeout, now))
			break;
		(*budget)--;
		const struct weir_flow *f = &t->entries[i];
		if (reached(f->last_ts, timeout, now)) {
			flow_end(t, i, timeout_reason(f), cb, ctx);
			ended++;
		} else {
			tq_unlink(t, c, i);
			tq_append(t, c, i);
			if (first_rejoined == NIL)
				first_rejoined = i;
		}
	}
	return ended;
}

unsigned weir_flow_expire(struct weir_flow_table *t, uint64_t now, unsigned budget,
			  weir_flow_end_fn cb, void *ctx)
{
	unsigned ended = 0;

	if (!cb) {
		cb = t->conf.on_end;
		ctx = t->conf.on_end_ctx;
	}
	call_start(t, cb, ctx);
	for (unsigned k = 0; k < WEIR_FLOW_TO__COUNT && budget; k++)
		ended += expire_class(t, (t->rotate + k) % WEIR_FLOW_TO__COUNT, now, &budget, cb,
				      ctx);
	t->rotate++;
	return ended;
}

/* Timed out at now: the reason expire gives (whatever its budget was); the rest flushed. */
unsigned weir_flow_flush_at(struct weir_flow_table *t, uint64_t now, weir_flow_end_fn cb,
			    void *ctx)
{
	unsigned ended = t->n_active;

	if (!cb) {
		cb = t->conf.on_end;
		ctx = t->conf.on_end_ctx;
	}
	call_start(t, cb, ctx);
	for (unsigned c = 0; c < WEIR_FLOW_TO__COUNT; c++)
		while (t->tq[c].head != NIL) {
			uint32_t i = t->tq[c].head;
			const struct weir_flow *f = &t->entries[i];
			flow_end(t, i, timed_out(t, f, now) ? timeout_reason(f) : WEIR_FLOW_END_FLUSHED,
				 cb, ctx);
		}
	return ended;
}

/* now 0: no flow has timed out (timeouts are at least 1 ns, since must be <= now). */
unsigned weir_flow_flush(struct weir_flow_table *t, weir_flow_end_fn cb, void *ctx)
{
	return weir_flow_flush_at(t, 0, cb, ctx);
}

/* ---- TCP ordering ----------------------------------------------------------------- */

static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

/* One call's work on one flow direction. */
struct seq_ctx {
	struct weir_flow_table *t;
	uint16_t *held;            /* head of the direction's held pieces */
	uint32_t *nxt;             /* next expected sequence number */
	struct weir_tcp_delivery *d;
	uint32_t gap;              /* bytes given up since the last range */
};

static inline void range_add(struct seq_ctx *c, const uint8_t *data, uint32_t len)
{
	struct weir_tcp_range *r = &c->d->r[c->d->n++];

	r->data = data;
	r->len = len;
	r->gap_before = c->gap;
	c->gap = 0;
}

/* Deliver held pieces that are in order now; drop those wholly seen. */
static void release_held(struct seq_ctx *c)
{
	struct weir_flow_table *t = c->t;
	uint16_t s;

	while ((s = *c->held) != 0 && seq_diff(t->slots[s].seq, *c->nxt) <= 0) {
		struct seg_slot *sl = &t->slots[s];
		uint32_t end = sl->seq + sl->len;
		*c->held = sl->next;
		t->held_n--;
		t->held_bytes -= sl->len;
		if (seq_diff(end, *c->nxt) <= 0) {
			slot_free(t, s);
			continue;
		}
		uint32_t cut = *c->nxt - sl->seq;
		range_add(c, slot_bytes(t, s) + cut, end - *c->nxt);
		*c->nxt = end;
		t->cnt[WEIR_FLOW_CNT_TCP_RELEASED]++;
		sl->next = t->slot_done; /* the caller still reads it */
		t->slot_done = s;
	}
}

/* Do held pieces already cover [seq, seq + len)? */
static int held_covers(const struct seq_ctx *c, uint32_t seq, uint32_t len)
{
	const struct weir_flow_table *t = c->t;
	uint32_t at = seq, end = seq + len;

	for (uint16_t s = *c->held; s && seq_diff(t->slots[s].seq, at) <= 0; s = t->slots[s].next) {
		uint32_t e = t->slots[s].seq + t->slots[s].len;
		if (seq_diff(e, at) > 0)
			at = e;
		if (seq_diff(at, end) >= 0)
			return 1;
	}
	return 0;
}

static unsigned held_count(const struct seq_ctx *c)
{
	unsigned n = 0;

	for (uint16_t s = *c->held; s; s = c->t->slots[s].next)
		n++;
	return n;
}

/* Link slot s into the held list, ascending by seq (after equal ones). */
static void held_insert(struct seq_ctx *c, uint16_t s)
{
	struct seg_slot *slots = c->t->slots;
	uint16_t *pp = c->held;

	while (*pp && seq_diff(slots[*pp].seq, slots[s].seq) <= 0)
		pp = &slots[*pp].next;
	slots[s].next = *pp;
	*pp = s;
}

/* Copy a segment ahead of nxt into pool slots; 0 when pool or limit say no. */
static int hold(struct seq_ctx *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct weir_flow_table *t = c->t;
	uint32_t size = t->conf.ooo_slot_size;
	uint32_t need = (len + size - 1) / size;

	if (held_count(c) + need > t->conf.ooo_per_flow) {
		t->cnt[WEIR_FLOW_CNT_TCP_FLOW_LIMIT]++;
		return 0;
	}
	if (t->slots_free_n < need) {
		t->cnt[WEIR_FLOW_CNT_TCP_POOL_FULL]++;
		return 0;
	}
	for (uint32_t off = 0; off < len; off += size) {
		uint16_t s = t->slot_free;
		uint32_t n = RTE_MIN(size, len - off);
		t->slot_free = t->slots[s].next;
		t->slots_free_n--;
		t->slots[s].seq = seq + off;
		t->slots[s].len = (uint16_t)n;
		memcpy(slot_bytes(t, s), data + off, n);
		held_insert(c, s);
		t->held_n++;
		t->held_bytes += n;
	}
	return 1;
}

/*
 * Give up the hole in front of the first byte on hand (the first held
 * piece, or the segment starting at `start`) and deliver what follows.
 */
static void skip_hole(struct seq_ctx *c, uint32_t start)
{
	struct weir_flow_table *t = c->t;
	uint32_t first = start;

	if (*c->held && seq_diff(t->slots[*c->held].seq, start) < 0)
		first = t->slots[*c->held].seq;
	uint32_t gap = first - *c->nxt;
	t->cnt[WEIR_FLOW_CNT_TCP_GAPS]++;
	t->cnt[WEIR_FLOW_CNT_TCP_GAP_BYTES] += gap;
	c->gap += gap;
	*c->nxt = first;
	release_held(c);
}

/* Classify the bytes [start, start + len) against nxt and deliver or hold them. */
static enum weir_tcp_class place(struct seq_ctx *c, uint32_t start, const uint8_t *data,
				 uint32_t len)
{
	for (;;) {
		if (seq_diff(start, *c->nxt) <= 0) {
			uint32_t end = start + len;
			if (seq_diff(end, *c->nxt) <= 0)
				return WEIR_TCP_RETRANS;
			uint32_t cut = *c->nxt - start;
			range_add(c, data + cut, len - cut);
			*c->nxt = end;
			release_held(c);
			return cut ? WEIR_TCP_OVERLAP : WEIR_TCP_IN_ORDER;
		}
		if (held_covers(c, start, len))
			return WEIR_TCP_RETRANS;
		if (hold(c, start, data, len))
			return WEIR_TCP_HELD;
		/* Each turn delivers at least one piece or makes the segment in order. */
		skip_hole(c, start);
	}
}

static inline void seq_ctx_init(struct seq_ctx *c, struct weir_flow_table *t,
				struct weir_flow *f, unsigned dir, struct weir_tcp_delivery *d)
{
	c->t = t;
	c->held = &t->aux[flow_index(t, f)].held[dir];
	c->nxt = &f->next_seq[dir];
	c->d = d;
	c->gap = 0;
	d->n = 0;
	d->cls = WEIR_TCP_EMPTY;
}

void weir_flow_tcp_segment(struct weir_flow_table *t, struct weir_flow *f, unsigned dir,
			   uint32_t seq, uint8_t tcp_flags, const uint8_t *payload, uint32_t len,
			   struct weir_tcp_delivery *d)
{
	uint32_t start = seq + ((tcp_flags & TCP_SYN) ? 1 : 0);
	struct seq_ctx c;

	COW(t, flow_index(t, f)); /* next_seq, anchors, held heads */
	slots_reclaim(t);
	seq_ctx_init(&c, t, f, dir & 1, d);
	if (!(f->flags & WEIR_FLOW_F_SEQ(dir & 1))) {
		/* a bare ACK may be a keep-alive, one byte behind: no anchor */
		if (!(tcp_flags & TCP_SYN) && len == 0)
			goto out;
		f->next_seq[dir & 1] = start;
		f->flags |= (uint8_t)WEIR_FLOW_F_SEQ(dir & 1);
	}
	if (len)
		d->cls = place(&c, start, payload, len);
out:
	t->cnt[WEIR_FLOW_CNT_TCP_EMPTY + d->cls]++;
}

void weir_flow_tcp_drain(struct weir_flow_table *t, struct weir_flow *f, unsigned dir,
			 struct weir_tcp_delivery *d)
{
	struct seq_ctx c;

	COW(t, flow_index(t, f));
	slots_reclaim(t);
	seq_ctx_init(&c, t, f, dir & 1, d);
	while (*c.held)
		skip_hole(&c, t->slots[*c.held].seq);
}

/* ---- snapshots -------------------------------------------------------------------- */

/* The format is described with the API in weir_flow.h. */
#define SNAP_MAGIC 0x544c4657u /* "WFLT" as little-endian bytes */
#define SNAP_VERSION 1u
#define SNAP_REC 120u
#define SNAP_HDR (104u + 8u * WEIR_FLOW_CNT__COUNT)
#define SNAP_CRC_OFF 44u
#define SNAP_RETIRED WEIR_FLOW_TO__COUNT /* list byte of a retired flow */
#define SNAP_FLAGS                                                                       \
	(WEIR_FLOW_F_CLIENT_HI | WEIR_FLOW_F_SEQ(0) | WEIR_FLOW_F_SEQ(1) | WEIR_FLOW_F_ALT | \
	 WEIR_FLOW_F_NEW | WEIR_FLOW_F_DROP)
#define ID_COUNTER ((1ull << 48) - 1)

_Static_assert(SNAP_HDR == 288, "the header's size is part of the format");

static inline void put16(uint8_t *p, uint16_t v)
{
	v = rte_cpu_to_le_16(v);
	memcpy(p, &v, 2);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_le_32(v);
	memcpy(p, &v, 4);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	v = rte_cpu_to_le_64(v);
	memcpy(p, &v, 8);
}

static inline uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return rte_le_to_cpu_16(v);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rte_le_to_cpu_32(v);
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return rte_le_to_cpu_64(v);
}

/* Standard CRC32C of the header with its CRC field taken as 0. */
static uint32_t snap_header_crc(const uint8_t *h)
{
	uint32_t crc = rte_hash_crc(h, SNAP_CRC_OFF, UINT32_MAX);

	crc = rte_hash_crc_4byte(0, crc);
	crc = rte_hash_crc(h + SNAP_CRC_OFF + 4, SNAP_HDR - SNAP_CRC_OFF - 4, crc);
	return ~crc;
}

size_t weir_flow_table_snapshot_size(const struct weir_flow_table *t)
{
	/* n_active counts the retired flows too: they are carried */
	return SNAP_HDR + (size_t)t->n_active * SNAP_REC;
}

size_t weir_flow_table_snapshot_max(const struct weir_flow_table *t)
{
	return SNAP_HDR + (size_t)t->conf.capacity * SNAP_REC;
}

/* What a snapshot found: flows by kind, and the held pieces it left out. */
struct snap_totals {
	uint32_t live, retired, held;
	uint64_t held_bytes;
};

/* The live table as a view: what weir_flow_table_snapshot writes, and what cow_begin saves. */
static void view_of(const struct weir_flow_table *t, struct snap_view *v)
{
	v->entries = t->entries;
	v->aux = t->aux;
	v->slots = t->slots;
	for (unsigned c = 0; c < WEIR_FLOW_TO__COUNT; c++) {
		v->head[c] = t->tq[c].head;
		v->timeout_ns[c] = t->conf.timeout_ns[c];
	}
	v->retired_head = t->retired_head;
	v->n_active = t->n_active;
	v->worker = t->conf.worker;
	v->capacity = t->conf.capacity;
	v->buckets = t->mask + 1;
	/* expire only uses rotate modulo the class count */
	v->rotate = t->rotate % WEIR_FLOW_TO__COUNT;
	v->held = t->held_n;
	v->held_bytes = t->held_bytes;
	v->next_id = t->next_id;
	memcpy(v->cnt, t->cnt, sizeof(v->cnt));
}

static void held_tally(const struct snap_view *v, uint32_t i, struct snap_totals *s)
{
	for (unsigned d = 0; d < 2; d++)
		for (uint16_t x = v->aux[i].held[d]; x; x = v->slots[x].next) {
			s->held++;
			s->held_bytes += v->slots[x].len;
		}
}

static void put_flow(uint8_t *p, const struct snap_view *v, uint32_t i, unsigned list)
{
	const struct weir_flow *f = &v->entries[i];

	memcpy(p, f->key.lo_ip, 16);
	memcpy(p + 16, f->key.hi_ip, 16);
	put16(p + 32, f->key.lo_port);
	put16(p + 34, f->key.hi_port);
	put16(p + 36, f->key.vlan);
	p[38] = f->key.proto;
	p[39] = f->key.ip_version;
	put64(p + 40, f->first_ts);
	put64(p + 48, f->last_ts);
	put64(p + 56, f->id);
	for (unsigned d = 0; d < 2; d++) {
		put64(p + 64 + 8 * d, f->pkts[d]);
		put64(p + 80 + 8 * d, f->bytes[d]);
		put32(p + 96 + 4 * d, f->next_seq[d]);
		p[108 + d] = f->tcp_flags[d];
	}
	put32(p + 104, f->rules);
	p[110] = f->state;
	p[111] = f->flags & SNAP_FLAGS; /* F_BURST only means something inside a call */
	put32(p + 112, v->aux[i].enq_ms);
	p[116] = (uint8_t)list;
	p[117] = p[118] = p[119] = 0;
}

static void put_header(uint8_t *h, const struct snap_view *v, const struct snap_totals *s)
{
	put32(h + 0, SNAP_MAGIC);
	put16(h + 4, SNAP_VERSION);
	put16(h + 6, 0);
	put32(h + 8, SNAP_REC);
	put32(h + 12, WEIR_FLOW_CNT__COUNT);
	put32(h + 16, s->live);
	put32(h + 20, s->retired);
	put32(h + 24, s->held);
	put32(h + 28, v->worker);
	put32(h + 32, v->capacity);
	put32(h + 36, v->buckets);
	put32(h + 40, v->rotate);
	put32(h + SNAP_CRC_OFF, 0);
	put64(h + 48, v->next_id);
	put64(h + 56, s->held_bytes);
	for (unsigned c = 0; c < WEIR_FLOW_TO__COUNT; c++)
		put64(h + 64 + 8 * c, v->timeout_ns[c]);
	for (unsigned k = 0; k < WEIR_FLOW_CNT__COUNT; k++)
		put64(h + 104 + 8 * k, v->cnt[k]);
	put32(h + SNAP_CRC_OFF, snap_header_crc(h));
}

/*
 * Records of one list, from i on: `next` is aux.next for the timeout lists
 * and the retired list alike. Stops at `end` so that a list longer than
 * n_active says could never write past the size the caller was given.
 */
static uint8_t *put_list(const struct snap_view *v, uint32_t i, unsigned list, uint8_t *p,
			 const uint8_t *end, struct snap_totals *s)
{
	for (; i != NIL; i = v->aux[i].next) {
		uint32_t nx = v->aux[i].next;
		if (p == end)
			return NULL;
		if (nx != NIL) /* list order is not memory order: fetch the next flow early */
			rte_prefetch0(&v->entries[nx]);
		if (v->slots && unlikely(v->aux[i].held[0] | v->aux[i].held[1]))
			held_tally(v, i, s);
		put_flow(p, v, i, list);
		p += SNAP_REC;
	}
	return p;
}

static size_t view_snapshot_size(const struct snap_view *v)
{
	/* n_active counts the retired flows too: they are carried */
	return SNAP_HDR + (size_t)v->n_active * SNAP_REC;
}

/* The snapshot of a view: live lists class by class, then the retired list. */
static size_t view_snapshot(const struct snap_view *v, void *buf, size_t len)
{
	size_t need = view_snapshot_size(v);
	struct snap_totals s = {0};
	uint8_t *start = (uint8_t *)buf + SNAP_HDR, *end = (uint8_t *)buf + need, *p = start;

	if (!buf || len < need)
		return 0;
	if (!v->slots) { /* taken when the view was */
		s.held = v->held;
		s.held_bytes = v->held_bytes;
	}
	for (unsigned c = 0; c < WEIR_FLOW_TO__COUNT && p; c++)
		p = put_list(v, v->head[c], c, p, end, &s);
	uint8_t *lists_end = p;
	if (p)
		p = put_list(v, v->retired_head, SNAP_RETIRED, p, end, &s);
	if (p != end)
		return 0; /* the lists disagree with n_active: never hand out a partial table */
	s.live = (uint32_t)((size_t)(lists_end - start) / SNAP_REC);
	s.retired = (uint32_t)((size_t)(end - lists_end) / SNAP_REC);
	put_header(buf, v, &s);
	return need;
}

size_t weir_flow_table_snapshot(const struct weir_flow_table *t, void *buf, size_t len)
{
	struct snap_view v;

	view_of(t, &v);
	return view_snapshot(&v, buf, len);
}

/* ---- copy-on-write snapshots ------------------------------------------------------ */

int weir_flow_cow_enable(struct weir_flow_table *t, char *err, size_t errlen)
{
	size_t cap = t->conf.capacity, words = (cap + 63) / 64;
	int sock = t->conf.socket;

	if (t->cow)
		return 0;
	struct cow *w = rte_zmalloc_socket("weir_flow_cow", sizeof(*w), RTE_CACHE_LINE_SIZE, sock);
	if (!w)
		goto nomem;
	w->entries = rte_malloc_socket("weir_flow_cow", cap * sizeof(struct weir_flow),
				       RTE_CACHE_LINE_SIZE, sock);
	w->aux = rte_malloc_socket("weir_flow_cow", cap * sizeof(struct flow_aux),
				   RTE_CACHE_LINE_SIZE, sock);
	w->copied = rte_zmalloc_socket("weir_flow_cow", words * sizeof(uint64_t),
				       RTE_CACHE_LINE_SIZE, sock);
	if (!w->entries || !w->aux || !w->copied) {
		rte_free(w->entries);
		rte_free(w->aux);
		rte_free(w->copied);
		rte_free(w);
		goto nomem;
	}
	/* Touch every page now: the data path must not take the page faults (4 KiB pages). */
	memset(w->entries, 0, cap * sizeof(struct weir_flow));
	memset(w->aux, 0, cap * sizeof(struct flow_aux));
	t->cow = w;
	return 0;
nomem:
	snprintf(err, errlen,
		 "flow table: cannot allocate %zu MiB for copy-on-write snapshots of %u flows",
		 weir_flow_cow_memory(t) >> 20, t->conf.capacity);
	return -1;
}

size_t weir_flow_cow_memory(const struct weir_flow_table *t)
{
	size_t cap = t->conf.capacity;

	return sizeof(struct cow) + cap * (sizeof(struct weir_flow) + sizeof(struct flow_aux)) +
	       (cap + 63) / 64 * sizeof(uint64_t);
}

/* Bitmap words the copy in progress may have bits in: those from the cursor's to hwm0's. */
static void cow_abandon(struct weir_flow_table *t)
{
	struct cow *w = t->cow;

	if (w->cursor < w->hwm)
		memset(&w->copied[w->cursor >> 6], 0,
		       (((w->hwm - 1) >> 6) - (w->cursor >> 6) + 1) * sizeof(uint64_t));
	w->cursor = w->hwm;
	t->cow_active = 0;
}

void weir_flow_cow_begin(struct weir_flow_table *t)
{
	struct cow *w = t->cow;

	if (!w)
		return;
	if (unlikely(t->cow_active)) /* outside the contract: start over, the old copy is lost */
		cow_abandon(t);
	view_of(t, &w->v);
	w->v.entries = w->entries;
	w->v.aux = w->aux;
	w->v.slots = NULL; /* held pieces taken now, from the counts */
	w->cursor = 0;
	/* no flow: the lists are empty and the serializer reads no entry */
	w->hwm = t->n_active ? t->hwm : 0;
	w->done = w->hwm == 0;
	t->cow_active = !w->done;
}

static inline uint64_t low_bits(unsigned n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

bool weir_flow_cow_step(struct weir_flow_table *t, unsigned budget)
{
	struct cow *w = t->cow;

	if (!t->cow_active)
		return true;
	uint32_t i = w->cursor, end = w->hwm;
	while (i < end && budget) {
		uint32_t base = i & ~63u;
		uint64_t *word = &w->copied[base >> 6];
		/* entries of this word from i to end not copied ahead */
		uint64_t todo = ~*word & (~0ull << (i - base)) & low_bits(RTE_MIN(end - base, 64u));
		if (!todo)
			budget--; /* a word with nothing left costs one, so a step stays bounded */
		while (todo && budget) {
			unsigned s = (unsigned)__builtin_ctzll(todo);
			uint64_t rest = todo >> s; /* a run of ones from bit 0 */
			unsigned run = ~rest ? (unsigned)__builtin_ctzll(~rest) : 64 - s;
			unsigned n = RTE_MIN(run, budget);
			shadow_copy(&w->entries[base + s], &t->entries[base + s],
				    n * sizeof(struct weir_flow));
			shadow_copy(&w->aux[base + s], &t->aux[base + s], n * sizeof(struct flow_aux));
			budget -= n;
			todo &= ~(low_bits(n) << s);
			i = base + s + n;
		}
		if (todo)
			break; /* budget spent inside the word */
		*word = 0; /* passed: leave the bitmap clear for the next begin */
		i = RTE_MIN(base + 64, end);
	}
	w->cursor = i;
	if (i < end)
		return false;
	shadow_fence();
	t->cow_active = 0;
	w->done = 1;
	return true;
}

size_t weir_flow_cow_snapshot_size(const struct weir_flow_table *t)
{
	return t->cow && t->cow->done ? view_snapshot_size(&t->cow->v) : 0;
}

size_t weir_flow_cow_snapshot(const struct weir_flow_table *t, void *buf, size_t len)
{
	return t->cow && t->cow->done ? view_snapshot(&t->cow->v, buf, len) : 0;
}

static int snap_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* What restore takes from a header once it has checked it. */
struct snap_head {
	uint32_t live, retired, buckets;
	uint64_t next_id;
};

/* Magic, version, CRC, then what ties the snapshot to t; NULL when usable. */
static const char *header_error(const struct weir_flow_table *t, const uint8_t *h, char *why,
				size_t whylen)
{
	if (get32(h) != SNAP_MAGIC)
		snprintf(why, whylen, "not a flow table snapshot (bad magic 0x%08x)", get32(h));
	else if (get16(h + 4) != SNAP_VERSION)
		snprintf(why, whylen, "flow snapshot version %u, this build reads %u", get16(h + 4),
			 SNAP_VERSION);
	else if (get32(h + SNAP_CRC_OFF) != snap_header_crc(h))
		snprintf(why, whylen, "flow snapshot header damaged (CRC mismatch)");
	else if (get16(h + 6) != 0)
		snprintf(why, whylen, "flow snapshot has unknown flags 0x%x", get16(h + 6));
	else if (get32(h + 8) != SNAP_REC || get32(h + 12) != WEIR_FLOW_CNT__COUNT)
		snprintf(why, whylen, "flow snapshot layout: %u-byte records and %u counters, this build %u and %u",
			 get32(h + 8), get32(h + 12), SNAP_REC, WEIR_FLOW_CNT__COUNT);
	else if (get32(h + 28) != t->conf.worker)
		snprintf(why, whylen, "flow snapshot of worker %u, the table is worker %u's (ids carry it)",
			 get32(h + 28), t->conf.worker);
	else if (get32(h + 40) >= WEIR_FLOW_TO__COUNT || get64(h + 48) == 0)
		snprintf(why, whylen, "flow snapshot header out of range (rotate %u, next id %lu)",
			 get32(h + 40), (unsigned long)get64(h + 48));
	else if ((uint64_t)get32(h + 16) + get32(h + 20) > t->conf.capacity)
		snprintf(why, whylen, "flow snapshot holds %lu flows, the table's capacity is %u",
			 (unsigned long)get32(h + 16) + get32(h + 20), t->conf.capacity);
	else
		return NULL;
	return why;
}

/* Back to empty as created: buckets, lists, entries. Ids and counters stay. */
static void table_clear(struct weir_flow_table *t)
{
	memset(t->buckets, 0, ((size_t)t->mask + 1) * sizeof(struct bucket));
	t->hwm = 0;
	t->free_head = t->retired_head = NIL;
	t->n_active = 0;
	for (unsigned c = 0; c < WEIR_FLOW_TO__COUNT; c++)
		t->tq[c].head = t->tq[c].tail = NIL;
}

static inline void get_key(struct weir_flow_key *k, const uint8_t *p)
{
	memcpy(k->lo_ip, p, 16);
	memcpy(k->hi_ip, p + 16, 16);
	k->lo_port = get16(p + 32);
	k->hi_port = get16(p + 34);
	k->vlan = get16(p + 36);
	k->proto = p[38];
	k->ip_version = p[39];
}

/* Buckets are read in hash order: fetch a record's ahead of its insert. */
#define RESTORE_AHEAD 8

static inline void prefetch_home(const struct weir_flow_table *t, const uint8_t *rec)
{
	struct weir_flow_key k;

	get_key(&k, rec);
	rte_prefetch0(&t->buckets[key_hash(&k) & t->mask]);
}

static void get_flow(struct weir_flow *f, const uint8_t *p)
{
	memset(f, 0, sizeof(*f)); /* stream[] NULL: the matcher's state is not carried */
	get_key(&f->key, p);
	f->first_ts = get64(p + 40);
	f->last_ts = get64(p + 48);
	f->id = get64(p + 56);
	for (unsigned d = 0; d < 2; d++) {
		f->pkts[d] = get64(p + 64 + 8 * d);
		f->bytes[d] = get64(p + 80 + 8 * d);
		f->next_seq[d] = get32(p + 96 + 4 * d);
		f->tcp_flags[d] = p[108 + d];
	}
	f->rules = get32(p + 104);
	f->state = p[110];
	f->flags = p[111];
}

/* Would make_key have built k? (IPv4 in 4 bytes, ports only where used, lower first) */
static const char *key_error(const struct weir_flow_key *k)
{
	static const uint8_t zero[12];

	if (k->ip_version != 4 && k->ip_version != 6)
		return "IP version is not 4 or 6";
	if (k->ip_version == 4 && (memcmp(k->lo_ip + 4, zero, 12) || memcmp(k->hi_ip + 4, zero, 12)))
		return "IPv4 address with bytes past the fourth";
	if (!has_ports(k->proto) && (k->lo_port || k->hi_port))
		return "ports on a protocol keyed without ports";
	int c = addr_cmp(k->lo_ip, k->hi_ip);
	if (c > 0 || (c == 0 && k->lo_port > k->hi_port))
		return "key not in canonical order (lower endpoint first)";
	return NULL;
}

/* The checks that keep the table's invariants; rec: the raw record. */
static const char *flow_error(const struct weir_flow *f, const uint8_t *rec, int live,
			      const struct weir_flow_table *t, uint64_t next_id)
{
	uint64_t ctr = f->id & ID_COUNTER;
	unsigned list = rec[116];
	const char *bad = key_error(&f->key);

	if (bad)
		return bad;
	if (rec[117] | rec[118] | rec[119])
		return "reserved bytes are not zero";
	if (f->state > WEIR_FLOW_CLOSED ||
	    (f->key.proto != IPPROTO_TCP && f->state > WEIR_FLOW_ESTABLISHED))
		return "state out of range for its protocol";
	if (f->flags & ~SNAP_FLAGS)
		return "unknown flag bits";
	if (f->first_ts > f->last_ts ||
	    (uint64_t)get32(rec + 112) * NS_PER_MS > f->last_ts - f->first_ts)
		return "times out of order (first_ts, join time, last_ts)";
	/* new flows get next_id onwards: an id at or past it could be handed out twice */
	if (f->id >> 48 != t->conf.worker || ctr == 0 || (next_id <= ID_COUNTER && ctr >= next_id))
		return "id not of this worker or not below the next id";
	/* retired: a closed TCP flow (port reuse) or any flow that timed out within its burst */
	if (live ? list != flow_class(f) : list != SNAP_RETIRED)
		return live ? "list is not the class of the flow's protocol and state"
			    : "retired record whose list byte is not 5";
	return NULL;
}

/* The bucket for flow i: the snapshot's when the bucket count is the same; -1 none. */
static int restore_way(struct weir_flow_table *t, const struct home *h, const struct weir_flow *f,
		       uint32_t snap_buckets, struct bucket **b)
{
	if (snap_buckets != t->mask + 1)
		return home_free_way(t, h, b);
	/* the same buckets get the same flows: each had room for them before */
	*b = (f->flags & WEIR_FLOW_F_ALT) ? home_alt(t, h) : h->prim;
	return bucket_free_way(*b);
}

/* Re-insert a live flow i: bucket, then the tail of its list at its join time. */
static const char *restore_live(struct weir_flow_table *t, uint32_t i, uint32_t enq_ms,
				uint32_t snap_buckets)
{
	struct weir_flow *f = &t->entries[i];
	struct home h = home_of(t, key_hash(&f->key));
	struct bucket *b;

	if (home_find(t, &h, &f->key) != NIL)
		return "duplicate key";
	int way = restore_way(t, &h, f, snap_buckets, &b);
	if (way < 0)
		return "no room in its buckets (the table has fewer buckets, or records are damaged)";
	f->flags = (uint8_t)((f->flags & ~WEIR_FLOW_F_ALT) | (b != h.prim ? WEIR_FLOW_F_ALT : 0));
	home_insert(&h, b, way, i);
	tq_append(t, flow_class(f), i);
	t->aux[i].enq_ms = enq_ms;
	return NULL;
}

/* Record n into entry n; retired flows go to the tail of the retired list. */
static const char *restore_flow(struct weir_flow_table *t, const uint8_t *rec,
				const struct snap_head *sh, uint32_t n, uint32_t *retired_tail)
{
	struct weir_flow *f = &t->entries[n];
	int live = n < sh->live;

	COW(t, n);
	get_flow(f, rec);
	const char *bad = flow_error(f, rec, live, t, sh->next_id);
	if (bad)
		return bad;
	t->aux[n].held[0] = t->aux[n].held[1] = 0;
	t->hwm = n + 1;
	t->n_active++;
	if (live)
		return restore_live(t, n, get32(rec + 112), sh->buckets);
	t->aux[n].next = NIL;
	if (*retired_tail == NIL)
		t->retired_head = n;
	else
		t->aux[*retired_tail].next = n;
	*retired_tail = n;
	return NULL;
}

int weir_flow_table_restore(struct weir_flow_table *t, const void *buf, size_t len, char *err,
			    size_t errlen)
{
	const uint8_t *p = buf;
	char why[160];

	if (t->n_active)
		return snap_fail(err, errlen, "flow table is not empty (%u flows)", t->n_active);
	if (!p || len < SNAP_HDR)
		return snap_fail(err, errlen, "flow snapshot truncated: %zu bytes, the header needs %u",
				 len, SNAP_HDR);
	if (header_error(t, p, why, sizeof(why)))
		return snap_fail(err, errlen, "%s", why);
	struct snap_head sh = {get32(p + 16), get32(p + 20), get32(p + 36), get64(p + 48)};
	size_t want = SNAP_HDR + ((size_t)sh.live + sh.retired) * SNAP_REC;
	if (len != want)
		return snap_fail(err, errlen, "flow snapshot length %zu, its header says %zu (%s)", len,
				 want, len < want ? "truncated" : "trailing bytes");
	uint32_t retired_tail = NIL;
	table_clear(t);
	for (uint32_t n = 0; n < sh.live + sh.retired; n++) {
		const uint8_t *rec = p + SNAP_HDR + (size_t)n * SNAP_REC;
		if (n + RESTORE_AHEAD < sh.live)
			prefetch_home(t, rec + RESTORE_AHEAD * SNAP_REC);
		const char *bad = restore_flow(t, rec, &sh, n, &retired_tail);
		if (bad) {
			table_clear(t);
			return snap_fail(err, errlen, "flow snapshot record %u: %s", n, bad);
		}
	}
	t->next_id = sh.next_id;
	t->rotate = get32(p + 40);
	for (unsigned k = 0; k < WEIR_FLOW_CNT__COUNT; k++)
		t->cnt[k] = get64(p + 104 + 8 * k);
	return 0;
}
