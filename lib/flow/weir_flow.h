/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_flow: per-worker bidirectional flow table, idle timeouts driven by
 * event time, eviction when full, and TCP segment ordering for stream
 * matching.
 *
 * One table per worker, never shared: no locks, no atomics. All memory
 * (buckets, flows, held TCP segments) is allocated once by
 * weir_flow_table_create (rte_zmalloc); the data-path calls never allocate.
 *
 * Keys. A flow is (lower endpoint, higher endpoint, L4 protocol, outer VLAN
 * ID, IP version), where an endpoint is (address, port) and "lower" compares
 * the 16 address bytes, then the port. Both directions of a conversation
 * therefore hit one entry; each packet gets a direction `dir`, the index of
 * its sender endpoint: 0 when it goes lower -> higher, 1 when it goes
 * higher -> lower. The key is hashed with CRC32 (rte_hash_crc).
 *   - Ports are used for TCP, UDP and SCTP only. ICMP/ICMPv6 and every other
 *     protocol are keyed with ports 0, so an echo request and its reply (type
 *     8/0 in the parser's port fields) are one flow per address pair.
 *   - Non-first IP fragments carry no ports: they are not tracked (no flow,
 *     counted `no_flow_fragment`); a first fragment is keyed like any packet.
 *   - Packets without IP are not tracked (`no_flow_not_ip`), nor TCP/UDP/SCTP
 *     packets cut before their ports (`no_flow_no_ports`).
 *   - The fields are those of the analysis layer weir_pkt_parse was given
 *     (outer by default, inner for tunnelled traffic with WEIR_PKT_INNER).
 *
 * Client and server. The sender of a flow's first packet is the client,
 * except that a TCP SYN+ACK as first packet makes its receiver the client,
 * and while a TCP flow is still `new` a SYN without ACK makes its sender the
 * client (it decides when the capture saw the SYN+ACK first).
 *
 * TCP state: new (created; mid-stream pick-ups too) -> established (both
 * directions seen and an ACK without SYN) -> closing (a FIN) -> closed (FIN
 * from both sides, or any RST). A SYN without ACK on a closed flow starts a
 * new flow on the same 5-tuple (port reuse); the old one ends as `closed`.
 * Other protocols are `new` until both directions were seen, then
 * `established`.
 *
 * Timeouts are per class: TCP new, established, closing (closing and
 * closed), UDP, other. A flow has timed out at event time `now` (packet
 * timestamps, ns) when now - last_ts >= its class's timeout; it then ends as
 * `timeout` (`closed` in the closing class). Flow lifecycles, and so the
 * flow ids, depend only on the packets and their timestamps, never on how
 * the packets were cut into bursts, nor on when weir_flow_expire ran or how
 * much budget it had:
 *   - a packet whose flow has timed out at the packet's own time (the
 *     comparison expire makes, with now = the packet's ts) ends that flow
 *     first, as expire would have had it run in time, and starts a new flow
 *     on the same key (a new id). One compare on the entry the lookup has
 *     in cache anyway.
 *   - weir_flow_expire(now) ends timed-out flows sooner (freeing their
 *     entries and giving their records early) with the reason anything else
 *     would give them later: only when, not whether or how.
 *   - weir_flow_flush_at(now) ends the flows timed out at now as expire
 *     would, the others as `flushed`.
 * Ids are handed out at creation, in packet order, so they follow. Two
 * things do make lifecycles depend on timing: a full table (which flow is
 * evicted, or whether one can be, depends on which flows expire had already
 * ended), and event time running backwards, where expire at `now` may end a
 * flow that a later packet older than `now` would still have continued.
 * With each table's packets in time order (a capture, or a worker's share
 * of it) and expire never given a time past the latest packet's (the
 * pipeline passes that), the independence is exact.
 * Each class keeps its flows in a list ordered by the time they joined it;
 * a packet only moves a flow when it changes its class (e.g. on FIN), so
 * the per-packet cost is the flow entry alone. weir_flow_expire looks at
 * list heads only: a head that was active since it joined is moved to the
 * tail, otherwise it ends. Work per call is bounded by `budget`. Packets
 * older than a flow's last_ts do not move it back; event time running
 * backwards delays expiry by at most the disorder.
 *
 * Buckets and eviction. Flows live in buckets of 8 (capacity/4 buckets,
 * rounded up to a power of two): a key goes to its primary bucket, or to
 * its alternate when the primary is full, so buckets practically never
 * overflow below capacity (perf/bench-flow, 1M flows in 2^20 for 40M
 * lookups: 163 table_full; 8-way buckets without the second choice: 140k).
 * A new flow that finds both of its buckets full takes the place of their
 * least-recently-seen flow; one that finds all `capacity` flows in use
 * takes the place of the timeout-list head closest to its deadline (the
 * oldest flows of each class). Both count `table_full`; the victim ends as
 * `evicted`, or as `timeout`/`closed` when it had already timed out and only
 * weir_flow_expire had not run yet. Only a full table makes lifecycles
 * depend on timing (see above). Flows returned earlier in the same
 * burst are never evicted: when nothing else can be, the packet gets no
 * flow (`no_flow_full`).
 *
 * Memory per flow: 128 bytes (struct weir_flow, two cache lines) + 16 bytes
 * beside it (timeout-list links, list-join time, held-segment heads) +
 * 8 bytes per bucket way, 2 to 4 ways per flow (16-32 bytes): 160-176
 * bytes, i.e. 160 MiB for the default 2^20 flows per worker; plus the
 * held-segment pool, ooo_slots * (ooo_slot_size + 8) bytes (8 MiB by
 * default). weir_flow_table_memory gives the exact figure. Copy-on-write
 * snapshots, when enabled, add 144 bytes and 1 bit per flow
 * (weir_flow_cow_memory).
 *
 * Lifetime of pointers. Flows returned by weir_flow_lookup_burst stay valid
 * (and keep their identity) until the next call of lookup_burst, expire or
 * flush on the same table. An end callback gets the flow before it is
 * freed. A flow that lookup_burst ends (evicted, or timed out at a packet's
 * time) gets its callback right there, unless the same burst returned it
 * already: the callbacks of flows a burst ended after returning them (port
 * reuse, or a timeout met by a later packet of the burst) are deferred to
 * the next of those calls, so every packet returned with a flow has been
 * seen by the caller before that flow's callback.
 */
#ifndef WEIR_FLOW_H
#define WEIR_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir_pkt.h"

#define WEIR_FLOW_SEC 1000000000ull
#define WEIR_FLOW_WAYS 8          /* flows per hash bucket (one cache line) */
#define WEIR_TCP_MAX_HELD 64      /* upper bound of ooo_per_flow */

/* Timeout classes, default timeouts in seconds. */
#define WEIR_FLOW_TIMEOUT_LIST(X)                              \
	X(TCP_NEW,         "tcp_new",         30)   /* SYN only */ \
	X(TCP_ESTABLISHED, "tcp_established", 3600)                \
	X(TCP_CLOSING,     "tcp_closing",     30)   /* after FIN/RST */ \
	X(UDP,             "udp",             120)                 \
	X(OTHER,           "other",           60)

enum weir_flow_timeout {
#define WEIR_X(e, s, d) WEIR_FLOW_TO_##e,
	WEIR_FLOW_TIMEOUT_LIST(WEIR_X)
#undef WEIR_X
	WEIR_FLOW_TO__COUNT
};

#define WEIR_FLOW_STATE_LIST(X)      \
	X(NEW,         "new")         \
	X(ESTABLISHED, "established") \
	X(CLOSING,     "closing")     \
	X(CLOSED,      "closed")

enum weir_flow_state {
#define WEIR_X(e, s) WEIR_FLOW_##e,
	WEIR_FLOW_STATE_LIST(WEIR_X)
#undef WEIR_X
};

/* Why a flow ended (the `end reason` of a flow record). */
#define WEIR_FLOW_END_LIST(X)                                     \
	X(TIMEOUT, "timeout") /* idle past its class's timeout */ \
	X(CLOSED,  "closed")  /* FIN/RST, then the closing timeout or a new SYN */ \
	X(EVICTED, "evicted") /* made room for a new flow */      \
	X(FLUSHED, "flushed") /* end of input */

enum weir_flow_end {
#define WEIR_X(e, s) WEIR_FLOW_END_##e,
	WEIR_FLOW_END_LIST(WEIR_X)
#undef WEIR_X
	WEIR_FLOW_END__COUNT
};

/* What weir_flow_tcp_segment found a segment to be. */
#define WEIR_TCP_CLASS_LIST(X)                                              \
	X(EMPTY,    "empty")    /* no payload (or no sequence anchor yet) */    \
	X(IN_ORDER, "in_order")                                                 \
	X(OVERLAP,  "overlap")  /* in order once the bytes already seen are cut */ \
	X(RETRANS,  "retrans")  /* every byte already seen or already held */  \
	X(HELD,     "held")     /* ahead of the expected sequence: copied aside */

enum weir_tcp_class {
#define WEIR_X(e, s) WEIR_TCP_##e,
	WEIR_TCP_CLASS_LIST(WEIR_X)
#undef WEIR_X
	WEIR_TCP__COUNT
};

/* Per-table counters. */
#define WEIR_FLOW_COUNTER_LIST(X)                                                   \
	X(LOOKUPS,        "lookups")          /* packets given to lookup_burst */     \
	X(HITS,           "hits")             /* packets whose flow existed */        \
	X(CREATED,        "created")                                                  \
	X(TIMEOUT,        "timeout")          /* flows ended, by reason ... */        \
	X(CLOSED,         "closed")                                                   \
	X(EVICTED,        "evicted")                                                  \
	X(FLUSHED,        "flushed")                                                  \
	X(TABLE_FULL,     "table_full")       /* new flows that found no free room */ \
	X(NO_FLOW,        "no_flow")          /* packets without a flow: the sum of */ \
	X(NOT_IP,         "no_flow_not_ip")   /*   ... these four reasons */          \
	X(FRAGMENT,       "no_flow_fragment")                                         \
	X(NO_PORTS,       "no_flow_no_ports")                                         \
	X(FULL,           "no_flow_full")     /* table full, nothing evictable */     \
	X(TCP_EMPTY,      "tcp_empty")        /* segments by class ... */             \
	X(TCP_IN_ORDER,   "tcp_in_order")                                             \
	X(TCP_OVERLAP,    "tcp_overlap")                                              \
	X(TCP_RETRANS,    "tcp_retrans")                                              \
	X(TCP_HELD,       "tcp_held")                                                 \
	X(TCP_RELEASED,   "tcp_released")     /* held pieces delivered */             \
	X(TCP_GAPS,       "tcp_gaps")         /* holes given up on */                 \
	X(TCP_GAP_BYTES,  "tcp_gap_bytes")                                            \
	X(TCP_POOL_FULL,  "tcp_pool_full")    /* holds refused: pool exhausted */     \
	X(TCP_FLOW_LIMIT, "tcp_flow_limit")   /* holds refused: ooo_per_flow */

enum weir_flow_counter {
#define WEIR_X(e, s) WEIR_FLOW_CNT_##e,
	WEIR_FLOW_COUNTER_LIST(WEIR_X)
#undef WEIR_X
	WEIR_FLOW_CNT__COUNT
};

/* Canonical key: the lower endpoint first. 40 bytes, no padding. */
struct weir_flow_key {
	uint8_t lo_ip[16];   /* IPv4: first 4 bytes, the rest zero */
	uint8_t hi_ip[16];
	uint16_t lo_port;    /* host order; 0 for protocols without ports */
	uint16_t hi_port;
	uint16_t vlan;       /* outermost VLAN ID, 0 untagged */
	uint8_t proto;       /* L4 protocol (after IPv6 extension headers) */
	uint8_t ip_version;  /* 4 or 6 */
} __attribute__((aligned(8)));

/* weir_flow.flags */
#define WEIR_FLOW_F_CLIENT_HI 0x01 /* the client is the higher endpoint (it sends with dir 1) */
#define WEIR_FLOW_F_SEQ(dir)  (0x02u << (dir)) /* next_seq[dir] is anchored */
#define WEIR_FLOW_F_DROP      0x08 /* a drop rule matched: inline mode drops the rest of the flow */
#define WEIR_FLOW_F_ALT       0x20 /* internal: the flow sits in its alternate bucket */
#define WEIR_FLOW_F_NEW       0x40 /* created and not yet seen by weir_flow_take_new() */
#define WEIR_FLOW_F_BURST     0x80 /* internal: returned in the current burst */


/*
 * One flow: 128 bytes, cache-line aligned. Arrays [2] are indexed by dir
 * (0: sent by the lower endpoint, 1: by the higher); weir_flow_client()
 * says which of the two is the client. The first line holds what a lookup
 * compares (key) and the times, the second the counters, the state and
 * the slots other stages own; a lookup prefetches both.
 */
struct weir_flow {
	struct weir_flow_key key;
	uint64_t last_ts;       /* event time (ns) of the latest packet */
	uint64_t first_ts;      /* of the earliest packet */
	uint64_t id;            /* worker << 48 | per-worker counter (from 1) */
	/* second cache line */
	uint64_t pkts[2];
	uint64_t bytes[2];      /* IP bytes (IPv4 total length, IPv6 payload + 40), like NetFlow */
	void *stream[2];        /* opaque per direction: the matcher's stream; NULL when created */
	uint32_t next_seq[2];   /* TCP: next expected sequence per direction (WEIR_FLOW_F_SEQ) */
	uint32_t rules;         /* matched-rule summary; the matcher owns it; 0 when created */
	uint8_t tcp_flags[2];   /* TCP flags seen, OR per direction */
	uint8_t state;          /* enum weir_flow_state */
	uint8_t flags;          /* WEIR_FLOW_F_* */
} __attribute__((aligned(64)));

/* Did this packet's lookup create f? True once per flow: for its first packet. */
static inline int weir_flow_take_new(struct weir_flow *f)
{
	int fresh = (f->flags & WEIR_FLOW_F_NEW) != 0;

	f->flags &= (uint8_t)~WEIR_FLOW_F_NEW;
	return fresh;
}

/* Endpoint index (0 lower, 1 higher) of the client. */
static inline unsigned weir_flow_client(const struct weir_flow *f)
{
	return f->flags & WEIR_FLOW_F_CLIENT_HI;
}

/* Does a packet with direction dir go from client to server? */
static inline int weir_flow_to_server(const struct weir_flow *f, unsigned dir)
{
	return dir == weir_flow_client(f);
}

/* A flow laid out client -> server, for records (index 0: to server, 1: to client). */
struct weir_flow_info {
	uint64_t id;
	uint64_t first_ts, last_ts;
	uint8_t ip_version, proto;
	uint16_t vlan;
	uint8_t client_ip[16], server_ip[16];
	uint16_t client_port, server_port;
	uint64_t pkts[2], bytes[2];
	uint8_t tcp_flags[2];
	uint8_t state;
	uint32_t rules;
};
void weir_flow_describe(const struct weir_flow *f, struct weir_flow_info *out);

struct weir_flow_table;

/*
 * Called once for each flow that ends, before it is freed. The callback may
 * read and change the flow (close f->stream[]) and call weir_flow_tcp_drain
 * on it, but must not call lookup_burst, expire or flush.
 */
typedef void (*weir_flow_end_fn)(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
				 enum weir_flow_end reason);

struct weir_flow_conf {
	uint32_t capacity;       /* flows per worker (default 1 << 20) */
	uint32_t buckets;        /* 0: capacity/4 rounded up to a power of two (min 1); else a power of two */
	uint64_t timeout_ns[WEIR_FLOW_TO__COUNT];
	uint32_t ooo_slots;      /* held TCP segment slots per worker (default 4096, max 65535) */
	uint32_t ooo_slot_size;  /* bytes per slot (default 2048, 64..16384); longer segments take several */
	uint32_t ooo_per_flow;   /* slots one flow direction may hold (default 16, max WEIR_TCP_MAX_HELD) */
	uint16_t worker;         /* goes into the flow ids */
	int socket;              /* NUMA socket of the memory, -1 any */
	weir_flow_end_fn on_end; /* flows ended inside lookup_burst (evicted, timed out, reused) */
	void *on_end_ctx;
};

void weir_flow_conf_default(struct weir_flow_conf *c);
/* Bytes weir_flow_table_create allocates for c (0 when c is invalid). */
size_t weir_flow_table_memory(const struct weir_flow_conf *c);
/* NULL, with err filled, on an invalid conf or when memory is short. */
struct weir_flow_table *weir_flow_table_create(const struct weir_flow_conf *c, char *err,
					       size_t errlen);
/* Frees without callbacks: flush first to get them. */
void weir_flow_table_free(struct weir_flow_table *t);

/*
 * Data path: find or create the flow of each of n packets (event times ts,
 * ns). flows_out[i] is NULL for a packet without flow (counted by reason);
 * dir_out[i] is its direction (0 for packets without flow). Each packet is
 * counted into its flow (packets, bytes, TCP flags, state). Three passes
 * over the burst: key + hash + prefetch bucket, prefetch candidate entries,
 * then compare and update. Returns the number of packets with a flow.
 * state_out (may be NULL): the flow's state (enum weir_flow_state) right
 * after each packet, since a later packet of the same burst may change it.
 */
unsigned weir_flow_lookup_burst(struct weir_flow_table *t, const struct weir_pkt *const *pkts,
				const uint64_t *ts, unsigned n, struct weir_flow **flows_out,
				uint8_t *dir_out, uint8_t *state_out);

/*
 * End flows idle for their class's timeout at event time now, calling
 * cb(ctx, ...) for each (cb NULL: the table's on_end). Looks at no more
 * than `budget` flows. Returns the number ended. Which flows end, and why,
 * does not depend on the budget: those it leaves end the same way later
 * (see the timeout paragraph above).
 */
unsigned weir_flow_expire(struct weir_flow_table *t, uint64_t now, unsigned budget,
			  weir_flow_end_fn cb, void *ctx);
/*
 * End of input at event time now (the latest packet time): end every flow,
 * those timed out at now as expire would end them (timeout, or closed in
 * the closing class), whether or not expire got to them, the rest as
 * flushed; pending port-reuse and in-burst timeout ends run first with
 * their own reasons. Callback as for expire. Returns the number ended.
 */
unsigned weir_flow_flush_at(struct weir_flow_table *t, uint64_t now, weir_flow_end_fn cb,
			    void *ctx);
/*
 * weir_flow_flush_at without a time: every live flow ends as flushed, timed
 * out or not (so the reasons then depend on how far expire had got).
 */
unsigned weir_flow_flush(struct weir_flow_table *t, weir_flow_end_fn cb, void *ctx);

uint32_t weir_flow_count(const struct weir_flow_table *t); /* flows alive */
uint64_t weir_flow_counter(const struct weir_flow_table *t, enum weir_flow_counter c);
const char *weir_flow_counter_name(enum weir_flow_counter c);
const char *weir_flow_end_name(enum weir_flow_end r);
const char *weir_flow_state_name(unsigned state);
const char *weir_flow_timeout_name(enum weir_flow_timeout c);
const char *weir_tcp_class_name(enum weir_tcp_class c);

/* ---- snapshots -------------------------------------------------------------- */

/*
 * Snapshots: the table's flows as bytes, for checkpoints, and back. Called
 * by the table's owner between data-path calls (snapshot only reads t).
 *
 * Format (version 1), integers little-endian, no padding; flows are written
 * field by field (not as host bytes), so the format does not depend on the
 * layout of struct weir_flow:
 *   header, 288 bytes:
 *     0  u32 magic 0x544c4657 ("WFLT")   4 u16 version (1)   6 u16 flags (0)
 *     8  u32 record bytes (120)         12 u32 counters (WEIR_FLOW_CNT__COUNT, 23)
 *    16  u32 live flows (on the timeout lists)
 *    20  u32 retired flows (closed by port reuse, end callback pending)
 *    24  u32 held TCP segment pieces left out (not carried, see below)
 *    28  u32 worker       32 u32 capacity       36 u32 buckets
 *    40  u32 rotate: the class weir_flow_expire starts with next (0..4)
 *    44  u32 CRC32C (Castagnoli, init and final xor ~0) of the 288 header
 *            bytes, this field taken as 0
 *    48  u64 next id counter (the next new flow gets worker << 48 | it)
 *    56  u64 bytes of the held pieces left out
 *    64  u64 timeout_ns[5], by enum weir_flow_timeout
 *   104  u64 counters[23], by enum weir_flow_counter
 *   then live + retired records of 120 bytes: first the live flows of each
 *   class list, classes in enum order, each list from head to tail (its
 *   join-time order, so expiry after a restore goes as it would have);
 *   then the retired flows, in the order their callbacks would run:
 *     0  u8[16] key.lo_ip     16 u8[16] key.hi_ip
 *    32  u16 key.lo_port      34 u16 key.hi_port   36 u16 key.vlan
 *    38  u8 key.proto         39 u8 key.ip_version
 *    40  u64 first_ts         48 u64 last_ts       56 u64 id
 *    64  u64 pkts[2]          80 u64 bytes[2]
 *    96  u32 next_seq[2]     104 u32 rules
 *   108  u8 tcp_flags[2]     110 u8 state         111 u8 flags (WEIR_FLOW_F_*
 *            but F_BURST; F_ALT: the flow sat in its alternate bucket)
 *   112  u32 join time: ms after first_ts that the flow joined its list
 *            (rounded down, as the table keeps it)
 *   116  u8 list: the timeout class (enum weir_flow_timeout), 5 for retired
 *            (ended within the burst that returned it: a closed TCP flow
 *            by port reuse, or any flow by a timeout; the callback's reason
 *            comes from the state, as expire's does)
 *   117  u8[3] reserved, 0
 * The total length is exactly 288 + (live + retired) * 120.
 *
 * Not carried: held (out-of-order) TCP segments, whose count and bytes the
 * header records: restored flows hold nothing, so those bytes become a hole
 * that the stream gives up on (tcp_gaps) once later data needs the room;
 * next_seq and its anchors are kept. stream[] pointers (the matcher's
 * state) come back NULL; rules is kept. Entry indices and bucket ways are
 * not kept (lookups and ids see no difference; eviction ties on equal
 * last_ts may fall on another flow).
 *
 * size: the bytes snapshot writes for t. snapshot: writes them into buf,
 * returns that count, 0 when len is too small. One pass over the lists; no
 * allocation.
 * restore: into an empty table (new, flushed or expired to 0 flows) of the
 * same worker. Puts every live flow back in its bucket (the same one,
 * primary or alternate, when t has the snapshot's bucket count; else the
 * first with room), rebuilds the lists in their order, re-queues retired
 * flows (their callbacks run at t's next call), and takes over the next id,
 * rotate and all counters. t's own timeouts apply from then on. 0, or -1
 * with the reason in err and t empty and usable: a short or long buffer,
 * bad magic, another version, a damaged header (CRC), another worker, more
 * flows than t's capacity, a record out of range (IP version, ports on a
 * portless protocol, a key not in canonical order, state, flags, times,
 * id, list class not the flow's, reserved bytes), a duplicate key, a bucket
 * without room (t has fewer buckets), a non-empty t. It reads only
 * buf[0..len), whatever the bytes.
 */
size_t weir_flow_table_snapshot_size(const struct weir_flow_table *t);
/* The most snapshot_size can be for this table (every flow in use): a buffer that always fits. */
size_t weir_flow_table_snapshot_max(const struct weir_flow_table *t);
size_t weir_flow_table_snapshot(const struct weir_flow_table *t, void *buf, size_t len);
int weir_flow_table_restore(struct weir_flow_table *t, const void *buf, size_t len, char *err,
			    size_t errlen);

/*
 * Copy-on-write snapshots: weir_flow_table_snapshot of the table as it was
 * at a barrier, without pausing the data path for the whole copy. The
 * owner calls cow_begin at the barrier (O(1): it saves the list heads, the
 * retired head, n_active, next id, rotate, the counters and the held-piece
 * totals, about 300 bytes), then cow_step between bursts until it returns
 * true; meanwhile the table is used as usual. Every flow entry the table
 * is about to change while the copy runs (a hit, a new flow in a slot
 * below the mark, state and class moves, expiry, eviction, port reuse,
 * end callbacks, flush, TCP segments, restore, and the list neighbours
 * those touch) is first copied to a shadow, unless a step copied it
 * already; steps copy the rest in index order, up to the entries' high-
 * water mark at begin. Then cow_snapshot writes, from any thread, exactly
 * the bytes weir_flow_table_snapshot would have written at begin.
 * With no copy running, the data path pays one predictable branch per
 * packet, one per burst, and one per list operation.
 *
 * Flows returned by lookup_burst are copied before they are returned, and
 * ended flows before their callback sees them, so callers may change them
 * (rules, stream[], weir_flow_take_new) as before. The one rule: call
 * cow_begin where the caller no longer writes flows that lookup_burst
 * returned before it (between bursts, once a burst is processed: where
 * weir_flow_table_snapshot would be called).
 *
 * enable: control side, once, before the data path runs: allocates the
 *   shadow, 144 bytes per flow of capacity (a struct weir_flow and its 16
 *   bytes of list links) + 1 bit (the copied bitmap): 144 MiB for 2^20
 *   flows, weir_flow_cow_memory gives the figure; it writes all of it once,
 *   so that the data path takes no page faults. 0, or -1 with err when
 *   memory is short. A second call does nothing. Freed with the table.
 * begin: data path, at the barrier. Precondition: enabled, and the previous
 *   copy finished (step returned true) or none began. (Without enable it
 *   does nothing and no snapshot comes; called while a copy runs, the
 *   running copy is dropped and a new one starts.) The snapshot being
 *   written by another thread must be done before begin.
 * step: data path, between bursts: copies up to `budget` more entries, in
 *   index order, skipping those the data path copied first (a bitmap word
 *   of 64 entries with none left to copy counts as one of the budget).
 *   True once the copy is complete, and whenever none is in progress;
 *   after it returned true the shadow is not written until the next begin.
 *   A table whose entries reached index N needs at most N / budget steps
 *   plus one per word skipped (2^20 entries: 512 steps of 2048, fewer when
 *   lookups copied some first). perf/bench-flow measures begin, steps and
 *   lookups while a copy runs.
 * snapshot_size / snapshot: after step returned true (the caller orders
 *   that with release/acquire between the threads), until the next begin:
 *   the size, and the snapshot of the table as it was at begin, in the
 *   format above (byte for byte weir_flow_table_snapshot's at begin). 0
 *   when no finished copy exists or len is too small. Only reads the
 *   shadow: the owner may go on using the table meanwhile.
 */
int weir_flow_cow_enable(struct weir_flow_table *t, char *err, size_t errlen);
size_t weir_flow_cow_memory(const struct weir_flow_table *t);
void weir_flow_cow_begin(struct weir_flow_table *t);
bool weir_flow_cow_step(struct weir_flow_table *t, unsigned budget);
size_t weir_flow_cow_snapshot_size(const struct weir_flow_table *t);
size_t weir_flow_cow_snapshot(const struct weir_flow_table *t, void *buf, size_t len);

/* ---- TCP ordering for stream matching ------------------------------------ */

/* Bytes to scan, in stream order. gap_before: bytes never seen just before it. */
struct weir_tcp_range {
	const uint8_t *data;
	uint32_t len;
	uint32_t gap_before;
};

struct weir_tcp_delivery {
	enum weir_tcp_class cls;   /* the segment's class */
	unsigned n;                /* ranges, in order */
	struct weir_tcp_range r[WEIR_TCP_MAX_HELD + 1];
};

/*
 * Place one TCP segment of flow f, direction dir (seq: its sequence number,
 * tcp_flags: only SYN matters, for data starts at seq + 1 after it; FIN takes
 * a sequence number but no byte, and no byte may follow it) and say which
 * bytes can be scanned now, in order:
 *   - in order (or overlapping what was seen: the seen bytes are cut): its
 *     new bytes, then every held segment that became in order;
 *   - retransmission: nothing;
 *   - ahead of the expected sequence: copied into slots of the per-worker
 *     pool (no range), unless the pool or the flow's ooo_per_flow is
 *     exhausted: then the hole before the first byte on hand is given up
 *     (tcp_gaps, tcp_gap_bytes, gap_before of the next range) and what
 *     follows it is delivered.
 * Sequence numbers compare in serial arithmetic (RFC 1982), so wraparound
 * is handled. A direction is anchored by its SYN, or else by its first
 * segment with payload. payload must be contiguous.
 * The ranges point into payload or into pool slots; they stay valid until
 * the next call of any weir_flow_* function on this table that takes a
 * struct weir_flow_table * other than the name/counter getters.
 */
void weir_flow_tcp_segment(struct weir_flow_table *t, struct weir_flow *f, unsigned dir,
			   uint32_t seq, uint8_t tcp_flags, const uint8_t *payload, uint32_t len,
			   struct weir_tcp_delivery *d);

/*
 * At flow end: deliver every held segment of a direction in order, giving
 * up the holes between them (counted as gaps). For the end callback.
 */
void weir_flow_tcp_drain(struct weir_flow_table *t, struct weir_flow *f, unsigned dir,
			 struct weir_tcp_delivery *d);

/* Held segment slots in use (all flows). */
uint32_t weir_flow_tcp_held(const struct weir_flow_table *t);

/* TCP sequence number of a parsed packet (needs WEIR_PKT_F_L4 and proto 6). */
static inline uint32_t weir_flow_tcp_seq(const uint8_t *frame, const struct weir_pkt *p)
{
	const uint8_t *h = frame + p->l4_off + 4;

	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

#endif /* WEIR_FLOW_H */
