/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_snapshot: one window table (shard, pane, session table) to bytes and
 * back. The format is described with the API in weir_window.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include "weir_sketch.h"
#include "weir_window_int.h"

#define SNAP_MAGIC 0x504e5357u /* "WSNP" as little-endian bytes */
#define SNAP_VERSION 1u
#define SNAP_HDR 56u
#define SNAP_F_OTHER 1u
#define SNAP_F_LATE 2u
#define SNAP_F_KNOWN (SNAP_F_OTHER | SNAP_F_LATE)

static void put32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_le_32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = rte_cpu_to_le_64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rte_le_to_cpu_32(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return rte_le_to_cpu_64(v);
}

static uint32_t crc_u32(uint32_t v, uint32_t h)
{
	return rte_hash_crc_4byte(v, h);
}

uint32_t weir_table_layout_hash(const struct weir_query *q)
{
	uint32_t h = 0x57534e50u;

	h = crc_u32(q->key_words, h);
	h = crc_u32(q->conf.n_group_by, h);
	for (unsigned i = 0; i < q->conf.n_group_by && i < WEIR_MAX_GROUP_BY; i++) {
		h = crc_u32((uint32_t)q->conf.group_by[i], h);
		h = crc_u32(q->field_off[i], h);
		h = crc_u32((uint32_t)q->conf.prefix4[i] << 8 | q->conf.prefix6[i], h);
	}
	h = crc_u32((uint32_t)(uint8_t)q->ipver_off << 8 | (uint8_t)q->rule_off, h);
	h = crc_u32(q->agg_words, h);
	h = crc_u32(q->blob_bytes, h);
	h = crc_u32(q->n_slots, h);
	for (unsigned s = 0; s < q->n_slots && s < WEIR_MAX_AGGS + 2; s++) {
		const struct weir_agg_slot *sl = &q->slot[s];
		h = crc_u32((uint32_t)sl->kind << 24 | (uint32_t)sl->field << 16 | sl->word, h);
		h = crc_u32(sl->blob_off, h);
		h = crc_u32(sl->param, h);
	}
	return h;
}

static size_t entry_bytes(const struct weir_query *q)
{
	return ((size_t)q->key_words + q->agg_words) * 8 + q->blob_bytes;
}

size_t weir_table_snapshot_size(const struct weir_query *q, const struct weir_table *t)
{
	size_t n = SNAP_HDR + (size_t)t->n_used * entry_bytes(q);

	if (t->has_other)
		n += (size_t)q->agg_words * 8 + q->blob_bytes;
	return n;
}

static uint8_t *put_aggs(uint8_t *p, const struct weir_table *t, const uint64_t *a)
{
	for (uint32_t w = 0; w < t->agg_words; w++, p += 8)
		put64(p, a[w]);
	if (t->blob_bytes) {
		memcpy(p, weir_table_blob(t, a), t->blob_bytes);
		p += t->blob_bytes;
	}
	return p;
}

size_t weir_table_snapshot(const struct weir_query *q, const struct weir_table *t, void *buf,
			   size_t len)
{
	size_t need = weir_table_snapshot_size(q, t);
	uint8_t *p = buf;

	if (len < need || t->key_words != q->key_words || t->agg_words != q->agg_words ||
	    t->blob_bytes != q->blob_bytes)
		return 0;
	put32(p + 0, SNAP_MAGIC);
	put32(p + 4, SNAP_VERSION | (uint32_t)((t->has_other ? SNAP_F_OTHER : 0) |
						(t->late ? SNAP_F_LATE : 0)) << 16);
	put32(p + 8, q->key_words);
	put32(p + 12, q->agg_words);
	put32(p + 16, q->blob_bytes);
	put32(p + 20, t->n_used);
	put32(p + 24, weir_table_layout_hash(q));
	put32(p + 28, 0);
	put64(p + 32, t->window_start);
	put64(p + 40, t->overflow);
	put32(p + 48, t->query);
	put32(p + 52, t->worker);
	p += SNAP_HDR;
	for (uint32_t i = 0; i < t->n_used; i++) {
		const uint64_t *k = weir_table_key(t, i)->w;
		for (uint32_t w = 0; w < t->key_words; w++, p += 8)
			put64(p, k[w]);
		p = put_aggs(p, t, weir_table_aggs(t, i));
	}
	if (t->has_other)
		p = put_aggs(p, t, t->other + t->key_words);
	return (size_t)(p - (uint8_t *)buf);
}

int weir_window_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Sketch states come from the file as they are: check what the sketch code
 * uses as an index (Space-Saving's counters in use, its heap, positions and
 * item index) so that a corrupt state cannot send it out of bounds.
 * HyperLogLog registers and quantile buckets are plain values.
 */
static bool topk_state_ok(const uint8_t *s, unsigned m)
{
	size_t bytes = weir_topk_bytes(m), ctr_end = 16 + 32 * (size_t)m;
	uint32_t used = get32(s + 8);

	if (bytes < ctr_end || used > m)
		return false;
	if (bytes == ctr_end)
		return true; /* linear: no heap, no index */
	size_t tbl = (bytes - ctr_end - 4 * (size_t)m) / 2;
	const uint8_t *heap = s + ctr_end, *pos = heap + 2 * (size_t)m, *idx = pos + 2 * (size_t)m;
	for (uint32_t i = 0; i < used; i++) {
		uint16_t c, at;
		memcpy(&c, heap + 2 * (size_t)i, 2);
		if (c >= used)
			return false;
		memcpy(&at, pos + 2 * (size_t)c, 2);
		if (at != i)
			return false;
	}
	for (size_t i = 0; i < tbl; i++) {
		uint16_t v;
		memcpy(&v, idx + 2 * i, 2);
		if (v > used)
			return false;
	}
	return true;
}

static bool blob_ok(const struct weir_query *q, const uint8_t *blob)
{
	for (unsigned s = 0; s < q->n_slots; s++)
		if (q->slot[s].kind == WEIR_AGG_TOPK &&
		    !topk_state_ok(blob + q->slot[s].blob_off, q->slot[s].param))
			return false;
	return true;
}

static void get_aggs(const struct weir_table *t, uint64_t *a, const uint8_t *p)
{
	for (uint32_t w = 0; w < t->agg_words; w++, p += 8)
		a[w] = get64(p);
	if (t->blob_bytes)
		memcpy(weir_table_blob(t, a), p, t->blob_bytes);
}

int weir_table_restore(const struct weir_query *q, struct weir_table *t, const void *buf,
		       size_t len, char *err, size_t errlen)
{
	const uint8_t *p = buf;

	if (t->key_words != q->key_words || t->agg_words != q->agg_words ||
	    t->blob_bytes != q->blob_bytes)
		return weir_window_fail(err, errlen, "table was not laid out for query '%s'", q->conf.name);
	if (t->n_used || t->has_other)
		return weir_window_fail(err, errlen, "table is not empty (reset it first)");
	if (!p || len < SNAP_HDR)
		return weir_window_fail(err, errlen, "snapshot truncated: %zu bytes, header needs %u", len,
			    SNAP_HDR);
	if (get32(p) != SNAP_MAGIC)
		return weir_window_fail(err, errlen, "not a table snapshot (bad magic 0x%08x)", get32(p));
	uint32_t vf = get32(p + 4), version = vf & 0xffff, flags = vf >> 16;
	if (version != SNAP_VERSION)
		return weir_window_fail(err, errlen, "table snapshot version %u, this build reads %u", version,
			    SNAP_VERSION);
	if (flags & ~SNAP_F_KNOWN)
		return weir_window_fail(err, errlen, "table snapshot has unknown flags 0x%x", flags);
	uint32_t kw = get32(p + 8), aw = get32(p + 12), bb = get32(p + 16), n = get32(p + 20);
	if (kw != q->key_words)
		return weir_window_fail(err, errlen, "key_words mismatch: snapshot %u, query '%s' %u", kw,
			    q->conf.name, q->key_words);
	if (aw != q->agg_words)
		return weir_window_fail(err, errlen, "agg_words mismatch: snapshot %u, query '%s' %u", aw,
			    q->conf.name, q->agg_words);
	if (bb != q->blob_bytes)
		return weir_window_fail(err, errlen, "blob_bytes mismatch: snapshot %u, query '%s' %u", bb,
			    q->conf.name, q->blob_bytes);
	if (get32(p + 24) != weir_table_layout_hash(q))
		return weir_window_fail(err, errlen,
			    "layout mismatch: snapshot's keys/aggregates differ from query '%s'",
			    q->conf.name);
	if (get32(p + 28) != 0)
		return weir_window_fail(err, errlen, "table snapshot: reserved header word is not zero");
	if (n > t->max_keys)
		return weir_window_fail(err, errlen, "snapshot holds %u keys, the table only %u", n, t->max_keys);
	size_t eb = entry_bytes(q), ob = (size_t)aw * 8 + bb;
	size_t want = SNAP_HDR + (size_t)n * eb + ((flags & SNAP_F_OTHER) ? ob : 0);
	if (len != want)
		return weir_window_fail(err, errlen, "snapshot length %zu, its header says %zu (%s)", len, want,
			    len < want ? "truncated" : "trailing bytes");

	const uint8_t *e = p + SNAP_HDR;
	for (uint32_t i = 0; i < n; i++, e += eb)
		if (bb && !blob_ok(q, e + (size_t)kw * 8 + (size_t)aw * 8))
			return weir_window_fail(err, errlen, "entry %u: corrupt sketch state", i);
	if ((flags & SNAP_F_OTHER) && bb && !blob_ok(q, e + (size_t)aw * 8))
		return weir_window_fail(err, errlen, "_other entry: corrupt sketch state");

	e = p + SNAP_HDR;
	for (uint32_t i = 0; i < n; i++, e += eb) {
		struct weir_key k = {{0}};
		for (uint32_t w = 0; w < kw; w++)
			k.w[w] = get64(e + 8 * (size_t)w);
		uint64_t any = 0;
		for (uint32_t w = 0; w < kw; w++)
			any |= k.w[w];
		if (t->tagless && !any) { /* it would read as an empty slot */
			weir_table_reset(t);
			return weir_window_fail(err, errlen, "entry %u: key without an IP version", i);
		}
		uint32_t before = t->n_used;
		uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, kw));
		if (!a || t->n_used != before + 1) {
			weir_table_reset(t);
			return weir_window_fail(err, errlen, "entry %u: %s", i,
				    a ? "duplicate key" : "table full");
		}
		get_aggs(t, a, e + (size_t)kw * 8);
	}
	if (flags & SNAP_F_OTHER)
		get_aggs(t, weir_table_other(t), e);
	t->window_start = get64(p + 32);
	t->overflow = get64(p + 40);
	t->worker = get32(p + 52);
	t->late = (flags & SNAP_F_LATE) != 0;
	return 0;
}
