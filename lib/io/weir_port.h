/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Ports (internal to weir_io): open a DPDK port from its weir_port_conf.
 */
#ifndef WEIR_PORT_H
#define WEIR_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "weir_conf.h"
#include "weir_pkt.h"

struct weir_port {
	const struct weir_port_conf *conf;
	uint16_t port_id;
	uint16_t n_rxq;
	uint16_t n_txq;     /* inline mode's, and idle ones drivers need (net_tap, net_memif) */
	struct rte_mempool *pool;
	uint64_t expected;   /* finite sources: records in the file */
	bool hw_timestamps;  /* the driver stamps event time into the mbuf */
	uint32_t ts_mult;    /* driver timestamp units -> ns (net_pcap stamps microseconds) */
	char name[64];
};

/*
 * rte_pktmbuf_free_bulk, faster for the burst a PMD's rx gives: direct
 * single-segment mbufs of one pool, each held once, go straight back to the
 * pool's lcore cache. Any other burst is freed by rte_pktmbuf_free_bulk.
 */
void weir_mbuf_free_burst(struct rte_mbuf **m, unsigned n);

/* Parsed descriptor of a packet lives in its mbuf's private area. */
static inline struct weir_pkt *weir_mbuf_pkt(struct rte_mbuf *m)
{
	return (struct weir_pkt *)rte_mbuf_to_priv(m);
}

/* Rx queues this port will get with `workers` workers. */
uint16_t weir_port_queues(const struct weir_port_conf *c, unsigned workers);

/* Hugepage memory the ports' mempools need (bytes, rough upper bound). */
uint64_t weir_ports_memory_estimate(const struct weir_config *cfg);

/*
 * Probe, configure and start the port, with at least fwd_txq tx queues
 * (inline mode sends on them). 0, or -1 with err filled.
 */
int weir_port_open(struct weir_port *p, const struct weir_port_conf *c, unsigned index,
		   unsigned workers, unsigned burst, uint16_t fwd_txq, char *err, size_t errlen);
void weir_port_close(struct weir_port *p);

/* Dynamic mbuf field/flag for the event timestamp (ns), registered once. */
extern int weir_ts_offset;
extern uint64_t weir_ts_flag;
int weir_ts_register(char *err, size_t errlen);

#endif /* WEIR_PORT_H */
