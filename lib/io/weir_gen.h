/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Generations (internal to weir_io): everything the data path reads of the
 * rules and queries, as one immutable object swapped with RCU (liburcu QSBR).
 *
 * A generation holds up to two compiled databases, a base and a small delta
 * (the rules added since the base was built), each scanned in turn, and per
 * database a map from Hyperscan's dense rule index to a counter slot, where
 * WEIR_GEN_OFF marks a rule that is removed (its hits are ignored); and the
 * query view and filters (weir_qctl.h changes those). For rules:
 *
 *   rules reload [FILE...]  parse, compile the whole set, publish {new base}
 *   rules add FILE          compile only the delta (old delta + FILE), publish
 *                           {same base, new delta}
 *   rules remove ID...      no compile: publish {same databases, those OFF}
 *
 * and after an add or remove a background merge compiles base + delta -
 * removed into a new base and publishes it. A job (reload, add, merge) runs
 * on a thread of its own on the main lcore's CPUs: parse (files unchanged
 * since an earlier parse are copied instead), compile in a forked child
 * under a memory bound (RLIMIT_DATA) and a time bound (SIGALRM) into the
 * compiled-database cache (skipped when every database is cached), load
 * from the cache, allocate the workers' scratch. The main lcore only builds
 * and publishes the generation. The two most recently retired reload sets
 * stay compiled: reloading one of them (files unchanged) publishes at once.
 *
 * Workers (registered QSBR readers) dereference the published generation
 * once per burst and report a quiescent state between bursts. A retired
 * generation is freed after its grace period and once the main lcore has
 * drained the alert records that name it. Per-worker matching state (scratch,
 * stream-state pool) belongs to a database, so generations that share a
 * database share it: only a new base or delta resets the stream matching of
 * open flows (their next bytes start a fresh stream; a match spanning the
 * swap is not reported).
 *
 * Counter slots are stable per rule id across generations (per-rule stats
 * carry on through reloads); a slot is recycled, zeroed, only when no live
 * generation holds its rule. At most cfg->rules_max distinct rule ids are
 * live at once.
 */
#ifndef WEIR_GEN_H
#define WEIR_GEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <urcu-qsbr.h>

#include "weir_annotate.h"
#include "weir_conf.h"
#include "weir_inspect.h"
#include "weir_match.h"
#include "weir_window.h"

#define WEIR_GEN_OFF UINT32_MAX
#define WEIR_GEN_DBS 2 /* base, delta */

/* A compiled database and the per-worker state scans of it need. */
struct rdb_key;
struct weir_rdb {
	uint32_t serial;           /* unique in the process: stream states name their db by it */
	struct rdb_key *key;       /* the files it was compiled from (reloads), or NULL */
	unsigned refs;             /* generations holding it (main lcore only) */
	bool stream_rules;         /* has stream-mode rules (and flows are tracked) */
	struct weir_ruleset *rs;
	struct weir_match *match;
	struct weir_match_worker *mw[WEIR_MAX_WORKERS];
};

/* One active rule: where it lives and its counter slot. */
struct weir_gen_rule {
	uint8_t db;
	uint32_t idx;              /* dense index in that db's match */
	uint32_t slot;
};

struct weir_gen {
	uint32_t id;
	bool rules;                /* a database is there to scan */
	bool stream_rules;         /* any db has stream rules */
	struct weir_window_view view;       /* the queries workers run */
	struct weir_query_filters qf;       /* and their filters */
	struct weir_rdb *db[WEIR_GEN_DBS];  /* base, delta; NULL when absent */
	uint32_t *slot[WEIR_GEN_DBS];       /* dense index -> counter slot or WEIR_GEN_OFF */
	unsigned n_active;
	struct weir_gen_rule *active;       /* in db, then index, order */
	/* main lcore */
	struct rcu_head rcu;
	uint32_t grace_done;
	struct weir_gen *next_retired;
};

/* The rule an alert record names, or NULL. */
static inline const struct weir_rule *weir_gen_rule(const struct weir_gen *g, unsigned db,
						    uint32_t idx)
{
	return db < WEIR_GEN_DBS && g->db[db] ? weir_match_rule(g->db[db]->match, idx) : NULL;
}

struct weir_gens;

/*
 * Load and compile the config's rules (problems on stderr with file:line)
 * into generation 1, with the queries of view and qf (copied); without rule
 * files it has no database, and rules cannot be added later. readers_lock is
 * held while the current generation changes or one is freed (telemetry
 * threads read the current one under it). NULL + err on failure.
 */
struct weir_gens *weir_gens_new(const struct weir_config *cfg, unsigned n_workers,
				const struct weir_window_view *view, const struct weir_query_filters *qf,
				pthread_mutex_t *readers_lock, char *err, size_t errlen);

/* Publish a generation with the current rules and these queries (copied). 0, or -1 + err. */
int weir_gens_publish_queries(struct weir_gens *gs, const struct weir_window_view *view,
			      const struct weir_query_filters *qf, char *err, size_t errlen);
/* The oldest generation a worker may still be reading (the current one when none retired). */
uint32_t weir_gens_oldest_id(const struct weir_gens *gs);
void weir_gens_free(struct weir_gens *gs);

/* What workers rcu_dereference once per burst. */
struct weir_gen **weir_gens_published(struct weir_gens *gs);
/* Main lcore's view (and readers' under readers_lock). */
const struct weir_gen *weir_gens_current(const struct weir_gens *gs);
/* The running generation's id: 1 when there are no rules (the first and only one). */
uint32_t weir_gens_id(const struct weir_gens *gs);
/* A live generation by id (records in flight name retired ones), or NULL. */
const struct weir_gen *weir_gens_find(const struct weir_gens *gs, uint32_t id);
/* Worker w's per-rule counters, indexed by slot. */
struct weir_rule_counters *weir_gens_counters(struct weir_gens *gs, unsigned w);

/*
 * Control commands (main lcore). reload/add start a compile job and return
 * at once (state in weir_gens_job_json); remove publishes at once. 0, or -1
 * with err (a file:line for rules that do not load; "a job is running").
 * files NULL/n 0 for reload: the config's rule files.
 */
int weir_gens_reload(struct weir_gens *gs, char **files, unsigned n, json_t *resp, char *err,
		     size_t errlen);
int weir_gens_add(struct weir_gens *gs, const char *file, json_t *resp, char *err, size_t errlen);
int weir_gens_remove(struct weir_gens *gs, unsigned n, const uint32_t *ids, json_t *resp,
		     char *err, size_t errlen);
/* {"generation":N,"job":{...}|null,"merge":"idle|pending|compiling"} members into resp. */
void weir_gens_status_json(const struct weir_gens *gs, json_t *resp);

/*
 * Main lcore loop: finish a compile job (publish or fail), start a pending
 * merge, free generations past their grace period; drain(ctx) is called
 * first so that no record in flight names a freed generation. Returns the
 * events handled (0 when idle). Never blocks on a compile.
 */
unsigned weir_gens_poll(struct weir_gens *gs, void (*drain)(void *), void *ctx);

/* Compile jobs finished (ok/failed) and generations published, for stats. */
struct weir_gens_stats {
	uint64_t published, jobs_ok, jobs_failed, merges;
	double last_compile_s;
};
const struct weir_gens_stats *weir_gens_stats(const struct weir_gens *gs);

#endif /* WEIR_GEN_H */
