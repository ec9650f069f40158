/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Port set-up from pmd-config profiles.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include "weir_port.h"

int weir_ts_offset = -1;
uint64_t weir_ts_flag;

/* Symmetric Toeplitz key: both directions of a flow hash alike (queue spread only). */
static uint8_t symmetric_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

int weir_ts_register(char *err, size_t errlen)
{
	if (weir_ts_offset >= 0)
		return 0;
	if (rte_mbuf_dyn_rx_timestamp_register(&weir_ts_offset, &weir_ts_flag) < 0) {
		snprintf(err, errlen, "cannot register the mbuf timestamp field: %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

uint16_t weir_port_queues(const struct weir_port_conf *c, unsigned workers)
{
	if (c->rx_queues)
		return c->rx_queues;
	return (uint16_t)(workers ? workers : 1);
}

/*
 * The descriptor's area, a whole number of cache lines: the frame then
 * starts on a line (128 + priv + 128 headroom), as in a pool without one.
 * An 80-byte area put every frame 16 bytes into a line: a 64-byte frame
 * spanned two, and the driver's copy and the parse touched one line more
 * per packet (on the pcap replay, the copy's source is a memory miss).
 */
#define MBUF_PRIV_SIZE RTE_ALIGN(sizeof(struct weir_pkt), RTE_CACHE_LINE_SIZE)
_Static_assert((sizeof(struct rte_mbuf) + MBUF_PRIV_SIZE + RTE_PKTMBUF_HEADROOM) %
		       RTE_CACHE_LINE_SIZE == 0,
	       "received frames start on a cache line");

static size_t mbuf_elt_size(const struct weir_port_conf *c)
{
	return sizeof(struct rte_mbuf) + MBUF_PRIV_SIZE + c->mbuf_data_room + 128;
}

/*
 * DPDK's MBUF_FAST_FREE idea: only each mbuf's first line is read. The
 * library call, not inlined, also reads the second for m->next, which DPDK
 * keeps NULL in a single-segment mbuf.
 */
#define REARM_REFCNT_SEGS 0x0000ffffffff0000ull /* refcnt and nb_segs in the rearm word */
#define REARM_ONCE_ONE_SEG 0x0000000100010000ull /* refcnt 1, nb_segs 1 */
_Static_assert(offsetof(struct rte_mbuf, refcnt) == offsetof(struct rte_mbuf, rearm_data) + 2 &&
		       offsetof(struct rte_mbuf, nb_segs) == offsetof(struct rte_mbuf, rearm_data) + 4,
	       "the rearm word holds refcnt and nb_segs where REARM_* say");

void weir_mbuf_free_burst(struct rte_mbuf **m, unsigned n)
{
	struct rte_mempool *mp = n ? m[0]->pool : NULL;
	uint64_t odd = 0;

	/* refcnt and nb_segs in one load (as PMDs rearm them); little-endian x86 */
	for (unsigned i = 0; i < n; i++)
		odd |= ((uintptr_t)m[i]->pool ^ (uintptr_t)mp) |
		       ((*(const uint64_t *)&m[i]->rearm_data & REARM_REFCNT_SEGS) ^
			REARM_ONCE_ONE_SEG) |
		       (m[i]->ol_flags & (RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL));
	if (likely(!odd) && n)
		rte_mempool_put_bulk(mp, (void **)m, n);
	else
		rte_pktmbuf_free_bulk(m, n);
}

uint64_t weir_ports_memory_estimate(const struct weir_config *cfg)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < cfg->n_ports; i++)
		sum += (uint64_t)cfg->ports[i].mbufs * mbuf_elt_size(&cfg->ports[i]);
	return sum;
}

/* Records in a capture, so the pipeline knows when a pcap port has delivered all. */
static int count_records(const char *path, uint64_t *n, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc = pcap_open_offline(path, ebuf);
	int rc;

	if (!pc) {
		snprintf(err, errlen, "%s: cannot open: %s", path, ebuf);
		return -1;
	}
	*n = 0;
	while ((rc = pcap_next_ex(pc, &h, &d)) == 1)
		(*n)++;
	if (rc == PCAP_ERROR)
		fprintf(stderr, "weir: warning: %s: %s after %llu records (the rest is not read)\n",
			path, pcap_geterr(pc), (unsigned long long)*n);
	pcap_close(pc);
	return 0;
}

static int find_or_probe(struct weir_port *p, const struct weir_port_conf *c, char *err,
			 size_t errlen)
{
	size_t n = strcspn(c->devargs, ",");

	snprintf(p->name, sizeof(p->name), "%.*s", (int)n, c->devargs);
	if (rte_eth_dev_get_port_by_name(p->name, &p->port_id) == 0)
		return 0; /* PCI devices are probed by the EAL from the allow-list */
	if (rte_dev_probe(c->devargs) < 0) {
		snprintf(err, errlen, "port '%s': cannot probe the device (unknown driver or bad devargs)",
			 c->devargs);
		return -1;
	}
	if (rte_eth_dev_get_port_by_name(p->name, &p->port_id) != 0) {
		snprintf(err, errlen, "port '%s': probed but no ethdev named '%s'", c->devargs, p->name);
		return -1;
	}
	return 0;
}

/*
 * Tx queues: those inline mode sends on (fwd_txq), and idle ones some drivers
 * need anyway: net_tap refuses unequal rx/tx queue counts, and a memif server
 * with no tx queue has no server-to-client ring, so it disconnects every peer
 * that offers one ("Invalid ring index"), i.e. any client with an rx queue
 * (testpmd, VPP). Those get at least as many tx queues as rx queues.
 */
static uint16_t tx_queues_needed(const struct weir_port *p, const struct rte_eth_dev_info *info,
				 uint16_t fwd_txq)
{
	uint16_t n = 0;

	if (strcmp(info->driver_name, "net_tap") == 0 || strcmp(info->driver_name, "net_memif") == 0)
		n = RTE_MIN(p->n_rxq, info->max_tx_queues);
	return RTE_MAX(n, fwd_txq);
}

static int configure(struct weir_port *p, const struct weir_port_conf *c, uint16_t fwd_txq,
		     char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if ((rc = rte_eth_dev_info_get(p->port_id, &info)) != 0) {
		snprintf(err, errlen, "port '%s': no device info: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	if (p->n_rxq > info.max_rx_queues) {
		snprintf(err, errlen, "port '%s': %u rx queues requested, the driver allows %u",
			 p->name, p->n_rxq, info.max_rx_queues);
		return -1;
	}
	/*
	 * net_pcap stamps every mbuf with the record's time in microseconds once
	 * the timestamp field is registered, without advertising the offload.
	 */
	if (strcmp(info.driver_name, "net_pcap") == 0) {
		p->hw_timestamps = c->timestamps;
		p->ts_mult = 1000;
	} else if (c->timestamps && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
		p->hw_timestamps = true;
		p->ts_mult = 1;
	}
	if (c->scatter && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER))
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	if (c->mtu)
		conf.rxmode.mtu = c->mtu;
	if (c->rss && p->n_rxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = symmetric_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(symmetric_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf =
			info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	}
	if (fwd_txq > info.max_tx_queues) {
		snprintf(err, errlen, "port '%s': inline mode sends on %u tx queues (one per worker "
			 "polling the port's peer), the driver allows %u", p->name, fwd_txq,
			 info.max_tx_queues);
		return -1;
	}
	p->n_txq = tx_queues_needed(p, &info, fwd_txq);
	if ((rc = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf)) != 0) {
		snprintf(err, errlen, "port '%s': configure failed: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	return 0;
}

static int setup_queues(struct weir_port *p, const struct weir_port_conf *c, unsigned index,
			unsigned burst, char *err, size_t errlen)
{
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	uint16_t nb_rxd = c->rx_descriptors, nb_txd = 512;
	int socket = rte_eth_dev_socket_id(p->port_id);
	unsigned cache = RTE_MIN(256u, RTE_MAX(burst, c->mbufs / 16));
	int rc;

	if (socket < 0)
		socket = (int)rte_socket_id();
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	snprintf(pool_name, sizeof(pool_name), "weir_mb%u", index);
	p->pool = rte_pktmbuf_pool_create(pool_name, c->mbufs, RTE_MIN(cache, RTE_MEMPOOL_CACHE_MAX_SIZE),
					  MBUF_PRIV_SIZE, c->mbuf_data_room, socket);
	if (!p->pool) {
		snprintf(err, errlen, "port '%s': cannot create a pool of %u mbufs: %s", p->name,
			 c->mbufs, rte_strerror(rte_errno));
		return -1;
	}
	for (uint16_t q = 0; q < p->n_rxq; q++)
		if ((rc = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd, (unsigned)socket, NULL, p->pool)) != 0) {
			snprintf(err, errlen, "port '%s': rx queue %u setup failed: %s", p->name, q,
				 rte_strerror(-rc));
			return -1;
		}
	for (uint16_t q = 0; q < p->n_txq; q++)
		if ((rc = rte_eth_tx_queue_setup(p->port_id, q, nb_txd, (unsigned)socket, NULL)) != 0) {
			snprintf(err, errlen, "port '%s': tx queue %u setup failed: %s", p->name, q,
				 rte_strerror(-rc));
			return -1;
		}
	return 0;
}

int weir_port_open(struct weir_port *p, const struct weir_port_conf *c, unsigned index,
		   unsigned workers, unsigned burst, uint16_t fwd_txq, char *err, size_t errlen)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->conf = c;
	p->expected = UINT64_MAX;
	p->n_rxq = weir_port_queues(c, workers);
	if (c->finite && c->pcap_path[0] &&
	    count_records(c->pcap_path, &p->expected, err, errlen) < 0)
		return -1;
	if (find_or_probe(p, c, err, errlen) < 0 || configure(p, c, fwd_txq, err, errlen) < 0 ||
	    setup_queues(p, c, index, burst, err, errlen) < 0)
		return -1;
	if (c->promiscuous)
		rte_eth_promiscuous_enable(p->port_id); /* virtual ports may refuse: harmless */
	if ((rc = rte_eth_dev_start(p->port_id)) != 0) {
		snprintf(err, errlen, "port '%s': start failed: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	return 0;
}

void weir_port_close(struct weir_port *p)
{
	if (!p->conf)
		return;
	rte_eth_dev_stop(p->port_id);
	rte_eth_dev_close(p->port_id);
	rte_mempool_free(p->pool);
	p->pool = NULL;
}
