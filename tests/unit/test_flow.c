/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Flow table and TCP ordering, on hand-built packet descriptors with
 * hand-computed expectations.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <rte_eal.h>

#include "weir_flow.h"

#include "test_eal.h"

#define SEC WEIR_FLOW_SEC
#define T0 (1700000000ull * SEC)
#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10


/* ---- packets ------------------------------------------------------------------------ */

static void put_ip(const char *s, uint8_t *ip, uint8_t *ver)
{
	memset(ip, 0, 16);
	if (strchr(s, ':')) {
		cr_assert_eq(inet_pton(AF_INET6, s, ip), 1, "%s", s);
		*ver = 6;
	} else {
		cr_assert_eq(inet_pton(AF_INET, s, ip), 1, "%s", s);
		*ver = 4;
	}
}

/* A parsed packet src:sp -> dst:dp; ip_bytes 100. */
static struct weir_pkt pk(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto,
			  uint8_t tcp_flags)
{
	struct weir_pkt p;

	memset(&p, 0, sizeof(p));
	put_ip(src, p.src_ip, &p.ip_version);
	put_ip(dst, p.dst_ip, &p.ip_version);
	p.proto = p.l4_proto = proto;
	p.src_port = sp;
	p.dst_port = dp;
	p.tcp_flags = tcp_flags;
	p.flags = WEIR_PKT_F_L4 | WEIR_PKT_F_PORTS;
	p.pkt_len = 114;
	p.ip_bytes = 100;
	return p;
}

static struct weir_pkt tcp(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t fl)
{
	return pk(src, sp, dst, dp, 6, fl);
}

static struct weir_pkt udp(const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
	return pk(src, sp, dst, dp, 17, 0);
}

/* ---- tables and callbacks --------------------------------------------------------------- */

#define MAX_ENDS 64
struct ends {
	unsigned n;
	uint64_t id[MAX_ENDS];
	enum weir_flow_end why[MAX_ENDS];
	struct weir_flow_info info[MAX_ENDS];
};

static void record_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
		       enum weir_flow_end why)
{
	struct ends *e = ctx;

	cr_assert_lt(e->n, MAX_ENDS);
	e->id[e->n] = f->id;
	e->why[e->n] = why;
	weir_flow_describe(f, &e->info[e->n]);
	e->n++;
}

static struct weir_flow_table *table(uint32_t capacity, uint32_t buckets, struct ends *e)
{
	struct weir_flow_conf c;
	char err[256];

	weir_flow_conf_default(&c);
	c.capacity = capacity;
	c.buckets = buckets;
	c.on_end = record_end;
	c.on_end_ctx = e;
	struct weir_flow_table *t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	return t;
}

/* One packet through lookup_burst. */
static struct weir_flow *look(struct weir_flow_table *t, const struct weir_pkt *p, uint64_t ts,
			      uint8_t *dir)
{
	const struct weir_pkt *pp[1] = {p};
	struct weir_flow *f[1];
	uint8_t d[1];

	weir_flow_lookup_burst(t, pp, &ts, 1, f, d, NULL);
	if (dir)
		*dir = d[0];
	return f[0];
}

static uint64_t cnt(const struct weir_flow_table *t, enum weir_flow_counter c)
{
	return weir_flow_counter(t, c);
}

/* ---- keying ---------------------------------------------------------------------------- */

Test(flow, tcp_handshake_is_one_flow_with_direction_bits, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	uint8_t d1, d2, d3;

	/* client 10.0.0.2:40000 is the higher endpoint: it sends with dir 1 */
	struct weir_pkt syn = tcp("10.0.0.2", 40000, "10.0.0.1", 80, SYN);
	struct weir_pkt synack = tcp("10.0.0.1", 80, "10.0.0.2", 40000, SYN | ACK);
	struct weir_pkt ack = tcp("10.0.0.2", 40000, "10.0.0.1", 80, ACK);
	struct weir_flow *f = look(t, &syn, T0, &d1);
	cr_assert_not_null(f);
	cr_assert_eq(f->state, WEIR_FLOW_NEW);
	cr_assert_eq(look(t, &synack, T0 + 1, &d2), f);
	cr_assert_eq(f->state, WEIR_FLOW_NEW, "a SYN+ACK does not establish");
	cr_assert_eq(look(t, &ack, T0 + 2, &d3), f);
	cr_assert_eq(d1, 1);
	cr_assert_eq(d2, 0);
	cr_assert_eq(d3, 1);
	cr_assert_eq(f->state, WEIR_FLOW_ESTABLISHED);
	cr_assert_eq(weir_flow_client(f), 1);
	cr_assert(weir_flow_to_server(f, 1));
	cr_assert_not(weir_flow_to_server(f, 0));
	cr_assert_eq(f->key.lo_port, 80);
	cr_assert_eq(f->key.hi_port, 40000);
	cr_assert_eq(f->key.lo_ip[3], 1);
	cr_assert_eq(f->pkts[1], 2);
	cr_assert_eq(f->pkts[0], 1);
	cr_assert_eq(f->bytes[1], 200);
	cr_assert_eq(f->tcp_flags[1], SYN | ACK);
	cr_assert_eq(f->tcp_flags[0], SYN | ACK);
	cr_assert_eq(f->first_ts, T0);
	cr_assert_eq(f->last_ts, T0 + 2);

	struct weir_flow_info in;
	weir_flow_describe(f, &in);
	cr_assert_eq(in.client_ip[3], 2);
	cr_assert_eq(in.client_port, 40000);
	cr_assert_eq(in.server_ip[3], 1);
	cr_assert_eq(in.server_port, 80);
	cr_assert_eq(in.pkts[0], 2, "to server");
	cr_assert_eq(in.pkts[1], 1, "to client");
	cr_assert_eq(in.proto, 6);
	cr_assert_eq(in.ip_version, 4);

	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_LOOKUPS), 3);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_HITS), 2);
	cr_assert_eq(weir_flow_count(t), 1);
	weir_flow_table_free(t);
}

Test(flow, client_is_first_sender_or_syn_sender, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);

	/* UDP: the first sender, here the lower endpoint */
	struct weir_pkt u = udp("10.0.0.1", 5353, "10.0.0.9", 53);
	struct weir_flow *f = look(t, &u, T0, NULL);
	cr_assert_eq(weir_flow_client(f), 0);
	struct weir_pkt ur = udp("10.0.0.9", 53, "10.0.0.1", 5353);
	cr_assert_eq(look(t, &ur, T0, NULL), f);
	cr_assert_eq(weir_flow_client(f), 0, "a reply does not change the client");
	cr_assert_eq(f->state, WEIR_FLOW_ESTABLISHED, "both directions seen");

	/* a SYN+ACK first (SYN not captured): its receiver is the client */
	struct weir_pkt sa = tcp("10.0.1.1", 443, "10.0.1.2", 50000, SYN | ACK);
	f = look(t, &sa, T0, NULL);
	cr_assert_eq(weir_flow_client(f), 1);

	/* mid-stream pick-up: first sender, until a SYN without ACK decides */
	struct weir_pkt mid = tcp("10.0.2.1", 8080, "10.0.2.2", 60000, ACK);
	f = look(t, &mid, T0, NULL);
	cr_assert_eq(weir_flow_client(f), 0);
	struct weir_pkt syn = tcp("10.0.2.2", 60000, "10.0.2.1", 8080, SYN);
	cr_assert_eq(look(t, &syn, T0 + 1, NULL), f);
	cr_assert_eq(weir_flow_client(f), 1);
	weir_flow_table_free(t);
}

Test(flow, ipv6_both_directions_and_no_clash_with_ipv4, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	uint8_t d1, d2;

	struct weir_pkt a = udp("2001:db8::2", 1000, "2001:db8::1", 2000);
	struct weir_pkt b = udp("2001:db8::1", 2000, "2001:db8::2", 1000);
	struct weir_flow *f = look(t, &a, T0, &d1);
	cr_assert_eq(look(t, &b, T0, &d2), f);
	cr_assert_eq(d1, 1);
	cr_assert_eq(d2, 0);
	cr_assert_eq(f->key.ip_version, 6);
	cr_assert_eq(f->key.lo_ip[15], 1);

	/* 1.2.3.4 and 102:304:: have the same 16 address bytes */
	struct weir_pkt v4 = udp("1.2.3.4", 1, "5.6.7.8", 2);
	struct weir_pkt v6 = udp("102:304::", 1, "506:708::", 2);
	cr_assert_neq(look(t, &v4, T0, NULL), look(t, &v6, T0, NULL));

	/* same address both ends: the port orders the endpoints */
	struct weir_pkt lo1 = udp("::1", 7000, "::1", 6000);
	struct weir_pkt lo2 = udp("::1", 6000, "::1", 7000);
	f = look(t, &lo1, T0, &d1);
	cr_assert_eq(look(t, &lo2, T0, &d2), f);
	cr_assert_eq(d1, 1);
	cr_assert_eq(d2, 0);
	cr_assert_eq(weir_flow_count(t), 4);
	weir_flow_table_free(t);
}

Test(flow, vlan_separates_flows, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);

	struct weir_pkt a = tcp("10.0.0.1", 1234, "10.0.0.2", 80, ACK);
	struct weir_pkt b = tcp("10.0.0.2", 80, "10.0.0.1", 1234, ACK);
	struct weir_flow *untagged = look(t, &a, T0, NULL);
	a.vlan = b.vlan = 10;
	struct weir_flow *v10 = look(t, &a, T0, NULL);
	cr_assert_eq(look(t, &b, T0, NULL), v10);
	a.vlan = 20;
	struct weir_flow *v20 = look(t, &a, T0, NULL);
	cr_assert_neq(untagged, v10);
	cr_assert_neq(v10, v20);
	cr_assert_neq(untagged, v20);
	cr_assert_eq(v20->key.vlan, 20);
	cr_assert_eq(weir_flow_count(t), 3);
	weir_flow_table_free(t);
}

Test(flow, untracked_packets_counted_by_reason, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	struct weir_pkt arp, frag, first, cut, echo, reply;
	const struct weir_pkt *pp[6] = {&arp, &frag, &first, &cut, &echo, &reply};
	uint64_t ts[6] = {T0, T0, T0, T0, T0, T0};
	struct weir_flow *f[6];
	uint8_t d[6];

	memset(&arp, 0, sizeof(arp));
	arp.ethertype = 0x0806;
	frag = udp("10.0.0.1", 0, "10.0.0.2", 0);
	frag.flags = WEIR_PKT_F_FRAG; /* offset != 0: no ports */
	frag.frag_off = 1480;
	first = udp("10.0.0.1", 4000, "10.0.0.2", 53);
	first.flags |= WEIR_PKT_F_FRAG | WEIR_PKT_F_FRAG_FIRST;
	cut = tcp("10.0.0.1", 0, "10.0.0.2", 0, 0);
	cut.flags = 0; /* cut before the ports */
	echo = pk("10.0.0.1", 8, "10.0.0.2", 0, 1, 0);  /* ICMP echo request: type 8 */
	reply = pk("10.0.0.2", 0, "10.0.0.1", 0, 1, 0); /* echo reply: type 0 */

	cr_assert_eq(weir_flow_lookup_burst(t, pp, ts, 6, f, d, NULL), 3);
	cr_assert_null(f[0]);
	cr_assert_null(f[1]);
	cr_assert_not_null(f[2]);
	cr_assert_null(f[3]);
	cr_assert_not_null(f[4]);
	cr_assert_eq(f[5], f[4], "ICMP is keyed without type/code");
	cr_assert_eq(f[4]->key.lo_port, 0);
	cr_assert_eq(f[4]->key.hi_port, 0);
	cr_assert_eq(d[4], 0);
	cr_assert_eq(d[5], 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_LOOKUPS), 6);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_NO_FLOW), 3);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_NOT_IP), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_FRAGMENT), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_NO_PORTS), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 2);
	weir_flow_table_free(t);
}

Test(flow, same_new_key_twice_in_one_burst, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	struct weir_pkt a = udp("10.0.0.1", 1, "10.0.0.2", 2), b = udp("10.0.0.2", 2, "10.0.0.1", 1);
	const struct weir_pkt *pp[3] = {&a, &b, &a};
	uint64_t ts[3] = {T0, T0 + 1, T0 + 2};
	struct weir_flow *f[3];
	uint8_t d[3];

	cr_assert_eq(weir_flow_lookup_burst(t, pp, ts, 3, f, d, NULL), 3);
	cr_assert_eq(f[0], f[1]);
	cr_assert_eq(f[0], f[2]);
	cr_assert_eq(f[0]->pkts[0], 2);
	cr_assert_eq(f[0]->pkts[1], 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_HITS), 2);
	weir_flow_table_free(t);
}

/* ---- timeouts --------------------------------------------------------------------------- */

Test(flow, expiry_per_class_at_exact_boundaries, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);

	struct weir_pkt u = udp("10.0.0.1", 1, "10.0.0.2", 2);
	struct weir_pkt icmp = pk("10.0.0.1", 8, "10.0.0.2", 0, 1, 0);
	struct weir_pkt syn = tcp("10.0.0.1", 3, "10.0.0.2", 4, SYN);
	struct weir_pkt e1 = tcp("10.0.0.1", 5, "10.0.0.2", 6, SYN);
	struct weir_pkt e2 = tcp("10.0.0.2", 6, "10.0.0.1", 5, SYN | ACK);
	struct weir_pkt e3 = tcp("10.0.0.1", 5, "10.0.0.2", 6, ACK);
	uint64_t id_u = look(t, &u, T0, NULL)->id;
	uint64_t id_icmp = look(t, &icmp, T0, NULL)->id;
	uint64_t id_syn = look(t, &syn, T0, NULL)->id;
	look(t, &e1, T0, NULL);
	look(t, &e2, T0, NULL);
	uint64_t id_est = look(t, &e3, T0, NULL)->id;

	/* due at 30 s (tcp new), 60 s (other), 120 s (udp), 3600 s (tcp established) */
	static const uint64_t due[] = {30, 60, 120, 3600};
	uint64_t ids[] = {id_syn, id_icmp, id_u, id_est};
	for (unsigned i = 0; i < 4; i++) {
		uint64_t at = T0 + due[i] * SEC;
		cr_assert_eq(weir_flow_expire(t, at - 1, 1000, record_end, &e), 0, "%lus - 1ns",
			     (unsigned long)due[i]);
		cr_assert_eq(weir_flow_expire(t, at, 1000, record_end, &e), 1, "at %lus",
			     (unsigned long)due[i]);
		cr_assert_eq(e.id[e.n - 1], ids[i]);
		cr_assert_eq(e.why[e.n - 1], WEIR_FLOW_END_TIMEOUT);
	}
	cr_assert_eq(weir_flow_count(t), 0);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TIMEOUT), 4);
	weir_flow_table_free(t);
}

Test(flow, activity_postpones_expiry, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	struct weir_pkt u = udp("10.0.0.1", 1, "10.0.0.2", 2);

	look(t, &u, T0, NULL);
	look(t, &u, T0 + 100 * SEC, NULL);
	cr_assert_eq(weir_flow_expire(t, T0 + 120 * SEC, 1000, NULL, NULL), 0);
	cr_assert_eq(weir_flow_expire(t, T0 + 220 * SEC - 1, 1000, NULL, NULL), 0);
	cr_assert_eq(weir_flow_expire(t, T0 + 220 * SEC, 1000, NULL, NULL), 1);
	cr_assert_eq(e.n, 1, "cb NULL uses the table's on_end");
	cr_assert_eq(e.info[0].last_ts, T0 + 100 * SEC);
	cr_assert_eq(e.info[0].pkts[0], 2);
	weir_flow_table_free(t);
}

Test(flow, expire_budget_bounds_the_work, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);

	for (uint16_t p = 1; p <= 10; p++) {
		struct weir_pkt u = udp("10.0.0.1", p, "10.0.0.2", 53);
		look(t, &u, T0 + p, NULL);
	}
	cr_assert_eq(weir_flow_expire(t, T0 + 200 * SEC, 3, NULL, NULL), 3);
	cr_assert_eq(weir_flow_expire(t, T0 + 200 * SEC, 3, NULL, NULL), 3);
	cr_assert_eq(weir_flow_expire(t, T0 + 200 * SEC, 100, NULL, NULL), 4);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(e.info[i].client_port, i + 1, "oldest first");
	weir_flow_table_free(t);
}

Test(flow, fin_and_rst_switch_to_the_closing_timeout, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);

	/* flow f: established at T0, one FIN at +10 s: closing, ends 30 s later as closed */
	struct weir_pkt s = tcp("10.0.0.1", 1000, "10.0.0.2", 80, SYN);
	struct weir_pkt sa = tcp("10.0.0.2", 80, "10.0.0.1", 1000, SYN | ACK);
	struct weir_pkt a = tcp("10.0.0.1", 1000, "10.0.0.2", 80, ACK);
	struct weir_pkt fin = tcp("10.0.0.1", 1000, "10.0.0.2", 80, FIN | ACK);
	/* flow g: SYN at T0, RST at +1 s: closed */
	struct weir_pkt s2 = tcp("10.0.0.1", 2000, "10.0.0.2", 81, SYN);
	struct weir_pkt rst = tcp("10.0.0.2", 81, "10.0.0.1", 2000, RST | ACK);
	look(t, &s, T0, NULL);
	look(t, &sa, T0, NULL);
	struct weir_flow *f = look(t, &a, T0, NULL);
	look(t, &s2, T0, NULL);
	struct weir_flow *g = look(t, &rst, T0 + 1 * SEC, NULL);
	cr_assert_eq(g->state, WEIR_FLOW_CLOSED);
	uint64_t gid = g->id;
	look(t, &fin, T0 + 10 * SEC, NULL);
	cr_assert_eq(f->state, WEIR_FLOW_CLOSING);

	cr_assert_eq(weir_flow_expire(t, T0 + 31 * SEC - 1, 100, NULL, NULL), 0);
	cr_assert_eq(weir_flow_expire(t, T0 + 31 * SEC, 100, NULL, NULL), 1);
	cr_assert_eq(e.id[0], gid);
	cr_assert_eq(e.why[0], WEIR_FLOW_END_CLOSED);
	cr_assert_eq(e.info[0].state, WEIR_FLOW_CLOSED);
	cr_assert_eq(e.info[0].tcp_flags[0], SYN, "client flags");
	cr_assert_eq(e.info[0].tcp_flags[1], RST | ACK, "server flags");
	cr_assert_eq(weir_flow_expire(t, T0 + 40 * SEC - 1, 100, NULL, NULL), 0);
	cr_assert_eq(weir_flow_expire(t, T0 + 40 * SEC, 100, NULL, NULL), 1);
	cr_assert_eq(e.why[1], WEIR_FLOW_END_CLOSED);
	cr_assert_eq(e.info[1].state, WEIR_FLOW_CLOSING);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CLOSED), 2);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TIMEOUT), 0);

	/* FIN from both sides: closed */
	struct weir_pkt f1 = tcp("10.0.0.3", 1, "10.0.0.4", 2, FIN | ACK);
	struct weir_pkt f2 = tcp("10.0.0.4", 2, "10.0.0.3", 1, FIN | ACK);
	look(t, &f1, T0, NULL);
	cr_assert_eq(look(t, &f2, T0, NULL)->state, WEIR_FLOW_CLOSED);
	weir_flow_table_free(t);
}

Test(flow, new_syn_on_a_closed_flow_starts_a_new_flow, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	struct weir_pkt s = tcp("10.0.0.1", 1000, "10.0.0.2", 80, SYN);
	struct weir_pkt rst = tcp("10.0.0.2", 80, "10.0.0.1", 1000, RST | ACK);
	const struct weir_pkt *pp[3] = {&s, &rst, &s};
	uint64_t ts[3] = {T0, T0 + 1, T0 + 2};
	struct weir_flow *f[3];
	uint8_t d[3];

	weir_flow_lookup_burst(t, pp, ts, 3, f, d, NULL);
	cr_assert_eq(f[0], f[1]);
	cr_assert_neq(f[2], f[0], "the old flow stays valid for the burst");
	cr_assert_eq(f[0]->state, WEIR_FLOW_CLOSED);
	cr_assert_eq(f[0]->pkts[0] + f[0]->pkts[1], 2);
	cr_assert_eq(f[2]->state, WEIR_FLOW_NEW);
	cr_assert_eq(f[2]->pkts[0], 1);
	uint64_t old = f[0]->id;
	cr_assert_neq(f[2]->id, old);
	cr_assert_eq(e.n, 0, "callback deferred to the next call");
	cr_assert_eq(weir_flow_expire(t, T0 + 3, 0, NULL, NULL), 0);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.id[0], old);
	cr_assert_eq(e.why[0], WEIR_FLOW_END_CLOSED);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 2);
	cr_assert_eq(weir_flow_count(t), 1);
	weir_flow_table_free(t);
}

/* ---- eviction --------------------------------------------------------------------------- */

static struct weir_pkt nth_udp(unsigned i)
{
	return udp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.2", 53);
}

Test(flow, full_bucket_evicts_its_least_recently_seen, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(16, 1, &e); /* one bucket of 8, room for 16 */
	uint64_t id2 = 0;

	for (unsigned i = 1; i <= 8; i++) {
		struct weir_pkt p = nth_udp(i);
		struct weir_flow *f = look(t, &p, T0 + i, NULL);
		if (i == 2)
			id2 = f->id;
	}
	struct weir_pkt p1 = nth_udp(1);
	look(t, &p1, T0 + 9, NULL); /* flow 1 is recent again: flow 2 is the oldest */
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 0);
	struct weir_pkt p9 = nth_udp(9);
	cr_assert_not_null(look(t, &p9, T0 + 10, NULL));
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.id[0], id2);
	cr_assert_eq(e.why[0], WEIR_FLOW_END_EVICTED);
	cr_assert_eq(e.info[0].client_port, 1002);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_EVICTED), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 9);
	cr_assert_eq(weir_flow_count(t), 8);
	weir_flow_table_free(t);
}

Test(flow, two_buckets_fill_before_any_eviction, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(32, 2, &e); /* 2 buckets of 8: each key may use both */

	for (int round = 0; round < 2; round++) {
		/* whichever bucket is primary for each key, all 16 fit: no eviction */
		for (unsigned i = 1; i <= 16; i++) {
			struct weir_pkt p = nth_udp(100 * round + i);
			look(t, &p, T0 + i, NULL);
		}
		cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 0);
		cr_assert_eq(weir_flow_count(t), 16);
		/* every one is found again, spilled ones included */
		for (unsigned i = 1; i <= 16; i++) {
			struct weir_pkt p = nth_udp(100 * round + i);
			look(t, &p, T0 + 20, NULL);
		}
		cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 16 * (round + 1u));
		cr_assert_eq(cnt(t, WEIR_FLOW_CNT_HITS), 16 * (round + 1u));
		/* all end; the next round reuses the emptied buckets */
		cr_assert_eq(weir_flow_expire(t, T0 + 20 + 120 * SEC, 100, NULL, NULL), 16);
	}
	for (unsigned i = 1; i <= 16; i++) {
		struct weir_pkt p = nth_udp(i);
		look(t, &p, T0 + 1000 * SEC + i, NULL);
	}
	struct weir_pkt p1 = nth_udp(1), p17 = nth_udp(17);
	look(t, &p1, T0 + 1000 * SEC + 17, NULL);
	look(t, &p17, T0 + 1000 * SEC + 18, NULL);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 1);
	cr_assert_eq(e.why[e.n - 1], WEIR_FLOW_END_EVICTED);
	cr_assert_eq(e.info[e.n - 1].client_port, 1002, "least recently seen of both buckets");
	weir_flow_table_free(t);
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

struct model {
	uint8_t ended[40000];
	unsigned n_ended;
};

static void model_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
		      enum weir_flow_end why)
{
	struct model *m = ctx;

	cr_assert_lt(f->id, sizeof(m->ended));
	cr_assert_not(m->ended[f->id], "flow %lu ended twice", (unsigned long)f->id);
	m->ended[f->id] = 1;
	m->n_ended++;
}

Test(flow, churn_keeps_table_consistent_with_a_model, .init = eal_up, .fini = eal_down)
{
	static struct model m;
	struct weir_flow_conf c;
	char err[256];
	uint64_t last_id[150] = {0}, ts = T0, seed = 42, max_id = 0;
	static const uint8_t tcp_fl[] = {ACK, ACK, FIN | ACK, RST | ACK};

	weir_flow_conf_default(&c);
	c.capacity = 48;
	c.buckets = 8;
	c.on_end = model_end;
	c.on_end_ctx = &m;
	struct weir_flow_table *t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	for (unsigned n = 0; n < 30000; n++) {
		unsigned k = (unsigned)(lcg(&seed) % 150);
		struct weir_pkt p = k < 100 ? nth_udp(k)
					    : tcp("10.0.1.1", (uint16_t)k, "10.0.1.2", 80,
						  tcp_fl[lcg(&seed) % 4]);
		if (lcg(&seed) % 2) { /* either direction */
			struct weir_pkt r = p;
			memcpy(r.src_ip, p.dst_ip, 16);
			memcpy(r.dst_ip, p.src_ip, 16);
			r.src_port = p.dst_port;
			r.dst_port = p.src_port;
			p = r;
		}
		ts += lcg(&seed) % (2 * SEC);
		struct weir_flow *f = look(t, &p, ts, NULL);
		cr_assert_not_null(f);
		if (last_id[k] && !m.ended[last_id[k]])
			cr_assert_eq(f->id, last_id[k], "a live flow is found again");
		else
			cr_assert_eq(f->id, max_id + 1, "else a new flow");
		if (f->id > max_id)
			max_id = f->id;
		last_id[k] = f->id;
		if (n % 7 == 0)
			weir_flow_expire(t, ts, (unsigned)(lcg(&seed) % 4), NULL, NULL);
		cr_assert_eq(weir_flow_count(t), max_id - m.n_ended);
	}
	cr_assert_gt(cnt(t, WEIR_FLOW_CNT_EVICTED), 0);
	cr_assert_gt(cnt(t, WEIR_FLOW_CNT_TIMEOUT) + cnt(t, WEIR_FLOW_CNT_CLOSED), 0);
	weir_flow_flush(t, NULL, NULL);
	cr_assert_eq(m.n_ended, max_id);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), max_id);
	weir_flow_table_free(t);
}

Test(flow, full_table_evicts_the_list_head_nearest_its_timeout, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(4, 0, &e); /* one bucket, 4 flows */

	for (unsigned i = 1; i <= 4; i++) {
		struct weir_pkt p = nth_udp(i);
		look(t, &p, T0 + i * SEC, NULL);
	}
	/* udp head (flow 1) is due at T0 + 121 s */
	struct weir_pkt p5 = nth_udp(5);
	look(t, &p5, T0 + 5 * SEC, NULL);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.info[0].client_port, 1001);
	cr_assert_eq(e.why[0], WEIR_FLOW_END_EVICTED);

	/* a SYN-only flow (due at +36 s) beats the udp head (flow 2, due at +122 s) */
	struct weir_pkt syn = tcp("10.0.0.7", 7, "10.0.0.8", 8, SYN);
	look(t, &syn, T0 + 6 * SEC, NULL);
	cr_assert_eq(e.info[1].client_port, 1002);
	struct weir_pkt p6 = nth_udp(6);
	look(t, &p6, T0 + 7 * SEC, NULL);
	cr_assert_eq(e.n, 3);
	cr_assert_eq(e.info[2].proto, 6);
	cr_assert_eq(e.info[2].client_port, 7);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_EVICTED), 3);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 3);
	cr_assert_eq(weir_flow_count(t), 4);
	weir_flow_table_free(t);
}

Test(flow, reclaiming_a_timed_out_flow_is_a_timeout, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(1, 0, &e);
	struct weir_pkt a = nth_udp(1), b = nth_udp(2);

	look(t, &a, T0, NULL);
	cr_assert_not_null(look(t, &b, T0 + 120 * SEC, NULL));
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.why[0], WEIR_FLOW_END_TIMEOUT);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TIMEOUT), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_EVICTED), 0);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 1);
	weir_flow_table_free(t);
}

Test(flow, flows_of_the_current_burst_are_never_evicted, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(8, 1, &e);
	struct weir_pkt p[10];
	const struct weir_pkt *pp[10];
	uint64_t ts[10];
	struct weir_flow *f[10];
	uint8_t d[10];

	for (unsigned i = 0; i < 10; i++) {
		p[i] = nth_udp(i);
		pp[i] = &p[i];
		ts[i] = T0 + i;
	}
	cr_assert_eq(weir_flow_lookup_burst(t, pp, ts, 10, f, d, NULL), 8);
	cr_assert_null(f[8]);
	cr_assert_null(f[9]);
	cr_assert_eq(e.n, 0);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TABLE_FULL), 2);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_FULL), 2);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_NO_FLOW), 2);
	/* next burst: the oldest is evictable again */
	cr_assert_not_null(look(t, &p[9], T0 + 20, NULL));
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.info[0].client_port, 1000);
	weir_flow_table_free(t);
}

Test(flow, flush_ends_everything_and_ids_stay_unique, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_conf c;
	char err[256];
	uint64_t ids[40];
	unsigned n = 0;

	weir_flow_conf_default(&c);
	c.capacity = 4;
	c.worker = 7;
	c.on_end = record_end;
	c.on_end_ctx = &e;
	struct weir_flow_table *t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	/* 20 flows through 4 entries: 16 evictions recycle entries */
	for (unsigned i = 0; i < 20; i++) {
		struct weir_pkt p = nth_udp(i);
		ids[n++] = look(t, &p, T0 + i, NULL)->id;
	}
	cr_assert_eq(e.n, 16);
	cr_assert_eq(weir_flow_flush(t, NULL, NULL), 4);
	cr_assert_eq(e.n, 20);
	for (unsigned i = 16; i < 20; i++)
		cr_assert_eq(e.why[i], WEIR_FLOW_END_FLUSHED);
	cr_assert_eq(weir_flow_count(t), 0);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_FLUSHED), 4);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_EVICTED), 16);
	/* after a flush the table works as new */
	struct weir_pkt p = nth_udp(100);
	ids[n++] = look(t, &p, T0 + 100, NULL)->id;
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(ids[i] >> 48, 7, "worker in the id");
		cr_assert_eq(ids[i] & 0xffffffffffffull, i + 1);
	}
	weir_flow_table_free(t);
}

Test(flow, names_memory_and_bad_conf)
{
	for (unsigned i = 0; i < WEIR_FLOW_CNT__COUNT; i++) {
		cr_assert_str_neq(weir_flow_counter_name(i), "?");
		for (unsigned j = 0; j < i; j++)
			cr_assert_str_neq(weir_flow_counter_name(i), weir_flow_counter_name(j));
	}
	cr_assert_str_eq(weir_flow_counter_name(WEIR_FLOW_CNT_TABLE_FULL), "table_full");
	cr_assert_str_eq(weir_flow_counter_name(WEIR_FLOW_CNT__COUNT), "?");
	cr_assert_str_eq(weir_flow_end_name(WEIR_FLOW_END_EVICTED), "evicted");
	cr_assert_str_eq(weir_flow_state_name(WEIR_FLOW_CLOSING), "closing");
	cr_assert_str_eq(weir_flow_timeout_name(WEIR_FLOW_TO_TCP_ESTABLISHED), "tcp_established");
	cr_assert_str_eq(weir_tcp_class_name(WEIR_TCP_OVERLAP), "overlap");

	struct weir_flow_conf c;
	char err[256];
	weir_flow_conf_default(&c);
	cr_assert_eq(c.timeout_ns[WEIR_FLOW_TO_UDP], 120 * SEC);
	/* 2^18 buckets * 64 + 2^20 * (128 + 16) + 4097 * 8 + 4096 * 2048 + 1, plus the header */
	size_t arrays = (1u << 18) * 64ul + (1u << 20) * 144ul + 4097 * 8ul + 4096 * 2048ul + 1;
	cr_assert_gt(weir_flow_table_memory(&c), arrays);
	cr_assert_lt(weir_flow_table_memory(&c), arrays + 4096);
	c.capacity = 0;
	cr_assert_eq(weir_flow_table_memory(&c), 0);
	cr_assert_null(weir_flow_table_create(&c, err, sizeof(err)));
	cr_assert(strstr(err, "capacity"), "%s", err);
	weir_flow_conf_default(&c);
	c.ooo_slots = 70000;
	cr_assert_null(weir_flow_table_create(&c, err, sizeof(err)));
	cr_assert(strstr(err, "ooo_slots"), "%s", err);
	weir_flow_conf_default(&c);
	c.buckets = 3;
	cr_assert_null(weir_flow_table_create(&c, err, sizeof(err)));
}

/* ---- TCP ordering --------------------------------------------------------------------- */

struct tcp_fix {
	struct weir_flow_table *t;
	struct weir_flow *f;
	struct weir_tcp_delivery d;
	char out[4096]; /* bytes delivered by the last call, ranges joined with '|' */
};

static struct tcp_fix *tcp_setup(uint32_t slots, uint32_t slot_size, uint32_t per_flow)
{
	static struct tcp_fix x;
	struct weir_flow_conf c;
	char err[256];

	memset(&x, 0, sizeof(x));
	weir_flow_conf_default(&c);
	c.capacity = 16;
	c.ooo_slots = slots;
	c.ooo_slot_size = slot_size;
	c.ooo_per_flow = per_flow;
	x.t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(x.t, "%s", err);
	struct weir_pkt p = tcp("10.0.0.1", 1000, "10.0.0.2", 80, SYN);
	x.f = look(x.t, &p, T0, NULL);
	return &x;
}

/* Send a segment in direction 0; returns its class, x->out the joined ranges. */
static enum weir_tcp_class seg(struct tcp_fix *x, uint32_t seq, uint8_t fl, const char *data)
{
	size_t o = 0;

	weir_flow_tcp_segment(x->t, x->f, 0, seq, fl, (const uint8_t *)data, (uint32_t)strlen(data),
			      &x->d);
	for (unsigned i = 0; i < x->d.n; i++) {
		if (i)
			x->out[o++] = '|';
		memcpy(x->out + o, x->d.r[i].data, x->d.r[i].len);
		o += x->d.r[i].len;
	}
	x->out[o] = 0;
	return x->d.cls;
}

Test(tcp, in_order_and_retransmission, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);

	cr_assert_eq(seg(x, 1000, SYN, ""), WEIR_TCP_EMPTY);
	cr_assert_eq(x->f->next_seq[0], 1001);
	cr_assert_eq(seg(x, 1001, ACK, "hello"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "hello");
	cr_assert_eq(x->d.r[0].gap_before, 0);
	cr_assert_eq(seg(x, 1001, ACK, "hello"), WEIR_TCP_RETRANS);
	cr_assert_eq(x->d.n, 0);
	cr_assert_eq(seg(x, 1006, ACK, " world"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, " world");
	cr_assert_eq(x->f->next_seq[0], 1012);
	cr_assert_eq(seg(x, 1012, FIN | ACK, ""), WEIR_TCP_EMPTY);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_IN_ORDER), 2);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_RETRANS), 1);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_EMPTY), 2);
	weir_flow_table_free(x->t);
}

Test(tcp, partial_overlap_is_trimmed, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);

	seg(x, 1000, SYN, "");
	seg(x, 1001, ACK, "abcdef");
	cr_assert_eq(seg(x, 1004, ACK, "defghi"), WEIR_TCP_OVERLAP);
	cr_assert_str_eq(x->out, "ghi");
	cr_assert_eq(x->f->next_seq[0], 1010);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_OVERLAP), 1);
	weir_flow_table_free(x->t);
}

Test(tcp, out_of_order_held_then_released_in_order, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);

	seg(x, 1000, SYN, "");
	cr_assert_eq(seg(x, 1011, ACK, "KLMNO"), WEIR_TCP_HELD);
	cr_assert_eq(x->d.n, 0);
	cr_assert_eq(seg(x, 1006, ACK, "FGHIJ"), WEIR_TCP_HELD);
	cr_assert_eq(seg(x, 1016, ACK, "PQ"), WEIR_TCP_HELD);
	cr_assert_eq(weir_flow_tcp_held(x->t), 3);
	cr_assert_eq(seg(x, 1011, ACK, "KLMNO"), WEIR_TCP_RETRANS, "already held");
	cr_assert_eq(weir_flow_tcp_held(x->t), 3);
	cr_assert_eq(seg(x, 1001, ACK, "ABCDE"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "ABCDE|FGHIJ|KLMNO|PQ");
	cr_assert_eq(x->d.n, 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(x->d.r[i].gap_before, 0);
	cr_assert_eq(x->f->next_seq[0], 1018);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_HELD), 3);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_RELEASED), 3);
	/* delivered slots are reused only once the caller is past them */
	cr_assert_eq(weir_flow_tcp_held(x->t), 3);
	seg(x, 1018, ACK, "R");
	cr_assert_eq(weir_flow_tcp_held(x->t), 0);
	weir_flow_table_free(x->t);
}

Test(tcp, overlapping_held_segments_are_trimmed_on_release, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);

	seg(x, 1000, SYN, "");
	seg(x, 1008, ACK, "HIJKL");
	seg(x, 1006, ACK, "FGHIJ");
	seg(x, 1007, ACK, "GH"); /* inside what is held */
	cr_assert_eq(x->d.cls, WEIR_TCP_RETRANS);
	cr_assert_eq(seg(x, 1001, ACK, "ABCDEFG"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "ABCDEFG|HIJ|KL");
	cr_assert_eq(x->f->next_seq[0], 1013);
	weir_flow_table_free(x->t);
}

Test(tcp, exhausted_pool_gives_up_the_hole, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(2, 2048, 16);

	seg(x, 1000, SYN, "");
	seg(x, 1011, ACK, "KLMNO");
	seg(x, 1021, ACK, "UVWXY");
	cr_assert_eq(weir_flow_tcp_held(x->t), 2);
	/* another flow's segment ahead of its stream: no slot left */
	struct weir_pkt p = tcp("10.0.9.1", 5, "10.0.9.2", 6, SYN);
	struct weir_flow *g = look(x->t, &p, T0, NULL);
	weir_flow_tcp_segment(x->t, g, 0, 500, SYN, NULL, 0, &x->d);
	weir_flow_tcp_segment(x->t, g, 0, 511, ACK, (const uint8_t *)"xyz", 3, &x->d);
	cr_assert_eq(x->d.cls, WEIR_TCP_IN_ORDER);
	cr_assert_eq(x->d.n, 1);
	cr_assert_eq(x->d.r[0].gap_before, 10, "501..510 never seen");
	cr_assert_eq(memcmp(x->d.r[0].data, "xyz", 3), 0);
	cr_assert_eq(g->next_seq[0], 514);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_POOL_FULL), 1);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_GAPS), 1);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_GAP_BYTES), 10);
	/* the first flow fills its hole: everything it held comes out */
	cr_assert_eq(seg(x, 1001, ACK, "ABCDEFGHIJ"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "ABCDEFGHIJ|KLMNO");
	cr_assert_eq(x->f->next_seq[0], 1016);
	weir_flow_table_free(x->t);
}

Test(tcp, per_flow_limit_skips_the_first_hole, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 2);

	seg(x, 1000, SYN, "");
	seg(x, 1011, ACK, "KLMNO");
	seg(x, 1021, ACK, "UVWXY");
	/* a third hold is over the limit: 1001..1010 is given up, KLMNO comes out, then it fits */
	cr_assert_eq(seg(x, 1031, ACK, "abc"), WEIR_TCP_HELD);
	cr_assert_str_eq(x->out, "KLMNO");
	cr_assert_eq(x->d.r[0].gap_before, 10);
	cr_assert_eq(x->f->next_seq[0], 1016);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_FLOW_LIMIT), 1);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_GAPS), 1);
	cr_assert_eq(seg(x, 1016, ACK, "PQRST"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "PQRST|UVWXY");
	cr_assert_eq(x->f->next_seq[0], 1026);
	/* at flow end the rest is drained over the remaining hole */
	weir_flow_tcp_drain(x->t, x->f, 0, &x->d);
	cr_assert_eq(x->d.n, 1);
	cr_assert_eq(x->d.r[0].gap_before, 5);
	cr_assert_eq(memcmp(x->d.r[0].data, "abc", 3), 0);
	cr_assert_eq(x->f->next_seq[0], 1034);
	cr_assert_eq(cnt(x->t, WEIR_FLOW_CNT_TCP_GAP_BYTES), 15);
	weir_flow_table_free(x->t);
}

Test(tcp, sequence_wraparound, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);

	seg(x, 0xfffffff5u, SYN, "");
	cr_assert_eq(x->f->next_seq[0], 0xfffffff6u);
	cr_assert_eq(seg(x, 0xfffffff6u, ACK, "abcde"), WEIR_TCP_IN_ORDER);
	cr_assert_eq(x->f->next_seq[0], 0xfffffffbu);
	/* 0xfffffffb + 6 wraps to 1: ahead, held */
	cr_assert_eq(seg(x, 1, ACK, "ghij"), WEIR_TCP_HELD);
	cr_assert_eq(seg(x, 0xfffffffbu, ACK, "FGHIJK"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "FGHIJK|ghij");
	cr_assert_eq(x->f->next_seq[0], 5);
	cr_assert_eq(seg(x, 0xfffffff6u, ACK, "abcde"), WEIR_TCP_RETRANS, "behind, across the wrap");
	cr_assert_eq(seg(x, 0xffffffffu, ACK, "JKghijXY"), WEIR_TCP_OVERLAP);
	cr_assert_str_eq(x->out, "XY");
	cr_assert_eq(x->f->next_seq[0], 7);
	weir_flow_table_free(x->t);
}

Test(tcp, long_segment_takes_several_slots, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 64, 16);
	char held[151], first[101], want[260];

	for (unsigned i = 0; i < 150; i++)
		held[i] = (char)('a' + i % 26);
	held[150] = 0;
	memset(first, 'X', 100);
	first[100] = 0;
	seg(x, 1000, SYN, "");
	cr_assert_eq(seg(x, 1101, ACK, held), WEIR_TCP_HELD);
	cr_assert_eq(weir_flow_tcp_held(x->t), 3, "64 + 64 + 22");
	cr_assert_eq(seg(x, 1001, ACK, first), WEIR_TCP_IN_ORDER);
	cr_assert_eq(x->d.n, 4);
	cr_assert_eq(x->d.r[1].len, 64);
	cr_assert_eq(x->d.r[3].len, 22);
	snprintf(want, sizeof(want), "%s|%.64s|%.64s|%s", first, held, held + 64, held + 128);
	cr_assert_str_eq(x->out, want);
	weir_flow_table_free(x->t);
}

Test(tcp, anchors_syn_data_and_midstream, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);

	/* direction 1 never saw a SYN: a bare ACK does not anchor, the first payload does */
	weir_flow_tcp_segment(x->t, x->f, 1, 7000, ACK, NULL, 0, &x->d);
	cr_assert_eq(x->d.cls, WEIR_TCP_EMPTY);
	cr_assert_eq(x->f->flags & WEIR_FLOW_F_SEQ(1), 0);
	weir_flow_tcp_segment(x->t, x->f, 1, 7001, ACK, (const uint8_t *)"mid", 3, &x->d);
	cr_assert_eq(x->d.cls, WEIR_TCP_IN_ORDER);
	cr_assert_eq(x->f->next_seq[1], 7004);
	/* SYN with data (TFO): the data starts one after the SYN's sequence number */
	cr_assert_eq(seg(x, 100, SYN, "xyz"), WEIR_TCP_IN_ORDER);
	cr_assert_str_eq(x->out, "xyz");
	cr_assert_eq(x->f->next_seq[0], 104);
	weir_flow_table_free(x->t);
}

static void drain_on_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
			 enum weir_flow_end why)
{
	struct weir_tcp_delivery *d = ctx;

	weir_flow_tcp_drain(t, f, 0, d);
}

Test(tcp, flow_end_releases_held_slots, .init = eal_up, .fini = eal_down)
{
	struct tcp_fix *x = tcp_setup(64, 2048, 16);
	struct weir_tcp_delivery d;

	seg(x, 1000, SYN, "");
	seg(x, 1011, ACK, "KLMNO");
	seg(x, 1031, ACK, "abc");
	cr_assert_eq(weir_flow_tcp_held(x->t), 2);
	cr_assert_eq(weir_flow_flush(x->t, drain_on_end, &d), 1);
	cr_assert_eq(d.n, 2);
	cr_assert_eq(d.r[0].gap_before, 10);
	cr_assert_eq(d.r[1].gap_before, 15);
	cr_assert_eq(memcmp(d.r[1].data, "abc", 3), 0);
	/* a second flow, ended without draining */
	struct weir_pkt p = tcp("10.0.9.1", 5, "10.0.9.2", 6, SYN);
	struct weir_flow *g = look(x->t, &p, T0, NULL);
	weir_flow_tcp_segment(x->t, g, 0, 500, SYN, NULL, 0, &x->d);
	weir_flow_tcp_segment(x->t, g, 0, 600, ACK, (const uint8_t *)"zz", 2, &x->d);
	cr_assert_eq(weir_flow_tcp_held(x->t), 1);
	cr_assert_eq(weir_flow_flush(x->t, NULL, NULL), 1);
	cr_assert_eq(weir_flow_tcp_held(x->t), 0);
	weir_flow_table_free(x->t);
}

/* ---- snapshots -------------------------------------------------------------------------- */

#define SNAP_HDR 288
#define SNAP_REC 120

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void *snap(const struct weir_flow_table *t, size_t *len)
{
	*len = weir_flow_table_snapshot_size(t);
	void *buf = malloc(*len);
	cr_assert_not_null(buf);
	cr_assert_eq(weir_flow_table_snapshot(t, buf, *len), *len);
	return buf;
}

static struct weir_flow_table *snap_table(uint32_t capacity, uint32_t buckets, uint16_t worker,
					  weir_flow_end_fn cb, void *ctx)
{
	struct weir_flow_conf c;
	char err[256];

	weir_flow_conf_default(&c);
	c.capacity = capacity;
	c.buckets = buckets;
	c.worker = worker;
	c.on_end = cb;
	c.on_end_ctx = ctx;
	struct weir_flow_table *t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	return t;
}

/* Every end, in order, for comparing two tables' expiry. */
#define LOG_MAX 8192
struct end_log {
	unsigned n;
	uint64_t id[LOG_MAX];
	enum weir_flow_end why[LOG_MAX];
	struct weir_flow_info info[LOG_MAX];
};

static void log_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
		    enum weir_flow_end why)
{
	struct end_log *l = ctx;

	cr_assert_lt(l->n, LOG_MAX);
	l->id[l->n] = f->id;
	l->why[l->n] = why;
	weir_flow_describe(f, &l->info[l->n]);
	l->n++;
}

/*
 * A mixed table: MIX_FLOWS conversations of eight kinds (UDP one way and
 * both ways, ICMP, TCP SYN only, established, closing, reset, closed both
 * ways), IPv4 and IPv6, some VLANs, packets interleaved in event time over
 * five minutes, after 300 earlier flows ended (so entries come from the
 * free list). Some TCP flows anchor sequence numbers and hold a segment.
 */
#define MIX_FLOWS 3000
#define MIX_MAX_PKTS 5
struct mix_ev {
	uint64_t ts;
	uint32_t flow, k;
	struct weir_pkt p;
};
struct mix {
	struct mix_ev ev[MIX_FLOWS * MIX_MAX_PKTS];
	unsigned n_ev;
	struct weir_pkt first[MIX_FLOWS];
	uint64_t last_ts[MIX_FLOWS], id[MIX_FLOWS];
	struct end_log ends; /* ends on the original table */
};

static void mix_addrs(unsigned j, char *c, char *s, size_t len)
{
	if (j % 5 == 4) {
		snprintf(c, len, "2001:db8:1::%x", j);
		snprintf(s, len, "2001:db8:2::%x", j % 97);
	} else {
		snprintf(c, len, "10.%u.%u.%u", 1 + j / 65536, (j / 256) % 256, j % 256);
		snprintf(s, len, "10.200.0.%u", j % 97);
	}
}

/* The packets of flow j, client -> server (0) or back (1), with their TCP flags. */
static unsigned mix_script(unsigned j, uint8_t fl[MIX_MAX_PKTS], uint8_t back[MIX_MAX_PKTS])
{
	static const struct {
		unsigned n;
		uint8_t fl[MIX_MAX_PKTS], back[MIX_MAX_PKTS];
	} kinds[8] = {
		{2, {0, 0}, {0, 0}},                                            /* udp one way */
		{3, {0, 0, 0}, {0, 1, 0}},                                      /* udp both ways */
		{2, {0, 0}, {0, 1}},                                            /* icmp echo */
		{2, {SYN, SYN}, {0, 0}},                                        /* tcp syn only */
		{4, {SYN, SYN | ACK, ACK, ACK}, {0, 1, 0, 1}},                  /* established */
		{4, {SYN, SYN | ACK, ACK, FIN | ACK}, {0, 1, 0, 0}},            /* closing */
		{2, {SYN, RST | ACK}, {0, 1}},                                  /* reset */
		{5, {SYN, SYN | ACK, ACK, FIN | ACK, FIN | ACK}, {0, 1, 0, 1, 0}}, /* closed */
	};
	unsigned k = j % 8;

	memcpy(fl, kinds[k].fl, MIX_MAX_PKTS);
	memcpy(back, kinds[k].back, MIX_MAX_PKTS);
	return kinds[k].n;
}

static struct weir_pkt mix_pkt(unsigned j, uint8_t fl, int back)
{
	char c[64], s[64];
	unsigned kind = j % 8;
	uint8_t proto = kind < 2 ? 17 : kind == 2 ? (j % 5 == 4 ? 58 : 1) : 6;
	uint16_t cp = (uint16_t)(20000 + j % 40000), sp = kind == 2 ? 0 : (uint16_t)(53 + j % 3);

	mix_addrs(j, c, s, sizeof(c));
	struct weir_pkt p = back ? pk(s, kind == 2 ? 0 : sp, c, kind == 2 ? 0 : cp, proto, fl)
				 : pk(c, kind == 2 ? 8 : cp, s, sp, proto, fl);
	p.vlan = j % 7 == 3 ? (uint16_t)(100 + j % 3) : 0;
	p.ip_bytes = 40 + j % 1400;
	return p;
}

static int ev_cmp(const void *a, const void *b)
{
	const struct mix_ev *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->flow != y->flow)
		return x->flow < y->flow ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

static void mix_events(struct mix *m)
{
	uint64_t seed = 7;
	uint8_t fl[MIX_MAX_PKTS], back[MIX_MAX_PKTS];

	m->n_ev = 0;
	for (unsigned j = 0; j < MIX_FLOWS; j++) {
		unsigned n = mix_script(j, fl, back);
		/* lcg gives 31 bits: draw milliseconds, plus some nanoseconds */
		uint64_t ts = T0 + lcg(&seed) % 300000 * 1000000 + lcg(&seed) % 1000000;
		uint64_t gap = SEC + lcg(&seed) % 20000 * 1000000;
		m->first[j] = mix_pkt(j, fl[0], back[0]);
		for (unsigned k = 0; k < n; k++, ts += gap)
			m->ev[m->n_ev++] = (struct mix_ev){ts, j, k, mix_pkt(j, fl[k], back[k])};
		m->last_ts[j] = ts - gap;
	}
	qsort(m->ev, m->n_ev, sizeof(m->ev[0]), ev_cmp);
}

/* What a data path would do besides counting: matcher summary, streams, take_new. */
static void mix_touch(struct weir_flow_table *t, struct mix *m, const struct mix_ev *e,
		      struct weir_flow *f, uint8_t dir)
{
	struct weir_tcp_delivery d;

	if (e->k == 0)
		m->id[e->flow] = f->id;
	if (e->flow % 2)
		weir_flow_take_new(f);
	f->rules |= 1u << (e->flow % 32);
	f->stream[dir] = f; /* any pointer: it must not come back */
	if (f->key.proto == 6 && e->k == 3 && e->flow % 8 == 4) {
		weir_flow_tcp_segment(t, f, dir, 5000 + e->flow, ACK, (const uint8_t *)"abc", 3, &d);
		if (e->flow % 24 == 4) /* ahead of the stream: held, not carried */
			weir_flow_tcp_segment(t, f, dir, 5010 + e->flow, ACK, (const uint8_t *)"xy", 2,
					      &d);
	}
}

static void mix_fill(struct weir_flow_table *t, struct mix *m)
{
	for (unsigned i = 0; i < 300; i++) {
		struct weir_pkt p = nth_udp(i);
		look(t, &p, T0 - 1000 * SEC + i, NULL);
	}
	cr_assert_eq(weir_flow_expire(t, T0, 1000, NULL, NULL), 300);
	m->ends.n = 0;
	mix_events(m);
	for (unsigned off = 0; off < m->n_ev; off += 32) {
		unsigned n = m->n_ev - off < 32 ? m->n_ev - off : 32;
		const struct weir_pkt *pp[32];
		uint64_t ts[32];
		struct weir_flow *f[32];
		uint8_t d[32];
		for (unsigned i = 0; i < n; i++) {
			pp[i] = &m->ev[off + i].p;
			ts[i] = m->ev[off + i].ts;
		}
		cr_assert_eq(weir_flow_lookup_burst(t, pp, ts, n, f, d, NULL), n);
		for (unsigned i = 0; i < n; i++)
			mix_touch(t, m, &m->ev[off + i], f[i], d[i]);
		if (off % 512 == 0) /* some SYN-only flows time out; rotate moves on */
			weir_flow_expire(t, ts[n - 1], 4, NULL, NULL);
	}
}

static struct weir_flow_table *mix_build(struct mix *m)
{
	struct weir_flow_table *t = snap_table(4096, 0, 2, log_end, &m->ends);

	mix_fill(t, m);
	return t;
}

static int ended_on(const struct end_log *l, uint64_t id)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->id[i] == id)
			return 1;
	return 0;
}

/* The same packet at the same time into both tables finds equal flows. */
static void probe_both(struct weir_flow_table *a, struct weir_flow_table *b, struct weir_pkt p,
		       uint64_t ts, uint64_t id)
{
	uint8_t da, db;
	struct weir_flow_info ia, ib;

	if (p.l4_proto == 6)
		p.tcp_flags = 0; /* no state change: the expiry comparison stays meaningful */
	struct weir_flow *fa = look(a, &p, ts, &da), *fb = look(b, &p, ts, &db);
	cr_assert_not_null(fa);
	cr_assert_not_null(fb);
	cr_assert_eq(fa->id, id);
	cr_assert_eq(fb->id, id);
	cr_assert_eq(da, db);
	cr_assert_eq(fa->state, fb->state);
	cr_assert_eq(fa->flags, fb->flags, "client, anchors, bucket, F_NEW");
	cr_assert_eq(fa->next_seq[0], fb->next_seq[0]);
	cr_assert_eq(fa->next_seq[1], fb->next_seq[1]);
	cr_assert_null(fb->stream[0]);
	cr_assert_null(fb->stream[1]);
	weir_flow_describe(fa, &ia);
	weir_flow_describe(fb, &ib);
	cr_assert_eq(memcmp(&ia, &ib, sizeof(ia)), 0, "flow %lu differs", (unsigned long)id);
}

static void logs_equal(const struct end_log *a, const struct end_log *b)
{
	cr_assert_eq(a->n, b->n);
	for (unsigned i = 0; i < a->n; i++) {
		cr_assert_eq(a->id[i], b->id[i], "end %u", i);
		cr_assert_eq(a->why[i], b->why[i], "end %u", i);
		cr_assert_eq(memcmp(&a->info[i], &b->info[i], sizeof(a->info[i])), 0, "end %u", i);
	}
}

Test(flow, snapshot_round_trip_keeps_flows_and_expiry_order, .init = eal_up, .fini = eal_down)
{
	static struct mix m;
	static struct end_log ends2;
	struct weir_flow_table *t = mix_build(&m);
	size_t len;
	uint8_t *buf = snap(t, &len);
	char err[256];

	uint32_t n = weir_flow_count(t), build_ends = m.ends.n;
	cr_assert_gt(build_ends, 0, "some SYN-only flows timed out while building");
	cr_assert_eq(n, MIX_FLOWS - build_ends);
	cr_assert_eq(len, SNAP_HDR + (size_t)n * SNAP_REC);
	cr_assert_eq(weir_flow_table_snapshot(t, buf, len - 1), 0, "too small");
	cr_assert_eq(rd32(buf + 16), n, "live flows");
	cr_assert_eq(rd32(buf + 20), 0, "retired flows");
	cr_assert_eq(rd32(buf + 24), weir_flow_tcp_held(t), "held pieces left out");
	cr_assert_gt(rd32(buf + 24), 0);

	struct weir_flow_table *t2 = snap_table(4096, 0, 2, log_end, &ends2);
	cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(weir_flow_count(t2), n);
	cr_assert_eq(weir_flow_tcp_held(t2), 0, "held segments are not carried");
	for (unsigned c = 0; c < WEIR_FLOW_CNT__COUNT; c++)
		cr_assert_eq(cnt(t2, c), cnt(t, c), "%s", weir_flow_counter_name(c));
	size_t len2;
	uint8_t *buf2 = snap(t2, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(buf2 + SNAP_HDR, buf + SNAP_HDR, len - SNAP_HDR), 0,
		     "the same records in the same order");

	for (unsigned j = 0; j < MIX_FLOWS; j++)
		if (!ended_on(&m.ends, m.id[j]))
			probe_both(t, t2, m.first[j], m.last_ts[j], m.id[j]);
	cr_assert_eq(cnt(t2, WEIR_FLOW_CNT_CREATED), cnt(t, WEIR_FLOW_CNT_CREATED), "all found");

	/* expiry at increasing times: the same flows, the same order, the same reasons */
	m.ends.n = 0;
	for (uint64_t now = T0 + 300 * SEC; now < T0 + 4200 * SEC; now += 5 * SEC)
		cr_assert_eq(weir_flow_expire(t, now, 64, NULL, NULL),
			     weir_flow_expire(t2, now, 64, NULL, NULL));
	cr_assert_eq(m.ends.n, n, "every flow timed out");
	logs_equal(&m.ends, &ends2);
	unsigned reasons[WEIR_FLOW_END__COUNT] = {0};
	for (unsigned i = 0; i < m.ends.n; i++)
		reasons[m.ends.why[i]]++;
	cr_assert_gt(reasons[WEIR_FLOW_END_TIMEOUT], 0);
	cr_assert_gt(reasons[WEIR_FLOW_END_CLOSED], 0);
	free(buf);
	free(buf2);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
}

Test(flow, snapshot_carries_flows_pending_their_port_reuse_end, .init = eal_up, .fini = eal_down)
{
	static struct end_log e1, e2;
	struct weir_flow_table *t = snap_table(64, 0, 0, log_end, &e1);
	struct weir_flow_table *t2 = snap_table(64, 0, 0, log_end, &e2);
	struct weir_pkt s = tcp("10.0.0.1", 1000, "10.0.0.2", 80, SYN);
	struct weir_pkt rst = tcp("10.0.0.2", 80, "10.0.0.1", 1000, RST | ACK);
	struct weir_pkt s2 = tcp("10.0.0.1", 1001, "10.0.0.2", 80, SYN);
	struct weir_pkt rst2 = tcp("10.0.0.2", 80, "10.0.0.1", 1001, RST | ACK);
	/* two connections reset, then both 5-tuples reused in the same burst */
	const struct weir_pkt *pp[6] = {&s, &rst, &s2, &rst2, &s, &s2};
	uint64_t ts[6] = {T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5};
	struct weir_flow *f[6];
	uint8_t d[6];
	char err[256];
	size_t len;

	weir_flow_lookup_burst(t, pp, ts, 6, f, d, NULL);
	uint64_t old = f[0]->id, old2 = f[2]->id;
	uint8_t *buf = snap(t, &len);
	cr_assert_eq(rd32(buf + 16), 2, "the new connections");
	cr_assert_eq(rd32(buf + 20), 2, "the reset ones, callbacks pending");
	cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(weir_flow_count(t2), 4);
	cr_assert_eq(e2.n, 0);
	weir_flow_expire(t, T0 + 6, 0, NULL, NULL);
	weir_flow_expire(t2, T0 + 6, 0, NULL, NULL);
	cr_assert_eq(e2.n, 2);
	cr_assert(e2.id[0] == old2 && e2.id[1] == old, "the original's callback order");
	cr_assert_eq(e2.why[0], WEIR_FLOW_END_CLOSED);
	cr_assert_eq(weir_flow_count(t2), 2);
	weir_flow_flush(t, NULL, NULL);
	weir_flow_flush(t2, NULL, NULL);
	logs_equal(&e1, &e2);
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
}

Test(flow, snapshot_of_an_empty_table_keeps_ids_and_counters, .init = eal_up, .fini = eal_down)
{
	struct weir_flow_table *t = snap_table(16, 0, 3, NULL, NULL);
	struct weir_flow_table *t2 = snap_table(16, 0, 3, NULL, NULL);
	char err[256];
	size_t len;

	for (unsigned i = 0; i < 5; i++) {
		struct weir_pkt p = nth_udp(i);
		look(t, &p, T0, NULL);
	}
	cr_assert_eq(weir_flow_flush(t, NULL, NULL), 5);
	uint8_t *buf = snap(t, &len);
	cr_assert_eq(len, SNAP_HDR);
	cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(weir_flow_count(t2), 0);
	cr_assert_eq(cnt(t2, WEIR_FLOW_CNT_CREATED), 5);
	cr_assert_eq(cnt(t2, WEIR_FLOW_CNT_FLUSHED), 5);
	struct weir_pkt p = nth_udp(9);
	cr_assert_eq(look(t2, &p, T0, NULL)->id, 3ull << 48 | 6, "ids go on where they were");
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
}

/* A table of five flows of four kinds, and its snapshot. */
static uint8_t *small_snap(struct weir_flow_table **tp, size_t *len)
{
	struct weir_flow_table *t = snap_table(64, 0, 1, NULL, NULL);
	struct weir_pkt p[5] = {
		udp("10.0.0.1", 1, "10.0.0.2", 2),
		udp("2001:db8::1", 3, "2001:db8::2", 4),
		pk("10.0.0.1", 8, "10.0.0.3", 0, 1, 0),
		tcp("10.0.0.4", 5, "10.0.0.1", 6, SYN),
		tcp("10.0.0.1", 7, "10.0.0.5", 8, RST),
	};

	for (unsigned i = 0; i < 5; i++)
		look(t, &p[i], T0 + i * SEC, NULL);
	*tp = t;
	return snap(t, len);
}

/* Refused: -1, a reason naming `what`, and t empty and still usable. */
static void refused(struct weir_flow_table *t, const void *buf, size_t len, const char *what)
{
	char err[256] = "";

	cr_assert_eq(weir_flow_table_restore(t, buf, len, err, sizeof(err)), -1, "%s", what);
	cr_assert(strstr(err, what), "wanted '%s' in: %s", what, err);
	cr_assert_eq(weir_flow_count(t), 0);
}

/* t takes buf and gives it back as it was, then is emptied. */
static void restores(struct weir_flow_table *t, const uint8_t *buf, size_t len)
{
	char err[256];
	size_t len2;

	cr_assert_eq(weir_flow_table_restore(t, buf, len, err, sizeof(err)), 0, "%s", err);
	uint8_t *buf2 = snap(t, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(buf + SNAP_HDR, buf2 + SNAP_HDR, len - SNAP_HDR), 0);
	free(buf2);
	weir_flow_flush(t, NULL, NULL);
}

Test(flow, snapshot_restore_rejects_every_truncation, .init = eal_up, .fini = eal_down)
{
	struct weir_flow_table *t, *t2 = snap_table(64, 0, 1, NULL, NULL);
	size_t len;
	uint8_t *buf = small_snap(&t, &len);

	cr_assert_eq(len, SNAP_HDR + 5 * SNAP_REC);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees any read past them */
		memcpy(cut, buf, n);
		refused(t2, cut, n, "truncated");
		free(cut);
	}
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	refused(t2, longer, len + 1, "trailing bytes");
	restores(t2, buf, len);
	free(longer);
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
}

Test(flow, snapshot_restore_rejects_bad_headers, .init = eal_up, .fini = eal_down)
{
	struct weir_flow_table *t, *t2 = snap_table(64, 0, 1, NULL, NULL);
	size_t len;
	uint8_t *buf = small_snap(&t, &len);
	char err[256];

	for (unsigned bit = 0; bit < SNAP_HDR * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
		cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), -1, "bit %u", bit);
		cr_assert_eq(weir_flow_count(t2), 0);
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	buf[0] ^= 1;
	refused(t2, buf, len, "magic");
	buf[0] ^= 1;
	buf[4] = 2;
	refused(t2, buf, len, "version 2");
	buf[4] = 1;
	buf[44] ^= 0x80;
	refused(t2, buf, len, "CRC");
	buf[44] ^= 0x80;

	struct weir_flow_table *small = snap_table(4, 0, 1, NULL, NULL);
	refused(small, buf, len, "capacity is 4");
	struct weir_flow_table *other = snap_table(64, 0, 2, NULL, NULL);
	refused(other, buf, len, "worker");
	struct weir_pkt p = udp("10.9.9.9", 1, "10.9.9.8", 2);
	look(t2, &p, T0, NULL);
	cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not empty"), "%s", err);
	cr_assert_eq(weir_flow_count(t2), 1, "a refused restore leaves the table alone");
	weir_flow_flush(t2, NULL, NULL);
	restores(t2, buf, len);
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
	weir_flow_table_free(small);
	weir_flow_table_free(other);
}

Test(flow, snapshot_restore_rejects_bad_records, .init = eal_up, .fini = eal_down)
{
	struct weir_flow_table *t, *t2 = snap_table(64, 0, 1, NULL, NULL);
	size_t len;
	static uint8_t bad[SNAP_HDR + 5 * SNAP_REC]; /* globals have ASan red zones too */
	uint8_t *buf = small_snap(&t, &len);
	/* records of the small table, by list: tcp_new 0, tcp_closing 1, udp 2 and 3, other 4 */
	static const struct {
		unsigned rec, off;
		uint8_t val;
		const char *what;
	} cases[] = {
		{2, 39, 5, "IP version"},
		{2, 5, 1, "past the fourth"},
		{4, 32, 1, "without ports"},
		{2, 3, 0xff, "canonical"},
		{1, 110, 7, "state"},
		{4, 110, WEIR_FLOW_CLOSING, "state"},
		{2, 111, 0x80, "flag"},
		{2, 116, WEIR_FLOW_TO_OTHER, "list"},
		{2, 116, 9, "list"},
		{2, 118, 1, "reserved"},
		{2, 47, 0xff, "times"},
		{2, 115, 0xff, "times"},
		{2, 63, 2, "id"},
		{2, 56, 0, "id"},
		{2, 56, 99, "id"},
	};

	cr_assert_eq(len, sizeof(bad));
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, len);
		bad[SNAP_HDR + cases[i].rec * SNAP_REC + cases[i].off] = cases[i].val;
		refused(t2, bad, len, cases[i].what);
	}
	memcpy(bad, buf, len); /* a second record with the first UDP flow's key */
	memcpy(bad + SNAP_HDR + 3 * SNAP_REC, bad + SNAP_HDR + 2 * SNAP_REC, 40);
	refused(t2, bad, len, "duplicate key");
	memcpy(bad, buf, len);
	bad[SNAP_HDR + 4 * SNAP_REC + 116] = 5; /* a live record on the retired list */
	cr_assert_eq(weir_flow_table_restore(t2, bad, len, NULL, 0), -1);

	/* whatever the record bytes: a table that restores, or an empty one */
	uint64_t seed = 1;
	for (unsigned i = 0; i < 5000; i++) {
		memcpy(bad, buf, len);
		for (unsigned k = 0; k < 1 + i % 4; k++)
			bad[SNAP_HDR + lcg(&seed) % (len - SNAP_HDR)] = (uint8_t)lcg(&seed);
		if (weir_flow_table_restore(t2, bad, len, NULL, 0) == 0) {
			cr_assert_eq(weir_flow_count(t2), 5);
			cr_assert_eq(weir_flow_flush(t2, NULL, NULL), 5);
		}
		cr_assert_eq(weir_flow_count(t2), 0);
	}
	restores(t2, buf, len);
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
}

static void mark_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
		     enum weir_flow_end why)
{
	((uint8_t *)ctx)[f->id] = 1;
}

Test(flow, snapshot_restore_puts_flows_back_in_their_buckets, .init = eal_up, .fini = eal_down)
{
	static uint8_t ended[1024];
	/* 64 buckets of 8 for 500 keys: many sit in their alternate bucket */
	struct weir_flow_table *t = snap_table(512, 64, 0, mark_end, ended);
	struct weir_flow_table *same = snap_table(512, 64, 0, NULL, NULL);
	struct weir_flow_table *more = snap_table(512, 256, 0, NULL, NULL);
	struct weir_flow_table *fewer = snap_table(512, 16, 0, NULL, NULL);
	char err[256];
	size_t len;

	for (unsigned i = 0; i < 500; i++) {
		struct weir_pkt p = nth_udp(i);
		look(t, &p, T0 + i, NULL);
	}
	uint8_t *buf = snap(t, &len);
	unsigned n = weir_flow_count(t), alt = 0;
	for (unsigned r = 0; r < n; r++)
		alt += (buf[SNAP_HDR + r * SNAP_REC + 111] & WEIR_FLOW_F_ALT) != 0;
	cr_assert_geq(alt, 8, "%u of %u flows in their alternate bucket", alt, n);
	cr_assert_gt(n, 16 * 8, "more than the smaller table's ways");

	restores(same, buf, len); /* byte for byte: the same buckets, primary or alternate */
	refused(fewer, buf, len, "no room");
	struct weir_flow_table *both[2] = {same, more};
	for (unsigned k = 0; k < 2; k++) {
		cr_assert_eq(weir_flow_table_restore(both[k], buf, len, err, sizeof(err)), 0, "%s", err);
		for (unsigned i = 0; i < 500; i++) {
			struct weir_pkt p = nth_udp(i);
			if (!ended[i + 1])
				cr_assert_eq(look(both[k], &p, T0 + 1000, NULL)->id, i + 1);
		}
		cr_assert_eq(cnt(both[k], WEIR_FLOW_CNT_CREATED), 500, "every one found");
	}
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(same);
	weir_flow_table_free(more);
	weir_flow_table_free(fewer);
}

/* ---- lifecycles that do not depend on bursts or expire --------------------------------- */

Test(flow, a_packet_past_its_flows_timeout_starts_a_new_flow, .init = eal_up, .fini = eal_down)
{
	struct ends e = {0};
	struct weir_flow_table *t = table(64, 0, &e);
	struct weir_pkt u = udp("10.0.0.1", 1, "10.0.0.2", 2);

	struct weir_flow *f = look(t, &u, T0, NULL);
	uint64_t id1 = f->id;
	cr_assert(weir_flow_take_new(f));
	cr_assert_eq(look(t, &u, T0 + 120 * SEC - 1, NULL)->id, id1, "1 ns short: the same flow");
	/* exactly the udp timeout after its last packet, expire never ran */
	f = look(t, &u, T0 + 240 * SEC - 1, NULL);
	cr_assert_eq(f->id, id1 + 1, "a new flow, the next id");
	cr_assert(weir_flow_take_new(f));
	cr_assert_eq(f->pkts[0] + f->pkts[1], 1);
	cr_assert_eq(f->first_ts, T0 + 240 * SEC - 1);
	cr_assert_eq(e.n, 1, "the old flow ended first, its callback inside the lookup");
	cr_assert_eq(e.id[0], id1);
	cr_assert_eq(e.why[0], WEIR_FLOW_END_TIMEOUT);
	cr_assert_eq(e.info[0].pkts[0], 2);
	cr_assert_eq(e.info[0].first_ts, T0);
	cr_assert_eq(e.info[0].last_ts, T0 + 120 * SEC - 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TIMEOUT), 1);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CREATED), 2);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_HITS), 1);
	cr_assert_eq(weir_flow_count(t), 1);
	cr_assert_eq(weir_flow_expire(t, T0 + 240 * SEC - 1, 1000, NULL, NULL), 0,
		     "nothing left for expire");

	/* closing class: ends as closed, like expire would end it */
	struct weir_pkt fin = tcp("10.0.0.1", 1000, "10.0.0.2", 80, FIN | ACK);
	struct weir_pkt ack = tcp("10.0.0.2", 80, "10.0.0.1", 1000, ACK);
	uint64_t idf = look(t, &fin, T0, NULL)->id;
	cr_assert_neq(look(t, &ack, T0 + 30 * SEC, NULL)->id, idf);
	cr_assert_eq(e.n, 2);
	cr_assert_eq(e.id[1], idf);
	cr_assert_eq(e.why[1], WEIR_FLOW_END_CLOSED);

	/* a timeout met within one burst: the flow the burst returned stays valid, its callback waits */
	struct weir_pkt v = udp("10.0.0.3", 3, "10.0.0.4", 4);
	struct weir_pkt vr = udp("10.0.0.4", 4, "10.0.0.3", 3);
	const struct weir_pkt *pp[4] = {&v, &vr, &v, &vr};
	uint64_t ts[4] = {T0, T0 + SEC, T0 + 121 * SEC, T0 + 122 * SEC};
	struct weir_flow *fs[4];
	uint8_t d[4];
	cr_assert_eq(weir_flow_lookup_burst(t, pp, ts, 4, fs, d, NULL), 4);
	cr_assert_eq(fs[0], fs[1]);
	cr_assert_neq(fs[2], fs[0]);
	cr_assert_eq(fs[2], fs[3]);
	cr_assert_eq(fs[0]->pkts[0] + fs[0]->pkts[1], 2, "the old flow is intact");
	cr_assert_eq(fs[0]->state, WEIR_FLOW_ESTABLISHED);
	cr_assert_eq(fs[2]->pkts[0] + fs[2]->pkts[1], 2);
	cr_assert_eq(fs[2]->id, fs[0]->id + 1);
	uint64_t idv = fs[0]->id;
	cr_assert_eq(e.n, 2, "callback deferred to the next call");
	cr_assert_eq(weir_flow_expire(t, T0 + 122 * SEC, 0, NULL, NULL), 0);
	cr_assert_eq(e.n, 3);
	cr_assert_eq(e.id[2], idv);
	cr_assert_eq(e.why[2], WEIR_FLOW_END_TIMEOUT);
	cr_assert_eq(e.info[2].last_ts, T0 + SEC);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TIMEOUT), 2);
	cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CLOSED), 1);
	weir_flow_table_free(t);
}

Test(flow, flush_at_a_time_ends_the_flows_past_their_timeout_as_timeout, .init = eal_up,
     .fini = eal_down)
{
	struct weir_pkt p[5] = {
		udp("10.0.0.1", 1, "10.0.0.2", 2),                  /* due at +120 s */
		udp("10.0.0.1", 3, "10.0.0.2", 4),                  /* +100 s: due at +220 s */
		tcp("10.0.0.1", 5, "10.0.0.2", 6, SYN),             /* +50 s: due at +80 s */
		tcp("10.0.0.1", 7, "10.0.0.2", 8, FIN | ACK),       /* +60 s, closing: due at +90 s */
		pk("10.0.0.1", 8, "10.0.0.3", 0, 1, 0),             /* +100 s, other: due at +160 s */
	};
	static const uint64_t at[5] = {0, 100, 50, 60, 100};
	static const enum weir_flow_end want[5] = {
		WEIR_FLOW_END_TIMEOUT, WEIR_FLOW_END_FLUSHED, WEIR_FLOW_END_TIMEOUT,
		WEIR_FLOW_END_CLOSED, WEIR_FLOW_END_FLUSHED,
	};

	for (int timed = 1; timed >= 0; timed--) {
		struct ends e = {0};
		struct weir_flow_table *t = table(64, 0, &e);
		uint64_t id[5];
		for (unsigned i = 0; i < 5; i++)
			id[i] = look(t, &p[i], T0 + at[i] * SEC, NULL)->id;
		/* expire with a small budget got to none of them */
		cr_assert_eq(weir_flow_expire(t, T0 + 79 * SEC, 1, NULL, NULL), 0);
		if (timed)
			cr_assert_eq(weir_flow_flush_at(t, T0 + 120 * SEC, NULL, NULL), 5);
		else
			cr_assert_eq(weir_flow_flush(t, NULL, NULL), 5, "without a time: all flushed");
		cr_assert_eq(e.n, 5);
		for (unsigned k = 0; k < 5; k++)
			for (unsigned i = 0; i < 5; i++)
				if (e.id[k] == id[i])
					cr_assert_eq(e.why[k], timed ? want[i] : WEIR_FLOW_END_FLUSHED,
						     "flow %u: %s", i, weir_flow_end_name(e.why[k]));
		cr_assert_eq(cnt(t, WEIR_FLOW_CNT_TIMEOUT), timed ? 2 : 0);
		cr_assert_eq(cnt(t, WEIR_FLOW_CNT_CLOSED), timed ? 1 : 0);
		cr_assert_eq(cnt(t, WEIR_FLOW_CNT_FLUSHED), timed ? 2 : 5);
		cr_assert_eq(weir_flow_count(t), 0);
		weir_flow_table_free(t);
	}
}

Test(flow, snapshot_carries_a_flow_that_timed_out_within_its_burst, .init = eal_up,
     .fini = eal_down)
{
	static struct end_log e1, e2;
	struct weir_flow_table *t = snap_table(64, 0, 0, log_end, &e1);
	struct weir_flow_table *t2 = snap_table(64, 0, 0, log_end, &e2);
	struct weir_pkt u = udp("10.0.0.1", 1, "10.0.0.2", 2);
	const struct weir_pkt *pp[2] = {&u, &u};
	uint64_t ts[2] = {T0, T0 + 120 * SEC};
	struct weir_flow *f[2];
	uint8_t d[2];
	char err[256];
	size_t len;

	weir_flow_lookup_burst(t, pp, ts, 2, f, d, NULL);
	cr_assert_neq(f[0], f[1]);
	uint64_t old = f[0]->id;
	uint8_t *buf = snap(t, &len);
	cr_assert_eq(rd32(buf + 16), 1, "the new flow");
	cr_assert_eq(rd32(buf + 20), 1, "the timed-out one, callback pending");
	cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), 0, "%s", err);
	weir_flow_expire(t, T0 + 120 * SEC, 0, NULL, NULL);
	weir_flow_expire(t2, T0 + 120 * SEC, 0, NULL, NULL);
	cr_assert_eq(e2.n, 1);
	cr_assert_eq(e2.id[0], old);
	cr_assert_eq(e2.why[0], WEIR_FLOW_END_TIMEOUT);
	weir_flow_flush_at(t, T0 + 120 * SEC, NULL, NULL);
	weir_flow_flush_at(t2, T0 + 120 * SEC, NULL, NULL);
	logs_equal(&e1, &e2);
	free(buf);
	weir_flow_table_free(t);
	weir_flow_table_free(t2);
}

/*
 * One packet sequence, cut into bursts in different ways, with expire after
 * each burst at the burst's latest time and budgets from none to all: the
 * same flows (each packet's flow id) and the same end records (key, times,
 * counts, state, reason, id), as a multiset. Short timeouts and 48 keys of
 * four kinds make flows time out, close, get reused and run to the end.
 */
#define LC_KEYS 48
#define LC_PKTS 6000

static struct weir_pkt lc_pkt[LC_PKTS];
static const struct weir_pkt *lc_pp[LC_PKTS];
static uint64_t lc_ts[LC_PKTS];

static void lc_packets(void)
{
	static const uint8_t fl[] = {SYN, SYN | ACK, ACK, ACK, ACK, FIN | ACK, RST | ACK, 0};
	uint64_t seed = 2024, ts = T0;

	for (unsigned n = 0; n < LC_PKTS; n++) {
		unsigned k = (unsigned)(lcg(&seed) % LC_KEYS);
		char a[32], b[32];
		snprintf(a, sizeof(a), "10.1.%u.1", k);
		snprintf(b, sizeof(b), "10.2.%u.2", k % 5);
		struct weir_pkt p = k % 4 == 0 ? udp(a, (uint16_t)(1000 + k), b, 53)
				    : k % 4 == 1 ? pk(a, 8, b, 0, 1, 0)
						 : tcp(a, (uint16_t)(2000 + k), b, 80,
						       fl[lcg(&seed) % sizeof(fl)]);
		if (lcg(&seed) % 2) { /* either direction */
			struct weir_pkt r = p;
			memcpy(r.src_ip, p.dst_ip, 16);
			memcpy(r.dst_ip, p.src_ip, 16);
			r.src_port = p.dst_port;
			r.dst_port = p.src_port;
			p = r;
		}
		p.ip_bytes = 40 + n % 1000;
		/* a fifth share a time with the packet before; else up to 1 s later */
		if (lcg(&seed) % 5)
			ts += lcg(&seed) % 1000 * 1000000 + lcg(&seed) % 1000;
		lc_pkt[n] = p;
		lc_pp[n] = &lc_pkt[n];
		lc_ts[n] = ts;
	}
}

struct lc_end {
	struct weir_flow_info info;
	enum weir_flow_end why;
};

struct lc_run {
	uint64_t id[LC_PKTS];       /* each packet's flow */
	struct end_log log;         /* the ends in callback order */
	unsigned n;
	struct lc_end end[LOG_MAX]; /* the ends by id */
	uint64_t cnt[WEIR_FLOW_CNT__COUNT];
};

static int lc_end_cmp(const void *a, const void *b)
{
	const struct lc_end *x = a, *y = b;

	return x->info.id < y->info.id ? -1 : x->info.id > y->info.id;
}

static void lc_run(struct lc_run *r, unsigned burst, unsigned budget)
{
	static struct weir_flow *f[LC_PKTS];
	static uint8_t d[LC_PKTS];
	struct weir_flow_conf c;
	char err[256];

	memset(r, 0, sizeof(*r));
	weir_flow_conf_default(&c);
	c.capacity = 8192; /* never full: eviction is the one thing that may depend on timing */
	c.timeout_ns[WEIR_FLOW_TO_TCP_NEW] = 10 * SEC;
	c.timeout_ns[WEIR_FLOW_TO_TCP_ESTABLISHED] = 40 * SEC;
	c.timeout_ns[WEIR_FLOW_TO_TCP_CLOSING] = 5 * SEC;
	c.timeout_ns[WEIR_FLOW_TO_UDP] = 20 * SEC;
	c.timeout_ns[WEIR_FLOW_TO_OTHER] = 15 * SEC;
	c.on_end = log_end;
	c.on_end_ctx = &r->log;
	struct weir_flow_table *t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	for (unsigned off = 0; off < LC_PKTS; off += burst) {
		unsigned n = LC_PKTS - off < burst ? LC_PKTS - off : burst;
		cr_assert_eq(weir_flow_lookup_burst(t, lc_pp + off, lc_ts + off, n, f, d, NULL), n);
		for (unsigned i = 0; i < n; i++)
			r->id[off + i] = f[i]->id;
		weir_flow_expire(t, lc_ts[off + n - 1], budget, NULL, NULL);
	}
	weir_flow_flush_at(t, lc_ts[LC_PKTS - 1], NULL, NULL);
	cr_assert_eq(weir_flow_count(t), 0);
	for (unsigned k = 0; k < WEIR_FLOW_CNT__COUNT; k++)
		r->cnt[k] = cnt(t, k);
	cr_assert_eq(r->cnt[WEIR_FLOW_CNT_TABLE_FULL], 0);
	weir_flow_table_free(t);
	/* the ends as a multiset: by id (each flow ends once) */
	r->n = r->log.n;
	for (unsigned i = 0; i < r->n; i++) {
		cr_assert_eq(r->log.info[i].id, r->log.id[i]);
		r->end[i] = (struct lc_end){r->log.info[i], r->log.why[i]};
	}
	qsort(r->end, r->n, sizeof(r->end[0]), lc_end_cmp);
	for (unsigned i = 1; i < r->n; i++)
		cr_assert_gt(r->end[i].info.id, r->end[i - 1].info.id, "flow %lu ended twice",
			     (unsigned long)r->end[i].info.id);
}

Test(flow, lifecycles_do_not_depend_on_bursts_or_expire_budget, .init = eal_up,
     .fini = eal_down)
{
	static struct lc_run ref, run;
	static const unsigned bursts[] = {1, 32, 7, 256, LC_PKTS};
	static const unsigned budgets[] = {UINT32_MAX, 1, 0};

	lc_packets();
	lc_run(&ref, 1, UINT32_MAX); /* expire after every packet, no bound: the model */
	unsigned reasons[WEIR_FLOW_END__COUNT] = {0};
	for (unsigned i = 0; i < ref.n; i++)
		reasons[ref.end[i].why]++;
	cr_assert_gt(reasons[WEIR_FLOW_END_TIMEOUT], 100, "%u", reasons[WEIR_FLOW_END_TIMEOUT]);
	cr_assert_gt(reasons[WEIR_FLOW_END_CLOSED], 100, "%u", reasons[WEIR_FLOW_END_CLOSED]);
	cr_assert_gt(reasons[WEIR_FLOW_END_FLUSHED], 5, "%u", reasons[WEIR_FLOW_END_FLUSHED]);
	cr_assert_eq(ref.n, ref.cnt[WEIR_FLOW_CNT_CREATED]);
	cr_assert_gt(ref.n, 4 * LC_KEYS, "keys come back as new flows");

	for (unsigned b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++)
		for (unsigned g = 0; g < sizeof(budgets) / sizeof(budgets[0]); g++) {
			lc_run(&run, bursts[b], budgets[g]);
			for (unsigned i = 0; i < LC_PKTS; i++)
				cr_assert_eq(run.id[i], ref.id[i], "bursts of %u, budget %u: packet %u",
					     bursts[b], budgets[g], i);
			cr_assert_eq(run.n, ref.n, "bursts of %u, budget %u", bursts[b], budgets[g]);
			for (unsigned i = 0; i < ref.n; i++) {
				cr_assert_eq(run.end[i].why, ref.end[i].why,
					     "bursts of %u, budget %u: flow %lu", bursts[b], budgets[g],
					     (unsigned long)ref.end[i].info.id);
				cr_assert_eq(memcmp(&run.end[i].info, &ref.end[i].info,
						    sizeof(ref.end[i].info)), 0,
					     "bursts of %u, budget %u: flow %lu", bursts[b], budgets[g],
					     (unsigned long)ref.end[i].info.id);
			}
			static const enum weir_flow_counter same[] = {
				WEIR_FLOW_CNT_LOOKUPS, WEIR_FLOW_CNT_HITS,   WEIR_FLOW_CNT_CREATED,
				WEIR_FLOW_CNT_TIMEOUT, WEIR_FLOW_CNT_CLOSED, WEIR_FLOW_CNT_FLUSHED,
			};
			for (unsigned k = 0; k < sizeof(same) / sizeof(same[0]); k++)
				cr_assert_eq(run.cnt[same[k]], ref.cnt[same[k]], "%s",
					     weir_flow_counter_name(same[k]));
		}
}

/* ---- copy-on-write snapshots ------------------------------------------------------------ */

static void cow_on(struct weir_flow_table *t)
{
	char err[256];

	cr_assert_eq(weir_flow_cow_enable(t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(weir_flow_cow_enable(t, err, sizeof(err)), 0, "a second enable does nothing");
}

/* The finished copy's snapshot is ref, byte for byte. */
static void cow_matches(const struct weir_flow_table *t, const uint8_t *ref, size_t len,
			const char *what)
{
	cr_assert_eq(weir_flow_cow_snapshot_size(t), len, "%s: size %zu, the snapshot's %zu", what,
		     weir_flow_cow_snapshot_size(t), len);
	uint8_t *buf = malloc(len + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(weir_flow_cow_snapshot(t, buf, len - 1), 0, "%s: too small", what);
	cr_assert_eq(weir_flow_cow_snapshot(t, buf, len + 1), len, "%s", what);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], ref[i], "%s: byte %zu differs (record %ld, offset %zu)", what, i,
			     i < SNAP_HDR ? -1l : (long)((i - SNAP_HDR) / SNAP_REC),
			     i < SNAP_HDR ? i : (i - SNAP_HDR) % SNAP_REC);
	free(buf);
}

/* Steps of small, varied budgets. */
struct cow_run {
	unsigned k, steps;
	int done;
};

static int cow_tick(struct weir_flow_table *t, struct cow_run *r)
{
	static const unsigned budgets[] = {1, 3, 17, 2, 1, 5, 3, 1};

	if (r->done) {
		cr_assert(weir_flow_cow_step(t, 1), "stays complete");
		return 1;
	}
	r->done = weir_flow_cow_step(t, budgets[r->k++ % (sizeof(budgets) / sizeof(budgets[0]))]);
	r->steps++;
	return r->done;
}

/*
 * An end callback that changes the flow it is given (as the inspect stage's
 * does) and drains its held segments: the copy must have it before.
 */
struct scribble {
	unsigned n;
	struct weir_tcp_delivery d;
};

static void scribble_end(void *ctx, struct weir_flow_table *t, struct weir_flow *f,
			 enum weir_flow_end why)
{
	struct scribble *s = ctx;

	s->n++;
	f->rules = 0xdead0000u | why;
	f->pkts[0] += 1000;
	f->flags |= WEIR_FLOW_F_NEW;
	f->stream[0] = f->stream[1] = NULL;
	weir_flow_tcp_drain(t, f, 0, &s->d);
	weir_flow_tcp_drain(t, f, 1, &s->d);
}

/* A burst through lookup_burst at ts, ts + 1, ...; returned flows are written as a caller would. */
static unsigned cow_burst(struct weir_flow_table *t, const struct weir_pkt *p, unsigned n,
			  uint64_t ts, struct weir_flow **f, uint8_t *d)
{
	const struct weir_pkt *pp[64];
	uint64_t tv[64];

	cr_assert_leq(n, 64);
	for (unsigned i = 0; i < n; i++) {
		pp[i] = &p[i];
		tv[i] = ts + i;
	}
	unsigned found = weir_flow_lookup_burst(t, pp, tv, n, f, d, NULL);
	for (unsigned i = 0; i < n; i++)
		if (f[i]) {
			f[i]->rules |= 1u << (i % 32);
			weir_flow_take_new(f[i]);
			f[i]->stream[d[i]] = f[i];
		}
	return found;
}

/* A fresh key: UDP, TCP SYN or ICMP. */
static struct weir_pkt cow_new_pkt(unsigned k)
{
	char a[32];

	snprintf(a, sizeof(a), "10.99.%u.%u", (k / 256) % 256, k % 256);
	switch (k % 3) {
	case 0:
		return udp(a, (uint16_t)(7000 + k % 5000), "10.98.0.1", 53);
	case 1:
		return tcp(a, (uint16_t)(7000 + k % 5000), "10.98.0.2", 443, SYN);
	default:
		return pk(a, 8, "10.98.0.3", 0, 1, 0);
	}
}

struct cow_fix {
	struct mix m;
	struct scribble sc;
	struct weir_flow_table *t;
	uint64_t now;
	unsigned fresh; /* new keys handed out */
};

/* The mixed table of the snapshot tests, ending flows through scribble_end, COW enabled. */
static void cow_fix_build(struct cow_fix *x)
{
	x->t = snap_table(4096, 0, 2, scribble_end, &x->sc);
	cow_on(x->t);
	mix_fill(x->t, &x->m);
	x->now = 0;
	for (unsigned i = 0; i < x->m.n_ev; i++)
		if (x->m.ev[i].ts > x->now)
			x->now = x->m.ev[i].ts;
	x->now += SEC;
}

/* Closed TCP flows whose 5-tuple starts over within the burst: retired, callbacks pending. */
static void cow_retire_some(struct cow_fix *x, unsigned n)
{
	struct weir_pkt p[63];
	struct weir_flow *f[63];
	uint8_t d[63];

	cr_assert_leq(n, 21);
	for (unsigned k = 0; k < n; k++) {
		char a[32];
		snprintf(a, sizeof(a), "10.97.%u.%u", (x->fresh / 256) % 256, x->fresh % 256);
		x->fresh++;
		p[3 * k] = tcp(a, 4000, "10.98.0.9", 80, SYN);
		p[3 * k + 1] = tcp("10.98.0.9", 80, a, 4000, RST | ACK);
		p[3 * k + 2] = tcp(a, 4000, "10.98.0.9", 80, SYN);
	}
	cr_assert_eq(cow_burst(x->t, p, 3 * n, x->now, f, d), 3 * n);
	for (unsigned k = 0; k < n; k++)
		cr_assert_neq(f[3 * k], f[3 * k + 2], "port reuse");
	x->now += 3 * n;
}

/*
 * One round of data-path work of kind r % 7: hits (which the caller then
 * writes), new flows (a nearly full table: free-list slots below the
 * high-water mark, then eviction), FIN/RST class moves, expire with time
 * passing (ends and moves to the tail), port reuse (retire, callbacks at
 * the next call), TCP segments (held pieces released and held).
 */
static void cow_mutate(struct cow_fix *x, unsigned r)
{
	struct weir_pkt p[64];
	struct weir_flow *f[64];
	uint8_t d[64];
	unsigned n = 0;

	x->now += SEC / 2; /* 120 s of UDP timeout pass in 240 rounds */
	switch (r % 7) {
	case 0: /* hits on the mixed flows */
		for (unsigned i = 0; i < 16; i++) {
			p[n] = x->m.first[(r * 37 + i * 101) % MIX_FLOWS];
			if (p[n].l4_proto == 6)
				p[n].tcp_flags = ACK;
			n++;
		}
		break;
	case 1: /* new flows */
	case 6:
		for (unsigned i = 0; i < 64; i++)
			p[n++] = cow_new_pkt(x->fresh++);
		break;
	case 2: /* FIN or RST on established flows */
		for (unsigned i = 0; i < 8; i++) {
			unsigned j = (r * 8 + i * 24 + 12) % MIX_FLOWS / 8 * 8 + 4;
			p[n] = x->m.first[j];
			p[n].tcp_flags = i % 2 ? RST : FIN | ACK;
			n++;
		}
		break;
	case 3:
		weir_flow_expire(x->t, x->now, 9, scribble_end, &x->sc);
		return;
	case 4: /* a SYN on reset and closed flows; retired within a burst */
		for (unsigned i = 0; i < 8; i++) {
			unsigned j = (r * 16 + i * 8) % MIX_FLOWS / 8 * 8 + 6 + i % 2;
			p[n++] = x->m.first[j];
		}
		cow_retire_some(x, 1);
		break;
	case 5: { /* TCP data: in order (releasing what was held), and ahead (held) */
		for (unsigned i = 0; i < 6; i++) {
			unsigned j = (r * 24 + i * 48 + 4) % MIX_FLOWS / 8 * 8 + 4;
			struct weir_pkt a = x->m.first[j];
			a.tcp_flags = ACK;
			struct weir_flow *g[1];
			uint8_t dd[1];
			if (!cow_burst(x->t, &a, 1, x->now + i, g, dd))
				continue;
			unsigned back = dd[0] ^ 1; /* the mix held data in the server's direction */
			if (j % 24 == 4)
				weir_flow_tcp_segment(x->t, g[0], back, 5003 + j, ACK,
						      (const uint8_t *)"0123456", 7, &x->sc.d);
			else
				weir_flow_tcp_segment(x->t, g[0], back, 9000 + j, ACK,
						      (const uint8_t *)"ahead", 5, &x->sc.d);
		}
		return;
	}
	}
	cow_burst(x->t, p, n, x->now, f, d);
}

Test(flow, cow_snapshot_equals_the_snapshot_at_begin_through_mutations, .init = eal_up,
     .fini = eal_down)
{
	static struct cow_fix x;
	struct cow_run run = {0};
	size_t len;

	cow_fix_build(&x);
	cow_retire_some(&x, 3);
	uint8_t *ref = snap(x.t, &len);
	weir_flow_cow_begin(x.t);
	cr_assert_gt(rd32(ref + 16), 2500, "live flows");
	cr_assert_eq(rd32(ref + 20), 3, "retired flows, callbacks pending");
	cr_assert_gt(rd32(ref + 24), 0, "held pieces");
	cr_assert_eq(weir_flow_cow_snapshot_size(x.t), 0, "no snapshot while the copy runs");

	/* 120 rounds of mutations while the copy runs, then flush_at, then steps to the end */
	unsigned r;
	for (r = 0; r < 120; r++) {
		cow_mutate(&x, r);
		cr_assert_not(cow_tick(x.t, &run), "the copy still runs at round %u", r);
	}
	cr_assert_gt(cnt(x.t, WEIR_FLOW_CNT_TABLE_FULL), 0, "the table filled during the copy");
	uint64_t ended = x.sc.n;
	uint32_t alive = weir_flow_count(x.t);
	cr_assert_eq(weir_flow_flush_at(x.t, x.now, scribble_end, &x.sc), alive);
	cr_assert_eq(weir_flow_count(x.t), 0);
	cr_assert_gt(x.sc.n - ended, 2000);
	for (; !cow_tick(x.t, &run); r++)
		cr_assert_lt(r, 100000, "the copy finishes");
	for (unsigned k = 0; k < 50; k++) /* after it: the shadow is not written */
		cow_mutate(&x, r + k);
	cr_log_info("cow: %u steps, %u ends", run.steps, x.sc.n);
	cr_assert_gt(cnt(x.t, WEIR_FLOW_CNT_TIMEOUT), 0);
	cr_assert_gt(cnt(x.t, WEIR_FLOW_CNT_TCP_RELEASED), 0);
	cow_matches(x.t, ref, len, "small steps");
	free(ref);
	weir_flow_table_free(x.t);
}

Test(flow, cow_snapshot_in_one_step_equals_the_snapshot, .init = eal_up, .fini = eal_down)
{
	static struct cow_fix x;
	size_t len;

	cow_fix_build(&x);
	cow_retire_some(&x, 2);
	uint8_t *ref = snap(x.t, &len);
	weir_flow_cow_begin(x.t);
	cr_assert(weir_flow_cow_step(x.t, UINT32_MAX));
	for (unsigned r = 0; r < 60; r++) /* the shadow is not written any more */
		cow_mutate(&x, r);
	weir_flow_flush_at(x.t, x.now, scribble_end, &x.sc);
	cr_assert(weir_flow_cow_step(x.t, 1));
	cow_matches(x.t, ref, len, "one step");
	free(ref);
	weir_flow_table_free(x.t);
}

Test(flow, cow_snapshot_of_empty_tables, .init = eal_up, .fini = eal_down)
{
	static struct scribble sc;
	struct weir_flow_table *t = snap_table(64, 0, 4, scribble_end, &sc);
	struct weir_flow *f[64];
	uint8_t d[64];
	size_t len;

	/* not enabled: begin does nothing, step is complete, no snapshot */
	weir_flow_cow_begin(t);
	cr_assert(weir_flow_cow_step(t, 1));
	cr_assert_eq(weir_flow_cow_snapshot_size(t), 0);
	cow_on(t);
	cr_assert_geq(weir_flow_cow_memory(t), 64 * 144);
	cr_assert_eq(weir_flow_cow_snapshot_size(t), 0, "no copy began");

	/* a new table */
	uint8_t *ref = snap(t, &len);
	cr_assert_eq(len, SNAP_HDR);
	weir_flow_cow_begin(t);
	cr_assert(weir_flow_cow_step(t, 0), "nothing to copy: complete at once");
	struct weir_pkt p[5];
	for (unsigned i = 0; i < 5; i++)
		p[i] = nth_udp(i);
	cow_burst(t, p, 5, T0, f, d);
	cow_matches(t, ref, len, "new table");
	free(ref);

	/* flushed to 0 flows: entries below the mark, none alive */
	cr_assert_eq(weir_flow_flush(t, NULL, NULL), 5);
	ref = snap(t, &len);
	cr_assert_eq(len, SNAP_HDR);
	weir_flow_cow_begin(t);
	cow_burst(t, p, 5, T0 + SEC, f, d); /* the freed entries come back */
	cr_assert(weir_flow_cow_step(t, 1));
	cow_matches(t, ref, len, "flushed table");
	free(ref);
	weir_flow_table_free(t);
}

Test(flow, cow_consecutive_copies_each_equal_their_snapshot, .init = eal_up, .fini = eal_down)
{
	static struct cow_fix x;
	unsigned r = 0;

	cow_fix_build(&x);
	for (unsigned copy = 0; copy < 4; copy++) {
		struct cow_run run = {.k = copy};
		size_t len;
		if (copy == 3)
			cow_retire_some(&x, 2);
		uint8_t *ref = snap(x.t, &len);
		weir_flow_cow_begin(x.t);
		while (!cow_tick(x.t, &run))
			cow_mutate(&x, r++);
		cow_matches(x.t, ref, len, copy == 0 ? "first copy" : "a later copy");
		free(ref);
		for (unsigned k = 0; k < 30; k++) /* between copies */
			cow_mutate(&x, r++);
	}
	weir_flow_table_free(x.t);
}

Test(flow, cow_begin_during_a_copy_starts_over, .init = eal_up, .fini = eal_down)
{
	static struct cow_fix x;
	struct cow_run run = {0};
	size_t len;
	unsigned r = 0;

	cow_fix_build(&x);
	weir_flow_cow_begin(x.t);
	for (; r < 40; r++) {
		cow_mutate(&x, r);
		cr_assert_not(cow_tick(x.t, &run));
	}
	/* outside the contract, but kept safe: the first copy is dropped */
	uint8_t *ref = snap(x.t, &len);
	weir_flow_cow_begin(x.t);
	run = (struct cow_run){0};
	while (!cow_tick(x.t, &run))
		cow_mutate(&x, r++);
	cow_matches(x.t, ref, len, "second begin");
	free(ref);
	/* and the bitmap it left is clean: one more copy */
	ref = snap(x.t, &len);
	weir_flow_cow_begin(x.t);
	run = (struct cow_run){.k = 5};
	while (!cow_tick(x.t, &run))
		cow_mutate(&x, r++);
	cow_matches(x.t, ref, len, "third begin");
	free(ref);
	weir_flow_table_free(x.t);
}

Test(flow, cow_snapshot_restores_the_table, .init = eal_up, .fini = eal_down)
{
	static struct cow_fix x;
	static struct end_log e2, e3;
	struct cow_run run = {0};
	char err[256];
	size_t len, len2, len3;
	unsigned r = 0;

	cow_fix_build(&x);
	cow_retire_some(&x, 2);
	uint8_t *ref = snap(x.t, &len);
	weir_flow_cow_begin(x.t);
	while (!cow_tick(x.t, &run))
		cow_mutate(&x, r++);
	uint8_t *buf = malloc(weir_flow_cow_snapshot_size(x.t));
	cr_assert_eq(weir_flow_cow_snapshot(x.t, buf, len), len);

	/* restored from the copy, and from the snapshot taken at begin: the same table */
	struct weir_flow_table *t2 = snap_table(4096, 0, 2, log_end, &e2);
	struct weir_flow_table *t3 = snap_table(4096, 0, 2, log_end, &e3);
	cr_assert_eq(weir_flow_table_restore(t2, buf, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(weir_flow_table_restore(t3, ref, len, err, sizeof(err)), 0, "%s", err);
	uint8_t *s2 = snap(t2, &len2), *s3 = snap(t3, &len3);
	cr_assert_eq(len2, len);
	cr_assert_eq(len3, len);
	cr_assert_eq(memcmp(s2, s3, len), 0);
	/* the records of the original at begin; only the held pieces (not carried) differ */
	cr_assert_eq(memcmp(s2 + SNAP_HDR, ref + SNAP_HDR, len - SNAP_HDR), 0);
	cr_assert_eq(memcmp(s2 + 28, ref + 28, 16), 0);
	cr_assert_eq(memcmp(s2 + 64, ref + 64, SNAP_HDR - 64), 0, "timeouts and counters");
	cr_assert_eq(memcmp(s2, ref, 24), 0);
	cr_assert_eq(rd32(s2 + 24), 0);
	cr_assert_gt(rd32(ref + 24), 0);
	/* both go on alike: expiry in the same order */
	for (uint64_t now = x.now; now < x.now + 4000 * SEC; now += 7 * SEC)
		cr_assert_eq(weir_flow_expire(t2, now, 50, NULL, NULL),
			     weir_flow_expire(t3, now, 50, NULL, NULL));
	logs_equal(&e2, &e3);
	cr_assert_gt(e2.n, 2000);

	/* and a cow snapshot of a table that was restored while a copy ran */
	struct weir_flow_table *t4 = snap_table(4096, 0, 2, NULL, NULL);
	cow_on(t4);
	struct weir_pkt p = nth_udp(1);
	look(t4, &p, T0, NULL);
	uint8_t *ref4 = snap(t4, &len2);
	weir_flow_cow_begin(t4);
	weir_flow_flush(t4, NULL, NULL);
	cr_assert_eq(weir_flow_table_restore(t4, ref, len, err, sizeof(err)), 0, "%s", err);
	cr_assert(weir_flow_cow_step(t4, 1));
	cow_matches(t4, ref4, len2, "restored during the copy");
	free(ref4);
	free(s2);
	free(s3);
	free(buf);
	free(ref);
	weir_flow_table_free(x.t);
	weir_flow_table_free(t2);
	weir_flow_table_free(t3);
	weir_flow_table_free(t4);
}

/*
 * Random churn on a small, often full table (evictions from buckets and
 * from the lists), bursts repeating keys (retired flows), random TCP flags,
 * timeouts passing, expire budgets, held segments: copies begin at random
 * points and each must equal the snapshot at its begin.
 */
Test(flow, cow_random_churn_many_copies, .init = eal_up, .fini = eal_down)
{
	static struct scribble sc;
	struct weir_flow_conf c;
	char err[256];
	uint64_t seed = 99, now = T0;
	uint8_t *ref = NULL;
	size_t len = 0;
	unsigned copies = 0, copying = 0;
	struct cow_run run = {0};

	weir_flow_conf_default(&c);
	c.capacity = 200;
	c.buckets = 32;
	c.worker = 9;
	c.timeout_ns[WEIR_FLOW_TO_TCP_NEW] = 2 * SEC;
	c.timeout_ns[WEIR_FLOW_TO_TCP_CLOSING] = SEC;
	c.timeout_ns[WEIR_FLOW_TO_UDP] = 3 * SEC;
	c.timeout_ns[WEIR_FLOW_TO_OTHER] = 2 * SEC;
	c.ooo_slots = 64;
	c.on_end = scribble_end;
	c.on_end_ctx = &sc;
	struct weir_flow_table *t = weir_flow_table_create(&c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cow_on(t);

	for (unsigned round = 0; round < 6000; round++) {
		struct weir_pkt p[32];
		struct weir_flow *f[32];
		uint8_t d[32];
		unsigned n = 1 + lcg(&seed) % 32;
		static const uint8_t fl[] = {SYN, SYN | ACK, ACK, ACK, ACK, FIN | ACK, RST, 0};
		for (unsigned i = 0; i < n; i++) {
			unsigned k = lcg(&seed) % 240;
			char a[32];
			snprintf(a, sizeof(a), "10.5.%u.%u", k / 200, k % 200);
			p[i] = k % 2 ? tcp(a, 1000, "10.6.0.1", 80, fl[lcg(&seed) % 8])
				     : udp(a, 1000, "10.6.0.1", 53);
			if (lcg(&seed) % 2) { /* the other direction */
				struct weir_pkt q = p[i];
				memcpy(p[i].src_ip, q.dst_ip, 16);
				memcpy(p[i].dst_ip, q.src_ip, 16);
				p[i].src_port = q.dst_port;
				p[i].dst_port = q.src_port;
			}
		}
		cow_burst(t, p, n, now, f, d);
		for (unsigned i = 0; i < n; i++)
			if (f[i] && f[i]->key.proto == 6 && lcg(&seed) % 4 == 0)
				weir_flow_tcp_segment(t, f[i], d[i], (uint32_t)lcg(&seed) % 64, ACK,
						      (const uint8_t *)"data", 4, &sc.d);
		now += lcg(&seed) % (SEC / 8);
		if (lcg(&seed) % 3 == 0)
			weir_flow_expire(t, now, lcg(&seed) % 8, NULL, NULL);
		if (!copying && lcg(&seed) % 20 == 0) {
			ref = snap(t, &len);
			weir_flow_cow_begin(t);
			run = (struct cow_run){.k = round};
			copying = 1;
		} else if (copying && cow_tick(t, &run)) {
			cow_matches(t, ref, len, "random churn");
			free(ref);
			copying = 0;
			copies++;
		}
	}
	cr_log_info("churn: %u copies; created %lu evicted %lu timeout %lu closed %lu held %lu",
		    copies, (unsigned long)cnt(t, WEIR_FLOW_CNT_CREATED),
		    (unsigned long)cnt(t, WEIR_FLOW_CNT_EVICTED),
		    (unsigned long)cnt(t, WEIR_FLOW_CNT_TIMEOUT),
		    (unsigned long)cnt(t, WEIR_FLOW_CNT_CLOSED),
		    (unsigned long)cnt(t, WEIR_FLOW_CNT_TCP_HELD));
	cr_assert_gt(copies, 50, "%u copies", copies);
	cr_assert_gt(cnt(t, WEIR_FLOW_CNT_EVICTED), 100);
	cr_assert_gt(cnt(t, WEIR_FLOW_CNT_TIMEOUT), 100);
	cr_assert_gt(cnt(t, WEIR_FLOW_CNT_CLOSED), 100);
	cr_assert_gt(cnt(t, WEIR_FLOW_CNT_TCP_HELD), 10);
	if (copying)
		free(ref);
	weir_flow_table_free(t);
}
