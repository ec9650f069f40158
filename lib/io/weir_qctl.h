/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Query changes at run time (internal to weir_io, main lcore only):
 * `query add FILE`, `query remove NAME`, and replacing a query by adding
 * one of the same name.
 *
 * A query lives in a slot of the window set and counts the packets of an
 * event-time range [from, until) that the published generation's view
 * gives it. Changes take effect at a window boundary so that no window
 * mixes two definitions:
 *
 *   add       the new query counts from its next window boundary after the
 *             latest event time the workers reached (its first window is
 *             whole);
 *   remove    the query counts until its next boundary: the window in
 *             progress finishes, is emitted, and the query ends;
 *   replace   both at the old query's next boundary B: old windows finish
 *             under the old definition, new ones start at B (when B is not
 *             a boundary of the new windows, its first window is partial).
 *
 * An ended query leaves the view once the merger has emitted everything it
 * holds, and its slot is freed once no worker can still read a generation
 * that names it.
 */
#ifndef WEIR_QCTL_H
#define WEIR_QCTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "weir_annotate.h"
#include "weir_conf.h"
#include "weir_window.h"

struct weir_gens;

/* What query changes need from the pipeline. */
struct weir_qctl_env {
	const struct weir_config *cfg;
	struct weir_window_set *win;
	const struct weir_annotate *ann;     /* labels for filters; NULL when the stage is off */
	const uint16_t *linktype;            /* per DPDK port id */
	unsigned n_port_ids;
	bool flows;                          /* flows are tracked: flow fields work */
	bool dns;                            /* DNS names are learnt: dst_name works */
	uint64_t (*event_time)(void *ctx);   /* latest event time the workers reached */
	void *ctx;
	pthread_mutex_t *readers_lock;       /* held while slots change (telemetry reads them) */
};

struct weir_qctl;

/*
 * The config's queries: their filters compiled (errors name file:line and
 * the query) into *qf, *view naming every one. NULL + err on failure.
 */
struct weir_qctl *weir_qctl_new(const struct weir_qctl_env *env, struct weir_window_view *view,
				struct weir_query_filters *qf, char *err, size_t errlen);
void weir_qctl_free(struct weir_qctl *q);
/* Where changes are published (before any change is accepted). */
void weir_qctl_attach(struct weir_qctl *q, struct weir_gens *gs);

int weir_qctl_add(struct weir_qctl *q, const char *file, json_t *resp, char *err, size_t errlen);
int weir_qctl_remove(struct weir_qctl *q, const char *name, json_t *resp, char *err, size_t errlen);
/* Retire ended queries, free their slots. Returns events handled. */
unsigned weir_qctl_poll(struct weir_qctl *q);

/* "live" (counting), "ending" (until set, windows still to emit), "ended" (slot being freed). */
const char *weir_qctl_state(const struct weir_qctl *q, unsigned slot);
/* Event-time bounds of the slot: from, until (UINT64_MAX: open). */
void weir_qctl_bounds(const struct weir_qctl *q, unsigned slot, uint64_t *from, uint64_t *until);

#endif /* WEIR_QCTL_H */
