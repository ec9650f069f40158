/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_window: event-time windows over group-by keys, sharded per worker.
 *
 * Workers count every packet once, into a pane: the window itself for
 * tumbling windows, gcd(size, slide) for sliding ones, the gap for
 * sessions. Each worker owns, per query, a small pool of shards (fixed-size
 * hash tables allocated once at start); a shard holds one pane's partial
 * aggregates for the keys this worker saw. When the worker's watermark
 * passes the pane's end the shard is sealed and handed over a lock-free
 * ring to the merger (the control thread), which adds it into the merged
 * pane and returns the emptied shard to the worker's pool. A worker may
 * also ship a shard early (a late packet's delta, a partial result at an
 * `emit every` boundary, a pool running short): the merger adds shards of
 * one pane together, whenever they come.
 *
 * Once every worker's watermark has passed a window's end, the merger
 * emits it: a tumbling window is its pane; a sliding window merges its
 * panes; sessions are built from the gap-sized panes in order, each key's
 * session going on while its next pane's first packet is less than a gap
 * after its last one. Panes are kept for `lateness` more, so that late
 * deltas re-emit the windows they belong to.
 *
 * Data-path functions (weir_window_update_burst, weir_window_advance) take
 * no locks, make no syscalls and never allocate.
 */
#ifndef WEIR_WINDOW_H
#define WEIR_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "weir_conf.h"
#include <rte_hash_crc.h>

#include "weir_burst.h"
#include "weir_pkt.h"

#define WEIR_KEY_WORDS 6 /* 48 bytes: largest key (src_ip+dst_ip+ports+...) fits */
#define WEIR_WINDOW_SHARDS 6 /* shards per query per worker: open panes, late deltas, in flight */

/* Per-query counters of packets the query did not count, or counted aside. */
#define WEIR_QDROP_LIST(X)                      \
	X(NO_KEY,   "no_key")   /* packet lacks a group-by field: not counted */        \
	X(LATE,     "late")     /* behind its window's close + lateness: dropped */    \
	X(OVERFLOW, "overflow") /* max_keys reached: counted in the "_other" row */   \
	X(FILTERED, "filtered") /* did not pass the query's filter */

enum weir_qdrop {
#define WEIR_X(e, s) WEIR_QDROP_##e,
	WEIR_QDROP_LIST(WEIR_X)
#undef WEIR_X
	WEIR_QDROP__COUNT
};
const char *weir_qdrop_name(enum weir_qdrop r);

/* A group-by key, encoded field by field, zero padded. */
struct weir_key {
	uint64_t w[WEIR_KEY_WORDS];
};

/*
 * Where one aggregate's state lives in a table entry: small ones in inline
 * 64-bit words, sketches (distinct, topk, quantiles) in the entry's blob.
 */
struct weir_agg_slot {
	uint8_t kind;       /* enum weir_agg */
	uint8_t field;      /* enum weir_field */
	uint16_t word;      /* first inline word */
	uint32_t blob_off;  /* byte offset in the blob */
	uint32_t param;     /* distinct: HyperLogLog precision; topk: counters; else 0 */
};

/* One inline-word aggregate as the data path applies it: w[word] op= value of src. */
enum weir_word_op_kind { WEIR_WOP_ADD, WEIR_WOP_MAX, WEIR_WOP_MIN, WEIR_WOP_MAXP1, WEIR_WOP_AVG };
enum weir_word_src { WEIR_WSRC_ONE, WEIR_WSRC_LEN, WEIR_WSRC_IP_BYTES, WEIR_WSRC_PAYLOAD,
		     WEIR_WSRC_TS, WEIR_WSRC_FIELD };
struct weir_word_op {
	uint16_t word;
	uint8_t op;     /* enum weir_word_op_kind */
	uint8_t src;    /* enum weir_word_src */
	uint8_t field;  /* WEIR_WSRC_FIELD: enum weir_field */
};

enum { WEIR_PLAIN_SOURCES = 4 };

/* A compiled query: key layout, aggregate layout, time panes. */
struct weir_query {
	struct weir_query_conf conf;
	unsigned key_words;                    /* words of struct weir_key in use */
	uint8_t field_off[WEIR_MAX_GROUP_BY];  /* byte offset of each group_by field */
	int8_t ipver_off;                      /* hidden ip_version byte (for formatting), -1 none */
	bool keys_nonzero;                     /* every key holds the IP version (ipver_off set by
						  weir_query_compile): never all zero */
	int8_t rule_off;                       /* where the matched rule's id goes, -1 none */
	unsigned n_aggs;                       /* the query's aggregates (conf.aggs) */
	unsigned n_slots;                      /* + hidden ones (session bounds) */
	struct weir_agg_slot slot[WEIR_MAX_AGGS + 2];
	int8_t first_slot, last_slot;          /* first_ts/last_ts slots, -1 none */
	unsigned agg_words;                    /* inline words per entry */
	uint32_t blob_bytes;                   /* sketch bytes per entry (0: none) */
	/* the data path's plan, derived from the layouts above */
	uint32_t need;                         /* bit f: group-by field f the key needs */
	unsigned n_key_ip;                     /* address fields: copied, then masked */
	struct {
		uint8_t field, word;           /* address field, first of its two key words */
		bool masked;                   /* a prefix: mask4/mask6 are not all ones */
		uint64_t mask4[2], mask6[2];   /* prefix masks over the two words, per family */
	} key_ip[2];
	int8_t ip_pair;                        /* src_ip then dst_ip, whole, from this key word: one
						  32-byte copy (they are adjacent in weir_pkt); -1 none */
	unsigned n_key_num;                    /* other fields: OR-ed into their key word */
	struct { uint8_t field, word, shift; } key_num[WEIR_MAX_GROUP_BY];
	unsigned n_word_ops;                   /* inline-word aggregates */
	struct weir_word_op word_op[WEIR_MAX_AGGS + 2];
	bool word_adds_only;                   /* every word op adds ONE/LEN/IP_BYTES/PAYLOAD */
	/*
	 * The usual query's shortest form: word_adds_only, no sketches, each of
	 * the four sources (ONE, LEN, IP_BYTES, PAYLOAD) added at most once. The
	 * data path then adds, for each source s, its value AND src_mask[s] to
	 * word src_word[s]: a source the query lacks adds zero to a real word.
	 */
	bool plain_adds;
	uint16_t src_word[WEIR_PLAIN_SOURCES];
	uint64_t src_mask[WEIR_PLAIN_SOURCES];
	unsigned n_slow;                       /* the rest (sketches, flag counts): per slot */
	uint8_t slow_slot[WEIR_MAX_AGGS + 2];
	uint32_t fields_used;                  /* bit f: numeric field f read by keys or aggregates */
	bool combinable;                       /* keys and aggregates the flow combiner can sum */
	uint64_t pane_ns;                      /* workers count in panes of this length */
	uint64_t slide_ns;                     /* windows start at multiples of it */
	uint32_t id;                           /* index in the query set */
};

/*
 * Compile a query's key and aggregate layout and its panes (tumbling: the
 * window; sliding: gcd(size, slide); session: the gap). 0, or -1 with err.
 */
int weir_query_compile(struct weir_query *q, const struct weir_query_conf *c, uint32_t id,
		       char *err, size_t errlen);

/*
 * Encode packet i's group-by key for q, field by field; false when it lacks
 * a field (no_key). The data path builds the same keys a burst at a time
 * from struct weir_burst_fields; this plain version is their reference.
 */
bool weir_key_extract(const struct weir_query *q, const struct weir_pkt *p,
		      const struct weir_burst_meta *m, unsigned i, struct weir_key *k);

/* Decode field i of key k: value as integer, or address bytes (ip fields). */
uint64_t weir_key_field_uint(const struct weir_query *q, const struct weir_key *k, unsigned i);
void weir_key_field_ip(const struct weir_query *q, const struct weir_key *k, unsigned i,
		       uint8_t *ip_version, uint8_t ip[16]);

/*
 * One word of CRC32C. Built for SSE4.2 (x86-64-v2 and up), the instruction
 * itself: rte_hash_crc_8byte checks which implementation the CPU has before
 * every word, a load and a branch per key word on the data path.
 */
static inline uint32_t weir_crc_word(uint64_t w, uint32_t h)
{
#ifdef __SSE4_2__
	return (uint32_t)__builtin_ia32_crc32di(h, w);
#else
	return rte_hash_crc_8byte(w, h);
#endif
}

static inline uint64_t weir_gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Key hash (CRC32C over the used words). */
static inline uint32_t weir_key_hash(const struct weir_key *k, unsigned words)
{
	uint32_t h = 0x9747b28cu;

	for (unsigned i = 0; i < words; i++)
		h = weir_crc_word(k->w[i], h);
	return h;
}

/*
 * Field f of packet i as up to 16 bytes (addresses: IPv4 as ::ffff:a.b.c.d,
 * so that both families share one space) and as a number (non-address
 * fields). false when the packet lacks it.
 */
bool weir_field_get(enum weir_field f, const struct weir_pkt *p, const struct weir_burst_meta *m,
		    unsigned i, uint8_t item[16], uint64_t *num);

/*
 * Per burst, once for all queries: which fields each packet has (bit per
 * enum weir_field) and the numeric ones the queries read, so that each
 * query builds its keys with plain loads and stores. `fields`: the numeric
 * fields read (filled); the `have` bits of ports, VLAN and TCP fields are
 * set only when `fields` holds them.
 */
struct weir_burst_fields {
	uint32_t have[WEIR_BURST_MAX];
	uint64_t num[WEIR_FIELD__COUNT][WEIR_BURST_MAX + 8]; /* rows 4 KiB + a line apart: no aliasing */
};
void weir_burst_fields_fill(struct weir_burst_fields *bf, uint32_t fields, const struct weir_pkt *const *pkts,
			    const struct weir_burst_meta *m, unsigned n);

/* ---- aggregates ---------------------------------------------------------- */

/* Add packet i into an entry's aggregates (words, blob). */
void weir_agg_update(const struct weir_query *q, uint64_t *words, uint8_t *blob,
		     const struct weir_pkt *p, const struct weir_burst_meta *m, unsigned i);
/*
 * Add packet i into slot s only (weir_agg_update is this for every slot),
 * n times: n packets whose field is packet i's (the flow combiner's sums;
 * sum, avg and topk weigh by n, min, max and distinct need it once). n is 1
 * for every slot the combiner does not take (see weir_query.combinable).
 */
void weir_agg_update_slot(const struct weir_query *q, unsigned s, uint64_t *words, uint8_t *blob,
			  const struct weir_pkt *p, const struct weir_burst_meta *m, unsigned i,
			  uint64_t n);
/* Keep the first `bits` bits of an address of len bytes (0: all of it). */
void weir_ip_mask(uint8_t *ip, unsigned bits, unsigned len);
/* dst += src, aggregate by aggregate. */
void weir_agg_merge(const struct weir_query *q, uint64_t *dw, uint8_t *db, const uint64_t *sw,
		    const uint8_t *sb);
/*
 * Aggregate a as one number: sums and counts, min/max/avg (NaN when no
 * packet had the field), distinct's estimate, quantiles' p50/p90/p99 (sub
 * 0/1/2), first/last ts; topk and flag_counts: their total.
 */
double weir_agg_value(const struct weir_query *q, unsigned a, unsigned sub, const uint64_t *words,
		      const uint8_t *blob);
/* Does a query's having hold for this row? */
bool weir_having_eval(const struct weir_query *q, const uint64_t *words, const uint8_t *blob);

/*
 * A table of (key -> aggregates), open addressing, fixed capacity, plus
 * one "_other" entry that keys beyond max_keys are folded into. Used for
 * worker shards and for the merger's panes and sessions alike.
 */
struct weir_table {
	uint64_t window_start;   /* the pane it counts */
	uint32_t query;
	uint32_t worker;
	uint32_t max_keys;       /* entries allowed (load factor <= 1/2) */
	uint32_t mask;           /* slots - 1 */
	uint32_t n_used;
	uint32_t key_words;
	uint32_t agg_words;
	uint32_t stride;         /* words per entry: key_words + agg_words (+ 1 blob index) */
	uint32_t blob_bytes;
	bool late;               /* a worker's delta for a pane it had sealed */
	bool has_other;          /* the _other entry holds something */
	uint64_t overflow;       /* packets (shards) or keys (merges) folded into _other */
	/*
	 * Keys that hold the IP version (any key with an address) are never all
	 * zero: then an all-zero entry is an empty slot, and a probe reads the
	 * entry's line alone, and there is no hashes[] (weir_table_init sets it).
	 */
	bool tagless;
	uint32_t *hashes;        /* per slot: 0 empty, else hash | 1; NULL when tagless */
	uint64_t *entries;       /* per slot: key words, aggregate words, blob index */
	uint32_t *used;          /* slot indices in insertion order (n_used of them) */
	uint8_t *blobs;          /* (max_keys + 1) blobs, the last one _other's */
	uint64_t *other;         /* the _other entry (stride words) */
};

/* Bytes needed for a table of max_keys keys for query q (header included). */
size_t weir_table_size(const struct weir_query *q, uint32_t max_keys);
/* Lay out a table in `mem` (weir_table_size bytes, 8-aligned, zeroed). */
struct weir_table *weir_table_init(void *mem, const struct weir_query *q, uint32_t max_keys);
/* A zeroed table on the heap (control thread); NULL when out of memory. */
struct weir_table *weir_table_new(const struct weir_query *q, uint32_t max_keys);
void weir_table_reset(struct weir_table *t);
/* Find or insert key (hash h); NULL when full. Returns the aggregate words. */
uint64_t *weir_table_upsert(struct weir_table *t, const struct weir_key *k, uint32_t h);
/* The blob of the entry whose aggregate words are `aggs`. */
uint8_t *weir_table_blob(const struct weir_table *t, const uint64_t *aggs);
/* The _other entry's aggregate words (marks it used). */
uint64_t *weir_table_other(struct weir_table *t);
/* Add src into dst (same query); keys that do not fit go to dst's _other. Returns those. */
uint64_t weir_table_merge(const struct weir_query *q, struct weir_table *dst,
			  const struct weir_table *src);
/* Entry i (0..n_used-1) in insertion order: key and aggregates. */
const struct weir_key *weir_table_key(const struct weir_table *t, uint32_t i);
const uint64_t *weir_table_aggs(const struct weir_table *t, uint32_t i);

/*
 * Snapshots: one table (a worker's shard, a merged pane, a session table)
 * as bytes, for checkpoints, and back.
 *
 * Format (version 1), integers little-endian, no padding:
 *   header, 56 bytes:
 *     0  u32 magic 0x504e5357 ("WSNP")
 *     4  u16 version (1)          6  u16 flags: 1 has_other, 2 late
 *     8  u32 key_words           12  u32 agg_words           16 u32 blob_bytes
 *    20  u32 n, the keys that follow
 *    24  u32 layout hash (weir_table_layout_hash: group-by fields, prefixes,
 *            key offsets, aggregate slots' kind/field/word/blob_off/param)
 *    28  u32 reserved, 0
 *    32  u64 window_start        40  u64 overflow
 *    48  u32 query (the id at snapshot time; informative)   52 u32 worker
 *   then n entries, in insertion order (only used keys, not empty slots):
 *     key_words u64 key words, agg_words u64 aggregate words, blob_bytes
 *     bytes of sketch state (HyperLogLog registers, Space-Saving counters,
 *     quantile buckets: copied as they are in memory, i.e. the host's
 *     layout, little-endian on every supported target)
 *   then, when has_other, the _other entry: agg_words u64 words + blob bytes.
 * The total length is exactly 56 + n * ((key_words + agg_words) * 8 +
 * blob_bytes) [+ agg_words * 8 + blob_bytes].
 *
 * size: the bytes weir_table_snapshot writes for t. snapshot: writes them
 * into buf, returns that count, 0 when len is too small (or t is not laid
 * out for q). restore: into an empty (reset or new) table laid out for q:
 * re-inserts every key (weir_table_upsert, weir_key_hash), copies its
 * aggregate words and blob, then _other, window_start, overflow, worker and
 * late (t->query is left as is). 0, or -1 with the reason in err and t as it was
 * (empty): a short, long or foreign buffer, another version, a layout that
 * is not q's (key_words/agg_words/blob_bytes/layout hash, named), more keys
 * than t->max_keys, a duplicate key, a corrupt Space-Saving state (counters
 * in use, heap or index out of range), a non-empty t. It reads only
 * buf[0..len), whatever the bytes.
 */
uint32_t weir_table_layout_hash(const struct weir_query *q);
size_t weir_table_snapshot_size(const struct weir_query *q, const struct weir_table *t);
size_t weir_table_snapshot(const struct weir_query *q, const struct weir_table *t, void *buf,
			   size_t len);
int weir_table_restore(const struct weir_query *q, struct weir_table *t, const void *buf,
		       size_t len, char *err, size_t errlen);

/* ---- per-worker state ---------------------------------------------------- */

struct weir_window_set; /* all compiled queries + merger-side state */

/*
 * What workers run of the query set: the slots they update, each counting
 * the packets with from <= ts < until (event time), and the numeric fields
 * those queries read. Immutable once workers see it (it travels in the
 * RCU-published generation); a query is added, replaced or removed by
 * publishing a new view. A slot missing from a worker's view has its open
 * shards handed to the merger at the next advance.
 */
struct weir_window_view {
	uint32_t active;
	uint32_t fields_used;
	uint64_t from[WEIR_MAX_QUERIES];
	uint64_t until[WEIR_MAX_QUERIES];
};
void weir_window_view_set(struct weir_window_view *v, const struct weir_window_set *s, unsigned qi,
			  uint64_t from, uint64_t until);
void weir_window_view_drop(struct weir_window_view *v, const struct weir_window_set *s, unsigned qi);
struct weir_window_worker;

/*
 * Build the query set for `n_workers` workers; shard memory comes from
 * rte_zmalloc_socket (hugepages), sized by max_keys. NULL + err on failure.
 */
struct weir_window_set *weir_window_set_create(const struct weir_config *cfg, unsigned n_workers,
					       char *err, size_t errlen);
void weir_window_set_free(struct weir_window_set *s);
unsigned weir_window_set_n_queries(const struct weir_window_set *s);
const struct weir_query *weir_window_set_query(const struct weir_window_set *s, unsigned i);
struct weir_window_worker *weir_window_worker_get(struct weir_window_set *s, unsigned worker);

/*
 * Runtime query changes (control thread). add: compile c into a free slot
 * with its shards (it counts nothing until a view names it). drained: the
 * slot, ended at `until` by the views, has emitted every window and holds
 * no shard. release: free the slot (no view names it any more and no
 * worker reads it). live: the slot holds a query. The base view names every
 * query of the config, unbounded: the view of workers never given another.
 */
int weir_window_set_add(struct weir_window_set *s, const struct weir_query_conf *c, unsigned *slot,
			char *err, size_t errlen);
bool weir_window_set_drained(struct weir_window_set *s, unsigned slot, uint64_t until);
void weir_window_set_release(struct weir_window_set *s, unsigned slot);
bool weir_window_set_live(const struct weir_window_set *s, unsigned slot);
const struct weir_window_view *weir_window_set_base_view(const struct weir_window_set *s);
/* Data path, once per burst before update/advance: the view of the burst's generation (NULL: base). */
void weir_window_worker_set_view(struct weir_window_worker *w, const struct weir_window_view *v);
/* The first window boundary after event time t (sessions: t + 1). */
uint64_t weir_window_next_boundary(const struct weir_query *q, uint64_t t);

/*
 * Data path: count a burst of parsed packets into every query's open
 * panes; meta carries their event times (ns) and what earlier stages
 * learnt (filters passed, rules matched, flows, labels, names). A packet
 * that matched k rules counts once in each of the k groups of a
 * `rule`-keyed query; one that matched none is not counted there (no_key).
 */
void weir_window_update_burst(struct weir_window_worker *w, const struct weir_pkt *const *pkts,
			      unsigned n, const struct weir_burst_meta *meta);

/*
 * Data path, after each burst: advance this worker's watermark to `wm`
 * (ns; never moves back): seal every open pane whose end <= wm and hand it
 * to the merger, with late deltas, and (emit every) the panes' contents so
 * far when wm passes a partial boundary. wm = UINT64_MAX seals everything
 * (end of input).
 */
void weir_window_advance(struct weir_window_worker *w, uint64_t wm);
uint64_t weir_window_max_ts(const struct weir_window_worker *w); /* largest event time seen */
uint64_t weir_window_qdrop(const struct weir_window_worker *w, unsigned query, enum weir_qdrop r);

/* ---- merger (control thread) -------------------------------------------- */

/* One result: a window's rows (sessions: each row its own bounds). */
struct weir_window_result {
	const struct weir_query *q;
	uint64_t start, end;            /* [start, end); sessions: the batch's span */
	const struct weir_table *t;
	bool final;                     /* false: a partial (emit every) */
	bool late;                      /* emitted again after late packets */
};

/* Sessions: row i's window, [first packet, last packet + gap). */
void weir_window_row_bounds(const struct weir_window_result *r, uint32_t i, bool other,
			    uint64_t *start, uint64_t *end);

/* Called for every result, windows in start order per query. */
typedef void (*weir_window_emit_fn)(void *ctx, const struct weir_window_result *r);

/*
 * Drain sealed shards, merge them, and emit every window that all workers
 * have sealed past. Returns the number of windows emitted.
 */
unsigned weir_window_merge_poll(struct weir_window_set *s, weir_window_emit_fn emit, void *ctx);

/*
 * Control thread, between polls: call fn (final = false) for what the merger
 * holds of query qi's open windows: the panes the workers have sealed or
 * shipped so far (tumbling: each window; sliding: the windows the newest
 * pane belongs to; session: the open sessions). The workers' shards still
 * being counted are not included. Returns how many results it gave.
 */
unsigned weir_window_set_peek(struct weir_window_set *s, unsigned qi, weir_window_emit_fn fn,
			      void *ctx);

/* ---- checkpoints ---------------------------------------------------------- */

/*
 * Data path, at a burst boundary: the checkpoint barrier `epoch`. Ships
 * every open shard to the merger (a delta, as at an `emit every` boundary:
 * counting goes on in fresh shards) and then the worker's barrier mark, so
 * that the merger can tell the shards counted before the barrier from those
 * after. No locks, no allocation.
 */
void weir_window_barrier(struct weir_window_worker *w, uint64_t epoch);

/*
 * Control thread. From the first worker's mark on, merge_poll holds back
 * the shards that workers sealed after their barrier and emits nothing.
 * aligned: every worker's mark is in; the merger now holds exactly the
 * state before the barrier: save it, then barrier_done merges what was
 * held back and polling goes on as before.
 */
bool weir_window_set_aligned(const struct weir_window_set *s, uint64_t *epoch);
void weir_window_set_barrier_done(struct weir_window_set *s);

/*
 * The aligned state as bytes (malloc'd, *len set; NULL when out of memory):
 * per query, its merged panes and open sessions (weir_table_snapshot), its
 * emission cursors, and the workers' watermarks, per-query drop counters
 * and partial-result boundaries from their marks. Queries are identified by
 * name and a hash of what their state depends on (filter, window, keys and
 * aggregates); the slot numbers are not kept.
 *
 * Format (version 1), little-endian:
 *   u32 magic 0x4e495757 ("WWIN"), u32 version, u32 workers, u32 queries
 *   per worker: u64 watermark, u64 max event time
 *   per query: u32 name length + name bytes, u64 state hash, u8 started,
 *     u64 next_window, next_partial, assembled, overflow,
 *     per worker: u64 next_partial, u64 drops[WEIR_QDROP__COUNT],
 *     u32 panes, per pane: u64 start, u8 dirty, u64 length + table snapshot,
 *     u64 length + sessions table snapshot (0: none)
 */
void *weir_window_set_save(const struct weir_window_set *s, size_t *len);

/*
 * Before the workers start: load a saved state into a fresh set. A query
 * found under the same name with the same hash gets its state back; one
 * whose definition changed, and one the saved state does not have, start
 * fresh; saved queries no longer configured are dropped. `report` (may be
 * NULL) hears about each such query: what is "restored", "changed",
 * "new" or "removed". The worker count may differ from the saved one: the
 * watermarks then all restart from the lowest saved one and the drop
 * counters are summed. 0, or -1 with err (a malformed buffer: the set must
 * then be freed).
 */
typedef void (*weir_window_load_fn)(void *ctx, const char *query, const char *what);
int weir_window_set_load(struct weir_window_set *s, const void *buf, size_t len,
			 weir_window_load_fn report, void *ctx, char *err, size_t errlen);

/* Totals over all workers of a query's per-query drops. */
uint64_t weir_window_set_qdrop(const struct weir_window_set *s, unsigned query, enum weir_qdrop r);
/* Keys folded into _other when merging (merger-side overflow). */
uint64_t weir_window_set_merge_overflow(const struct weir_window_set *s, unsigned query);

/* The flow combiner's work, over the workers (counters read as they stand). */
struct weir_combine_stats {
	uint64_t packets;  /* packets summed into flows */
	uint64_t flows;    /* flow sums handed to the queries */
	uint64_t flushes;  /* hand-overs: pane ends, barriers, query set changes, full table */
	uint64_t full;     /* of those, because the table was full (combine_flows too small) */
};
void weir_window_set_combine_stats(const struct weir_window_set *s, struct weir_combine_stats *st);
/* DPDK memory a worker's flow combiner takes for `flows` entries (0: off). */
size_t weir_window_combiner_memory(uint32_t flows);

#endif /* WEIR_WINDOW_H */
