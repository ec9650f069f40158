/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_window: event-time windows over group-by keys, sharded per worker.
 *
 * Each worker owns, per query, a small pool of shards (fixed-size hash
 * tables allocated once at start). A shard holds one window's partial
 * aggregates for the keys this worker saw. When the worker's watermark
 * passes the window's end, the shard is sealed and handed over a lock-free
 * ring to the merger (the control thread), which adds it into the merged
 * window, returns the emptied shard to the worker's pool, and emits the
 * window once every worker has sealed past its end.
 *
 * Data-path functions (weir_window_update_burst, weir_window_advance) take
 * no locks, make no syscalls and never allocate.
 */
#ifndef WEIR_WINDOW_H
#define WEIR_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "weir_conf.h"
#include "weir_pkt.h"

#define WEIR_KEY_WORDS 6 /* 48 bytes: largest key (src_ip+dst_ip+ports+...) fits */
#define WEIR_WINDOW_SHARDS 4 /* shards per query per worker: open windows + in flight */

#define WEIR_BURST_MAX 512        /* packets one burst call takes */
#define WEIR_BURST_RULES_MAX 2048 /* matched (packet, rule) pairs one burst carries */

/*
 * The rules each packet of a burst matched, for queries grouped by `rule`:
 * packet i matched ids[off[i]] .. ids[off[i + 1] - 1] (distinct rule ids).
 */
struct weir_burst_rules {
	uint32_t n;
	uint16_t off[WEIR_BURST_MAX + 1];
	uint32_t ids[WEIR_BURST_RULES_MAX];
};

/* Per-query counters of packets the query could not count. */
#define WEIR_QDROP_LIST(X)                      \
	X(NO_KEY,   "no_key")   /* packet lacks a group-by field */   \
	X(LATE,     "late")     /* its window was already sealed */   \
	X(OVERFLOW, "overflow") /* shard full (max_keys) */

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

/* A compiled query: where each group-by field sits in the key. */
struct weir_query {
	struct weir_query_conf conf;
	unsigned key_words;                    /* words of struct weir_key in use */
	uint8_t field_off[WEIR_MAX_GROUP_BY];  /* byte offset of each group_by field */
	int8_t ipver_off;                      /* hidden ip_version byte (for formatting), -1 none */
	int8_t rule_off;                       /* where the matched rule's id goes, -1 none */
	unsigned n_aggs;
	uint32_t id;                           /* index in the query set */
};

/* Compile a query's key layout. 0, or -1 with err filled. */
int weir_query_compile(struct weir_query *q, const struct weir_query_conf *c, uint32_t id,
		       char *err, size_t errlen);

/* Encode p's group-by key for q. false when p lacks a field (no_key). */
bool weir_key_extract(const struct weir_query *q, const struct weir_pkt *p, struct weir_key *k);

/* Decode field i of key k: value as integer, or address bytes (ip fields). */
uint64_t weir_key_field_uint(const struct weir_query *q, const struct weir_key *k, unsigned i);
void weir_key_field_ip(const struct weir_query *q, const struct weir_key *k, unsigned i,
		       uint8_t *ip_version, uint8_t ip[16]);

/* Key hash (CRC32C over the used words). */
uint32_t weir_key_hash(const struct weir_key *k, unsigned words);

/*
 * A table of (key -> aggregates), open addressing, fixed capacity.
 * Used for worker shards and for the merger's windows alike.
 */
struct weir_table {
	uint64_t window_start;
	uint32_t query;
	uint32_t worker;
	uint32_t max_keys;       /* entries allowed (load factor <= 1/2) */
	uint32_t mask;           /* slots - 1 */
	uint32_t n_used;
	uint32_t key_words;
	uint32_t n_aggs;
	uint32_t stride;         /* words per entry: key_words + n_aggs */
	uint64_t overflow;       /* packets not counted because the table was full */
	uint32_t *hashes;        /* per slot: 0 empty, else hash | 1 */
	uint64_t *entries;       /* per slot: key words then aggregate words */
	uint32_t *used;          /* slot indices in insertion order (n_used of them) */
};

/* Bytes needed for a table of max_keys keys for query q (header included). */
size_t weir_table_size(const struct weir_query *q, uint32_t max_keys);
/* Lay out a table in `mem` (weir_table_size bytes, 8-aligned, zeroed). */
struct weir_table *weir_table_init(void *mem, const struct weir_query *q, uint32_t max_keys);
void weir_table_reset(struct weir_table *t);
/* Find or insert key (hash h); NULL when full. Returns the aggregate words. */
uint64_t *weir_table_upsert(struct weir_table *t, const struct weir_key *k, uint32_t h);
/* Add every entry of src into dst (same query). Returns entries that did not fit. */
uint64_t weir_table_merge(struct weir_table *dst, const struct weir_table *src);
/* Entry i (0..n_used-1) in insertion order: key and aggregates. */
const struct weir_key *weir_table_key(const struct weir_table *t, uint32_t i);
const uint64_t *weir_table_aggs(const struct weir_table *t, uint32_t i);

/* ---- per-worker state ---------------------------------------------------- */

struct weir_window_set; /* all compiled queries + merger-side state */
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
 * Data path: count a burst of parsed packets with their event times (ns)
 * into every query's open windows. Packets are not modified. rules: what
 * each packet matched, for `rule`-keyed queries (NULL: nothing matched); a
 * packet that matched k rules counts once in each of the k groups, one
 * that matched none is not counted there (no_key).
 */
void weir_window_update_burst(struct weir_window_worker *w, const struct weir_pkt *const *pkts,
			      const uint64_t *ts, unsigned n, const struct weir_burst_rules *rules);

/*
 * Data path: advance this worker's watermark to `wm` (ns; never moves back):
 * seal every open window whose end <= wm and hand it to the merger.
 * wm = UINT64_MAX seals everything (end of input).
 */
void weir_window_advance(struct weir_window_worker *w, uint64_t wm);
uint64_t weir_window_max_ts(const struct weir_window_worker *w); /* largest event time seen */
uint64_t weir_window_qdrop(const struct weir_window_worker *w, unsigned query, enum weir_qdrop r);

/* ---- merger (control thread) -------------------------------------------- */

/* Called for every closed window, in window_start order per query. */
typedef void (*weir_window_emit_fn)(void *ctx, const struct weir_query *q, uint64_t window_start,
				    uint64_t window_end, const struct weir_table *merged);

/*
 * Drain sealed shards, merge them, and emit every window that all workers
 * have sealed past. Returns the number of windows emitted.
 */
unsigned weir_window_merge_poll(struct weir_window_set *s, weir_window_emit_fn emit, void *ctx);

/* Totals over all workers of a query's per-query drops. */
uint64_t weir_window_set_qdrop(const struct weir_window_set *s, unsigned query, enum weir_qdrop r);
/* Keys that did not fit in the merged windows (merger-side overflow). */
uint64_t weir_window_set_merge_overflow(const struct weir_window_set *s, unsigned query);

#endif /* WEIR_WINDOW_H */
