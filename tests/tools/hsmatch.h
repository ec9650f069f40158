/* SPDX-License-Identifier: BSD-3-Clause
 *
 * hsmatch: the oracle harness of the match tests. Reads a capture with
 * libpcap, keeps the payloads of the "compat" definition (the one of
 * Hyperscan's pcapscan example and of ../shared/data/oracle/hs_oracle-*.tsv:
 * Ethernet with IPv4 directly at offset 14, not a fragment, TCP or UDP,
 * payload clamped to the captured length) found with weir_pkt_parse, and
 * counts per rule what weir_match reports in block and stream mode.
 */
#ifndef HSMATCH_H
#define HSMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir_match.h"

struct hsm_payload {
	const uint8_t *data;
	uint32_t len;
	uint32_t stream;             /* unidirectional 5-tuple, numbered by first payload */
	struct weir_match_pkt scope;
};

struct hsm_capture {
	uint8_t *buf;                /* every record, back to back */
	struct hsm_payload *pl;
	size_t n;                    /* payload packets */
	uint64_t packets, bytes;     /* records read, payload bytes */
	uint32_t streams;
};

/* Per rule id, in the order of the rule set. */
struct hsm_count {
	uint32_t id;
	uint64_t block_matches, block_pkts, stream_matches;
};

struct hsm_oracle {
	unsigned n;
	struct hsm_count row[256];
	uint64_t payload_pkts, payload_bytes, streams;
};

/*
 * HSM_COMPAT: the definition above; like pcapscan it reads IPv4 at offset
 * 14 whatever the ethertype says (in ndpi-mix 37 fuzzed frames count only
 * that way) and a zero IPv4 total length (TSO captures) leaves no payload.
 * HSM_EXT: the one of hs_oracle-ndpi-mix-ext.tsv: by the ethertypes, IPv4
 * or IPv6 behind zero to two VLAN tags (IPv6 hop-by-hop, routing and
 * destination-options headers skipped; fragments and any other extension
 * header not scanned).
 */
enum hsm_def { HSM_COMPAT, HSM_EXT };
int hsm_load(const char *pcap, enum hsm_def def, struct hsm_capture *cap, char *err, size_t errlen);
void hsm_free(struct hsm_capture *cap);

/* Block-scan every payload; counts[] sized weir_ruleset_count. *scan_s: the
 * time of the scan loop alone. -1 on a scan error or a dropped hit. */
int hsm_block(const struct weir_match *m, const struct hsm_capture *cap, struct hsm_count *counts,
	      unsigned n_counts, double *scan_s);
/* One stream per 5-tuple in capture order, closed (end-of-data matches
 * counted) after the last packet. */
int hsm_stream(const struct weir_match *m, const struct hsm_capture *cap, struct hsm_count *counts,
	       unsigned n_counts, double *scan_s);

int hsm_oracle_load(const char *tsv, struct hsm_oracle *o);

#endif /* HSMATCH_H */
