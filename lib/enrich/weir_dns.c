/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_dns: A/AAAA answers of DNS responses -> (address -> name) tables.
 *
 * Parsing (weir_dns_parse), per packet, no reassembly:
 * - UDP or TCP with port 53 on either side, QR = 1 (a response), any opcode
 *   and rcode. UDP: the message is the datagram payload (bytes after the
 *   last record are ignored). TCP: the segment must start with the 2-byte
 *   length prefix and hold the whole message; several complete messages
 *   in one segment are all read; a message continued in a later segment
 *   gives nothing.
 * - Every record of every section (questions, answers, authority,
 *   additional) is walked with bounds checks against the message and the
 *   frame: a message whose counts promise more than it holds (a capture cut
 *   short, a lying header), or with any invalid name, gives no answer at
 *   all (none of it is trusted).
 * - Except in the first fragment of an IP-fragmented UDP datagram (MF set,
 *   offset 0; large DNSSEC/EDNS answers): the message legitimately goes on
 *   in later fragments, which weir does not reassemble, so the answers of
 *   the records complete in this fragment are kept (the question must be
 *   complete); the later fragments carry no UDP header and give nothing.
 *   tshark shows the same answers in the frame that completes reassembly.
 * - Names: labels of 1..63 bytes, compression pointers (0b11) anywhere,
 *   at most WEIR_DNS_MAX_HOPS pointers followed per name (loops end
 *   there), at most 255 bytes in wire form; the 0b01/0b10 label types are
 *   invalid. The question name is written lower-case (ASCII), without a
 *   trailing dot, "." for the root; bytes other than printable ASCII, and
 *   '.' or '\' inside a label, are written \DDD (decimal, as in zone files
 *   and dig). A question name longer than WEIR_DNS_NAME_MAX - 1 characters
 *   written out makes the message unusable (0 answers).
 * - Emitted: each answer-section record of class IN and type A (rdlength
 *   4) or AAAA (rdlength 16), carrying the FIRST question's name (what the
 *   client asked for, not the owner name at the end of a CNAME chain);
 *   records of the authority and additional sections are not. A response
 *   without a question gives nothing. TTLs with the top bit set count as 0
 *   (RFC 2181 section 8); expiry = ts + ttl * 1e9 (saturating).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "weir_enrich.h"

#define WEIR_DNS_MAX_HOPS 128 /* compression pointers followed in one name */
#define WEIR_DNS_PROBE 8      /* probe window of the address table (slots) */
#define WEIR_DNS_NAMES_MAX (1u << 22) /* names kept by a weir_dns_names */

/* ------------------------------------------------------------------- hash */

static inline uint64_t rd64le(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return rte_le_to_cpu_64(v);
}

static inline uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64_C(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return k;
}

/* MurmurHash64A's block loop with a murmur3 finaliser; never 0. */
uint64_t weir_dns_name_hash(const char *lowercase_name)
{
	const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
	const uint8_t *p = (const uint8_t *)lowercase_name;
	size_t len = strlen(lowercase_name), i;
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (len * m), t = 0;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t k = rd64le(p + i);

		k *= m;
		k ^= k >> 47;
		k *= m;
		h ^= k;
		h *= m;
	}
	for (size_t j = len - i; j > 0; j--)
		t = (t << 8) | p[i + j - 1];
	if (len - i) {
		h ^= t;
		h *= m;
	}
	h = fmix64(h);
	return h ? h : 1;
}

/* ---------------------------------------------------------------- parsing */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum { NAME_OK = 0, NAME_BAD = -1, NAME_SHORT = -2 };

/*
 * Walk the name at *off of message m (mlen bytes); on success *off is the
 * first byte after the name's in-place part. With out, the presentation form
 * (lower-case, \DDD escapes, "." for the root) is written there
 * (WEIR_DNS_NAME_MAX bytes). Returns NAME_OK, NAME_SHORT when it needs bytes
 * past mlen (a label or a pointer target), NAME_BAD when it is invalid.
 */
static int walk_name(const uint8_t *m, uint32_t mlen, uint32_t *off, char *out)
{
	uint32_t pos = *off, wire = 1, n = 0;
	unsigned hops = 0;
	bool jumped = false;

	for (;;) {
		uint8_t c;

		if (pos >= mlen)
			return NAME_SHORT;
		c = m[pos];
		if (c == 0) {
			if (!jumped)
				*off = pos + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= mlen)
				return NAME_SHORT;
			if (!jumped) {
				*off = pos + 2;
				jumped = true;
			}
			if (++hops > WEIR_DNS_MAX_HOPS)
				return NAME_BAD;
			pos = (uint32_t)(c & 0x3f) << 8 | m[pos + 1];
			continue;
		}
		if (c & 0xc0)
			return NAME_BAD; /* 0x40 (extended) and 0x80 (reserved) label types */
		wire += 1u + c;
		if (wire > 255)
			return NAME_BAD;
		if (c >= mlen - pos) /* the label's c bytes after its length byte */
			return NAME_SHORT;
		if (out) {
			const uint8_t *s = m + pos + 1;

			if (n) {
				if (n + 1 >= WEIR_DNS_NAME_MAX)
					return NAME_BAD;
				out[n++] = '.';
			}
			for (unsigned i = 0; i < c; i++) {
				uint8_t ch = s[i];

				if (ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\') {
					if (n + 1 >= WEIR_DNS_NAME_MAX)
						return NAME_BAD;
					out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
				} else {
					if (n + 4 >= WEIR_DNS_NAME_MAX)
						return NAME_BAD;
					out[n++] = '\\';
					out[n++] = (char)('0' + ch / 100);
					out[n++] = (char)('0' + ch / 10 % 10);
					out[n++] = (char)('0' + ch % 10);
				}
			}
		}
		pos += 1u + c;
	}
	if (out) {
		if (n == 0)
			out[n++] = '.';
		out[n] = '\0';
	}
	return NAME_OK;
}

static inline uint64_t expiry(uint64_t ts, uint32_t ttl)
{
	uint64_t e;

	if (ttl > INT32_MAX) /* RFC 2181 8: a TTL with the top bit set is 0 */
		ttl = 0;
	if (__builtin_add_overflow(ts, (uint64_t)ttl * UINT64_C(1000000000), &e))
		return UINT64_MAX;
	return e;
}

/*
 * One DNS message; answers written to out[0..max); returns how many, 0 if
 * unusable. With `cut` (the datagram continues in later IP fragments), the
 * message may end anywhere after the questions: the answers of the records
 * complete before the end are kept. Otherwise running past mlen is malformed.
 */
static unsigned parse_msg(const uint8_t *m, uint32_t mlen, bool cut, uint64_t ts,
			  struct weir_dns_answer *out, unsigned max)
{
	char name[WEIR_DNS_NAME_MAX];
	uint32_t qd, an, nrr, off = 12, r;
	unsigned k = 0;
	int rc;

	if (mlen < 12 || !(m[2] & 0x80))
		return 0;
	qd = rd16(m + 4);
	an = rd16(m + 6);
	nrr = an + rd16(m + 8) + rd16(m + 10);
	if (qd == 0)
		return 0;
	for (r = 0; r < qd; r++) {
		if (walk_name(m, mlen, &off, r == 0 ? name : NULL) != NAME_OK)
			return 0;
		if (mlen - off < 4)
			return 0;
		off += 4;
	}
	for (r = 0; r < nrr; r++) {
		uint16_t type, cls, rdlen;

		rc = walk_name(m, mlen, &off, NULL);
		if (rc == NAME_OK && mlen - off < 10)
			rc = NAME_SHORT;
		if (rc == NAME_OK) {
			type = rd16(m + off);
			cls = rd16(m + off + 2);
			rdlen = rd16(m + off + 8);
			if (mlen - off - 10 < rdlen)
				rc = NAME_SHORT;
		}
		if (rc == NAME_SHORT && cut)
			break;
		if (rc != NAME_OK)
			return 0;
		if (r < an && cls == 1 && k < max &&
		    ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16))) {
			struct weir_dns_answer *a = &out[k++];

			a->ip_version = type == 1 ? 4 : 6;
			memset(a->ip, 0, sizeof(a->ip));
			memcpy(a->ip, m + off + 10, rdlen);
			a->expiry_ns = expiry(ts, rd32(m + off + 4));
		}
		off += 10u + rdlen;
	}
	if (k) {
		uint64_t h = weir_dns_name_hash(name);
		size_t nl = strlen(name) + 1;

		for (unsigned i = 0; i < k; i++) {
			out[i].name_hash = h;
			memcpy(out[i].name, name, nl);
		}
	}
	return k;
}

unsigned weir_dns_parse(const struct weir_pkt *p, const uint8_t *frame, uint32_t len,
			uint64_t ts_ns, struct weir_dns_answer *out, unsigned max)
{
	const uint8_t *pl;
	uint32_t plen, got = 0;

	if (!p || !frame || !out || max == 0 || !(p->flags & WEIR_PKT_F_L4) ||
	    p->payload_off == 0 || (p->l4_proto != 17 && p->l4_proto != 6) ||
	    (p->src_port != 53 && p->dst_port != 53) || p->payload_off >= len)
		return 0;
	pl = frame + p->payload_off;
	plen = p->payload_len;
	if (plen > len - p->payload_off)
		plen = len - p->payload_off;
	if (p->l4_proto == 17) {
		/* first fragment of a datagram cut by IP fragmentation (weir does not reassemble) */
		bool cut = (p->flags & (WEIR_PKT_F_FRAG | WEIR_PKT_F_FRAG_FIRST)) ==
			   (WEIR_PKT_F_FRAG | WEIR_PKT_F_FRAG_FIRST);

		return parse_msg(pl, plen, cut, ts_ns, out, max);
	}
	/* TCP: complete length-prefixed messages from the segment start */
	while (plen >= 2 && got < max) {
		uint32_t mlen = rd16(pl);

		if (mlen == 0 || mlen > plen - 2)
			break;
		got += parse_msg(pl + 2, mlen, false, ts_ns, out + got, max - got);
		pl += 2 + mlen;
		plen -= 2 + mlen;
	}
	return got;
}

/* ---------------------------------------------------------- address table */

struct dns_slot {
	uint64_t k0, k1;    /* address; IPv4 in the low bytes of k0 */
	uint64_t hash;      /* name hash */
	uint64_t expiry;    /* ns */
	uint32_t ver;       /* 4, 6; 0 = empty */
	uint32_t _pad;
};

struct weir_dns_table {
	struct dns_slot *s;
	uint32_t mask;
	uint32_t window;
	uint64_t evictions;
	bool rte; /* s from rte_zmalloc */
};

static inline void dns_key(uint8_t ver, const uint8_t ip[16], uint64_t *k0, uint64_t *k1)
{
	if (ver == 4) {
		uint32_t v;

		memcpy(&v, ip, 4);
		*k0 = v;
		*k1 = 0;
	} else {
		memcpy(k0, ip, 8);
		memcpy(k1, ip + 8, 8);
	}
}

static inline uint32_t dns_slot_of(const struct weir_dns_table *t, uint8_t ver, uint64_t k0,
				   uint64_t k1)
{
	uint64_t h = k0 * UINT64_C(0x9e3779b97f4a7c15) ^ (k1 + ver) * UINT64_C(0xc2b2ae3d27d4eb4f);

	return (uint32_t)(fmix64(h) & t->mask);
}

struct weir_dns_table *weir_dns_table_create(uint32_t capacity, int socket, char *err,
					     size_t errlen)
{
	struct weir_dns_table *t;
	uint64_t cap = 1;

	if (capacity == 0 || capacity > (1u << 31)) {
		if (err && errlen)
			snprintf(err, errlen, "dns table: capacity %u out of range (1..2^31)", capacity);
		return NULL;
	}
	while (cap < capacity)
		cap <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->mask = (uint32_t)(cap - 1);
	t->window = cap < WEIR_DNS_PROBE ? (uint32_t)cap : WEIR_DNS_PROBE;
	/* DPDK memory on the worker's socket when the EAL is up, else the C heap */
	if (rte_lcore_count() > 0) {
		t->s = rte_zmalloc_socket("weir_dns", cap * sizeof(*t->s), RTE_CACHE_LINE_SIZE,
					  socket);
		t->rte = t->s != NULL;
	}
	if (!t->s)
		t->s = calloc(cap, sizeof(*t->s));
	if (!t->s) {
		free(t);
		goto nomem;
	}
	return t;
nomem:
	if (err && errlen)
		snprintf(err, errlen, "dns table: out of memory (%u entries)", capacity);
	return NULL;
}

void weir_dns_table_free(struct weir_dns_table *t)
{
	if (!t)
		return;
	if (t->rte)
		rte_free(t->s);
	else
		free(t->s);
	free(t);
}

void weir_dns_table_insert_ts(struct weir_dns_table *t, const struct weir_dns_answer *a,
			      uint64_t ts_ns)
{
	struct dns_slot *victim = NULL, *empty = NULL;
	uint64_t k0, k1;
	uint32_t i, j;

	if (a->ip_version != 4 && a->ip_version != 6)
		return;
	dns_key(a->ip_version, a->ip, &k0, &k1);
	i = dns_slot_of(t, a->ip_version, k0, k1);
	for (j = 0; j < t->window; j++) {
		struct dns_slot *s = &t->s[(i + j) & t->mask];

		if (s->ver == 0) {
			empty = s;
			break; /* nothing is ever deleted: the address is not further on */
		}
		if (s->ver == a->ip_version && s->k0 == k0 && s->k1 == k1) {
			s->hash = a->name_hash;
			s->expiry = a->expiry_ns;
			return;
		}
		if (!victim || s->expiry < victim->expiry)
			victim = s;
	}
	if (empty) {
		victim = empty;
	} else if (ts_ns == 0 || victim->expiry > ts_ns) {
		t->evictions++; /* a live entry (or one not known to be expired) goes */
	}
	victim->k0 = k0;
	victim->k1 = k1;
	victim->ver = a->ip_version;
	victim->hash = a->name_hash;
	victim->expiry = a->expiry_ns;
}

void weir_dns_table_insert(struct weir_dns_table *t, const struct weir_dns_answer *a)
{
	weir_dns_table_insert_ts(t, a, 0);
}

uint64_t weir_dns_table_lookup(const struct weir_dns_table *t, uint8_t ip_version,
			       const uint8_t ip[16], uint64_t ts_ns)
{
	uint64_t k0, k1;
	uint32_t i, j;

	dns_key(ip_version, ip, &k0, &k1);
	i = dns_slot_of(t, ip_version, k0, k1);
	for (j = 0; j < t->window; j++) {
		const struct dns_slot *s = &t->s[(i + j) & t->mask];

		if (s->ver == 0)
			return 0;
		if (s->ver == ip_version && s->k0 == k0 && s->k1 == k1)
			return ts_ns < s->expiry ? s->hash : 0;
	}
	return 0;
}

uint64_t weir_dns_table_evictions(const struct weir_dns_table *t)
{
	return t ? t->evictions : 0;
}

/* ------------------------------------------------------------ names (control) */

struct weir_dns_names {
	uint64_t *keys; /* 0 = empty */
	char **vals;
	uint32_t mask;
	uint32_t n;
};

struct weir_dns_names *weir_dns_names_create(void)
{
	struct weir_dns_names *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->mask = 1023;
	d->keys = calloc(1024, sizeof(*d->keys));
	d->vals = calloc(1024, sizeof(*d->vals));
	if (!d->keys || !d->vals) {
		weir_dns_names_free(d);
		return NULL;
	}
	return d;
}

void weir_dns_names_free(struct weir_dns_names *d)
{
	if (!d)
		return;
	if (d->vals)
		for (uint32_t i = 0; i <= d->mask; i++)
			free(d->vals[i]);
	free(d->keys);
	free(d->vals);
	free(d);
}

static uint32_t names_slot(const struct weir_dns_names *d, uint64_t hash)
{
	uint32_t i = (uint32_t)fmix64(hash) & d->mask;

	while (d->keys[i] && d->keys[i] != hash)
		i = (i + 1) & d->mask;
	return i;
}

static bool names_grow(struct weir_dns_names *d)
{
	uint32_t nsz = (d->mask + 1) * 2, i;
	struct weir_dns_names nd = {.mask = nsz - 1};

	nd.keys = calloc(nsz, sizeof(*nd.keys));
	nd.vals = calloc(nsz, sizeof(*nd.vals));
	if (!nd.keys || !nd.vals) {
		free(nd.keys);
		free(nd.vals);
		return false;
	}
	for (i = 0; i <= d->mask; i++) {
		if (d->keys[i]) {
			uint32_t s = names_slot(&nd, d->keys[i]);

			nd.keys[s] = d->keys[i];
			nd.vals[s] = d->vals[i];
		}
	}
	free(d->keys);
	free(d->vals);
	d->keys = nd.keys;
	d->vals = nd.vals;
	d->mask = nd.mask;
	return true;
}

/* A hash already known keeps its first name; past WEIR_DNS_NAMES_MAX names, new ones are dropped. */
void weir_dns_names_add(struct weir_dns_names *d, uint64_t hash, const char *name)
{
	uint32_t s;
	char *v;

	if (!d || hash == 0 || !name)
		return;
	s = names_slot(d, hash);
	if (d->keys[s])
		return;
	if (d->n >= WEIR_DNS_NAMES_MAX)
		return;
	if ((d->n + 1) * 2 > d->mask + 1) {
		if (!names_grow(d))
			return;
		s = names_slot(d, hash);
	}
	v = strdup(name);
	if (!v)
		return;
	d->keys[s] = hash;
	d->vals[s] = v;
	d->n++;
}

const char *weir_dns_names_get(const struct weir_dns_names *d, uint64_t hash)
{
	uint32_t s;

	if (!d || hash == 0)
		return NULL;
	s = names_slot(d, hash);
	return d->keys[s] ? d->vals[s] : NULL;
}
