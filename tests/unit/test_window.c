/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Window shards, keys and the merger, on hand-built packet descriptors with
 * hand-computed expectations.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <rte_eal.h>

#include "weir_sketch.h"
#include "weir_window.h"

#include "test_eal.h"

#define SEC 1000000000ull


static struct weir_pkt v4(const char *src, const char *dst, uint8_t proto, uint16_t sp, uint16_t dp,
			  uint32_t len)
{
	struct weir_pkt p;
	unsigned a, b, c, d;

	memset(&p, 0, sizeof(p));
	p.ip_version = 4;
	p.proto = p.l4_proto = proto;
	sscanf(src, "%u.%u.%u.%u", &a, &b, &c, &d);
	p.src_ip[0] = a, p.src_ip[1] = b, p.src_ip[2] = c, p.src_ip[3] = d;
	sscanf(dst, "%u.%u.%u.%u", &a, &b, &c, &d);
	p.dst_ip[0] = a, p.dst_ip[1] = b, p.dst_ip[2] = c, p.dst_ip[3] = d;
	p.src_port = sp;
	p.dst_port = dp;
	p.flags = WEIR_PKT_F_L4;
	p.pkt_len = len;
	p.ip_bytes = len - 14;
	p.payload_len = len > 54 ? len - 54 : 0;
	return p;
}

static struct weir_query_conf qconf(const char *name, const enum weir_field *f, unsigned nf,
				    uint64_t size, uint32_t max_keys)
{
	struct weir_query_conf c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.n_group_by = nf;
	if (nf)
		memcpy(c.group_by, f, nf * sizeof(*f));
	c.window = WEIR_WINDOW_TUMBLING;
	c.size_ns = size;
	c.n_aggs = 3;
	char err[256];
	weir_agg_conf_parse("packets", &c.aggs[0], err, sizeof(err));
	weir_agg_conf_parse("bytes", &c.aggs[1], err, sizeof(err));
	weir_agg_conf_parse("ip_bytes", &c.aggs[2], err, sizeof(err));
	c.max_keys = max_keys;
	return c;
}

/* ---- keys --------------------------------------------------------------------------- */

Test(key, fields_and_missing_fields)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_PORT, WEIR_FIELD_PROTO};
	struct weir_query_conf c = qconf("k", f, 3, 60 * SEC, 16);
	struct weir_query q;
	struct weir_key k;
	char err[128];
	uint8_t ver, ip[16];

	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_pkt p = v4("10.0.0.1", "10.0.0.2", 6, 1234, 80, 100);
	cr_assert(weir_key_extract(&q, &p, NULL, 0, &k));
	weir_key_field_ip(&q, &k, 0, &ver, ip);
	cr_assert_eq(ver, 4);
	cr_assert_eq(ip[0], 10);
	cr_assert_eq(ip[3], 1);
	cr_assert_eq(weir_key_field_uint(&q, &k, 1), 80);
	cr_assert_eq(weir_key_field_uint(&q, &k, 2), 6);

	/* ICMP has no ports: a dst_port query does not count it */
	struct weir_pkt icmp = v4("10.0.0.1", "10.0.0.2", 1, 8, 0, 98);
	cr_assert_not(weir_key_extract(&q, &icmp, NULL, 0, &k));
	/* non-IP has no address */
	struct weir_pkt arp;
	memset(&arp, 0, sizeof(arp));
	cr_assert_not(weir_key_extract(&q, &arp, NULL, 0, &k));
}

Test(key, same_key_same_hash_different_key_differs)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP};
	struct weir_query_conf c = qconf("k", f, 2, 60 * SEC, 16);
	struct weir_query q;
	struct weir_key a, b, d;
	char err[128];

	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_pkt p1 = v4("1.2.3.4", "5.6.7.8", 6, 1, 2, 60);
	struct weir_pkt p2 = v4("1.2.3.4", "5.6.7.8", 17, 9, 9, 600); /* proto/ports not in key */
	struct weir_pkt p3 = v4("5.6.7.8", "1.2.3.4", 6, 1, 2, 60);
	cr_assert(weir_key_extract(&q, &p1, NULL, 0, &a));
	cr_assert(weir_key_extract(&q, &p2, NULL, 0, &b));
	cr_assert(weir_key_extract(&q, &p3, NULL, 0, &d));
	cr_assert_eq(memcmp(&a, &b, q.key_words * 8), 0);
	cr_assert_eq(weir_key_hash(&a, q.key_words), weir_key_hash(&b, q.key_words));
	cr_assert_neq(memcmp(&a, &d, q.key_words * 8), 0);
}

Test(key, v4_and_v6_with_same_bytes_differ)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};
	struct weir_query_conf c = qconf("k", f, 1, 60 * SEC, 16);
	struct weir_query q;
	struct weir_key a, b;
	char err[128];

	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_pkt p4 = v4("1.2.3.4", "5.6.7.8", 6, 1, 2, 60);
	struct weir_pkt p6 = p4;
	p6.ip_version = 6;
	cr_assert(weir_key_extract(&q, &p4, NULL, 0, &a));
	cr_assert(weir_key_extract(&q, &p6, NULL, 0, &b));
	cr_assert_neq(memcmp(&a, &b, q.key_words * 8), 0, "hidden ip_version byte keeps them apart");
}

Test(key, global_group_and_vlan)
{
	enum weir_field fv[] = {WEIR_FIELD_VLAN};
	struct weir_query_conf g = qconf("g", NULL, 0, 60 * SEC, 16);
	struct weir_query_conf cv = qconf("v", fv, 1, 60 * SEC, 16);
	struct weir_query qg, qv;
	struct weir_key k;
	char err[128];

	cr_assert_eq(weir_query_compile(&qg, &g, 0, err, sizeof(err)), 0);
	cr_assert_eq(weir_query_compile(&qv, &cv, 1, err, sizeof(err)), 0);
	struct weir_pkt p = v4("1.2.3.4", "5.6.7.8", 6, 1, 2, 60);
	cr_assert(weir_key_extract(&qg, &p, NULL, 0, &k), "global group takes everything");
	cr_assert_not(weir_key_extract(&qv, &p, NULL, 0, &k), "untagged packet has no vlan");
	p.n_vlan = 1;
	p.vlan = 100;
	cr_assert(weir_key_extract(&qv, &p, NULL, 0, &k));
	cr_assert_eq(weir_key_field_uint(&qv, &k, 0), 100);
}

/* ---- tables ------------------------------------------------------------------------ */

static struct weir_table *new_table(const struct weir_query *q, uint32_t max_keys)
{
	void *mem = calloc(1, weir_table_size(q, max_keys));
	return weir_table_init(mem, q, max_keys);
}

Test(table, upsert_full_and_reset)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_PORT};
	struct weir_query_conf c = qconf("t", f, 1, 60 * SEC, 16);
	struct weir_query q;
	char err[128];

	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_table *t = new_table(&q, 16);
	for (unsigned i = 0; i < 20; i++) {
		struct weir_pkt p = v4("1.1.1.1", "2.2.2.2", 6, (uint16_t)(i % 18), 80, 60);
		struct weir_key k;
		cr_assert(weir_key_extract(&q, &p, NULL, 0, &k));
		uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, q.key_words));
		if (i < 16)
			cr_assert_not_null(a, "key %u fits", i);
		else if (i < 18)
			cr_assert_null(a, "table of 16 is full at key %u", i);
		else
			cr_assert_not_null(a, "existing key %u still found when full", i);
		if (a)
			a[0]++;
	}
	cr_assert_eq(t->n_used, 16);
	cr_assert_eq(weir_table_aggs(t, 0)[0], 2, "port 0 counted twice (i=0 and 18)");
	weir_table_reset(t);
	cr_assert_eq(t->n_used, 0);
	for (uint32_t s = 0; s <= t->mask; s++)
		cr_assert_eq(t->hashes[s], 0);
	free(t);
}

/* Address keys hold the IP version: their tables find empty slots by an all-zero key, not by tags. */
Test(table, address_keys_probe_entries_alone)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP};
	enum weir_field fp[] = {WEIR_FIELD_SRC_PORT};
	struct weir_query_conf c = qconf("a", f, 2, 60 * SEC, 16), cp = qconf("p", fp, 1, 60 * SEC, 16);
	struct weir_query q, qp;
	char err[128];

	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	cr_assert_eq(weir_query_compile(&qp, &cp, 1, err, sizeof(err)), 0);
	cr_assert(q.keys_nonzero);
	cr_assert_not(qp.keys_nonzero, "a port key can be all zero (port 0)");
	struct weir_table *t = new_table(&q, 16), *tp = new_table(&qp, 16);
	cr_assert(t->tagless);
	cr_assert_not(tp->tagless);
	/* 16 keys in 32 slots collide; each is found again, the 17th does not fit */
	for (unsigned round = 0; round < 2; round++)
		for (unsigned i = 0; i < 17; i++) {
			char src[32];
			snprintf(src, sizeof(src), "10.0.%u.1", i);
			struct weir_pkt p = v4(src, "2.2.2.2", 6, 1, 2, 60);
			struct weir_key k;
			cr_assert(weir_key_extract(&q, &p, NULL, 0, &k));
			uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, q.key_words));
			if (i == 16) {
				cr_assert_null(a, "the table of 16 is full");
				continue;
			}
			cr_assert_not_null(a, "key %u", i);
			cr_assert_eq(a[0], round, "key %u found once per round", i);
			a[0]++;
		}
	cr_assert_eq(t->n_used, 16);
	cr_assert_null(t->hashes, "a tagless table has no tags");
	struct weir_query qt = q;
	qt.keys_nonzero = false;
	cr_assert_eq(weir_table_size(&qt, 16) - weir_table_size(&q, 16), 32 * 4,
		     "nor room for them: 32 slots' tags");
	weir_table_reset(t);
	cr_assert_eq(t->n_used, 0);
	free(t), free(tp);
}

Test(table, merge_equals_aggregate_of_concatenation)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_PORT};
	struct weir_query_conf c = qconf("m", f, 2, 60 * SEC, 1024);
	struct weir_query q;
	char err[128];
	uint32_t seed = 12345;

	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_table *a = new_table(&q, 1024), *b = new_table(&q, 1024);
	struct weir_table *all = new_table(&q, 1024), *m = new_table(&q, 1024);
	for (unsigned i = 0; i < 5000; i++) {
		seed = seed * 1103515245u + 12345u;
		char src[32];
		snprintf(src, sizeof(src), "10.0.%u.%u", (seed >> 8) % 4, (seed >> 16) % 50);
		struct weir_pkt p = v4(src, "9.9.9.9", 17, 5, (uint16_t)(seed % 3), 60 + seed % 1400);
		struct weir_key k;
		cr_assert(weir_key_extract(&q, &p, NULL, 0, &k));
		uint32_t h = weir_key_hash(&k, q.key_words);
		uint64_t *x = weir_table_upsert(i % 3 ? a : b, &k, h), *y = weir_table_upsert(all, &k, h);
		x[0]++, y[0]++;
		x[1] += p.pkt_len, y[1] += p.pkt_len;
	}
	cr_assert_eq(weir_table_merge(&q, m, a), 0);
	cr_assert_eq(weir_table_merge(&q, m, b), 0);
	cr_assert_eq(m->n_used, all->n_used);
	for (uint32_t i = 0; i < all->n_used; i++) {
		struct weir_key k;
		memcpy(&k, weir_table_key(all, i), sizeof(k));
		uint64_t *x = weir_table_upsert(m, &k, weir_key_hash(&k, q.key_words));
		cr_assert_eq(m->n_used, all->n_used, "no new key appeared");
		cr_assert_eq(x[0], weir_table_aggs(all, i)[0]);
		cr_assert_eq(x[1], weir_table_aggs(all, i)[1]);
	}
	free(a), free(b), free(all), free(m);
}

/* ---- window set: sealing, merging, emitting ----------------------------------------- */

struct emitted {
	unsigned n;
	uint64_t start[128], end[128], packets[128], bytes[128], keys[128];
	bool final[128], late[128];
	char query[128][16];
};

static void collect(void *ctx, const struct weir_window_result *r)
{
	struct emitted *e = ctx;
	const struct weir_table *t = r->t;
	const struct weir_query *q = r->q;
	uint64_t p = 0, b = 0, start = r->start, end = r->end;

	for (uint32_t i = 0; i < t->n_used; i++) {
		p += weir_table_aggs(t, i)[0];
		b += weir_table_aggs(t, i)[1];
	}
	if (t->has_other) {
		p += t->other[t->key_words];
		b += t->other[t->key_words + 1];
	}
	cr_assert_lt(e->n, 128);
	e->start[e->n] = start;
	e->end[e->n] = end;
	e->packets[e->n] = p;
	e->bytes[e->n] = b;
	e->keys[e->n] = t->n_used;
	e->final[e->n] = r->final;
	e->late[e->n] = r->late;
	snprintf(e->query[e->n], sizeof(e->query[0]), "%.15s", q->conf.name);
	e->n++;
}

static struct weir_config *one_query_config(uint64_t size, uint32_t max_keys)
{
	static struct weir_config cfg;
	enum weir_field f[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP, WEIR_FIELD_PROTO};

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queries = 1;
	cfg.queries[0] = qconf("hp", f, 3, size, max_keys);
	return &cfg;
}

static void feed(struct weir_window_worker *w, struct weir_pkt *p, uint64_t ts)
{
	const struct weir_pkt *pp = p;
	struct weir_burst_meta m = {.ts = &ts};
	weir_window_update_burst(w, &pp, 1, &m);
}

Test(window, tumbling_boundaries_one_worker, .init = eal_up, .fini = eal_down)
{
	char err[256];
	struct weir_window_set *s = weir_window_set_create(one_query_config(60 * SEC, 64), 1, err,
							   sizeof(err));
	cr_assert_not_null(s, "%s", err);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct weir_pkt b = v4("3.3.3.3", "2.2.2.2", 17, 1, 2, 200);
	struct emitted e = {0};

	feed(w, &a, 120 * SEC);            /* window [120,180) */
	feed(w, &b, 179 * SEC + 999999999);/* last ns of [120,180) */
	feed(w, &a, 180 * SEC);            /* first ns of [180,240) */
	weir_window_advance(w, 150 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 0, "nothing closed before 180 s");
	weir_window_advance(w, 180 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 1);
	cr_assert_eq(e.start[0], 120 * SEC);
	cr_assert_eq(e.end[0], 180 * SEC);
	cr_assert_eq(e.packets[0], 2);
	cr_assert_eq(e.bytes[0], 300);
	cr_assert_eq(e.keys[0], 2);
	/* late: its window is sealed */
	feed(w, &b, 170 * SEC);
	cr_assert_eq(weir_window_qdrop(w, 0, WEIR_QDROP_LATE), 1);
	weir_window_advance(w, UINT64_MAX);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 1);
	cr_assert_eq(e.start[1], 180 * SEC);
	cr_assert_eq(e.packets[1], 1);
	weir_window_set_free(s);
}

Test(window, two_workers_merge_and_wait_for_slowest, .init = eal_up, .fini = eal_down)
{
	char err[256];
	struct weir_window_set *s = weir_window_set_create(one_query_config(10 * SEC, 64), 2, err,
							   sizeof(err));
	cr_assert_not_null(s, "%s", err);
	struct weir_window_worker *w0 = weir_window_worker_get(s, 0), *w1 = weir_window_worker_get(s, 1);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct weir_pkt b = v4("3.3.3.3", "4.4.4.4", 6, 1, 2, 1000);
	struct emitted e = {0};

	feed(w0, &a, 5 * SEC);
	feed(w0, &a, 6 * SEC);
	feed(w1, &a, 7 * SEC);   /* same key on the other worker: merged */
	feed(w1, &b, 8 * SEC);
	weir_window_advance(w0, 30 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 0, "worker 1 has not sealed [0,10)");
	weir_window_advance(w1, 10 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 1);
	cr_assert_eq(e.packets[0], 4);
	cr_assert_eq(e.bytes[0], 1300);
	cr_assert_eq(e.keys[0], 2, "a's shards from both workers merged into one key");
	weir_window_set_free(s);
}

Test(window, shards_recycled_over_many_windows, .init = eal_up, .fini = eal_down)
{
	char err[256];
	struct weir_window_set *s = weir_window_set_create(one_query_config(1 * SEC, 64), 1, err,
							   sizeof(err));
	cr_assert_not_null(s, "%s", err);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};
	unsigned got = 0;

	/* 50 windows but only WEIR_WINDOW_SHARDS shards: the merger must hand them back. */
	for (unsigned i = 0; i < 50; i++) {
		feed(w, &a, (uint64_t)i * SEC + 1);
		weir_window_advance(w, (uint64_t)i * SEC + 1);
		e.n = 0;
		got += weir_window_merge_poll(s, collect, &e);
	}
	weir_window_advance(w, UINT64_MAX);
	e.n = 0;
	got += weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(got, 50);
	weir_window_set_free(s);
}

struct merger_thread {
	struct weir_window_set *s;
	struct emitted *e;
	int stop;
};

static void *merger_loop(void *arg)
{
	struct merger_thread *m = arg;

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE))
		if (weir_window_merge_poll(m->s, collect, m->e) == 0)
			usleep(100);
	return NULL;
}

Test(window, out_of_order_beyond_shards_ships_oldest_early, .init = eal_up, .fini = eal_down)
{
	char err[256];
	struct weir_window_set *s = weir_window_set_create(one_query_config(1 * SEC, 64), 1, err,
							   sizeof(err));
	cr_assert_not_null(s, "%s", err);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};

	struct merger_thread m = {.s = s, .e = &e};
	pthread_t th;

	/* The merger runs beside the worker, as in weir: it hands sealed shards back. */
	cr_assert_eq(pthread_create(&th, NULL, merger_loop, &m), 0);
	/* No watermark advance: windows 0..SHARDS-1 open, then one more ships window 0's shard. */
	for (unsigned i = 0; i <= WEIR_WINDOW_SHARDS; i++)
		feed(w, &a, (uint64_t)i * SEC);
	feed(w, &a, 0); /* window 0 is still open: a fresh shard, merged with the first */
	cr_assert_eq(weir_window_qdrop(w, 0, WEIR_QDROP_LATE), 0);
	weir_window_advance(w, UINT64_MAX);
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, WEIR_WINDOW_SHARDS + 1);
	for (unsigned i = 0; i < e.n; i++) {
		cr_assert_eq(e.start[i], (uint64_t)i * SEC, "emitted in window order");
		cr_assert_eq(e.packets[i], i == 0 ? 2 : 1);
	}
	weir_window_set_free(s);
}

Test(window, overflow_counted_not_crashing, .init = eal_up, .fini = eal_down)
{
	char err[256];
	struct weir_window_set *s = weir_window_set_create(one_query_config(60 * SEC, 16), 1, err,
							   sizeof(err));
	cr_assert_not_null(s, "%s", err);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct emitted e = {0};

	for (unsigned i = 0; i < 20; i++) {
		char src[32];
		snprintf(src, sizeof(src), "10.0.0.%u", i);
		struct weir_pkt p = v4(src, "2.2.2.2", 6, 1, 2, 100);
		feed(w, &p, SEC);
	}
	cr_assert_eq(weir_window_qdrop(w, 0, WEIR_QDROP_OVERFLOW), 4);
	weir_window_advance(w, UINT64_MAX);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.keys[0], 16);
	cr_assert_eq(e.packets[0], 20, "the 4 keys beyond max_keys count in _other: totals exact");
	weir_window_set_free(s);
}

/* ---- stream semantics: sliding, session, lateness, partials ----------------------- */

static struct weir_config *config_of(struct weir_query_conf c)
{
	static struct weir_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queries = 1;
	cfg.queries[0] = c;
	return &cfg;
}

static struct weir_window_set *set_of(struct weir_query_conf c, unsigned workers)
{
	char err[256];
	struct weir_window_set *s = weir_window_set_create(config_of(c), workers, err, sizeof(err));

	cr_assert_not_null(s, "%s", err);
	return s;
}

Test(window, sliding_windows_overlap_and_align_to_slide, .init = eal_up, .fini = eal_down)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};
	struct weir_query_conf c = qconf("sl", f, 1, 30 * SEC, 64);
	c.window = WEIR_WINDOW_SLIDING;
	c.slide_ns = 10 * SEC;
	struct weir_window_set *s = set_of(c, 1);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};

	/* packets at 25 s and 41 s: windows are [k*10, k*10+30) */
	feed(w, &a, 25 * SEC);
	feed(w, &a, 41 * SEC);
	weir_window_advance(w, UINT64_MAX);
	weir_window_merge_poll(s, collect, &e);
	/* 25 s is in [0,30) [10,40) [20,50); 41 s in [20,50) [30,60) [40,70) */
	uint64_t want_start[] = {0, 10, 20, 30, 40};
	uint64_t want_pk[] = {1, 1, 2, 1, 1};
	cr_assert_eq(e.n, 5);
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(e.start[i], want_start[i] * SEC, "window %u starts at %lu", i,
			     (unsigned long)(e.start[i] / SEC));
		cr_assert_eq(e.end[i], e.start[i] + 30 * SEC);
		cr_assert_eq(e.packets[i], want_pk[i], "window %u", i);
		cr_assert(e.final[i]);
	}
	weir_window_set_free(s);
}

Test(window, sliding_windows_close_with_the_watermark, .init = eal_up, .fini = eal_down)
{
	struct weir_query_conf c = qconf("sl", NULL, 0, 20 * SEC, 64);
	c.window = WEIR_WINDOW_SLIDING;
	c.slide_ns = 5 * SEC;
	struct weir_window_set *s = set_of(c, 1);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};

	feed(w, &a, 3 * SEC);
	weir_window_advance(w, 19 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 0, "[0,20) still open at 19 s");
	weir_window_advance(w, 20 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 1, "[0,20) closes at 20 s");
	cr_assert_eq(e.start[0], 0);
	weir_window_set_free(s);
}

/* Session rows: each is its own window [first, last + gap). */
struct sessions {
	unsigned n;
	uint64_t start[32], end[32], packets[32];
	bool late[32];
};

static void collect_sessions(void *ctx, const struct weir_window_result *r)
{
	struct sessions *ss = ctx;

	for (uint32_t i = 0; i < r->t->n_used; i++) {
		cr_assert_lt(ss->n, 32);
		weir_window_row_bounds(r, i, false, &ss->start[ss->n], &ss->end[ss->n]);
		ss->packets[ss->n] = weir_table_aggs(r->t, i)[0];
		ss->late[ss->n] = r->late;
		ss->n++;
	}
}

static struct weir_query_conf session_conf(uint64_t gap, uint64_t max)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};
	struct weir_query_conf c = qconf("se", f, 1, 0, 64);
	c.window = WEIR_WINDOW_SESSION;
	c.gap_ns = c.size_ns = gap;
	c.max_ns = max;
	return c;
}

Test(window, sessions_split_on_gap_and_merge_across_workers, .init = eal_up, .fini = eal_down)
{
	struct weir_window_set *s = set_of(session_conf(10 * SEC, 0), 2);
	struct weir_window_worker *w0 = weir_window_worker_get(s, 0), *w1 = weir_window_worker_get(s, 1);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct sessions ss = {0};

	/* one key on two workers: 1 s, 8 s (w0), 15 s (w1) chain into one session
	 * (gaps 7 s, 7 s < 10 s); 26 s (w0) is 11 s after 15 s: a new one. 35.999 s
	 * joins it (9.999 s gap), and exactly 10 s after 35.999 s splits again. */
	feed(w0, &a, 1 * SEC);
	feed(w0, &a, 8 * SEC);
	feed(w1, &a, 15 * SEC);
	feed(w0, &a, 26 * SEC);
	feed(w1, &a, 35999 * SEC / 1000);
	feed(w1, &a, 45999 * SEC / 1000);
	weir_window_advance(w0, 30 * SEC);
	weir_window_advance(w1, 30 * SEC);
	weir_window_merge_poll(s, collect_sessions, &ss);
	cr_assert_eq(ss.n, 1, "the first session ended at 25 s");
	cr_assert_eq(ss.start[0], 1 * SEC);
	cr_assert_eq(ss.end[0], 25 * SEC);
	cr_assert_eq(ss.packets[0], 3, "packets of both workers in one session");
	weir_window_advance(w0, UINT64_MAX);
	weir_window_advance(w1, UINT64_MAX);
	weir_window_merge_poll(s, collect_sessions, &ss);
	cr_assert_eq(ss.n, 3, "%u sessions: %lu..%lu %lu, %lu..%lu", ss.n, ss.start[1] / 1000000, ss.end[1] / 1000000, ss.packets[1], ss.start[ss.n - 1] / 1000000, ss.end[ss.n - 1] / 1000000);
	cr_assert_eq(ss.start[1], 26 * SEC);
	cr_assert_eq(ss.end[1], 45999 * SEC / 1000);
	cr_assert_eq(ss.packets[1], 2);
	cr_assert_eq(ss.start[2], 45999 * SEC / 1000);
	cr_assert_eq(ss.packets[2], 1, "a gap of exactly `gap` starts a new session (half-open)");
	weir_window_set_free(s);
}

Test(window, session_max_length_starts_a_new_session, .init = eal_up, .fini = eal_down)
{
	struct weir_window_set *s = set_of(session_conf(10 * SEC, 30 * SEC), 1);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct sessions ss = {0};

	for (unsigned t = 100; t < 160; t += 5) /* a packet every 5 s for a minute */
		feed(w, &a, (uint64_t)t * SEC);
	weir_window_advance(w, UINT64_MAX);
	weir_window_merge_poll(s, collect_sessions, &ss);
	cr_assert_eq(ss.n, 2, "max 30 s cuts the minute in two (at pane granularity): %u, %lu %lu", ss.n, ss.packets[0], ss.packets[1]);
	cr_assert_eq(ss.packets[0] + ss.packets[1], 12);
	cr_assert_eq(ss.packets[0], 6, "100..125 s: the pane starting at 130 s opens a new session");
	weir_window_set_free(s);
}

Test(window, out_of_order_within_the_bound_counts, .init = eal_up, .fini = eal_down)
{
	struct weir_window_set *s = set_of(qconf("t", NULL, 0, 10 * SEC, 64), 1);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};
	uint64_t delay = 2 * SEC;

	/* the pipeline advances to max_ts - delay after each burst */
	feed(w, &a, 11 * SEC);
	weir_window_advance(w, weir_window_max_ts(w) - delay);
	feed(w, &a, 9 * SEC); /* 2 s behind the newest: within the bound */
	weir_window_advance(w, weir_window_max_ts(w) - delay);
	feed(w, &a, 12 * SEC + 1);
	weir_window_advance(w, weir_window_max_ts(w) - delay);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.packets[0], 1, "the 9 s packet counted in [0,10)");
	cr_assert_eq(weir_window_qdrop(w, 0, WEIR_QDROP_LATE), 0);
	weir_window_set_free(s);
}

Test(window, late_within_lateness_reemits_beyond_it_drops, .init = eal_up, .fini = eal_down)
{
	struct weir_query_conf c = qconf("t", NULL, 0, 10 * SEC, 64);
	c.lateness_ns = 5 * SEC;
	struct weir_window_set *s = set_of(c, 1);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};

	feed(w, &a, 5 * SEC);
	weir_window_advance(w, 12 * SEC);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.packets[0], 1);
	cr_assert_not(e.late[0]);
	feed(w, &a, 6 * SEC); /* window closed at 10 s; 12 < 10 + 5: allowed */
	weir_window_advance(w, 12 * SEC);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, 2, "re-emitted");
	cr_assert_eq(e.start[1], 0);
	cr_assert_eq(e.packets[1], 2, "the update holds the window's whole count");
	cr_assert(e.late[1] && e.final[1]);
	weir_window_advance(w, 15 * SEC);
	feed(w, &a, 7 * SEC); /* 15 >= 10 + 5: too late */
	cr_assert_eq(weir_window_qdrop(w, 0, WEIR_QDROP_LATE), 1);
	weir_window_advance(w, UINT64_MAX);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, 2, "nothing more");
	weir_window_set_free(s);
}

Test(window, idle_worker_advanced_closes_windows, .init = eal_up, .fini = eal_down)
{
	struct weir_window_set *s = set_of(qconf("t", NULL, 0, 10 * SEC, 64), 2);
	struct weir_window_worker *w0 = weir_window_worker_get(s, 0), *w1 = weir_window_worker_get(s, 1);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};

	feed(w0, &a, 5 * SEC);
	weir_window_advance(w0, 20 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 0, "worker 1 holds the watermark");
	/* the pipeline advances an idle worker to its peers' event time */
	weir_window_advance(w1, 20 * SEC);
	cr_assert_eq(weir_window_merge_poll(s, collect, &e), 1);
	weir_window_set_free(s);
}

Test(window, partial_results_every_then_final, .init = eal_up, .fini = eal_down)
{
	struct weir_query_conf c = qconf("t", NULL, 0, 60 * SEC, 64);
	c.emit_every_ns = 10 * SEC;
	struct weir_window_set *s = set_of(c, 1);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 6, 1, 2, 100);
	struct emitted e = {0};

	for (unsigned t = 1; t < 30; t += 12) { /* packets at 1 s, 13 s and 25 s */
		feed(w, &a, t * SEC);
		weir_window_advance(w, t * SEC);
		weir_window_merge_poll(s, collect, &e);
	}
	weir_window_advance(w, UINT64_MAX);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(e.n, 3, "partials at 10 s and 20 s, then the final");
	cr_assert(!e.final[0] && !e.final[1] && e.final[2]);
	cr_assert_eq(e.packets[0], 2, "at the 10 s boundary: everything sealed so far");
	cr_assert_eq(e.packets[1], 3);
	cr_assert_eq(e.packets[2], 3, "the final counts every packet once");
	weir_window_set_free(s);
}

Test(window, sketch_aggregates_and_having, .init = eal_up, .fini = eal_down)
{
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};
	struct weir_query_conf c = qconf("scan", f, 1, 60 * SEC, 64);
	char err[512];
	c.n_aggs = 5;
	cr_assert_eq(weir_agg_conf_parse("distinct(dst_port)", &c.aggs[0], err, sizeof(err)), 0);
	cr_assert_eq(weir_agg_conf_parse("topk(dst_port, 2)", &c.aggs[1], err, sizeof(err)), 0);
	cr_assert_eq(weir_agg_conf_parse("min(length)", &c.aggs[2], err, sizeof(err)), 0);
	cr_assert_eq(weir_agg_conf_parse("max(length)", &c.aggs[3], err, sizeof(err)), 0);
	cr_assert_eq(weir_agg_conf_parse("avg(length)", &c.aggs[4], err, sizeof(err)), 0);
	cr_assert_eq(weir_having_parse("distinct(dst_port) > 50 and min(length) >= 60", &c,
				       &c.having, err, sizeof(err)), 0, "%s", err);
	struct weir_query q;
	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_table *t = new_table(&q, 64);
	/* 1.1.1.1 probes 100 ports once and port 80 ten more times; 2.2.2.2 two ports */
	for (unsigned i = 0; i < 112; i++) {
		bool scanner = i < 110;
		uint16_t port = i < 100 ? (uint16_t)(1000 + i) : i < 110 ? 80 : (uint16_t)(i - 110);
		struct weir_pkt p = v4(scanner ? "1.1.1.1" : "2.2.2.2", "9.9.9.9", 6, 5, port,
				       scanner ? 60 + i % 10 : 40);
		uint64_t ts = SEC;
		struct weir_burst_meta m = {.ts = &ts};
		struct weir_key k;
		cr_assert(weir_key_extract(&q, &p, &m, 0, &k));
		uint64_t *a = weir_table_upsert(t, &k, weir_key_hash(&k, q.key_words));
		weir_agg_update(&q, a, weir_table_blob(t, a), &p, &m, 0);
	}
	cr_assert_eq(t->n_used, 2);
	const uint64_t *sa = weir_table_aggs(t, 0), *sb = weir_table_aggs(t, 1);
	const uint8_t *ba = weir_table_blob(t, sa), *bb = weir_table_blob(t, sb);
	double d = weir_agg_value(&q, 0, 0, sa, ba);
	cr_assert(d > 101 * 0.95 && d < 101 * 1.05, "distinct ports ~101, got %f", d);
	cr_assert_eq((int)(weir_agg_value(&q, 0, 0, sb, bb) + 0.5), 2, "small sets are exact");
	cr_assert_eq(weir_agg_value(&q, 2, 0, sa, ba), 60);
	cr_assert_eq(weir_agg_value(&q, 3, 0, sa, ba), 69);
	cr_assert_float_eq(weir_agg_value(&q, 4, 0, sb, bb), 40.0, 1e-9);
	cr_assert(weir_having_eval(&q, sa, ba), "scanner: > 50 ports and min 60");
	cr_assert_not(weir_having_eval(&q, sb, bb));
	struct weir_topk_counter top[64];
	unsigned n = weir_topk_list(ba + q.slot[1].blob_off, q.slot[1].param, top);
	cr_assert_geq(n, 1);
	uint64_t port;
	memcpy(&port, top[0].item, 8);
	cr_assert_eq(port, 80, "port 80 is the heaviest");
	cr_assert(top[0].count - top[0].error <= 10 && 10 <= top[0].count,
		  "Space-Saving bound: %lu - %lu <= 10 <= %lu", top[0].count, top[0].error, top[0].count);
	free(t);
}

/* merge(a, b) == aggregate(a ++ b): exact for counters and sketches that merge exactly. */
Test(window, every_aggregate_merges_like_one_pass)
{
	static const char *const aggs[] = {
		"packets", "bytes", "sum(payload_len)", "min(length)", "max(ttl)", "avg(length)",
		"distinct(dst_port)", "topk(dst_port, 3)", "quantiles(length)", "first_ts",
		"last_ts", "flag_counts", "ip_bytes", "payload_bytes",
	};
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};
	struct weir_query_conf c = qconf("m", f, 1, 60 * SEC, 64);
	char err[512];
	c.n_aggs = sizeof(aggs) / sizeof(aggs[0]);
	for (unsigned i = 0; i < c.n_aggs; i++)
		cr_assert_eq(weir_agg_conf_parse(aggs[i], &c.aggs[i], err, sizeof(err)), 0, "%s", err);
	struct weir_query q;
	cr_assert_eq(weir_query_compile(&q, &c, 0, err, sizeof(err)), 0);
	struct weir_table *a = new_table(&q, 64), *b = new_table(&q, 64), *all = new_table(&q, 64);
	struct weir_table *m = new_table(&q, 64);
	uint32_t seed = 7;
	for (unsigned i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		char src[32];
		snprintf(src, sizeof(src), "10.0.0.%u", seed % 5);
		uint16_t port = (seed >> 8) % 2 ? 443 : (uint16_t)((seed >> 12) % 3000);
		struct weir_pkt p = v4(src, "9.9.9.9", 6, 5, port, 60 + (seed >> 16) % 1440);
		p.ttl = (uint8_t)(seed >> 24);
		p.tcp_flags = (uint8_t)(seed >> 5);
		uint64_t ts = SEC + (seed % 1000) * 1000000ull;
		struct weir_burst_meta meta = {.ts = &ts};
		struct weir_key k;
		cr_assert(weir_key_extract(&q, &p, &meta, 0, &k));
		uint32_t h = weir_key_hash(&k, q.key_words);
		struct weir_table *half = i % 3 ? a : b;
		uint64_t *x = weir_table_upsert(half, &k, h), *y = weir_table_upsert(all, &k, h);
		weir_agg_update(&q, x, weir_table_blob(half, x), &p, &meta, 0);
		weir_agg_update(&q, y, weir_table_blob(all, y), &p, &meta, 0);
	}
	weir_table_merge(&q, m, a);
	weir_table_merge(&q, m, b);
	cr_assert_eq(m->n_used, all->n_used);
	for (uint32_t i = 0; i < all->n_used; i++) {
		struct weir_key k;
		memcpy(&k, weir_table_key(all, i), sizeof(k));
		const uint64_t *want = weir_table_aggs(all, i);
		const uint64_t *got = weir_table_upsert(m, &k, weir_key_hash(&k, q.key_words));
		const uint8_t *wb = weir_table_blob(all, want), *gb = weir_table_blob(m, got);
		for (unsigned g = 0; g < q.n_aggs; g++) {
			if (q.slot[g].kind == WEIR_AGG_TOPK)
				continue; /* Space-Saving merges within its bound: below */
			for (unsigned r = 0; r < 3; r++)
				cr_assert_float_eq(weir_agg_value(&q, g, r, got, gb),
						   weir_agg_value(&q, g, r, want, wb), 1e-9, "%s", aggs[g]);
		}
		cr_assert_eq(memcmp(got, want, q.agg_words * 8), 0, "inline words equal");
		const struct weir_agg_slot *hll = &q.slot[6], *qs = &q.slot[8], *tk = &q.slot[7];
		cr_assert_eq(memcmp(gb + hll->blob_off, wb + hll->blob_off, weir_hll_bytes(hll->param)), 0);
		cr_assert_eq(memcmp(gb + qs->blob_off, wb + qs->blob_off, weir_quant_bytes()), 0);
		struct weir_topk_counter tg[128], tw[128];
		unsigned ng = weir_topk_list(gb + tk->blob_off, tk->param, tg);
		unsigned nw = weir_topk_list(wb + tk->blob_off, tk->param, tw);
		cr_assert(ng > 0 && nw > 0);
		uint64_t port_g, port_w;
		memcpy(&port_g, tg[0].item, 8);
		memcpy(&port_w, tw[0].item, 8);
		cr_assert_eq(port_g, 443, "the heavy hitter survives the merge");
		cr_assert_eq(port_w, 443);
		cr_assert_eq(weir_topk_total(gb + tk->blob_off), want[0], "every packet weighed");
	}
	free(a), free(b), free(all), free(m);
}

/* Shipping a shard early for one query must not make another query's packets late. */
Test(window, early_shipping_leaves_other_queries_alone, .init = eal_up, .fini = eal_down)
{
	static struct weir_config cfg;
	char err[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queries = 2;
	cfg.queries[0] = qconf("q0", NULL, 0, 10 * SEC, 64);
	cfg.queries[1] = qconf("q1", NULL, 0, 60 * SEC, 64);
	struct weir_window_set *s = weir_window_set_create(&cfg, 1, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt a = v4("1.1.1.1", "2.2.2.2", 17, 1, 2, 100);
	struct emitted e = {0};
	struct merger_thread m = {.s = s, .e = &e};
	pthread_t th;
	const struct weir_pkt *pk[64];
	uint64_t ts[64];

	/* one burst of 64 packets 10 s apart: q0 needs 64 panes, more than its shards */
	for (unsigned i = 0; i < 64; i++) {
		pk[i] = &a;
		ts[i] = (uint64_t)(i + 1) * 10 * SEC;
	}
	struct weir_burst_meta meta = {.ts = ts};
	cr_assert_eq(pthread_create(&th, NULL, merger_loop, &m), 0);
	weir_window_update_burst(w, pk, 64, &meta);
	weir_window_advance(w, UINT64_MAX);
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	weir_window_merge_poll(s, collect, &e);
	cr_assert_eq(weir_window_qdrop(w, 0, WEIR_QDROP_LATE), 0);
	cr_assert_eq(weir_window_qdrop(w, 1, WEIR_QDROP_LATE), 0);
	uint64_t q0 = 0, q1 = 0;
	for (unsigned i = 0; i < e.n; i++)
		*(strcmp(e.query[i], "q0") == 0 ? &q0 : &q1) += e.packets[i];
	cr_assert_eq(q0, 64);
	cr_assert_eq(q1, 64);
	weir_window_set_free(s);
}

/*
 * The data path (keys from the burst's fields, inline-word ops) against the
 * plain reference (weir_key_extract, weir_agg_update), packet by packet:
 * every group-by field kind, prefixes, meta fields, every aggregate.
 */
static struct weir_table *emitted_copy;
static void keep_table(void *ctx, const struct weir_window_result *r)
{
	size_t sz = weir_table_size(r->q, r->t->max_keys);
	(void)ctx;
	emitted_copy = weir_table_init(calloc(1, sz), r->q, r->t->max_keys);
	weir_table_merge(r->q, emitted_copy, r->t);
}

static void burst_path_check(const char *const *aggs, unsigned n_aggs, bool plain)
{
	static const enum weir_field gb[][4] = {
		{WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_PORT, WEIR_FIELD_PROTO, WEIR_FIELD__COUNT},
		{WEIR_FIELD_DST_IP, WEIR_FIELD_TCP_FLAGS, WEIR_FIELD_TTL, WEIR_FIELD_VLAN},
		{WEIR_FIELD_FLOW_ID, WEIR_FIELD_DIRECTION, WEIR_FIELD_SRC_LABEL, WEIR_FIELD_DST_NAME},
		{WEIR_FIELD_IP_VERSION, WEIR_FIELD_LENGTH, WEIR_FIELD__COUNT},
		/* whole addresses: a host pair (one copy), and the pair the other way round */
		{WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_IP, WEIR_FIELD_PROTO, WEIR_FIELD__COUNT},
		{WEIR_FIELD_DST_IP, WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_PORT, WEIR_FIELD__COUNT},
	};
	static const bool pair[] = {false, false, false, false, true, false};
	char err[512];

	for (unsigned g = 0; g < sizeof(gb) / sizeof(gb[0]); g++) {
		struct weir_query_conf c = qconf("ref", NULL, 0, 3600 * SEC, 4096);
		for (unsigned f = 0; f < 4 && gb[g][f] != WEIR_FIELD__COUNT; f++) {
			c.group_by[c.n_group_by] = gb[g][f];
			if (gb[g][f] == WEIR_FIELD_SRC_IP && g < 4) {
				c.prefix4[c.n_group_by] = 24;
				c.prefix6[c.n_group_by] = 48;
			}
			c.n_group_by++;
		}
		c.n_aggs = n_aggs;
		for (unsigned i = 0; i < c.n_aggs; i++)
			cr_assert_eq(weir_agg_conf_parse(aggs[i], &c.aggs[i], err, sizeof(err)), 0);
		struct weir_window_set *s = set_of(c, 1);
		struct weir_window_worker *w = weir_window_worker_get(s, 0);
		const struct weir_query *q = weir_window_set_query(s, 0);
		cr_assert_eq(q->plain_adds, plain, "%s: the plain form or not", aggs[0]);
		cr_assert_eq(q->ip_pair >= 0, pair[g], "group %u: one copy for the host pair or not", g);
		struct weir_table *ref = new_table(q, 4096);
		struct weir_pkt pk[64];
		const struct weir_pkt *pp[64];
		uint64_t ts[64], flow[64], name[64];
		uint8_t dir[64];
		uint32_t lab[64];
		uint32_t seed = 99 + g;
		for (unsigned b = 0; b < 20; b++) {
			for (unsigned i = 0; i < 64; i++) {
				seed = seed * 1103515245u + 12345u;
				char src[48];
				if (seed % 7 == 0)
					snprintf(src, sizeof(src), "2001:db8:%x::%x", (seed >> 8) % 5, (seed >> 4) % 3);
				else
					snprintf(src, sizeof(src), "10.%u.%u.%u", (seed >> 8) % 3, (seed >> 12) % 3, (seed >> 16) % 4);
				const char *dst = seed % 7 == 0 ? "2001:db8::1" : "9.9.9.9";
				pk[i] = v4(src, dst, seed % 3 ? 6 : 17, (uint16_t)(seed % 5), (uint16_t)((seed >> 3) % 4),
					   60 + (seed >> 20) % 1400);
				if (seed % 11 == 0)
					pk[i].ip_version = 0; /* not IP: no address fields */
				pk[i].ttl = (uint8_t)(seed >> 9);
				pk[i].tcp_flags = (uint8_t)(seed >> 13);
				pk[i].tcp_window = (uint16_t)(seed >> 7);
				pk[i].n_vlan = seed % 4 == 0;
				pk[i].vlan = (uint16_t)((seed >> 5) % 3);
				pp[i] = &pk[i];
				ts[i] = SEC + b * 64 + i;
				flow[i] = seed % 9 ? (seed >> 4) % 5 + 1 : 0;
				dir[i] = (uint8_t)(seed % 3);
				lab[i] = (seed >> 6) % 3;
				name[i] = seed % 5 ? (seed >> 10) % 4 + 1 : 0;
			}
			struct weir_burst_meta m = {.ts = ts, .flow_id = flow, .direction = dir,
						    .src_label = lab, .dst_label = lab, .dst_name = name};
			weir_window_update_burst(w, pp, 64, &m);
			for (unsigned i = 0; i < 64; i++) {
				struct weir_key k;
				if (!weir_key_extract(q, pp[i], &m, i, &k))
					continue;
				uint64_t *a = weir_table_upsert(ref, &k, weir_key_hash(&k, q->key_words));
				weir_agg_update(q, a, weir_table_blob(ref, a), pp[i], &m, i);
			}
		}
		weir_window_advance(w, UINT64_MAX);
		emitted_copy = NULL;
		weir_window_merge_poll(s, keep_table, NULL);
		cr_assert_not_null(emitted_copy, "group %u: a window", g);
		cr_assert_eq(emitted_copy->n_used, ref->n_used, "group %u: keys", g);
		cr_assert_gt(ref->n_used, 3, "group %u: a meaningful number of keys", g);
		uint64_t no_key = weir_window_qdrop(w, 0, WEIR_QDROP_NO_KEY);
		for (uint32_t i = 0; i < ref->n_used; i++) {
			struct weir_key k;
			memcpy(&k, weir_table_key(ref, i), sizeof(k));
			const uint64_t *want = weir_table_aggs(ref, i);
			uint32_t before = emitted_copy->n_used;
			const uint64_t *got = weir_table_upsert(emitted_copy, &k, weir_key_hash(&k, q->key_words));
			cr_assert_eq(emitted_copy->n_used, before, "group %u: key %u found", g, i);
			cr_assert_eq(memcmp(got, want, q->agg_words * 8), 0, "group %u: words of key %u", g, i);
			if (q->blob_bytes) /* none: both blobs NULL */
				cr_assert_eq(memcmp(weir_table_blob(emitted_copy, got),
						    weir_table_blob(ref, want), q->blob_bytes), 0,
					     "group %u: sketches of key %u", g, i);
		}
		uint64_t counted = 0, word = q->slot[0].word;
		for (uint32_t i = 0; i < ref->n_used; i++)
			counted += weir_table_aggs(ref, i)[word];
		if (!strcmp(aggs[0], "packets"))
			cr_assert_eq(counted + no_key, 20 * 64, "group %u: every packet counted or no_key", g);
		else
			cr_assert_gt(counted, 0, "group %u: %s counted", g, aggs[0]);
		free(ref);
		free(emitted_copy);
		weir_window_set_free(s);
	}
}

Test(window, burst_path_equals_reference, .init = eal_up, .fini = eal_down)
{
	static const char *const aggs[] = {
		"packets", "bytes", "sum(payload_len)", "min(length)", "max(ttl)", "avg(tcp_window)",
		"distinct(dst_ip)", "topk(src_port, 2)", "quantiles(length)", "first_ts", "last_ts",
		"flag_counts",
	};
	burst_path_check(aggs, sizeof(aggs) / sizeof(aggs[0]), false);
}

/* Counters only: the data path's plain form (each counter at most once) against the same reference. */
Test(window, plain_counters_equal_reference, .init = eal_up, .fini = eal_down)
{
	static const char *const one[] = {"bytes"};
	static const char *const two[] = {"ip_bytes", "packets"};
	static const char *const four[] = {"payload_bytes", "packets", "bytes", "ip_bytes"};
	static const char *const twice[] = {"packets", "ip_bytes", "packets"};
	static const char *const five[] = {"packets", "bytes", "ip_bytes", "payload_bytes", "bytes"};

	burst_path_check(one, 1, true);
	burst_path_check(two, 2, true);
	burst_path_check(four, 4, true);
	burst_path_check(twice, 3, false); /* a counter twice: the general form */
	burst_path_check(five, 5, false);
}

/* ---- the flow combiner: the results of counting packet by packet ------------------- */

/* Every result, its table copied (the merger reuses its own). */
struct kept {
	unsigned n;
	struct kept_result {
		uint32_t query;
		uint64_t start, end;
		bool final, late;
		struct weir_table *t;
	} r[1024];
};

static void keep_all(void *ctx, const struct weir_window_result *r)
{
	struct kept *k = ctx;
	size_t sz = weir_table_size(r->q, r->t->max_keys);
	struct weir_table *t = weir_table_init(calloc(1, sz), r->q, r->t->max_keys);

	cr_assert_lt(k->n, 1024);
	weir_table_merge(r->q, t, r->t);
	k->r[k->n++] = (struct kept_result){r->q->id, r->start, r->end, r->final, r->late, t};
}

/*
 * Six queries over flow fields, one of each shape the combiner takes:
 * prefix keys and every field aggregate, sliding, sessions, a filtered
 * one, the global group; and one it does not take (quantiles). Combiner
 * pane: 5 s.
 */
static struct weir_config *combine_config(uint32_t flows)
{
	static struct weir_config cfg;
	static const char *const aggs0[] = {"packets", "bytes", "ip_bytes", "payload_bytes",
					    "sum(dst_port)", "avg(src_port)", "min(src_port)",
					    "max(dst_port)", "distinct(dst_ip)", "first_ts", "last_ts"};
	enum weir_field hp[] = {WEIR_FIELD_SRC_IP, WEIR_FIELD_DST_PORT, WEIR_FIELD_PROTO};
	enum weir_field dst[] = {WEIR_FIELD_DST_IP}, vl[] = {WEIR_FIELD_VLAN, WEIR_FIELD_IP_VERSION};
	enum weir_field pr[] = {WEIR_FIELD_PROTO};
	char err[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.combine_flows = flows;
	cfg.combine_min_queries = 1;
	cfg.n_queries = 6;
	cfg.queries[0] = qconf("hp", hp, 3, 10 * SEC, 256);
	cfg.queries[0].prefix4[0] = 24;
	cfg.queries[0].n_aggs = sizeof(aggs0) / sizeof(aggs0[0]);
	for (unsigned i = 0; i < cfg.queries[0].n_aggs; i++)
		cr_assert_eq(weir_agg_conf_parse(aggs0[i], &cfg.queries[0].aggs[i], err, sizeof(err)), 0);
	cfg.queries[0].lateness_ns = 3 * SEC;
	cfg.queries[1] = qconf("slide", dst, 1, 10 * SEC, 256);
	cfg.queries[1].window = WEIR_WINDOW_SLIDING;
	cfg.queries[1].slide_ns = 5 * SEC;
	cfg.queries[2] = session_conf(5 * SEC, 0);
	cfg.queries[3] = qconf("filt", vl, 2, 10 * SEC, 64);
	snprintf(cfg.queries[3].filter, sizeof(cfg.queries[3].filter), "tcp");
	cr_assert_eq(weir_agg_conf_parse("distinct(src_ip)", &cfg.queries[3].aggs[2], err, sizeof(err)), 0);
	cfg.queries[4] = qconf("global", NULL, 0, 10 * SEC, 16);
	cfg.queries[5] = qconf("quant", pr, 1, 10 * SEC, 64);
	cr_assert_eq(weir_agg_conf_parse("quantiles(length)", &cfg.queries[5].aggs[2], err, sizeof(err)), 0);
	return &cfg;
}

/*
 * 48 bursts of 64 packets, 0.4 s apart (chunks that span two panes among
 * them), from a few hundred flows: IPv4 and IPv6, some not IP, some with a
 * VLAN; every 7th burst has 8 packets 6 s old (late for some panes,
 * within hp's lateness for others); the filtered query passes TCP. Halfway, a view where "slide" ends inside a pane. The merger is
 * polled after each burst.
 */
static void combine_feed(struct weir_window_set *s, struct kept *k)
{
	static struct weir_window_view half;
	struct weir_window_worker *w = weir_window_worker_get(s, 0);
	struct weir_pkt pk[64];
	const struct weir_pkt *pp[64];
	uint64_t ts[64];
	uint32_t pass[64], seed = 7;

	half = *weir_window_set_base_view(s);
	weir_window_view_set(&half, s, 1, 0, 100 * SEC + 11 * SEC + 300000000ull);
	for (unsigned b = 0; b < 48; b++) {
		uint64_t base = 100 * SEC + b * 400000000ull;
		for (unsigned i = 0; i < 64; i++) {
			char src[48], dst[48];
			seed = seed * 1103515245u + 12345u;
			snprintf(src, sizeof(src), "10.0.%u.%u", (seed >> 12) % 3, (seed >> 16) % 2);
			snprintf(dst, sizeof(dst), "9.9.9.%u", (seed >> 20) % 3);
			pk[i] = v4(src, dst, seed % 3 ? 6 : 17, (uint16_t)((seed >> 4) % 2),
				   (uint16_t)(80 + (seed >> 24) % 2), 60 + (seed >> 10) % 1400);
			if (seed % 13 == 0) {
				pk[i].ip_version = 6;
				pk[i].src_ip[0] = 0x20;
			}
			if (seed % 17 == 0)
				pk[i].ip_version = 0; /* not IP */
			pk[i].n_vlan = seed % 5 == 0;
			pk[i].vlan = pk[i].n_vlan ? (uint16_t)(seed >> 28) % 2 : 0;
			pp[i] = &pk[i];
			ts[i] = b % 7 == 6 && i < 8 ? base - 6 * SEC : base + i * 6000000ull;
			pass[i] = pk[i].proto == 6 ? ~0u : ~(1u << 3); /* "filt": tcp */
		}
		struct weir_burst_meta m = {.ts = ts, .query_pass = pass};
		if (b == 24)
			weir_window_worker_set_view(w, &half);
		weir_window_update_burst(w, pp, 64, &m);
		weir_window_advance(w, base - SEC);
		weir_window_merge_poll(s, keep_all, k);
	}
	weir_window_advance(w, UINT64_MAX);
	weir_window_merge_poll(s, keep_all, k);
}

/* Result i of a and b: the same window, keys and aggregate words and sketches, bit for bit. */
static void same_result(const struct weir_window_set *s, const struct kept_result *a,
			const struct kept_result *b, unsigned i)
{
	const struct weir_query *q = weir_window_set_query(s, a->query);
	const struct weir_table *x = a->t;

	cr_assert_eq(a->query, b->query, "result %u", i);
	cr_assert(a->start == b->start && a->end == b->end && a->final == b->final && a->late == b->late,
		  "result %u (%s)", i, q->conf.name);
	cr_assert_eq(x->n_used, b->t->n_used, "result %u (%s): keys", i, q->conf.name);
	for (uint32_t e = 0; e < x->n_used; e++) {
		struct weir_key key;
		memcpy(&key, weir_table_key(x, e), sizeof(key));
		const uint64_t *want = weir_table_aggs(x, e);
		uint32_t before = b->t->n_used;
		const uint64_t *got = weir_table_upsert(b->t, &key, weir_key_hash(&key, q->key_words));
		cr_assert_eq(b->t->n_used, before, "result %u (%s): key %u found", i, q->conf.name, e);
		cr_assert_eq(memcmp(got, want, q->agg_words * 8), 0, "result %u (%s): key %u", i,
			     q->conf.name, e);
		if (q->blob_bytes) /* without sketches there is no blob to compare */
			cr_assert_eq(memcmp(weir_table_blob(b->t, got), weir_table_blob(x, want),
					    q->blob_bytes), 0,
				     "result %u (%s): sketches of key %u", i, q->conf.name, e);
	}
}

/* A session row: its key and words (which hold its bounds), for sorting. */
struct session_row {
	uint64_t w[WEIR_KEY_WORDS + 16];
};

static int row_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct session_row));
}

/* The rows of k's session results, sorted: how rows fall into batches depends on shard timing. */
static unsigned session_rows(const struct weir_window_set *s, const struct kept *k,
			     struct session_row *rows, unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < k->n; i++) {
		const struct weir_query *q = weir_window_set_query(s, k->r[i].query);
		if (q->conf.window != WEIR_WINDOW_SESSION)
			continue;
		cr_assert_leq(q->agg_words, 16);
		for (uint32_t e = 0; e < k->r[i].t->n_used; e++) {
			cr_assert_lt(n, cap);
			memset(&rows[n], 0, sizeof(rows[n]));
			memcpy(rows[n].w, weir_table_key(k->r[i].t, e), WEIR_KEY_WORDS * 8);
			memcpy(rows[n].w + WEIR_KEY_WORDS, weir_table_aggs(k->r[i].t, e), q->agg_words * 8);
			n++;
		}
	}
	qsort(rows, n, sizeof(rows[0]), row_cmp);
	return n;
}

/* The results of a and b: each window's the same; session rows the same, batched either way. */
static void same_results(const struct weir_window_set *s, const struct kept *a, const struct kept *b)
{
	static struct session_row ra[2048], rb[2048];
	unsigned i = 0, j = 0, na, nb;

	for (;; i++, j++) {
		while (i < a->n && weir_window_set_query(s, a->r[i].query)->conf.window == WEIR_WINDOW_SESSION)
			i++;
		while (j < b->n && weir_window_set_query(s, b->r[j].query)->conf.window == WEIR_WINDOW_SESSION)
			j++;
		if (i == a->n || j == b->n)
			break;
		same_result(s, &a->r[i], &b->r[j], i);
	}
	cr_assert(i == a->n && j == b->n, "as many windows");
	na = session_rows(s, a, ra, 2048);
	nb = session_rows(s, b, rb, 2048);
	cr_assert_eq(na, nb, "session rows");
	cr_assert_gt(na, 10, "%u session rows", na);
	cr_assert_eq(memcmp(ra, rb, na * sizeof(ra[0])), 0, "the same sessions");
}

Test(window, flow_combiner_equals_packet_by_packet, .init = eal_up, .fini = eal_down)
{
	static struct kept direct, combined, small;
	char err[256];
	struct weir_window_set *d = weir_window_set_create(combine_config(0), 1, err, sizeof(err));
	struct weir_window_set *c = weir_window_set_create(combine_config(4096), 1, err, sizeof(err));
	struct weir_window_set *f = weir_window_set_create(combine_config(8), 1, err, sizeof(err));
	struct weir_combine_stats sc, sf;

	cr_assert(d && c && f, "%s", err);
	for (unsigned qi = 0; qi < 6; qi++)
		cr_assert_eq(weir_window_set_query(c, qi)->combinable, qi < 5, "query %u", qi);
	combine_feed(d, &direct);
	combine_feed(c, &combined);
	combine_feed(f, &small);
	cr_assert_gt(direct.n, 12, "%u results", direct.n);
	same_results(d, &direct, &combined);
	same_results(d, &direct, &small);
	for (unsigned qi = 0; qi < 6; qi++)
		for (unsigned r = 0; r < WEIR_QDROP__COUNT; r++) {
			uint64_t want = weir_window_set_qdrop(d, qi, (enum weir_qdrop)r);
			cr_assert_eq(weir_window_set_qdrop(c, qi, (enum weir_qdrop)r), want, "query %u %s", qi,
				     weir_qdrop_name((enum weir_qdrop)r));
			cr_assert_eq(weir_window_set_qdrop(f, qi, (enum weir_qdrop)r), want, "query %u %s", qi,
				     weir_qdrop_name((enum weir_qdrop)r));
		}
	/* the stream has what the test is about */
	cr_assert_gt(weir_window_set_qdrop(d, 0, WEIR_QDROP_NO_KEY), 0);
	cr_assert_gt(weir_window_set_qdrop(d, 3, WEIR_QDROP_FILTERED), 0);
	cr_assert_gt(weir_window_set_qdrop(d, 1, WEIR_QDROP_LATE), 0);
	weir_window_set_combine_stats(c, &sc);
	weir_window_set_combine_stats(f, &sf);
	cr_assert_gt(sc.packets, 48 * 64 / 2, "most packets summed into flows");
	cr_assert_lt(sc.flows * 2, sc.packets, "flows summed 2 packets each or more: %lu packets, %lu flows, %lu flushes", sc.packets, sc.flows, sc.flushes);
	cr_assert_eq(sc.full, 0);
	cr_assert_gt(sf.full, 10, "an 8-flow table fills and hands over early");
	for (unsigned i = 0; i < direct.n; i++) {
		free(direct.r[i].t);
		free(combined.r[i].t);
		free(small.r[i].t);
	}
	weir_window_set_free(d);
	weir_window_set_free(c);
	weir_window_set_free(f);
}

/* ---- checkpoints: barrier, aligned save, load into a fresh set ----------------------- */

/* The checkpoint tests run without and with the flow combiner (flows per worker). */
static uint32_t ckpt_combine_flows;

/* Three queries: tumbling, sliding, session; `workers` workers; query i's conf. */
static struct weir_config *ckpt_config(void)
{
	static struct weir_config cfg;
	enum weir_field f[] = {WEIR_FIELD_SRC_IP};

	memset(&cfg, 0, sizeof(cfg));
	cfg.combine_flows = ckpt_combine_flows;
	cfg.combine_min_queries = 1;
	cfg.n_queries = 3;
	cfg.queries[0] = qconf("tum", f, 1, 10 * SEC, 64);
	cfg.queries[1] = qconf("sli", f, 1, 30 * SEC, 64);
	cfg.queries[1].window = WEIR_WINDOW_SLIDING;
	cfg.queries[1].slide_ns = 10 * SEC;
	cfg.queries[2] = session_conf(4 * SEC, 0);
	return &cfg;
}

/*
 * Packet k of a deterministic stream: 7 sources, ts growing by 0.37 s, worker
 * k % 2; the merger polled after each (it gives the workers' shards back).
 */
static void ckpt_feed(struct weir_window_set *s, unsigned from, unsigned to, struct emitted *e)
{
	static const char *src[] = {"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5",
				    "6.6.6.6", "7.7.7.7"};
	for (unsigned k = from; k < to; k++) {
		struct weir_window_worker *w = weir_window_worker_get(s, k % 2);
		struct weir_pkt p = v4(src[(k * 5) % 7], "9.9.9.9", 6, 1, 2, 60 + k % 50);
		uint64_t ts = 1000 * SEC + k * 370 * 1000000ull;
		feed(w, &p, ts);
		weir_window_advance(w, ts > 2 * SEC ? ts - 2 * SEC : 0);
		weir_window_merge_poll(s, collect, e);
	}
}

static void ckpt_finish(struct weir_window_set *s, struct emitted *e)
{
	weir_window_advance(weir_window_worker_get(s, 0), UINT64_MAX);
	weir_window_advance(weir_window_worker_get(s, 1), UINT64_MAX);
	weir_window_merge_poll(s, collect, e);
}

static void *ckpt_save_at(struct weir_window_set *s, unsigned k, size_t *len, struct emitted *e)
{
	uint64_t epoch = 0;

	ckpt_feed(s, 0, k, e);
	weir_window_barrier(weir_window_worker_get(s, 0), 7);
	ckpt_feed(s, k, k + 1, e); /* worker 0's packet k: after its barrier, before worker 1's */
	cr_assert(!weir_window_set_aligned(s, &epoch), "aligned with one mark of two");
	weir_window_barrier(weir_window_worker_get(s, 1), 7);
	unsigned before = e->n;
	weir_window_merge_poll(s, collect, e);
	cr_assert_eq(e->n, before, "nothing is emitted while a barrier aligns");
	cr_assert(weir_window_set_aligned(s, &epoch));
	cr_assert_eq(epoch, 7);
	void *buf = weir_window_set_save(s, len);
	cr_assert_not_null(buf);
	weir_window_set_barrier_done(s);
	return buf;
}

static void same_emitted(const struct emitted *a, const struct emitted *b)
{
	cr_assert_eq(a->n, b->n, "%u results vs %u", a->n, b->n);
	for (unsigned i = 0; i < a->n; i++) {
		cr_assert_str_eq(a->query[i], b->query[i], "result %u", i);
		cr_assert_eq(a->start[i], b->start[i], "result %u (%s)", i, a->query[i]);
		cr_assert_eq(a->end[i], b->end[i], "result %u (%s)", i, a->query[i]);
		cr_assert_eq(a->packets[i], b->packets[i], "result %u (%s)", i, a->query[i]);
		cr_assert_eq(a->bytes[i], b->bytes[i], "result %u (%s)", i, a->query[i]);
		cr_assert_eq(a->keys[i], b->keys[i], "result %u (%s)", i, a->query[i]);
	}
}

/*
 * A run checkpointed around packet 200 of 400 (worker 0 takes its barrier
 * before packet 200, worker 1 after it: packet 200 is worker 0's, so it is
 * not in the checkpoint), its state loaded into a fresh set that is fed
 * packets 200..399 only: what the restored set emits after the checkpoint
 * equals what an uninterrupted run emits after it, for tumbling, sliding and
 * session windows, with the shards the workers shipped early at their barriers.
 */
static void checkpoint_restore_resumes_identically(void)
{
	static struct emitted whole, before, after;
	char err[256];
	size_t len;
	struct weir_window_set *a = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	void *buf = ckpt_save_at(a, 200, &len, &before);
	ckpt_feed(a, 201, 400, &before);
	ckpt_finish(a, &before);

	struct weir_window_set *u = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	ckpt_feed(u, 0, 400, &whole);
	ckpt_finish(u, &whole);
	same_emitted(&whole, &before); /* the barrier changes nothing */

	/* what the checkpoint's run emitted before the cut: the restored run goes on from there */
	struct emitted cut = {0};
	struct weir_window_set *c = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	free(ckpt_save_at(c, 200, &len, &cut));
	weir_window_set_free(c);

	struct weir_window_set *r = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	cr_assert_eq(weir_window_set_load(r, buf, len, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	memcpy(&after, &cut, sizeof(cut));
	ckpt_feed(r, 200, 400, &after); /* packet 200 came after its worker's barrier */
	ckpt_finish(r, &after);
	same_emitted(&whole, &after);
	cr_assert_gt(whole.n, 20);
	free(buf);
	weir_window_set_free(a);
	weir_window_set_free(u);
	weir_window_set_free(r);
}

Test(window, checkpoint_restore_resumes_identically, .init = eal_up, .fini = eal_down)
{
	ckpt_combine_flows = 0;
	checkpoint_restore_resumes_identically();
}

/* The same with the flow combiner: a barrier hands its flows over first. */
Test(window, checkpoint_restore_with_flow_combiner, .init = eal_up, .fini = eal_down)
{
	static struct emitted direct, combined;
	char err[256];

	ckpt_combine_flows = 64;
	checkpoint_restore_resumes_identically();
	struct weir_window_set *c = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	ckpt_combine_flows = 0;
	struct weir_window_set *d = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	ckpt_feed(c, 0, 400, &combined);
	ckpt_finish(c, &combined);
	ckpt_feed(d, 0, 400, &direct);
	ckpt_finish(d, &direct);
	same_emitted(&direct, &combined);
	struct weir_combine_stats st;
	weir_window_set_combine_stats(c, &st);
	cr_assert_eq(st.packets, 400, "every packet went through the combiner");
	weir_window_set_free(c);
	weir_window_set_free(d);
}

/* Every truncation of a saved state, and a trailing byte, are refused with a reason. */
Test(window, checkpoint_load_refuses_truncated_state, .init = eal_up, .fini = eal_down)
{
	static struct emitted e;
	char err[256];
	size_t len;
	struct weir_window_set *a = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
	void *buf = ckpt_save_at(a, 120, &len, &e);
	uint8_t *copy = malloc(len + 1);

	cr_assert_gt(len, 100);
	for (size_t n = 0; n <= len; n += (n < 64 ? 1 : 13)) {
		size_t l = n == len ? len + 1 : n; /* len + 1: one trailing byte */
		memcpy(copy, buf, len);
		copy[len] = 0;
		struct weir_window_set *r = weir_window_set_create(ckpt_config(), 2, err, sizeof(err));
		err[0] = '\0';
		cr_assert_eq(weir_window_set_load(r, copy, l, NULL, NULL, err, sizeof(err)), -1,
			     "a state of %zu bytes of %zu loaded", l, len);
		cr_assert(err[0], "no reason for %zu bytes", l);
		weir_window_set_free(r);
	}
	free(copy);
	free(buf);
	weir_window_set_free(a);
}
