/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_burst: what the pipeline knows about each packet of a burst beyond
 * its parsed headers, filled stage by stage (inspection, enrichment) and
 * read by the later ones (filters, windows). Arrays are indexed by the
 * packet's position in the burst; a NULL array means the stage that fills
 * it is not running (no flows, no lookup table, ...).
 */
#ifndef WEIR_BURST_H
#define WEIR_BURST_H

#include <stdint.h>

#define WEIR_BURST_MAX 512        /* packets one burst call takes */
#define WEIR_BURST_RULES_MAX 2048 /* matched (packet, rule) pairs one burst carries */

/*
 * The rules each packet of a burst matched: packet i matched ids[off[i]] ..
 * ids[off[i + 1] - 1] (distinct rule ids), sev[] the severity of each
 * (1 = most severe). drop[] is the inline verdict (weir run --inline).
 */
struct weir_burst_rules {
	uint32_t n;
	uint16_t off[WEIR_BURST_MAX + 1];
	uint32_t ids[WEIR_BURST_RULES_MAX];
	uint8_t sev[WEIR_BURST_RULES_MAX];
	uint8_t drop[WEIR_BURST_MAX];     /* 1: a drop rule matched the packet or earlier its flow */
};

/* Flow direction of a packet relative to its flow's client. */
enum weir_direction { WEIR_PKT_DIR_NONE = 0, WEIR_PKT_DIR_TO_SERVER = 1, WEIR_PKT_DIR_TO_CLIENT = 2 };

struct weir_burst_meta {
	const uint64_t *ts;                    /* event time, ns (never NULL) */
	const struct weir_burst_rules *rules;  /* NULL: no rules loaded */
	const uint64_t *flow_id;               /* the flow's id (0: no flow) */
	const uint8_t *direction;              /* enum weir_direction */
	const uint8_t *flow_new;               /* 1: the packet created its flow */
	const uint32_t *src_label, *dst_label; /* label ids of the addresses (0: none) */
	const uint64_t *dst_name;              /* DNS name hash of dst_ip (0: unknown) */
	const uint32_t *query_pass;            /* bit q: packet passed query q's filter (NULL: all) */
};

#endif /* WEIR_BURST_H */
