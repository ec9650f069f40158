/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_enrich: reference data joined to packets.
 *
 * Labels: a CSV of `CIDR,label` lines (IPv4 and IPv6; '#' comments and
 * blank lines allowed) loaded into rte_lpm / rte_lpm6; an address gets the
 * label of its longest matching prefix. Label ids are 1..n in order of
 * first appearance in the file, 0 meaning "no label".
 *
 * DNS: answers seen on the wire (A and AAAA records of DNS responses over
 * UDP or TCP port 53) teach a per-worker table address -> name, each entry
 * valid until its TTL expires in event time. Names are carried as a 64-bit
 * hash of the lower-cased question name (what the client asked for, not
 * the end of a CNAME chain); the strings live in a weir_dns_names
 * dictionary on the control thread, used when results are printed.
 */
#ifndef WEIR_ENRICH_H
#define WEIR_ENRICH_H

#include <stddef.h>
#include <stdint.h>

#include "weir_pkt.h"

#define WEIR_LABEL_MAX 64     /* bytes of a label, NUL included */
#define WEIR_DNS_NAME_MAX 256 /* bytes of a name, NUL included */

/* ---- labels (CIDR -> label) -------------------------------------------- */

struct weir_labels;

/* Load a CSV (needs the EAL: rte_lpm). NULL with err = "FILE:LINE: why". */
struct weir_labels *weir_labels_load(const char *path, char *err, size_t errlen);
void weir_labels_free(struct weir_labels *l);
uint32_t weir_labels_count(const struct weir_labels *l);
const char *weir_labels_name(const struct weir_labels *l, uint32_t id); /* NULL for 0 or unknown */
uint32_t weir_labels_find(const struct weir_labels *l, const char *name); /* 0 when unknown */

/* Data path: label ids of the src/dst address of each packet (0: none or not IP). */
void weir_labels_lookup_burst(const struct weir_labels *l, const struct weir_pkt *const *pkts,
			      unsigned n, uint32_t *src_id, uint32_t *dst_id);

/* ---- DNS answers --------------------------------------------------------- */

struct weir_dns_answer {
	uint8_t ip_version;         /* 4 or 6 */
	uint8_t ip[16];             /* IPv4 in the first 4 bytes */
	uint64_t expiry_ns;         /* event time of the response + TTL */
	uint64_t name_hash;         /* weir_dns_name_hash(name), never 0 */
	char name[WEIR_DNS_NAME_MAX];
};

uint64_t weir_dns_name_hash(const char *lowercase_name);

/*
 * Parse the DNS response carried by packet p (frame bytes `frame`, `len`
 * of them contiguous; UDP or TCP with port 53 on either side; TCP: the
 * 2-byte length prefix at the start of the segment). Writes up to `max`
 * A/AAAA answers; returns how many. Malformed, truncated or non-response: 0
 * (the first fragment of a fragmented UDP datagram: the answers complete in
 * it). The rules are written out at the top of weir_dns.c.
 */
unsigned weir_dns_parse(const struct weir_pkt *p, const uint8_t *frame, uint32_t len,
			uint64_t ts_ns, struct weir_dns_answer *out, unsigned max);

/* Per-worker table address -> (name hash, expiry); fixed capacity. */
struct weir_dns_table;

struct weir_dns_table *weir_dns_table_create(uint32_t capacity, int socket, char *err,
					     size_t errlen);
void weir_dns_table_free(struct weir_dns_table *t);
/*
 * Data path. The same address (and IP version) replaces its entry (new
 * name, new expiry). A new address takes a free slot of its probe window (8
 * slots); when the window is full, the entry expiring first there goes, which
 * is an expired one if there is any. weir_dns_table_insert_ts() knows the
 * event time of the response, so only displacing a live entry (ts < expiry)
 * counts as an eviction; weir_dns_table_insert() cannot tell and counts every
 * entry of another address it displaces.
 */
void weir_dns_table_insert(struct weir_dns_table *t, const struct weir_dns_answer *a);
void weir_dns_table_insert_ts(struct weir_dns_table *t, const struct weir_dns_answer *a,
			      uint64_t ts_ns);
/* Data path: the name hash of ip at event time ts, 0 when unknown or expired. */
uint64_t weir_dns_table_lookup(const struct weir_dns_table *t, uint8_t ip_version,
			       const uint8_t ip[16], uint64_t ts_ns);
uint64_t weir_dns_table_evictions(const struct weir_dns_table *t);

/* Control thread: name hash -> name, for output. */
struct weir_dns_names;
struct weir_dns_names *weir_dns_names_create(void);
void weir_dns_names_free(struct weir_dns_names *d);
void weir_dns_names_add(struct weir_dns_names *d, uint64_t hash, const char *name);
const char *weir_dns_names_get(const struct weir_dns_names *d, uint64_t hash); /* NULL unknown */

#endif /* WEIR_ENRICH_H */
