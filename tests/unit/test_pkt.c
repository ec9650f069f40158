/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Unit tests of weir_pkt_parse on crafted frames. Frames are assembled from
 * small header writers below; every expected value is written out by hand
 * (offsets, lengths, addresses), never derived from the builder.
 *
 * Every parse copies the frame into a heap block of exactly `len` bytes, so
 * that under ASan (build with -Db_sanitize=address) a read past `len` is a
 * crash, not a silent pass.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir_pkt.h"

#define F_FRAG       WEIR_PKT_F_FRAG
#define F_FRAG_FIRST WEIR_PKT_F_FRAG_FIRST
#define F_OPTS       WEIR_PKT_F_IPV4_OPTS
#define F_PPPOE      WEIR_PKT_F_PPPOE
#define F_MPLS       WEIR_PKT_F_MPLS
#define F_L4         WEIR_PKT_F_L4
#define F_EXT        WEIR_PKT_F_IPV6_EXT
#define F_INNER      WEIR_PKT_F_INNER
#define F_PORTS      WEIR_PKT_F_PORTS

/* ---------------------------------------------------------------- frame builder */

struct frame {
	uint8_t b[1024];
	uint32_t n;
};

static void put(struct frame *f, const void *src, uint32_t n)
{
	cr_assert_leq(f->n + n, sizeof(f->b), "test frame too large");
	memcpy(f->b + f->n, src, n);
	f->n += n;
}

static void put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void zeros(struct frame *f, uint32_t n)
{
	while (n--)
		put8(f, 0);
}

static void fill(struct frame *f, uint32_t n)
{
	while (n--)
		put8(f, 'x');
}

/* 12 bytes of MACs, then the ethertype */
static void eth(struct frame *f, uint16_t et)
{
	static const uint8_t macs[12] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
					 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
	put(f, macs, sizeof(macs));
	put16(f, et);
}

/* a VLAN tag after a TPID: TCI, then the next ethertype */
static void tag(struct frame *f, uint16_t tci, uint16_t next)
{
	put16(f, tci);
	put16(f, next);
}

static void mpls(struct frame *f, uint32_t label, int bos)
{
	put32(f, label << 12 | (uint32_t)(bos ? 0x100 : 0) | 64);
}

/* IPv4 with ihl 32-bit words (options are NOPs), TTL 64, id 0x1234 */
static void ip4(struct frame *f, uint8_t ihl, uint16_t tot, uint16_t frag, uint8_t proto,
		uint32_t src, uint32_t dst)
{
	put8(f, (uint8_t)(0x40 | ihl));
	put8(f, 0);
	put16(f, tot);
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, src);
	put32(f, dst);
	for (int i = 5; i < ihl; i++)
		put32(f, 0x01010101);
}

/* IPv6 2001:db8::<s> -> 2001:db8::<d>, hop limit 63 */
static void ip6(struct frame *f, uint16_t plen, uint8_t nh, uint8_t s, uint8_t d)
{
	put32(f, 0x60000000);
	put16(f, plen);
	put8(f, nh);
	put8(f, 63);
	put32(f, 0x20010db8);
	zeros(f, 11);
	put8(f, s);
	put32(f, 0x20010db8);
	zeros(f, 11);
	put8(f, d);
}

/* hop-by-hop, routing or destination options: (len8 + 1) * 8 bytes */
static void ext6(struct frame *f, uint8_t nh, uint8_t len8)
{
	put8(f, nh);
	put8(f, len8);
	zeros(f, (uint32_t)(len8 + 1) * 8 - 2);
}

static void frag6(struct frame *f, uint8_t nh, uint16_t off_bytes, int more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, (uint16_t)(off_bytes | (more ? 1 : 0)));
	put32(f, 0xcafe);
}

/* AH: (len4 + 2) * 4 bytes */
static void ah(struct frame *f, uint8_t nh, uint8_t len4)
{
	put8(f, nh);
	put8(f, len4);
	zeros(f, (uint32_t)(len4 + 2) * 4 - 2);
}

/* TCP with doff 32-bit words (options are NOPs) */
static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint8_t doff, uint8_t flags,
		uint16_t win)
{
	put16(f, sp);
	put16(f, dp);
	put32(f, 1);
	put32(f, 0);
	put8(f, (uint8_t)(doff << 4));
	put8(f, flags);
	put16(f, win);
	put32(f, 0);
	for (int i = 5; i < doff; i++)
		put32(f, 0x01010101);
}

static void udp(struct frame *f, uint16_t sp, uint16_t dp, uint16_t len)
{
	put16(f, sp);
	put16(f, dp);
	put16(f, len);
	put16(f, 0);
}

static void icmp(struct frame *f, uint8_t type, uint8_t code)
{
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put32(f, 0x00010002);
}

/* 10.0.0.1 -> 10.0.0.2 outside, 192.168.1.1 -> 192.168.1.2 inside tunnels */
#define A1 0x0a000001u
#define A2 0x0a000002u
#define B1 0xc0a80101u
#define B2 0xc0a80102u

/* ---------------------------------------------------------------- parse helpers */

/* Parse the first len bytes of f from a heap block of exactly len bytes. */
static int parse_n(const struct frame *f, uint32_t len, int link, int layer, struct weir_pkt *p)
{
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	cr_assert_not_null(buf);
	memcpy(buf, f->b, len);
	/* for len 0 the block is 1 byte: point past it so that any read is out of bounds */
	rc = weir_pkt_parse(len ? buf : buf + 1, len, len, (enum weir_linktype)link,
			    (enum weir_pkt_layer)layer, p);
	free(buf);
	return rc;
}

static struct weir_pkt parse(const struct frame *f, int link, int layer)
{
	struct weir_pkt p;

	parse_n(f, f->n, link, layer, &p);
	return p;
}

static struct weir_pkt parse_eth(const struct frame *f)
{
	return parse(f, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER);
}

static struct weir_pkt parse_inner(const struct frame *f)
{
	return parse(f, WEIR_LINK_ETHERNET, WEIR_PKT_INNER);
}

#define EXPECT_MAL(p, r)                                                                   \
	cr_assert_eq((p).malformed, WEIR_PKT_MAL_##r, "malformed is %s, expected %s",          \
		     weir_pkt_malformed_name((p).malformed), weir_pkt_malformed_name(WEIR_PKT_MAL_##r))

static void expect_v4(const struct weir_pkt *p, uint32_t src, uint32_t dst)
{
	uint8_t s[16] = {(uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src};
	uint8_t d[16] = {(uint8_t)(dst >> 24), (uint8_t)(dst >> 16), (uint8_t)(dst >> 8), (uint8_t)dst};

	cr_assert_eq(p->ip_version, 4);
	cr_assert_arr_eq(p->src_ip, s, 16, "IPv4 source (and 12 zero bytes)");
	cr_assert_arr_eq(p->dst_ip, d, 16, "IPv4 destination (and 12 zero bytes)");
}

static void expect_v6(const struct weir_pkt *p, uint8_t s, uint8_t d)
{
	uint8_t es[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = s};
	uint8_t ed[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = d};

	cr_assert_eq(p->ip_version, 6);
	cr_assert_arr_eq(p->src_ip, es, 16, "IPv6 source");
	cr_assert_arr_eq(p->dst_ip, ed, 16, "IPv6 destination");
}

static void expect_ports(const struct weir_pkt *p, uint16_t sp, uint16_t dp)
{
	cr_assert(p->flags & F_PORTS, "ports flag");
	cr_assert_eq(p->src_port, sp);
	cr_assert_eq(p->dst_port, dp);
}

static void expect_no_ip(const struct weir_pkt *p)
{
	static const uint8_t z[16];

	cr_assert_eq(p->ip_version, 0);
	cr_assert_eq(p->ip_bytes, 0);
	cr_assert_eq(p->l3_off, 0);
	cr_assert_eq(p->l4_off, 0);
	cr_assert_eq(p->proto, 0);
	cr_assert_arr_eq(p->src_ip, z, 16);
	cr_assert_arr_eq(p->dst_ip, z, 16);
	cr_assert_eq(p->flags & (F_L4 | F_PORTS), 0);
}

/*
 * The reference frame: Ethernet, IPv4 192.0.2.1 -> 198.51.100.2 (DF, TTL 64,
 * total length 44), TCP 49152 -> 80 PSH|ACK window 29200, 4 payload bytes.
 */
static const uint8_t tcp4_frame[58] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
	0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02,
	0xc0, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x50, 0x18, 0x72, 0x10, 0x00, 0x00, 0x00, 0x00,
	'G', 'E', 'T', ' ',
};

static struct frame ref_frame(void)
{
	struct frame f = {.n = 0};

	put(&f, tcp4_frame, sizeof(tcp4_frame));
	return f;
}

/* ================================================================ link layers */

Test(link, ethernet_ipv4_tcp_every_field)
{
	struct frame f = ref_frame();
	struct weir_pkt p;
	int rc;

	memset(&p, 0xa5, sizeof(p));
	rc = parse_n(&f, f.n, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	cr_assert_eq(rc, 0);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.pkt_len, 58);
	cr_assert_eq(p.ip_bytes, 44);
	cr_assert_eq(p.payload_len, 4);
	cr_assert_eq(p.l3_off, 14);
	cr_assert_eq(p.l4_off, 34);
	cr_assert_eq(p.payload_off, 54);
	cr_assert_eq(p.frag_off, 0);
	cr_assert_eq(p.src_port, 49152);
	cr_assert_eq(p.dst_port, 80);
	cr_assert_eq(p.vlan, 0);
	cr_assert_eq(p.vlan_inner, 0);
	cr_assert_eq(p.flags, F_L4 | F_PORTS);
	cr_assert_eq(p.ethertype, 0x0800);
	cr_assert_eq(p.proto, 6);
	cr_assert_eq(p.l4_proto, 6);
	cr_assert_eq(p.ttl, 64);
	cr_assert_eq(p.tcp_flags, 0x18);
	cr_assert_eq(p.n_vlan, 0);
	cr_assert_eq(p.tunnel, WEIR_TUN_NONE);
	cr_assert_eq(p.tcp_window, 29200);
	cr_assert_eq(p._pad, 0, "the struct is zeroed first, padding included");
	expect_v4(&p, 0xc0000201, 0xc6336402);
}

Test(link, descriptor_does_not_depend_on_previous_contents)
{
	struct frame f = ref_frame();
	struct weir_pkt a, b;

	memset(&a, 0x00, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	parse_n(&f, f.n, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &a);
	parse_n(&f, f.n, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &b);
	cr_assert_arr_eq(&a, &b, sizeof(a));
}

Test(link, pkt_len_is_copied_from_the_argument)
{
	struct weir_pkt p;

	weir_pkt_parse(tcp4_frame, 58, 9000, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	cr_assert_eq(p.pkt_len, 9000);
	cr_assert_eq(p.ip_bytes, 44);
	cr_assert_eq(p.payload_len, 4);
}

Test(link, ethernet_truncated)
{
	struct frame f = ref_frame();
	struct weir_pkt p;

	parse_n(&f, 13, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L2);
	cr_assert_eq(p.ethertype, 0);
	expect_no_ip(&p);
}

Test(link, ethernet_non_ip)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0806); /* ARP */
	zeros(&f, 28);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ethertype, 0x0806);
	expect_no_ip(&p);
}

Test(link, ieee8023_length_field_is_not_an_ethertype)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0026); /* 802.3 length 38, then LLC */
	put8(&f, 0x42);
	put8(&f, 0x42);
	put8(&f, 0x03);
	zeros(&f, 35);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ethertype, 0);
	expect_no_ip(&p);
}

Test(link, cisco_fabricpath)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8903);
	put16(&f, 0x4020); /* FTag, TTL */
	eth(&f, 0x8100);   /* the classical frame */
	tag(&f, 7, 0x0800);
	ip4(&f, 5, 40, 0, 6, A1, A2);
	tcp(&f, 1000, 2000, 5, 0x10, 100);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.l3_off, 34);
	cr_assert_eq(p.vlan, 7);
	expect_v4(&p, A1, A2);
	expect_ports(&p, 1000, 2000);
}

Test(link, raw_ip_by_version_nibble)
{
	static const int links[] = {WEIR_LINK_RAW, WEIR_LINK_RAW_BSD, WEIR_LINK_RAW_OBSD};
	struct frame f4 = {.n = 0}, f6 = {.n = 0};

	ip4(&f4, 5, 28, 0, 17, A1, A2);
	udp(&f4, 53, 1024, 8);
	ip6(&f6, 8, 17, 1, 2);
	udp(&f6, 53, 1024, 8);
	for (unsigned i = 0; i < 3; i++) {
		struct weir_pkt p = parse(&f4, links[i], WEIR_PKT_OUTER);

		EXPECT_MAL(p, NONE);
		cr_assert_eq(p.l3_off, 0);
		cr_assert_eq(p.l4_off, 20);
		cr_assert_eq(p.ethertype, 0x0800);
		expect_v4(&p, A1, A2);
		expect_ports(&p, 53, 1024);
		p = parse(&f6, links[i], WEIR_PKT_OUTER);
		EXPECT_MAL(p, NONE);
		cr_assert_eq(p.l4_off, 40);
		cr_assert_eq(p.ip_bytes, 48);
		cr_assert_eq(p.ethertype, 0x86dd);
		expect_v6(&p, 1, 2);
	}
}

Test(link, raw_ip_bad_version_and_empty)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	put8(&f, 0x55);
	zeros(&f, 39);
	p = parse(&f, WEIR_LINK_RAW, WEIR_PKT_OUTER);
	EXPECT_MAL(p, BAD_IP_VERSION);
	expect_no_ip(&p);
	parse_n(&f, 0, WEIR_LINK_RAW, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L3);
}

Test(link, linktype_ipv4_and_ipv6)
{
	struct frame f4 = {.n = 0}, f6 = {.n = 0};
	struct weir_pkt p;

	ip4(&f4, 5, 28, 0, 1, A1, A2);
	icmp(&f4, 8, 0);
	p = parse(&f4, WEIR_LINK_IPV4, WEIR_PKT_OUTER);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, A1, A2);
	expect_ports(&p, 8, 0);
	ip6(&f6, 8, 58, 1, 2);
	icmp(&f6, 128, 0);
	p = parse(&f6, WEIR_LINK_IPV6, WEIR_PKT_OUTER);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 1, 2);
	expect_ports(&p, 128, 0);
	/* an IPv4 packet on an IPv6-only link is not IPv6 */
	p = parse(&f4, WEIR_LINK_IPV6, WEIR_PKT_OUTER);
	EXPECT_MAL(p, BAD_IP_VERSION);
}

Test(link, linux_cooked_v1)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	put16(&f, 0);      /* to us */
	put16(&f, 1);      /* ARPHRD_ETHER */
	put16(&f, 6);      /* address length */
	zeros(&f, 8);      /* address */
	put16(&f, 0x0800); /* protocol */
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 5000, 53, 8);
	p = parse(&f, WEIR_LINK_SLL, WEIR_PKT_OUTER);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.l3_off, 16);
	cr_assert_eq(p.l4_off, 36);
	expect_v4(&p, A1, A2);
	expect_ports(&p, 5000, 53);
	parse_n(&f, 15, WEIR_LINK_SLL, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L2);
}

Test(link, linux_cooked_v1_with_vlan)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	put16(&f, 0);
	put16(&f, 1);
	put16(&f, 6);
	zeros(&f, 8);
	put16(&f, 0x8100);
	tag(&f, 42, 0x86dd);
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 5000, 53, 8);
	p = parse(&f, WEIR_LINK_SLL, WEIR_PKT_OUTER);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.vlan, 42);
	cr_assert_eq(p.l3_off, 20);
	expect_v6(&p, 1, 2);
}

Test(link, linux_cooked_v2)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	put16(&f, 0x86dd); /* protocol */
	put16(&f, 0);      /* reserved */
	put32(&f, 3);      /* ifindex */
	put16(&f, 1);      /* ARPHRD_ETHER */
	put8(&f, 4);       /* outgoing */
	put8(&f, 6);
	zeros(&f, 8);
	ip6(&f, 20, 6, 1, 2);
	tcp(&f, 443, 50000, 5, 0x10, 10);
	p = parse(&f, WEIR_LINK_SLL2, WEIR_PKT_OUTER);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.l3_off, 20);
	cr_assert_eq(p.l4_off, 60);
	cr_assert_eq(p.ip_bytes, 60);
	expect_v6(&p, 1, 2);
	expect_ports(&p, 443, 50000);
	parse_n(&f, 19, WEIR_LINK_SLL2, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L2);
}

Test(link, bsd_null_both_byte_orders)
{
	/* AF_INET in either byte order; AF_INET6 as Linux, NetBSD/OpenBSD, FreeBSD, Darwin */
	static const uint32_t v4[] = {0x02000000, 0x00000002};
	static const uint32_t v6[] = {0x0a000000, 0x18000000, 0x1c000000, 0x1e000000, 0x0000001e};

	for (unsigned i = 0; i < 2; i++) {
		struct frame f = {.n = 0};
		struct weir_pkt p;

		put32(&f, v4[i]);
		ip4(&f, 5, 28, 0, 17, A1, A2);
		udp(&f, 1, 2, 8);
		p = parse(&f, WEIR_LINK_NULL, WEIR_PKT_OUTER);
		EXPECT_MAL(p, NONE);
		cr_assert_eq(p.l3_off, 4);
		expect_v4(&p, A1, A2);
	}
	for (unsigned i = 0; i < 5; i++) {
		struct frame f = {.n = 0};
		struct weir_pkt p;

		put32(&f, v6[i]);
		ip6(&f, 8, 17, 1, 2);
		udp(&f, 1, 2, 8);
		p = parse(&f, WEIR_LINK_NULL, WEIR_PKT_OUTER);
		EXPECT_MAL(p, NONE);
		cr_assert_eq(p.l3_off, 4, "AF %08x", v6[i]);
		expect_v6(&p, 1, 2);
	}
}

Test(link, bsd_null_other_family_and_truncated)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	put32(&f, 0x07000000); /* AF 7: not IP */
	zeros(&f, 40);
	p = parse(&f, WEIR_LINK_NULL, WEIR_PKT_OUTER);
	EXPECT_MAL(p, NONE);
	expect_no_ip(&p);
	parse_n(&f, 3, WEIR_LINK_NULL, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L2);
}

Test(link, unsupported_link_type)
{
	struct frame f = ref_frame();
	struct weir_pkt p = parse(&f, 105 /* 802.11 */, WEIR_PKT_OUTER);

	EXPECT_MAL(p, BAD_LINK);
	expect_no_ip(&p);
}

Test(link, linktype_supported)
{
	static const int yes[] = {0, 1, 12, 14, 101, 113, 228, 229, 276};
	static const int no[] = {-1, 2, 9, 105, 127, 192, 230, 275, 277};

	for (unsigned i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_assert(weir_linktype_supported(yes[i]), "dlt %d", yes[i]);
	for (unsigned i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_assert_not(weir_linktype_supported(no[i]), "dlt %d", no[i]);
}

/* ================================================================ VLAN */

Test(vlan, single_tag_priority_bits_ignored)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8100);
	tag(&f, 0xe064, 0x0800); /* PCP 7, DEI 0, VID 100 */
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.vlan, 100);
	cr_assert_eq(p.vlan_inner, 0);
	cr_assert_eq(p.n_vlan, 1);
	cr_assert_eq(p.l3_off, 18);
	cr_assert_eq(p.ethertype, 0x0800);
}

Test(vlan, qinq_8021ad)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x88a8);
	tag(&f, 200, 0x8100);
	tag(&f, 300, 0x86dd);
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.vlan, 200);
	cr_assert_eq(p.vlan_inner, 300);
	cr_assert_eq(p.n_vlan, 2);
	cr_assert_eq(p.l3_off, 22);
	cr_assert_eq(p.l4_off, 62);
	expect_v6(&p, 1, 2);
}

Test(vlan, three_tags_9100_first_two_recorded)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x9100);
	tag(&f, 10, 0x88a8);
	tag(&f, 20, 0x8100);
	tag(&f, 30, 0x0800);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.vlan, 10);
	cr_assert_eq(p.vlan_inner, 20);
	cr_assert_eq(p.n_vlan, 3);
	cr_assert_eq(p.l3_off, 26);
}

Test(vlan, tag_truncated)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8100);
	tag(&f, 5, 0x0800);
	parse_n(&f, 17, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_VLAN);
	expect_no_ip(&p);
}

Test(vlan, too_many_tags)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8100);
	for (int i = 1; i <= WEIR_PKT_MAX_VLAN; i++)
		tag(&f, (uint16_t)i, 0x8100);
	tag(&f, 99, 0x0800);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, TOO_DEEP);
	cr_assert_eq(p.vlan, 1);
	cr_assert_eq(p.vlan_inner, 2);
	cr_assert_eq(p.n_vlan, 8);
	expect_no_ip(&p);
}

/* ================================================================ MPLS */

Test(mpls, one_label_ipv4)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8847);
	mpls(&f, 16000, 1);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.flags, F_MPLS | F_L4 | F_PORTS);
	cr_assert_eq(p.l3_off, 18);
	cr_assert_eq(p.ethertype, 0x0800);
	expect_v4(&p, A1, A2);
}

Test(mpls, stack_of_three_multicast_ipv6)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8848);
	mpls(&f, 100, 0);
	mpls(&f, 200, 0);
	mpls(&f, 300, 1);
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert(p.flags & F_MPLS);
	cr_assert_eq(p.l3_off, 26);
	cr_assert_eq(p.ethertype, 0x86dd);
	expect_v6(&p, 1, 2);
}

Test(mpls, vlan_then_mpls)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8100);
	tag(&f, 77, 0x8847);
	mpls(&f, 5, 1);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.vlan, 77);
	cr_assert_eq(p.l3_off, 22);
	cr_assert(p.flags & F_MPLS);
}

Test(mpls, non_ip_payload)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8847);
	mpls(&f, 16, 1);
	put32(&f, 0); /* pseudowire control word */
	eth(&f, 0x0800);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ethertype, 0x8847);
	cr_assert(p.flags & F_MPLS);
	expect_no_ip(&p);
}

Test(mpls, oam_alert_and_gal_are_not_ip)
{
	for (uint32_t label = 13; label <= 14; label++) {
		struct frame f = {.n = 0};
		struct weir_pkt p;

		eth(&f, 0x8847);
		mpls(&f, 100, 0);
		mpls(&f, label, 1);
		ip4(&f, 5, 28, 0, 17, A1, A2); /* looks like IPv4, is not */
		udp(&f, 1, 2, 8);
		p = parse_eth(&f);
		EXPECT_MAL(p, NONE);
		expect_no_ip(&p);
	}
}

Test(mpls, truncated_stack_and_empty_payload)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8847);
	mpls(&f, 1, 0);
	mpls(&f, 2, 1);
	parse_n(&f, 20, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p); /* second label cut */
	EXPECT_MAL(p, TRUNCATED_MPLS);
	cr_assert(p.flags & F_MPLS);
	p = parse_eth(&f); /* nothing after bottom of stack */
	EXPECT_MAL(p, TRUNCATED_MPLS);
	expect_no_ip(&p);
}

Test(mpls, too_many_labels)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8847);
	for (int i = 0; i < WEIR_PKT_MAX_MPLS; i++)
		mpls(&f, 100, 0);
	mpls(&f, 100, 1);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, TOO_DEEP);
	expect_no_ip(&p);
}

/* ================================================================ PPPoE */

static void pppoe(struct frame *f, uint16_t ppp_proto, uint16_t len)
{
	put8(f, 0x11);
	put8(f, 0x00);
	put16(f, 0x1234);
	put16(f, len);
	put16(f, ppp_proto);
}

Test(pppoe, session_ipv4)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8864);
	pppoe(&f, 0x0021, 30);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.flags, F_PPPOE | F_L4 | F_PORTS);
	cr_assert_eq(p.l3_off, 22);
	cr_assert_eq(p.ethertype, 0x0800);
	expect_v4(&p, A1, A2);
}

Test(pppoe, session_ipv6_over_qinq)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x88a8);
	tag(&f, 3704, 0x8100);
	tag(&f, 1, 0x8864);
	pppoe(&f, 0x0057, 50);
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.vlan, 3704);
	cr_assert_eq(p.vlan_inner, 1);
	cr_assert_eq(p.l3_off, 30);
	cr_assert(p.flags & F_PPPOE);
	expect_v6(&p, 1, 2);
}

Test(pppoe, lcp_is_not_ip)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8864);
	pppoe(&f, 0xc021, 10);
	zeros(&f, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ethertype, 0x8864);
	cr_assert(p.flags & F_PPPOE);
	expect_no_ip(&p);
}

Test(pppoe, truncated)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x8864);
	pppoe(&f, 0x0021, 30);
	parse_n(&f, 21, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_PPPOE);
	expect_no_ip(&p);
}

/* ================================================================ IPv4 */

Test(ipv4, options)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 6, 32, 0, 17, A1, A2); /* 4 bytes of options */
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.flags, F_OPTS | F_L4 | F_PORTS);
	cr_assert_eq(p.l4_off, 38);
	cr_assert_eq(p.payload_off, 46);
	cr_assert_eq(p.ip_bytes, 32);
}

Test(ipv4, options_truncated_keeps_addresses)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 15, 60, 0, 6, A1, A2); /* 40 bytes of options */
	parse_n(&f, 50, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L3);
	expect_v4(&p, A1, A2);
	cr_assert_eq(p.ip_bytes, 60);
	cr_assert_eq(p.proto, 6);
	cr_assert_eq(p.l4_off, 0);
	cr_assert(p.flags & F_OPTS);
}

Test(ipv4, header_truncated_before_addresses_is_not_ip)
{
	struct frame f = ref_frame();
	struct weir_pkt p;

	parse_n(&f, 33, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p); /* 19 of 20 bytes */
	EXPECT_MAL(p, TRUNCATED_L3);
	cr_assert_eq(p.ethertype, 0x0800);
	expect_no_ip(&p);
}

Test(ipv4, bad_ihl)
{
	struct frame f = ref_frame();
	struct weir_pkt p;

	f.b[14] = 0x44;
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IHL);
	expect_no_ip(&p);
}

Test(ipv4, total_length_below_header_length)
{
	struct frame f = ref_frame();
	struct weir_pkt p;

	f.b[16] = 0;
	f.b[17] = 19;
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IP_LEN);
	expect_no_ip(&p);
}

Test(ipv4, total_length_zero_is_tso)
{
	struct frame f = ref_frame();
	struct weir_pkt p;

	f.b[16] = 0;
	f.b[17] = 0;
	weir_pkt_parse(f.b, 58, 58, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ip_bytes, 44, "the rest of the frame");
	cr_assert_eq(p.payload_len, 4);
	/* the 58-byte head of a chained 1514-byte frame: the datagram ends where the
	 * frame does, and its payload runs into the later segments */
	weir_pkt_parse(f.b, 58, 1514, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ip_bytes, 1500);
	cr_assert_eq(p.payload_len, 1514 - 54);
}

Test(ipv4, ip_bytes_from_header_when_capture_is_cut)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 1500, 0x4000, 6, A1, A2);
	tcp(&f, 80, 50000, 5, 0x10, 1000);
	fill(&f, 60); /* 60 of 1460 payload bytes captured */
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ip_bytes, 1500);
	cr_assert_eq(p.payload_off, 54);
	cr_assert_eq(p.payload_len, 60);
	cr_assert_eq(p.flags, F_L4 | F_PORTS, "DF is not a fragment");
}

Test(ipv4, link_padding_is_not_payload)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 40, 0, 6, A1, A2);
	tcp(&f, 80, 50000, 5, 0x10, 1000);
	zeros(&f, 6); /* Ethernet minimum: 60 bytes */
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.payload_off, 54);
	cr_assert_eq(p.payload_len, 0);
}

Test(ipv4, first_fragment)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 36, 0x2000, 17, A1, A2); /* MF, offset 0 */
	udp(&f, 53, 1024, 3000);            /* the whole datagram's length: no bad-udp-len */
	fill(&f, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.flags, F_FRAG | F_FRAG_FIRST | F_L4 | F_PORTS);
	cr_assert_eq(p.frag_off, 0);
	cr_assert_eq(p.payload_len, 8);
	expect_ports(&p, 53, 1024);
}

Test(ipv4, middle_and_last_fragments_have_no_l4)
{
	static const uint16_t frag[] = {0x2000 | 185, 370}; /* MF + 1480 bytes; 2960 bytes */
	static const uint16_t want[] = {1480, 2960};

	for (unsigned i = 0; i < 2; i++) {
		struct frame f = {.n = 0};
		struct weir_pkt p;

		eth(&f, 0x0800);
		ip4(&f, 5, 48, frag[i], 17, A1, A2);
		udp(&f, 53, 1024, 28); /* bytes that only look like a UDP header */
		fill(&f, 20);
		p = parse_eth(&f);
		EXPECT_MAL(p, NONE);
		cr_assert_eq(p.flags, F_FRAG);
		cr_assert_eq(p.frag_off, want[i]);
		cr_assert_eq(p.l4_off, 0);
		cr_assert_eq(p.payload_off, 0);
		cr_assert_eq(p.payload_len, 0);
		cr_assert_eq(p.src_port, 0);
		cr_assert_eq(p.l4_proto, 17);
		cr_assert_eq(p.ip_bytes, 48);
	}
}

Test(ipv4, ipv6_behind_the_ipv4_ethertype)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800); /* what tshark also accepts */
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 1, 2);
}

Test(ipv4, bad_version)
{
	struct frame f = ref_frame();
	struct weir_pkt p;

	f.b[14] = 0x55;
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IP_VERSION);
	expect_no_ip(&p);
}

Test(ipv4, authentication_header)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 64, 0, 51, A1, A2);
	ah(&f, 6, 4); /* 24 bytes */
	tcp(&f, 22, 40000, 5, 0x10, 500);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 51);
	cr_assert_eq(p.l4_proto, 6);
	cr_assert_eq(p.l4_off, 58);
	cr_assert_eq(p.flags, F_L4 | F_PORTS, "no IPv6 extension flag on IPv4");
	expect_ports(&p, 22, 40000);
}

Test(ipv4, l4_header_past_total_length)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 30, 0, 6, A1, A2); /* 10 bytes of TCP by the length field */
	tcp(&f, 80, 81, 5, 0x02, 1);
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IP_LEN);
	expect_v4(&p, A1, A2);
	expect_ports(&p, 80, 81);
	cr_assert_not(p.flags & F_L4);
}

Test(ipv4, unknown_protocol)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 28, 0, 89, A1, A2); /* OSPF */
	zeros(&f, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 89);
	cr_assert_eq(p.l4_proto, 89);
	cr_assert_eq(p.l4_off, 34);
	cr_assert_eq(p.flags, 0);
}

/* ================================================================ IPv6 */

Test(ipv6, plain_tcp)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 24, 6, 1, 2);
	tcp(&f, 443, 51000, 5, 0x11, 7);
	fill(&f, 4);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ip_bytes, 64);
	cr_assert_eq(p.l3_off, 14);
	cr_assert_eq(p.l4_off, 54);
	cr_assert_eq(p.payload_off, 74);
	cr_assert_eq(p.payload_len, 4);
	cr_assert_eq(p.ttl, 63);
	cr_assert_eq(p.proto, 6);
	cr_assert_eq(p.tcp_flags, 0x11);
	cr_assert_eq(p.flags, F_L4 | F_PORTS);
	expect_v6(&p, 1, 2);
}

Test(ipv6, hop_by_hop)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 28, 0, 1, 2);
	ext6(&f, 6, 0); /* 8 bytes */
	tcp(&f, 1, 2, 5, 0x10, 1);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 0, "the fixed header's Next Header");
	cr_assert_eq(p.l4_proto, 6);
	cr_assert_eq(p.l4_off, 62);
	cr_assert_eq(p.flags, F_EXT | F_L4 | F_PORTS);
}

Test(ipv6, routing)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 32, 43, 1, 2);
	ext6(&f, 17, 2); /* 24 bytes */
	udp(&f, 7, 8, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 43);
	cr_assert_eq(p.l4_proto, 17);
	cr_assert_eq(p.l4_off, 78);
	expect_ports(&p, 7, 8);
}

Test(ipv6, destination_options)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 24, 60, 1, 2);
	ext6(&f, 58, 1); /* 16 bytes */
	icmp(&f, 1, 4);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 60);
	cr_assert_eq(p.l4_proto, 58);
	cr_assert_eq(p.l4_off, 70);
	cr_assert_eq(p.payload_off, 78);
	expect_ports(&p, 1, 4);
}

Test(ipv6, authentication_header)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 44, 51, 1, 2);
	ah(&f, 6, 4); /* 24 bytes */
	tcp(&f, 1, 2, 5, 0x10, 1);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 51);
	cr_assert_eq(p.l4_proto, 6);
	cr_assert_eq(p.l4_off, 78);
	cr_assert(p.flags & F_EXT);
}

Test(ipv6, every_extension_header_in_a_chain)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 72, 0, 1, 2);
	ext6(&f, 43, 0);      /* hop-by-hop, 8 */
	ext6(&f, 44, 0);      /* routing, 8 */
	frag6(&f, 60, 0, 0);  /* atomic fragment, 8 */
	ext6(&f, 51, 0);      /* destination options, 8 */
	ah(&f, 17, 2);        /* 16 */
	udp(&f, 500, 4500, 24);
	fill(&f, 16);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.proto, 0);
	cr_assert_eq(p.l4_proto, 17);
	cr_assert_eq(p.l4_off, 102);
	cr_assert_eq(p.payload_off, 110);
	cr_assert_eq(p.payload_len, 16);
	cr_assert_eq(p.ip_bytes, 112);
	cr_assert_eq(p.flags, F_EXT | F_FRAG | F_FRAG_FIRST | F_L4 | F_PORTS);
	expect_ports(&p, 500, 4500);
}

Test(ipv6, first_fragment)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 24, 44, 1, 2);
	frag6(&f, 17, 0, 1);
	udp(&f, 53, 1024, 4000);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.flags, F_EXT | F_FRAG | F_FRAG_FIRST | F_L4 | F_PORTS);
	cr_assert_eq(p.proto, 44);
	cr_assert_eq(p.l4_proto, 17);
	expect_ports(&p, 53, 1024);
}

Test(ipv6, later_fragment_has_no_l4)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 24, 44, 1, 2);
	frag6(&f, 17, 1232, 0);
	udp(&f, 53, 1024, 4000); /* looks like UDP, is the middle of the datagram */
	fill(&f, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.flags, F_EXT | F_FRAG);
	cr_assert_eq(p.frag_off, 1232);
	cr_assert_eq(p.proto, 44);
	cr_assert_eq(p.l4_proto, 17);
	cr_assert_eq(p.l4_off, 0);
	cr_assert_eq(p.src_port, 0);
	cr_assert_eq(p.payload_len, 0);
}

Test(ipv6, no_next_header)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 0, 59, 1, 2);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.l4_proto, 59);
	cr_assert_eq(p.ip_bytes, 40);
	cr_assert_eq(p.flags, 0);
}

Test(ipv6, extension_header_truncated_by_capture)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 48, 0, 1, 2);
	ext6(&f, 6, 1); /* 16 bytes, 10 captured */
	parse_n(&f, 64, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L3);
	expect_v6(&p, 1, 2);
	cr_assert_eq(p.ip_bytes, 88);
	cr_assert_eq(p.l4_off, 0);
	parse_n(&f, 55, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p); /* not even its length byte */
	EXPECT_MAL(p, TRUNCATED_L3);
	expect_v6(&p, 1, 2);
}

Test(ipv6, extension_header_past_payload_length)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 8, 60, 1, 2); /* payload 8, but the header is 16 */
	ext6(&f, 6, 1);
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IPV6_EXT);
	expect_v6(&p, 1, 2);
}

Test(ipv6, too_many_extension_headers)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 8 * (WEIR_PKT_MAX_IPV6_EXT + 1) + 8, 60, 1, 2);
	for (int i = 0; i < WEIR_PKT_MAX_IPV6_EXT; i++)
		ext6(&f, 60, 0);
	ext6(&f, 17, 0);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IPV6_EXT);
	expect_v6(&p, 1, 2);
}

Test(ipv6, fixed_header_truncated_is_not_ip)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 0, 59, 1, 2);
	parse_n(&f, 53, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L3);
	expect_no_ip(&p);
}

Test(ipv6, ipv4_behind_the_ipv6_ethertype)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_IP_VERSION);
	expect_no_ip(&p);
}

Test(ipv6, jumbo_payload_length_zero)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x86dd);
	ip6(&f, 0, 0, 1, 2);
	ext6(&f, 17, 0); /* a jumbo option would live here */
	udp(&f, 1, 2, 0);
	fill(&f, 10);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.ip_bytes, 40, "oracle rule: payload length + 40");
	cr_assert_eq(p.payload_len, 10, "the datagram runs to the end of the frame");
}

/* ================================================================ L4 */

Test(l4, tcp_options_length)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 62, 0, 6, A1, A2);
	tcp(&f, 50000, 443, 8, 0x12, 65535); /* 12 bytes of options, SYN|ACK */
	fill(&f, 10);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.l4_off, 34);
	cr_assert_eq(p.payload_off, 66);
	cr_assert_eq(p.payload_len, 10);
	cr_assert_eq(p.tcp_flags, 0x12);
	cr_assert_eq(p.tcp_window, 65535);
}

Test(l4, tcp_data_offset_below_five)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 40, 0, 6, A1, A2);
	tcp(&f, 1, 2, 4, 0x02, 9);
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_TCP_OFF);
	expect_ports(&p, 1, 2);
	cr_assert_eq(p.tcp_flags, 0x02, "the fixed header was there");
	cr_assert_not(p.flags & F_L4);
	cr_assert_eq(p.payload_off, 0);
}

Test(l4, tcp_data_offset_past_datagram)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 44, 0, 6, A1, A2); /* 24 bytes of TCP */
	tcp(&f, 1, 2, 5, 0x02, 9);
	fill(&f, 4);
	f.b[46] = 0x80; /* data offset 8: 32 bytes */
	p = parse_eth(&f);
	EXPECT_MAL(p, BAD_TCP_OFF);
	cr_assert_not(p.flags & F_L4);
}

Test(l4, tcp_options_cut_by_capture)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 60, 0, 6, A1, A2);
	tcp(&f, 1, 2, 10, 0x02, 9); /* 40 bytes */
	parse_n(&f, 60, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L4);
	expect_ports(&p, 1, 2);
	cr_assert_not(p.flags & F_L4);
}

Test(l4, udp)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 40, 0, 17, A1, A2);
	udp(&f, 123, 123, 20);
	fill(&f, 12);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.payload_off, 42);
	cr_assert_eq(p.payload_len, 12);
	cr_assert_eq(p.flags, F_L4 | F_PORTS);
	expect_ports(&p, 123, 123);
}

Test(l4, udp_length_zero_is_accepted)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 32, 0, 17, A1, A2);
	udp(&f, 1, 2, 0);
	fill(&f, 4);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.payload_len, 4);
}

Test(l4, udp_bad_lengths)
{
	static const uint16_t bad[] = {7, 1, 21};

	for (unsigned i = 0; i < 3; i++) {
		struct frame f = {.n = 0};
		struct weir_pkt p;

		eth(&f, 0x0800);
		ip4(&f, 5, 40, 0, 17, A1, A2); /* 20 bytes of UDP */
		udp(&f, 1, 2, bad[i]);
		fill(&f, 12);
		p = parse_eth(&f);
		EXPECT_MAL(p, BAD_UDP_LEN);
		expect_ports(&p, 1, 2);
		cr_assert_eq(p.payload_len, 12, "payload by the IP length");
	}
}

Test(l4, udp_truncated)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 28, 0, 17, A1, A2);
	udp(&f, 1, 2, 8);
	parse_n(&f, 40, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L4);
	expect_ports(&p, 1, 2);
	cr_assert_not(p.flags & F_L4);
	parse_n(&f, 37, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L4);
	cr_assert_eq(p.flags & (F_PORTS | F_L4), 0);
	cr_assert_eq(p.l4_off, 34);
}

Test(l4, sctp)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 48, 0, 132, A1, A2);
	put16(&f, 2905);
	put16(&f, 2906);
	put32(&f, 0xdeadbeef); /* verification tag */
	put32(&f, 0);          /* checksum */
	fill(&f, 16);          /* chunks */
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.l4_proto, 132);
	cr_assert_eq(p.payload_off, 46);
	cr_assert_eq(p.payload_len, 16);
	expect_ports(&p, 2905, 2906);
	parse_n(&f, 45, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L4);
	expect_ports(&p, 2905, 2906);
}

Test(l4, icmp_type_and_code)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 56, 0, 1, A1, A2);
	icmp(&f, 3, 1); /* host unreachable, quoting an IPv4 header */
	ip4(&f, 5, 60, 0, 6, A2, A1);
	fill(&f, 8);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.src_port, 3);
	cr_assert_eq(p.dst_port, 1);
	cr_assert_eq(p.payload_off, 42);
	cr_assert_eq(p.payload_len, 28);
	cr_assert_eq(p.tunnel, WEIR_TUN_NONE, "a quoted header is not a tunnel");
	expect_v4(&p, A1, A2);
	p = parse_inner(&f);
	expect_v4(&p, A1, A2);
	cr_assert_not(p.flags & F_INNER);
}

Test(l4, icmp_truncated)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 28, 0, 1, A1, A2);
	icmp(&f, 8, 0);
	parse_n(&f, 36, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_L4);
	expect_ports(&p, 8, 0);
	cr_assert_not(p.flags & F_L4);
}

/* ================================================================ tunnels */

/* outer fields of an IPv4 tunnel packet: 10.0.0.1 -> 10.0.0.2 */
static void expect_outer_v4(const struct weir_pkt *p, uint8_t proto, uint32_t ip_bytes)
{
	expect_v4(p, A1, A2);
	cr_assert_eq(p->proto, proto);
	cr_assert_eq(p->l4_proto, proto);
	cr_assert_eq(p->ip_bytes, ip_bytes);
	cr_assert_eq(p->l3_off, 14);
	cr_assert_not(p->flags & F_INNER);
}

Test(tunnel, ipip)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 60, 0, 4, A1, A2);
	ip4(&f, 5, 40, 0, 6, B1, B2);
	tcp(&f, 1234, 80, 5, 0x02, 1024);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	expect_outer_v4(&p, 4, 60);
	cr_assert_eq(p.tunnel, WEIR_TUN_IPIP);
	cr_assert_eq(p.l4_off, 34);
	cr_assert_eq(p.flags, 0, "no ports on the outer header");
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.tunnel, WEIR_TUN_IPIP);
	cr_assert_eq(p.l3_off, 34);
	cr_assert_eq(p.l4_off, 54);
	cr_assert_eq(p.ip_bytes, 40);
	cr_assert_eq(p.flags, F_INNER | F_L4 | F_PORTS);
	expect_ports(&p, 1234, 80);
}

Test(tunnel, sixin4)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 88, 0x4000, 41, A1, A2);
	ip6(&f, 28, 17, 1, 2);
	udp(&f, 53, 5353, 28);
	fill(&f, 20);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	expect_outer_v4(&p, 41, 88);
	cr_assert_eq(p.tunnel, WEIR_TUN_6IN4);
	cr_assert_eq(p.src_port, 0);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 1, 2);
	cr_assert_eq(p.tunnel, WEIR_TUN_6IN4);
	cr_assert_eq(p.l3_off, 34);
	cr_assert_eq(p.ip_bytes, 68);
	cr_assert_eq(p.payload_off, 82);
	cr_assert_eq(p.payload_len, 20);
	expect_ports(&p, 53, 5353);
}

Test(tunnel, fourin6_and_sixin6)
{
	struct frame f4 = {.n = 0}, f6 = {.n = 0};
	struct weir_pkt p;

	eth(&f4, 0x86dd);
	ip6(&f4, 28, 4, 1, 2);
	ip4(&f4, 5, 28, 0, 17, B1, B2);
	udp(&f4, 1, 2, 8);
	p = parse_eth(&f4);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 1, 2);
	cr_assert_eq(p.proto, 4);
	cr_assert_eq(p.tunnel, WEIR_TUN_4IN6);
	p = parse_inner(&f4);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.l3_off, 54);
	cr_assert_eq(p.ip_bytes, 28);
	cr_assert(p.flags & F_INNER);

	eth(&f6, 0x86dd);
	ip6(&f6, 48, 41, 1, 2);
	ip6(&f6, 8, 17, 3, 4);
	udp(&f6, 1, 2, 8);
	p = parse_eth(&f6);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 1, 2);
	cr_assert_eq(p.tunnel, WEIR_TUN_6IN6);
	p = parse_inner(&f6);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 3, 4);
	cr_assert_eq(p.l3_off, 54);
	cr_assert_eq(p.l4_off, 94);
}

Test(tunnel, gre_with_checksum_key_and_sequence)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 84, 0, 47, A1, A2);
	put16(&f, 0xb000); /* C, K, S; version 0 */
	put16(&f, 0x0800);
	put32(&f, 0);      /* checksum, reserved */
	put32(&f, 42);     /* key */
	put32(&f, 7);      /* sequence */
	ip4(&f, 5, 48, 0, 17, B1, B2);
	udp(&f, 4000, 53, 28);
	fill(&f, 20);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	expect_outer_v4(&p, 47, 84);
	cr_assert_eq(p.tunnel, WEIR_TUN_GRE);
	cr_assert_eq(p.l4_off, 34);
	cr_assert_eq(p.flags, 0);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.l3_off, 50);
	cr_assert_eq(p.payload_off, 78);
	cr_assert_eq(p.payload_len, 20);
	expect_ports(&p, 4000, 53);
}

Test(tunnel, gre_transparent_ethernet_bridging)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 90, 0, 47, A1, A2);
	put16(&f, 0x0000);
	put16(&f, 0x6558);
	eth(&f, 0x8100);
	tag(&f, 55, 0x86dd);
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	cr_assert_eq(p.tunnel, WEIR_TUN_GRE);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v6(&p, 1, 2);
	cr_assert_eq(p.l3_off, 56);
	cr_assert_eq(p.vlan, 0, "VLAN IDs are the outermost frame's");
	cr_assert_eq(p.n_vlan, 0);
}

Test(tunnel, gre_version1_ppp)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 64, 0, 47, A1, A2);
	put16(&f, 0x3001); /* K, S, version 1 */
	put16(&f, 0x880b);
	put16(&f, 32);     /* payload length */
	put16(&f, 9);      /* call ID */
	put32(&f, 1);      /* sequence */
	put8(&f, 0xff);    /* PPP address, control, protocol */
	put8(&f, 0x03);
	put16(&f, 0x0021);
	ip4(&f, 5, 28, 0, 17, B1, B2);
	udp(&f, 1, 2, 8);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.tunnel, WEIR_TUN_GRE);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.l3_off, 50);
}

Test(tunnel, gre_non_ip_payload)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 52, 0, 47, A1, A2);
	put16(&f, 0);
	put16(&f, 0x0806); /* ARP */
	zeros(&f, 28);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.tunnel, WEIR_TUN_GRE);
	expect_outer_v4(&p, 47, 52);
}

Test(tunnel, gre_truncated)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	eth(&f, 0x0800);
	ip4(&f, 5, 60, 0, 47, A1, A2);
	put16(&f, 0x2000); /* K */
	put16(&f, 0x0800);
	put16(&f, 0);      /* half a key */
	parse_n(&f, f.n, WEIR_LINK_ETHERNET, WEIR_PKT_INNER, &p);
	EXPECT_MAL(p, TRUNCATED_TUNNEL);
	cr_assert_eq(p.tunnel, WEIR_TUN_GRE);
	expect_outer_v4(&p, 47, 60);
}

static void vxlan_frame(struct frame *f)
{
	eth(f, 0x0800);
	ip4(f, 5, 94, 0, 17, A1, A2);
	udp(f, 55555, 4789, 74);
	put32(f, 0x08000000); /* I flag */
	put32(f, 0x00100000); /* VNI 4096 */
	eth(f, 0x0800);
	ip4(f, 5, 44, 0, 6, B1, B2);
	tcp(f, 40000, 443, 5, 0x18, 300);
	fill(f, 4);
}

Test(tunnel, vxlan)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	vxlan_frame(&f);
	cr_assert_eq(f.n, 108);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	expect_outer_v4(&p, 17, 94);
	cr_assert_eq(p.tunnel, WEIR_TUN_VXLAN);
	expect_ports(&p, 55555, 4789);
	cr_assert_eq(p.payload_off, 42);
	cr_assert_eq(p.payload_len, 66);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.tunnel, WEIR_TUN_VXLAN);
	cr_assert_eq(p.l3_off, 64);
	cr_assert_eq(p.l4_off, 84);
	cr_assert_eq(p.payload_off, 104);
	cr_assert_eq(p.payload_len, 4);
	cr_assert_eq(p.ip_bytes, 44);
	cr_assert_eq(p.flags, F_INNER | F_L4 | F_PORTS);
	cr_assert_eq(p.ethertype, 0x0800);
	expect_ports(&p, 40000, 443);
}

Test(tunnel, vxlan_inner_ethernet_cut)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	vxlan_frame(&f);
	parse_n(&f, 60, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
	EXPECT_MAL(p, TRUNCATED_TUNNEL);
	expect_outer_v4(&p, 17, 94);
	expect_ports(&p, 55555, 4789);
	parse_n(&f, 60, WEIR_LINK_ETHERNET, WEIR_PKT_INNER, &p);
	EXPECT_MAL(p, TRUNCATED_TUNNEL);
	expect_outer_v4(&p, 17, 94);
}

Test(tunnel, outer_layer_reports_inner_problems)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	vxlan_frame(&f);
	parse_n(&f, 80, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p); /* inner IPv4 header cut */
	EXPECT_MAL(p, TRUNCATED_L3);
	cr_assert_eq(p.tunnel, WEIR_TUN_VXLAN);
	expect_outer_v4(&p, 17, 94);
	cr_assert_eq(p.payload_len, 38);
	parse_n(&f, 80, WEIR_LINK_ETHERNET, WEIR_PKT_INNER, &p);
	EXPECT_MAL(p, TRUNCATED_L3);
	expect_outer_v4(&p, 17, 94); /* the inner header never parsed */
}

static void gtpu_frame(struct frame *f, int with_ext)
{
	eth(f, 0x0800);
	ip4(f, 5, with_ext ? 72 : 64, 0, 17, A1, A2);
	udp(f, 2152, 2152, with_ext ? 52 : 44);
	put8(f, with_ext ? 0x34 : 0x30); /* version 1, PT, E */
	put8(f, 0xff);                   /* G-PDU */
	put16(f, with_ext ? 36 : 28);
	put32(f, 0x11223344); /* TEID */
	if (with_ext) {
		put16(f, 0);    /* sequence */
		put8(f, 0);     /* N-PDU */
		put8(f, 0x85);  /* next: PDU session container */
		put8(f, 1);     /* 4 bytes */
		put8(f, 0x10);
		put8(f, 0x09);
		put8(f, 0);     /* no more */
	}
	ip4(f, 5, 28, 0, 17, B1, B2);
	udp(f, 5000, 53, 8);
}

Test(tunnel, gtpu)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	gtpu_frame(&f, 0);
	p = parse_eth(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.tunnel, WEIR_TUN_GTPU);
	expect_outer_v4(&p, 17, 64);
	expect_ports(&p, 2152, 2152);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.l3_off, 50);
	expect_ports(&p, 5000, 53);
}

Test(tunnel, gtpu_extension_headers)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	gtpu_frame(&f, 1);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, B1, B2);
	cr_assert_eq(p.l3_off, 58);
	cr_assert_eq(p.l4_off, 78);
	f.b[54] = 0; /* extension length 0 */
	p = parse_inner(&f);
	EXPECT_MAL(p, BAD_TUNNEL);
	cr_assert_eq(p.tunnel, WEIR_TUN_GTPU);
	expect_outer_v4(&p, 17, 72);
}

Test(tunnel, gtpu_echo_carries_no_packet)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	gtpu_frame(&f, 0);
	f.b[43] = 1; /* echo request */
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	cr_assert_eq(p.tunnel, WEIR_TUN_GTPU);
	expect_outer_v4(&p, 17, 64);
}

Test(tunnel, too_deep)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;

	/* WEIR_PKT_MAX_DEPTH IP headers parse; one more is too deep */
	eth(&f, 0x0800);
	for (int i = 0; i < WEIR_PKT_MAX_DEPTH; i++)
		ip4(&f, 5, (uint16_t)(20 * (WEIR_PKT_MAX_DEPTH - i) + 28), 0, 4, A1, A2);
	ip4(&f, 5, 28, 0, 17, B1, B2);
	udp(&f, 1, 2, 8);
	p = parse_inner(&f);
	EXPECT_MAL(p, TOO_DEEP);
	cr_assert_eq(p.tunnel, WEIR_TUN_IPIP);
	cr_assert_eq(p.l3_off, 14 + 20 * (WEIR_PKT_MAX_DEPTH - 1), "the deepest header that parsed");
	p = parse_eth(&f);
	EXPECT_MAL(p, TOO_DEEP);
	cr_assert_eq(p.l3_off, 14);

	/* one level less is fine */
	f.n = 0;
	eth(&f, 0x0800);
	for (int i = 0; i < WEIR_PKT_MAX_DEPTH - 1; i++)
		ip4(&f, 5, (uint16_t)(20 * (WEIR_PKT_MAX_DEPTH - 1 - i) + 28), 0, 4, A1, A2);
	ip4(&f, 5, 28, 0, 17, B1, B2);
	udp(&f, 1, 2, 8);
	p = parse_inner(&f);
	EXPECT_MAL(p, NONE);
	expect_v4(&p, B1, B2);
	expect_ports(&p, 1, 2);
}

Test(tunnel, layers_agree_without_a_tunnel)
{
	struct frame f = ref_frame();
	struct weir_pkt a = parse_eth(&f), b = parse_inner(&f);

	cr_assert_arr_eq(&a, &b, sizeof(a));
}

/* ================================================================ malformed reasons */

Test(malformed, names)
{
	cr_assert_str_eq(weir_pkt_malformed_name(WEIR_PKT_MAL_NONE), "none");
	cr_assert_str_eq(weir_pkt_malformed_name(WEIR_PKT_MAL_TRUNCATED_L3), "truncated-l3");
	cr_assert_str_eq(weir_pkt_malformed_name(WEIR_PKT_MAL_TOO_DEEP), "too-deep");
	cr_assert_str_eq(weir_pkt_malformed_name(WEIR_PKT_MAL_BAD_LINK), "bad-link");
	cr_assert_str_eq(weir_pkt_malformed_name(WEIR_PKT_MAL_BAD_TUNNEL), "bad-tunnel");
	cr_assert_str_eq(weir_pkt_malformed_name(WEIR_PKT_MAL__COUNT), "?");
	cr_assert_str_eq(weir_pkt_malformed_name(1000), "?");
	for (unsigned i = 0; i < WEIR_PKT_MAL__COUNT; i++) {
		cr_assert_neq(weir_pkt_malformed_name(i)[0], '\0');
		for (unsigned j = 0; j < i; j++)
			cr_assert_str_neq(weir_pkt_malformed_name(i), weir_pkt_malformed_name(j));
	}
}

/* Ethernet with n VLAN tags and nothing after them */
static void vlan_stack(struct frame *f, int n)
{
	eth(f, 0x8100);
	for (int i = 0; i < n; i++)
		tag(f, 1, 0x8100);
}

/* One crafted packet per reason: every reason is reachable, and reached as named. */
Test(malformed, every_reason_is_reached)
{
	unsigned seen[WEIR_PKT_MAL__COUNT] = {0};
	struct frame f;
	struct weir_pkt p;

#define REASON(expected, build, link, len)                                                   \
	do {                                                                                   \
		f.n = 0;                                                                       \
		build;                                                                         \
		parse_n(&f, (len) ? (uint32_t)(len) : f.n, link, WEIR_PKT_INNER, &p);          \
		EXPECT_MAL(p, expected);                                                       \
		seen[p.malformed]++;                                                           \
	} while (0)

	REASON(NONE, put(&f, tcp4_frame, 58), WEIR_LINK_ETHERNET, 0);
	REASON(TRUNCATED_L2, put(&f, tcp4_frame, 58), WEIR_LINK_ETHERNET, 10);
	REASON(TRUNCATED_VLAN, (eth(&f, 0x8100), put16(&f, 1)), WEIR_LINK_ETHERNET, 0);
	REASON(TRUNCATED_MPLS, (eth(&f, 0x8847), put16(&f, 1)), WEIR_LINK_ETHERNET, 0);
	REASON(TRUNCATED_PPPOE, (eth(&f, 0x8864), put16(&f, 0x1100)), WEIR_LINK_ETHERNET, 0);
	REASON(TRUNCATED_L3, put(&f, tcp4_frame, 58), WEIR_LINK_ETHERNET, 30);
	REASON(BAD_IP_VERSION, (eth(&f, 0x0800), put8(&f, 0x75), zeros(&f, 19)), WEIR_LINK_ETHERNET, 0);
	REASON(BAD_IHL, (eth(&f, 0x0800), ip4(&f, 5, 20, 0, 0, A1, A2), f.b[14] = 0x41),
	       WEIR_LINK_ETHERNET, 0);
	REASON(BAD_IP_LEN, (eth(&f, 0x0800), ip4(&f, 5, 12, 0, 0, A1, A2)), WEIR_LINK_ETHERNET, 0);
	REASON(BAD_IPV6_EXT, (eth(&f, 0x86dd), ip6(&f, 4, 0, 1, 2), ext6(&f, 6, 0)),
	       WEIR_LINK_ETHERNET, 0);
	REASON(TRUNCATED_L4, put(&f, tcp4_frame, 58), WEIR_LINK_ETHERNET, 40);
	REASON(BAD_TCP_OFF, (eth(&f, 0x0800), ip4(&f, 5, 40, 0, 6, A1, A2), tcp(&f, 1, 2, 3, 0, 0)),
	       WEIR_LINK_ETHERNET, 0);
	REASON(BAD_UDP_LEN, (eth(&f, 0x0800), ip4(&f, 5, 28, 0, 17, A1, A2), udp(&f, 1, 2, 4)),
	       WEIR_LINK_ETHERNET, 0);
	REASON(TRUNCATED_TUNNEL, (eth(&f, 0x0800), ip4(&f, 5, 26, 0, 47, A1, A2), put16(&f, 0)),
	       WEIR_LINK_ETHERNET, 0);
	REASON(TOO_DEEP, vlan_stack(&f, WEIR_PKT_MAX_VLAN + 1), WEIR_LINK_ETHERNET, 0);
	REASON(BAD_LINK, put(&f, tcp4_frame, 58), 147, 0);
	REASON(BAD_TUNNEL, (gtpu_frame(&f, 1), f.b[54] = 0), WEIR_LINK_ETHERNET, 0);
#undef REASON
	for (unsigned i = 0; i < WEIR_PKT_MAL__COUNT; i++)
		cr_assert_eq(seen[i], 1, "reason %s reached %u times", weir_pkt_malformed_name(i), seen[i]);
}

/* ================================================================ truncation */

/* The reference frame cut at every length: what is known at each point, by hand. */
Test(truncation, tcp_ipv4_at_every_length)
{
	struct frame f = ref_frame();

	for (uint32_t len = 0; len <= 58; len++) {
		struct weir_pkt p;

		parse_n(&f, len, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, &p);
		cr_assert_eq(p.pkt_len, len);
		if (len < 14) {
			EXPECT_MAL(p, TRUNCATED_L2);
			cr_assert_eq(p.ethertype, 0);
			expect_no_ip(&p);
		} else if (len < 34) {
			EXPECT_MAL(p, TRUNCATED_L3);
			cr_assert_eq(p.ethertype, 0x0800);
			expect_no_ip(&p);
		} else {
			expect_v4(&p, 0xc0000201, 0xc6336402);
			cr_assert_eq(p.ip_bytes, 44, "from the header, not the capture (len %u)", len);
			cr_assert_eq(p.l4_off, 34);
			if (len < 38) {
				EXPECT_MAL(p, TRUNCATED_L4);
				cr_assert_eq(p.flags, 0, "len %u", len);
			} else if (len < 54) {
				EXPECT_MAL(p, TRUNCATED_L4);
				cr_assert_eq(p.flags, F_PORTS, "len %u", len);
				expect_ports(&p, 49152, 80);
				cr_assert_eq(p.tcp_flags, 0);
			} else {
				EXPECT_MAL(p, NONE);
				cr_assert_eq(p.flags, F_L4 | F_PORTS);
				cr_assert_eq(p.tcp_flags, 0x18);
				cr_assert_eq(p.payload_off, 54);
				cr_assert_eq(p.payload_len, len - 54);
			}
		}
	}
}

static void check_invariants(const struct weir_pkt *p, uint32_t len)
{
	cr_assert_lt(p->malformed, WEIR_PKT_MAL__COUNT);
	cr_assert(p->ip_version == 0 || p->ip_version == 4 || p->ip_version == 6);
	if (p->ip_version)
		cr_assert_leq(p->l3_off + (p->ip_version == 4 ? 20u : 40u), len);
	cr_assert_leq(p->l4_off, len);
	if (p->flags & F_L4) {
		cr_assert_leq(p->payload_off, len);
		cr_assert_leq(p->payload_off + p->payload_len, len);
	} else {
		cr_assert_eq(p->payload_len, 0);
	}
	cr_assert_leq(p->n_vlan, WEIR_PKT_MAX_VLAN);
	cr_assert_leq(p->tunnel, WEIR_TUN_GTPU);
}

/* Every crafted shape cut at every length, both layers: no read past len (ASan), sane fields. */
Test(truncation, every_shape_at_every_length)
{
	struct frame shapes[12];
	unsigned n = 0;

	memset(shapes, 0, sizeof(shapes));
	put(&shapes[n++], tcp4_frame, 58);
	vxlan_frame(&shapes[n++]);
	gtpu_frame(&shapes[n++], 1);
	eth(&shapes[n], 0x88a8); /* QinQ, PPPoE, IPv6 with every extension header, UDP */
	tag(&shapes[n], 1, 0x8100);
	tag(&shapes[n], 2, 0x8864);
	pppoe(&shapes[n], 0x0057, 90);
	ip6(&shapes[n], 48, 0, 1, 2);
	ext6(&shapes[n], 43, 0);
	ext6(&shapes[n], 44, 0);
	frag6(&shapes[n], 60, 0, 1);
	ext6(&shapes[n], 51, 0);
	ah(&shapes[n], 17, 0);
	udp(&shapes[n++], 1, 2, 8);
	eth(&shapes[n], 0x8847); /* MPLS, GRE with options, TEB, VLAN, 6in4, TCP */
	mpls(&shapes[n], 1, 0);
	mpls(&shapes[n], 2, 1);
	ip4(&shapes[n], 6, 138, 0, 47, A1, A2);
	put16(&shapes[n], 0xb000);
	put16(&shapes[n], 0x6558);
	zeros(&shapes[n], 12);
	eth(&shapes[n], 0x8100);
	tag(&shapes[n], 3, 0x0800);
	ip4(&shapes[n], 5, 80, 0, 41, B1, B2);
	ip6(&shapes[n], 20, 6, 1, 2);
	tcp(&shapes[n++], 1, 2, 5, 0x10, 1);
	put16(&shapes[n], 0x86dd); /* SLL2, GRE v1 PPP, IPv4 fragment, AH */
	zeros(&shapes[n], 18);
	ip6(&shapes[n], 66, 47, 1, 2);
	put16(&shapes[n], 0x3081);
	put16(&shapes[n], 0x880b);
	zeros(&shapes[n], 12);
	put8(&shapes[n], 0x21);
	ip4(&shapes[n], 5, 49, 0x2000, 51, B1, B2);
	ah(&shapes[n], 132, 1);
	fill(&shapes[n++], 17);

	for (unsigned s = 0; s < n; s++) {
		int link = s == n - 1 ? WEIR_LINK_SLL2 : WEIR_LINK_ETHERNET;

		for (uint32_t len = 0; len <= shapes[s].n; len++)
			for (int layer = 0; layer <= 1; layer++) {
				struct weir_pkt p;

				parse_n(&shapes[s], len, link, layer, &p);
				check_invariants(&p, len);
				if (len == shapes[s].n)
					EXPECT_MAL(p, NONE);
			}
	}
}

/* Random bytes, every link type, both layers: only invariants, and ASan watching reads. */
Test(truncation, random_bytes)
{
	static const int links[] = {0, 1, 12, 14, 101, 113, 228, 229, 276};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (unsigned i = 0; i < 200000; i++) {
		struct frame f = {.n = 0};
		struct weir_pkt p;
		uint32_t len;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = (uint32_t)(x % 160);
		/* bias towards parseable prefixes: a real header, then noise */
		put(&f, tcp4_frame, 34);
		f.b[12] = (uint8_t[]){0x08, 0x86, 0x81, 0x88, 0x88}[x % 5];
		f.b[13] = (uint8_t[]){0x00, 0xdd, 0x00, 0x47, 0x64}[x % 5];
		while (f.n < 160) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			put8(&f, (uint8_t)(x >> 32));
		}
		if (x & 1)
			f.b[14] = (x & 2) ? 0x45 : 0x60;
		parse_n(&f, len, links[x % 9], (int)((x >> 8) & 1), &p);
		check_invariants(&p, len);
	}
}

/* ================================================================ formatting */

Test(format, addresses)
{
	uint8_t v4[16] = {192, 0, 2, 1};
	uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	char buf[64];

	weir_pkt_format_ip(4, v4, buf, sizeof(buf));
	cr_assert_str_eq(buf, "192.0.2.1");
	weir_pkt_format_ip(6, v6, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2001:db8::1");
	weir_pkt_format_ip(0, v4, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	weir_pkt_format_ip(4, v4, buf, 5); /* too small: empty, no overflow */
	cr_assert_str_eq(buf, "");
	buf[0] = 'x';
	weir_pkt_format_ip(4, v4, buf, 0);
	cr_assert_eq(buf[0], 'x');
}

Test(format, parsed_packet)
{
	struct frame f = {.n = 0};
	struct weir_pkt p;
	char s[64], d[64];

	eth(&f, 0x86dd);
	ip6(&f, 8, 17, 1, 2);
	udp(&f, 1, 2, 8);
	p = parse_eth(&f);
	weir_pkt_format_ip(p.ip_version, p.src_ip, s, sizeof(s));
	weir_pkt_format_ip(p.ip_version, p.dst_ip, d, sizeof(d));
	cr_assert_str_eq(s, "2001:db8::1");
	cr_assert_str_eq(d, "2001:db8::2");
	p = parse_eth(&(struct frame){.n = 0});
	weir_pkt_format_ip(p.ip_version, p.src_ip, s, sizeof(s));
	cr_assert_str_eq(s, "");
}
