/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_io: the DPDK side. Starts the EAL, opens ports from their pmd-config
 * profiles, and runs the pipeline: one worker lcore per set of rx queues
 * (or, for single-queue ports such as pcap and memif, a distributor lcore
 * that spreads packets over per-worker rings by a symmetric hash), with the
 * main lcore merging window shards and writing records.
 */
#ifndef WEIR_IO_H
#define WEIR_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "weir_conf.h"

/* Packet-level drop reasons: every received packet is processed or dropped under one. */
#define WEIR_DROP_LIST(X) \
	X(RING_FULL, "ring-full") /* distributor -> worker ring full (live sources only) */

enum weir_drop {
#define WEIR_X(e, s) WEIR_DROP_##e,
	WEIR_DROP_LIST(WEIR_X)
#undef WEIR_X
	WEIR_DROP__COUNT
};
const char *weir_drop_name(enum weir_drop d);

/* Inline mode: why a processed packet was not sent on (it was still counted in every query). */
#define WEIR_FWD_DROP_LIST(X)                                                  \
	X(RULE, "rule")         /* a drop rule matched it or earlier its flow */ \
	X(TX_FULL, "tx-full")   /* the peer port's tx queue was full */

enum weir_fwd_drop {
#define WEIR_X(e, s) WEIR_FWD_DROP_##e,
	WEIR_FWD_DROP_LIST(WEIR_X)
#undef WEIR_X
	WEIR_FWD_DROP__COUNT
};
const char *weir_fwd_drop_name(enum weir_fwd_drop d);

/*
 * Start the EAL for `cfg`: --no-pci unless a port allow-lists PCI devices,
 * --in-memory on hugepages when enough are free, else --no-huge with a
 * one-line warning; --file-prefix weir-PID (telemetry's socket folder); one lcore for main, one per worker, one distributor when
 * needed (lcores may share CPUs). 0, or -1 with err filled.
 */
int weir_eal_start(const struct weir_config *cfg, const char *prog, char *err, size_t errlen);
void weir_eal_stop(void);
/* Remove a folder weir made for itself: every file in it (not subfolders), then the folder. */
void weir_remove_dir(const char *dir);
/* The --file-prefix weir gave the EAL ("weir-PID"; "" when --eal gave one): telemetry's folder. */
const char *weir_eal_file_prefix(void);

/* Does this config need a software distributor (ports with fewer queues than workers)? */
int weir_needs_distributor(const struct weir_config *cfg);

/*
 * Run the pipeline until every finite source is consumed (all ports are
 * pcap files) or *stop becomes non-zero, flush every window, write the
 * stats record. Returns the process exit status (0 ok, 1 runtime failure,
 * 2 bad input found while opening ports).
 */
int weir_run(const struct weir_config *cfg, volatile sig_atomic_t *stop);

#endif /* WEIR_IO_H */
