/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Group-by keys: each query's fields are packed into a fixed 48-byte key at
 * offsets computed once per query, so extraction is a short switch per field
 * and comparison is a few 64-bit word compares.
 */
#include <stdio.h>
#include <string.h>


#include <rte_common.h>

#include "weir_field.h"
#include "weir_sketch.h"
#include "weir_window.h"

static const uint8_t field_size[] = {
#define WEIR_X(e, s, n) [WEIR_FIELD_##e] = n,
	WEIR_FIELD_LIST(WEIR_X)
#undef WEIR_X
};

static bool field_is_ip(enum weir_field f)
{
	return f == WEIR_FIELD_SRC_IP || f == WEIR_FIELD_DST_IP;
}


/* Inline words an aggregate takes (0: it lives in the blob). */
static unsigned agg_words(enum weir_agg k)
{
	switch (k) {
	case WEIR_AGG_AVG: return 2;
	case WEIR_AGG_FLAG_COUNTS: return 8;
	case WEIR_AGG_DISTINCT: case WEIR_AGG_TOPK: case WEIR_AGG_QUANTILES: return 0;
	default: return 1;
	}
}

static void add_slot(struct weir_query *q, enum weir_agg kind, enum weir_field field,
		     unsigned param)
{
	struct weir_agg_slot *s = &q->slot[q->n_slots++];

	s->kind = (uint8_t)kind;
	s->field = (uint8_t)field;
	s->word = (uint16_t)q->agg_words;
	q->agg_words += agg_words(kind);
	s->blob_off = q->blob_bytes;
	switch (kind) {
	case WEIR_AGG_DISTINCT:
		s->param = param ? param : WEIR_HLL_P_DEFAULT;
		q->blob_bytes += (uint32_t)weir_hll_bytes(s->param);
		break;
	case WEIR_AGG_TOPK:
		s->param = weir_topk_counters(param);
		q->blob_bytes += (uint32_t)weir_topk_bytes(s->param);
		break;
	case WEIR_AGG_QUANTILES:
		q->blob_bytes += (uint32_t)weir_quant_bytes();
		break;
	default:
		break;
	}
	q->blob_bytes = (q->blob_bytes + 7) & ~7u;
	if (kind == WEIR_AGG_FIRST_TS && q->first_slot < 0)
		q->first_slot = (int8_t)(q->n_slots - 1);
	if (kind == WEIR_AGG_LAST_TS && q->last_slot < 0)
		q->last_slot = (int8_t)(q->n_slots - 1);
}

static void compile_aggs(struct weir_query *q, const struct weir_query_conf *c)
{
	q->first_slot = q->last_slot = -1;
	for (unsigned i = 0; i < c->n_aggs; i++)
		add_slot(q, c->aggs[i].kind, c->aggs[i].field, c->aggs[i].param);
	/* Sessions are assembled from each key's first and last packet per pane. */
	if (c->window == WEIR_WINDOW_SESSION) {
		if (q->first_slot < 0)
			add_slot(q, WEIR_AGG_FIRST_TS, WEIR_FIELD_SRC_IP, 0);
		if (q->last_slot < 0)
			add_slot(q, WEIR_AGG_LAST_TS, WEIR_FIELD_SRC_IP, 0);
	}
}

/* How the data path applies slot s: an inline-word op, or false (done per slot). */
static bool word_op_of(const struct weir_agg_slot *s, struct weir_word_op *op)
{
	static const struct { uint8_t op, src; } ops[WEIR_AGG__COUNT] = {
		[WEIR_AGG_PACKETS] = {WEIR_WOP_ADD, WEIR_WSRC_ONE},
		[WEIR_AGG_BYTES] = {WEIR_WOP_ADD, WEIR_WSRC_LEN},
		[WEIR_AGG_IP_BYTES] = {WEIR_WOP_ADD, WEIR_WSRC_IP_BYTES},
		[WEIR_AGG_PAYLOAD_BYTES] = {WEIR_WOP_ADD, WEIR_WSRC_PAYLOAD},
		[WEIR_AGG_SUM] = {WEIR_WOP_ADD, WEIR_WSRC_FIELD},
		[WEIR_AGG_MIN] = {WEIR_WOP_MIN, WEIR_WSRC_FIELD},
		[WEIR_AGG_MAX] = {WEIR_WOP_MAXP1, WEIR_WSRC_FIELD},
		[WEIR_AGG_AVG] = {WEIR_WOP_AVG, WEIR_WSRC_FIELD},
		[WEIR_AGG_FIRST_TS] = {WEIR_WOP_MIN, WEIR_WSRC_TS},
		[WEIR_AGG_LAST_TS] = {WEIR_WOP_MAX, WEIR_WSRC_TS},
	};
	switch ((enum weir_agg)s->kind) {
	case WEIR_AGG_DISTINCT: case WEIR_AGG_TOPK: case WEIR_AGG_QUANTILES: case WEIR_AGG_FLAG_COUNTS:
		return false;
	default:
		*op = (struct weir_word_op){s->word, ops[s->kind].op, ops[s->kind].src, s->field};
		return true;
	}
}

/* The data path's plan: presence mask, key stores in offset order, aggregate ops. */
static void compile_plan(struct weir_query *q, const struct weir_query_conf *c)
{
	for (unsigned i = 0; i < c->n_group_by; i++) {
		enum weir_field f = c->group_by[i];
		if (f == WEIR_FIELD_RULE)
			continue;
		q->need |= 1u << f;
		if (field_is_ip(f)) {
			uint8_t m4[16], m6[16];
			memset(m4, 0xff, 16);
			memset(m6, 0xff, 16);
			weir_ip_mask(m4, c->prefix4[i], 4);
			weir_ip_mask(m6, c->prefix6[i], 16);
			q->key_ip[q->n_key_ip].field = (uint8_t)f;
			q->key_ip[q->n_key_ip].word = q->field_off[i] / 8;
			memcpy(q->key_ip[q->n_key_ip].mask4, m4, 16);
			memcpy(q->key_ip[q->n_key_ip].mask6, m6, 16);
			/* a full address (the usual case): the data path copies it unmasked */
			for (unsigned b = 0; b < 16; b++)
				q->key_ip[q->n_key_ip].masked |= (m4[b] & m6[b]) != 0xff;
			q->n_key_ip++;
			continue;
		}
		/* fields are naturally aligned (largest first), so none straddles two words */
		q->key_num[q->n_key_num].field = (uint8_t)f;
		q->key_num[q->n_key_num].word = q->field_off[i] / 8;
		q->key_num[q->n_key_num].shift = (uint8_t)(q->field_off[i] % 8 * 8);
		q->n_key_num++;
		q->fields_used |= 1u << f;
	}
	q->ip_pair = -1;
	if (q->n_key_ip == 2 && !q->key_ip[0].masked && !q->key_ip[1].masked &&
	    q->key_ip[0].field == WEIR_FIELD_SRC_IP && q->key_ip[1].word == q->key_ip[0].word + 2)
		q->ip_pair = (int8_t)q->key_ip[0].word;
	for (unsigned s = 0; s < q->n_slots; s++) {
		const struct weir_agg_slot *sl = &q->slot[s];
		bool takes_field = sl->kind >= WEIR_AGG_SUM && sl->kind <= WEIR_AGG_QUANTILES;
		if (takes_field && !field_is_ip((enum weir_field)sl->field))
			q->fields_used |= 1u << sl->field;
		if (word_op_of(sl, &q->word_op[q->n_word_ops]))
			q->n_word_ops++;
		else
			q->slow_slot[q->n_slow++] = (uint8_t)s;
	}
	/* the usual counters (packets, bytes, ...): the data path adds them without a switch */
	q->word_adds_only = true;
	for (unsigned j = 0; j < q->n_word_ops; j++)
		q->word_adds_only &= q->word_op[j].op == WEIR_WOP_ADD &&
				     q->word_op[j].src <= WEIR_WSRC_PAYLOAD;
	_Static_assert(WEIR_WSRC_PAYLOAD + 1 == WEIR_PLAIN_SOURCES, "one word per counter source");
	q->plain_adds = q->word_adds_only && !q->n_slow && q->n_word_ops >= 1;
	for (unsigned j = 0; j < q->n_word_ops && q->plain_adds; j++) {
		unsigned src = q->word_op[j].src;
		q->plain_adds = !q->src_mask[src]; /* a source added twice: the general form */
		q->src_word[src] = q->word_op[j].word;
		q->src_mask[src] = ~0ull;
	}
	for (unsigned src = 0; src < WEIR_PLAIN_SOURCES; src++)
		if (!q->src_mask[src])
			q->src_word[src] = q->word_op[0].word;
}

static void compile_panes(struct weir_query *q, const struct weir_query_conf *c)
{
	switch (c->window) {
	case WEIR_WINDOW_TUMBLING:
		q->pane_ns = q->slide_ns = c->size_ns;
		break;
	case WEIR_WINDOW_SLIDING:
		q->pane_ns = weir_gcd64(c->size_ns, c->slide_ns);
		q->slide_ns = c->slide_ns;
		break;
	case WEIR_WINDOW_SESSION:
		q->pane_ns = q->slide_ns = c->gap_ns;
		break;
	}
}

/* The fields every packet of a unidirectional flow shares: the flow combiner's key. */
#define FLOW_FIELD_MASK                                                                        \
	((1u << WEIR_FIELD_SRC_IP) | (1u << WEIR_FIELD_DST_IP) | (1u << WEIR_FIELD_SRC_PORT) |   \
	 (1u << WEIR_FIELD_DST_PORT) | (1u << WEIR_FIELD_PROTO) | (1u << WEIR_FIELD_L4_PROTO) |  \
	 (1u << WEIR_FIELD_VLAN) | (1u << WEIR_FIELD_IP_VERSION))

/*
 * Can the flow combiner (weir_window.c) count this query from per-flow sums?
 * Its keys must come from flow fields, and each aggregate must be a sum
 * (packets, bytes, ip_bytes, payload_bytes), first/last time, or take a
 * flow field (sum/min/max/avg, distinct, topk). Partial results (emit
 * every) and rule keys stay packet by packet.
 */
static bool compile_combinable(const struct weir_query *q, const struct weir_query_conf *c)
{
	if (c->emit_every_ns || q->rule_off >= 0 || (q->need & ~FLOW_FIELD_MASK))
		return false;
	for (unsigned s = 0; s < q->n_slots; s++) {
		const struct weir_agg_slot *sl = &q->slot[s];
		switch ((enum weir_agg)sl->kind) {
		case WEIR_AGG_PACKETS: case WEIR_AGG_BYTES: case WEIR_AGG_IP_BYTES:
		case WEIR_AGG_PAYLOAD_BYTES: case WEIR_AGG_FIRST_TS: case WEIR_AGG_LAST_TS:
			break;
		case WEIR_AGG_SUM: case WEIR_AGG_MIN: case WEIR_AGG_MAX: case WEIR_AGG_AVG:
		case WEIR_AGG_DISTINCT: case WEIR_AGG_TOPK:
			if (!((FLOW_FIELD_MASK >> sl->field) & 1))
				return false;
			break;
		default: /* quantiles, flag counts: per packet values */
			return false;
		}
	}
	return true;
}

int weir_query_compile(struct weir_query *q, const struct weir_query_conf *c, uint32_t id,
		       char *err, size_t errlen)
{
	unsigned off = 0;
	bool has_ip = false;

	memset(q, 0, sizeof(*q));
	q->conf = *c;
	q->id = id;
	q->n_aggs = c->n_aggs;
	/* Largest fields first: each stays naturally aligned. */
	static const unsigned sizes[] = {16, 8, 4, 2, 1};
	for (unsigned pass = 0; pass < 5; pass++) {
		for (unsigned i = 0; i < c->n_group_by; i++) {
			enum weir_field f = c->group_by[i];
			if (field_size[f] != sizes[pass])
				continue;
			q->field_off[i] = (uint8_t)off;
			off += field_size[f];
			has_ip |= field_is_ip(f);
		}
	}
	q->ipver_off = -1;
	q->rule_off = -1;
	for (unsigned i = 0; i < c->n_group_by; i++)
		if (c->group_by[i] == WEIR_FIELD_RULE)
			q->rule_off = (int8_t)q->field_off[i];
	if (has_ip)
		q->ipver_off = (int8_t)off++;
	q->keys_nonzero = has_ip; /* 4 or 6 in the version byte: a packet without IP is not keyed */
	if (off > sizeof(struct weir_key)) {
		snprintf(err, errlen, "query '%s': group-by key of %u bytes exceeds %zu", c->name, off,
			 sizeof(struct weir_key));
		return -1;
	}
	q->key_words = (off + 7) / 8;
	if (q->key_words == 0)
		q->key_words = 1; /* the global group: one all-zero key */
	compile_aggs(q, c);
	compile_plan(q, c);
	compile_panes(q, c);
	q->combinable = compile_combinable(q, c);
	return 0;
}

static inline void put16(uint8_t *dst, uint16_t v)
{
	memcpy(dst, &v, 2);
}

/* The low `size` bytes of v (little endian); constant-size stores, no memcpy call. */
static inline void store_low(uint8_t *dst, uint64_t v, unsigned size)
{
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	switch (size) {
	case 1: *dst = (uint8_t)v; break;
	case 2: memcpy(dst, &v16, 2); break;
	case 4: memcpy(dst, &v32, 4); break;
	default: memcpy(dst, &v, 8); break;
	}
}

void weir_ip_mask(uint8_t *ip, unsigned bits, unsigned len)
{
	if (!bits)
		return;
	for (unsigned b = 0; b < len; b++) {
		unsigned keep = bits >= 8 * (b + 1) ? 8 : bits > 8 * b ? bits - 8 * b : 0;
		ip[b] &= (uint8_t)(0xff00u >> keep);
	}
}

static inline bool copy_ip(const struct weir_query *q, unsigned i, const struct weir_pkt *p,
			   const uint8_t *ip, uint8_t *dst)
{
	if (!p->ip_version)
		return false;
	memcpy(dst, ip, 16);
	if (p->ip_version == 4)
		weir_ip_mask(dst, q->conf.prefix4[i], 4);
	else
		weir_ip_mask(dst, q->conf.prefix6[i], 16);
	return true;
}

/* Bits of the fields every IP packet has, and of those a packet's L4 header gives. */
#define BIT(f) (1u << WEIR_FIELD_##f)
#define IP_FIELDS (BIT(SRC_IP) | BIT(DST_IP) | BIT(PROTO) | BIT(L4_PROTO) | BIT(IP_VERSION) | \
		   BIT(IP_LEN) | BIT(PAYLOAD_LEN) | BIT(TTL))
#define TCP_FIELDS (BIT(TCP_FLAGS) | BIT(TCP_WINDOW))

static inline uint32_t meta_bit(const void *arr, bool set, uint32_t bit)
{
	return arr && set ? bit : 0;
}

/*
 * Bit f of `have`: packet i has field f. with_meta false: the burst has no
 * meta arrays. The bits of ports, VLAN and TCP fields are worked out only
 * when `fields` (the numeric fields the queries read) holds them: no query
 * tests them otherwise (a key's numeric fields are among them).
 */
static __rte_always_inline void fill_have(struct weir_burst_fields *bf,
					  const struct weir_pkt *const *pkts,
					  const struct weir_burst_meta *m, unsigned n, bool with_meta,
					  uint32_t fields)
{
	bool ports = fields & (BIT(SRC_PORT) | BIT(DST_PORT)), vlan = fields & BIT(VLAN),
	     tcp = fields & TCP_FIELDS;

	for (unsigned i = 0; i < n; i++) {
		const struct weir_pkt *p = pkts[i];
		uint32_t h = BIT(LENGTH) | BIT(RULE);
		h |= p->ip_version ? IP_FIELDS : 0;
		if (ports)
			h |= weir_pkt_has_ports(p) ? BIT(SRC_PORT) | BIT(DST_PORT) : 0;
		if (vlan)
			h |= p->n_vlan ? BIT(VLAN) : 0;
		if (tcp)
			h |= (p->flags & WEIR_PKT_F_L4) && p->l4_proto == 6 ? TCP_FIELDS : 0;
		if (with_meta) {
			h |= meta_bit(m->flow_id, m->flow_id && m->flow_id[i], BIT(FLOW_ID));
			h |= meta_bit(m->direction, m->direction && m->direction[i], BIT(DIRECTION));
			h |= meta_bit(m->src_label, m->src_label && m->src_label[i], BIT(SRC_LABEL));
			h |= meta_bit(m->dst_label, m->dst_label && m->dst_label[i], BIT(DST_LABEL));
			h |= meta_bit(m->dst_name, m->dst_name && m->dst_name[i], BIT(DST_NAME));
		}
		bf->have[i] = h;
	}
}

/* Field f over the burst; f a constant, so weir_field_num's switch folds away. */
static __rte_always_inline void fill_field(uint64_t *v, enum weir_field f,
					   const struct weir_pkt *const *pkts,
					   const struct weir_burst_meta *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		weir_field_num(f, pkts[i], m, i, &v[i]);
}

void weir_burst_fields_fill(struct weir_burst_fields *bf, uint32_t fields,
			    const struct weir_pkt *const *pkts, const struct weir_burst_meta *m,
			    unsigned n)
{
	/* meta arrays are there or not for a whole burst: test them once, not per packet */
	if (m->flow_id || m->direction || m->src_label || m->dst_label || m->dst_name)
		fill_have(bf, pkts, m, n, true, fields);
	else
		fill_have(bf, pkts, m, n, false, fields);
	/* field by field: one predictable loop each, its field's case chosen once */
	for (uint32_t left = fields; left; left &= left - 1) {
		enum weir_field f = (enum weir_field)__builtin_ctz(left);
		uint64_t *v = bf->num[f];
		switch (f) {
#define WEIR_X(e, s, sz) case WEIR_FIELD_##e: fill_field(v, WEIR_FIELD_##e, pkts, m, n); break;
		WEIR_FIELD_LIST(WEIR_X)
#undef WEIR_X
		default: break;
		}
	}
}

bool weir_field_get(enum weir_field f, const struct weir_pkt *p, const struct weir_burst_meta *m,
		    unsigned i, uint8_t item[16], uint64_t *num)
{
	memset(item, 0, 16);
	*num = 0;
	if (field_is_ip(f)) {
		const uint8_t *ip = f == WEIR_FIELD_SRC_IP ? p->src_ip : p->dst_ip;
		if (!p->ip_version)
			return false;
		if (p->ip_version == 4) {
			item[10] = item[11] = 0xff;
			memcpy(item + 12, ip, 4);
		} else {
			memcpy(item, ip, 16);
		}
		return true;
	}
	if (!weir_field_num(f, p, m, i, num))
		return false;
	memcpy(item, num, 8);
	return true;
}

bool weir_key_extract(const struct weir_query *q, const struct weir_pkt *p,
		      const struct weir_burst_meta *m, unsigned pi, struct weir_key *k)
{
	uint8_t *b = (uint8_t *)k->w;
	uint64_t v;

	/* The whole key, a constant size: two vector stores, where a loop over
	 * key_words compiles to a call to memset. */
	*k = (struct weir_key){{0}};
	for (unsigned i = 0; i < q->conf.n_group_by; i++) {
		uint8_t *dst = b + q->field_off[i];
		enum weir_field f = q->conf.group_by[i];
		switch (f) {
		case WEIR_FIELD_SRC_IP:
			if (!copy_ip(q, i, p, p->src_ip, dst))
				return false;
			break;
		case WEIR_FIELD_DST_IP:
			if (!copy_ip(q, i, p, p->dst_ip, dst))
				return false;
			break;
		case WEIR_FIELD_RULE:
			break; /* not in the packet: the window stage writes each matched rule */
		default:
			if (!weir_field_num(f, p, m, pi, &v))
				return false;
			store_low(dst, v, field_size[f]);
			break;
		}
	}
	if (q->ipver_off >= 0)
		b[q->ipver_off] = p->ip_version;
	return true;
}

uint64_t weir_key_field_uint(const struct weir_query *q, const struct weir_key *k, unsigned i)
{
	const uint8_t *src = (const uint8_t *)k->w + q->field_off[i];
	uint16_t v16;

	uint32_t v32;

	uint64_t v64;

	switch (field_size[q->conf.group_by[i]]) {
	case 8:
		memcpy(&v64, src, 8);
		return v64;
	case 1:
		return *src;
	case 2:
		memcpy(&v16, src, 2);
		return v16;
	case 4:
		memcpy(&v32, src, 4);
		return v32;
	default:
		return 0;
	}
}

void weir_key_field_ip(const struct weir_query *q, const struct weir_key *k, unsigned i,
		       uint8_t *ip_version, uint8_t ip[16])
{
	const uint8_t *b = (const uint8_t *)k->w;

	memcpy(ip, b + q->field_off[i], 16);
	*ip_version = q->ipver_off >= 0 ? b[q->ipver_off] : 0;
}
