/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Aggregates: one update, merge and value function over a query's slots.
 *
 * Every state is "zero = nothing seen" so that a table cleared with memset
 * is empty and merge is an elementwise operation: sums add; min is kept as
 * ~v and max as v + 1, both merged by taking the larger; first_ts as ~ts,
 * last_ts as ts, likewise; sketches merge by their own rules (weir_sketch).
 */
#include <math.h>
#include <string.h>

#include <rte_common.h>

#include "weir_field.h"
#include "weir_sketch.h"
#include "weir_window.h"

static inline uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline bool field_is_ip(enum weir_field f)
{
	return f == WEIR_FIELD_SRC_IP || f == WEIR_FIELD_DST_IP;
}

/*
 * The aggregates that take a field, given the field as a number v (0 for an
 * address, as weir_field_get gives it) and as its 16-byte item's two words
 * (lo, hi), for n packets that share it (quantiles: n is 1, see
 * weir_agg_update_slot). Always inlined with a constant kind: a number's item has hi = 0,
 * a constant, and the hash's round over it folds away.
 */
static __rte_always_inline void apply_field(enum weir_agg kind, const struct weir_agg_slot *sl,
					    uint64_t *w, uint8_t *blob, uint64_t v, uint64_t lo,
					    uint64_t hi, uint64_t n)
{
	switch (kind) {
	case WEIR_AGG_SUM: w[0] += v * n; break;
	case WEIR_AGG_MIN: w[0] = max64(w[0], ~v); break;
	case WEIR_AGG_MAX: w[0] = max64(w[0], v + 1); break;
	case WEIR_AGG_AVG: w[0] += v * n; w[1] += n; break;
	case WEIR_AGG_DISTINCT:
		weir_hll_add_inline(blob + sl->blob_off, sl->param, weir_hash64_item(lo, hi));
		break;
	case WEIR_AGG_TOPK: weir_topk_add_words(blob + sl->blob_off, sl->param, lo, hi, n); break;
	case WEIR_AGG_QUANTILES:
		weir_quant_add(blob + sl->blob_off, v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
		break;
	default: break;
	}
}

/* An address field: its item as weir_field_get makes it (IPv4 as ::ffff:a.b.c.d). */
static __rte_noinline void update_ip_field(enum weir_agg kind, const struct weir_agg_slot *sl,
					   uint64_t *w, uint8_t *blob, const struct weir_pkt *p,
					   const struct weir_burst_meta *m, unsigned i, uint64_t n)
{
	uint8_t item[16];
	uint64_t v, lo, hi;

	if (!weir_field_get((enum weir_field)sl->field, p, m, i, item, &v))
		return;
	memcpy(&lo, item, 8);
	memcpy(&hi, item + 8, 8);
	switch (kind) {
#define CASE(k) case k: apply_field(k, sl, w, blob, v, lo, hi, n); break;
	CASE(WEIR_AGG_SUM) CASE(WEIR_AGG_MIN) CASE(WEIR_AGG_MAX) CASE(WEIR_AGG_AVG)
	CASE(WEIR_AGG_DISTINCT) CASE(WEIR_AGG_TOPK) CASE(WEIR_AGG_QUANTILES)
#undef CASE
	default: break;
	}
}

/*
 * One aggregate that takes a field, of a kind known at compile time: the
 * field as a number (no 16-byte item built and hashed as bytes), an address
 * out of line. The packet may lack the field: then it does not count.
 */
static __rte_always_inline void update_field(enum weir_agg kind, const struct weir_agg_slot *sl,
					     uint64_t *w, uint8_t *blob, const struct weir_pkt *p,
					     const struct weir_burst_meta *m, unsigned i, uint64_t n)
{
	enum weir_field f = (enum weir_field)sl->field;
	uint64_t v;

	if (unlikely(field_is_ip(f)))
		update_ip_field(kind, sl, w, blob, p, m, i, n);
	else if (weir_field_num(f, p, m, i, &v))
		apply_field(kind, sl, w, blob, v, v, 0, n);
}

/* Out of line: its vector code would make every caller realign its stack. */
static __rte_noinline void update_flag_counts(uint64_t *w, const struct weir_pkt *p)
{
	if ((p->flags & WEIR_PKT_F_L4) && p->l4_proto == 6)
		for (unsigned b = 0; b < 8; b++)
			w[b] += (p->tcp_flags >> b) & 1;
}

/* One switch: the data path calls this per packet for each sketch (the
 * counters it adds itself), so each kind goes straight to its code. */
void weir_agg_update_slot(const struct weir_query *q, unsigned s, uint64_t *words, uint8_t *blob,
			  const struct weir_pkt *p, const struct weir_burst_meta *m, unsigned i,
			  uint64_t n)
{
	const struct weir_agg_slot *sl = &q->slot[s];
	uint64_t *w = words + sl->word;

	switch ((enum weir_agg)sl->kind) {
	case WEIR_AGG_PACKETS: w[0]++; return;
	case WEIR_AGG_BYTES: w[0] += p->pkt_len; return;
	case WEIR_AGG_IP_BYTES: w[0] += p->ip_bytes; return;
	case WEIR_AGG_PAYLOAD_BYTES: w[0] += p->payload_len; return;
	case WEIR_AGG_FIRST_TS: w[0] = max64(w[0], ~m->ts[i]); return;
	case WEIR_AGG_LAST_TS: w[0] = max64(w[0], m->ts[i]); return;
	case WEIR_AGG_FLAG_COUNTS: update_flag_counts(w, p); return;
#define CASE(k) case k: update_field(k, sl, w, blob, p, m, i, n); return;
	CASE(WEIR_AGG_SUM) CASE(WEIR_AGG_MIN) CASE(WEIR_AGG_MAX) CASE(WEIR_AGG_AVG)
	CASE(WEIR_AGG_DISTINCT) CASE(WEIR_AGG_TOPK) CASE(WEIR_AGG_QUANTILES)
#undef CASE
	default: return;
	}
}

void weir_agg_update(const struct weir_query *q, uint64_t *words, uint8_t *blob,
		     const struct weir_pkt *p, const struct weir_burst_meta *m, unsigned i)
{
	for (unsigned s = 0; s < q->n_slots; s++)
		weir_agg_update_slot(q, s, words, blob, p, m, i, 1);
}

void weir_agg_merge(const struct weir_query *q, uint64_t *dw, uint8_t *db, const uint64_t *sw,
		    const uint8_t *sb)
{
	for (unsigned s = 0; s < q->n_slots; s++) {
		const struct weir_agg_slot *sl = &q->slot[s];
		uint64_t *d = dw + sl->word;
		const uint64_t *x = sw + sl->word;

		switch ((enum weir_agg)sl->kind) {
		case WEIR_AGG_MIN: case WEIR_AGG_MAX: case WEIR_AGG_FIRST_TS: case WEIR_AGG_LAST_TS:
			d[0] = max64(d[0], x[0]);
			break;
		case WEIR_AGG_AVG:
			d[0] += x[0];
			d[1] += x[1];
			break;
		case WEIR_AGG_FLAG_COUNTS:
			for (unsigned b = 0; b < 8; b++)
				d[b] += x[b];
			break;
		case WEIR_AGG_DISTINCT:
			weir_hll_merge(db + sl->blob_off, sb + sl->blob_off, sl->param);
			break;
		case WEIR_AGG_TOPK:
			weir_topk_merge(db + sl->blob_off, sb + sl->blob_off, sl->param);
			break;
		case WEIR_AGG_QUANTILES:
			weir_quant_merge(db + sl->blob_off, sb + sl->blob_off);
			break;
		default:
			d[0] += x[0];
			break;
		}
	}
}

double weir_agg_value(const struct weir_query *q, unsigned a, unsigned sub, const uint64_t *words,
		      const uint8_t *blob)
{
	static const double ranks[] = {0.5, 0.9, 0.99};
	const struct weir_agg_slot *sl = &q->slot[a];
	const uint64_t *w = words + sl->word;
	double sum = 0;

	switch ((enum weir_agg)sl->kind) {
	case WEIR_AGG_MIN: return w[0] ? (double)~w[0] : NAN;
	case WEIR_AGG_MAX: return w[0] ? (double)(w[0] - 1) : NAN;
	case WEIR_AGG_AVG: return w[1] ? (double)w[0] / (double)w[1] : NAN;
	case WEIR_AGG_FIRST_TS: return w[0] ? (double)~w[0] : NAN;
	case WEIR_AGG_DISTINCT: return weir_hll_estimate(blob + sl->blob_off, sl->param);
	case WEIR_AGG_TOPK: return (double)weir_topk_total(blob + sl->blob_off);
	case WEIR_AGG_QUANTILES:
		return weir_quant_value(blob + sl->blob_off, ranks[sub < 3 ? sub : 0]);
	case WEIR_AGG_FLAG_COUNTS:
		for (unsigned b = 0; b < 8; b++)
			sum += (double)w[b];
		return sum;
	default: return (double)w[0];
	}
}

bool weir_having_eval(const struct weir_query *q, const uint64_t *words, const uint8_t *blob)
{
	const struct weir_having *h = &q->conf.having;
	double st[WEIR_HAVING_MAX];
	unsigned n = 0;

	if (!h->n)
		return false;
	for (unsigned i = 0; i < h->n; i++) {
		double b = n ? st[n - 1] : 0, a = n > 1 ? st[n - 2] : 0;
		switch ((enum weir_having_op)h->node[i].op) {
		case WEIR_HV_NUM: st[n++] = h->node[i].num; continue;
		case WEIR_HV_AGG:
			st[n++] = weir_agg_value(q, h->node[i].agg, h->node[i].sub, words, blob);
			continue;
		case WEIR_HV_NOT: st[n - 1] = !(b != 0); continue;
		/* comparisons with NaN (no value) are false, as in SQL's NULL */
		case WEIR_HV_LT: a = a < b; break;
		case WEIR_HV_LE: a = a <= b; break;
		case WEIR_HV_GT: a = a > b; break;
		case WEIR_HV_GE: a = a >= b; break;
		case WEIR_HV_EQ: a = a == b; break;
		case WEIR_HV_NE: a = !isnan(a) && !isnan(b) && a != b; break;
		case WEIR_HV_AND: a = a != 0 && b != 0; break;
		case WEIR_HV_OR: a = a != 0 || b != 0; break;
		}
		st[n - 2] = a;
		n--;
	}
	return n == 1 && st[0] != 0;
}
