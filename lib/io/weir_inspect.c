/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Inspection stage: flows, block and stream matching, alerts.
 *
 * Per burst: (1) flow lookup for the whole burst (weir_flow prefetches);
 * (2) per packet with payload: a block scan against the packet-mode rules
 * of its scope, and for flows a stream scan of the bytes that are now in
 * order (TCP through weir_flow's segment ordering, other protocols packet by
 * packet); (3) the union of the rules matched goes to the window stage, and
 * every alert-action rule to the main lcore as an alert record, at most
 * alert_limit per rule and flow.
 *
 * Payload definition: the analysis layer's L4 payload (TCP, UDP, SCTP,
 * ICMP...) as weir_pkt_parse found it: behind any VLAN/QinQ/MPLS/PPPoE
 * stack, IPv4 options and IPv6 extension headers walked, clamped to the
 * captured bytes and the IP length; non-first fragments have no payload.
 * With analysis_layer: inner, the payload of the innermost tunnelled packet.
 */
#include <stdio.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "weir_gen.h"
#include "weir_inspect.h"

#define NO_STREAM ((void *)1) /* direction has no stream rule (or no state left) */
#define LIMIT_SLOTS 65536     /* (flow, rule) alert counters per worker */
#define PAYLOAD_MAX 65536

const char *weir_inspect_counter_name(enum weir_inspect_counter c)
{
	static const char *const names[] = {
#define WEIR_X(e, s) [WEIR_INSPECT_##e] = s,
		WEIR_INSPECT_COUNTER_LIST(WEIR_X)
#undef WEIR_X
	};
	return c < WEIR_INSPECT__COUNT ? names[c] : "?";
}

/*
 * Alerts sent per (flow, rule): buckets of 4 slots (one cache line). A pair
 * missing from its full bucket takes the slot of the oldest flow there
 * (flow ids grow), most likely one that has ended; the limit is exact until
 * more than 4 live pairs share a bucket.
 */
#define LIMIT_WAYS 4
struct limit_slot {
	uint64_t flow_id;
	uint32_t rule;
	uint32_t count;           /* 0: free */
};

/*
 * A flow direction's streams: one per database of the generation (base,
 * delta), each tagged with the database it was opened on. A tag that is not
 * the current database's is a stream of a retired one, whose state memory
 * went with it: the direction starts a fresh stream there.
 */
struct stream_slot {
	struct weir_match_stream s[WEIR_GEN_DBS];
	uint32_t serial[WEIR_GEN_DBS];
};

struct weir_inspect {
	const struct weir_config *cfg;
	const struct weir_gen *g;          /* this burst's generation; NULL: no rules */
	struct weir_flow_table *flows;
	struct rte_ring *records;
	unsigned worker;
	bool matching;                     /* rules configured (a generation may come) */
	bool drop_hit;                     /* the packet being inspected matched a drop rule */
	/* stream slots per flow direction: a preallocated stack */
	struct stream_slot *streams;
	uint32_t *stream_free;
	uint32_t n_stream_free;
	struct limit_slot *limits;
	struct limit_slot *limits_copy;    /* checkpoints: the limits at the last barrier */
	struct weir_rule_counters *rc;     /* per rule (dense index) */
	uint64_t cnt[WEIR_INSPECT__COUNT];
	uint8_t payload[PAYLOAD_MAX];      /* chained frames are linearised here */
	struct weir_tcp_delivery delivery;
};

/* Do queries use what flows tell: flow_id, direction, the flow.new predicate? */
static bool queries_need_flows(const struct weir_config *cfg)
{
	for (unsigned q = 0; q < cfg->n_queries; q++) {
		const struct weir_query_conf *c = &cfg->queries[q];
		if (strstr(c->filter, "flow.new") || weir_query_uses_field(c, WEIR_FIELD_FLOW_ID) ||
		    weir_query_uses_field(c, WEIR_FIELD_DIRECTION))
			return true;
	}
	return false;
}

bool weir_inspect_flows_wanted(const struct weir_config *cfg)
{
	return cfg->flows.mode == WEIR_FLOWS_ON ||
	       (cfg->flows.mode == WEIR_FLOWS_AUTO &&
		(cfg->n_rules > 0 || cfg->flows.records || queries_need_flows(cfg)));
}

bool weir_inspect_wanted(const struct weir_config *cfg)
{
	return cfg->n_rules > 0 || weir_inspect_flows_wanted(cfg);
}

/* ---- records to the main lcore ---------------------------------------------------- */

static void send_record(struct weir_inspect *in, struct weir_record *r, enum weir_inspect_counter lost)
{
	r->worker = in->worker;
	if (rte_ring_sp_enqueue_elem(in->records, r, sizeof(*r)) != 0)
		in->cnt[lost]++;
}

static void fill_tuple(struct weir_alert_rec *a, const struct weir_pkt *p)
{
	a->ip_version = p->ip_version;
	a->proto = p->l4_proto;
	a->src_port = (p->flags & WEIR_PKT_F_PORTS) ? p->src_port : 0;
	a->dst_port = (p->flags & WEIR_PKT_F_PORTS) ? p->dst_port : 0;
	memcpy(a->src_ip, p->src_ip, 16);
	memcpy(a->dst_ip, p->dst_ip, 16);
}

static bool under_limit(struct weir_inspect *in, uint64_t flow_id, uint32_t rule)
{
	uint32_t limit = in->cfg->alert_limit;

	if (!limit)
		return true;
	/* CRC is linear (crc(f, r) collides for every f ^ r alike): mix instead */
	uint64_t x = (flow_id ^ (uint64_t)rule << 40) * 0x9e3779b97f4a7c15ull;
	uint32_t b = (uint32_t)(x >> 32) & (LIMIT_SLOTS / LIMIT_WAYS - 1);
	struct limit_slot *s = &in->limits[b * LIMIT_WAYS], *victim = s;
	for (unsigned i = 0; i < LIMIT_WAYS; i++) {
		if (s[i].count && s[i].flow_id == flow_id && s[i].rule == rule)
			return ++s[i].count <= limit;
		if (!s[i].count || (victim->count && s[i].flow_id < victim->flow_id))
			victim = &s[i];
	}
	*victim = (struct limit_slot){flow_id, rule, 1};
	return 1 <= limit;
}

/* One matched rule (database db, counter slot) of one packet: counters, alert (rate limited). */
static void on_hit(struct weir_inspect *in, unsigned db, uint32_t slot, const struct weir_match_hit *h,
		   const struct weir_pkt *p, uint64_t ts, const struct weir_flow *f, unsigned dir,
		   bool stream)
{
	const struct weir_rule *r = weir_gen_rule(in->g, db, h->rule);
	struct weir_rule_counters *c = &in->rc[slot];

	c->matches += h->matches;
	if (r->action == WEIR_ACTION_DROP)
		in->drop_hit = true;
	if (r->action != WEIR_ACTION_ALERT && r->action != WEIR_ACTION_DROP)
		return;
	if (!under_limit(in, f ? f->id : 0, h->id)) {
		c->suppressed++;
		return;
	}
	struct weir_record rec = {.kind = WEIR_REC_ALERT};
	struct weir_alert_rec *a = &rec.alert;
	a->ts = ts;
	a->flow_id = f ? f->id : 0;
	a->rule_idx = h->rule;
	a->generation = in->g->id;
	a->db = (uint8_t)db;
	a->matches = h->matches;
	a->to_server = f ? (uint8_t)weir_flow_to_server(f, dir) : 2;
	a->stream = stream;
	if (p)
		fill_tuple(a, p);
	c->alerts++;
	send_record(in, &rec, WEIR_INSPECT_ALERTS_LOST);
}

/* ---- flows ending ------------------------------------------------------------------- */

/* The database's stream of the slot: opened (or reopened after a swap) on first use; NULL if none. */
static struct weir_match_stream *slot_stream(struct weir_inspect *in, struct stream_slot *sl,
					     unsigned k, const struct weir_match_pkt *mp)
{
	const struct weir_rdb *db = in->g->db[k];

	if (!db || !db->stream_rules)
		return NULL;
	if (sl->serial[k] != db->serial) {
		memset(&sl->s[k], 0, sizeof(sl->s[k]));
		sl->serial[k] = db->serial;
		if (weir_match_stream_open(db->mw[in->worker], mp, &sl->s[k]) < 0)
			in->cnt[WEIR_INSPECT_NO_STREAM]++;
	}
	return sl->s[k].open ? &sl->s[k] : NULL;
}

static void close_stream(struct weir_inspect *in, struct weir_flow *f, unsigned dir)
{
	struct stream_slot *sl = f->stream[dir];
	struct weir_match_result res;

	if (!sl || sl == NO_STREAM)
		return;
	struct weir_match_pkt mp = {.l4_proto = f->key.proto};
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++) {
		const struct weir_rdb *db = in->g->db[k];
		if (!db || sl->serial[k] != db->serial || !sl->s[k].open)
			continue; /* a retired database's stream: its memory went with it */
		if (weir_match_stream_close(db->mw[in->worker], &sl->s[k], &mp, &res) > 0)
			for (unsigned i = 0; i < res.n_hits; i++)
				if (in->g->slot[k][res.hit[i].rule] != WEIR_GEN_OFF)
					on_hit(in, k, in->g->slot[k][res.hit[i].rule], &res.hit[i], NULL,
					       f->last_ts, f, dir, true);
	}
	memset(sl, 0, sizeof(*sl));
	in->stream_free[in->n_stream_free++] = (uint32_t)(sl - in->streams);
	f->stream[dir] = NULL;
}

static void on_flow_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
			enum weir_flow_end reason)
{
	struct weir_inspect *in = ctx;

	(void)t;
	for (unsigned dir = 0; dir < 2; dir++)
		close_stream(in, f, dir);
	if (!in->cfg->flows.records)
		return;
	struct weir_record rec = {.kind = WEIR_REC_FLOW};
	weir_flow_describe(f, &rec.flow.info);
	rec.flow.end = (uint8_t)reason;
	send_record(in, &rec, WEIR_INSPECT_FLOWS_LOST);
}

/* ---- scanning ------------------------------------------------------------------------ */

static const uint8_t *payload_of(struct weir_inspect *in, struct rte_mbuf *m, const struct weir_pkt *p)
{
	if (likely(rte_pktmbuf_data_len(m) >= (uint32_t)p->payload_off + p->payload_len))
		return rte_pktmbuf_mtod_offset(m, const uint8_t *, p->payload_off);
	uint32_t len = RTE_MIN(p->payload_len, (uint32_t)PAYLOAD_MAX);
	return rte_pktmbuf_read(m, p->payload_off, len, in->payload);
}

/* state: the flow's state right after this packet (the flow may have moved on in the burst). */
static uint8_t flow_flags(const struct weir_flow *f, unsigned dir, uint8_t state)
{
	if (!f)
		return 0;
	return WEIR_MATCH_F_FLOW |
	       (weir_flow_to_server(f, dir) ? WEIR_MATCH_F_TO_SERVER : WEIR_MATCH_F_TO_CLIENT) |
	       (state == WEIR_FLOW_ESTABLISHED ? WEIR_MATCH_F_ESTABLISHED : 0);
}

/* The direction's streams, opened on its first payload; NULL when no stream rule applies. */
static struct stream_slot *stream_of(struct weir_inspect *in, struct weir_flow *f, unsigned dir,
				     const struct weir_match_pkt *mp)
{
	if (f->stream[dir])
		return f->stream[dir] == NO_STREAM ? NULL : f->stream[dir];
	if (!in->n_stream_free) {
		in->cnt[WEIR_INSPECT_NO_STREAM]++;
		f->stream[dir] = NO_STREAM;
		return NULL;
	}
	struct stream_slot *sl = &in->streams[in->stream_free[in->n_stream_free - 1]];
	bool any = false;
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++)
		any |= slot_stream(in, sl, k, mp) != NULL;
	if (!any) {
		memset(sl, 0, sizeof(*sl));
		f->stream[dir] = NO_STREAM;
		return NULL;
	}
	in->n_stream_free--;
	f->stream[dir] = sl;
	return sl;
}

/*
 * Add the rules res (of database db) reports to the packet's list (distinct),
 * counting each once per packet; rules the generation removed are ignored.
 */
static void collect(struct weir_inspect *in, unsigned db, const struct weir_match_result *res,
		    const struct weir_pkt *p, uint64_t ts, const struct weir_flow *f, unsigned dir,
		    bool stream, struct weir_burst_rules *out, unsigned first)
{
	in->cnt[WEIR_INSPECT_HITS_DROPPED] += res->hits_dropped;
	in->cnt[WEIR_INSPECT_CONFIRM_ERRORS] += res->confirm_errors;
	for (unsigned h = 0; h < res->n_hits; h++) {
		const struct weir_match_hit *hit = &res->hit[h];
		uint32_t slot = in->g->slot[db][hit->rule];
		bool seen = false;
		if (slot == WEIR_GEN_OFF)
			continue;
		for (unsigned k = first; k < out->n && !seen; k++)
			seen = out->ids[k] == hit->id;
		on_hit(in, db, slot, hit, p, ts, f, dir, stream);
		if (seen)
			continue;
		in->rc[slot].packets++;
		if (out->n < WEIR_BURST_RULES_MAX) {
			out->sev[out->n] = weir_gen_rule(in->g, db, hit->rule)->severity;
			out->ids[out->n++] = hit->id;
		} else
			in->cnt[WEIR_INSPECT_HITS_DROPPED]++;
	}
}

/* The next bytes of a direction's streams, one per database. */
static void stream_bytes(struct weir_inspect *in, struct stream_slot *sl, struct weir_flow *f,
			 unsigned dir, const struct weir_match_pkt *mp, const struct weir_pkt *p,
			 const uint8_t *data, uint32_t len, uint64_t ts, struct weir_burst_rules *out,
			 unsigned first)
{
	struct weir_match_result res;

	in->cnt[WEIR_INSPECT_STREAM_BYTES] += len;
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++) {
		struct weir_match_stream *s = slot_stream(in, sl, k, mp);
		if (!s)
			continue;
		if (weir_match_stream_scan(in->g->db[k]->mw[in->worker], s, mp, data, len, &res) < 0)
			in->cnt[WEIR_INSPECT_SCAN_ERRORS]++;
		else
			collect(in, k, &res, p, ts, f, dir, true, out, first);
	}
}

static void scan_stream(struct weir_inspect *in, struct weir_flow *f, unsigned dir,
			const struct weir_match_pkt *mp, const struct weir_pkt *p,
			const uint8_t *frame, const uint8_t *data, uint64_t ts,
			struct weir_burst_rules *out, unsigned first)
{
	struct stream_slot *sl = stream_of(in, f, dir, mp);

	if (!sl)
		return;
	if (p->l4_proto != 6) {
		stream_bytes(in, sl, f, dir, mp, p, data, p->payload_len, ts, out, first);
		return;
	}
	/* TCP: only the bytes now in order, each byte once. */
	struct weir_tcp_delivery *d = &in->delivery;
	weir_flow_tcp_segment(in->flows, f, dir, weir_flow_tcp_seq(frame, p), p->tcp_flags, data,
			      p->payload_len, d);
	for (unsigned i = 0; i < d->n; i++)
		stream_bytes(in, sl, f, dir, mp, p, d->r[i].data, d->r[i].len, ts, out, first);
}

static void inspect_one(struct weir_inspect *in, struct rte_mbuf *m, const struct weir_pkt *p,
			uint64_t ts, struct weir_flow *f, unsigned dir, uint8_t state,
			struct weir_burst_rules *out)
{
	unsigned first = out->n;
	struct weir_match_result res;

	if (!in->g || !in->g->rules)
		return;
	if (!p->payload_len || !p->payload_off) {
		/* A SYN anchors the direction's sequence, so data arriving out of order
		 * right after the handshake is held rather than taken as the start. */
		if (f && in->g->stream_rules && p->l4_proto == 6 && (p->tcp_flags & 0x02) &&
		    (p->flags & WEIR_PKT_F_L4))
			weir_flow_tcp_segment(in->flows, f, dir,
					      weir_flow_tcp_seq(rte_pktmbuf_mtod(m, const uint8_t *), p),
					      p->tcp_flags, NULL, 0, &in->delivery);
		return;
	}
	const uint8_t *data = payload_of(in, m, p);
	struct weir_match_pkt mp = weir_match_pkt_of(p, flow_flags(f, dir, state));
	in->cnt[WEIR_INSPECT_SCANNED]++;
	in->cnt[WEIR_INSPECT_SCANNED_BYTES] += p->payload_len;
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++) {
		if (!in->g->db[k])
			continue;
		if (weir_match_scan(in->g->db[k]->mw[in->worker], &mp, data, p->payload_len, &res) < 0)
			in->cnt[WEIR_INSPECT_SCAN_ERRORS]++;
		else
			collect(in, k, &res, p, ts, f, dir, false, out, first);
	}
	/* Stream ordering needs the whole TCP segment in one piece. */
	if (f && in->g->stream_rules && (p->payload_len <= PAYLOAD_MAX || p->l4_proto != 6))
		scan_stream(in, f, dir, &mp, p, rte_pktmbuf_mtod(m, const uint8_t *), data, ts, out,
			    first);
}

void weir_inspect_burst(struct weir_inspect *in, const struct weir_gen *g, struct rte_mbuf **m,
			const struct weir_pkt *const *pkts, const uint64_t *ts, unsigned n,
			struct weir_burst_rules *rules, struct weir_flow_notes *fi)
{
	struct weir_flow *flows[WEIR_BURST_MAX];
	uint8_t dir[WEIR_BURST_MAX], state[WEIR_BURST_MAX];

	in->g = g;

	if (in->flows) {
		weir_flow_lookup_burst(in->flows, pkts, ts, n, flows, dir, state);
		for (unsigned i = 0; i < n; i++) {
			struct weir_flow *f = flows[i];
			fi->id[i] = f ? f->id : 0;
			fi->direction[i] = !f ? WEIR_PKT_DIR_NONE
				: weir_flow_to_server(f, dir[i]) ? WEIR_PKT_DIR_TO_SERVER : WEIR_PKT_DIR_TO_CLIENT;
			fi->is_new[i] = f ? (uint8_t)weir_flow_take_new(f) : 0;
		}
	}
	rules->n = 0;
	for (unsigned i = 0; i < n; i++) {
		struct weir_flow *f = in->flows ? flows[i] : NULL;
		rules->off[i] = (uint16_t)rules->n;
		in->drop_hit = false;
		inspect_one(in, m[i], pkts[i], ts[i], f, in->flows ? dir[i] : 0,
			    in->flows ? state[i] : 0, rules);
		/* like Suricata's IPS: once a drop rule matched, the flow's later packets go too */
		if (f && in->drop_hit)
			f->flags |= WEIR_FLOW_F_DROP;
		rules->drop[i] = in->drop_hit || (f && (f->flags & WEIR_FLOW_F_DROP));
	}
	rules->off[n] = (uint16_t)rules->n;
}

void weir_inspect_expire(struct weir_inspect *in, const struct weir_gen *g, uint64_t now)
{
	in->g = g;
	if (in->flows)
		weir_flow_expire(in->flows, now, 64, on_flow_end, in);
}

void weir_inspect_flush(struct weir_inspect *in, const struct weir_gen *g, uint64_t now)
{
	in->g = g;
	if (in->flows)
		weir_flow_flush_at(in->flows, now, on_flow_end, in);
}

/* ---- set-up ---------------------------------------------------------------------------- */

static int create_flows(struct weir_inspect *in, char *err, size_t errlen)
{
	const struct weir_flows_conf *fc = &in->cfg->flows;
	struct weir_flow_conf c;

	weir_flow_conf_default(&c);
	c.capacity = fc->capacity;
	for (unsigned k = 0; k < WEIR_FT__COUNT && k < WEIR_FLOW_TO__COUNT; k++)
		c.timeout_ns[k] = fc->timeout_ns[k];
	if (fc->ooo_slots)
		c.ooo_slots = fc->ooo_slots;
	c.worker = (uint16_t)in->worker;
	c.on_end = on_flow_end;
	c.on_end_ctx = in;
	in->flows = weir_flow_table_create(&c, err, errlen);
	return in->flows ? 0 : -1;
}

/* Stream slots exist whenever flows do: a later generation may bring stream rules. */
static int create_matching(struct weir_inspect *in, char *err, size_t errlen)
{
	uint32_t n = in->flows ? in->cfg->flows.streams : 0;

	in->limits = rte_zmalloc("weir_limits", sizeof(*in->limits) * LIMIT_SLOTS, 64);
	if (n) {
		in->streams = rte_zmalloc("weir_streams", sizeof(*in->streams) * n, 64);
		in->stream_free = rte_malloc("weir_stream_free", sizeof(*in->stream_free) * n, 64);
	}
	if (!in->limits || (n && (!in->streams || !in->stream_free))) {
		snprintf(err, errlen, "cannot allocate matching state");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		in->stream_free[i] = n - 1 - i;
	in->n_stream_free = n;
	return 0;
}

struct weir_inspect *weir_inspect_create(const struct weir_config *cfg, unsigned worker,
					 struct rte_ring *records, struct weir_rule_counters *rc,
					 char *err, size_t errlen)
{
	struct weir_inspect *in = rte_zmalloc("weir_inspect", sizeof(*in), 64);

	if (!in) {
		snprintf(err, errlen, "cannot allocate the inspection stage");
		return NULL;
	}
	in->cfg = cfg;
	in->rc = rc;
	in->matching = rc != NULL;
	in->worker = worker;
	in->records = records;
	if ((weir_inspect_flows_wanted(cfg) && create_flows(in, err, errlen) < 0) ||
	    (in->matching && create_matching(in, err, errlen) < 0)) {
		weir_inspect_free(in);
		return NULL;
	}
	return in;
}

void weir_inspect_free(struct weir_inspect *in)
{
	if (!in)
		return;
	weir_flow_table_free(in->flows);
	rte_free(in->limits);
	rte_free(in->streams);
	rte_free(in->stream_free);
	rte_free(in);
}

uint64_t weir_inspect_counter(const struct weir_inspect *in, enum weir_inspect_counter c)
{
	return __atomic_load_n(&in->cnt[c], __ATOMIC_RELAXED); /* read while the worker counts */
}

/*
 * The flow table's snapshot, then the (flow, rule) alert counters as they
 * are in memory (LIMIT_SLOTS slots: without them a restored flow would
 * alert again up to alert_limit).
 */
#define LIMITS_BYTES (LIMIT_SLOTS * sizeof(struct limit_slot))

int weir_inspect_ckpt_enable(struct weir_inspect *in, char *err, size_t errlen)
{
	if (!in->flows)
		return 0;
	in->limits_copy = rte_zmalloc("weir_limits_copy", LIMITS_BYTES, RTE_CACHE_LINE_SIZE);
	if (!in->limits_copy) {
		snprintf(err, errlen, "cannot allocate the alert counters' checkpoint copy");
		return -1;
	}
	return weir_flow_cow_enable(in->flows, err, errlen) < 0 ? -1 : 1;
}

void weir_inspect_ckpt_begin(struct weir_inspect *in)
{
	weir_flow_cow_begin(in->flows);
	if (in->limits) /* none without rules */
		memcpy(in->limits_copy, in->limits, LIMITS_BYTES);
}

bool weir_inspect_ckpt_step(struct weir_inspect *in, unsigned budget)
{
	return weir_flow_cow_step(in->flows, budget);
}

size_t weir_inspect_ckpt_size(const struct weir_inspect *in)
{
	return weir_flow_cow_snapshot_size(in->flows) + LIMITS_BYTES;
}

size_t weir_inspect_ckpt_write(const struct weir_inspect *in, void *buf, size_t len)
{
	size_t n = len >= LIMITS_BYTES ? weir_flow_cow_snapshot(in->flows, buf, len - LIMITS_BYTES) : 0;

	if (!n)
		return 0;
	memcpy((uint8_t *)buf + n, in->limits_copy, LIMITS_BYTES);
	return n + LIMITS_BYTES;
}

int weir_inspect_flows_restore(struct weir_inspect *in, const void *buf, size_t len, char *err,
			       size_t errlen)
{
	if (!in->flows) {
		snprintf(err, errlen, "flow tracking is off in this run");
		return -1;
	}
	if (len < LIMITS_BYTES) {
		snprintf(err, errlen, "flow state of %zu bytes: too short", len);
		return -1;
	}
	if (weir_flow_table_restore(in->flows, buf, len - LIMITS_BYTES, err, errlen) < 0)
		return -1;
	if (in->limits)
		memcpy(in->limits, (const uint8_t *)buf + len - LIMITS_BYTES, LIMITS_BYTES);
	return 0;
}

const struct weir_flow_table *weir_inspect_flows(const struct weir_inspect *in)
{
	return in->flows;
}
