/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_field: a packet's non-address fields as numbers, inline: the burst
 * fields and plain keys (weir_key.c) and the aggregates that take a field
 * (weir_agg.c, per packet and sketch) read them. Not part of the module's
 * interface.
 */
#ifndef WEIR_FIELD_H
#define WEIR_FIELD_H

#include "weir_window.h"

static inline bool weir_pkt_has_ports(const struct weir_pkt *p)
{
	return (p->flags & WEIR_PKT_F_L4) &&
	       (p->l4_proto == 6 || p->l4_proto == 17 || p->l4_proto == 132);
}

/* Numeric value of a non-address field; false when the packet lacks it
 * (and for the addresses: weir_field_get gives those). */
static inline bool weir_field_num(enum weir_field f, const struct weir_pkt *p,
				  const struct weir_burst_meta *m, unsigned i, uint64_t *v)
{
	switch (f) {
	case WEIR_FIELD_SRC_PORT: *v = p->src_port; return weir_pkt_has_ports(p);
	case WEIR_FIELD_DST_PORT: *v = p->dst_port; return weir_pkt_has_ports(p);
	case WEIR_FIELD_PROTO: *v = p->proto; return p->ip_version != 0;
	case WEIR_FIELD_L4_PROTO: *v = p->l4_proto; return p->ip_version != 0;
	case WEIR_FIELD_VLAN: *v = p->vlan; return p->n_vlan != 0;
	case WEIR_FIELD_IP_VERSION: *v = p->ip_version; return p->ip_version != 0;
	case WEIR_FIELD_TCP_FLAGS:
		*v = p->tcp_flags;
		return (p->flags & WEIR_PKT_F_L4) && p->l4_proto == 6;
	case WEIR_FIELD_LENGTH: *v = p->pkt_len; return true;
	case WEIR_FIELD_IP_LEN: *v = p->ip_bytes; return p->ip_version != 0;
	case WEIR_FIELD_PAYLOAD_LEN: *v = p->payload_len; return p->ip_version != 0;
	case WEIR_FIELD_TTL: *v = p->ttl; return p->ip_version != 0;
	case WEIR_FIELD_TCP_WINDOW:
		*v = p->tcp_window;
		return (p->flags & WEIR_PKT_F_L4) && p->l4_proto == 6;
	case WEIR_FIELD_FLOW_ID: *v = m && m->flow_id ? m->flow_id[i] : 0; return *v != 0;
	case WEIR_FIELD_DIRECTION: *v = m && m->direction ? m->direction[i] : 0; return *v != 0;
	case WEIR_FIELD_SRC_LABEL: *v = m && m->src_label ? m->src_label[i] : 0; return *v != 0;
	case WEIR_FIELD_DST_LABEL: *v = m && m->dst_label ? m->dst_label[i] : 0; return *v != 0;
	case WEIR_FIELD_DST_NAME: *v = m && m->dst_name ? m->dst_name[i] : 0; return *v != 0;
	default: *v = 0; return false; /* rule: written by the window stage per matched rule */
	}
}

#endif /* WEIR_FIELD_H */
