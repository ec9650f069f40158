/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The per-core pipeline.
 *
 *   port rx ─burst─▶ parse ─▶ stamp ─▶ [distribute] ─▶ window update ─▶ free
 *
 * Each stage runs over the whole burst before the next (VPP style). Workers
 * poll their rx queues directly when every port has a queue per worker
 * (RSS); otherwise one distributor lcore polls, parses and stamps, and
 * spreads packets to per-worker rings by a symmetric hash of the address
 * pair, so both directions of a conversation (and every fragment of a
 * datagram) land on one worker. The parse result travels in the mbuf's
 * private area, so workers never parse twice.
 *
 * The main lcore merges sealed window shards, writes records and watches
 * for the end: finite sources (pcap files) end when every record the file
 * holds has been received; live sources end on SIGINT/SIGTERM.
 */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "weir_annotate.h"
#include "weir_build.h"
#include "weir_ctl.h"
#include "weir_gen.h"
#include "weir_inspect.h"
#include "weir_io.h"
#include "weir_match.h"
#include "weir_obs.h"
#include "weir_out.h"
#include "weir_qctl.h"
#include "weir_port.h"
#include "weir_window.h"
#include "weir_pipeline_int.h"

const char *weir_drop_name(enum weir_drop d)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_DROP_##e] = s,
		WEIR_DROP_LIST(WEIR_X)
#undef WEIR_X
	};
	return d < WEIR_DROP__COUNT ? names[d] : "?";
}

const char *weir_fwd_drop_name(enum weir_fwd_drop d)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_FWD_DROP_##e] = s,
		WEIR_FWD_DROP_LIST(WEIR_X)
#undef WEIR_X
	};
	return d < WEIR_FWD_DROP__COUNT ? names[d] : "?";
}

static const char *stage_name(enum weir_stage s)
{
	static const char *const names[] = {
#define WEIR_X(e, n) [WEIR_STAGE_##e] = n,
		WEIR_STAGE_LIST(WEIR_X)
#undef WEIR_X
	};
	return names[s];
}

/* The current generation's i-th active rule and its counter slot. */
#define GEN_RULE(g, i) weir_gen_rule((g), (g)->active[i].db, (g)->active[i].idx)
#define GEN_SLOT(g, i) ((g)->active[i].slot)

static const struct weir_gen *current_gen(const struct pipeline *pl)
{
	return weir_gens_current(pl->gens);
}

/*
 * Counters by query name (stats, telemetry, metrics) show the live queries:
 * a replaced one, ending, would share its successor's name.
 */
static bool query_counts(const struct pipeline *pl, unsigned qi)
{
	return weir_window_set_live(pl->win, qi) && !strcmp(weir_qctl_state(pl->qctl, qi), "live");
}

static unsigned live_queries(const struct pipeline *pl)
{
	unsigned n = 0;

	for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++)
		n += query_counts(pl, qi);
	return n;
}

/*
 * Held by telemetry and metrics threads while they read the pipeline, and by
 * the main lcore while the current rule generation changes or one is freed.
 * The lcores never take it.
 */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- stages ------------------------------------------------------------------ */

static void parse_burst(const struct pipeline *pl, struct rte_mbuf **m, unsigned n,
			struct counters *c)
{
	/* read once: the descriptor's byte stores could alias them for the compiler */
	const enum weir_pkt_layer layer = pl->cfg->layer;
	const uint16_t *const linktype = pl->linktype;

	for (unsigned i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n) {
			rte_prefetch0(rte_pktmbuf_mtod(m[i + PREFETCH_AHEAD], void *));
			rte_prefetch0(weir_mbuf_pkt(m[i + PREFETCH_AHEAD]));
		}
		struct rte_mbuf *mb = m[i];
		const uint8_t *d = rte_pktmbuf_mtod(mb, const uint8_t *);
		uint32_t len = mb->data_len;
		uint8_t head[HDR_MAX];
		if (unlikely(mb->nb_segs > 1 && len < HDR_MAX)) {
			len = RTE_MIN(mb->pkt_len, (uint32_t)HDR_MAX);
			d = rte_pktmbuf_read(mb, 0, len, head);
		}
		int mal = weir_pkt_parse(d, len, mb->pkt_len, (enum weir_linktype)linktype[mb->port],
					 layer, weir_mbuf_pkt(mb));
		/* "none" is never reported: no read-modify-write on every packet */
		if (unlikely(mal))
			c->malformed[mal]++;
	}
}

static uint64_t wall_now(const struct pipeline *pl)
{
	return pl->wall0 + (uint64_t)((unsigned __int128)(rte_rdtsc() - pl->tsc0) * 1000000000u /
				      pl->tsc_hz);
}

/*
 * Event time in ns: the port's rx timestamp (pcap time) when it has one,
 * else the receive time.
 */
static void stamp_burst(const struct pipeline *pl, struct rte_mbuf **m, unsigned n, uint64_t *ts)
{
	const uint64_t ts_flag = weir_ts_flag;
	uint64_t now = 0, stamped = 0;

	/* Most ports stamp no packet (NICs without the offload, replays): one time for all. */
	for (unsigned i = 0; i < n; i++)
		stamped |= m[i]->ol_flags;
	if (!(stamped & ts_flag)) {
		now = wall_now(pl);
		for (unsigned i = 0; i < n; i++)
			ts[i] = now;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (likely(m[i]->ol_flags & ts_flag)) {
			ts[i] = *RTE_MBUF_DYNFIELD(m[i], weir_ts_offset, uint64_t *) *
				pl->ts_mult[m[i]->port];
		} else {
			if (!now)
				now = wall_now(pl);
			ts[i] = now;
		}
	}
}

/*
 * A worker behind the distributor finds the event time in ns in the
 * timestamp field (store_ts overwrites the driver's value). Direct workers
 * keep it in a local array and leave the mbuf alone.
 */
static inline void store_ts(struct rte_mbuf *m, uint64_t ts)
{
	*RTE_MBUF_DYNFIELD(m, weir_ts_offset, uint64_t *) = ts;
}

static void load_ts(struct rte_mbuf **m, unsigned n, uint64_t *ts)
{
	for (unsigned i = 0; i < n; i++)
		ts[i] = *RTE_MBUF_DYNFIELD(m[i], weir_ts_offset, uint64_t *);
}

/* Symmetric in src/dst so both directions of a conversation meet on one worker. */
static inline unsigned pick_worker(const struct weir_pkt *p, unsigned n)
{
	const uint8_t *a = p->src_ip, *b = p->dst_ip;

	if (!p->ip_version)
		return 0;
	if (memcmp(a, b, 16) > 0) {
		const uint8_t *t = a;
		a = b;
		b = t;
	}
	uint64_t w[4]; /* the descriptor's addresses are not 8-byte aligned */
	memcpy(w, a, 16);
	memcpy(w + 2, b, 16);
	uint32_t h = p->proto;
	for (unsigned i = 0; i < 4; i++)
		h = rte_hash_crc_8byte(w[i], h);
	return (unsigned)(((uint64_t)h * n) >> 32);
}

/* ---- polling and idling --------------------------------------------------------- */

/* replay_pps: how many packets this poller may read now (0: wait). */
static unsigned pace_allow(const struct pipeline *pl, struct poller *po)
{
	uint64_t now = rte_rdtsc();

	if (!po->pace_t0)
		po->pace_t0 = now;
	uint64_t due = (uint64_t)((unsigned __int128)(now - po->pace_t0) * pl->cfg->replay_pps /
				  pl->tsc_hz) + 1;
	return due > po->pace_got ? (unsigned)RTE_MIN(due - po->pace_got, (uint64_t)pl->cfg->burst)
				  : 0;
}

static unsigned poll_burst(struct pipeline *pl, struct poller *po, struct rte_mbuf **m)
{
	unsigned max = pl->cfg->burst;

	if (unlikely(pl->cfg->replay_pps) && pl->all_finite && !(max = pace_allow(pl, po)))
		return 0;
	for (unsigned k = 0; k < po->n_rxq; k++) {
		unsigned i = po->next;
		po->next = (po->next + 1) % po->n_rxq;
		unsigned n = rte_eth_rx_burst(po->rxq[i].port_id, po->rxq[i].queue, m, max);
		if (n) {
			po->pace_got += n;
			po->got[i] += n;
			po->idle_since = 0;
			return n;
		}
	}
	return 0;
}

/* True once every queue of a finite source has delivered its file (or gone silent). */
static bool poller_exhausted(const struct pipeline *pl, struct poller *po)
{
	if (!pl->all_finite)
		return false;
	uint64_t now = rte_rdtsc();
	if (!po->idle_since)
		po->idle_since = now;
	bool silent = now - po->idle_since > EOF_IDLE_S * pl->tsc_hz;
	for (unsigned i = 0; i < po->n_rxq; i++) {
		const struct weir_port *p = &pl->ports[po->rxq[i].port_index];
		if (po->got[i] < p->expected && !silent)
			return false;
	}
	return true;
}

/*
 * Spin briefly, then yield the CPU: lcores may outnumber cores. An idle
 * worker holds no generation: it reports a quiescent state, and is offline
 * (never delays a grace period) while it sleeps. Inline mode only spins
 * when every polling lcore has a CPU of its own: a packet arriving at a
 * sleeping lcore would wait 50 us or more.
 */
static void idle_backoff(const struct pipeline *pl, unsigned *idle, bool rcu_reader)
{
	if (rcu_reader)
		rcu_quiescent_state();
	if (pl->idle_spin || ++*idle < 64) {
		rte_pause();
	} else if (*idle < 4096) {
		sched_yield();
	} else if (rcu_reader) {
		rcu_thread_offline();
		usleep(50);
		rcu_thread_online();
	} else {
		usleep(50);
	}
}

/* ---- workers ------------------------------------------------------------------ */

/*
 * The generation the worker reads until its next quiescent state, and its
 * queries for the window stage. Every window update or advance follows a
 * call: a view read before a quiescent state may be freed after it.
 */
static const struct weir_gen *worker_gen(struct worker *w)
{
	const struct weir_gen *g = rcu_dereference(*w->pl->gen_pub);

	weir_window_worker_set_view(w->win, &g->view);
	return g;
}

/*
 * A checkpoint barrier. Its time counts as a burst in the histogram: packets
 * wait for it as they would for a burst.
 */
void weir_worker_barrier(struct worker *w, uint64_t epoch)
{
	uint64_t t0 = rte_rdtsc();

	w->mark.epoch = epoch;
	memcpy(w->mark.got, w->po.got, sizeof(w->mark.got));
	w->mark.c = w->c;
	w->mark.max_ts = weir_window_max_ts(w->win);
	if (w->records) {
		/* the main lcore drains records up to this mark into the checkpoint's output */
		struct weir_record r = {.kind = WEIR_REC_BARRIER, .worker = w->id};
		while (rte_ring_sp_enqueue_elem(w->records, &r, sizeof(r)) != 0)
			rte_pause();
	}
	/* the flow table is copied on write, and step by step after each burst */
	if (w->flow_ckpt) {
		weir_inspect_ckpt_begin(w->inspect);
		w->flow_copying = epoch;
	}
	worker_gen(w);
	weir_window_barrier(w->win, epoch);
	w->epoch = epoch;
	weir_hist_add(&w->burst, rte_rdtsc() - t0);
}

/*
 * A step of the flow table's checkpoint copy: a bounded slice after each
 * burst (or idle poll), all of it when budget is UINT_MAX.
 */
#define FLOW_COPY_STEP 2048
static inline void worker_flow_step(struct worker *w, unsigned budget)
{
	if (likely(!w->flow_copying) || !weir_inspect_ckpt_step(w->inspect, budget))
		return;
	__atomic_store_n(&w->flow_done, w->flow_copying, __ATOMIC_RELEASE);
	w->flow_copying = 0;
}

/* ---- inline mode ------------------------------------------------------------------ */

/*
 * The packets of a processed burst that go on (into out): not those a drop
 * rule stopped, nor those of a port without a peer (a monitoring port in an
 * inline set-up). Those are freed here.
 */
static unsigned fwd_select(const struct pipeline *pl, struct counters *c, struct rte_mbuf **m,
			   unsigned n, const uint8_t *drop, struct rte_mbuf **out)
{
	struct rte_mbuf *gone[BURST_MAX];
	unsigned k = 0, g = 0;

	for (unsigned i = 0; i < n; i++) {
		if (drop && unlikely(drop[i])) {
			c->fwd_dropped[WEIR_FWD_DROP_RULE]++;
			gone[g++] = m[i];
		} else if (unlikely(pl->peer[m[i]->port] == NO_PEER)) {
			gone[g++] = m[i];
		} else {
			out[k++] = m[i];
		}
	}
	if (g)
		rte_pktmbuf_free_bulk(gone, g);
	return k;
}

/* Send packets out on their ports' peers, a tx burst per run of one port; a full queue drops. */
static void fwd_send(const struct pipeline *pl, struct counters *c, uint16_t txq,
		     struct rte_mbuf **m, unsigned n)
{
	unsigned start = 0;

	for (unsigned i = 1; i <= n; i++) {
		if (i < n && m[i]->port == m[start]->port)
			continue;
		unsigned k = i - start;
		uint16_t sent = rte_eth_tx_burst(pl->peer[m[start]->port], txq, m + start, (uint16_t)k);
		c->forwarded += sent;
		if (unlikely(sent < k)) {
			c->fwd_dropped[WEIR_FWD_DROP_TX_FULL] += k - sent;
			rte_pktmbuf_free_bulk(m + start + sent, k - sent);
		}
		start = i;
	}
}

/*
 * A worker's processed burst: sent on (a direct worker owns a tx queue on
 * every peer port) or handed back to the distributor, which owns the only
 * tx queue of single-queue ports.
 */
static void worker_forward(struct worker *w, struct rte_mbuf **m, unsigned n, const uint8_t *drop)
{
	struct rte_mbuf *out[BURST_MAX];
	unsigned k = fwd_select(w->pl, &w->c, m, n, drop, out);

	if (!w->tx_ring) {
		fwd_send(w->pl, &w->c, w->txq, out, k);
		return;
	}
	unsigned sent = rte_ring_sp_enqueue_burst(w->tx_ring, (void **)out, k, NULL);
	if (unlikely(sent < k)) {
		w->c.fwd_dropped[WEIR_FWD_DROP_TX_FULL] += k - sent;
		rte_pktmbuf_free_bulk(out + sent, k - sent);
	}
}

/* Distributor: send what the workers handed back. Work done. */
static unsigned distributor_forward(struct pipeline *pl, struct distributor *d)
{
	struct rte_mbuf *m[BURST_MAX];
	unsigned total = 0;

	for (unsigned wk = 0; wk < pl->n_workers; wk++) {
		unsigned n = rte_ring_sc_dequeue_burst(pl->workers[wk].tx_ring, (void **)m,
						       pl->cfg->burst, NULL);
		fwd_send(pl, &d->c, 0, m, n);
		total += n;
	}
	return total;
}

/*
 * One burst through every stage (parse .. window advance). Its TSC cycles go
 * into the worker's log2 histogram: one rdtsc pair and a bucket increment.
 */
static void worker_process(struct worker *w, struct rte_mbuf **m, unsigned n, bool parsed,
			   uint64_t t_rx)
{
	const struct weir_pkt *pk[BURST_MAX];
	uint64_t ts[BURST_MAX];
	struct weir_burst_meta meta = {.ts = ts};
	struct stage_clock *clk = &w->clock;
	uint64_t t0 = rte_rdtsc();

	stage_clock_start(clk, t_rx);
	if (parsed) {
		stage_clock_lap(clk, WEIR_STAGE_DEQUEUE, n);
		load_ts(m, n, ts);
	} else {
		stage_clock_lap(clk, WEIR_STAGE_RX, n);
		parse_burst(w->pl, m, n, &w->c);
		stamp_burst(w->pl, m, n, ts);
	}
	if (w->pl->cfg->time == WEIR_TIME_PROCESSING) {
		uint64_t now = wall_now(w->pl);
		for (unsigned i = 0; i < n; i++)
			ts[i] = now;
	}
	for (unsigned i = 0; i < n; i++) {
		pk[i] = weir_mbuf_pkt(m[i]);
		w->c.bytes += m[i]->pkt_len;
	}
	stage_clock_lap(clk, WEIR_STAGE_PARSE, n);
	/* One generation for the whole burst: the swap happens between bursts. */
	const struct weir_gen *g = worker_gen(w);
	if (w->inspect) {
		weir_inspect_burst(w->inspect, g, m, pk, ts, n, &w->rules, &w->flows);
		meta.rules = &w->rules;
		if (weir_inspect_flows(w->inspect)) {
			meta.flow_id = w->flows.id;
			meta.direction = w->flows.direction;
			meta.flow_new = w->flows.is_new;
		}
		stage_clock_lap(clk, WEIR_STAGE_INSPECT, n);
	}
	if (w->ann) {
		weir_annotate_burst(w->ann, m, pk, n, &meta, &w->notes);
		stage_clock_lap(clk, WEIR_STAGE_ANNOTATE, n);
	}
	if (g->qf.filtered & g->view.active) {
		weir_query_filters_burst(&g->qf, g->view.active, m, &meta, n, w->notes.query_pass);
		meta.query_pass = w->notes.query_pass;
		stage_clock_lap(clk, WEIR_STAGE_FILTER, n);
	}
	weir_window_update_burst(w->win, pk, n, &meta);
	w->c.processed += n;
	stage_clock_lap(clk, WEIR_STAGE_WINDOW, n);
	if (w->fwd)
		worker_forward(w, m, n, w->inspect ? w->rules.drop : NULL);
	else
		weir_mbuf_free_burst(m, n);
	stage_clock_lap(clk, WEIR_STAGE_TX, n);

	uint64_t mx = weir_window_max_ts(w->win);
	if (w->inspect)
		weir_inspect_expire(w->inspect, g, mx);
	if (mx > w->pl->delay)
		weir_window_advance(w->win, mx - w->pl->delay);
	__atomic_store_n(&w->max_ts_pub, mx, __ATOMIC_RELAXED);
	worker_flow_step(w, FLOW_COPY_STEP);
	stage_clock_lap(clk, WEIR_STAGE_ADVANCE, n);
	stage_clock_end(clk, n);
	weir_hist_add(&w->burst, rte_rdtsc() - t0);
	rcu_quiescent_state(); /* done with g */
}

/* A live queue that stays idle must not hold back the windows of the others. */
static void idle_watermark(struct worker *w)
{
	struct pipeline *pl = w->pl;
	uint64_t peak = 0;

	worker_gen(w);
	if (pl->cfg->time == WEIR_TIME_PROCESSING) { /* the clock moves on without packets */
		weir_window_advance(w->win, wall_now(pl) - pl->delay);
		return;
	}
	if (pl->n_workers < 2 || !w->po.idle_since ||
	    rte_rdtsc() - w->po.idle_since < pl->cfg->idle_watermark_ns * pl->tsc_hz / 1000000000u)
		return;
	for (unsigned i = 0; i < pl->n_workers; i++) {
		uint64_t t = __atomic_load_n(&pl->workers[i].max_ts_pub, __ATOMIC_RELAXED);
		if (t > peak)
			peak = t;
	}
	if (peak > pl->delay)
		weir_window_advance(w->win, peak - pl->delay);
}

/* Direct mode: a checkpoint barrier is taken between two polls. */
static inline void worker_poll_barrier(struct worker *w)
{
	uint64_t req = __atomic_load_n(&w->pl->ckpt_req, __ATOMIC_ACQUIRE);

	if (unlikely(req != w->epoch))
		weir_worker_barrier(w, req);
}

static void worker_poll_loop(struct worker *w)
{
	struct rte_mbuf *m[BURST_MAX];
	unsigned idle = 0;

	while (!*w->pl->stop) {
		worker_poll_barrier(w);
		uint64_t t_rx = stage_clock_due(&w->clock);
		unsigned n = poll_burst(w->pl, &w->po, m);
		if (n) {
			w->c.rx += n;
			worker_process(w, m, n, false, t_rx);
			idle = 0;
			continue;
		}
		if (poller_exhausted(w->pl, &w->po))
			break;
		idle_watermark(w);
		worker_flow_step(w, FLOW_COPY_STEP);
		idle_backoff(w->pl, &idle, true);
	}
	worker_poll_barrier(w); /* one asked for meanwhile: the merger waits for every worker */
}

/*
 * Distributor mode: the barrier comes after exactly the packets the
 * distributor had handed over when it took it, so the burst before it is
 * cut short there.
 */
static inline unsigned worker_ring_room(struct worker *w)
{
	uint64_t be = __atomic_load_n(&w->barrier_epoch, __ATOMIC_ACQUIRE);

	if (likely(be == w->epoch))
		return w->pl->cfg->burst;
	if (w->deq == w->barrier_at) {
		weir_worker_barrier(w, be);
		return w->pl->cfg->burst;
	}
	return (unsigned)RTE_MIN((uint64_t)w->pl->cfg->burst, w->barrier_at - w->deq);
}

/*
 * The distributor may take a barrier between worker_ring_room and the
 * dequeue, and hand over more packets at once: then the burst holds the
 * barrier's position. How many of its n packets come before the barrier (n
 * when it does not hold it). Missing it left the worker past its barrier for
 * good, the checkpoint never aligned, and the merger kept the other workers'
 * later shards until they had none left: every lcore waited.
 */
static inline unsigned worker_ring_cut(const struct worker *w, unsigned n)
{
	uint64_t be = __atomic_load_n(&w->barrier_epoch, __ATOMIC_ACQUIRE);

	if (likely(be == w->epoch) || w->deq > w->barrier_at || w->deq + n <= w->barrier_at)
		return n;
	return (unsigned)(w->barrier_at - w->deq);
}

static void worker_ring_loop(struct worker *w)
{
	struct distributor *d = w->pl->dist;
	struct rte_mbuf *m[BURST_MAX];
	unsigned idle = 0;

	for (;;) {
		/* Read before the ring: an empty ring then means all up to ts is done. */
		uint64_t hint = __atomic_load_n(&d->ts, __ATOMIC_ACQUIRE);
		uint32_t done = __atomic_load_n(&d->done, __ATOMIC_ACQUIRE);
		unsigned room = worker_ring_room(w);
		uint64_t t_rx = stage_clock_due(&w->clock);
		unsigned n = rte_ring_dequeue_burst(w->ring, (void **)m, room, NULL);
		unsigned k = worker_ring_cut(w, n);
		struct rte_mbuf **rest = m;
		if (unlikely(k < n)) {
			/* the packets before the barrier, the mark, then the rest */
			w->deq += k;
			if (k)
				worker_process(w, m, k, true, t_rx);
			weir_worker_barrier(w, __atomic_load_n(&w->barrier_epoch, __ATOMIC_RELAXED));
			rest += k;
			n -= k;
			t_rx = 0;
		}
		w->deq += n;
		if (n) {
			worker_process(w, rest, n, true, t_rx);
			idle = 0;
			continue;
		}
		worker_gen(w);
		if (hint > w->pl->delay)
			weir_window_advance(w->win, hint - w->pl->delay);
		if (done && w->epoch == __atomic_load_n(&w->barrier_epoch, __ATOMIC_ACQUIRE))
			break;
		worker_flow_step(w, FLOW_COPY_STEP);
		idle_backoff(w->pl, &idle, true);
	}
}

static int worker_main(void *arg)
{
	struct worker *w = arg;

	rcu_register_thread();
	if (w->ring)
		worker_ring_loop(w);
	else
		worker_poll_loop(w);
	worker_flow_step(w, UINT_MAX); /* a copy under way is finished before the flows end */
	const struct weir_gen *g = worker_gen(w);
	if (w->inspect)
		weir_inspect_flush(w->inspect, g, weir_window_max_ts(w->win));
	weir_window_advance(w->win, UINT64_MAX);
	rcu_unregister_thread();
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- distributor ---------------------------------------------------------------- */

static bool workers_done(const struct pipeline *pl)
{
	for (unsigned i = 0; i < pl->n_workers; i++)
		if (!__atomic_load_n(&pl->workers[i].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/*
 * Hand a bucket to its worker. Finite sources wait for room (a file can be
 * read again later, dropping would only lose data); live sources drop what
 * does not fit and count it.
 */
static void hand_over(struct pipeline *pl, struct distributor *d, unsigned wk, unsigned n)
{
	struct rte_mbuf **b = d->bucket[wk];
	struct rte_ring *r = pl->workers[wk].ring;
	unsigned sent = rte_ring_enqueue_burst(r, (void **)b, n, NULL);

	while (sent < n && pl->all_finite && !*pl->stop) {
		if (!pl->inline_mode || !distributor_forward(pl, d))
			sched_yield();
		sent += rte_ring_enqueue_burst(r, (void **)b + sent, n - sent, NULL);
	}
	d->enq[wk] += sent;
	if (sent < n) {
		d->c.dropped[WEIR_DROP_RING_FULL] += n - sent;
		rte_pktmbuf_free_bulk(b + sent, n - sent);
	}
}

static void distribute_burst(struct pipeline *pl, struct distributor *d, struct rte_mbuf **m,
			     unsigned n, uint64_t t_rx)
{
	unsigned cnt[WEIR_MAX_WORKERS] = {0};
	uint64_t ts[BURST_MAX], max_ts = d->ts;

	stage_clock_start(&d->clock, t_rx);
	stage_clock_lap(&d->clock, WEIR_STAGE_RX, n);
	parse_burst(pl, m, n, &d->c);
	stamp_burst(pl, m, n, ts);
	stage_clock_lap(&d->clock, WEIR_STAGE_PARSE, n);
	for (unsigned i = 0; i < n; i++) {
		unsigned wk = pick_worker(weir_mbuf_pkt(m[i]), pl->n_workers);
		store_ts(m[i], ts[i]);
		d->bucket[wk][cnt[wk]++] = m[i];
		if (ts[i] > max_ts)
			max_ts = ts[i];
	}
	for (unsigned wk = 0; wk < pl->n_workers; wk++)
		if (cnt[wk])
			hand_over(pl, d, wk, cnt[wk]);
	__atomic_store_n(&d->ts, max_ts, __ATOMIC_RELEASE);
	stage_clock_lap(&d->clock, WEIR_STAGE_HANDOVER, n);
	stage_clock_end(&d->clock, n);
}

/*
 * A checkpoint barrier: the position read so far, and for each worker the
 * count of packets it must take before its own barrier.
 */
static inline void distributor_barrier(struct pipeline *pl, struct distributor *d)
{
	uint64_t req = __atomic_load_n(&pl->ckpt_req, __ATOMIC_ACQUIRE);

	if (likely(req == d->epoch))
		return;
	d->mark.epoch = req;
	memcpy(d->mark.got, d->po.got, sizeof(d->mark.got));
	d->mark.c = d->c;
	d->mark.max_ts = d->ts;
	for (unsigned wk = 0; wk < pl->n_workers; wk++) {
		pl->workers[wk].barrier_at = d->enq[wk];
		__atomic_store_n(&pl->workers[wk].barrier_epoch, req, __ATOMIC_RELEASE);
	}
	d->epoch = req;
}

static int distributor_main(void *arg)
{
	struct pipeline *pl = arg;
	struct distributor *d = pl->dist;
	struct rte_mbuf *m[BURST_MAX];
	unsigned idle = 0;

	while (!*pl->stop) {
		distributor_barrier(pl, d);
		if (pl->inline_mode) /* before the clock starts: not part of a burst's rx */
			distributor_forward(pl, d);
		uint64_t t_rx = stage_clock_due(&d->clock);
		unsigned n = poll_burst(pl, &d->po, m);
		if (n) {
			d->c.rx += n;
			distribute_burst(pl, d, m, n, t_rx);
			idle = 0;
			continue;
		}
		if (poller_exhausted(pl, &d->po))
			break;
		idle_backoff(pl, &idle, false);
	}
	distributor_barrier(pl, d); /* one asked for meanwhile: the workers see it before `done` */
	__atomic_store_n(&d->done, 1, __ATOMIC_RELEASE);
	/* inline: the workers' last packets still go out */
	while (pl->inline_mode && !workers_done(pl))
		if (!distributor_forward(pl, d))
			rte_pause();
	while (pl->inline_mode && distributor_forward(pl, d))
		;
	return 0;
}

/* ---- set-up ----------------------------------------------------------------------- */

static void poller_add(struct poller *po, const struct weir_port *p, unsigned port_index, uint16_t q)
{
	if (po->n_rxq >= MAX_RXQ)
		return;
	po->rxq[po->n_rxq++] = (struct rxq_ref){p->port_id, q, (uint16_t)port_index};
}

/*
 * Inline pairs: which ports send (fwd[i]), checked against the ports
 * there are. A direct worker sends on its own tx queue of every peer port;
 * behind the distributor, the distributor alone sends, on queue 0.
 */
static int inline_ports(const struct weir_config *cfg, bool *fwd, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_inline; i++) {
		const struct weir_inline_pair *p = &cfg->inline_pairs[i];
		if (p->a >= cfg->n_ports || p->b >= cfg->n_ports) {
			snprintf(err, errlen, "inline pair %u:%u: there are %u ports (0..%u)", p->a, p->b,
				 cfg->n_ports, cfg->n_ports ? cfg->n_ports - 1 : 0);
			return -1;
		}
		fwd[p->a] = fwd[p->b] = true;
	}
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		const char *d = cfg->ports[i].devargs;
		/* net_pcap without a tx target takes every packet and drops it, silently */
		if (fwd[i] && !strncmp(d, "net_pcap", 8) && !strstr(d, "tx_pcap=") &&
		    !strstr(d, "tx_iface=") && !strstr(d, ",iface="))
			fprintf(stderr, "weir: warning: inline port %u (%s) has no tx_pcap= or tx_iface=: "
				"net_pcap drops what is sent there\n", i, d);
	}
	return 0;
}

/*
 * Do the polling lcores (workers, distributor) have a CPU each among those
 * the lcores run on? The main lcore sleeps when idle (200 us at a time).
 */
static bool pollers_have_own_cpus(void)
{
	cpu_set_t all;
	unsigned lcore;

	CPU_ZERO(&all);
	RTE_LCORE_FOREACH(lcore) {
		rte_cpuset_t c = rte_lcore_cpuset(lcore);
		CPU_OR(&all, &all, &c);
	}
	return rte_lcore_count() - 1 <= (unsigned)CPU_COUNT(&all);
}

static int open_ports(struct pipeline *pl, char *err, size_t errlen)
{
	const struct weir_config *cfg = pl->cfg;
	bool fwd[WEIR_MAX_PORTS] = {false};
	uint16_t txq = weir_needs_distributor(cfg) ? 1 : (uint16_t)cfg->workers;

	if (inline_ports(cfg, fwd, err, errlen) < 0)
		return -1;
	pl->all_finite = cfg->n_ports > 0;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		struct weir_port *p = &pl->ports[i];
		if (weir_port_open(p, &cfg->ports[i], i, cfg->workers, cfg->burst, fwd[i] ? txq : 0,
				   err, errlen) < 0)
			return -1;
		pl->n_ports++;
		pl->linktype[p->port_id] = (uint16_t)cfg->ports[i].linktype;
		pl->ts_mult[p->port_id] = p->ts_mult ? p->ts_mult : 1;
		pl->all_finite &= cfg->ports[i].finite;
	}
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		pl->peer[i] = NO_PEER;
	for (unsigned i = 0; i < cfg->n_inline; i++) {
		uint16_t a = pl->ports[cfg->inline_pairs[i].a].port_id;
		uint16_t b = pl->ports[cfg->inline_pairs[i].b].port_id;
		pl->peer[a] = b;
		pl->peer[b] = a;
	}
	pl->inline_mode = cfg->n_inline > 0;
	pl->idle_spin = pl->inline_mode && pollers_have_own_cpus();
	return 0;
}

/* Give every rx queue to exactly one poller. */
static void assign_queues(struct pipeline *pl)
{
	for (unsigned i = 0; i < pl->n_ports; i++)
		for (uint16_t q = 0; q < pl->ports[i].n_rxq; q++) {
			struct poller *po = pl->dist ? &pl->dist->po : &pl->workers[q % pl->n_workers].po;
			poller_add(po, &pl->ports[i], i, q);
		}
}

/* Per worker: the record ring to the main lcore and the inspection stage. */
static int create_inspect(struct pipeline *pl, struct worker *w, char *err, size_t errlen)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "weir_rec%u", w->id);
	w->records = rte_ring_create_elem(name, sizeof(struct weir_record), RECORD_RING, SOCKET_ID_ANY,
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!w->records) {
		snprintf(err, errlen, "cannot create record ring: %s", rte_strerror(rte_errno));
		return -1;
	}
	w->inspect = weir_inspect_create(pl->cfg, w->id, w->records, weir_gens_counters(pl->gens, w->id),
					 err, errlen);
	return w->inspect ? 0 : -1;
}

/* The latest event time any worker reached: query changes start at the boundary after it. */
static uint64_t event_time(void *ctx)
{
	const struct pipeline *pl = ctx;
	uint64_t t = 0;

	for (unsigned i = 0; i < pl->n_workers; i++) {
		uint64_t v = __atomic_load_n(&pl->workers[i].max_ts_pub, __ATOMIC_RELAXED);
		t = v > t ? v : t;
	}
	return pl->cfg->time == WEIR_TIME_PROCESSING && wall_now(pl) > t ? wall_now(pl) : t;
}

/* Generation 1: the config's queries (filters compiled) and rules (compiled). */
static int create_generations(struct pipeline *pl, char *err, size_t errlen)
{
	struct weir_qctl_env env = {
		.cfg = pl->cfg, .win = pl->win, .ann = pl->ann, .linktype = pl->linktype,
		.n_port_ids = RTE_MAX_ETHPORTS, .flows = weir_inspect_flows_wanted(pl->cfg),
		.dns = weir_annotate_has_dns(pl->ann), .event_time = event_time, .ctx = pl,
		.readers_lock = &tel_lock};
	static struct weir_window_view view;
	static struct weir_query_filters qf;

	pl->qctl = weir_qctl_new(&env, &view, &qf, err, errlen);
	if (!pl->qctl)
		return -1;
	pl->gens = weir_gens_new(pl->cfg, pl->cfg->workers, &view, &qf, &tel_lock, err, errlen);
	if (!pl->gens)
		return -1;
	weir_qctl_attach(pl->qctl, pl->gens);
	pl->gen_pub = weir_gens_published(pl->gens);
	return 0;
}

/* A single-producer single-consumer ring of mbufs, "<prefix><i>". */
static int create_ring(struct rte_ring **r, const char *prefix, unsigned i, unsigned size,
		       char *err, size_t errlen)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "%s%u", prefix, i);
	*r = rte_ring_create(name, size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!*r) {
		snprintf(err, errlen, "cannot create ring %s: %s", name, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int create_workers(struct pipeline *pl, char *err, size_t errlen)
{
	pl->n_workers = pl->cfg->workers;
	pl->workers = rte_zmalloc("weir_workers", sizeof(*pl->workers) * pl->n_workers,
				  RTE_CACHE_LINE_SIZE);
	if (!pl->workers)
		goto nomem;
	if (weir_needs_distributor(pl->cfg)) {
		pl->dist = rte_zmalloc("weir_dist", sizeof(*pl->dist), RTE_CACHE_LINE_SIZE);
		if (!pl->dist)
			goto nomem;
	}
	for (unsigned i = 0; i < pl->n_workers; i++) {
		struct worker *w = &pl->workers[i];
		w->id = i;
		w->pl = pl;
		w->win = weir_window_worker_get(pl->win, i);
		if (weir_inspect_wanted(pl->cfg) && create_inspect(pl, w, err, errlen) < 0)
			return -1;
		if (pl->ann)
			w->ann = weir_annotate_worker_get(pl->ann, i);
		w->fwd = pl->inline_mode;
		w->txq = (uint16_t)i;
		if (pl->dist && (create_ring(&w->ring, "weir_w", i, pl->cfg->ring_size, err, errlen) < 0 ||
				 (w->fwd && create_ring(&w->tx_ring, "weir_tx", i, pl->cfg->ring_size,
							 err, errlen) < 0)))
			return -1;
	}
	assign_queues(pl);
	return 0;
nomem:
	snprintf(err, errlen, "cannot allocate worker state");
	return -1;
}

static int launch(struct pipeline *pl, char *err, size_t errlen)
{
	unsigned need = pl->n_workers + (pl->dist ? 1 : 0), k = 0;
	unsigned lcore;

	if (rte_lcore_count() < need + 1) {
		snprintf(err, errlen, "%u lcores needed (main + %u workers%s), EAL gave %u", need + 1,
			 pl->n_workers, pl->dist ? " + distributor" : "", rte_lcore_count());
		return -1;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (k == need)
			break;
		if (pl->dist && k == 0)
			rte_eal_remote_launch(distributor_main, pl, lcore);
		else
			rte_eal_remote_launch(worker_main, &pl->workers[k - (pl->dist ? 1 : 0)], lcore);
		k++;
	}
	return 0;
}

/* ---- main lcore: merge, emit, account ---------------------------------------------- */

static void emit_window(void *ctx, const struct weir_window_result *r)
{
	struct pipeline *pl = ctx;

	weir_out_set_generation(pl->out, weir_gens_id(pl->gens));
	weir_out_window(pl->out, r);
	pl->windows_emitted++;
}

/*
 * Alerts and flow records from the workers, as JSON lines. Returns how many.
 * Only the records already queued when it starts: a worker that alerts as
 * fast as we write must not keep the main lcore from the control socket and
 * the window merges. A retired generation's reclaim needs no more: the
 * records that name it were queued before its grace period ended.
 */
static unsigned drain_records(struct pipeline *pl)
{
	struct weir_record r[32];
	/* During a barrier one at a time: what follows a worker's mark stays in its ring. */
	unsigned total = 0, n, max = weir_checkpoints_pending(pl) ? 1 : RTE_DIM(r);

	for (unsigned i = 0; i < pl->n_workers; i++) {
		struct rte_ring *ring = pl->workers[i].records;
		if (!ring)
			continue;
		unsigned left = rte_ring_count(ring);
		while (left && !weir_checkpoints_records_held(pl, i) &&
		       (n = rte_ring_sc_dequeue_burst_elem(ring, r, sizeof(r[0]), RTE_MIN(max, left),
							   NULL)) > 0) {
			left -= n;
			for (unsigned k = 0; k < n; k++) {
				if (r[k].kind == WEIR_REC_BARRIER) {
					weir_checkpoints_record_mark(pl, i);
					continue;
				}
				const struct weir_gen *g = r[k].kind == WEIR_REC_ALERT
					? weir_gens_find(pl->gens, r[k].alert.generation) : NULL;
				weir_record_json(&pl->rec_json, &r[k],
						 g ? weir_gen_rule(g, r[k].alert.db, r[k].alert.rule_idx) : NULL);
				weir_out_record(pl->out, &pl->rec_json);
				total++;
			}
		}
	}
	pl->records_written += total;
	return total;
}

/* SIGHUP: re-read the config file and reload its rule files (plus those --rules added). */
static volatile sig_atomic_t hup_requested;

static void on_hup(int sig)
{
	(void)sig;
	hup_requested = 1;
}

static bool weir_hup_take(void)
{
	if (!hup_requested)
		return false;
	hup_requested = 0;
	return true;
}

static void sighup_reload(struct pipeline *pl)
{
	static struct weir_config nc; /* large */
	const struct weir_config *cfg = pl->cfg;
	char err[1024], *files[WEIR_MAX_RULE_FILES];
	unsigned n = 0;

	if (!cfg->path[0]) {
		fprintf(stderr, "weir: SIGHUP: no config file; reloading the rule files\n");
		nc.n_rules = 0;
	} else {
		weir_config_defaults(&nc);
		if (weir_config_load(&nc, cfg->path, err, sizeof(err)) < 0) {
			fprintf(stderr, "weir: SIGHUP: %s (nothing changed)\n", err);
			return;
		}
	}
	for (unsigned i = 0; i < nc.n_rules; i++)
		files[n++] = nc.rules[i];
	for (unsigned i = cfg->n_rules_file; i < cfg->n_rules && n < WEIR_MAX_RULE_FILES; i++)
		files[n++] = (char *)cfg->rules[i];
	json_t *r = json_object();
	if (!n)
		fprintf(stderr, "weir: SIGHUP: %s names no rule file: rules unchanged\n", cfg->path);
	else if (weir_gens_reload(pl->gens, files, n, r, err, sizeof(err)) < 0)
		fprintf(stderr, "weir: SIGHUP: rules not reloaded: %s\n", err);
	else
		fprintf(stderr, "weir: SIGHUP: reloading %u rule file%s (job %" JSON_INTEGER_FORMAT
			"); other settings take effect at the next start\n", n, n == 1 ? "" : "s",
			json_integer_value(json_object_get(json_object_get(r, "job"), "id")));
	json_decref(r);
}

static void drain_records_cb(void *pl)
{
	drain_records(pl);
}

static void merge_until_done(struct pipeline *pl)
{
	while (!workers_done(pl)) {
		if (weir_hup_take())
			sighup_reload(pl);
		if (weir_annotate_main_poll(pl->ann) + weir_window_merge_poll(pl->win, emit_window, pl) +
		    drain_records(pl) + weir_ctl_poll(pl->ctl) +
		    weir_gens_poll(pl->gens, drain_records_cb, pl) + weir_qctl_poll(pl->qctl) +
		    weir_checkpoints_poll(pl) == 0)
			usleep(200); /* workers wait on us for shards: stay close */
	}
	rte_eal_mp_wait_lcore();
	pl->tsc_end = rte_rdtsc();
	/*
	 * Every lcore has stopped: each barrier mark there will be is in the
	 * rings, and a barrier either aligns now or never will.
	 */
	drain_records(pl);
	weir_annotate_main_poll(pl->ann);
	weir_window_merge_poll(pl->win, emit_window, pl);
	if (weir_checkpoints_finish(pl)) {
		drain_records(pl);
		weir_window_merge_poll(pl->win, emit_window, pl);
	}
}

/* Run time so far (while running: for the control socket's stats). */
static double elapsed_s(const struct pipeline *pl)
{
	return (double)((pl->tsc_end ? pl->tsc_end : rte_rdtsc()) - pl->tsc_start) /
	       (double)pl->tsc_hz;
}

/* An lcore's counter as it stands (another thread writes it). */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* sum += c, c read as it stands (from any thread: main, telemetry, metrics). */
static void counters_add(struct counters *sum, const struct counters *c)
{
	sum->rx += LOAD(c->rx);
	sum->processed += LOAD(c->processed);
	sum->bytes += LOAD(c->bytes);
	for (unsigned r = 0; r < WEIR_DROP__COUNT; r++)
		sum->dropped[r] += LOAD(c->dropped[r]);
	for (unsigned r = 0; r < WEIR_PKT_MAL__COUNT; r++)
		sum->malformed[r] += LOAD(c->malformed[r]);
	sum->forwarded += LOAD(c->forwarded);
	for (unsigned r = 0; r < WEIR_FWD_DROP__COUNT; r++)
		sum->fwd_dropped[r] += LOAD(c->fwd_dropped[r]);
}

/* Every lcore's counters summed, as they stand. */
static void counters_total(const struct pipeline *pl, struct counters *total)
{
	memset(total, 0, sizeof(*total));
	if (pl->dist)
		counters_add(total, &pl->dist->c);
	for (unsigned i = 0; i < pl->n_workers; i++)
		counters_add(total, &pl->workers[i].c);
}

static struct counters counters_read(const struct counters *c)
{
	struct counters r;

	memset(&r, 0, sizeof(r));
	counters_add(&r, c);
	return r;
}

/* Burst-time summary in ns: p50, p99, p99.9, max (log2 buckets, see weir_hist_quantile). */
struct burst_summary {
	uint64_t count, mean_ns, p50_ns, p99_ns, p999_ns, max_ns;
};

static struct burst_summary burst_summary(const struct pipeline *pl, const struct weir_hist *h)
{
	double ns = 1e9 / (double)pl->tsc_hz;
	struct burst_summary b = {.count = weir_hist_count(h)};

	b.mean_ns = b.count ? (uint64_t)((double)h->sum / (double)b.count * ns) : 0;
	b.p50_ns = (uint64_t)(weir_hist_quantile(h, 0.5) * ns);
	b.p99_ns = (uint64_t)(weir_hist_quantile(h, 0.99) * ns);
	b.p999_ns = (uint64_t)(weir_hist_quantile(h, 0.999) * ns);
	b.max_ns = (uint64_t)((double)h->max * ns);
	return b;
}

/* Worker i's histogram (i < 0: all workers merged), as it stands. */
static void burst_hist(const struct pipeline *pl, int i, struct weir_hist *h)
{
	memset(h, 0, sizeof(*h));
	for (unsigned k = 0; k < pl->n_workers; k++)
		if (i < 0 || (unsigned)i == k)
			weir_hist_add_from(h, &pl->workers[k].burst);
}

static void json_burst_time(const struct pipeline *pl, struct weir_json *j, int worker)
{
	struct weir_hist h;

	burst_hist(pl, worker, &h);
	struct burst_summary b = burst_summary(pl, &h);
	weir_json_begin(j, "burst_time");
	weir_json_u64(j, "bursts", b.count);
	weir_json_u64(j, "mean_ns", b.mean_ns);
	weir_json_u64(j, "p50_ns", b.p50_ns);
	weir_json_u64(j, "p99_ns", b.p99_ns);
	weir_json_u64(j, "p99_9_ns", b.p999_ns);
	weir_json_u64(j, "max_ns", b.max_ns);
	weir_json_end(j);
}

static uint64_t dropped_total(const struct counters *c)
{
	uint64_t s = 0;

	for (unsigned r = 0; r < WEIR_DROP__COUNT; r++)
		s += c->dropped[r];
	return s;
}

static void json_counters(const struct pipeline *pl, struct weir_json *j, const struct counters *c)
{
	weir_json_u64(j, "rx", c->rx);
	weir_json_u64(j, "processed", c->processed);
	weir_json_u64(j, "bytes", c->bytes);
	weir_json_begin(j, "dropped");
	for (unsigned r = 0; r < WEIR_DROP__COUNT; r++)
		weir_json_u64(j, weir_drop_name(r), c->dropped[r]);
	weir_json_end(j);
	weir_json_begin(j, "malformed");
	for (unsigned r = 1; r < WEIR_PKT_MAL__COUNT; r++)
		if (c->malformed[r])
			weir_json_u64(j, weir_pkt_malformed_name(r), c->malformed[r]);
	weir_json_end(j);
	if (!pl->inline_mode)
		return;
	weir_json_begin(j, "inline");
	weir_json_u64(j, "forwarded", c->forwarded);
	weir_json_begin(j, "dropped");
	for (unsigned r = 0; r < WEIR_FWD_DROP__COUNT; r++)
		weir_json_u64(j, weir_fwd_drop_name(r), c->fwd_dropped[r]);
	weir_json_end(j);
	weir_json_end(j);
}

/*
 * Cycles per packet of each stage, every lcore's clock summed (-1: the
 * stage did not run). The packets of the timed parse stage.
 */
static uint64_t stage_cycles(const struct pipeline *pl, double *per)
{
	uint64_t cyc[WEIR_STAGE__COUNT] = {0}, pkts[WEIR_STAGE__COUNT] = {0};

	for (unsigned i = 0; i <= pl->n_workers; i++) {
		const struct stage_clock *k = i < pl->n_workers ? &pl->workers[i].clock
					      : pl->dist ? &pl->dist->clock : NULL;
		for (unsigned s = 0; k && s < WEIR_STAGE__COUNT; s++) {
			cyc[s] += LOAD(k->cyc[s]);
			pkts[s] += LOAD(k->pkts[s]);
		}
	}
	for (unsigned s = 0; s < WEIR_STAGE__COUNT; s++)
		per[s] = pkts[s] ? (double)cyc[s] / (double)pkts[s] : -1;
	return pkts[WEIR_STAGE_PARSE];
}

/*
 * The longest timed burst of any lcore, stage by stage (TSC cycles). Read
 * while the lcores may replace it: a diagnostic, not an exact record.
 */
static void json_longest_burst(const struct pipeline *pl, struct weir_json *j)
{
	const struct stage_clock *worst = NULL;
	int who = -1;

	for (unsigned i = 0; i <= pl->n_workers; i++) {
		const struct stage_clock *k = i < pl->n_workers ? &pl->workers[i].clock
					      : pl->dist ? &pl->dist->clock : NULL;
		if (k && (!worst || LOAD(k->worst_total) > LOAD(worst->worst_total))) {
			worst = k;
			who = (int)i;
		}
	}
	if (!worst || !LOAD(worst->worst_total))
		return;
	weir_json_begin(j, "longest_burst");
	weir_json_str(j, "lcore", (unsigned)who < pl->n_workers ? "worker" : "distributor");
	if ((unsigned)who < pl->n_workers)
		weir_json_u64(j, "worker", (uint64_t)who);
	weir_json_u64(j, "packets", LOAD(worst->worst_pkts));
	for (unsigned s = 0; s < WEIR_STAGE__COUNT; s++)
		if (LOAD(worst->worst[s]))
			weir_json_u64(j, stage_name(s), LOAD(worst->worst[s]));
	weir_json_u64(j, "total", LOAD(worst->worst_total));
	weir_json_end(j);
}

static void json_stage_cycles(const struct pipeline *pl, struct weir_json *j)
{
	double per[WEIR_STAGE__COUNT], total = 0;
	uint64_t sampled = stage_cycles(pl, per);

	weir_json_begin(j, "stage_cycles");
	weir_json_u64(j, "tsc_hz", pl->tsc_hz);
	weir_json_u64(j, "sample", STAGE_SAMPLE);
	weir_json_u64(j, "sampled_packets", sampled);
	weir_json_begin(j, "per_packet");
	for (unsigned s = 0; s < WEIR_STAGE__COUNT; s++) {
		if (per[s] < 0)
			continue;
		weir_json_double(j, stage_name(s), per[s]);
		total += per[s];
	}
	weir_json_double(j, "total", total);
	weir_json_end(j);
	json_longest_burst(pl, j);
	weir_json_end(j);
}

static void summary_stage_cycles(const struct pipeline *pl, FILE *f)
{
	double per[WEIR_STAGE__COUNT], total = 0;

	if (!stage_cycles(pl, per))
		return;
	fprintf(f, "  cycles/packet:");
	for (unsigned s = 0; s < WEIR_STAGE__COUNT; s++)
		if (per[s] >= 0) {
			fprintf(f, " %s %.0f", stage_name(s), per[s]);
			total += per[s];
		}
	fprintf(f, " = %.0f (%.1f ns)\n", total, total * 1e9 / (double)pl->tsc_hz);
}

static void json_ports(struct pipeline *pl, struct weir_json *j)
{
	weir_json_begin(j, "ports");
	for (unsigned i = 0; i < pl->n_ports; i++) {
		struct weir_port *p = &pl->ports[i];
		struct rte_eth_stats st;
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(p->port_id, &st);
		weir_json_begin(j, p->name);
		weir_json_u64(j, "ipackets", st.ipackets);
		weir_json_u64(j, "imissed", st.imissed);
		weir_json_u64(j, "ierrors", st.ierrors);
		weir_json_u64(j, "rx_nombuf", st.rx_nombuf);
		if (p->expected != UINT64_MAX)
			weir_json_u64(j, "file_records", p->expected);
		weir_json_end(j);
	}
	weir_json_end(j);
}

static void json_queries(struct pipeline *pl, struct weir_json *j)
{
	weir_json_begin(j, "queries");
	for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++) {
		if (!query_counts(pl, qi))
			continue;
		weir_json_begin(j, weir_window_set_query(pl->win, qi)->conf.name);
		for (unsigned r = 0; r < WEIR_QDROP__COUNT; r++)
			weir_json_u64(j, weir_qdrop_name(r), weir_window_set_qdrop(pl->win, qi, r));
		weir_json_u64(j, "merge_overflow", weir_window_set_merge_overflow(pl->win, qi));
		weir_json_end(j);
	}
	weir_json_end(j);
}

static void json_combiner(struct pipeline *pl, struct weir_json *j)
{
	struct weir_combine_stats st;

	weir_window_set_combine_stats(pl->win, &st);
	weir_json_begin(j, "combiner");
	weir_json_u64(j, "packets", st.packets);
	weir_json_u64(j, "flows", st.flows);
	weir_json_u64(j, "flushes", st.flushes);
	weir_json_u64(j, "full", st.full);
	weir_json_end(j);
}

/* Sum of a per-worker counter over the workers that inspect. */
#define SUM_WORKERS(pl, expr)                                            \
	({                                                                 \
		uint64_t sum_ = 0;                                         \
		for (unsigned wi_ = 0; wi_ < (pl)->n_workers; wi_++) {     \
			const struct weir_inspect *in = (pl)->workers[wi_].inspect; \
			if (in)                                            \
				sum_ += (expr);                            \
		}                                                          \
		sum_;                                                      \
	})
/* A per-rule counter (packets, matches, alerts, suppressed) of a counter slot, over the workers. */
#define RULE_SUM(pl, slot, f)                                                      \
	({                                                                         \
		uint64_t rsum_ = 0;                                                \
		for (unsigned rw_ = 0; rw_ < (pl)->n_workers; rw_++)               \
			rsum_ += LOAD(weir_gens_counters((pl)->gens, rw_)[slot].f); \
		rsum_;                                                             \
	})


static void json_rules(struct pipeline *pl, struct weir_json *j)
{
	const struct weir_gen *g = current_gen(pl);
	char id[16];

	weir_json_u64(j, "generation", g->id);
	weir_json_begin(j, "rules");
	for (unsigned r = 0; r < g->n_active; r++) {
		uint64_t pk = RULE_SUM(pl, GEN_SLOT(g, r), packets);
		uint64_t al = RULE_SUM(pl, GEN_SLOT(g, r), alerts);
		uint64_t mt = RULE_SUM(pl, GEN_SLOT(g, r), matches);
		uint64_t su = RULE_SUM(pl, GEN_SLOT(g, r), suppressed);
		snprintf(id, sizeof(id), "%u", GEN_RULE(g, r)->id);
		weir_json_begin(j, id);
		weir_json_u64(j, "packets", pk);
		weir_json_u64(j, "matches", mt);
		weir_json_u64(j, "alerts", al);
		weir_json_u64(j, "suppressed", su);
		weir_json_end(j);
	}
	weir_json_end(j);
}

/* Flow, matching and per-rule counters, summed over the workers. */
static void json_inspect(struct pipeline *pl, struct weir_json *j)
{
	if (!pl->workers[0].inspect)
		return;
	weir_json_begin(j, "inspect");
	for (unsigned c = 0; c < WEIR_INSPECT__COUNT; c++)
		weir_json_u64(j, weir_inspect_counter_name(c), SUM_WORKERS(pl, weir_inspect_counter(in, c)));
	weir_json_u64(j, "records", pl->records_written);
	weir_json_end(j);
	if (weir_inspect_flows(pl->workers[0].inspect)) {
		weir_json_begin(j, "flows");
		for (unsigned c = 0; c < WEIR_FLOW_CNT__COUNT; c++)
			weir_json_u64(j, weir_flow_counter_name(c),
				      SUM_WORKERS(pl, weir_flow_counter(weir_inspect_flows(in), c)));
		weir_json_end(j);
	}
	if (current_gen(pl))
		json_rules(pl, j);
}

/* Rules that matched most packets, for people. */
static void rules_summary(struct pipeline *pl, FILE *f)
{
	const struct weir_gen *g = current_gen(pl);
	uint64_t best[5] = {0}, alerts = 0, suppressed = 0;
	unsigned idx[5] = {0};

	for (unsigned r = 0; r < g->n_active; r++) {
		uint64_t pk = RULE_SUM(pl, GEN_SLOT(g, r), packets);
		alerts += RULE_SUM(pl, GEN_SLOT(g, r), alerts);
		suppressed += RULE_SUM(pl, GEN_SLOT(g, r), suppressed);
		for (unsigned k = 0; k < 5; k++)
			if (pk > best[k]) {
				memmove(best + k + 1, best + k, (4 - k) * sizeof(best[0]));
				memmove(idx + k + 1, idx + k, (4 - k) * sizeof(idx[0]));
				best[k] = pk;
				idx[k] = r;
				break;
			}
	}
	fprintf(f, "  rules: %u loaded (generation %u), %" PRIu64 " alerts, %" PRIu64
		   " suppressed by alert_limit\n", g->n_active, g->id, alerts, suppressed);
	for (unsigned k = 0; k < 5 && best[k]; k++) {
		const struct weir_rule *r = GEN_RULE(g, idx[k]);
		const char *what = r->msg[0] || !r->n_parts ? r->msg : r->parts[0].expr;
		fprintf(f, "    rule %-8u %8" PRIu64 " packets  %.70s\n", r->id, best[k], what);
	}
}

static void stats_summary(struct pipeline *pl, const struct counters *t, FILE *f)
{
	fprintf(f, "\n== totals ==\n  rx %" PRIu64 "  processed %" PRIu64 "  dropped %" PRIu64
		   "  bytes %" PRIu64 "  windows %" PRIu64 "  (rx %s processed + dropped)\n",
		t->rx, t->processed, dropped_total(t), t->bytes, pl->windows_emitted,
		t->rx == t->processed + dropped_total(t) ? "==" : "!=");
	fprintf(f, "  %.3f s, %.2f Mpps\n", elapsed_s(pl),
		elapsed_s(pl) > 0 ? (double)t->processed / elapsed_s(pl) / 1e6 : 0);
	summary_stage_cycles(pl, f);
	if (pl->inline_mode) {
		fprintf(f, "  inline: forwarded %" PRIu64 ", not sent on:", t->forwarded);
		for (unsigned r = 0; r < WEIR_FWD_DROP__COUNT; r++)
			fprintf(f, " %s=%" PRIu64, weir_fwd_drop_name(r), t->fwd_dropped[r]);
		fputc('\n', f);
	}
	fprintf(f, "  drops by reason:");
	for (unsigned r = 0; r < WEIR_DROP__COUNT; r++)
		fprintf(f, " %s=%" PRIu64, weir_drop_name(r), t->dropped[r]);
	fprintf(f, "\n  malformed (counted, not dropped):");
	unsigned shown = 0;
	for (unsigned r = 1; r < WEIR_PKT_MAL__COUNT; r++)
		if (t->malformed[r] && ++shown)
			fprintf(f, " %s=%" PRIu64, weir_pkt_malformed_name(r), t->malformed[r]);
	fprintf(f, "%s\n", shown ? "" : " none");
	if (current_gen(pl))
		rules_summary(pl, f);
	for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++) {
		if (!query_counts(pl, qi))
			continue;
		fprintf(f, "  query %s:", weir_window_set_query(pl->win, qi)->conf.name);
		for (unsigned r = 0; r < WEIR_QDROP__COUNT; r++)
			fprintf(f, " %s=%" PRIu64, weir_qdrop_name(r), weir_window_set_qdrop(pl->win, qi, r));
		fputc('\n', f);
	}
	struct weir_combine_stats cs;
	weir_window_set_combine_stats(pl->win, &cs);
	if (cs.packets)
		fprintf(f, "  flow combiner: %" PRIu64 " packets summed into %" PRIu64
			   " flow sums (%.1f packets each), %" PRIu64 " flushes (%" PRIu64 " when full)\n",
			cs.packets, cs.flows, cs.flows ? (double)cs.packets / (double)cs.flows : 0.0,
			cs.flushes, cs.full);
}

/*
 * The stats record into j (an open object): the final record, and the
 * control socket's "stats" while running (counters the lcores are still
 * writing, read as they stand).
 */
static void stats_json(struct pipeline *pl, struct weir_json *j, struct counters *t)
{
	struct counters total;
	char id[16];

	counters_total(pl, &total);
	weir_json_str(j, "type", "stats");
	json_counters(pl, j, &total);
	weir_json_u64(j, "windows", pl->windows_emitted);
	weir_json_u64(j, "having_alerts", weir_out_having_alerts(pl->out));
	if (pl->ann) {
		uint64_t learnt, shared, full, evicted;
		weir_annotate_dns_stats(pl->ann, &learnt, &shared, &full, &evicted);
		weir_json_begin(j, "dns");
		weir_json_u64(j, "answers", learnt);
		weir_json_u64(j, "shared", shared);
		weir_json_u64(j, "ring_full", full);
		weir_json_u64(j, "evicted", evicted);
		weir_json_end(j);
	}
	weir_json_double(j, "elapsed_s", elapsed_s(pl));
	weir_json_double(j, "mpps", elapsed_s(pl) > 0 ? (double)total.processed / elapsed_s(pl) / 1e6 : 0);
	json_burst_time(pl, j, -1);
	json_stage_cycles(pl, j);
	weir_json_begin(j, "workers");
	for (unsigned i = 0; i < pl->n_workers; i++) {
		struct counters c = counters_read(&pl->workers[i].c);
		snprintf(id, sizeof(id), "%u", i);
		weir_json_begin(j, id);
		json_counters(pl, j, &c);
		json_burst_time(pl, j, (int)i);
		weir_json_end(j);
	}
	weir_json_end(j);
	if (pl->dist) {
		struct counters c = counters_read(&pl->dist->c);
		weir_json_begin(j, "distributor");
		json_counters(pl, j, &c);
		weir_json_end(j);
	}
	json_ports(pl, j);
	json_queries(pl, j);
	json_combiner(pl, j);
	json_inspect(pl, j);
	weir_checkpoints_stats(pl, j);
	*t = total;
}

static void write_stats(struct pipeline *pl)
{
	struct counters total;
	struct weir_json j;

	weir_json_init(&j);
	weir_json_begin(&j, NULL);
	stats_json(pl, &j, &total);
	weir_json_end(&j);
	weir_out_record(pl->out, &j);
	weir_json_free(&j);
	if (weir_out_summary_stream(pl->out))
		stats_summary(pl, &total, weir_out_summary_stream(pl->out));
}

/* ---- control socket commands (main lcore, between merge polls) ------------------------- */

static int ctl_no_args(unsigned argc, char **argv, char *err, size_t errlen)
{
	if (!argc)
		return 0;
	snprintf(err, errlen, "unexpected argument '%.60s'", argv[0]);
	return -1;
}

static int ctl_one_arg(unsigned argc, const char *usage, char *err, size_t errlen)
{
	if (argc == 1)
		return 0;
	snprintf(err, errlen, "usage: %s", usage);
	return -1;
}

static int ctl_status(void *ctx, unsigned argc, char **argv, json_t *r, char *err, size_t errlen)
{
	struct pipeline *pl = ctx;
	json_t *ports = json_array();

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < pl->n_ports; i++)
		json_array_append_new(ports, json_string(pl->ports[i].name));
	json_object_set_new(r, "version", json_string(WEIR_VERSION));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "uptime_s", json_real(elapsed_s(pl)));
	json_object_set_new(r, "workers", json_integer(pl->n_workers));
	json_object_set_new(r, "distributor", json_boolean(pl->dist));
	json_object_set_new(r, "ports", ports);
	json_object_set_new(r, "config", pl->cfg->path[0] ? json_string(pl->cfg->path) : json_null());
	weir_gens_status_json(pl->gens, r);
	json_object_set_new(r, "queries", json_integer(live_queries(pl)));
	json_object_set_new(r, "control_clients", json_integer(weir_ctl_clients(pl->ctl)));
	json_object_set_new(r, "file_prefix", json_string(weir_eal_file_prefix()));
	json_object_set_new(r, "metrics", pl->metrics ? json_string(pl->metrics_addr) : json_null());
	json_object_set_new(r, "stopping", json_boolean(*pl->stop));
	return 0;
}

/* The same object as the final stats record, as the counters stand now. */
static int ctl_stats(void *ctx, unsigned argc, char **argv, json_t *r, char *err, size_t errlen)
{
	struct pipeline *pl = ctx;
	struct counters total;
	struct weir_json j;
	json_error_t je;

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	weir_json_init(&j);
	weir_json_begin(&j, NULL);
	stats_json(pl, &j, &total);
	weir_json_end(&j);
	json_t *st = j.oom ? NULL : json_loadb(j.buf, j.len, 0, &je);
	weir_json_free(&j);
	if (!st) {
		snprintf(err, errlen, "stats: cannot build the record");
		return -1;
	}
	json_object_set_new(r, "stats", st);
	return 0;
}

static int ctl_rules_list(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			  size_t errlen)
{
	struct pipeline *pl = ctx;
	json_t *a = json_array();

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	const struct weir_gen *g = current_gen(pl);
	json_object_set_new(r, "generation", json_integer(weir_gens_id(pl->gens)));
	for (unsigned i = 0; g && i < g->n_active; i++) {
		const struct weir_rule *ru = GEN_RULE(g, i);
		uint32_t slot = GEN_SLOT(g, i);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(ru->id));
		json_object_set_new(o, "rev", json_integer(ru->rev));
		json_object_set_new(o, "msg", json_string(ru->msg ? ru->msg : ""));
		json_object_set_new(o, "severity", json_integer(ru->severity));
		json_object_set_new(o, "action", json_string(weir_rule_action_name(ru->action)));
		json_object_set_new(o, "mode", json_string(weir_rule_mode_name(ru->mode)));
		json_object_set_new(o, "db", json_string(g->active[i].db ? "delta" : "base"));
		json_object_set_new(o, "packets", json_integer((json_int_t)RULE_SUM(pl, slot, packets)));
		json_object_set_new(o, "matches", json_integer((json_int_t)RULE_SUM(pl, slot, matches)));
		json_object_set_new(o, "alerts", json_integer((json_int_t)RULE_SUM(pl, slot, alerts)));
		json_object_set_new(o, "suppressed",
				    json_integer((json_int_t)RULE_SUM(pl, slot, suppressed)));
		json_array_append_new(a, o);
	}
	json_object_set_new(r, "rules", a);
	return 0;
}

static json_t *ctl_seconds(uint64_t ns)
{
	return json_real((double)ns / 1e9);
}

static int ctl_query_list(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			  size_t errlen)
{
	static const char *const types[] = {"tumbling", "sliding", "session"};
	struct pipeline *pl = ctx;
	json_t *a = json_array();
	char f[96];

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++) {
		if (!weir_window_set_live(pl->win, qi))
			continue;
		const struct weir_query_conf *q = &weir_window_set_query(pl->win, qi)->conf;
		json_t *o = json_object(), *w = json_object(), *g = json_array(), *ag = json_array();
		json_t *cnt = json_object();
		uint64_t from, until;
		weir_qctl_bounds(pl->qctl, qi, &from, &until);
		json_object_set_new(o, "name", json_string(q->name));
		json_object_set_new(o, "state", json_string(weir_qctl_state(pl->qctl, qi)));
		json_object_set_new(o, "from_ns", json_integer((json_int_t)from));
		json_object_set_new(o, "until_ns", until == UINT64_MAX ? json_null()
								       : json_integer((json_int_t)until));
		json_object_set_new(w, "type", json_string(q->window <= 2 ? types[q->window] : "?"));
		if (q->window == WEIR_WINDOW_SESSION) {
			json_object_set_new(w, "gap_s", ctl_seconds(q->gap_ns));
			json_object_set_new(w, "max_s", ctl_seconds(q->max_ns));
		} else {
			json_object_set_new(w, "size_s", ctl_seconds(q->size_ns));
			if (q->window == WEIR_WINDOW_SLIDING)
				json_object_set_new(w, "slide_s", ctl_seconds(q->slide_ns));
		}
		json_object_set_new(w, "lateness_s", ctl_seconds(q->lateness_ns));
		json_object_set_new(w, "emit_every_s", ctl_seconds(q->emit_every_ns));
		json_object_set_new(o, "window", w);
		for (unsigned i = 0; i < q->n_group_by; i++) {
			int n = snprintf(f, sizeof(f), "%s", weir_field_name(q->group_by[i]));
			if (q->prefix4[i] || q->prefix6[i])
				snprintf(f + n, sizeof(f) - (size_t)n, "/%u/%u", q->prefix4[i], q->prefix6[i]);
			json_array_append_new(g, json_string(f));
		}
		json_object_set_new(o, "group_by", g);
		for (unsigned i = 0; i < q->n_aggs; i++)
			json_array_append_new(ag, json_string(q->aggs[i].name));
		json_object_set_new(o, "aggregates", ag);
		json_object_set_new(o, "filter", q->filter[0] ? json_string(q->filter) : json_null());
		json_object_set_new(o, "having", q->having.text[0] ? json_string(q->having.text)
								    : json_null());
		json_object_set_new(o, "max_keys", json_integer(q->max_keys));
		for (unsigned d = 0; d < WEIR_QDROP__COUNT; d++)
			json_object_set_new(cnt, weir_qdrop_name(d),
					    json_integer((json_int_t)weir_window_set_qdrop(pl->win, qi, d)));
		json_object_set_new(cnt, "merge_overflow",
				    json_integer((json_int_t)weir_window_set_merge_overflow(pl->win, qi)));
		json_object_set_new(o, "counters", cnt);
		json_array_append_new(a, o);
	}
	json_object_set_new(r, "queries", a);
	return 0;
}

struct peek {
	struct pipeline *pl;
	json_t *windows;
	unsigned top;
};

/* One open window of `windows show`: its bounds, key count and top rows. */
static void peek_window(void *ctx, const struct weir_window_result *r)
{
	struct peek *pk = ctx;
	uint32_t *order;
	uint32_t rows = weir_out_rows(r, &order);
	json_t *w = json_object(), *a = json_array();
	struct weir_json j;

	weir_json_init(&j);
	json_object_set_new(w, "window_start", json_integer((json_int_t)r->start));
	json_object_set_new(w, "window_end", json_integer((json_int_t)r->end));
	json_object_set_new(w, "keys", json_integer(rows));
	for (uint32_t i = 0; order && i < rows && i < pk->top; i++) {
		weir_out_row_json(pk->pl->out, &j, r, order[i]);
		json_t *row = json_loads(j.buf, 0, NULL);
		if (row)
			json_array_append_new(a, row);
	}
	json_object_set_new(w, "rows", a);
	json_array_append_new(pk->windows, w);
	weir_json_free(&j);
	free(order);
}

/*
 * windows show QUERY [--top N]: what the merger holds of the query's open
 * windows (the panes workers have sealed or shipped so far; their shards
 * still being counted are not readable from here).
 */
static int ctl_windows_show(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			    size_t errlen)
{
	struct pipeline *pl = ctx;
	struct peek pk = {pl, NULL, 10};
	char *end;

	if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--top") == 0)) {
		snprintf(err, errlen, "usage: windows show QUERY [--top N]");
		return -1;
	}
	if (argc == 3) {
		unsigned long t = strtoul(argv[2], &end, 10);
		if (*end || end == argv[2] || t == 0 || t > 10000) {
			snprintf(err, errlen, "--top: '%s' is not a number in 1..10000", argv[2]);
			return -1;
		}
		pk.top = (unsigned)t;
	}
	for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++) {
		if (!weir_window_set_live(pl->win, qi) ||
		    strcmp(weir_window_set_query(pl->win, qi)->conf.name, argv[0]) != 0)
			continue;
		pk.windows = json_array();
		weir_window_set_peek(pl->win, qi, peek_window, &pk);
		json_object_set_new(r, "query", json_string(argv[0]));
		json_object_set_new(r, "windows", pk.windows);
		return 0;
	}
	snprintf(err, errlen, "no query '%s' (see: query list)", argv[0]);
	return -1;
}

/* `rules reload [FILE...]`, `rules add FILE`: start a compile job; `rules status` follows it. */
static int ctl_rules_reload(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			    size_t errlen)
{
	struct pipeline *pl = ctx;

	return weir_gens_reload(pl->gens, argv, argc, r, err, errlen);
}

static int ctl_rules_add(void *ctx, unsigned argc, char **argv, json_t *r, char *err, size_t errlen)
{
	struct pipeline *pl = ctx;

	if (ctl_one_arg(argc, "rules add FILE", err, errlen) < 0)
		return -1;
	return weir_gens_add(pl->gens, argv[0], r, err, errlen);
}

/* `rules remove ID...`: published at once, no compile. */
static int ctl_rules_remove(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			    size_t errlen)
{
	struct pipeline *pl = ctx;
	uint32_t ids[WEIR_CTL_MAX_WORDS];

	if (!argc) {
		snprintf(err, errlen, "usage: rules remove ID...");
		return -1;
	}
	for (unsigned i = 0; i < argc; i++) {
		char *end;
		unsigned long v = strtoul(argv[i], &end, 10);
		if (!isdigit((unsigned char)argv[i][0]) || *end || v > UINT32_MAX) {
			snprintf(err, errlen, "'%.60s' is not a rule id", argv[i]);
			return -1;
		}
		ids[i] = (uint32_t)v;
	}
	return weir_gens_remove(pl->gens, argc, ids, r, err, errlen);
}

static int ctl_rules_status(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			    size_t errlen)
{
	struct pipeline *pl = ctx;

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	weir_gens_status_json(pl->gens, r);
	return 0;
}

/* `query add FILE`: its queries start at their next window boundary (same name: a replacement). */
static int ctl_query_add(void *ctx, unsigned argc, char **argv, json_t *r, char *err, size_t errlen)
{
	struct pipeline *pl = ctx;

	if (ctl_one_arg(argc, "query add FILE (a YAML file with a queries: list)", err, errlen) < 0)
		return -1;
	return weir_qctl_add(pl->qctl, argv[0], r, err, errlen);
}

/* `query remove NAME`: the window in progress finishes, then the query ends. */
static int ctl_query_remove(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			    size_t errlen)
{
	struct pipeline *pl = ctx;

	if (ctl_one_arg(argc, "query remove NAME", err, errlen) < 0)
		return -1;
	return weir_qctl_remove(pl->qctl, argv[0], r, err, errlen);
}

/* Stop as on SIGTERM: windows flushed, stats written, exit 0. */
static int ctl_shutdown(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			size_t errlen)
{
	struct pipeline *pl = ctx;

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	*pl->stop = 1;
	json_object_set_new(r, "stopping", json_true());
	return 0;
}

/* snapshot: ask for a checkpoint; its epoch comes back, `snapshot status` says when it is on disk. */
static int ctl_snapshot(void *ctx, unsigned argc, char **argv, json_t *r, char *err, size_t errlen)
{
	struct pipeline *pl = ctx;
	uint64_t epoch;

	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	epoch = weir_checkpoints_request(pl, err, errlen);
	if (!epoch)
		return -1;
	json_object_set_new(r, "epoch", json_integer((json_int_t)epoch));
	return 0;
}

static int ctl_snapshot_status(void *ctx, unsigned argc, char **argv, json_t *r, char *err,
			       size_t errlen)
{
	if (ctl_no_args(argc, argv, err, errlen) < 0)
		return -1;
	weir_checkpoints_json(ctx, r);
	return 0;
}

static int ctl_open(struct pipeline *pl, char *err, size_t errlen)
{
	pl->ctl = weir_ctl_open(pl->cfg->control_socket, err, errlen);
	if (!pl->ctl)
		return -1;
	weir_ctl_register(pl->ctl, "status", ctl_status, pl);
	weir_ctl_register(pl->ctl, "stats", ctl_stats, pl);
	weir_ctl_register(pl->ctl, "rules list", ctl_rules_list, pl);
	weir_ctl_register(pl->ctl, "rules reload", ctl_rules_reload, pl);
	weir_ctl_register(pl->ctl, "rules add", ctl_rules_add, pl);
	weir_ctl_register(pl->ctl, "rules remove", ctl_rules_remove, pl);
	weir_ctl_register(pl->ctl, "rules status", ctl_rules_status, pl);
	weir_ctl_register(pl->ctl, "query list", ctl_query_list, pl);
	weir_ctl_register(pl->ctl, "query add", ctl_query_add, pl);
	weir_ctl_register(pl->ctl, "query remove", ctl_query_remove, pl);
	weir_ctl_register(pl->ctl, "windows show", ctl_windows_show, pl);
	weir_ctl_register(pl->ctl, "shutdown", ctl_shutdown, pl);
	weir_ctl_register(pl->ctl, "snapshot", ctl_snapshot, pl);
	weir_ctl_register(pl->ctl, "snapshot status", ctl_snapshot_status, pl);
	return 0;
}

/* ---- DPDK telemetry: /weir/stats, /weir/rules, /weir/queries, /weir/status ---------------- */

/*
 * Telemetry callbacks run on DPDK's telemetry threads and take no context:
 * they find the running pipeline here. The lock only orders them against
 * weir_run's teardown (and each other); lcores never take it, and the
 * counters are read as they stand, like the control socket's stats.
 */
static struct pipeline *tel_pl;

/* Telemetry dict keys allow [A-Za-z0-9_/] only ("ring-full" -> "ring_full"). */
static const char *tel_key(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i + 1 < len; i++)
		buf[i] = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '/' ? s[i] : '_';
	buf[i] = '\0';
	return buf;
}

static void tel_u64(struct rte_tel_data *d, const char *key, uint64_t v)
{
	char k[RTE_TEL_MAX_STRING_LEN];

	rte_tel_data_add_dict_u64(d, tel_key(key, k, sizeof(k)), v);
}

/* A sub-dictionary under key (the caller fills it; added when done with tel_end). */
static struct rte_tel_data *tel_begin(void)
{
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (c)
		rte_tel_data_start_dict(c);
	return c;
}

static void tel_end(struct rte_tel_data *d, const char *key, struct rte_tel_data *c)
{
	char k[RTE_TEL_MAX_STRING_LEN];

	if (c && rte_tel_data_add_dict_container(d, tel_key(key, k, sizeof(k)), c, 0) < 0)
		rte_tel_data_free(c);
}

static void tel_counters(struct rte_tel_data *d, const struct counters *c, bool reasons)
{
	tel_u64(d, "rx", c->rx);
	tel_u64(d, "processed", c->processed);
	tel_u64(d, "bytes", c->bytes);
	tel_u64(d, "dropped", dropped_total(c));
	if (!reasons)
		return;
	struct rte_tel_data *dr = tel_begin(), *mal = tel_begin();
	for (unsigned r = 0; dr && r < WEIR_DROP__COUNT; r++)
		tel_u64(dr, weir_drop_name(r), c->dropped[r]);
	for (unsigned r = 1; mal && r < WEIR_PKT_MAL__COUNT; r++)
		if (c->malformed[r])
			tel_u64(mal, weir_pkt_malformed_name(r), c->malformed[r]);
	tel_end(d, "dropped_by_reason", dr);
	tel_end(d, "malformed", mal);
}

static void tel_burst(const struct pipeline *pl, struct rte_tel_data *d, int worker,
		      const char *prefix)
{
	struct weir_hist h;
	char k[64];

	burst_hist(pl, worker, &h);
	struct burst_summary b = burst_summary(pl, &h);
	const struct { const char *name; uint64_t v; } f[] = {
		{"bursts", b.count}, {"mean_ns", b.mean_ns}, {"p50_ns", b.p50_ns},
		{"p99_ns", b.p99_ns}, {"p99_9_ns", b.p999_ns}, {"max_ns", b.max_ns},
	};
	for (unsigned i = 0; i < RTE_DIM(f); i++) {
		snprintf(k, sizeof(k), "%s%s", prefix, f[i].name);
		tel_u64(d, k, f[i].v);
	}
}

/* Totals, drops by reason, burst time, per worker (and distributor), per port. */
static void tel_stats(struct pipeline *pl, struct rte_tel_data *d)
{
	struct counters total;
	char id[16];

	counters_total(pl, &total);
	tel_counters(d, &total, true);
	tel_u64(d, "windows", LOAD(pl->windows_emitted));
	tel_u64(d, "records", LOAD(pl->records_written));
	struct rte_tel_data *bt = tel_begin();
	if (bt)
		tel_burst(pl, bt, -1, "");
	tel_end(d, "burst_time", bt);
	struct rte_tel_data *ws = tel_begin();
	for (unsigned i = 0; ws && i < pl->n_workers; i++) {
		struct counters c = counters_read(&pl->workers[i].c);
		struct rte_tel_data *w = tel_begin();
		if (!w)
			break;
		tel_counters(w, &c, false);
		tel_burst(pl, w, (int)i, "burst_");
		snprintf(id, sizeof(id), "%u", i);
		tel_end(ws, id, w);
	}
	tel_end(d, "workers", ws);
	if (pl->dist) {
		struct counters c = counters_read(&pl->dist->c);
		struct rte_tel_data *w = tel_begin();
		if (w)
			tel_counters(w, &c, false);
		tel_end(d, "distributor", w);
	}
	struct rte_tel_data *ps = tel_begin();
	for (unsigned i = 0; ps && i < pl->n_ports; i++) {
		struct rte_eth_stats st;
		struct rte_tel_data *p = tel_begin();
		if (!p)
			break;
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(pl->ports[i].port_id, &st);
		tel_u64(p, "ipackets", st.ipackets);
		tel_u64(p, "imissed", st.imissed);
		tel_u64(p, "ierrors", st.ierrors);
		tel_u64(p, "rx_nombuf", st.rx_nombuf);
		tel_end(ps, pl->ports[i].name, p);
	}
	tel_end(d, "ports", ps);
}

/* A rule's counters, summed over the workers. */
static void tel_rule(struct pipeline *pl, struct rte_tel_data *d, unsigned r)
{
	tel_u64(d, "packets", RULE_SUM(pl, r, packets));
	tel_u64(d, "matches", RULE_SUM(pl, r, matches));
	tel_u64(d, "alerts", RULE_SUM(pl, r, alerts));
	tel_u64(d, "suppressed", RULE_SUM(pl, r, suppressed));
}

/* Rules shown by /weir/rules without a rule id: telemetry answers are 16 KiB at most. */
#define TEL_RULES_MAX 100

/*
 * /weir/rules: the first TEL_RULES_MAX rules' counters by id, and n_rules;
 * /weir/rules,ID: that rule (msg, action, counters).
 */
static int tel_rules(struct pipeline *pl, const char *params, struct rte_tel_data *d)
{
	const struct weir_gen *g = current_gen(pl);
	unsigned n = g ? g->n_active : 0;
	char id[16], *end;

	if (params && *params) {
		unsigned long want = strtoul(params, &end, 10);
		for (unsigned r = 0; !*end && r < n; r++) {
			const struct weir_rule *ru = GEN_RULE(g, r);
			if (ru->id != want)
				continue;
			tel_u64(d, "id", ru->id);
			tel_u64(d, "rev", ru->rev);
			rte_tel_data_add_dict_string(d, "msg", ru->msg ? ru->msg : "");
			rte_tel_data_add_dict_string(d, "action", weir_rule_action_name(ru->action));
			rte_tel_data_add_dict_string(d, "mode", weir_rule_mode_name(ru->mode));
			tel_rule(pl, d, GEN_SLOT(g, r));
			return 0;
		}
		rte_tel_data_add_dict_string(d, "error", "no such rule id (see /weir/rules)");
		return 0;
	}
	tel_u64(d, "n_rules", n);
	struct rte_tel_data *rs = tel_begin();
	for (unsigned r = 0; rs && r < n && r < TEL_RULES_MAX; r++) {
		struct rte_tel_data *o = tel_begin();
		if (!o)
			break;
		tel_rule(pl, o, GEN_SLOT(g, r));
		snprintf(id, sizeof(id), "%u", GEN_RULE(g, r)->id);
		tel_end(rs, id, o);
	}
	tel_end(d, "rules", rs);
	if (n > TEL_RULES_MAX)
		rte_tel_data_add_dict_string(d, "note",
					     "first 100 rules shown: /weir/rules,ID for others");
	return 0;
}

static void tel_queries(struct pipeline *pl, struct rte_tel_data *d)
{
	for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++) {
		if (!query_counts(pl, qi))
			continue;
		struct rte_tel_data *q = tel_begin();
		if (!q)
			break;
		for (unsigned r = 0; r < WEIR_QDROP__COUNT; r++)
			tel_u64(q, weir_qdrop_name(r), weir_window_set_qdrop(pl->win, qi, r));
		tel_u64(q, "merge_overflow", weir_window_set_merge_overflow(pl->win, qi));
		tel_end(d, weir_window_set_query(pl->win, qi)->conf.name, q);
	}
}

static void tel_status(struct pipeline *pl, struct rte_tel_data *d)
{
	rte_tel_data_add_dict_string(d, "version", WEIR_VERSION);
	tel_u64(d, "pid", (uint64_t)getpid());
	tel_u64(d, "generation", weir_gens_id(pl->gens));
	tel_u64(d, "uptime_ms", (uint64_t)(elapsed_s(pl) * 1e3));
	tel_u64(d, "workers", pl->n_workers);
	tel_u64(d, "rules", current_gen(pl) ? current_gen(pl)->n_active : 0);
	tel_u64(d, "queries", live_queries(pl));
	tel_u64(d, "stopping", *pl->stop ? 1 : 0);
	rte_tel_data_add_dict_string(d, "metrics", pl->metrics_addr);
}

static int tel_handler(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	struct pipeline *pl = tel_pl;
	if (!pl)
		rte_tel_data_add_dict_string(d, "error", "weir is not running a pipeline");
	else if (strcmp(cmd, "/weir/stats") == 0)
		tel_stats(pl, d);
	else if (strcmp(cmd, "/weir/rules") == 0)
		tel_rules(pl, params, d);
	else if (strcmp(cmd, "/weir/queries") == 0)
		tel_queries(pl, d);
	else
		tel_status(pl, d);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

/* Registered once per process (telemetry has no unregister); NULL detaches. */
static void tel_attach(struct pipeline *pl)
{
	static bool registered;

	pthread_mutex_lock(&tel_lock);
	tel_pl = pl;
	pthread_mutex_unlock(&tel_lock);
	if (!pl || registered)
		return;
	registered = true;
	rte_telemetry_register_cmd("/weir/stats", tel_handler,
		"weir totals, drops by reason, burst time, per worker and port. No parameters");
	rte_telemetry_register_cmd("/weir/rules", tel_handler,
		"weir per-rule counters (first 100). Parameter: a rule id for one rule");
	rte_telemetry_register_cmd("/weir/queries", tel_handler,
		"weir per-query counters: no_key, late, overflow, filtered, merge_overflow");
	rte_telemetry_register_cmd("/weir/status", tel_handler,
		"weir version, pid, generation, uptime, workers, rules, queries");
}

/* ---- Prometheus text endpoint (libmicrohttpd's thread) ------------------------------------ */

static void prom_counters(struct weir_text *t, const char *name, const char *help,
			  const struct pipeline *pl, size_t off)
{
	char id[16];

	weir_prom_family(t, name, "counter", help);
	for (unsigned i = 0; i < pl->n_workers; i++) {
		snprintf(id, sizeof(id), "%u", i);
		weir_prom_u64(t, name, "worker", id,
			      LOAD(*(const uint64_t *)((const char *)&pl->workers[i].c + off)));
	}
	if (pl->dist)
		weir_prom_u64(t, name, "worker", "distributor",
			      LOAD(*(const uint64_t *)((const char *)&pl->dist->c + off)));
}

/* A family read at one offset of a struct per labelled item (a port's stats, a rule's counters). */
struct prom_field {
	const char *name, *help;
	size_t off;
};

static void prom_ports(struct weir_text *t, const struct pipeline *pl)
{
	static const struct prom_field f[] = {
		{"weir_port_ipackets_total", "Packets the port received (rte_eth_stats ipackets).",
		 offsetof(struct rte_eth_stats, ipackets)},
		{"weir_port_imissed_total", "Packets the port dropped for want of rx descriptors.",
		 offsetof(struct rte_eth_stats, imissed)},
		{"weir_port_ierrors_total", "Erroneous packets the port received.",
		 offsetof(struct rte_eth_stats, ierrors)},
		{"weir_port_rx_nombuf_total", "Receive mbuf allocation failures.",
		 offsetof(struct rte_eth_stats, rx_nombuf)},
	};
	struct rte_eth_stats st[WEIR_MAX_PORTS];

	for (unsigned i = 0; i < pl->n_ports; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		rte_eth_stats_get(pl->ports[i].port_id, &st[i]);
	}
	for (unsigned k = 0; k < RTE_DIM(f); k++) {
		weir_prom_family(t, f[k].name, "counter", f[k].help);
		for (unsigned i = 0; i < pl->n_ports; i++)
			weir_prom_u64(t, f[k].name, "port", pl->ports[i].name,
				      *(const uint64_t *)((const char *)&st[i] + f[k].off));
	}
}

static void prom_rules(struct weir_text *t, struct pipeline *pl)
{
	static const struct prom_field f[] = {
		{"weir_rule_packets_total", "Packets that matched the rule.",
		 offsetof(struct weir_rule_counters, packets)},
		{"weir_rule_matches_total", "Hyperscan matches of the rule.",
		 offsetof(struct weir_rule_counters, matches)},
		{"weir_rule_alerts_total", "Alert records the rule raised.",
		 offsetof(struct weir_rule_counters, alerts)},
		{"weir_rule_suppressed_total", "Alerts over alert_limit (counted, not written).",
		 offsetof(struct weir_rule_counters, suppressed)},
	};
	const struct weir_gen *g = current_gen(pl);
	unsigned n = g ? g->n_active : 0;
	char id[16];

	for (unsigned k = 0; k < RTE_DIM(f); k++) {
		weir_prom_family(t, f[k].name, "counter", f[k].help);
		for (unsigned r = 0; r < n; r++) {
			uint64_t v = 0;
			for (unsigned w = 0; w < pl->n_workers; w++)
				v += LOAD(*(const uint64_t *)((const char *)&weir_gens_counters(
					pl->gens, w)[GEN_SLOT(g, r)] + f[k].off));
			snprintf(id, sizeof(id), "%u", GEN_RULE(g, r)->id);
			weir_prom_u64(t, f[k].name, "rule", id, v);
		}
	}
}

static void prom_queries(struct weir_text *t, struct pipeline *pl)
{
	char name[64], help[128];

	for (unsigned r = 0; r <= WEIR_QDROP__COUNT; r++) {
		const char *what = r < WEIR_QDROP__COUNT ? weir_qdrop_name(r) : "merge_overflow";
		snprintf(name, sizeof(name), "weir_query_%s_total", what);
		snprintf(help, sizeof(help), "Packets (merge_overflow: keys) the query counted as %s.",
			 what);
		weir_prom_family(t, name, "counter", help);
		for (unsigned qi = 0; qi < weir_window_set_n_queries(pl->win); qi++) {
			if (!query_counts(pl, qi))
				continue;
			uint64_t v = r < WEIR_QDROP__COUNT ? weir_window_set_qdrop(pl->win, qi, r)
							   : weir_window_set_merge_overflow(pl->win, qi);
			weir_prom_u64(t, name, "query", weir_window_set_query(pl->win, qi)->conf.name, v);
		}
	}
}

/* GET /metrics: every counter as it stands. */
static void prom_render_locked(struct pipeline *pl, struct weir_text *t)
{
	struct counters total;
	char id[16];

	counters_total(pl, &total);
	weir_prom_family(t, "weir_build_info", "gauge", "weir's version (value 1).");
	weir_prom_u64(t, "weir_build_info", "version", WEIR_VERSION, 1);
	weir_prom_family(t, "weir_generation", "gauge", "Generation of rules and queries running.");
	weir_prom_u64(t, "weir_generation", NULL, NULL, weir_gens_id(pl->gens));
	weir_prom_family(t, "weir_uptime_seconds", "gauge", "Seconds since the lcores started.");
	weir_prom_double(t, "weir_uptime_seconds", NULL, NULL, elapsed_s(pl));
	prom_counters(t, "weir_rx_packets_total", "Packets received from ports, per polling lcore.",
		      pl, offsetof(struct counters, rx));
	prom_counters(t, "weir_processed_packets_total", "Packets that went through every stage.",
		      pl, offsetof(struct counters, processed));
	prom_counters(t, "weir_processed_bytes_total", "Captured bytes of processed packets.", pl,
		      offsetof(struct counters, bytes));
	weir_prom_family(t, "weir_dropped_packets_total", "counter",
			 "Packets received and dropped, by reason (rx = processed + dropped).");
	for (unsigned r = 0; r < WEIR_DROP__COUNT; r++)
		weir_prom_u64(t, "weir_dropped_packets_total", "reason", weir_drop_name(r),
			      total.dropped[r]);
	weir_prom_family(t, "weir_malformed_packets_total", "counter",
			 "Malformed packets by reason (counted, still processed).");
	for (unsigned r = 1; r < WEIR_PKT_MAL__COUNT; r++)
		weir_prom_u64(t, "weir_malformed_packets_total", "reason", weir_pkt_malformed_name(r),
			      total.malformed[r]);
	weir_prom_family(t, "weir_windows_emitted_total", "counter", "Window results written.");
	weir_prom_u64(t, "weir_windows_emitted_total", NULL, NULL, LOAD(pl->windows_emitted));
	prom_ports(t, pl);
	prom_rules(t, pl);
	prom_queries(t, pl);
	weir_prom_family(t, "weir_burst_seconds", "histogram",
			 "Time a worker spends on one rx burst (parse .. window update), log2 buckets.");
	for (unsigned i = 0; i < pl->n_workers; i++) {
		struct weir_hist h;
		burst_hist(pl, (int)i, &h);
		snprintf(id, sizeof(id), "%u", i);
		weir_prom_hist(t, "weir_burst_seconds", "worker", id, &h, pl->tsc_hz);
	}
}

/* GET /metrics on libmicrohttpd's thread: the generation it reads is held still by tel_lock. */
static void prom_render(void *ctx, struct weir_text *t)
{
	pthread_mutex_lock(&tel_lock);
	prom_render_locked(ctx, t);
	pthread_mutex_unlock(&tel_lock);
}

static int metrics_open(struct pipeline *pl, char *err, size_t errlen)
{
	pl->metrics = weir_metrics_start(&pl->cfg->metrics, prom_render, pl, pl->metrics_addr,
					 sizeof(pl->metrics_addr), err, errlen);
	return pl->metrics ? 0 : -1;
}

static void pipeline_free(struct pipeline *pl)
{
	tel_attach(NULL);              /* no telemetry or HTTP reader left before anything goes */
	weir_metrics_stop(pl->metrics);
	for (unsigned i = 0; i < pl->n_ports; i++)
		weir_port_close(&pl->ports[i]);
	if (pl->workers)
		for (unsigned i = 0; i < pl->n_workers; i++) {
			rte_ring_free(pl->workers[i].ring);
			rte_ring_free(pl->workers[i].tx_ring);
			weir_inspect_free(pl->workers[i].inspect);
			rte_ring_free(pl->workers[i].records);
		}
	weir_checkpoints_free(pl);    /* the checkpoint being written is finished first */
	weir_gens_free(pl->gens);
	weir_qctl_free(pl->qctl);
	weir_json_free(&pl->rec_json);
	rte_free(pl->workers);
	rte_free(pl->dist);
	weir_window_set_free(pl->win);
	weir_annotate_free(pl->ann);
	weir_ctl_close(pl->ctl);
	free(pl);
}

static void clock_init(struct pipeline *pl)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pl->tsc_hz = rte_get_tsc_hz();
	pl->tsc0 = rte_rdtsc();
	pl->wall0 = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int weir_run(const struct weir_config *cfg, volatile sig_atomic_t *stop)
{
	struct pipeline *pl = calloc(1, sizeof(*pl));
	char err[512];
	int status = 1;

	if (!pl) {
		fprintf(stderr, "weir: out of memory\n");
		return 1;
	}
	pl->cfg = cfg;
	pl->stop = stop;
	weir_json_init(&pl->rec_json);
	pl->delay = cfg->watermark_delay_ns;
	clock_init(pl);
	if (cfg->n_ports == 0) {
		fprintf(stderr, "weir: no ports: give --pcap FILE, --port DEVARGS or ports: in the config\n");
		status = 2;
		goto out;
	}
	if (weir_ts_register(err, sizeof(err)) < 0)
		goto fail;
	if (open_ports(pl, err, sizeof(err)) < 0) {
		status = 2;
		goto fail;
	}
	if (weir_annotate_wanted(cfg)) {
		pl->ann = weir_annotate_create(cfg, cfg->workers, err, sizeof(err));
		if (!pl->ann) {
			status = 2;
			goto fail;
		}
	}
	pl->win = weir_window_set_create(cfg, cfg->workers, err, sizeof(err));
	if (!pl->win || create_generations(pl, err, sizeof(err)) < 0) {
		status = 2;
		goto fail;
	}
	if (create_workers(pl, err, sizeof(err)) < 0)
		goto fail;
	if (weir_checkpoints_open(pl, err, sizeof(err)) < 0) {
		status = 2;
		goto fail;
	}
	/* Only now, with everything validated, is the output created. */
	if (cfg->control_socket[0] && ctl_open(pl, err, sizeof(err)) < 0) {
		status = 2;
		goto fail;
	}
	if (cfg->metrics.listen[0] && metrics_open(pl, err, sizeof(err)) < 0) {
		status = 2;
		goto fail;
	}
	pl->out = weir_out_open(cfg->out, cfg->summary ? cfg->summary_top : 0,
				weir_checkpoints_out_offset(pl), err, sizeof(err));
	if (pl->out && weir_checkpoints_resume(pl, err, sizeof(err)) < 0) {
		status = 2;
		goto fail;
	}
	if (!pl->out || launch(pl, err, sizeof(err)) < 0)
		goto fail;
	weir_out_set_names(pl->out, weir_annotate_name, pl->ann);
	pl->tsc_start = rte_rdtsc();
	tel_attach(pl);
	struct sigaction hup = {.sa_handler = on_hup};
	sigaction(SIGHUP, &hup, NULL);
	merge_until_done(pl);
	signal(SIGHUP, SIG_DFL);
	write_stats(pl);
	weir_ctl_close(pl->ctl);
	pl->ctl = NULL;
	status = 0;
	if (weir_out_close(pl->out, err, sizeof(err)) < 0) {
		pl->out = NULL;
		goto fail;
	}
	pl->out = NULL;
	goto out;
fail:
	fprintf(stderr, "weir: %s\n", err);
	if (status == 0)
		status = 1;
out:
	if (pl->out)
		weir_out_close(pl->out, err, sizeof(err));
	pipeline_free(pl);
	return status;
}
