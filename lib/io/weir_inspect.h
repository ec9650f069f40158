/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Inspection stage (internal to weir_io): flow tracking and payload
 * matching for one worker's bursts. It sits between parsing and the window
 * stage, and hands the window stage each packet's matched rules.
 *
 * Alerts and flow records leave the worker as fixed-size records over a
 * single-producer ring to the main lcore, which formats them; a full ring
 * loses the record, counted (alerts_lost, flow_records_lost), never blocks.
 */
#ifndef WEIR_INSPECT_H
#define WEIR_INSPECT_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "weir_conf.h"
#include "weir_flow.h"
#include "weir_match.h"
#include "weir_window.h"

/* What a worker sends to the main lcore. */
/* BARRIER: a worker's checkpoint barrier; no output of its own. */
enum weir_record_kind { WEIR_REC_ALERT = 1, WEIR_REC_FLOW, WEIR_REC_BARRIER };

struct weir_alert_rec {
	uint64_t ts;
	uint64_t flow_id;          /* 0: no flow */
	uint32_t rule_idx;         /* dense index in the generation's database db */
	uint32_t matches;          /* Hyperscan reports for the rule in this packet */
	uint32_t generation;       /* the rules generation that matched */
	uint8_t db;                /* 0 base, 1 delta */
	uint8_t ip_version, proto;
	uint16_t src_port, dst_port;
	uint8_t to_server;         /* 1 to server, 0 to client, 2 unknown */
	uint8_t stream;            /* matched in stream mode */
	uint8_t src_ip[16], dst_ip[16];
};

struct weir_flow_rec {
	struct weir_flow_info info;
	uint8_t end;               /* enum weir_flow_end */
};

struct weir_record {
	uint32_t kind;             /* enum weir_record_kind */
	uint32_t worker;
	union {
		struct weir_alert_rec alert;
		struct weir_flow_rec flow;
	};
};

/* Per-rule counters of one worker. */
struct weir_rule_counters {
	uint64_t packets;          /* packets that matched the rule */
	uint64_t matches;          /* Hyperscan reports */
	uint64_t alerts;           /* alert records sent */
	uint64_t suppressed;       /* alerts over alert_limit for their flow */
};

#define WEIR_INSPECT_COUNTER_LIST(X)                                            \
	X(SCANNED,        "scanned")        /* packets with payload inspected */     \
	X(SCANNED_BYTES,  "scanned_bytes")                                          \
	X(STREAM_BYTES,   "stream_bytes")   /* bytes given to stream scans */       \
	X(NO_STREAM,      "no_stream")      /* stream states exhausted */          \
	X(ALERTS_LOST,    "alerts_lost")    /* record ring full */                 \
	X(FLOWS_LOST,     "flow_records_lost")                                      \
	X(HITS_DROPPED,   "hits_dropped")   /* rules beyond the per-packet bound */ \
	X(SCAN_ERRORS,    "scan_errors")                                            \
	X(CONFIRM_ERRORS, "confirm_errors") /* PCRE2 gave up (match limit): no hit */

enum weir_inspect_counter {
#define WEIR_X(e, s) WEIR_INSPECT_##e,
	WEIR_INSPECT_COUNTER_LIST(WEIR_X)
#undef WEIR_X
	WEIR_INSPECT__COUNT
};
const char *weir_inspect_counter_name(enum weir_inspect_counter c);

struct weir_inspect;

/*
 * One worker's stage. rc: the worker's per-rule counters by slot (see
 * weir_gen.h), NULL without rules; flows are tracked when the config asks
 * for them (mode on, or auto with rules or records). records: this worker's
 * ring to the main lcore (elements of struct weir_record). NULL + err on
 * failure.
 */
struct weir_inspect *weir_inspect_create(const struct weir_config *cfg, unsigned worker,
					 struct rte_ring *records, struct weir_rule_counters *rc,
					 char *err, size_t errlen);
void weir_inspect_free(struct weir_inspect *in);

/* Does the config need the stage at all? */
bool weir_inspect_wanted(const struct weir_config *cfg);
/* Does it track flows? */
bool weir_inspect_flows_wanted(const struct weir_config *cfg);

/* What the stage tells later ones about each packet's flow (arrays of the burst). */
struct weir_flow_notes {
	uint64_t id[WEIR_BURST_MAX];        /* 0: no flow */
	uint8_t direction[WEIR_BURST_MAX];  /* enum weir_direction */
	uint8_t is_new[WEIR_BURST_MAX];     /* 1: the packet created its flow */
};

struct weir_gen;

/*
 * Data path: flows, then scans against generation g (the one the worker
 * dereferenced for this burst; NULL without rules), for a parsed and stamped
 * burst. Fills rules (the rules each packet matched, for `rule`-keyed
 * queries). expire and flush take the generation likewise (ending flows
 * closes their streams).
 */
void weir_inspect_burst(struct weir_inspect *in, const struct weir_gen *g, struct rte_mbuf **m,
			const struct weir_pkt *const *pkts, const uint64_t *ts, unsigned n,
			struct weir_burst_rules *rules, struct weir_flow_notes *fi);

/* Data path, between bursts: end idle flows up to event time now (bounded work). */
void weir_inspect_expire(struct weir_inspect *in, const struct weir_gen *g, uint64_t now);
/*
 * End of input at event time now (the latest packet time the worker saw):
 * end every flow, those already timed out at now as timeout (closed), the
 * rest as flushed (weir_flow_flush_at), whatever expire had got to.
 */
void weir_inspect_flush(struct weir_inspect *in, const struct weir_gen *g, uint64_t now);

/*
 * Checkpoints of the flow table and of the alert counters per (flow, rule);
 * Hyperscan stream states are not carried: a restored flow's streams start
 * afresh. The flow table is copied on write (weir_flow_cow_*): the barrier
 * costs O(1) and the copy goes on in small steps between bursts.
 *   enable: before the data path runs; 1, 0 when no flows are tracked, -1 + err.
 *   begin: data path, at a barrier (the alert counters are copied at once).
 *   step: data path, between bursts: up to `budget` more flows; true once the
 *         copy is complete (and when none is under way).
 *   size, write: any thread, once step said true (ordered by the caller): the
 *         copy as bytes, weir_flow_table_snapshot's format then the counters.
 *   restore: before the worker runs; 0, or -1 + err.
 */
int weir_inspect_ckpt_enable(struct weir_inspect *in, char *err, size_t errlen);
void weir_inspect_ckpt_begin(struct weir_inspect *in);
bool weir_inspect_ckpt_step(struct weir_inspect *in, unsigned budget);
size_t weir_inspect_ckpt_size(const struct weir_inspect *in);
size_t weir_inspect_ckpt_write(const struct weir_inspect *in, void *buf, size_t len);
int weir_inspect_flows_restore(struct weir_inspect *in, const void *buf, size_t len, char *err,
			       size_t errlen);

uint64_t weir_inspect_counter(const struct weir_inspect *in, enum weir_inspect_counter c);
const struct weir_flow_table *weir_inspect_flows(const struct weir_inspect *in);

/* Main lcore: a record as one JSON object (alerts take msg/severity from rule, NULL if unknown). */
struct weir_json;
void weir_record_json(struct weir_json *j, const struct weir_record *r, const struct weir_rule *rule);

#endif /* WEIR_INSPECT_H */
