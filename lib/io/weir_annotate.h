/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_annotate: the stage between inspection and windows. Per packet of
 * a burst it looks up the address labels (CIDR lookup table) and learns DNS
 * answers and names destinations from them, filling the matching arrays of
 * struct weir_burst_meta. The queries' filters run just after it
 * (weir_query_filters_burst), from the burst's generation.
 *
 * Shared, read-only on the data path: the label table.
 * Per worker: its DNS table. DNS answers a worker learns go to the main
 * lcore (weir_annotate_main_poll), which keeps the names for output and
 * passes the answers on to the other workers, since a conversation and
 * the lookup that named its server rarely land on the same worker.
 */
#ifndef WEIR_ANNOTATE_H
#define WEIR_ANNOTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "weir_burst.h"
#include "weir_conf.h"
#include "weir_pkt.h"

struct rte_mbuf;
struct weir_annotate;          /* shared */
struct weir_annotate_worker;   /* one per worker */

/* Arrays the stage fills, one per burst. */
struct weir_annotations {
	uint32_t src_label[WEIR_BURST_MAX], dst_label[WEIR_BURST_MAX];
	uint64_t dst_name[WEIR_BURST_MAX];
	uint32_t query_pass[WEIR_BURST_MAX];
};

/*
 * Query filters, per query slot, as a generation carries them: filtered
 * marks the slots with a program (the others pass every packet).
 */
struct weir_filter;
struct weir_query_filters {
	uint32_t filtered;
	struct weir_filter *filter[WEIR_MAX_QUERIES];
};

/*
 * Compile a query's filter (control side): labels of a (NULL: none) for
 * label predicates, the ports' link types for tcpdump syntax. NULL with err
 * naming path:line and the query.
 */
struct weir_filter *weir_annotate_compile_filter(const struct weir_annotate *a,
						 const uint16_t *port_linktype, unsigned n_ports,
						 const struct weir_query_conf *c, const char *path,
						 char *err, size_t errlen);

/* Data path: bit q of pass[i]: packet i passes query q's filter (set for unfiltered queries). */
void weir_query_filters_burst(const struct weir_query_filters *qf, uint32_t active,
			      struct rte_mbuf *const *m, const struct weir_burst_meta *meta, unsigned n,
			      uint32_t *pass);

/* Are DNS names learnt (dst_name works)? a may be NULL. */
bool weir_annotate_has_dns(const struct weir_annotate *a);

/* Does the config need the stage (labels or dst_name)? */
bool weir_annotate_wanted(const struct weir_config *cfg);

/* Build it: load the label CSV, set up DNS learning. NULL + err naming the file on failure. */
struct weir_annotate *weir_annotate_create(const struct weir_config *cfg, unsigned n_workers,
					   char *err, size_t errlen);
void weir_annotate_free(struct weir_annotate *a);
struct weir_annotate_worker *weir_annotate_worker_get(struct weir_annotate *a, unsigned worker);

/* Data path: annotate a burst; points meta's arrays into `out`. */
void weir_annotate_burst(struct weir_annotate_worker *w, struct rte_mbuf *const *m,
			 const struct weir_pkt *const *pkts, unsigned n, struct weir_burst_meta *meta,
			 struct weir_annotations *out);

/* Main lcore: collect learnt names, pass answers on. Returns answers moved. */
unsigned weir_annotate_main_poll(struct weir_annotate *a);

/* Main lcore: label or DNS name for an id (weir_out_name_fn). */
const char *weir_annotate_name(void *a, enum weir_field f, uint64_t id);

/* Counters for stats: DNS answers learnt, passed on, lost on a full ring, table evictions. */
void weir_annotate_dns_stats(const struct weir_annotate *a, uint64_t *learnt, uint64_t *shared,
			     uint64_t *ring_full, uint64_t *evicted);

#endif /* WEIR_ANNOTATE_H */
