/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_filter: a query's packet filter. tcpdump syntax compiled with
 * libpcap, converted to eBPF and run with rte_bpf (JIT where the 22.11 JIT
 * is correct), combined with weir's own predicates:
 *
 *   match(RULE_ID)          the packet matched that rule
 *   rule.severity OP N      some rule it matched has that severity (OP: == != < <= > >=)
 *   flow.new                the packet created its flow
 *   src_label == "NAME"     the source address's lookup-table label (also !=)
 *   dst_label == "NAME"     likewise for the destination
 *
 * An expression with no weir predicate is handed to libpcap whole, so it
 * means exactly what it means to tcpdump. When weir predicates appear,
 * `and`/`&&`, `or`/`||`, `not`/`!` and parentheses combine them with
 * tcpdump parts, `and` binding tighter than `or` (as in C; libpcap gives
 * them equal precedence, left to right); each maximal part without weir
 * predicates is written back with parentheses where needed and compiled by
 * libpcap as one program. Parentheses directly followed by an operator
 * other than and/or (`(ip[0] & 0xf) > 5`) belong to the tcpdump part.
 *
 * Semantics weir defines where tcpdump's differ:
 *  - `len`, `greater N` and `less N` see the mbuf's pkt_len, the captured
 *    length (DPDK ports keep no wire length): a record truncated by the
 *    capture's snap length is as long as what was captured.
 *  - Programs are compiled per link type of env->port_linktype and picked
 *    by mbuf->port; a packet from a port outside that table fails every
 *    tcpdump part (env NULL or no ports: Ethernet for all packets).
 *  - A weir predicate whose burst array is NULL (no rules, no flows, no
 *    lookup table) is false, label arrays reading as label 0: so
 *    `src_label != "x"` is true there.
 *
 * rte_bpf (DPDK 22.11) work-arounds: indirect loads get the right source
 * register after rte_bpf_convert, and programs with a `jset` test against a
 * constant below 128 (`tcp[tcpflags] & tcp-syn != 0`) run in the
 * interpreter, not the JIT.
 */
#ifndef WEIR_FILTER_H
#define WEIR_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "weir_burst.h"

struct rte_mbuf;

/* What names in a filter resolve to, at compile time. */
struct weir_filter_env {
	const int *port_linktype;   /* DLT of each DPDK port id (index: mbuf->port) */
	unsigned n_ports;
	/* Label name -> id (> 0), or 0 when unknown; NULL: no lookup table loaded. */
	uint32_t (*label_id)(void *ctx, const char *name);
	void *label_ctx;
};

struct weir_filter;

/*
 * Compile `expr` (the EAL must be up: the converter uses rte_malloc). NULL
 * with err set: "column 12: expected ..." for weir syntax, "'PART': MESSAGE"
 * with libpcap's message for a tcpdump part, "empty filter" for NULL or
 * blank (callers treat no filter as "pass everything" themselves).
 */
struct weir_filter *weir_filter_compile(const char *expr, const struct weir_filter_env *env,
					char *err, size_t errlen);
void weir_filter_free(struct weir_filter *f);

/*
 * Data path: pass[i] = 1 when packet i passes, else 0. meta may be NULL
 * (every weir predicate false); n <= WEIR_BURST_MAX when meta is given.
 * No allocation; `f` is read only, so workers may share it.
 */
void weir_filter_burst(const struct weir_filter *f, struct rte_mbuf *const *m,
		       const struct weir_burst_meta *meta, unsigned n, uint8_t *pass);

/* Does the compiled filter use the rte_bpf JIT for every program it runs?
 * (1 as well when it runs none: weir predicates only.) */
int weir_filter_jitted(const struct weir_filter *f);

/* Tests and benchmarks: on = 0 runs every program in the interpreter, on = 1
 * goes back to the JIT where it is safe. Returns weir_filter_jitted(). Not
 * while another thread runs the filter. */
int weir_filter_use_jit(struct weir_filter *f, int on);

#endif /* WEIR_FILTER_H */
