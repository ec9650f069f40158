/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Group-by keys: each query's fields are packed into a fixed 48-byte key at
 * offsets computed once per query, so extraction is a short switch per field
 * and comparison is a few 64-bit word compares.
 */
#include <stdio.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "weir_window.h"

static const uint8_t field_size[] = {
#define WEIR_X(e, s, n) [WEIR_FIELD_##e] = n,
	WEIR_FIELD_LIST(WEIR_X)
#undef WEIR_X
};

static bool field_is_ip(enum weir_field f)
{
	return f == WEIR_FIELD_SRC_IP || f == WEIR_FIELD_DST_IP;
}

int weir_query_compile(struct weir_query *q, const struct weir_query_conf *c, uint32_t id,
		       char *err, size_t errlen)
{
	unsigned off = 0;
	bool has_ip = false;

	memset(q, 0, sizeof(*q));
	q->conf = *c;
	q->id = id;
	q->n_aggs = c->n_aggs;
	/* Addresses first: 16-byte fields stay word aligned. */
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < c->n_group_by; i++) {
			enum weir_field f = c->group_by[i];
			if (field_is_ip(f) != (pass == 0))
				continue;
			q->field_off[i] = (uint8_t)off;
			off += field_size[f];
			has_ip |= field_is_ip(f);
		}
	}
	q->ipver_off = -1;
	q->rule_off = -1;
	for (unsigned i = 0; i < c->n_group_by; i++)
		if (c->group_by[i] == WEIR_FIELD_RULE)
			q->rule_off = (int8_t)q->field_off[i];
	if (has_ip)
		q->ipver_off = (int8_t)off++;
	if (off > sizeof(struct weir_key)) {
		snprintf(err, errlen, "query '%s': group-by key of %u bytes exceeds %zu", c->name, off,
			 sizeof(struct weir_key));
		return -1;
	}
	q->key_words = (off + 7) / 8;
	if (q->key_words == 0)
		q->key_words = 1; /* the global group: one all-zero key */
	return 0;
}

static inline bool pkt_has_ports(const struct weir_pkt *p)
{
	return (p->flags & WEIR_PKT_F_L4) &&
	       (p->l4_proto == 6 || p->l4_proto == 17 || p->l4_proto == 132);
}

static inline void put16(uint8_t *dst, uint16_t v)
{
	memcpy(dst, &v, 2);
}

bool weir_key_extract(const struct weir_query *q, const struct weir_pkt *p, struct weir_key *k)
{
	uint8_t *b = (uint8_t *)k->w;

	/* The whole key, a constant size: two vector stores, where a loop over
	 * key_words compiles to a call to memset. */
	*k = (struct weir_key){{0}};
	for (unsigned i = 0; i < q->conf.n_group_by; i++) {
		uint8_t *dst = b + q->field_off[i];
		switch (q->conf.group_by[i]) {
		case WEIR_FIELD_SRC_IP:
			if (!p->ip_version)
				return false;
			memcpy(dst, p->src_ip, 16);
			break;
		case WEIR_FIELD_DST_IP:
			if (!p->ip_version)
				return false;
			memcpy(dst, p->dst_ip, 16);
			break;
		case WEIR_FIELD_SRC_PORT:
			if (!pkt_has_ports(p))
				return false;
			put16(dst, p->src_port);
			break;
		case WEIR_FIELD_DST_PORT:
			if (!pkt_has_ports(p))
				return false;
			put16(dst, p->dst_port);
			break;
		case WEIR_FIELD_PROTO:
			if (!p->ip_version)
				return false;
			*dst = p->proto;
			break;
		case WEIR_FIELD_L4_PROTO:
			if (!p->ip_version)
				return false;
			*dst = p->l4_proto;
			break;
		case WEIR_FIELD_VLAN:
			if (!p->n_vlan)
				return false;
			put16(dst, p->vlan);
			break;
		case WEIR_FIELD_IP_VERSION:
			if (!p->ip_version)
				return false;
			*dst = p->ip_version;
			break;
		case WEIR_FIELD_TCP_FLAGS:
			if (!(p->flags & WEIR_PKT_F_L4) || p->l4_proto != 6)
				return false;
			*dst = p->tcp_flags;
			break;
		case WEIR_FIELD_RULE:
			break; /* not in the packet: the window stage writes each matched rule */
		default:
			return false;
		}
	}
	if (q->ipver_off >= 0)
		b[q->ipver_off] = p->ip_version;
	return true;
}

uint64_t weir_key_field_uint(const struct weir_query *q, const struct weir_key *k, unsigned i)
{
	const uint8_t *src = (const uint8_t *)k->w + q->field_off[i];
	uint16_t v16;

	uint32_t v32;

	switch (field_size[q->conf.group_by[i]]) {
	case 1:
		return *src;
	case 2:
		memcpy(&v16, src, 2);
		return v16;
	case 4:
		memcpy(&v32, src, 4);
		return v32;
	default:
		return 0;
	}
}

void weir_key_field_ip(const struct weir_query *q, const struct weir_key *k, unsigned i,
		       uint8_t *ip_version, uint8_t ip[16])
{
	const uint8_t *b = (const uint8_t *)k->w;

	memcpy(ip, b + q->field_off[i], 16);
	*ip_version = q->ipver_off >= 0 ? b[q->ipver_off] : 0;
}

uint32_t weir_key_hash(const struct weir_key *k, unsigned words)
{
	uint32_t h = 0x9747b28cu;

	for (unsigned i = 0; i < words; i++)
		h = rte_hash_crc_8byte(k->w[i], h);
	return h;
}
