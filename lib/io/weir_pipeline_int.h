/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The pipeline's state, shared by weir_pipeline.c (the lcores, the main
 * loop, stats and control) and weir_checkpoint.c (barriers, checkpoint
 * files, restore). Not part of weir_io's interface.
 */
#ifndef WEIR_PIPELINE_INT_H
#define WEIR_PIPELINE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <jansson.h>

#include "weir_annotate.h"
#include "weir_conf.h"
#include "weir_gen.h"
#include "weir_inspect.h"
#include "weir_io.h"
#include "weir_obs.h"
#include "weir_out.h"
#include "weir_port.h"
#include "weir_qctl.h"
#include "weir_window.h"

#define BURST_MAX 512
#define PREFETCH_AHEAD 4
#define HDR_MAX 512        /* bytes of a chained frame's head linearised for parsing */
#define MAX_RXQ 64         /* rx queues one poller serves */
#define RECORD_RING 8192   /* alert/flow records in flight per worker */
#define NO_PEER UINT16_MAX
#define EOF_IDLE_S 2       /* a finite port silent this long is done even if short of records */

struct counters {
	uint64_t rx;         /* received from ports by this lcore */
	uint64_t processed;  /* went through every stage */
	uint64_t bytes;      /* captured bytes of processed packets */
	uint64_t dropped[WEIR_DROP__COUNT];
	uint64_t malformed[WEIR_PKT_MAL__COUNT];
	/* inline mode: processed packets sent on to the peer port, or not (by reason) */
	uint64_t forwarded;
	uint64_t fwd_dropped[WEIR_FWD_DROP__COUNT];
};

/*
 * Where an lcore's cycles go, stage by stage: one burst in STAGE_SAMPLE is
 * timed (an rdtsc per stage), so the clock costs well under a cycle per
 * packet and stays on. cyc[s] / pkts[s]: cycles per packet of stage s.
 */
#define WEIR_STAGE_LIST(X)                                                          \
	X(RX, "rx")             /* rte_eth_rx_burst of a burst that brought packets */ \
	X(PARSE, "parse")       /* headers, event time */                             \
	X(HANDOVER, "handover") /* distributor: hash, enqueue to the workers' rings */ \
	X(DEQUEUE, "dequeue")   /* worker behind the distributor: its ring */          \
	X(INSPECT, "inspect")   /* flows, Hyperscan */                                \
	X(ANNOTATE, "annotate") /* labels, DNS names, per-packet filters */           \
	X(FILTER, "filter")     /* query filters */                                   \
	X(WINDOW, "window")     /* keys, hash, aggregate updates */                   \
	X(TX, "tx")             /* free, or forward (inline) */                        \
	X(ADVANCE, "advance")   /* flow expiry, window advance, checkpoint copy steps */

enum weir_stage {
#define WEIR_X(e, s) WEIR_STAGE_##e,
	WEIR_STAGE_LIST(WEIR_X)
#undef WEIR_X
	WEIR_STAGE__COUNT
};

#ifndef STAGE_SAMPLE
#define STAGE_SAMPLE 16 /* one burst in this many is timed (-DSTAGE_SAMPLE=1: all, to chase spikes) */
#endif

struct stage_clock {
	uint64_t cyc[WEIR_STAGE__COUNT];
	uint64_t pkts[WEIR_STAGE__COUNT];
	uint64_t last;  /* TSC at the end of the previous stage of the timed burst */
	uint64_t t0;    /* TSC at the start of the timed burst */
	uint32_t tick;
	bool on;        /* the current burst is timed */
	/* the longest timed burst, stage by stage: where a latency spike went */
	uint64_t cur[WEIR_STAGE__COUNT];
	uint64_t worst[WEIR_STAGE__COUNT];
	uint64_t worst_total;
	uint32_t worst_pkts;
};

/* Is the next burst timed? Then its rx is timed too: t0 = rdtsc before it. */
static inline uint64_t stage_clock_due(const struct stage_clock *k)
{
	return ((k->tick + 1) % STAGE_SAMPLE) == 0 ? rte_rdtsc() : 0;
}

/* A burst begins (t0: TSC from stage_clock_due, before the rx). */
static inline void stage_clock_start(struct stage_clock *k, uint64_t t0)
{
	k->on = (++k->tick % STAGE_SAMPLE) == 0 && t0;
	k->last = k->t0 = t0;
	if (unlikely(k->on))
		memset(k->cur, 0, sizeof(k->cur));
}

/* Stage s of the burst (n packets) is done. */
static inline void stage_clock_lap(struct stage_clock *k, enum weir_stage s, unsigned n)
{
	if (unlikely(k->on)) {
		uint64_t now = rte_rdtsc();
		k->cyc[s] += now - k->last;
		k->pkts[s] += n;
		k->cur[s] = now - k->last;
		k->last = now;
	}
}

/* The timed burst (n packets) is over: keep it if it is the longest yet. */
static inline void stage_clock_end(struct stage_clock *k, unsigned n)
{
	if (unlikely(k->on) && k->last - k->t0 > k->worst_total) {
		memcpy(k->worst, k->cur, sizeof(k->worst));
		k->worst_total = k->last - k->t0;
		k->worst_pkts = n;
	}
}

struct rxq_ref {
	uint16_t port_id;
	uint16_t queue;
	uint16_t port_index;
};

/* Whatever polls rx queues: a worker (direct) or the distributor. */
struct poller {
	struct rxq_ref rxq[MAX_RXQ];
	uint64_t got[MAX_RXQ];
	unsigned n_rxq;
	unsigned next;
	uint64_t idle_since;  /* TSC of the first empty poll in a row, 0 = busy */
	uint64_t pace_t0, pace_got;  /* replay_pps: TSC of the first poll, packets read since */
};

struct pipeline;

/*
 * What a source (a direct worker, or the distributor) had read, and its
 * counters, when it took a checkpoint barrier: the checkpoint's source
 * positions and totals.
 */
struct ckpt_mark {
	uint64_t epoch;
	uint64_t got[MAX_RXQ];
	struct counters c;
	uint64_t max_ts; /* the latest event time (ns) of the packets before the barrier */
};

struct worker {
	unsigned id;
	struct pipeline *pl;
	struct poller po;                  /* direct mode */
	struct rte_ring *ring;             /* distributor mode */
	struct weir_window_worker *win;
	struct weir_inspect *inspect;      /* flows and matching; NULL when not wanted */
	struct rte_ring *records;          /* alerts and flow records to the main lcore */
	struct counters c;
	uint64_t max_ts_pub;               /* event time reached, for idle peers */
	uint32_t done;
	struct weir_annotate_worker *ann;  /* labels, names, filters; NULL when not wanted */
	struct weir_burst_rules rules;     /* what the burst matched, for `rule` queries */
	struct weir_flow_notes flows;       /* each packet's flow */
	struct weir_annotations notes;     /* labels, names, filter results */
	/* checkpoints: the last barrier taken, and what the worker had then */
	uint64_t epoch;
	struct ckpt_mark mark;
	uint64_t deq;                      /* distributor mode: packets taken from the ring */
	bool flow_ckpt;                    /* checkpoints copy this worker's flow table */
	uint64_t flow_copying;             /* the barrier whose flow copy is under way, 0: none */
	uint64_t flow_done;                /* the last barrier whose copy is complete (release) */
	struct weir_hist burst __rte_cache_aligned; /* TSC cycles per burst in worker_process */
	struct stage_clock clock;
	/* inline mode: forward on the peer port's tx queue txq (direct mode), or hand
	 * the burst back to the distributor over tx_ring, which sends it */
	bool fwd;
	uint16_t txq;
	struct rte_ring *tx_ring;
	/* Distributor mode: take barrier `barrier_epoch` once deq reaches barrier_at. */
	uint64_t barrier_at __rte_cache_aligned;
	uint64_t barrier_epoch;            /* written last, with release */
} __rte_cache_aligned;

struct distributor {
	struct poller po;
	struct counters c;
	struct rte_mbuf *bucket[WEIR_MAX_WORKERS][BURST_MAX];
	uint64_t enq[WEIR_MAX_WORKERS];    /* packets handed to each worker's ring */
	uint64_t epoch;                    /* the last checkpoint barrier passed on */
	struct ckpt_mark mark;
	struct stage_clock clock;
	/* Read by workers: everything up to ts has been enqueued. */
	uint64_t ts __rte_cache_aligned;
	uint32_t done;
} __rte_cache_aligned;

struct pipeline {
	const struct weir_config *cfg;
	volatile sig_atomic_t *stop;
	struct weir_port ports[WEIR_MAX_PORTS];
	unsigned n_ports;
	uint16_t linktype[RTE_MAX_ETHPORTS]; /* DLT numbers: SLL2 is 276 */
	uint32_t ts_mult[RTE_MAX_ETHPORTS];
	bool all_finite;
	struct weir_window_set *win;
	struct weir_out *out;
	struct worker *workers;
	unsigned n_workers;
	struct distributor *dist;
	uint64_t delay;
	uint64_t tsc_hz, tsc0, wall0;
	uint64_t windows_emitted;
	uint64_t records_written;      /* alerts and flow records */
	uint64_t tsc_start, tsc_end;   /* launch .. last lcore done */
	/* inline mode: port_id -> the port_id its packets go out on (NO_PEER: none) */
	bool inline_mode;
	bool idle_spin;                /* inline, and a CPU per polling lcore: they never yield */
	uint16_t peer[RTE_MAX_ETHPORTS];
	struct weir_gens *gens;        /* generations: rules and queries */
	struct weir_qctl *qctl;        /* query changes */
	struct weir_gen **gen_pub;     /* what workers rcu_dereference per burst */
	struct weir_annotate *ann;     /* NULL when no query needs it */
	struct weir_json rec_json;
	struct weir_ctl *ctl;          /* control socket; NULL when off */
	struct weir_metrics *metrics;  /* Prometheus endpoint; NULL when off */
	char metrics_addr[96];         /* where it listens, as bound */
	/* Checkpoints: the barrier epoch sources are asked to take (the main lcore writes it). */
	uint64_t ckpt_req __rte_cache_aligned;
	struct weir_checkpoints *ck;   /* NULL when checkpoints are off */
};

/* ---- weir_checkpoint.c: checkpoints of the pipeline's state ---- */

struct weir_checkpoints;

/*
 * Before the output is opened: set up checkpoints (the writer thread) and,
 * with --restore, read the checkpoint and load the window set. 0, or -1 with
 * err (exit status 2: bad checkpoint or one that does not fit).
 */
int weir_checkpoints_open(struct pipeline *pl, char *err, size_t errlen);
/* The output offset a restore cuts the output back to (-1: none). */
int64_t weir_checkpoints_out_offset(const struct pipeline *pl);
/*
 * After the output is open and the workers exist, before they run: the
 * counters, the source positions (capture ports skip what was read) and
 * the record saying where the restore started. 0, or -1 with err.
 */
int weir_checkpoints_resume(struct pipeline *pl, char *err, size_t errlen);
/* Main lcore, every loop: start barriers when due, cut checkpoints once aligned. Work done. */
unsigned weir_checkpoints_poll(struct pipeline *pl);
/* Ask for a checkpoint now (weirctl snapshot). Its epoch, or 0 with err (off, busy). */
uint64_t weir_checkpoints_request(struct pipeline *pl, char *err, size_t errlen);
/* Is a barrier under way (records are then drained one at a time)? */
bool weir_checkpoints_pending(const struct pipeline *pl);
/* Worker w's barrier mark came out of its records ring. */
void weir_checkpoints_record_mark(struct pipeline *pl, unsigned w);
/* Records ring w is at its barrier: leave the rest in the ring until the cut. */
bool weir_checkpoints_records_held(const struct pipeline *pl, unsigned w);
/*
 * Once the lcores have stopped and the rings are drained: cut the barrier
 * under way if it aligned, else give it up. True if one was under way (the
 * merger then has held-back shards to take and windows to emit).
 */
bool weir_checkpoints_finish(struct pipeline *pl);
void weir_checkpoints_free(struct pipeline *pl);
/* Status as JSON (weirctl snapshot status, stats). */
void weir_checkpoints_json(struct pipeline *pl, json_t *r);
void weir_checkpoints_stats(struct pipeline *pl, struct weir_json *j);

/* Data path: this lcore's checkpoint barrier. */
void weir_worker_barrier(struct worker *w, uint64_t epoch);

#endif
