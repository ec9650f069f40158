/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_pkt: bounds-checked L2-L4 parser (see weir_pkt.h for the contract).
 *
 * Shape: one pass, front to back. The link layer and the VLAN/MPLS/PPPoE
 * shim leave an ethertype and an offset; then a loop runs once per IP
 * header (more than once only behind a tunnel). Every read is preceded by
 * a check of the bytes left (`len - off`, with off <= len kept invariant),
 * so no read ever goes past `len`.
 *
 * Field semantics follow tshark 4.0 where it matters for the oracles:
 * an IPv4 header only counts once its 20 bytes are captured, an IPv4 total
 * length of 0 is TSO (the frame's reported length is used), IPv6 in an IPv4
 * ethertype is dissected as IPv6, and ports are known as soon as their four
 * bytes are captured (WEIR_PKT_F_PORTS) even if the rest of the L4 header
 * is not (WEIR_PKT_F_L4 needs the whole header).
 *
 * Outer vs inner layer: the whole packet is always walked, so `malformed`
 * and `tunnel` do not depend on the layer. With WEIR_PKT_OUTER the walk
 * below the first tunnel writes into a scratch copy that is thrown away.
 */
#include "weir_pkt.h"

#include <arpa/inet.h>
#include <endian.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct weir_pkt) == 76, "struct weir_pkt layout changed");

enum {
	ET_IPV4     = 0x0800,
	ET_IPV6     = 0x86dd,
	ET_VLAN     = 0x8100,
	ET_QINQ     = 0x88a8,
	ET_QINQ_OLD = 0x9100,
	ET_MPLS_UC  = 0x8847,
	ET_MPLS_MC  = 0x8848,
	ET_PPPOE_S  = 0x8864,
	ET_TEB      = 0x6558, /* transparent Ethernet bridging (GRE) */
	ET_PPP      = 0x880b, /* PPP in enhanced GRE (PPTP) */
	ET_CFP      = 0x8903, /* Cisco FabricPath: MAC-in-MAC, 16-byte outer header */
	ET_MIN      = 0x0600, /* below: an 802.3 length, not an ethertype */
};

enum {
	PPP_IPV4 = 0x0021,
	PPP_IPV6 = 0x0057,
};

enum {
	IPP_HOPOPTS  = 0,
	IPP_ICMP     = 1,
	IPP_IPIP     = 4,
	IPP_TCP      = 6,
	IPP_UDP      = 17,
	IPP_IPV6     = 41,
	IPP_ROUTING  = 43,
	IPP_FRAGMENT = 44,
	IPP_GRE      = 47,
	IPP_AH       = 51,
	IPP_ICMPV6   = 58,
	IPP_DSTOPTS  = 60,
	IPP_SCTP     = 132,
};

enum {
	UDP_PORT_VXLAN = 4789,
	UDP_PORT_GTPU  = 2152,
};

#define M(r) WEIR_PKT_MAL_##r

/* Flags that describe the L2 shim; they survive the switch to an inner layer. */
#define L2_FLAGS (WEIR_PKT_F_PPPOE | WEIR_PKT_F_MPLS)

static inline uint16_t rd16(const uint8_t *b)
{
	uint16_t v;
	memcpy(&v, b, sizeof(v));
	return be16toh(v);
}

static inline uint32_t rd32le(const uint8_t *b)
{
	uint32_t v;
	memcpy(&v, b, sizeof(v));
	return le32toh(v);
}

static inline uint16_t vlan_id(const uint8_t *tag)
{
	return rd16(tag) & 0x0fff;
}

static inline int is_vlan_tpid(uint16_t et)
{
	return et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD;
}

/*
 * MPLS label stack at *off. An MPLS header does not say what it carries:
 * after bottom-of-stack the first nibble is the usual guess (what tshark and
 * most routers' load balancers do).
 */
static inline int mpls_walk(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	uint32_t o = *off, label;

	for (unsigned n = 0;; n++) {
		if (len - o < 4)
			return M(TRUNCATED_MPLS);
		if (n == WEIR_PKT_MAX_MPLS)
			return M(TOO_DEEP);
		o += 4;
		if (d[o - 2] & 1)
			break;
	}
	*off = o;
	if (o == len)
		return M(TRUNCATED_MPLS);
	/* GAL (13) and OAM Alert (14) say what follows: a control channel, not IP */
	label = (uint32_t)rd16(d + o - 4) << 4 | d[o - 2] >> 4;
	if (label == 13 || label == 14)
		return M(NONE);
	switch (d[o] >> 4) {
	case 4:
		*et = ET_IPV4;
		break;
	case 6:
		*et = ET_IPV6;
		break;
	default:
		break; /* pseudowire or unknown: not IP, *et stays MPLS */
	}
	return M(NONE);
}

static inline int pppoe_walk(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	uint32_t o = *off;

	if (len - o < 8)
		return M(TRUNCATED_PPPOE);
	switch (rd16(d + o + 6)) {
	case PPP_IPV4:
		*et = ET_IPV4;
		break;
	case PPP_IPV6:
		*et = ET_IPV6;
		break;
	default:
		return M(NONE); /* LCP, IPCP, ...: stays PPPoE, offset unchanged */
	}
	*off = o + 8;
	return M(NONE);
}

/*
 * VLAN tags, MPLS and PPPoE after an ethertype. On return *et is ET_IPV4 or
 * ET_IPV6 with *off at the IP header, or something else (not IP). `outer`
 * is a compile-time constant at each call: only the outermost L2 records
 * VLAN IDs and L2 flags.
 */
static inline int l2_walk(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et,
			  struct weir_pkt *p, int outer)
{
	uint32_t o = *off;
	uint16_t t = *et;
	unsigned nvlan = 0;
	int mal = M(NONE);

	while (is_vlan_tpid(t)) {
		if (len - o < 4)
			return M(TRUNCATED_VLAN);
		if (nvlan == WEIR_PKT_MAX_VLAN)
			return M(TOO_DEEP);
		if (outer) {
			uint16_t vid = vlan_id(d + o);
			if (nvlan == 0)
				p->vlan = vid;
			else if (nvlan == 1)
				p->vlan_inner = vid;
			p->n_vlan = (uint8_t)(nvlan + 1);
		}
		nvlan++;
		t = rd16(d + o + 2);
		o += 4;
	}
	if (t == ET_MPLS_UC || t == ET_MPLS_MC) {
		if (outer)
			p->flags |= WEIR_PKT_F_MPLS;
		mal = mpls_walk(d, len, &o, &t);
	} else if (t == ET_PPPOE_S) {
		if (outer)
			p->flags |= WEIR_PKT_F_PPPOE;
		mal = pppoe_walk(d, len, &o, &t);
	}
	*off = o;
	*et = t;
	return mal;
}

/* BSD loopback: a host-order address family, so either byte order. */
static inline uint16_t null_af_ethertype(const uint8_t *d)
{
	uint32_t af = rd32le(d);

	if (af & 0xffff0000u)
		af = __builtin_bswap32(af);
	switch (af) {
	case 2:  /* AF_INET everywhere */
		return ET_IPV4;
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD, BSD/OS */
	case 28: /* FreeBSD, DragonFly */
	case 30: /* Darwin */
		return ET_IPV6;
	default:
		return 0;
	}
}

static inline int ip_by_nibble(const uint8_t *d, uint32_t len, uint16_t *et)
{
	if (len == 0)
		return M(TRUNCATED_L3);
	switch (d[0] >> 4) {
	case 4:
		*et = ET_IPV4;
		return M(NONE);
	case 6:
		*et = ET_IPV6;
		return M(NONE);
	default:
		return M(BAD_IP_VERSION);
	}
}

/* Link header: leaves the offset of the network layer and its ethertype. */
static inline int link_walk(const uint8_t *d, uint32_t len, int link, struct weir_pkt *p,
			    uint32_t *off, uint16_t *et)
{
	switch (link) {
	case WEIR_LINK_ETHERNET:
		if (len < 14)
			return M(TRUNCATED_L2);
		*off = 14;
		*et = rd16(d + 12);
		if (*et == ET_IPV4 || *et == ET_IPV6)
			return M(NONE); /* the common case, without a call */
		if (*et == ET_CFP) {
			/* the classical frame follows the FabricPath tag: read on */
			if (len < 30)
				return M(TRUNCATED_L2);
			*off = 30;
			*et = rd16(d + 28);
		}
		if (*et < ET_MIN) {
			*et = 0; /* 802.3 + LLC: not IP here */
			return M(NONE);
		}
		return l2_walk(d, len, off, et, p, 1);
	case WEIR_LINK_SLL:
		if (len < 16)
			return M(TRUNCATED_L2);
		*off = 16;
		*et = rd16(d + 14);
		return *et < ET_MIN ? M(NONE) : l2_walk(d, len, off, et, p, 1);
	case WEIR_LINK_SLL2:
		if (len < 20)
			return M(TRUNCATED_L2);
		*off = 20;
		*et = rd16(d);
		return *et < ET_MIN ? M(NONE) : l2_walk(d, len, off, et, p, 1);
	case WEIR_LINK_NULL:
		if (len < 4)
			return M(TRUNCATED_L2);
		*off = 4;
		*et = null_af_ethertype(d);
		return M(NONE);
	case WEIR_LINK_RAW:
	case WEIR_LINK_RAW_BSD:
	case WEIR_LINK_RAW_OBSD:
		*off = 0;
		return ip_by_nibble(d, len, et);
	case WEIR_LINK_IPV4:
		*off = 0;
		*et = ET_IPV4;
		return M(NONE);
	case WEIR_LINK_IPV6:
		*off = 0;
		*et = ET_IPV6;
		return M(NONE);
	default:
		return M(BAD_LINK);
	}
}

/* Where the L3 walk leaves the L4 parser. */
struct l3_end {
	uint32_t l4;     /* upper-layer header offset; 0: none (non-first fragment) */
	uint32_t ip_end; /* end of the IP datagram by its length field (may exceed len) */
};

/* Switching to an inner header: forget everything that described the outer one. */
static inline void inner_reset(struct weir_pkt *p)
{
	p->ip_bytes = 0;
	p->payload_len = 0;
	p->l4_off = 0;
	p->payload_off = 0;
	p->frag_off = 0;
	p->src_port = 0;
	p->dst_port = 0;
	p->tcp_flags = 0;
	p->tcp_window = 0;
	p->flags = (uint16_t)((p->flags & L2_FLAGS) | WEIR_PKT_F_INNER);
	memset(p->src_ip, 0, sizeof(p->src_ip));
	memset(p->dst_ip, 0, sizeof(p->dst_ip));
}

/* The analysis-layer fields of an IPv4 header h at off, total length tot. */
static inline void ipv4_fill(struct weir_pkt *p, const uint8_t *h, uint32_t off, uint32_t tot)
{
	p->ip_version = 4;
	p->l3_off = (uint16_t)off;
	p->ip_bytes = tot;
	p->ttl = h[8];
	p->proto = h[9];
	p->l4_proto = h[9];
	memcpy(p->src_ip, h + 12, 4);
	memcpy(p->dst_ip, h + 16, 4);
}

/*
 * IPv4 header at off. rep_end is where the enclosing data ends by its own
 * length (the frame's length for the outermost header), for TSO frames.
 */
static inline int ipv4_parse(const uint8_t *d, uint32_t len, uint32_t off, uint32_t rep_end,
			     int inner, struct weir_pkt *p, struct l3_end *e)
{
	const uint8_t *h = d + off;
	uint32_t hl, tot;
	uint16_t fo;

	/* tshark shows no address unless the 20 fixed bytes are there: nor do we */
	if (len - off < 20)
		return M(TRUNCATED_L3);
	hl = (uint32_t)(h[0] & 0x0f) << 2;
	if (hl < 20)
		return M(BAD_IHL);
	tot = rd16(h + 2);
	/*
	 * 0 is what TSO/GSO hands to capture: the datagram is the rest of the
	 * frame. tshark takes that length even when it is shorter than the
	 * header (then fails later), so the addresses count: same here.
	 */
	if (tot == 0)
		tot = rep_end > off ? rep_end - off : 0;
	else if (tot < hl)
		return M(BAD_IP_LEN);
	if (inner)
		inner_reset(p);
	ipv4_fill(p, h, off, tot);
	fo = rd16(h + 6);
	if (fo & 0x3fff) {
		p->frag_off = (uint16_t)((fo & 0x1fff) << 3);
		p->flags |= p->frag_off ? WEIR_PKT_F_FRAG : WEIR_PKT_F_FRAG | WEIR_PKT_F_FRAG_FIRST;
	}
	if (hl > 20) {
		p->flags |= WEIR_PKT_F_IPV4_OPTS;
		if (len - off < hl)
			return M(TRUNCATED_L3);
	}
	if (tot < hl)
		return M(BAD_IP_LEN); /* TSO's stand-in length is too short */
	e->ip_end = off + tot;
	e->l4 = p->frag_off ? 0 : off + hl;
	return M(NONE);
}

static inline int is_ext_header(unsigned nh, int v6)
{
	if (nh == IPP_AH)
		return 1;
	return v6 && (nh == IPP_HOPOPTS || nh == IPP_ROUTING || nh == IPP_DSTOPTS ||
		      nh == IPP_FRAGMENT);
}

/*
 * IPv6 extension headers (and AH behind IPv4) at x, next header nh.
 * Leaves l4_proto at the upper-layer protocol and e->l4 at its header
 * (0 behind a fragment header with a non-zero offset). Invariant: x <= ip_end.
 */
static inline int ext_walk(const uint8_t *d, uint32_t len, uint32_t x, unsigned nh, int v6,
			   struct weir_pkt *p, struct l3_end *e)
{
	for (unsigned n = 0; is_ext_header(nh, v6); n++) {
		uint32_t hl;

		if (n == WEIR_PKT_MAX_IPV6_EXT)
			return M(BAD_IPV6_EXT);
		if (len - x < 2)
			return e->ip_end - x < 2 ? M(BAD_IPV6_EXT) : M(TRUNCATED_L3);
		if (nh == IPP_FRAGMENT)
			hl = 8;
		else if (nh == IPP_AH)
			hl = ((uint32_t)d[x + 1] + 2) << 2;
		else
			hl = ((uint32_t)d[x + 1] + 1) << 3;
		if (e->ip_end - x < hl)
			return M(BAD_IPV6_EXT); /* runs past the payload length */
		if (len - x < hl)
			return M(TRUNCATED_L3);
		if (v6)
			p->flags |= WEIR_PKT_F_IPV6_EXT;
		if (nh == IPP_FRAGMENT) {
			p->frag_off = rd16(d + x + 2) & 0xfff8;
			p->flags |= p->frag_off ? WEIR_PKT_F_FRAG
						: WEIR_PKT_F_FRAG | WEIR_PKT_F_FRAG_FIRST;
		}
		nh = d[x];
		p->l4_proto = (uint8_t)nh;
		x += hl;
		if (p->frag_off) {
			e->l4 = 0; /* a later fragment: the upper-layer header is elsewhere */
			return M(NONE);
		}
	}
	e->l4 = x;
	return M(NONE);
}

/* The analysis-layer fields of an IPv6 fixed header h at off. */
static inline void ipv6_fill(struct weir_pkt *p, const uint8_t *h, uint32_t off)
{
	p->ip_version = 6;
	p->l3_off = (uint16_t)off;
	p->ip_bytes = (uint32_t)rd16(h + 4) + 40;
	p->ttl = h[7];
	p->proto = h[6];
	p->l4_proto = h[6];
	memcpy(p->src_ip, h + 8, 16);
	memcpy(p->dst_ip, h + 24, 16);
}

static inline int ipv6_parse(const uint8_t *d, uint32_t len, uint32_t off, uint32_t rep_end,
			     int inner, struct weir_pkt *p, struct l3_end *e)
{
	const uint8_t *h = d + off;
	uint32_t plen;

	if (len - off < 40)
		return M(TRUNCATED_L3);
	plen = rd16(h + 4);
	if (inner)
		inner_reset(p);
	ipv6_fill(p, h, off);
	/* payload length 0: jumbogram or GSO; the datagram is the rest of the frame */
	e->ip_end = plen ? off + 40 + plen : (rep_end > off + 40 ? rep_end : off + 40);
	e->l4 = off + 40;
	return M(NONE);
}

/* Ports (ICMP: type and code) as soon as their bytes are captured, like tshark. */
static inline void set_ports(struct weir_pkt *p, uint16_t sp, uint16_t dp)
{
	p->src_port = sp;
	p->dst_port = dp;
	p->flags |= WEIR_PKT_F_PORTS;
}

static inline void set_payload(struct weir_pkt *p, uint32_t po, uint32_t cend)
{
	p->flags |= WEIR_PKT_F_L4;
	p->payload_off = (uint16_t)po;
	p->payload_len = cend - po;
}

/*
 * An L4 header of `need` bytes does not fit: a datagram too short by its own
 * length is bad-ip-len (whatever follows is link padding), otherwise the
 * capture was cut.
 */
static inline int l4_short(uint32_t x, uint32_t ip_end, uint32_t need)
{
	return ip_end - x < need ? M(BAD_IP_LEN) : M(TRUNCATED_L4);
}

/* The L4 parsers get x <= hend = min(len, ip_end) and cend = min(caplen, ip_end). */
static inline int tcp_parse(const uint8_t *h, uint32_t x, uint32_t hend, uint32_t ip_end,
			    uint32_t cend, struct weir_pkt *p)
{
	uint32_t hl;

	if (hend - x >= 4)
		set_ports(p, rd16(h), rd16(h + 2));
	if (hend - x < 20)
		return l4_short(x, ip_end, 20);
	p->tcp_flags = h[13];
	p->tcp_window = rd16(h + 14);
	hl = (uint32_t)(h[12] >> 4) << 2;
	if (hl < 20 || ip_end - x < hl)
		return M(BAD_TCP_OFF);
	if (hend - x < hl)
		return M(TRUNCATED_L4);
	set_payload(p, x + hl, cend);
	return M(NONE);
}

static inline int udp_parse(const uint8_t *h, uint32_t x, uint32_t hend, uint32_t ip_end,
			    uint32_t cend, struct weir_pkt *p)
{
	uint32_t ulen;

	if (hend - x >= 4)
		set_ports(p, rd16(h), rd16(h + 2));
	if (hend - x < 8)
		return l4_short(x, ip_end, 8);
	set_payload(p, x + 8, cend);
	/*
	 * 0 is legal for jumbograms and shows up with GSO; anything else must
	 * fit the datagram, unless this is a first fragment, which it outgrows.
	 */
	ulen = rd16(h + 4);
	if ((ulen < 8 && ulen != 0) || (ulen > ip_end - x && !(p->flags & WEIR_PKT_F_FRAG)))
		return M(BAD_UDP_LEN);
	return M(NONE);
}

/* ports-only headers: SCTP (12-byte common header) */
static inline int sctp_parse(const uint8_t *h, uint32_t x, uint32_t hend, uint32_t ip_end,
			     uint32_t cend, struct weir_pkt *p)
{
	if (hend - x >= 4)
		set_ports(p, rd16(h), rd16(h + 2));
	if (hend - x < 12)
		return l4_short(x, ip_end, 12);
	set_payload(p, x + 12, cend);
	return M(NONE);
}

/* ICMP and ICMPv6: type -> src_port, code -> dst_port; 8 bytes of header */
static inline int icmp_parse(const uint8_t *h, uint32_t x, uint32_t hend, uint32_t ip_end,
			     uint32_t cend, struct weir_pkt *p)
{
	if (hend - x >= 2)
		set_ports(p, h[0], h[1]);
	if (hend - x < 8)
		return l4_short(x, ip_end, 8);
	set_payload(p, x + 8, cend);
	return M(NONE);
}

/* The tunnel a UDP destination port announces, WEIR_TUN_NONE for none. */
static inline unsigned udp_tunnel(uint16_t dst_port)
{
	if (dst_port == UDP_PORT_VXLAN)
		return WEIR_TUN_VXLAN;
	if (dst_port == UDP_PORT_GTPU)
		return WEIR_TUN_GTPU;
	return WEIR_TUN_NONE;
}

/* Ethernet inside a tunnel (VXLAN, GRE 0x6558): no VLAN IDs or flags recorded. */
static inline int eth_inner(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	uint32_t x = *off;

	if (len - x < 14)
		return M(TRUNCATED_TUNNEL);
	*et = rd16(d + x + 12);
	*off = x + 14;
	if (*et < ET_MIN) {
		*et = 0;
		return M(NONE);
	}
	return l2_walk(d, len, off, et, NULL, 0);
}

/* PPP in enhanced GRE: optional address/control, 1- or 2-byte protocol. */
static inline int ppp_inner(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	uint32_t x = *off;
	uint16_t proto;

	if (len - x >= 2 && d[x] == 0xff && d[x + 1] == 0x03)
		x += 2;
	if (len - x < 1)
		return M(TRUNCATED_TUNNEL);
	if (d[x] & 1) { /* protocol field compression */
		proto = d[x];
		x += 1;
	} else {
		if (len - x < 2)
			return M(TRUNCATED_TUNNEL);
		proto = rd16(d + x);
		x += 2;
	}
	*et = proto == PPP_IPV4 ? ET_IPV4 : proto == PPP_IPV6 ? ET_IPV6 : 0;
	*off = x;
	return M(NONE);
}

/* GRE (RFC 2784/2890, and version 1 of RFC 2637). *et = 0: nothing to follow. */
static inline int gre_walk(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	uint32_t x = *off, hl = 4;
	uint16_t fl, pt;

	*et = 0;
	if (len - x < 4)
		return M(TRUNCATED_TUNNEL);
	fl = rd16(d + x);
	pt = rd16(d + x + 2);
	switch (fl & 7) {
	case 0:
		if (fl & 0x4000)
			return M(NONE); /* RFC 1701 source routing: obsolete, not walked */
		hl += ((fl >> 15) & 1) * 4 + ((fl >> 13) & 1) * 4 + ((fl >> 12) & 1) * 4;
		break;
	case 1:
		/* key always; no sequence number means an ack-only packet */
		if (!(fl & 0x1000))
			return M(NONE);
		hl += 8 + ((fl >> 7) & 1) * 4;
		break;
	default:
		return M(NONE);
	}
	if (len - x < hl)
		return M(TRUNCATED_TUNNEL);
	*off = x + hl;
	switch (pt) {
	case ET_TEB:
		return eth_inner(d, len, off, et);
	case ET_PPP:
		return ppp_inner(d, len, off, et);
	default:
		*et = pt;
		return pt < ET_MIN ? M(NONE) : l2_walk(d, len, off, et, NULL, 0);
	}
}

static inline int vxlan_walk(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	*et = 0;
	if (len - *off < 8)
		return M(TRUNCATED_TUNNEL);
	*off += 8;
	return eth_inner(d, len, off, et);
}

/* GTPv1-U: only a G-PDU carries a packet; it has no type field, so guess by nibble. */
static inline int gtpu_walk(const uint8_t *d, uint32_t len, uint32_t *off, uint16_t *et)
{
	uint32_t x = *off, hl = 8;
	const uint8_t *h = d + x;

	*et = 0;
	if (len - x < 8)
		return M(TRUNCATED_TUNNEL);
	if ((h[0] & 0xf0) != 0x30 || h[1] != 0xff)
		return M(NONE); /* not v1 with PT=1, or signalling (echo, error indication) */
	if (h[0] & 0x07) {
		unsigned nx;

		if (len - x < 12)
			return M(TRUNCATED_TUNNEL);
		nx = h[11];
		hl = 12;
		for (unsigned n = 0; nx; n++) {
			uint32_t el;

			if (n == WEIR_PKT_MAX_GTP_EXT)
				return M(TOO_DEEP);
			if (len - x - hl < 1)
				return M(TRUNCATED_TUNNEL);
			el = (uint32_t)h[hl] << 2;
			if (el == 0)
				return M(BAD_TUNNEL);
			if (len - x - hl < el)
				return M(TRUNCATED_TUNNEL);
			nx = h[hl + el - 1];
			hl += el;
		}
	}
	x += hl;
	*off = x;
	if (x == len)
		return M(TRUNCATED_TUNNEL);
	switch (d[x] >> 4) {
	case 4:
		*et = ET_IPV4;
		break;
	case 6:
		*et = ET_IPV6;
		break;
	default:
		break; /* Ethernet or unstructured PDU: not followed */
	}
	return M(NONE);
}

/* The IP header at off, extension headers included; e->l4 == 0 when no L4 follows. */
static inline int l3_parse(const uint8_t *d, uint32_t len, uint32_t off, uint16_t et,
			   uint32_t rep_end, int inner, struct weir_pkt *p, struct l3_end *e)
{
	int mal;

	if (off == len)
		return M(TRUNCATED_L3);
	switch (d[off] >> 4) {
	case 4:
		if (et != ET_IPV4)
			return M(BAD_IP_VERSION);
		mal = ipv4_parse(d, len, off, rep_end, inner, p, e);
		if (mal != M(NONE) || p->proto != IPP_AH || !e->l4)
			return mal;
		return ext_walk(d, len, e->l4, IPP_AH, 0, p, e);
	case 6:
		/* tshark dissects IPv6 behind the IPv4 ethertype too: so do we */
		mal = ipv6_parse(d, len, off, rep_end, inner, p, e);
		if (mal != M(NONE))
			return mal;
		return ext_walk(d, len, e->l4, p->proto, 1, p, e);
	default:
		return M(BAD_IP_VERSION);
	}
}

/*
 * IP header, upper layer, and again behind each tunnel. Writes the fields of
 * every IP layer it reaches into p; with WEIR_PKT_OUTER, p is switched to a
 * scratch copy before the first inner header, so the caller's descriptor
 * keeps the outermost one.
 */
static int net_walk(const uint8_t *d, uint32_t len, uint32_t cap, uint32_t off, uint16_t et,
		    uint32_t rep_end, enum weir_pkt_layer layer, struct weir_pkt *p)
{
	struct weir_pkt scratch;

	for (unsigned depth = 0;; depth++) {
		struct l3_end e;
		uint32_t x, hend, cend;
		unsigned tun;
		int mal;

		if (et != ET_IPV4 && et != ET_IPV6)
			return M(NONE); /* not IP: nothing more to say */
		mal = l3_parse(d, len, off, et, rep_end, depth != 0, p, &e);
		if (mal != M(NONE) || e.l4 == 0)
			return mal;
		x = e.l4;
		p->l4_off = (uint16_t)x;
		hend = e.ip_end < len ? e.ip_end : len;
		cend = e.ip_end < cap ? e.ip_end : cap;
		switch (p->l4_proto) {
		case IPP_TCP:
			return tcp_parse(d + x, x, hend, e.ip_end, cend, p);
		case IPP_UDP:
			mal = udp_parse(d + x, x, hend, e.ip_end, cend, p);
			if (mal != M(NONE) || !(p->flags & WEIR_PKT_F_L4))
				return mal;
			tun = udp_tunnel(p->dst_port);
			if (tun == WEIR_TUN_NONE)
				return M(NONE);
			x += 8;
			break;
		case IPP_ICMP:
		case IPP_ICMPV6:
			return icmp_parse(d + x, x, hend, e.ip_end, cend, p);
		case IPP_SCTP:
			return sctp_parse(d + x, x, hend, e.ip_end, cend, p);
		case IPP_IPIP:
			tun = p->ip_version == 4 ? WEIR_TUN_IPIP : WEIR_TUN_4IN6;
			et = ET_IPV4;
			break;
		case IPP_IPV6:
			tun = p->ip_version == 4 ? WEIR_TUN_6IN4 : WEIR_TUN_6IN6;
			et = ET_IPV6;
			break;
		case IPP_GRE:
			tun = WEIR_TUN_GRE;
			break;
		default:
			return M(NONE);
		}
		if (depth == 0)
			p->tunnel = (uint8_t)tun;
		/* tunnel headers are read up to len: the inner IP length takes over */
		if (tun == WEIR_TUN_GRE)
			mal = gre_walk(d, hend, &x, &et);
		else if (tun == WEIR_TUN_VXLAN)
			mal = vxlan_walk(d, hend, &x, &et);
		else if (tun == WEIR_TUN_GTPU)
			mal = gtpu_walk(d, hend, &x, &et);
		if (mal != M(NONE) || (et != ET_IPV4 && et != ET_IPV6))
			return mal;
		if (depth + 1 == WEIR_PKT_MAX_DEPTH)
			return M(TOO_DEEP);
		if (depth == 0 && layer == WEIR_PKT_OUTER) {
			scratch = *p;
			p = &scratch;
		}
		rep_end = e.ip_end;
		off = x;
	}
}

/*
 * Is the L4 header at x one the fast path takes: TCP, or UDP whose 8 bytes
 * are captured (hend = min(len, ip_end)) and whose destination port is not
 * a tunnel's? Anything else (cut UDP, VXLAN, GTP-U, ICMP...) goes the long way.
 */
static inline int fast_l4(const uint8_t *d, uint32_t x, uint32_t hend, unsigned l4p)
{
	if (l4p == IPP_TCP)
		return 1;
	return l4p == IPP_UDP && hend - x >= 8 && udp_tunnel(rd16(d + x + 2)) == WEIR_TUN_NONE;
}

/*
 * The common shape, without the general walk: Ethernet II, no VLAN tag or
 * one (802.1Q), IPv4 without options that is not a fragment or IPv6 without
 * extension headers, then TCP or UDP (fast_l4), the IP header captured. Such
 * a packet has no inner layer, so the layer does not matter. net_walk pays
 * for allowing every other shape at each step; this does not.
 *
 * Returns -1, having written nothing, for any other packet: the caller then
 * takes the general path. Otherwise it fills in what the general path would
 * (*p comes zeroed with pkt_len set) and returns the malformed reason, which
 * only the L4 parsers it shares with net_walk can set (a TCP header cut or
 * with a bad offset, a bad UDP length).
 */
static inline int parse_fast(const uint8_t *d, uint32_t len, uint32_t cap, struct weir_pkt *p)
{
	const uint8_t *h;
	uint32_t tagged, off, x, ip_end, hend, cend;
	uint16_t et;

	if (len < 18)
		return -1; /* too short for a tag plus any IP header anyway */
	/* without a branch, so that both shapes share the code below */
	tagged = rd16(d + 12) == ET_VLAN;
	off = 14 + 4 * tagged;
	et = rd16(d + off - 2);
	h = d + off;
	if (et == ET_IPV4) {
		uint32_t tot;

		/* version 4, IHL 5; TSO's length 0 or one under 20 take the long way */
		if (len - off < 20 || h[0] != 0x45)
			return -1;
		tot = rd16(h + 2);
		if (tot < 20 || (rd16(h + 6) & 0x3fff))
			return -1;
		ip_end = off + tot;
		x = off + 20;
		hend = ip_end < len ? ip_end : len;
		if (!fast_l4(d, x, hend, h[9]))
			return -1;
		ipv4_fill(p, h, off, tot);
	} else if (et == ET_IPV6) {
		uint32_t plen;

		if (len - off < 40 || (h[0] >> 4) != 6)
			return -1;
		plen = rd16(h + 4);
		if (plen == 0)
			return -1; /* jumbogram or GSO */
		ip_end = off + 40 + plen;
		x = off + 40;
		hend = ip_end < len ? ip_end : len;
		if (!fast_l4(d, x, hend, h[6]))
			return -1;
		ipv6_fill(p, h, off);
	} else {
		return -1;
	}
	p->ethertype = et;
	if (tagged) {
		p->vlan = vlan_id(d + 14);
		p->n_vlan = 1;
	}
	p->l4_off = (uint16_t)x;
	cend = ip_end < cap ? ip_end : cap;
	if (p->l4_proto == IPP_TCP)
		return tcp_parse(d + x, x, hend, ip_end, cend, p);
	return udp_parse(d + x, x, hend, ip_end, cend, p);
}

/*
 * The general walk, for every packet parse_fast passes on (*p zeroed, pkt_len
 * set). Kept out of line so that the fast path stays a small leaf function
 * that saves no registers.
 */
static __attribute__((noinline)) int parse_general(const uint8_t *data, uint32_t len,
						   uint32_t pkt_len, enum weir_linktype link,
						   enum weir_pkt_layer layer, struct weir_pkt *p)
{
	/* offsets are 16-bit: headers are looked for in the first 64 KiB only */
	uint32_t hlen = len < 0xffff ? len : 0xffff;
	uint32_t off = 0;
	uint16_t et = 0;
	int mal;

	mal = link_walk(data, hlen, (int)link, p, &off, &et);
	if (mal == M(NONE)) {
		p->ethertype = et;
		/* Payload runs to the frame's captured end, past the head we were given
		 * when the frame is chained (the caller reads the rest from the segments). */
		uint32_t cap = pkt_len > len ? pkt_len : len;
		mal = net_walk(data, hlen, cap, off, et, cap, layer, p);
	}
	p->malformed = (uint8_t)mal;
	return mal;
}

int weir_pkt_parse(const uint8_t *data, uint32_t len, uint32_t pkt_len, enum weir_linktype link,
		   enum weir_pkt_layer layer, struct weir_pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->pkt_len = pkt_len;
	if (link == WEIR_LINK_ETHERNET) {
		/* the same 64 KiB limit as the general path */
		int mal = parse_fast(data, len < 0xffff ? len : 0xffff,
				     pkt_len > len ? pkt_len : len, p);

		if (mal >= 0) {
			p->malformed = (uint8_t)mal;
			return mal;
		}
	}
	return parse_general(data, len, pkt_len, link, layer, p);
}

static const char *const malformed_names[] = {
#define WEIR_PKT_X_NAME(name, str) [WEIR_PKT_MAL_##name] = str,
	WEIR_PKT_MALFORMED_LIST(WEIR_PKT_X_NAME)
#undef WEIR_PKT_X_NAME
};

const char *weir_pkt_malformed_name(unsigned reason)
{
	return reason < WEIR_PKT_MAL__COUNT ? malformed_names[reason] : "?";
}

int weir_linktype_supported(int dlt)
{
	switch (dlt) {
	case WEIR_LINK_ETHERNET:
	case WEIR_LINK_RAW:
	case WEIR_LINK_RAW_BSD:
	case WEIR_LINK_RAW_OBSD:
	case WEIR_LINK_IPV4:
	case WEIR_LINK_IPV6:
	case WEIR_LINK_SLL:
	case WEIR_LINK_SLL2:
	case WEIR_LINK_NULL:
		return 1;
	default:
		return 0;
	}
}

void weir_pkt_format_ip(uint8_t ip_version, const uint8_t ip[16], char *buf, unsigned buflen)
{
	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (ip_version != 4 && ip_version != 6)
		return;
	/* v4 is the first 4 bytes, not a v4-mapped v6 address */
	if (!inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, ip, buf, buflen))
		buf[0] = '\0'; /* too small a buffer */
}
