/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir-synth: writes a synthetic Ethernet capture in classic pcap format.
 *
 * With its defaults it produces tests/data/sample.pcap byte for byte. The
 * only source of variation is the seed of its own PRNG: timestamps are
 * event times counted from --start, and nothing reads the clock, the locale
 * or the environment. That is what lets the bundled sample be regenerated
 * and compared in a test instead of being trusted as an opaque blob.
 *
 * Layout, bottom-up:
 *   - byte writers: struct wbuf (growable, for application payloads) and
 *     struct pkt (fixed, with headroom);
 *   - one push_*() per protocol header. A packet is built payload first and
 *     each header is prepended, so every header sees its final payload
 *     length and can fill in its length and checksum at once;
 *   - paths (which tunnel and L2 encapsulation a host's traffic takes) and
 *     flows (two hosts, ports, TCP state, the event clock);
 *   - application payloads (HTTP, TLS, DNS, NTP, ICMP echo, ARP, LLDP) and
 *     sessions that play them over a flow;
 *   - the scenario (what happens when) and the pcap writer.
 * Packets are collected in memory and sorted by time before writing, so
 * sessions may be generated in any order.
 *
 * Determinism rule: at most one PRNG draw per full expression. Compilers
 * evaluate function arguments in different orders (gcc right to left,
 * clang left to right), so two draws in one call would make the output
 * depend on the compiler.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define US 1000000ull

/* Defaults: these values produce tests/data/sample.pcap. */
#define DEF_OUTPUT   "sample.pcap"
#define DEF_PACKETS  5500u
#define DEF_SEED     0x77656972u /* "weir" */
#define DEF_START    1700000000u /* 2023-11-14 22:13:20 UTC */
#define DEF_DURATION 210u        /* crosses three 60 s window boundaries */

#define PCAP_SNAPLEN 65535u
#define LINK_MTU     1500u

enum { C2S = 0, S2C = 1 };
enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };
enum {
	IPP_HOPOPTS = 0, IPP_ICMP = 1, IPP_TCP = 6, IPP_UDP = 17, IPP_IPV6 = 41,
	IPP_FRAG = 44, IPP_GRE = 47, IPP_ICMPV6 = 58, IPP_DSTOPTS = 60,
};
enum {
	ET_IPV4 = 0x0800, ET_ARP = 0x0806, ET_VLAN = 0x8100, ET_QINQ = 0x88a8,
	ET_MPLS = 0x8847, ET_PPPOE = 0x8864, ET_IPV6 = 0x86dd, ET_LLDP = 0x88cc,
};
enum { IP_DF = 0x4000, IP_MF = 0x2000 };

static _Noreturn __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("weir-synth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("out of memory");
	return p;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* pcap headers are written little-endian whatever the host is. */
static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- PRNG: xorshift64*, seeded through splitmix64 so that small seeds
 * (0, 1, 2...) still start from well-mixed, non-zero states. */

struct rng {
	uint64_t s;
};

static void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 1;
}

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t rng_u32(struct rng *r)
{
	return (uint32_t)(rng_next(r) >> 32);
}

/* Multiply-shift instead of modulo: no division, and the high bits of
 * xorshift64* are its best ones. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((uint64_t)rng_u32(r) * n) >> 32);
}

static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static bool rng_chance(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

static void rng_fill(struct rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng_u32(r);
}

/* ---- growable byte writer for application payloads ---- */

struct wbuf {
	uint8_t *b;
	size_t n, cap;
};

static uint8_t *w_room(struct wbuf *w, size_t n)
{
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 512;

		while (cap < w->n + n)
			cap *= 2;
		w->b = xrealloc(w->b, cap);
		w->cap = cap;
	}
	w->n += n;
	return w->b + w->n - n;
}

static void w_u8(struct wbuf *w, uint8_t v)
{
	*w_room(w, 1) = v;
}

static void w_u16(struct wbuf *w, uint16_t v)
{
	put16(w_room(w, 2), v);
}

static void w_u32(struct wbuf *w, uint32_t v)
{
	put32(w_room(w, 4), v);
}

static void w_mem(struct wbuf *w, const void *p, size_t n)
{
	if (n)
		memcpy(w_room(w, n), p, n);
}

static void w_str(struct wbuf *w, const char *s)
{
	w_mem(w, s, strlen(s));
}

static __attribute__((format(printf, 2, 3))) void w_fmt(struct wbuf *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	/* +1 for vsnprintf's terminator, taken back right after */
	char *dst = (char *)w_room(w, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	va_end(ap);
	w->n--;
}

static void w_rand(struct wbuf *w, struct rng *r, size_t n)
{
	rng_fill(r, w_room(w, n), n);
}

/* Length fields that precede their content: w_mark() reserves `width`
 * bytes, w_end() fills them with the length of what was written since. */
static size_t w_mark(struct wbuf *w, size_t width)
{
	memset(w_room(w, width), 0, width);
	return w->n;
}

static void w_end(struct wbuf *w, size_t mark, size_t width)
{
	size_t len = w->n - mark;

	for (size_t i = 0; i < width; i++)
		w->b[mark - width + i] = (uint8_t)(len >> (8 * (width - 1 - i)));
}

static void w_free(struct wbuf *w)
{
	free(w->b);
	*w = (struct wbuf){ 0 };
}

/* ---- packet buffer: headers are prepended into the headroom ---- */

enum { PKT_ROOM = 4096, PKT_HEADROOM = 256 };

struct pkt {
	size_t head, tail;
	uint8_t b[PKT_ROOM];
};

static void pkt_init(struct pkt *p)
{
	p->head = p->tail = PKT_HEADROOM;
}

static uint8_t *pkt_data(struct pkt *p)
{
	return p->b + p->head;
}

static size_t pkt_len(const struct pkt *p)
{
	return p->tail - p->head;
}

static uint8_t *pkt_push(struct pkt *p, size_t n)
{
	if (n > p->head)
		die("internal error: packet headroom exhausted");
	p->head -= n;
	return p->b + p->head;
}

static uint8_t *pkt_put(struct pkt *p, size_t n)
{
	if (n > PKT_ROOM - p->tail)
		die("internal error: packet too large");
	p->tail += n;
	return p->b + p->tail - n;
}

static void pkt_append(struct pkt *p, const void *d, size_t n)
{
	if (n)
		memcpy(pkt_put(p, n), d, n);
}

/* ---- checksums ---- */

struct addr {
	bool v6;
	uint8_t b[16];
};

struct ippair {
	const struct addr *src, *dst;
};

static size_t addr_len(const struct addr *a)
{
	return a->v6 ? 16 : 4;
}

static uint64_t csum_add(uint64_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t csum_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* TCP, UDP and ICMPv6 also cover a pseudo-header of the addresses, so a
 * segment delivered to the wrong host fails its check. The same sum works
 * for IPv4 (16-bit length) and IPv6 (32-bit length). */
static uint16_t l4_csum(const struct ippair *ip, uint8_t proto, const uint8_t *seg, size_t len)
{
	uint64_t acc = proto + (len >> 16) + (len & 0xffff);

	acc = csum_add(acc, ip->src->b, addr_len(ip->src));
	acc = csum_add(acc, ip->dst->b, addr_len(ip->dst));
	return csum_fold(csum_add(acc, seg, len));
}

/* ---- header builders: each prepends one header to what is in p ---- */

static void push_udp(struct pkt *p, const struct ippair *ip, uint16_t sport, uint16_t dport)
{
	size_t len = pkt_len(p) + 8;
	uint8_t *h = pkt_push(p, 8);

	put16(h, sport);
	put16(h + 2, dport);
	put16(h + 4, (uint16_t)len);
	put16(h + 6, 0);
	uint16_t c = l4_csum(ip, IPP_UDP, h, len);
	put16(h + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
}

struct tcpseg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt; /* multiple of 4 bytes */
	size_t optlen;
};

/* Recomputes the checksum of the TCP header at the front of p; separate so
 * that a deliberately mangled header can be made checksum-correct again. */
static void tcp_fix_csum(struct pkt *p, const struct ippair *ip)
{
	uint8_t *h = pkt_data(p);

	put16(h + 16, 0);
	put16(h + 16, l4_csum(ip, IPP_TCP, h, pkt_len(p)));
}

static void push_tcp(struct pkt *p, const struct ippair *ip, const struct tcpseg *s)
{
	size_t hl = 20 + s->optlen;
	uint8_t *h = pkt_push(p, hl);

	put16(h, s->sport);
	put16(h + 2, s->dport);
	put32(h + 4, s->seq);
	put32(h + 8, s->ack);
	h[12] = (uint8_t)(hl / 4 << 4);
	h[13] = s->flags;
	put16(h + 14, s->win);
	put32(h + 16, 0); /* checksum, urgent pointer */
	if (s->optlen)
		memcpy(h + 20, s->opt, s->optlen);
	tcp_fix_csum(p, ip);
}

/* ICMP echo and ICMPv6 echo share a layout; only ICMPv6 has a pseudo-header. */
static void push_icmp(struct pkt *p, const struct ippair *ip, uint8_t type, uint32_t rest)
{
	size_t len = pkt_len(p) + 8;
	uint8_t *h = pkt_push(p, 8);

	h[0] = type;
	h[1] = 0;
	put16(h + 2, 0);
	put32(h + 4, rest);
	put16(h + 2, ip->src->v6 ? l4_csum(ip, IPP_ICMPV6, h, len) : csum_fold(csum_add(0, h, len)));
}

static void push_ipv4(struct pkt *p, const struct ippair *ip, uint8_t proto, uint8_t ttl,
		      uint16_t id, uint16_t frag)
{
	size_t len = pkt_len(p) + 20;
	uint8_t *h = pkt_push(p, 20);

	h[0] = 0x45;
	h[1] = 0;
	put16(h + 2, (uint16_t)len);
	put16(h + 4, id);
	put16(h + 6, frag);
	h[8] = ttl;
	h[9] = proto;
	put16(h + 10, 0);
	memcpy(h + 12, ip->src->b, 4);
	memcpy(h + 16, ip->dst->b, 4);
	put16(h + 10, csum_fold(csum_add(0, h, 20)));
}

static void push_ipv6(struct pkt *p, const struct ippair *ip, uint8_t next, uint8_t hlim,
		      uint32_t flowlabel)
{
	size_t len = pkt_len(p);
	uint8_t *h = pkt_push(p, 40);

	put32(h, 6u << 28 | (flowlabel & 0xfffff));
	put16(h + 4, (uint16_t)len);
	h[6] = next;
	h[7] = hlim;
	memcpy(h + 8, ip->src->b, 16);
	memcpy(h + 24, ip->dst->b, 16);
}

/* Hop-by-hop and destination options share one format: options, then
 * Pad1/PadN up to a multiple of 8 bytes. */
static void push_ipv6_opts(struct pkt *p, uint8_t next, const uint8_t *opt, size_t optlen)
{
	size_t len = (2 + optlen + 7) / 8 * 8;
	size_t pad = len - 2 - optlen;
	uint8_t *h = pkt_push(p, len);

	h[0] = next;
	h[1] = (uint8_t)(len / 8 - 1);
	memcpy(h + 2, opt, optlen);
	memset(h + 2 + optlen, 0, pad);
	if (pad >= 2) {
		h[2 + optlen] = 1; /* PadN */
		h[3 + optlen] = (uint8_t)(pad - 2);
	}
}

static void push_ipv6_frag(struct pkt *p, uint8_t next, uint16_t off, bool more, uint32_t id)
{
	uint8_t *h = pkt_push(p, 8);

	h[0] = next;
	h[1] = 0;
	put16(h + 2, (uint16_t)((off & ~7u) | more));
	put32(h + 4, id);
}

static void push_gre(struct pkt *p, uint16_t ethertype)
{
	uint8_t *h = pkt_push(p, 4);

	put16(h, 0); /* no checksum, key or sequence number */
	put16(h + 2, ethertype);
}

static void push_vxlan(struct pkt *p, uint32_t vni)
{
	uint8_t *h = pkt_push(p, 8);

	put32(h, 0x08000000); /* I flag: the VNI is valid */
	put32(h + 4, vni << 8);
}

static void push_gtpu(struct pkt *p, uint32_t teid)
{
	size_t len = pkt_len(p);
	uint8_t *h = pkt_push(p, 8);

	h[0] = 0x30; /* version 1, protocol type GTP, no optional fields */
	h[1] = 0xff; /* G-PDU */
	put16(h + 2, (uint16_t)len);
	put32(h + 4, teid);
}

/* L2 shims take the ethertype of what they carry and return their own, so
 * they stack in any order before push_eth(). */
static uint16_t push_vlan(struct pkt *p, uint16_t tpid, uint16_t vid, uint16_t inner)
{
	uint8_t *h = pkt_push(p, 4);

	put16(h, vid & 0x0fff);
	put16(h + 2, inner);
	return tpid;
}

static uint16_t push_mpls(struct pkt *p, uint32_t label, bool bottom)
{
	put32(pkt_push(p, 4), label << 12 | (uint32_t)bottom << 8 | 64);
	return ET_MPLS;
}

static uint16_t push_pppoe(struct pkt *p, uint16_t session, uint16_t inner)
{
	size_t len = pkt_len(p) + 2;
	uint8_t *h = pkt_push(p, 8);

	h[0] = 0x11; /* version 1, type 1 */
	h[1] = 0;    /* session data */
	put16(h + 2, session);
	put16(h + 4, (uint16_t)len);
	put16(h + 6, inner == ET_IPV6 ? 0x0057 : 0x0021);
	return ET_PPPOE;
}

static void push_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	uint8_t *h = pkt_push(p, 14);

	memcpy(h, dst, 6);
	memcpy(h + 6, src, 6);
	put16(h + 12, type);
}

/* Frames shorter than the Ethernet minimum are padded by the sender's NIC;
 * a tap sees the padding (the FCS is not captured). */
static void pad_eth(struct pkt *p)
{
	size_t n = pkt_len(p) < 60 ? 60 - pkt_len(p) : 0;

	if (n)
		memset(pkt_put(p, n), 0, n);
}

/* ---- hosts and paths ---- */

enum tun { TUN_NONE, TUN_GRE, TUN_VXLAN, TUN_GTPU, TUN_6IN4 };
enum l2 { L2_ETH, L2_VLAN, L2_QINQ, L2_MPLS, L2_PPPOE };
enum path_id { P_LAN, P_VLAN7, P_QINQ, P_MPLS, P_PPPOE, P_GRE, P_VXLAN, P_GTPU, P_6IN4, P__COUNT };

struct path_def {
	enum tun tun;
	const char *end[2]; /* tunnel endpoints: client side, server side */
	uint32_t id[2];     /* VNI / TEID carried by each direction */
	enum l2 l2;
	uint32_t tag[2];    /* VLAN IDs (outer first), MPLS labels (top first), PPPoE session */
};

static const struct path_def path_defs[P__COUNT] = {
	[P_LAN]   = { .l2 = L2_ETH },
	[P_VLAN7] = { .l2 = L2_VLAN, .tag = { 7 } },
	/* provider S-tag 100 carrying customer VLAN 7 */
	[P_QINQ]  = { .l2 = L2_QINQ, .tag = { 100, 7 } },
	/* transport label, then VPN label: a capture on a provider core link */
	[P_MPLS]  = { .l2 = L2_MPLS, .tag = { 16005, 24017 } },
	[P_PPPOE] = { .l2 = L2_PPPOE, .tag = { 0x1a2b } },
	[P_GRE]   = { .tun = TUN_GRE, .end = { "10.1.0.250", "198.51.100.250" } },
	[P_VXLAN] = { .tun = TUN_VXLAN, .end = { "10.1.0.251", "10.1.0.252" }, .id = { 5001, 5001 } },
	/* uplink and downlink use the TEID the receiving end allocated */
	[P_GTPU]  = { .tun = TUN_GTPU, .end = { "10.1.0.240", "198.51.100.240" },
		      .id = { 0x1f2e3d4c, 0x00c0ffee } },
	[P_6IN4]  = { .tun = TUN_6IN4, .end = { "10.1.0.66", "198.51.100.66" } },
};

enum {
	H_CLIENT = 1,  /* takes part in the background mix */
	H_HEAVY  = 2,  /* makes the bulk downloads */
	H_ROUTED = 4,  /* behind the router: frames carry the router's MAC */
	H_WEB    = 8,  /* serves HTTP and HTTPS */
	H_V6EXT  = 16, /* its stack adds hop-by-hop and destination options */
};

struct host_def {
	const char *ip, *name;
	uint8_t ttl; /* as seen at the tap: initial TTL less the hops on the way */
	enum path_id path;
	uint8_t flags;
};

static const struct host_def host_defs[] = {
	/* infrastructure on the tapped LAN */
	{ "10.1.0.1", NULL, 64, P_LAN, H_ROUTED },
	{ "10.1.0.2", NULL, 64, P_LAN, 0 },
	{ "192.168.7.1", NULL, 64, P_VLAN7, H_ROUTED },
	{ "2001:db8::1", NULL, 64, P_LAN, H_ROUTED },
	{ "2001:db8::53", NULL, 64, P_LAN, 0 },
	/* clients: Linux stacks start at TTL 64, Windows ones at 128 */
	{ "10.1.0.11", NULL, 64, P_LAN, H_CLIENT },
	{ "10.1.0.12", NULL, 128, P_LAN, H_CLIENT },
	{ "10.1.0.13", NULL, 64, P_LAN, H_CLIENT },
	{ "10.1.0.14", NULL, 128, P_LAN, H_CLIENT },
	{ "10.1.0.23", NULL, 64, P_LAN, H_CLIENT | H_HEAVY },
	{ "192.168.7.20", NULL, 64, P_VLAN7, H_CLIENT },
	{ "192.168.7.21", NULL, 128, P_VLAN7, H_CLIENT },
	{ "192.168.7.22", NULL, 64, P_VLAN7, H_CLIENT },
	{ "192.168.7.35", NULL, 128, P_VLAN7, H_CLIENT },
	{ "2001:db8::11", NULL, 64, P_LAN, H_CLIENT },
	{ "2001:db8::12", NULL, 128, P_LAN, H_CLIENT },
	{ "2001:db8::13", NULL, 64, P_LAN, H_CLIENT },
	{ "2001:db8::42", NULL, 64, P_LAN, H_CLIENT | H_HEAVY },
	/* one host per encapsulation, used by the scenario's feature list */
	{ "192.168.7.80", NULL, 64, P_QINQ, 0 },
	{ "10.1.0.80", NULL, 64, P_MPLS, 0 },
	{ "10.1.0.90", NULL, 128, P_PPPOE, 0 },
	{ "192.168.7.60", NULL, 64, P_GRE, 0 },
	{ "10.1.0.70", NULL, 64, P_VXLAN, 0 },
	{ "10.1.0.150", NULL, 64, P_GTPU, 0 },
	{ "2001:db8::66", NULL, 64, P_6IN4, 0 },
	{ "2001:db8::77", NULL, 64, P_LAN, H_V6EXT },
	/* tunnel endpoints */
	{ "10.1.0.250", NULL, 255, P_LAN, 0 },
	{ "198.51.100.250", NULL, 250, P_LAN, H_ROUTED },
	{ "10.1.0.251", NULL, 64, P_LAN, 0 },
	{ "10.1.0.252", NULL, 64, P_LAN, 0 },
	{ "10.1.0.240", NULL, 64, P_LAN, 0 },
	{ "198.51.100.240", NULL, 60, P_LAN, H_ROUTED },
	{ "10.1.0.66", NULL, 64, P_LAN, 0 },
	{ "198.51.100.66", NULL, 57, P_LAN, H_ROUTED },
	/* servers */
	{ "203.0.113.10", "www.example.com", 56, P_LAN, H_ROUTED | H_WEB },
	{ "2001:db8:100::10", "www.example.com", 56, P_LAN, H_ROUTED | H_WEB },
	{ "203.0.113.20", "api.example.com", 52, P_LAN, H_ROUTED | H_WEB },
	{ "2001:db8:100::20", "api.example.com", 52, P_LAN, H_ROUTED | H_WEB },
	{ "198.51.100.30", "cdn.example.net", 58, P_LAN, H_ROUTED | H_WEB },
	{ "2001:db8:200::30", "cdn.example.net", 58, P_LAN, H_ROUTED | H_WEB },
	{ "203.0.113.43", "login.example.com", 49, P_LAN, H_ROUTED | H_WEB },
	{ "2001:db8:100::43", "login.example.com", 49, P_LAN, H_ROUTED | H_WEB },
	{ "198.51.100.80", "mirror.example.org", 55, P_LAN, H_ROUTED },
	{ "2001:db8:200::80", "mirror.example.org", 55, P_LAN, H_ROUTED },
	{ "198.51.100.123", "ntp.example.org", 54, P_LAN, H_ROUTED },
	{ "2001:db8:200::123", "ntp.example.org", 54, P_LAN, H_ROUTED },
};

#define N_HOSTS ARRAY_SIZE(host_defs)

struct path;

struct host {
	struct addr a;
	uint8_t mac[6];
	const char *name;
	const struct path *path;
	uint8_t ttl, flags;
	uint16_t ipid;
};

struct path {
	const struct path_def *def;
	struct host *end[2];
};

/* ---- generator state and the packet store ---- */

struct rec {
	uint64_t ts;  /* us since the Unix epoch */
	uint64_t off; /* into gen.bytes */
	uint32_t seq; /* generation order: breaks timestamp ties stably */
	uint32_t caplen, len;
};

struct gen {
	struct rng rng;
	uint64_t t0, span; /* us */
	size_t limit;      /* packets */
	uint32_t snaplen;  /* non-zero: records are cut as by a short-snaplen capture */
	struct rec *recs;
	size_t nrec, caprec;
	uint8_t *bytes;
	size_t nbytes, capbytes;
	struct path paths[P__COUNT];
	struct host hosts[N_HOSTS];
};

static bool gen_full(const struct gen *g)
{
	return g->nrec >= g->limit;
}

/* Packets past the limit or the end of the capture are dropped silently:
 * a session cut short reads like a capture that stopped. */
static void emit(struct gen *g, uint64_t t, struct pkt *p)
{
	size_t len = pkt_len(p);
	size_t cap = g->snaplen ? min_sz(len, g->snaplen) : len;

	if (gen_full(g) || t >= g->t0 + g->span)
		return;
	if (g->nrec == g->caprec) {
		g->caprec = g->caprec ? g->caprec * 2 : 4096;
		g->recs = xrealloc(g->recs, g->caprec * sizeof(*g->recs));
	}
	while (g->nbytes + cap > g->capbytes) {
		g->capbytes = g->capbytes ? g->capbytes * 2 : 1 << 20;
		g->bytes = xrealloc(g->bytes, g->capbytes);
	}
	memcpy(g->bytes + g->nbytes, pkt_data(p), cap);
	g->recs[g->nrec] = (struct rec){ t, g->nbytes, (uint32_t)g->nrec, (uint32_t)cap, (uint32_t)len };
	g->nrec++;
	g->nbytes += cap;
}

static void addr_parse(struct addr *a, const char *ip)
{
	*a = (struct addr){ .v6 = strchr(ip, ':') != NULL };
	if (inet_pton(a->v6 ? AF_INET6 : AF_INET, ip, a->b) != 1)
		die("internal error: bad address %s", ip);
}

static struct host *host_at(struct gen *g, const char *ip)
{
	struct addr a;

	addr_parse(&a, ip);
	for (size_t i = 0; i < N_HOSTS; i++)
		if (g->hosts[i].a.v6 == a.v6 && !memcmp(g->hosts[i].a.b, a.b, 16))
			return &g->hosts[i];
	die("internal error: no host %s", ip);
}

static struct host *host_by_name(struct gen *g, const char *name, bool v6)
{
	for (size_t i = 0; i < N_HOSTS; i++) {
		struct host *h = &g->hosts[i];

		if (h->name && h->a.v6 == v6 && !strcmp(h->name, name))
			return h;
	}
	return NULL;
}

/* Uniform pick among the hosts with all of `flags`, of one family unless
 * any_family. */
static struct host *pick_host(struct gen *g, uint8_t flags, bool v6, bool any_family)
{
	struct host *c[N_HOSTS];
	size_t n = 0;

	for (size_t i = 0; i < N_HOSTS; i++) {
		struct host *h = &g->hosts[i];

		if ((h->flags & flags) == flags && (any_family || h->a.v6 == v6))
			c[n++] = h;
	}
	if (!n)
		die("internal error: no host with flags %#x", flags);
	return c[rng_below(&g->rng, (uint32_t)n)];
}

/* Each segment has its own router and resolver; 192.168.7.0/24 is VLAN 7. */
static struct host *gateway_of(struct gen *g, const struct host *h)
{
	if (h->a.v6)
		return host_at(g, "2001:db8::1");
	return host_at(g, h->a.b[0] == 192 ? "192.168.7.1" : "10.1.0.1");
}

static struct host *resolver_of(struct gen *g, const struct host *h)
{
	if (h->a.v6)
		return host_at(g, "2001:db8::53");
	return host_at(g, h->a.b[0] == 192 ? "192.168.7.1" : "10.1.0.2");
}

/* Stable per-address MACs from a few real-looking OUIs. */
static void host_mac(struct host *h)
{
	static const uint8_t router[6] = { 0x00, 0x00, 0x5e, 0x00, 0x01, 0x07 }; /* VRRP */
	static const uint8_t ouis[][3] = { { 0x3c, 0xfd, 0xfe }, { 0x52, 0x54, 0x00 },
					   { 0x00, 0x1b, 0x21 }, { 0xf4, 0x8e, 0x38 } };
	uint32_t x = 2166136261u; /* FNV-1a */

	if (h->flags & H_ROUTED) {
		memcpy(h->mac, router, 6);
		return;
	}
	for (size_t i = 0; i < 16; i++)
		x = (x ^ h->a.b[i]) * 16777619u;
	memcpy(h->mac, ouis[x & 3], 3);
	h->mac[3] = (uint8_t)(x >> 8);
	h->mac[4] = (uint8_t)(x >> 16);
	h->mac[5] = (uint8_t)(x >> 24);
}

static void gen_init(struct gen *g, uint64_t seed, uint64_t start, uint64_t duration, size_t limit)
{
	*g = (struct gen){ .t0 = start * US, .span = duration * US, .limit = limit };
	rng_seed(&g->rng, seed);
	for (size_t i = 0; i < N_HOSTS; i++) {
		const struct host_def *d = &host_defs[i];
		struct host *h = &g->hosts[i];

		addr_parse(&h->a, d->ip);
		h->name = d->name;
		h->ttl = d->ttl;
		h->flags = d->flags;
		h->path = &g->paths[d->path];
		h->ipid = (uint16_t)rng_u32(&g->rng);
		host_mac(h);
	}
	for (size_t i = 0; i < P__COUNT; i++) {
		g->paths[i].def = &path_defs[i];
		for (int e = 0; e < 2; e++)
			if (path_defs[i].end[e])
				g->paths[i].end[e] = host_at(g, path_defs[i].end[e]);
	}
}

/* Bytes a path takes from the 1500-byte MTU; TCP clamps its MSS by it. */
static size_t path_overhead(const struct path *pa)
{
	static const size_t tun[] = { [TUN_NONE] = 0, [TUN_GRE] = 24, [TUN_VXLAN] = 50,
				      [TUN_GTPU] = 36, [TUN_6IN4] = 20 };

	return tun[pa->def->tun] + (pa->def->l2 == L2_PPPOE ? 8 : 0);
}

static void l2_wrap(const struct path *pa, struct pkt *p, uint16_t type,
		    const uint8_t src[6], const uint8_t dst[6])
{
	const struct path_def *d = pa->def;

	switch (d->l2) {
	case L2_ETH:
		break;
	case L2_VLAN:
		type = push_vlan(p, ET_VLAN, (uint16_t)d->tag[0], type);
		break;
	case L2_QINQ:
		type = push_vlan(p, ET_VLAN, (uint16_t)d->tag[1], type);
		type = push_vlan(p, ET_QINQ, (uint16_t)d->tag[0], type);
		break;
	case L2_MPLS:
		push_mpls(p, d->tag[1], true);
		type = push_mpls(p, d->tag[0], false);
		break;
	case L2_PPPOE:
		type = push_pppoe(p, (uint16_t)d->tag[0], type);
		break;
	}
	push_eth(p, dst, src, type);
	pad_eth(p);
}

/* ---- flows ---- */

struct flow {
	struct gen *g;
	struct host *h[2];   /* sender of each direction: [C2S] is the client */
	uint16_t port[2];    /* source port of each direction */
	uint32_t seq[2];     /* next TCP sequence number of each side */
	uint32_t cwnd[2];    /* segments a side sends before it waits for acks */
	uint64_t t;          /* event time of the flow's latest packet, us */
	uint32_t rtt;        /* us, as seen from the tap next to the clients */
	uint16_t mss;
	uint32_t flowlabel;
	int last;            /* direction of the latest packet */
};

struct ipfrag {
	uint32_t id;
	uint16_t off; /* bytes */
	bool more;
};

static uint16_t ephemeral_port(struct gen *g)
{
	return (uint16_t)rng_range(&g->rng, 32768, 60999); /* Linux's default range */
}

static void flow_init(struct flow *f, struct gen *g, struct host *cli, struct host *srv,
		      uint16_t sport, uint16_t dport, uint64_t t)
{
	struct rng *r = &g->rng;

	*f = (struct flow){ .g = g, .h = { cli, srv }, .port = { sport, dport }, .t = t,
			    .cwnd = { 10, 10 }, .last = C2S };
	f->seq[C2S] = rng_u32(r);
	f->seq[S2C] = rng_u32(r);
	f->rtt = srv->flags & H_ROUTED ? rng_range(r, 8000, 60000) : rng_range(r, 150, 900);
	f->mss = (uint16_t)(LINK_MTU - path_overhead(cli->path) - (cli->a.v6 ? 40 : 20) - 20);
	f->flowlabel = cli->a.v6 ? rng_u32(r) & 0xfffff : 0;
}

static struct ippair flow_ips(const struct flow *f, int dir)
{
	return (struct ippair){ &f->h[dir]->a, &f->h[!dir]->a };
}

/* Moves the flow clock to the next packet of `dir`. The tap sits next to
 * the clients: a server's answer shows up a round trip (plus its think
 * time) after the request, a client's reaction almost at once. */
static void flow_turn(struct flow *f, int dir)
{
	struct rng *r = &f->g->rng;

	if (dir == f->last)
		return;
	/* a client's reaction comes after its own delayed ack (<= 60 us) */
	f->t += dir == S2C ? f->rtt + rng_range(r, 50, 2000) : rng_range(r, 80, 400);
	f->last = dir;
}

/* Serialisation time of n payload bytes at 100 Mbit/s. */
static uint64_t wire_us(size_t n)
{
	return (n + 78) * 8 / 100 + 1;
}

static void flow_ip(struct flow *f, int dir, struct pkt *p, uint8_t proto, const struct ipfrag *fr)
{
	/* experimental option 0x1e (RFC 4727): "skip if unknown", so harmless */
	static const uint8_t hbh[] = { 0x1e, 4, 'w', 'e', 'i', 'r' };
	static const uint8_t dst[] = { 0x1e, 2, 0x00, 0x07 };
	struct host *s = f->h[dir];
	struct ippair ip = flow_ips(f, dir);

	if (!s->a.v6) {
		uint16_t frag = fr ? (uint16_t)((fr->more ? IP_MF : 0) | fr->off / 8) : IP_DF;

		push_ipv4(p, &ip, proto, s->ttl, fr ? (uint16_t)fr->id : s->ipid++, frag);
		return;
	}
	if (fr) {
		push_ipv6_frag(p, proto, fr->off, fr->more, fr->id);
		proto = IPP_FRAG;
	}
	if (s->flags & H_V6EXT) {
		push_ipv6_opts(p, proto, dst, sizeof(dst));
		push_ipv6_opts(p, IPP_DSTOPTS, hbh, sizeof(hbh));
		proto = IPP_HOPOPTS;
	}
	push_ipv6(p, &ip, proto, s->ttl, f->flowlabel);
}

/* Outer headers of the flow's tunnel, if any; updates *type to the
 * ethertype of what the L2 header will carry. Every tunnel here has IPv4
 * endpoints (6in4 must; the others just do in this scenario). */
static void tun_wrap(struct flow *f, int dir, struct pkt *p, uint16_t *type)
{
	const struct path *pa = f->h[C2S]->path;
	const struct path_def *d = pa->def;
	struct host *s = pa->end[dir];
	struct ippair ip;
	uint8_t proto = IPP_UDP;

	if (d->tun == TUN_NONE)
		return;
	ip = (struct ippair){ &s->a, &pa->end[!dir]->a };
	switch (d->tun) {
	case TUN_NONE:
		return;
	case TUN_GRE:
		push_gre(p, *type);
		proto = IPP_GRE;
		break;
	case TUN_6IN4:
		proto = IPP_IPV6;
		break;
	case TUN_VXLAN:
		push_eth(p, f->h[!dir]->mac, f->h[dir]->mac, *type);
		push_vxlan(p, d->id[dir]);
		/* source port from a hash of the inner flow, for ECMP entropy */
		push_udp(p, &ip, (uint16_t)(0xc000 | ((f->port[0] ^ f->port[1]) * 40503u >> 2 & 0x3fff)),
			 4789);
		break;
	case TUN_GTPU:
		push_gtpu(p, d->id[dir]);
		push_udp(p, &ip, 2152, 2152);
		break;
	}
	push_ipv4(p, &ip, proto, s->ttl, s->ipid++, IP_DF);
	*type = ET_IPV4;
}

static void flow_wrap(struct flow *f, int dir, struct pkt *p)
{
	const struct path *pa = f->h[C2S]->path;
	uint16_t type = f->h[dir]->a.v6 ? ET_IPV6 : ET_IPV4;
	const struct host *src = pa->end[dir] ? pa->end[dir] : f->h[dir];
	const struct host *dst = pa->end[!dir] ? pa->end[!dir] : f->h[!dir];

	tun_wrap(f, dir, p, &type);
	l2_wrap(pa, p, type, src->mac, dst->mac);
}

static void flow_send(struct flow *f, int dir, struct pkt *p, uint8_t proto, uint64_t t)
{
	flow_ip(f, dir, p, proto, NULL);
	flow_wrap(f, dir, p);
	emit(f->g, t, p);
}

/* Room for L4 bytes in one unfragmented IP packet that `dir` sends. */
static size_t flow_l3_room(const struct flow *f, int dir)
{
	const struct host *s = f->h[dir];
	size_t ip = s->a.v6 ? 40 + (s->flags & H_V6EXT ? 16 : 0) : 20;

	return LINK_MTU - path_overhead(f->h[C2S]->path) - ip;
}

static void flow_send_frags(struct flow *f, int dir, struct pkt *l4, uint8_t proto)
{
	bool v6 = f->h[dir]->a.v6;
	/* fragment payloads are multiples of 8 bytes, bar the last */
	size_t room = (flow_l3_room(f, dir) - (v6 ? 8 : 0)) & ~(size_t)7;
	struct ipfrag fr = { .id = v6 ? rng_u32(&f->g->rng) : f->h[dir]->ipid++ };
	size_t len = pkt_len(l4);

	for (size_t off = 0, n; off < len; off += n) {
		struct pkt q;

		n = min_sz(len - off, room);
		pkt_init(&q);
		pkt_append(&q, pkt_data(l4) + off, n);
		fr.off = (uint16_t)off;
		fr.more = off + n < len;
		flow_ip(f, dir, &q, proto, &fr);
		flow_wrap(f, dir, &q);
		emit(f->g, f->t, &q);
		f->t += wire_us(n);
	}
}

/* ---- UDP and TCP over a flow ---- */

static void udp_send(struct flow *f, int dir, const uint8_t *d, size_t n)
{
	struct pkt p;
	struct ippair ip = flow_ips(f, dir);

	flow_turn(f, dir);
	pkt_init(&p);
	pkt_append(&p, d, n);
	push_udp(&p, &ip, f->port[dir], f->port[!dir]);
	if (pkt_len(&p) > flow_l3_room(f, dir)) {
		flow_send_frags(f, dir, &p, IPP_UDP);
		return;
	}
	flow_send(f, dir, &p, IPP_UDP, f->t);
	f->t += wire_us(n);
}

static void tcp_build(struct flow *f, int dir, struct pkt *p, uint8_t flags,
		      const uint8_t *opt, size_t optlen)
{
	struct ippair ip = flow_ips(f, dir);
	size_t len = pkt_len(p);
	/* Linux initial windows in SYNs, then scaled ones (window scale 7) */
	uint16_t win = flags & TH_SYN ? (dir == C2S ? 64240 : 65160) : (dir == C2S ? 502 : 509);
	struct tcpseg s = { f->port[dir], f->port[!dir], f->seq[dir],
			    flags & TH_ACK ? f->seq[!dir] : 0, flags, win, opt, optlen };

	push_tcp(p, &ip, &s);
	f->seq[dir] += (uint32_t)len + !!(flags & (TH_SYN | TH_FIN));
}

static void tcp_seg(struct flow *f, int dir, uint8_t flags, const uint8_t *d, size_t n, uint64_t t)
{
	struct pkt p;

	pkt_init(&p);
	pkt_append(&p, d, n);
	tcp_build(f, dir, &p, flags, NULL, 0);
	flow_send(f, dir, &p, IPP_TCP, t);
}

static void tcp_syn(struct flow *f, int dir, uint8_t flags)
{
	/* MSS, NOP, window scale 7, NOP, NOP, SACK permitted */
	uint8_t opt[12] = { 2, 4, (uint8_t)(f->mss >> 8), (uint8_t)f->mss, 1, 3, 3, 7, 1, 1, 4, 2 };
	struct pkt p;

	flow_turn(f, dir);
	pkt_init(&p);
	tcp_build(f, dir, &p, flags, opt, sizeof(opt));
	flow_send(f, dir, &p, IPP_TCP, f->t);
}

static void tcp_open(struct flow *f)
{
	tcp_syn(f, C2S, TH_SYN);
	tcp_syn(f, S2C, TH_SYN | TH_ACK);
	flow_turn(f, C2S);
	tcp_seg(f, C2S, TH_ACK, NULL, 0, f->t);
	f->t += rng_range(&f->g->rng, 5, 60);
}

/* Sends len bytes as MSS-sized segments under a slow-start window; the
 * receiver acks every second segment, and the client also acks the end of
 * what the server sent (nothing else would carry that ack soon). */
static void tcp_send(struct flow *f, int dir, const uint8_t *d, size_t len)
{
	struct rng *r = &f->g->rng;
	uint32_t inflight = 0;

	flow_turn(f, dir);
	for (size_t off = 0, n; off < len; off += n) {
		n = min_sz(len - off, f->mss);
		if (inflight == f->cwnd[dir]) {
			f->t += f->rtt;
			inflight = 0;
			f->cwnd[dir] = f->cwnd[dir] < 256 ? f->cwnd[dir] * 2 : f->cwnd[dir];
		}
		tcp_seg(f, dir, TH_ACK | (off + n == len ? TH_PSH : 0), d + off, n, f->t);
		inflight++;
		if (inflight % 2 == 0 || (dir == S2C && off + n == len)) {
			uint64_t delay = dir == S2C ? rng_range(r, 15, 60) : f->rtt;

			tcp_seg(f, !dir, TH_ACK, NULL, 0, f->t + delay);
		}
		f->t += wire_us(n);
	}
}

/* Browsers often drop idle connections with a reset instead of a FIN. */
static void tcp_close(struct flow *f)
{
	struct rng *r = &f->g->rng;

	f->t += rng_range(r, 200, 30000);
	f->last = C2S;
	if (rng_chance(r, 10)) {
		tcp_seg(f, C2S, TH_RST | TH_ACK, NULL, 0, f->t);
		return;
	}
	tcp_seg(f, C2S, TH_FIN | TH_ACK, NULL, 0, f->t);
	flow_turn(f, S2C);
	tcp_seg(f, S2C, TH_FIN | TH_ACK, NULL, 0, f->t);
	flow_turn(f, C2S);
	tcp_seg(f, C2S, TH_ACK, NULL, 0, f->t);
}

/* ---- DNS ---- */

enum { DNS_A = 1, DNS_TXT = 16, DNS_AAAA = 28, DNS_OPT = 41 };

static void dns_header(struct wbuf *w, uint16_t id, uint16_t flags, uint16_t an, uint16_t ar)
{
	w_u16(w, id);
	w_u16(w, flags);
	w_u16(w, 1); /* one question */
	w_u16(w, an);
	w_u16(w, 0);
	w_u16(w, ar);
}

static void dns_question(struct wbuf *w, const char *name, uint16_t qtype)
{
	for (const char *l = name; *l;) {
		size_t n = strcspn(l, ".");

		w_u8(w, (uint8_t)n);
		w_mem(w, l, n);
		l += n + (l[n] == '.');
	}
	w_u8(w, 0);
	w_u16(w, qtype);
	w_u16(w, 1); /* IN */
}

/* An answer whose owner is the question's name (compression pointer 12). */
static void dns_rr(struct wbuf *w, uint16_t type, uint32_t ttl, const void *rdata, uint16_t rdlen)
{
	w_u16(w, 0xc00c);
	w_u16(w, type);
	w_u16(w, 1);
	w_u32(w, ttl);
	w_u16(w, rdlen);
	w_mem(w, rdata, rdlen);
}

/* EDNS(0) pseudo-record advertising a 4096-byte UDP payload. */
static void dns_opt(struct wbuf *w)
{
	w_u8(w, 0);
	w_u16(w, DNS_OPT);
	w_u16(w, 4096);
	w_u32(w, 0);
	w_u16(w, 0);
}

/* A or AAAA answer from the host table; unknown names get NXDOMAIN. */
static void dns_answer(struct gen *g, struct wbuf *w, uint16_t id, const char *name, uint16_t qtype)
{
	const struct host *h = host_by_name(g, name, qtype == DNS_AAAA);
	uint16_t rcode = h || host_by_name(g, name, qtype != DNS_AAAA) ? 0 : 3;

	dns_header(w, id, 0x8180 | rcode, h ? 1 : 0, 0);
	dns_question(w, name, qtype);
	if (h)
		dns_rr(w, qtype, rng_range(&g->rng, 30, 3600), h->a.b, (uint16_t)addr_len(&h->a));
}

static struct flow dns_flow(struct gen *g, struct host *cli, uint64_t t)
{
	struct flow f;

	flow_init(&f, g, cli, resolver_of(g, cli), ephemeral_port(g), 53, t);
	return f;
}

static void dns_exchange(struct flow *f, const char *name, uint16_t qtype)
{
	struct wbuf w = { 0 };
	uint16_t id = (uint16_t)rng_u32(&f->g->rng);

	dns_header(&w, id, 0x0100, 0, 0); /* recursion desired */
	dns_question(&w, name, qtype);
	udp_send(f, C2S, w.b, w.n);
	w.n = 0;
	dns_answer(f->g, &w, id, name, qtype);
	udp_send(f, S2C, w.b, w.n);
	w_free(&w);
}

/* A stub resolver asks for A and AAAA at once from one socket; returns the
 * time the answers are in. */
static uint64_t dns_lookup(struct gen *g, struct host *cli, const char *name, uint64_t t)
{
	struct flow f = dns_flow(g, cli, t);

	dns_exchange(&f, name, DNS_A);
	f.t += rng_range(&g->rng, 20, 200);
	f.last = C2S;
	dns_exchange(&f, name, DNS_AAAA);
	return f.t + rng_range(&g->rng, 100, 800);
}

/* Names are cached for a while: only some connections start with a lookup. */
static uint64_t maybe_lookup(struct gen *g, struct host *cli, const char *name, uint64_t t)
{
	return rng_chance(&g->rng, 60) ? dns_lookup(g, cli, name, t) : t;
}

/* ---- HTTP ---- */

enum body { BODY_HTML, BODY_TEXT, BODY_JSON, BODY_BIN };

struct resource {
	const char *path, *type;
	enum body body;
	uint16_t min, max; /* body size */
};

static const struct resource resources[] = {
	{ "/", "text/html; charset=utf-8", BODY_HTML, 600, 2000 },
	{ "/news/2023/11/index.html", "text/html; charset=utf-8", BODY_HTML, 900, 2600 },
	{ "/static/app.js", "application/javascript", BODY_TEXT, 400, 1600 },
	{ "/static/site.css", "text/css", BODY_TEXT, 300, 1000 },
	{ "/img/logo.webp", "image/webp", BODY_BIN, 300, 1400 },
	{ "/favicon.ico", "image/x-icon", BODY_BIN, 318, 1150 },
	{ "/api/v1/status", "application/json", BODY_JSON, 60, 400 },
};

static const char *const words[] = {
	"packet", "window", "latency", "router", "switch", "stream", "capture", "protocol",
	"network", "analytics", "traffic", "bandwidth", "session", "gateway", "buffer",
	"the", "of", "and", "a", "to", "in", "is", "for", "on", "with", "as", "by", "at",
	"measured", "observed", "weekly", "report", "update", "release", "notes", "service",
};

static void body_words(struct wbuf *w, struct rng *r, size_t until)
{
	for (unsigned i = 1; w->n < until; i++) {
		w_str(w, words[rng_below(r, ARRAY_SIZE(words))]);
		w_u8(w, i % 12 ? ' ' : '\n');
	}
}

/* One draw per statement (see the determinism rule at the top). */
static void json_item(struct wbuf *w, struct rng *r, bool first)
{
	unsigned id = rng_below(r, 100000);
	const char *name = words[rng_below(r, ARRAY_SIZE(words))];
	unsigned score = rng_below(r, 1000);

	w_fmt(w, "%s{\"id\":%u,\"name\":\"%s\",\"score\":%u}", first ? "" : ",", id, name, score);
}

/* Appends a body of about n bytes; JSON stays valid, so it may run over. */
static void body_fill(struct wbuf *w, struct rng *r, enum body kind, size_t n)
{
	static const char html_head[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
					"<title>Example</title></head>\n<body>\n<p>";
	static const char html_tail[] = "</p>\n</body></html>\n";
	size_t end = w->n + n;

	switch (kind) {
	case BODY_HTML:
		w_str(w, html_head);
		body_words(w, r, end > sizeof(html_tail) ? end - sizeof(html_tail) : 0);
		w_str(w, html_tail);
		break;
	case BODY_TEXT:
		body_words(w, r, end);
		break;
	case BODY_JSON:
		w_str(w, "{\"status\":\"ok\",\"items\":[");
		for (bool first = true; w->n < end; first = false)
			json_item(w, r, first);
		w_str(w, "]}");
		break;
	case BODY_BIN:
		w_rand(w, r, n);
		break;
	}
}

static const char *user_agent(struct rng *r, const struct host *cli)
{
	static const char *const linux_ua[] = {
		"Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/119.0",
		"curl/7.88.1",
	};
	static const char *const windows_ua[] = {
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
		"Chrome/119.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
		"Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
	};

	if (cli->ttl > 64)
		return windows_ua[rng_below(r, 2)];
	return linux_ua[rng_chance(r, 15)];
}

static void http_request(struct wbuf *w, const char *method, const char *path, const char *host,
			 const char *ua, const struct wbuf *body)
{
	w_fmt(w, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", method, path, host, ua);
	w_str(w, "Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
		 "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n");
	if (body)
		w_fmt(w, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body->n);
	else
		w_str(w, "\r\n");
	if (body)
		w_mem(w, body->b, body->n);
}

static void http_date(char *buf, size_t n, uint64_t t_us)
{
	time_t s = (time_t)(t_us / US);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm); /* C locale: never set */
}

static const char *status_text(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 304: return "Not Modified";
	default: return "Not Found";
	}
}

static void http_response(struct wbuf *w, uint64_t t, unsigned status, const char *server,
			  const char *type, const struct wbuf *body)
{
	char date[64];

	http_date(date, sizeof(date), t);
	w_fmt(w, "HTTP/1.1 %u %s\r\nDate: %s\r\nServer: %s\r\n", status, status_text(status),
	      date, server);
	if (status == 304) {
		w_str(w, "ETag: \"6553f1a0-2b1\"\r\nConnection: keep-alive\r\n\r\n");
		return;
	}
	w_fmt(w, "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n"
		 "Cache-Control: max-age=300\r\n\r\n", type, body->n);
	w_mem(w, body->b, body->n);
}

/* One request and its response on an open connection. */
static void http_exchange(struct flow *f, const char *host)
{
	static const char notfound[] = "<html>\r\n<head><title>404 Not Found</title></head>\r\n"
				       "<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
				       "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
	struct rng *r = &f->g->rng;
	const struct resource *res = &resources[rng_below(r, ARRAY_SIZE(resources))];
	struct wbuf req = { 0 }, resp = { 0 }, body = { 0 };
	const char *ua = user_agent(r, f->h[C2S]);
	unsigned roll = rng_below(r, 100), status;

	if (!strcmp(host, "api.example.com") && roll < 40) {
		w_fmt(&body, "{\"event\":\"page_view\",\"ts\":%" PRIu64 ",\"session\":\"%016" PRIx64 "\"}",
		      (uint64_t)(f->t / US), rng_next(r));
		http_request(&req, "POST", "/api/v1/events", host, ua, &body);
		body.n = 0;
		w_fmt(&body, "{\"id\":%u,\"accepted\":true}", rng_u32(r));
		res = &resources[ARRAY_SIZE(resources) - 1];
		status = 201;
	} else {
		http_request(&req, "GET", res->path, host, ua, NULL);
		status = roll < 85 ? 200 : roll < 95 ? 304 : 404;
		if (status == 200)
			body_fill(&body, r, res->body, rng_range(r, res->min, res->max));
		else
			w_str(&body, notfound);
	}
	tcp_send(f, C2S, req.b, req.n);
	http_response(&resp, f->t, status, "nginx/1.22.1",
		      status == 404 ? "text/html" : res->type, &body);
	tcp_send(f, S2C, resp.b, resp.n);
	w_free(&req);
	w_free(&resp);
	w_free(&body);
}

/* ---- TLS 1.3 handshake records (the rest is opaque application data) ---- */

enum { TLS_CCS = 20, TLS_HANDSHAKE = 22, TLS_APPDATA = 23 };

static size_t tls_record(struct wbuf *w, uint8_t type, uint16_t version)
{
	w_u8(w, type);
	w_u16(w, version);
	return w_mark(w, 2);
}

static size_t tls_ext(struct wbuf *w, uint16_t type)
{
	w_u16(w, type);
	return w_mark(w, 2);
}

static void tls_sni(struct wbuf *w, const char *name)
{
	size_t e = tls_ext(w, 0), list = w_mark(w, 2);

	w_u8(w, 0); /* host_name */
	w_u16(w, (uint16_t)strlen(name));
	w_str(w, name);
	w_end(w, list, 2);
	w_end(w, e, 2);
}

/* An extension whose body is a length-prefixed list of 16-bit values. */
static void tls_ext_list16(struct wbuf *w, uint16_t type, size_t lenwidth, const uint16_t *v, size_t n)
{
	size_t e = tls_ext(w, type), list = w_mark(w, lenwidth);

	for (size_t i = 0; i < n; i++)
		w_u16(w, v[i]);
	w_end(w, list, lenwidth);
	w_end(w, e, 2);
}

static void tls_key_share(struct wbuf *w, struct rng *r, bool client)
{
	size_t e = tls_ext(w, 51), list = client ? w_mark(w, 2) : 0;

	w_u16(w, 0x001d); /* x25519 */
	w_u16(w, 32);
	w_rand(w, r, 32);
	if (client)
		w_end(w, list, 2);
	w_end(w, e, 2);
}

static void tls_client_hello(struct wbuf *w, struct rng *r, const char *sni)
{
	static const uint16_t suites[] = { 0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9,
					   0xcca8, 0xc02c, 0xc030, 0xc013, 0xc014, 0x009c,
					   0x009d, 0x002f, 0x0035 };
	static const uint16_t groups[] = { 0x001d, 0x0017, 0x0018 };
	static const uint16_t sigalgs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501,
					    0x0806, 0x0601 };
	static const uint16_t versions[] = { 0x0304, 0x0303 };
	static const uint8_t tail[] = { 0, 11, 0, 2, 1, 0,   /* ec_point_formats: uncompressed */
					0, 45, 0, 2, 1, 1,   /* psk_key_exchange_modes: psk_dhe_ke */
					0, 16, 0, 14, 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/',
					'1', '.', '1' };     /* ALPN */
	size_t rec = tls_record(w, TLS_HANDSHAKE, 0x0301), hs, ext;

	w_u8(w, 1); /* ClientHello */
	hs = w_mark(w, 3);
	w_u16(w, 0x0303);
	w_rand(w, r, 32);
	w_u8(w, 32); /* legacy session id, sent for middlebox compatibility */
	w_rand(w, r, 32);
	w_u16(w, sizeof(suites));
	for (size_t i = 0; i < ARRAY_SIZE(suites); i++)
		w_u16(w, suites[i]);
	w_u8(w, 1);
	w_u8(w, 0); /* null compression */
	ext = w_mark(w, 2);
	tls_sni(w, sni);
	tls_ext_list16(w, 10, 2, groups, ARRAY_SIZE(groups));
	tls_ext_list16(w, 13, 2, sigalgs, ARRAY_SIZE(sigalgs));
	tls_ext_list16(w, 43, 1, versions, ARRAY_SIZE(versions));
	w_mem(w, tail, sizeof(tail));
	tls_key_share(w, r, true);
	w_end(w, ext, 2);
	w_end(w, hs, 3);
	w_end(w, rec, 2);
}

static void tls_server_hello(struct wbuf *w, struct rng *r)
{
	size_t rec = tls_record(w, TLS_HANDSHAKE, 0x0303), hs, ext;

	w_u8(w, 2); /* ServerHello */
	hs = w_mark(w, 3);
	w_u16(w, 0x0303);
	w_rand(w, r, 32);
	w_u8(w, 32);
	w_rand(w, r, 32);
	w_u16(w, 0x1301); /* TLS_AES_128_GCM_SHA256 */
	w_u8(w, 0);
	ext = w_mark(w, 2);
	/* supported_versions in a ServerHello is one bare value, not a list */
	size_t sv = tls_ext(w, 43);
	w_u16(w, 0x0304);
	w_end(w, sv, 2);
	tls_key_share(w, r, false);
	w_end(w, ext, 2);
	w_end(w, hs, 3);
	w_end(w, rec, 2);
}

static void tls_ccs(struct wbuf *w)
{
	size_t rec = tls_record(w, TLS_CCS, 0x0303);

	w_u8(w, 1);
	w_end(w, rec, 2);
}

/* Encrypted records: n bytes of ciphertext including the 16-byte tag. */
static void tls_appdata(struct wbuf *w, struct rng *r, size_t n)
{
	size_t rec = tls_record(w, TLS_APPDATA, 0x0303);

	w_rand(w, r, n);
	w_end(w, rec, 2);
}

/* ---- ICMP echo, NTP, ARP, LLDP payloads ---- */

/* Linux ping: a struct timeval, then bytes 0x10..0x37; Windows: the alphabet. */
static void ping_payload(struct pkt *p, const struct host *h, uint64_t t)
{
	static const char win[] = "abcdefghijklmnopqrstuvwabcdefghi";
	uint8_t *d;

	if (h->ttl > 64) {
		pkt_append(p, win, sizeof(win) - 1);
		return;
	}
	d = pkt_put(p, 56);
	memset(d, 0, 16);
	put_le32(d, (uint32_t)(t / US));
	put_le32(d + 8, (uint32_t)(t % US));
	for (int i = 16; i < 56; i++)
		d[i] = (uint8_t)i;
}

/* A reply echoes the request's payload, hence the request time `sent`. */
static void icmp_echo(struct flow *f, int dir, uint16_t id, uint16_t seq, uint64_t sent)
{
	bool v6 = f->h[dir]->a.v6;
	struct ippair ip = flow_ips(f, dir);
	uint8_t type = dir == C2S ? (v6 ? 128 : 8) : (v6 ? 129 : 0);
	struct pkt p;

	pkt_init(&p);
	ping_payload(&p, f->h[C2S], sent);
	push_icmp(&p, &ip, type, (uint32_t)id << 16 | seq);
	flow_send(f, dir, &p, v6 ? IPP_ICMPV6 : IPP_ICMP, f->t);
}

static void ntp_ts(struct wbuf *w, uint64_t t)
{
	w_u32(w, (uint32_t)(t / US + 2208988800u)); /* NTP era starts in 1900 */
	w_u32(w, (uint32_t)(((t % US) << 32) / US));
}

/* Client request (mode 3) when origin is 0, else the server's reply (mode 4). */
static void ntp_packet(struct wbuf *w, uint64_t origin, uint64_t rx, uint64_t tx)
{
	bool reply = origin != 0;

	w_u8(w, reply ? 0x24 : 0x23);        /* LI 0, version 4, mode */
	w_u8(w, reply ? 2 : 0);              /* stratum */
	w_u8(w, 6);                          /* poll: 64 s */
	w_u8(w, reply ? 0xe9 : 0x20);        /* precision */
	w_u32(w, reply ? 0x00000a3d : 0);    /* root delay */
	w_u32(w, reply ? 0x00000312 : 0);    /* root dispersion */
	w_u32(w, reply ? 0xc0000201 : 0);    /* reference id: upstream server */
	if (reply) {
		ntp_ts(w, tx - 300 * US);    /* last synchronised */
		ntp_ts(w, origin);
		ntp_ts(w, rx);
	} else {
		memset(w_room(w, 24), 0, 24);
	}
	ntp_ts(w, tx);
}

static void arp_body(struct pkt *p, uint16_t op, const struct host *sender, const uint8_t tmac[6],
		     const struct host *target)
{
	uint8_t *d = pkt_put(p, 28);

	put16(d, 1);       /* Ethernet */
	put16(d + 2, ET_IPV4);
	d[4] = 6;
	d[5] = 4;
	put16(d + 6, op);
	memcpy(d + 8, sender->mac, 6);
	memcpy(d + 14, sender->a.b, 4);
	memcpy(d + 18, tmac, 6);
	memcpy(d + 24, target->a.b, 4);
}

static void lldp_tlv(struct pkt *p, unsigned type, const void *v, size_t n)
{
	uint8_t *d = pkt_put(p, 2 + n);

	put16(d, (uint16_t)(type << 9 | n));
	if (n)
		memcpy(d + 2, v, n);
}

/* ---- sessions: one conversation each, starting at t ---- */

typedef void sess_fn(struct gen *g, struct host *cli, uint64_t t);

static void sess_http(struct gen *g, struct host *cli, uint64_t t)
{
	struct host *srv = pick_host(g, H_WEB, cli->a.v6, false);
	struct flow f;
	unsigned n = rng_range(&g->rng, 1, 2);

	t = maybe_lookup(g, cli, srv->name, t);
	flow_init(&f, g, cli, srv, ephemeral_port(g), 80, t);
	tcp_open(&f);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			f.t += rng_range(&g->rng, 20000, 400000); /* keep-alive: user reads */
		http_exchange(&f, srv->name);
	}
	tcp_close(&f);
}

static void tls_send(struct flow *f, int dir, struct wbuf *w)
{
	tcp_send(f, dir, w->b, w->n);
	w->n = 0;
}

static void sess_tls(struct gen *g, struct host *cli, uint64_t t)
{
	struct rng *r = &g->rng;
	struct host *srv = pick_host(g, H_WEB, cli->a.v6, false);
	struct wbuf w = { 0 };
	struct flow f;
	unsigned n = rng_range(r, 1, 3);
	/* most connections resume a session (PSK): no certificate is sent */
	bool resumed = rng_chance(r, 65);

	t = maybe_lookup(g, cli, srv->name, t);
	flow_init(&f, g, cli, srv, ephemeral_port(g), 443, t);
	tcp_open(&f);
	tls_client_hello(&w, r, srv->name);
	tls_send(&f, C2S, &w);
	/* ServerHello, then EncryptedExtensions..Finished as one opaque record */
	tls_server_hello(&w, r);
	tls_ccs(&w);
	tls_appdata(&w, r, resumed ? rng_range(r, 80, 160) : rng_range(r, 1500, 2600));
	tls_send(&f, S2C, &w);
	tls_ccs(&w);
	tls_appdata(&w, r, 53); /* client Finished */
	for (unsigned i = 0; i < n; i++) {
		if (i)
			f.t += rng_range(r, 20000, 400000);
		tls_appdata(&w, r, rng_range(r, 90, 500));
		tls_send(&f, C2S, &w);
		tls_appdata(&w, r, rng_range(r, 120, 1500));
		tls_send(&f, S2C, &w);
	}
	tls_appdata(&w, r, 19); /* close_notify alert */
	tls_send(&f, C2S, &w);
	tcp_close(&f);
	w_free(&w);
}

/* Bulk download over plain HTTP: the heavy hitters of the capture. */
static void sess_bulk(struct gen *g, struct host *cli, uint64_t t)
{
	struct host *srv = host_by_name(g, "mirror.example.org", cli->a.v6);
	struct wbuf req = { 0 }, resp = { 0 }, body = { 0 };
	struct flow f;

	t = dns_lookup(g, cli, srv->name, t);
	flow_init(&f, g, cli, srv, ephemeral_port(g), 80, t);
	tcp_open(&f);
	http_request(&req, "GET", "/pub/datasets/flows-2023-11.tar.gz", srv->name, "Wget/1.21.3", NULL);
	tcp_send(&f, C2S, req.b, req.n);
	w_mem(&body, (uint8_t[]){ 0x1f, 0x8b, 0x08, 0x00 }, 4); /* gzip magic */
	w_rand(&body, &g->rng, rng_range(&g->rng, 44000, 52000));
	http_response(&resp, f.t, 200, "Apache/2.4.57 (Debian)", "application/gzip", &body);
	tcp_send(&f, S2C, resp.b, resp.n);
	tcp_close(&f);
	w_free(&req);
	w_free(&resp);
	w_free(&body);
}

static void sess_dns(struct gen *g, struct host *cli, uint64_t t)
{
	/* service discovery names that nobody answers, as on any real LAN */
	static const char *const unknown[] = { "wpad.corp.lan", "_ldap._tcp.dc._msdcs.corp.lan",
					       "printer.corp.lan" };
	const char *name = rng_chance(&g->rng, 15)
				   ? unknown[rng_below(&g->rng, ARRAY_SIZE(unknown))]
				   : pick_host(g, H_WEB, cli->a.v6, false)->name;

	dns_lookup(g, cli, name, t);
}

/* A large TXT answer (DKIM-style keys): over the MTU, so IP fragments it. */
static void sess_bigdns(struct gen *g, struct host *cli, uint64_t t)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char name[] = "keys.example.org";
	struct flow f = dns_flow(g, cli, t);
	struct wbuf w = { 0 };
	uint16_t id = (uint16_t)rng_u32(&g->rng);
	uint8_t txt[241];

	dns_header(&w, id, 0x0100, 0, 1);
	dns_question(&w, name, DNS_TXT);
	dns_opt(&w);
	udp_send(&f, C2S, w.b, w.n);
	w.n = 0;
	dns_header(&w, id, 0x8180, 12, 1);
	dns_question(&w, name, DNS_TXT);
	for (int i = 0; i < 12; i++) {
		txt[0] = (uint8_t)(sizeof(txt) - 1); /* one character-string per record */
		for (size_t k = 1; k < sizeof(txt); k++)
			txt[k] = (uint8_t)b64[rng_below(&g->rng, 64)];
		memcpy(txt + 1, "v=DKIM1; k=rsa; p=", 18);
		dns_rr(&w, DNS_TXT, 3600, txt, sizeof(txt));
	}
	dns_opt(&w);
	udp_send(&f, S2C, w.b, w.n);
	w_free(&w);
}

static void sess_ping(struct gen *g, struct host *cli, uint64_t t)
{
	struct rng *r = &g->rng;
	struct host *dst = rng_chance(r, 50) ? gateway_of(g, cli) : pick_host(g, H_WEB, cli->a.v6, false);
	uint16_t id = (uint16_t)rng_u32(r);
	unsigned n = cli->ttl > 64 ? 4 : rng_range(r, 1, 4); /* Windows pings 4 times */
	struct flow f;

	flow_init(&f, g, cli, dst, 0, 0, t);
	for (unsigned i = 0; i < n; i++) {
		uint64_t sent = t + i * US + rng_below(r, 2000);

		f.t = sent;
		f.last = C2S;
		icmp_echo(&f, C2S, id, (uint16_t)(i + 1), sent);
		flow_turn(&f, S2C);
		icmp_echo(&f, S2C, id, (uint16_t)(i + 1), sent);
	}
}

static void sess_ntp(struct gen *g, struct host *cli, uint64_t t)
{
	struct host *srv = host_by_name(g, "ntp.example.org", cli->a.v6);
	/* ntpd binds port 123, chrony and systemd-timesyncd use ephemeral ports */
	uint16_t sport = rng_chance(&g->rng, 40) ? 123 : ephemeral_port(g);
	struct wbuf w = { 0 };
	struct flow f;
	uint64_t sent;

	flow_init(&f, g, cli, srv, sport, 123, t);
	ntp_packet(&w, 0, 0, t);
	udp_send(&f, C2S, w.b, w.n);
	sent = t;
	w.n = 0;
	ntp_packet(&w, sent, sent + f.rtt / 2, sent + f.rtt / 2 + 25);
	udp_send(&f, S2C, w.b, w.n);
	w_free(&w);
}

static void arp_pair(struct gen *g, struct host *h, uint64_t t)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6] = { 0 };
	struct host *gw = gateway_of(g, h);
	struct pkt p;

	pkt_init(&p);
	arp_body(&p, 1, h, zero, gw);
	l2_wrap(h->path, &p, ET_ARP, h->mac, bcast);
	emit(g, t, &p);
	pkt_init(&p);
	arp_body(&p, 2, gw, h->mac, h);
	l2_wrap(h->path, &p, ET_ARP, gw->mac, h->mac);
	emit(g, t + rng_range(&g->rng, 100, 400), &p);
}

static void lldp_frame(struct gen *g, uint64_t t)
{
	static const uint8_t dst[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	static const uint8_t chassis[7] = { 4, 0x00, 0x1c, 0x73, 0x5a, 0x10, 0x01 }; /* MAC */
	static const uint8_t port[] = { 5, 'E', 't', 'h', 'e', 'r', 'n', 'e', 't', '4', '8' };
	static const uint8_t ttl[2] = { 0, 120 };
	static const uint8_t caps[4] = { 0, 0x14, 0, 0x04 }; /* bridge+router, bridge on */
	static const char name[] = "sw-access-01", desc[] = "weir-synth virtual switch";
	struct pkt p;

	pkt_init(&p);
	lldp_tlv(&p, 1, chassis, sizeof(chassis));
	lldp_tlv(&p, 2, port, sizeof(port));
	lldp_tlv(&p, 3, ttl, sizeof(ttl));
	lldp_tlv(&p, 4, "tap uplink", 10);
	lldp_tlv(&p, 5, name, sizeof(name) - 1);
	lldp_tlv(&p, 6, desc, sizeof(desc) - 1);
	lldp_tlv(&p, 7, caps, sizeof(caps));
	lldp_tlv(&p, 0, NULL, 0);
	l2_wrap(&g->paths[P_LAN], &p, ET_LLDP, chassis + 1, dst);
	emit(g, t, &p);
}

/* ---- deliberately malformed packets ---- */

static void syslog_payload(struct pkt *p)
{
	static const char msg[] = "<134>Nov 14 22:15:01 host1 app[411]: heartbeat ok";

	pkt_append(p, msg, sizeof(msg) - 1);
}

/* IPv4 header length 3 (12 bytes): shorter than the fixed header. */
static void mal_ihl(struct gen *g, struct host *cli, uint64_t t)
{
	struct flow f;
	struct pkt p;
	struct ippair ip;

	flow_init(&f, g, cli, resolver_of(g, cli), ephemeral_port(g), 514, t);
	ip = flow_ips(&f, C2S);
	pkt_init(&p);
	syslog_payload(&p);
	push_udp(&p, &ip, f.port[C2S], 514);
	flow_ip(&f, C2S, &p, IPP_UDP, NULL);
	pkt_data(&p)[0] = 0x43;
	flow_wrap(&f, C2S, &p);
	emit(g, t, &p);
}

/* TCP data offset 2 (8 bytes): shorter than the fixed header. */
static void mal_tcp_off(struct gen *g, struct host *cli, uint64_t t)
{
	struct host *srv = pick_host(g, H_WEB, cli->a.v6, false);
	struct flow f;
	struct pkt p;
	struct ippair ip;

	flow_init(&f, g, cli, srv, ephemeral_port(g), 80, t);
	ip = flow_ips(&f, C2S);
	pkt_init(&p);
	tcp_build(&f, C2S, &p, TH_SYN, NULL, 0);
	pkt_data(&p)[12] = 2 << 4;
	tcp_fix_csum(&p, &ip);
	flow_send(&f, C2S, &p, IPP_TCP, t);
}

/* IPv6 hop-by-hop header that claims 88 bytes where 8 are left. */
static void mal_v6_ext(struct gen *g, struct host *cli, uint64_t t)
{
	static const uint8_t hbh[8] = { IPP_UDP, 10, 1, 4, 0, 0, 0, 0 };
	struct host *srv = pick_host(g, H_WEB, true, false);
	struct flow f;
	struct pkt p;

	flow_init(&f, g, cli, srv, 0, 0, t);
	pkt_init(&p);
	pkt_append(&p, hbh, sizeof(hbh));
	flow_send(&f, C2S, &p, IPP_HOPOPTS, t);
}

/* A 10-byte frame: a collision fragment that still made it into the capture. */
static void mal_runt(struct gen *g, struct host *cli, uint64_t t)
{
	struct pkt p;

	pkt_init(&p);
	pkt_append(&p, gateway_of(g, cli)->mac, 6);
	pkt_append(&p, cli->mac, 4);
	emit(g, t, &p);
}

/* ---- scenario ---- */

struct feature {
	const char *client;
	sess_fn *fn;
	uint32_t snaplen;
};

static const struct feature features[] = {
	{ "192.168.7.80", sess_http, 0 },   /* QinQ */
	{ "10.1.0.11", sess_bigdns, 0 },    /* IPv4 fragments */
	{ "10.1.0.80", sess_tls, 0 },       /* MPLS */
	{ "10.1.0.12", mal_ihl, 0 },
	{ "10.1.0.90", sess_http, 0 },      /* PPPoE */
	{ "192.168.7.60", sess_ping, 0 },   /* GRE */
	{ "2001:db8::11", sess_bigdns, 0 }, /* IPv6 fragment header */
	{ "10.1.0.14", mal_tcp_off, 0 },
	{ "192.168.7.60", sess_http, 0 },   /* GRE */
	{ "10.1.0.70", sess_http, 0 },      /* VXLAN */
	{ "2001:db8::12", mal_v6_ext, 0 },
	{ "10.1.0.150", sess_tls, 0 },      /* GTP-U */
	{ "10.1.0.13", sess_http, 128 },    /* records cut by a short snaplen */
	{ "2001:db8::66", sess_http, 0 },   /* 6in4 */
	{ "10.1.0.11", mal_runt, 0 },
	{ "2001:db8::77", sess_ping, 0 },   /* hop-by-hop + destination options */
};

struct kind {
	sess_fn *fn;
	unsigned weight;
};

static const struct kind kinds[] = {
	{ sess_http, 12 }, { sess_tls, 13 }, { sess_dns, 50 }, { sess_ping, 13 }, { sess_ntp, 12 },
};

/* Sessions last a few seconds at most (four pings a second apart are the
 * longest); starting them this much before the end lets nearly all of them
 * finish inside the capture, and emit() drops what would not. */
static uint64_t latest_start(const struct gen *g)
{
	return g->span > 10 * US ? g->span - 5 * US : g->span / 2;
}

static void run_features(struct gen *g)
{
	size_t n = ARRAY_SIZE(features);

	for (size_t i = 0; i < n; i++) {
		const struct feature *ft = &features[i];

		g->snaplen = ft->snaplen;
		ft->fn(g, host_at(g, ft->client), g->t0 + latest_start(g) * (2 * i + 1) / (2 * n));
		g->snaplen = 0;
	}
}

/* Infrastructure chatter: LLDP every 30 s, a gateway ARP every ~15 s. */
static void run_periodic(struct gen *g)
{
	for (uint64_t t = 2 * US; t < g->span; t += 30 * US)
		lldp_frame(g, g->t0 + t);
	for (uint64_t t = 5 * US; t < g->span; t += rng_range(&g->rng, 10, 20) * US) {
		struct host *h = pick_host(g, H_CLIENT, false, false);

		arp_pair(g, h, g->t0 + t + rng_below(&g->rng, US));
	}
}

/* One download per minute and heavy host, staggered, so every 60 s window
 * has a clear top talker. */
static void run_heavy(struct gen *g)
{
	uint64_t off = 10 * US;

	for (size_t i = 0; i < N_HOSTS; i++) {
		struct host *h = &g->hosts[i];

		if (!(h->flags & H_HEAVY))
			continue;
		for (uint64_t t = off; t <= latest_start(g); t += 60 * US)
			sess_bulk(g, h, g->t0 + t);
		off += 25 * US;
	}
}

static sess_fn *pick_kind(struct rng *r)
{
	unsigned total = 0, x;

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		total += kinds[i].weight;
	x = rng_below(r, total);
	for (size_t i = 0;; i++) {
		if (x < kinds[i].weight)
			return kinds[i].fn;
		x -= kinds[i].weight;
	}
}

static void run_background(struct gen *g, uint64_t flows)
{
	for (uint64_t n = 0; !gen_full(g) && (!flows || n < flows); n++) {
		sess_fn *fn = pick_kind(&g->rng);
		struct host *cli = pick_host(g, H_CLIENT, false, true);
		/* milliseconds, then microseconds: a day of microseconds
		 * does not fit the 32-bit range of rng_below() */
		uint64_t ms = rng_below(&g->rng, (uint32_t)(latest_start(g) / 1000));

		fn(g, cli, g->t0 + ms * 1000 + rng_below(&g->rng, 1000));
	}
}

/* ---- pcap writer ---- */

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool write_recs(struct gen *g, FILE *fp)
{
	uint8_t h[24] = { 0 };
	bool ok;

	put_le32(h, 0xa1b2c3d4); /* microsecond timestamps */
	put_le32(h + 4, 2 | 4 << 16);
	put_le32(h + 16, PCAP_SNAPLEN);
	put_le32(h + 20, 1); /* LINKTYPE_ETHERNET */
	ok = fwrite(h, 1, 24, fp) == 24;
	for (size_t i = 0; ok && i < g->nrec; i++) {
		const struct rec *r = &g->recs[i];

		put_le32(h, (uint32_t)(r->ts / US));
		put_le32(h + 4, (uint32_t)(r->ts % US));
		put_le32(h + 8, r->caplen);
		put_le32(h + 12, r->len);
		ok = fwrite(h, 1, 16, fp) == 16 &&
		     fwrite(g->bytes + r->off, 1, r->caplen, fp) == r->caplen;
	}
	return fflush(fp) == 0 && ok;
}

/* A failed write removes the file: a truncated capture left behind would
 * look valid to the next reader up to the point where it stops. */
static void write_pcap(struct gen *g, const char *path)
{
	bool to_stdout = !strcmp(path, "-");
	FILE *fp = to_stdout ? stdout : fopen(path, "wb");
	bool ok;

	if (!fp)
		die("%s: %s", path, strerror(errno));
	qsort(g->recs, g->nrec, sizeof(*g->recs), rec_cmp);
	ok = write_recs(g, fp);
	if (!to_stdout)
		ok = (fclose(fp) == 0) & ok;
	if (!ok) {
		int err = errno;

		if (!to_stdout)
			unlink(path);
		die("%s: write failed: %s", to_stdout ? "stdout" : path, strerror(err));
	}
}

/* ---- command line ---- */

struct opts {
	const char *out;
	uint64_t packets, seed, flows, start, duration;
};

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: weir-synth [-o FILE] [--packets N] [--seed S] [--flows N]\n"
		"                  [--start EPOCH] [--duration SECONDS]\n"
		"\n"
		"Writes a deterministic synthetic Ethernet capture (pcap, microseconds).\n"
		"The defaults produce weir's bundled tests/data/sample.pcap.\n"
		"\n"
		"  -o, --output FILE     output file, - for stdout (default %s)\n"
		"      --packets N       number of packets (default %u); the fixed scenario\n"
		"                        (encapsulations, malformed frames, heavy hitters)\n"
		"                        comes first, background sessions fill the rest\n"
		"      --seed S          PRNG seed, decimal or 0x-hex (default %#x)\n"
		"      --flows N         background sessions to generate, then stop even if\n"
		"                        fewer than --packets were written (default 0: as\n"
		"                        many as --packets allows)\n"
		"      --start EPOCH     first second of the capture (default %u)\n"
		"      --duration SEC    capture length in seconds (default %u)\n"
		"  -h, --help            show this help\n",
		DEF_OUTPUT, DEF_PACKETS, DEF_SEED, DEF_START, DEF_DURATION);
}

static uint64_t parse_num(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		die("invalid %s '%s' (expected %" PRIu64 "..%" PRIu64 ")", what, s, lo, hi);
	return v;
}

static struct opts parse_args(int argc, char **argv)
{
	enum { O_PACKETS = 256, O_SEED, O_FLOWS, O_START, O_DURATION };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "packets", required_argument, NULL, O_PACKETS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "start", required_argument, NULL, O_START },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { DEF_OUTPUT, DEF_PACKETS, DEF_SEED, 0, DEF_START, DEF_DURATION };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.out = optarg; break;
		case O_PACKETS: o.packets = parse_num(optarg, "--packets", 1, 10000000); break;
		case O_SEED: o.seed = parse_num(optarg, "--seed", 0, UINT64_MAX); break;
		case O_FLOWS: o.flows = parse_num(optarg, "--flows", 0, 10000000); break;
		case O_START: o.start = parse_num(optarg, "--start", 0, UINT32_MAX); break;
		case O_DURATION: o.duration = parse_num(optarg, "--duration", 1, 86400); break;
		case 'h': usage(stdout); exit(0);
		case ':': die("option '%s' needs a value (see --help)", argv[optind - 1]);
		default: die("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (o.start + o.duration > UINT32_MAX)
		die("--start + --duration must stay below 2^32 (pcap seconds are 32-bit)");
	if (!*o.out)
		die("empty output file name");
	return o;
}

int main(int argc, char **argv)
{
	struct opts o = parse_args(argc, argv);
	struct gen *g = xrealloc(NULL, sizeof(*g));

	gen_init(g, o.seed, o.start, o.duration, o.packets);
	run_periodic(g);
	run_features(g);
	run_heavy(g);
	run_background(g, o.flows);
	write_pcap(g, o.out);
	free(g->recs);
	free(g->bytes);
	free(g);
	return 0;
}
