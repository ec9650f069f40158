/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_pkt: bounds-checked L2-L4 parser.
 *
 * weir_pkt_parse() turns the first bytes of a frame into a compact
 * descriptor (struct weir_pkt). It never reads past `len`, never allocates
 * and knows nothing of DPDK, flows or queries. A malformed packet still
 * yields every field of the layers that did parse, plus the reason parsing
 * stopped (enum weir_pkt_malformed).
 *
 * Analysis layer: with WEIR_PKT_OUTER (the default) the address/protocol
 * fields come from the OUTERMOST IP header (VLAN, MPLS and PPPoE are
 * transparent; for 6in4 the outer IPv4). With WEIR_PKT_INNER they come from
 * the innermost IP header found behind a recognised tunnel (IP-in-IP, 6in4,
 * 4in6, 6in6, GRE, VXLAN on UDP 4789, GTP-U on UDP 2152); the outer tunnel
 * type is still reported in `tunnel`.
 *
 * Either way the whole packet is walked: `malformed` and `tunnel` do not
 * depend on the layer. `tunnel` is set by the outer protocol or UDP
 * destination port, even when the tunnel header is cut or carries no IP
 * (GTP-U echo, GRE with ARP); then, with WEIR_PKT_INNER, the fields stay
 * those of the outer header and WEIR_PKT_F_INNER is not set. Raw-IP and
 * null links report the ethertype of the IP version found (0x0800/0x86dd).
 */
#ifndef WEIR_PKT_H
#define WEIR_PKT_H

#include <stdint.h>

/* Link types of the capture or port (values are DLT_* numbers of libpcap). */
enum weir_linktype {
	WEIR_LINK_ETHERNET = 1,    /* DLT_EN10MB */
	WEIR_LINK_RAW      = 101,  /* DLT_RAW (LINKTYPE_RAW): v4 or v6 by version nibble */
	WEIR_LINK_RAW_BSD  = 12,   /* DLT_RAW on some BSDs/OpenBSD numbering (14 too) */
	WEIR_LINK_IPV4     = 228,  /* LINKTYPE_IPV4 */
	WEIR_LINK_IPV6     = 229,  /* LINKTYPE_IPV6 */
	WEIR_LINK_SLL      = 113,  /* Linux cooked capture v1 */
	WEIR_LINK_SLL2     = 276,  /* Linux cooked capture v2 */
	WEIR_LINK_NULL     = 0,    /* BSD loopback: 4-byte host-order AF */
	WEIR_LINK_RAW_OBSD = 14,   /* DLT_RAW as OpenBSD numbers it */
};

enum weir_pkt_layer { WEIR_PKT_OUTER = 0, WEIR_PKT_INNER = 1 };

/* Why parsing stopped early. Names (second column) are printed in stats. */
#define WEIR_PKT_MALFORMED_LIST(X) \
	X(NONE,             "none")             \
	X(TRUNCATED_L2,     "truncated-l2")     \
	X(TRUNCATED_VLAN,   "truncated-vlan")   \
	X(TRUNCATED_MPLS,   "truncated-mpls")   \
	X(TRUNCATED_PPPOE,  "truncated-pppoe")  \
	X(TRUNCATED_L3,     "truncated-l3")     \
	X(BAD_IP_VERSION,   "bad-ip-version")   \
	X(BAD_IHL,          "bad-ihl")          \
	X(BAD_IP_LEN,       "bad-ip-len")       \
	X(BAD_IPV6_EXT,     "bad-ipv6-ext")     \
	X(TRUNCATED_L4,     "truncated-l4")     \
	X(BAD_TCP_OFF,      "bad-tcp-off")      \
	X(BAD_UDP_LEN,      "bad-udp-len")      \
	X(TRUNCATED_TUNNEL, "truncated-tunnel") \
	X(TOO_DEEP,         "too-deep")         \
	X(BAD_LINK,         "bad-link")         \
	X(BAD_TUNNEL,       "bad-tunnel")

enum weir_pkt_malformed {
#define WEIR_PKT_X_ENUM(name, str) WEIR_PKT_MAL_##name,
	WEIR_PKT_MALFORMED_LIST(WEIR_PKT_X_ENUM)
#undef WEIR_PKT_X_ENUM
	WEIR_PKT_MAL__COUNT
};

/* Tunnel encapsulations recognised (outermost one is reported). */
enum weir_tunnel {
	WEIR_TUN_NONE = 0, WEIR_TUN_IPIP, WEIR_TUN_6IN4, WEIR_TUN_4IN6, WEIR_TUN_6IN6,
	WEIR_TUN_GRE, WEIR_TUN_VXLAN, WEIR_TUN_GTPU,
};

/* flags */
#define WEIR_PKT_F_FRAG       0x0001 /* IPv4 MF or offset != 0, or IPv6 fragment header */
#define WEIR_PKT_F_FRAG_FIRST 0x0002 /* fragment with offset 0 (L4 header present) */
#define WEIR_PKT_F_IPV4_OPTS  0x0004 /* IPv4 header has options */
#define WEIR_PKT_F_PPPOE      0x0008
#define WEIR_PKT_F_MPLS       0x0010
#define WEIR_PKT_F_L4         0x0020 /* ports / tcp flags / l4 offsets are valid */
#define WEIR_PKT_F_IPV6_EXT   0x0040 /* IPv6 extension headers were walked */
#define WEIR_PKT_F_INNER      0x0080 /* fields describe an inner (tunnelled) header */
#define WEIR_PKT_F_PORTS      0x0100 /* src_port/dst_port captured (implied by F_L4 for
					TCP/UDP/SCTP/ICMP), even when the rest of the
					L4 header is cut: what tshark shows */

/*
 * Nesting limits; going past one is WEIR_PKT_MAL_TOO_DEEP (IPv6 extension
 * headers: bad-ipv6-ext). Headers are looked for in the first 64 KiB only.
 *
 * Reasons added after the first list: bad-link (link type not supported),
 * bad-tunnel (an invalid tunnel header, e.g. a GTP-U extension of length 0).
 */
#define WEIR_PKT_MAX_VLAN      8 /* stacked VLAN tags */
#define WEIR_PKT_MAX_MPLS     32 /* MPLS labels (Linux routes carry at most 30) */
#define WEIR_PKT_MAX_DEPTH     4 /* IP headers, the outermost included */
#define WEIR_PKT_MAX_IPV6_EXT  8 /* extension headers per IP header */
#define WEIR_PKT_MAX_GTP_EXT   8 /* GTP-U extension headers */

/*
 * One packet, as parsed. 76 bytes; offsets are from the start of the frame.
 * IPv4 addresses are stored in the first 4 bytes of src_ip/dst_ip (network
 * order), the other 12 bytes zero.
 */
struct weir_pkt {
	uint32_t pkt_len;      /* captured length of the whole frame (all segments) */
	uint32_t ip_bytes;     /* analysis-layer IPv4 total length, or IPv6 payload length + 40; 0 if no IP */
	uint32_t payload_len;  /* L4 payload bytes present in the capture (clamped to caplen and IP length) */
	uint16_t l3_off;       /* analysis-layer IP header; 0 if none */
	uint16_t l4_off;       /* upper-layer header; 0 if none */
	uint16_t payload_off;  /* first payload byte; 0 if none */
	uint16_t frag_off;     /* fragment offset in bytes */
	uint16_t src_port;     /* host order; ICMP: type, code in dst_port */
	uint16_t dst_port;
	uint16_t vlan;         /* outermost VLAN ID, 0 if untagged */
	uint16_t vlan_inner;   /* second VLAN ID (QinQ), 0 if none */
	uint16_t flags;        /* WEIR_PKT_F_* */
	uint16_t ethertype;    /* ethertype after VLAN/MPLS/PPPoE, 0 if none */
	uint8_t  ip_version;   /* 4, 6 or 0 (not IP) */
	uint8_t  proto;        /* IPv4 protocol or IPv6 fixed header's Next Header */
	uint8_t  l4_proto;     /* upper-layer protocol after IPv6 extension headers */
	uint8_t  ttl;          /* TTL / hop limit */
	uint8_t  tcp_flags;
	uint8_t  n_vlan;       /* VLAN tags seen */
	uint8_t  tunnel;       /* enum weir_tunnel */
	uint8_t  malformed;    /* enum weir_pkt_malformed */
	uint16_t tcp_window;
	uint16_t _pad;
	uint8_t  src_ip[16];
	uint8_t  dst_ip[16];
};

/*
 * Parse `len` contiguous bytes at `data` (the start of a frame of total
 * captured length `pkt_len`, pkt_len >= len; len < pkt_len only when the
 * caller gave a head of a multi-segment frame). Fills *p completely (it is
 * zeroed first). Returns p->malformed (0 when the packet parsed cleanly).
 */
int weir_pkt_parse(const uint8_t *data, uint32_t len, uint32_t pkt_len,
		   enum weir_linktype link, enum weir_pkt_layer layer,
		   struct weir_pkt *p);

/* Name of a malformed reason ("truncated-l3"), "?" when out of range. */
const char *weir_pkt_malformed_name(unsigned reason);

/* Is `link` a link type weir_pkt_parse understands? */
int weir_linktype_supported(int dlt);

/*
 * Format the analysis-layer src/dst address ("10.0.0.1", "2001:db8::1"):
 * IPv4 from the first 4 bytes. Writes "" for ip_version 0 or a buffer too
 * small (46 bytes always suffice); nothing when buflen is 0.
 */
void weir_pkt_format_ip(uint8_t ip_version, const uint8_t ip[16], char *buf, unsigned buflen);

#endif /* WEIR_PKT_H */
