/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Table snapshots (weir_table_snapshot / weir_table_restore): round trips for
 * every aggregate kind and the _other row, and malformed input (truncations,
 * foreign layouts, garbage, corrupt sketch states) refused without reading
 * past the buffer (run under ASan by `make test-asan`).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "weir_sketch.h"
#include "weir_window.h"

#define SEC 1000000000ull

static const char *const all_aggs[] = {
	"packets", "bytes", "ip_bytes", "payload_bytes", "sum(payload_len)", "min(length)",
	"max(ttl)", "avg(length)", "quantiles(length)", "distinct(dst_port)",
	"topk(dst_port, 3)", "topk(src_port, 20)", "first_ts", "last_ts", "flag_counts",
};
#define N_ALL_AGGS (sizeof(all_aggs) / sizeof(all_aggs[0]))

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 1;
}

static struct weir_query compile(const char *name, const enum weir_field *f, unsigned nf,
				 const uint8_t *prefix4, const char *const *aggs, unsigned na,
				 enum weir_window_type win, uint32_t max_keys)
{
	struct weir_query_conf c;
	struct weir_query q;
	char err[512];

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.n_group_by = nf;
	memcpy(c.group_by, f, nf * sizeof(*f));
	if (prefix4)
		memcpy(c.prefix4, prefix4, nf);
	for (unsigned i = 0; i < nf; i++)
		c.prefix6[i] = prefix4 && prefix4[i] ? 48 : 0;
	c.window = win;
	if (win == WEIR_WINDOW_SESSION)
		c.gap_ns = 5 * SEC;
	else
		c.size_ns = 60 * SEC;
	c.n_aggs = na;
	for (unsigned i = 0; i < na; i++)
		cr_assert_eq(weir_agg_conf_parse(aggs[i], &c.aggs[i], err, sizeof(err)), 0, "%s: %s",
			     aggs[i], err);
	c.max_keys = max_keys;
	cr_assert_eq(weir_query_compile(&q, &c, 3, err, sizeof(err)), 0, "%s", err);
	return q;
}

static struct weir_query every_agg_query(uint32_t max_keys)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_PROTO};
	uint8_t pfx[] = {24, 0};
	return compile("every", f, 2, pfx, all_aggs, N_ALL_AGGS, WEIR_WINDOW_TUMBLING, max_keys);
}

static struct weir_table *new_table(const struct weir_query *q, uint32_t max_keys)
{
	void *mem = calloc(1, weir_table_size(q, max_keys));
	cr_assert_not_null(mem);
	return weir_table_init(mem, q, max_keys);
}

/* n synthetic packets into t, the plain reference path; keys beyond max_keys go to _other. */
static void fill(const struct weir_query *q, struct weir_table *t, unsigned n, uint32_t seed,
		 unsigned nets)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t r = rnd(&seed), r2 = rnd(&seed);
		struct weir_pkt p;
		memset(&p, 0, sizeof(p));
		bool v6 = r % 7 == 0;
		p.ip_version = v6 ? 6 : 4;
		p.proto = p.l4_proto = r % 5 == 0 ? 17 : 6;
		p.src_ip[0] = 10, p.src_ip[1] = (uint8_t)(r2 % nets), p.src_ip[2] = (uint8_t)(r2 >> 8);
		p.src_ip[3] = (uint8_t)(r >> 3);
		if (v6)
			p.src_ip[0] = 0x20, p.src_ip[15] = (uint8_t)r;
		p.dst_ip[0] = 9, p.dst_ip[3] = (uint8_t)(r >> 20);
		p.src_port = (uint16_t)(1024 + (r2 >> 12) % 300);
		p.dst_port = r % 3 ? 443 : (uint16_t)((r >> 9) % 2000);
		p.flags = WEIR_PKT_F_L4;
		p.pkt_len = 60 + (r >> 11) % 1440;
		p.ip_bytes = p.pkt_len - 14;
		p.payload_len = p.pkt_len - 54;
		p.ttl = (uint8_t)(r2 >> 4);
		p.tcp_flags = (uint8_t)(r2 >> 20);
		uint64_t ts = 100 * SEC + (r2 % 60000) * 1000000ull;
		struct weir_burst_meta meta = {.ts = &ts};
		struct weir_key k;
		if (!weir_key_extract(q, &p, &meta, 0, &k))
			continue;
		uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, q->key_words));
		if (!a) {
			t->overflow++;
			a = weir_table_other(t);
		}
		weir_agg_update(q, a, weir_table_blob(t, a), &p, &meta, 0);
	}
}

static void *snap(const struct weir_query *q, const struct weir_table *t, size_t *len)
{
	*len = weir_table_snapshot_size(q, t);
	void *buf = malloc(*len);
	cr_assert_not_null(buf);
	cr_assert_eq(weir_table_snapshot(q, t, buf, *len - 1), 0, "too small a buffer: 0");
	cr_assert_eq(weir_table_snapshot(q, t, buf, *len), *len);
	return buf;
}

static void same_value(double a, double b, const char *what)
{
	if (isnan(a) || isnan(b))
		cr_assert(isnan(a) && isnan(b), "%s: %g vs %g", what, a, b);
	else
		cr_assert_eq(a, b, "%s: %g vs %g", what, a, b);
}

static void same_row(const struct weir_query *q, const struct weir_table *ta, const uint64_t *a,
		     const struct weir_table *tb, const uint64_t *b)
{
	const uint8_t *ba = weir_table_blob(ta, a), *bb = weir_table_blob(tb, b);

	cr_assert_eq(memcmp(a, b, (size_t)q->agg_words * 8), 0, "aggregate words equal");
	if (q->blob_bytes)
		cr_assert_eq(memcmp(ba, bb, q->blob_bytes), 0, "blob bytes equal");
	for (unsigned g = 0; g < q->n_aggs; g++)
		for (unsigned s = 0; s < 3; s++)
			same_value(weir_agg_value(q, g, s, a, ba), weir_agg_value(q, g, s, b, bb),
				   q->conf.aggs[g].name);
}

/* b equals a: same keys in the same order, same rows, _other, header fields. */
static void same_table(const struct weir_query *q, const struct weir_table *a,
		       const struct weir_table *b)
{
	cr_assert_eq(b->n_used, a->n_used);
	for (uint32_t i = 0; i < a->n_used; i++) {
		cr_assert_eq(memcmp(weir_table_key(a, i), weir_table_key(b, i), (size_t)q->key_words * 8),
			     0, "key %u in the same order", i);
		same_row(q, a, weir_table_aggs(a, i), b, weir_table_aggs(b, i));
		/* and found by lookup (the hash index was rebuilt) */
		struct weir_key k;
		memcpy(&k, weir_table_key(a, i), sizeof(k));
		const uint64_t *got = weir_table_upsert((struct weir_table *)b, &k,
							weir_key_hash(&k, q->key_words));
		cr_assert_eq(got, weir_table_aggs(b, i));
	}
	cr_assert_eq(b->has_other, a->has_other);
	if (a->has_other)
		same_row(q, a, a->other + a->key_words, b, b->other + b->key_words);
	cr_assert_eq(b->window_start, a->window_start);
	cr_assert_eq(b->overflow, a->overflow);
	cr_assert_eq(b->worker, a->worker);
	cr_assert_eq(b->late, a->late);
}

Test(snapshot, every_aggregate_round_trip_with_other)
{
	struct weir_query q = every_agg_query(64);
	struct weir_table *t = new_table(&q, 64), *r = new_table(&q, 64);
	char err[256] = "";

	cr_assert_gt(q.blob_bytes, 0);
	fill(&q, t, 5000, 42, 200);
	t->window_start = 120 * SEC;
	t->worker = 5;
	t->late = true;
	cr_assert_eq(t->n_used, 64, "table filled up");
	cr_assert(t->has_other, "keys beyond max_keys went to _other");
	cr_assert_gt(t->overflow, 0);

	size_t len;
	uint8_t *buf = snap(&q, t, &len);
	cr_assert_eq(len, 56 + 64 * ((q.key_words + q.agg_words) * 8 + q.blob_bytes) +
				  q.agg_words * 8 + q.blob_bytes);
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, r);

	/* the restored table snapshots to the same bytes */
	size_t len2;
	uint8_t *buf2 = snap(&q, r, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(buf, buf2, len), 0);

	/* restoring into a non-empty table is refused */
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not empty"), "%s", err);

	/* into a reset table, and into a bigger one, it works; a smaller one is refused */
	weir_table_reset(r);
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, r);
	struct weir_table *big = new_table(&q, 4096), *small = new_table(&q, 16);
	cr_assert_eq(weir_table_restore(&q, big, buf, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, big);
	cr_assert_eq(weir_table_restore(&q, small, buf, len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "64 keys") && strstr(err, "16"), "%s", err);
	cr_assert_eq(small->n_used, 0);

	/* the restored table keeps counting like the original */
	fill(&q, t, 2000, 99, 200);
	fill(&q, r, 2000, 99, 200);
	same_table(&q, t, r);
	free(buf), free(buf2), free(t), free(r), free(big), free(small);
}

Test(snapshot, no_overflow_and_empty_tables)
{
	struct weir_query q = every_agg_query(4096);
	struct weir_table *t = new_table(&q, 4096), *r = new_table(&q, 4096);
	char err[256] = "";
	size_t len;

	/* empty */
	uint8_t *buf = snap(&q, t, &len);
	cr_assert_eq(len, 56);
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, r);
	free(buf);

	fill(&q, t, 3000, 7, 20);
	cr_assert_gt(t->n_used, 100);
	cr_assert_not(t->has_other);
	buf = snap(&q, t, &len);
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, r);
	free(buf), free(t), free(r);
}

/* An address key is never all zero: a snapshot entry that is says so, and nothing is loaded. */
Test(snapshot, zero_address_key_refused)
{
	static const enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP};
	static const char *const aggs[] = {"packets"};
	struct weir_query q = compile("z", f, 2, NULL, aggs, 1, WEIR_WINDOW_TUMBLING, 64);
	struct weir_table *t = new_table(&q, 64), *r = new_table(&q, 64);
	char err[256] = "";
	size_t len;

	cr_assert(t->tagless);
	fill(&q, t, 10, 3, 5);
	cr_assert_gt(t->n_used, 1);
	uint8_t *buf = snap(&q, t, &len);
	memset(buf + 56, 0, (size_t)q.key_words * 8); /* the first entry's key */
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "entry 0: key without an IP version"), "%s", err);
	cr_assert_eq(r->n_used, 0, "nothing is loaded");
	free(buf), free(t), free(r);
}

Test(snapshot, sessions_and_plain_layouts)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP, WEIR_FIELD_DST_PORT};
	static const char *const aggs[] = {"packets", "bytes", "distinct(src_port)"};
	struct weir_query qs = compile("sess", f, 3, NULL, aggs, 3, WEIR_WINDOW_SESSION, 128);
	struct weir_query qp = compile("plain", f, 1, NULL, aggs, 2, WEIR_WINDOW_TUMBLING, 128);
	char err[256] = "";

	cr_assert_gt(qs.n_slots, qs.n_aggs, "sessions carry hidden slots");
	cr_assert_eq(qp.blob_bytes, 0);
	const struct weir_query *qq[] = {&qs, &qp};
	for (unsigned j = 0; j < 2; j++) {
		const struct weir_query *q = qq[j];
		struct weir_table *t = new_table(q, 128), *r = new_table(q, 128);
		fill(q, t, 3000, 1000 + j, 3);
		cr_assert_eq(t->n_used, 128);
		cr_assert(t->has_other);
		size_t len;
		uint8_t *buf = snap(q, t, &len);
		cr_assert_eq(weir_table_restore(q, r, buf, len, err, sizeof(err)), 0, "%s", err);
		same_table(q, t, r);
		free(buf), free(t), free(r);
	}
}

Test(snapshot, every_truncation_and_trailing_bytes_refused)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};
	static const char *const aggs[] = {"packets", "distinct(dst_port)", "topk(dst_port, 20)"};
	struct weir_query q = compile("tr", f, 1, NULL, aggs, 3, WEIR_WINDOW_TUMBLING, 4);
	struct weir_table *t = new_table(&q, 4), *r = new_table(&q, 4);
	char err[256];
	size_t len;

	fill(&q, t, 300, 5, 256);
	cr_assert_eq(t->n_used, 4);
	cr_assert(t->has_other);
	uint8_t *buf = snap(&q, t, &len);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *b = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees any overread */
		memcpy(b, buf, cut);
		err[0] = 0;
		cr_assert_eq(weir_table_restore(&q, r, b, cut, err, sizeof(err)), -1, "cut at %zu", cut);
		cr_assert_neq(err[0], 0, "a reason at %zu", cut);
		cr_assert_eq(r->n_used, 0);
		cr_assert_not(r->has_other);
		free(b);
	}
	uint8_t *longer = calloc(1, len + 1);
	memcpy(longer, buf, len);
	cr_assert_eq(weir_table_restore(&q, r, longer, len + 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "trailing"), "%s", err);
	cr_assert_eq(weir_table_restore(&q, r, NULL, 0, err, sizeof(err)), -1);
	cr_assert_eq(weir_table_restore(&q, r, buf, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, r);
	free(longer), free(buf), free(t), free(r);
}

Test(snapshot, foreign_layout_named)
{
	enum weir_field f1[] = {WEIR_FIELD_SRC_IP}, f2[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP};
	enum weir_field fport[] = {WEIR_FIELD_SRC_PORT}, fdport[] = {WEIR_FIELD_DST_PORT};
	static const char *const a1[] = {"packets", "bytes"}, *const a2[] = {"packets"};
	static const char *const a3[] = {"packets", "distinct(dst_port)"};
	static const char *const asum[] = {"sum(length)"}, *const amax[] = {"max(length)"};
	struct weir_query qa = compile("a", f1, 1, NULL, a1, 2, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qkw = compile("b", f2, 2, NULL, a1, 2, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qaw = compile("c", f1, 1, NULL, a2, 1, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qs1 = compile("d", fport, 1, NULL, asum, 1, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qs2 = compile("e", fport, 1, NULL, amax, 1, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qs3 = compile("f", fdport, 1, NULL, asum, 1, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qbb = compile("g", f1, 1, NULL, a3, 2, WEIR_WINDOW_TUMBLING, 64);
	struct weir_query qa2 = compile("h", f1, 1, NULL, a2, 1, WEIR_WINDOW_TUMBLING, 64);
	struct {
		const struct weir_query *from, *to;
		const char *why;
	} cases[] = {
		{&qa, &qkw, "key_words mismatch"},
		{&qa, &qaw, "agg_words mismatch"},
		{&qa2, &qbb, "blob_bytes mismatch"},
		{&qs1, &qs2, "layout mismatch"}, /* sum vs max: same sizes */
		{&qs1, &qs3, "layout mismatch"}, /* src_port vs dst_port keys */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct weir_table *t = new_table(cases[i].from, 64), *r = new_table(cases[i].to, 64);
		char err[256] = "";
		size_t len;
		fill(cases[i].from, t, 500, i, 256);
		uint8_t *buf = snap(cases[i].from, t, &len);
		cr_assert_eq(weir_table_restore(cases[i].to, r, buf, len, err, sizeof(err)), -1);
		cr_assert(strstr(err, cases[i].why), "case %u: '%s'", i, err);
		cr_assert_eq(r->n_used, 0);
		/* restoring with the wrong query into the right table is refused too */
		cr_assert_eq(weir_table_restore(cases[i].to, t, buf, len, err, sizeof(err)), -1);
		free(buf), free(t), free(r);
	}
}

Test(snapshot, garbage_and_corruption_refused_without_crashing)
{
	struct weir_query q = every_agg_query(32);
	struct weir_table *t = new_table(&q, 32), *r = new_table(&q, 32);
	char err[256];
	uint32_t seed = 2024;
	size_t len;

	fill(&q, t, 2000, 3, 200);
	uint8_t *good = snap(&q, t, &len);

	/* random bytes of random lengths */
	for (unsigned it = 0; it < 2000; it++) {
		size_t n = rnd(&seed) % 256;
		uint8_t *b = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rnd(&seed);
		if (it % 2 && n >= 56) /* a real header, then garbage: goes further in */
			memcpy(b, good, 56);
		cr_assert_eq(weir_table_restore(&q, r, b, n, err, sizeof(err)), -1);
		cr_assert_eq(r->n_used, 0);
		free(b);
	}
	/* a valid header over a garbage body of the right length */
	uint8_t *b = malloc(len);
	for (unsigned it = 0; it < 50; it++) {
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)rnd(&seed);
		memcpy(b, good, 56);
		int rc = weir_table_restore(&q, r, b, len, err, sizeof(err));
		cr_assert_eq(rc, -1, "random Space-Saving states are refused");
		cr_assert_eq(r->n_used, 0);
	}
	/* single bit flips anywhere: refused, or restored into a table that works */
	for (unsigned it = 0; it < 3000; it++) {
		memcpy(b, good, len);
		size_t at = rnd(&seed) % len;
		b[at] ^= (uint8_t)(1u << (rnd(&seed) % 8));
		int rc = weir_table_restore(&q, r, b, len, err, sizeof(err));
		if (at < 32 && at != 6) /* checked header fields (not the late flag) */
			cr_assert_eq(rc, -1, "header byte %zu flipped", at);
		if (rc == 0) {
			fill(&q, r, 50, it, 200); /* counting and reading on top does not crash */
			for (uint32_t i = 0; i < r->n_used; i++)
				for (unsigned g = 0; g < q.n_aggs; g++)
					(void)weir_agg_value(&q, g, 0, weir_table_aggs(r, i),
							     weir_table_blob(r, weir_table_aggs(r, i)));
			weir_table_reset(r);
		}
		cr_assert_eq(r->n_used, 0);
	}
	/* a Space-Saving state claiming more counters than it has */
	memcpy(b, good, len);
	const struct weir_agg_slot *tk = &q.slot[10];
	cr_assert_eq(tk->kind, WEIR_AGG_TOPK);
	size_t used_at = 56 + (q.key_words + q.agg_words) * 8 + tk->blob_off + 8;
	uint32_t big = tk->param + 1;
	memcpy(b + used_at, &big, 4);
	cr_assert_eq(weir_table_restore(&q, r, b, len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "corrupt sketch"), "%s", err);
	/* a duplicate key: entry 1's key made entry 0's */
	memcpy(b, good, len);
	size_t eb = (q.key_words + q.agg_words) * 8 + q.blob_bytes;
	memcpy(b + 56 + eb, b + 56, q.key_words * 8);
	cr_assert_eq(weir_table_restore(&q, r, b, len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "duplicate"), "%s", err);
	cr_assert_eq(r->n_used, 0, "left empty on failure");
	/* the good one still restores */
	cr_assert_eq(weir_table_restore(&q, r, good, len, err, sizeof(err)), 0, "%s", err);
	same_table(&q, t, r);
	free(b), free(good), free(t), free(r);
}
