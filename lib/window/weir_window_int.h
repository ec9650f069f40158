/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_window internals shared by the window set (weir_window.c) and its
 * checkpoints (weir_window_ckpt.c). Not part of the module's interface.
 */
#ifndef WEIR_WINDOW_INT_H
#define WEIR_WINDOW_INT_H

#include <rte_ring.h>

#include "weir_window.h"

struct query_shards {
	struct weir_table *open[WEIR_WINDOW_SHARDS]; /* ascending window_start */
	unsigned n_open;
	struct rte_ring *free;                       /* merger -> worker */
	uint64_t next_partial;                       /* emit every: next boundary (0: unset) */
	uint64_t qdrop[WEIR_QDROP__COUNT];
};

/* Per-flow sums, a flush's worth (see the flow combiner in weir_window.c). */
#define WEIR_COMBINE_CHUNK 64
struct flow_sums {
	uint64_t packets[WEIR_COMBINE_CHUNK], bytes[WEIR_COMBINE_CHUNK];
	uint64_t ip_bytes[WEIR_COMBINE_CHUNK], payload[WEIR_COMBINE_CHUNK];
	uint64_t first[WEIR_COMBINE_CHUNK], last[WEIR_COMBINE_CHUNK];
};

/* One of a flow combiner's tables: the flows of a pane, for a set of queries. */
struct combiner_table {
	struct weir_table *t;
	uint64_t start;                      /* its pane, UINT64_MAX: none */
	uint32_t qset;                       /* the queries its sums go to */
	uint32_t filtered;                   /* those with a filter: pass bits in the key */
};

/* A worker's flow combiner: its flows' sums over a pane, for the queries it serves. */
struct combiner {
	struct combiner_table cur;           /* the pane being summed (cur.t NULL: off) */
	struct combiner_table drain;         /* the previous pane's, handed over step by step */
	uint32_t drained;                    /* drain's flows handed over so far */
	struct weir_table *spare;            /* the other table, while nothing drains */
	struct weir_query layout;            /* the tables': 6 key words, 6 sums */
	struct weir_window_view seen;        /* the view cand comes from (a copy) */
	const struct weir_window_view *checked; /* the view last compared with seen */
	uint32_t cand;                       /* the view's combinable queries */
	uint64_t pane_ns;                    /* gcd of their panes */
	bool flushing;
	struct weir_combine_stats st;        /* written by the worker only */
	/* a hand-over: a chunk of flows as packets, with their sums */
	struct weir_pkt pkt[WEIR_COMBINE_CHUNK];
	const struct weir_pkt *pktp[WEIR_COMBINE_CHUNK];
	uint64_t ts[WEIR_COMBINE_CHUNK];
	uint32_t pass[WEIR_COMBINE_CHUNK];
	struct flow_sums sums;
	struct weir_burst_fields bf;
};

struct weir_window_worker {
	struct weir_window_set *set;
	unsigned id;
	uint64_t max_ts;
	uint64_t wm;          /* every pane ending at or before wm is sealed */
	unsigned n_late;      /* open late-delta shards, sealed at the next advance */
	const struct weir_window_view *view; /* this burst's queries (set per burst by the caller) */
	uint32_t seen_active;                /* view->active at the last advance */
	struct query_shards q[WEIR_MAX_QUERIES];
	struct weir_burst_fields bf; /* the current burst's fields, for every query */
	struct combiner cb;
	/* Read by the merger: written with release after the shards are enqueued. */
	uint64_t sealed_wm __rte_cache_aligned;
} __rte_cache_aligned;

/* A pane merged over the workers (for tumbling windows, the window itself). */
struct pane {
	uint64_t start;
	struct weir_table *t;
	bool dirty;           /* late data came in after a window holding it was emitted */
	struct pane *next;
};

/*
 * Merged tables are sized for every worker's max_keys, so a fresh one is
 * megabytes of zeroed pages: emptied ones are kept (cleared entry by
 * entry, as shards are) and reused.
 */
#define MERGER_SPARES 8

/* Merger state of one query. */
struct merger_query {
	struct pane *panes;          /* ascending start */
	bool started;                /* next_window is known */
	uint64_t next_window;        /* start of the next window to emit (sliding, tumbling) */
	uint64_t next_partial;       /* emit every: next boundary (0: unset) */
	uint64_t assembled;          /* sessions: panes before this are folded in */
	struct weir_table *sessions; /* sessions: open ones, merged */
	uint64_t overflow;           /* keys folded into _other when merging */
	struct weir_table *spare[MERGER_SPARES]; /* emptied merged tables, for reuse */
	unsigned n_spare;
};

/*
 * A worker's checkpoint barrier: what it held besides shards when it shipped
 * them all. Written by the worker before the mark goes into the merger's
 * ring (the enqueue orders it), read by the merger once it dequeues it.
 */
struct weir_window_mark {
	uint64_t epoch;
	uint64_t wm, max_ts;
	uint64_t next_partial[WEIR_MAX_QUERIES];
	uint64_t qdrop[WEIR_MAX_QUERIES][WEIR_QDROP__COUNT];
};

struct weir_window_set {
	unsigned n_queries;                          /* slots ever used (some may be free now) */
	unsigned n_workers;
	unsigned instance;                           /* names its rings */
	struct weir_query q[WEIR_MAX_QUERIES];
	struct weir_window_view base;                /* every live slot, unbounded: the default view */
	uint32_t combine_flows;                      /* flow combiner entries per worker (0: off) */
	unsigned combine_min_queries;                /* queries it must serve to run */
	struct rte_ring *sealed;                     /* workers -> merger */
	struct weir_window_worker *workers;
	/* control thread only */
	bool live[WEIR_MAX_QUERIES];                 /* the slot holds a query */
	void *shard_mem[WEIR_MAX_QUERIES];           /* its shards, every worker's */
	unsigned ring_serial;
	struct merger_query mq[WEIR_MAX_QUERIES];
	uint32_t merged_max_keys[WEIR_MAX_QUERIES];
	weir_window_emit_fn emit;
	void *emit_ctx;
	unsigned emitted;
	/*
	 * Checkpoint barrier: marks[w] is worker w's mark (its address, in the
	 * ring, tells it from a shard). From a worker's mark until every
	 * worker's is in, its later shards wait in `held` and nothing is
	 * emitted: the merger then holds exactly the state before the barrier.
	 */
	struct weir_window_mark *marks;
	bool *marked;
	unsigned n_marked;
	struct weir_table **held;
	unsigned n_held, held_cap;
};

/* A merged table for query qi (a spare or a new one); NULL when out of memory. */
struct weir_table *weir_merged_get(struct weir_window_set *s, unsigned qi);
/* Query qi's merged pane starting at `start`, created (empty) if missing; NULL: out of memory. */
struct pane *weir_pane_get(struct weir_window_set *s, unsigned qi, uint64_t start, bool *created);

/* Format a reason into err (when given) and return -1: the loaders' error path. */
int weir_window_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
