/* SPDX-License-Identifier: BSD-3-Clause
 *
 * hsmatch: see hsmatch.h. Test code: plain heap, simple structures.
 */
#include "hsmatch.h"

#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir_pkt.h"

#define STREAM_HT (1u << 16)
#define ETH_HLEN 14

struct tuple {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t proto, version;
};

struct stream_ht {
	struct tuple key[STREAM_HT];
	uint32_t id[STREAM_HT];      /* id + 1; 0 = empty */
	uint32_t n;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t tuple_hash(const struct tuple *t)
{
	uint32_t h = 2166136261u;
	const uint8_t *b = (const uint8_t *)t;
	for (size_t i = 0; i < sizeof(*t); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static int stream_of(struct stream_ht *ht, const struct tuple *t, uint32_t *id)
{
	uint32_t h = tuple_hash(t) & (STREAM_HT - 1);
	for (uint32_t probe = 0; probe < STREAM_HT; probe++, h = (h + 1) & (STREAM_HT - 1)) {
		if (!ht->id[h]) {
			ht->key[h] = *t;
			ht->id[h] = ++ht->n;
			*id = ht->n - 1;
			return 0;
		}
		if (!memcmp(&ht->key[h], t, sizeof(*t))) {
			*id = ht->id[h] - 1;
			return 0;
		}
	}
	return -1;
}

/*
 * The compat definition, decided on weir_pkt_parse's descriptor of the
 * bytes from offset 14 read as raw IPv4: like pcapscan, the ethertype is not
 * looked at, and the payload ends where the IPv4 total length says (clamped
 * to the capture), so a total length of 0 (TSO captures; weir's parser
 * takes the rest of the frame then) leaves no payload.
 */
static bool compat_payload(const uint8_t *frame, const struct weir_pkt *p)
{
	const uint8_t *ip = frame + p->l3_off;
	unsigned total_length = (unsigned)ip[2] << 8 | ip[3];
	return p->ip_version == 4 && !(p->flags & WEIR_PKT_F_FRAG) &&
	       (p->l4_proto == 6 || p->l4_proto == 17) && (p->flags & WEIR_PKT_F_L4) &&
	       p->payload_len > 0 && total_length + p->l3_off > p->payload_off;
}

/* IPv6 with only hop-by-hop, routing and destination-options headers
 * before TCP/UDP, and a payload length that covers the payload. */
static bool ext_ipv6_ok(const uint8_t *frame, uint32_t caplen, const struct weir_pkt *p)
{
	const uint8_t *ip = frame + p->l3_off;
	unsigned nh = ip[6];
	uint32_t off = p->l3_off + 40u;
	while (nh == 0 || nh == 43 || nh == 60) {
		if (off + 2 > caplen)
			return false;
		nh = frame[off];
		off += ((uint32_t)frame[off + 1] + 1) * 8;
	}
	unsigned plen = (unsigned)ip[4] << 8 | ip[5];
	return (nh == 6 || nh == 17) && plen + 40u + p->l3_off > p->payload_off;
}

/*
 * The "ext" definition of hs_oracle-ndpi-mix-ext.tsv: IPv4 or IPv6 behind
 * zero to two VLAN tags, found by the Ethernet parse. Unlike compat the
 * ethertypes count here (the oracle agrees exactly only that way), so the
 * fuzzed frames that compat reads as IPv4 at offset 14 are not scanned.
 */
static bool ext_payload(const uint8_t *frame, uint32_t caplen, const struct weir_pkt *p)
{
	if (p->n_vlan > 2 || (p->flags & (WEIR_PKT_F_PPPOE | WEIR_PKT_F_MPLS)) ||
	    p->l3_off != 14 + 4 * p->n_vlan || (p->flags & WEIR_PKT_F_FRAG) ||
	    !(p->flags & WEIR_PKT_F_L4) || !p->payload_len || (p->l4_proto != 6 && p->l4_proto != 17))
		return false;
	if (p->ip_version == 4)
		return compat_payload(frame, p);
	return p->ip_version == 6 && ext_ipv6_ok(frame, caplen, p);
}

static int add_payload(struct hsm_capture *cap, size_t *cap_pl, const uint8_t *frame,
		       const struct weir_pkt *p, struct stream_ht *ht)
{
	if (cap->n == *cap_pl) {
		size_t n = *cap_pl ? *cap_pl * 2 : 65536;
		struct hsm_payload *pl = realloc(cap->pl, n * sizeof(*pl));
		if (!pl)
			return -1;
		cap->pl = pl;
		*cap_pl = n;
	}
	struct tuple t;
	memset(&t, 0, sizeof(t));
	memcpy(t.src, p->src_ip, 16);
	memcpy(t.dst, p->dst_ip, 16);
	t.version = p->ip_version;
	t.sport = p->src_port;
	t.dport = p->dst_port;
	t.proto = p->l4_proto;
	struct hsm_payload *pl = &cap->pl[cap->n];
	if (stream_of(ht, &t, &pl->stream) < 0)
		return -1;
	pl->data = frame + p->payload_off;
	pl->len = p->payload_len;
	pl->scope = weir_match_pkt_of(p, 0);
	cap->n++;
	cap->bytes += p->payload_len;
	return 0;
}

/* The payload of one record under def, or false. */
static bool find_payload(const uint8_t *data, uint32_t caplen, enum hsm_def def, struct weir_pkt *p,
			 uint32_t *base)
{
	*base = ETH_HLEN;
	if (caplen <= ETH_HLEN)
		return false;
	if (def == HSM_COMPAT) {
		weir_pkt_parse(data + ETH_HLEN, caplen - ETH_HLEN, caplen - ETH_HLEN, WEIR_LINK_IPV4,
			       WEIR_PKT_OUTER, p);
		return compat_payload(data + ETH_HLEN, p);
	}
	*base = 0;
	weir_pkt_parse(data, caplen, caplen, WEIR_LINK_ETHERNET, WEIR_PKT_OUTER, p);
	return ext_payload(data, caplen, p);
}

int hsm_load(const char *path, enum hsm_def def, struct hsm_capture *cap, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	memset(cap, 0, sizeof(*cap));
	pcap_t *pc = pcap_open_offline(path, perr);
	if (!pc) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return -1;
	}
	struct stream_ht *ht = calloc(1, sizeof(*ht));
	size_t used = 0, cap_buf = 64u << 20, cap_pl = 0;
	cap->buf = malloc(cap_buf);
	int rc = -1;
	if (!ht || !cap->buf || pcap_datalink(pc) != DLT_EN10MB) {
		snprintf(err, errlen, "%s: out of memory or not Ethernet", path);
		goto out;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		struct weir_pkt p;
		uint32_t base;
		cap->packets++;
		if (used + h->caplen > cap_buf) {
			snprintf(err, errlen, "%s: capture larger than the harness buffer", path);
			goto out;
		}
		if (!find_payload(data, h->caplen, def, &p, &base))
			continue;
		/* payload pointers into one buffer that never moves */
		memcpy(cap->buf + used, data, h->caplen);
		if (add_payload(cap, &cap_pl, cap->buf + used + base, &p, ht) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		used += h->caplen;
	}
	if (r != PCAP_ERROR_BREAK) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(pc));
		goto out;
	}
	cap->streams = ht->n;
	rc = 0;
out:
	free(ht);
	pcap_close(pc);
	if (rc < 0)
		hsm_free(cap);
	return rc;
}

void hsm_free(struct hsm_capture *cap)
{
	free(cap->buf);
	free(cap->pl);
	memset(cap, 0, sizeof(*cap));
}

static void count_hits(const struct weir_match_result *res, struct hsm_count *counts, bool stream)
{
	for (uint32_t i = 0; i < res->n_hits; i++) {
		struct hsm_count *c = &counts[res->hit[i].rule];
		if (stream) {
			c->stream_matches += res->hit[i].matches;
		} else {
			c->block_matches += res->hit[i].matches;
			c->block_pkts++;
		}
	}
}

static void init_counts(const struct weir_match *m, struct hsm_count *counts, unsigned n, bool stream)
{
	for (unsigned i = 0; i < n; i++) {
		counts[i].id = weir_match_rule(m, i)->id;
		if (stream)
			counts[i].stream_matches = 0;
		else
			counts[i].block_matches = counts[i].block_pkts = 0;
	}
}

int hsm_block(const struct weir_match *m, const struct hsm_capture *cap, struct hsm_count *counts,
	      unsigned n_counts, double *scan_s)
{
	char err[256];
	struct weir_match_worker *w = weir_match_worker_new(m, 0, err, sizeof(err));
	struct weir_match_result *res = calloc(1, sizeof(*res));
	int rc = 0;
	if (!w || !res) {
		fprintf(stderr, "hsm_block: %s\n", w ? "out of memory" : err);
		free(res);
		weir_match_worker_free(w);
		return -1;
	}
	init_counts(m, counts, n_counts, false);
	double t0 = now_s();
	for (size_t i = 0; i < cap->n && rc == 0; i++) {
		const struct hsm_payload *p = &cap->pl[i];
		if (weir_match_scan(w, &p->scope, p->data, p->len, res) < 0 || res->hits_dropped)
			rc = -1;
		count_hits(res, counts, false);
	}
	*scan_s = now_s() - t0;
	free(res);
	weir_match_worker_free(w);
	return rc;
}

int hsm_stream(const struct weir_match *m, const struct hsm_capture *cap, struct hsm_count *counts,
	       unsigned n_counts, double *scan_s)
{
	char err[256];
	unsigned per_dir = weir_match_info(m)->max_streams_per_dir;
	struct weir_match_worker *w = weir_match_worker_new(m, cap->streams * (per_dir ? per_dir : 1),
							    err, sizeof(err));
	struct weir_match_stream *st = calloc(cap->streams ? cap->streams : 1, sizeof(*st));
	uint8_t *opened = calloc(cap->streams ? cap->streams : 1, 1);
	struct weir_match_result *res = calloc(1, sizeof(*res));
	int rc = 0;
	if (!w || !st || !opened || !res) {
		fprintf(stderr, "hsm_stream: %s\n", w ? "out of memory" : err);
		rc = -1;
		goto out;
	}
	init_counts(m, counts, n_counts, true);
	double t0 = now_s();
	for (size_t i = 0; i < cap->n && rc == 0; i++) {
		const struct hsm_payload *p = &cap->pl[i];
		if (!opened[p->stream]) {
			if (weir_match_stream_open(w, &p->scope, &st[p->stream]) < 0)
				rc = -1;
			opened[p->stream] = 1;
		}
		if (weir_match_stream_scan(w, &st[p->stream], &p->scope, p->data, p->len, res) < 0 ||
		    res->hits_dropped)
			rc = -1;
		count_hits(res, counts, true);
	}
	for (uint32_t s = 0; s < cap->streams; s++) {
		if (!opened[s])
			continue;
		if (weir_match_stream_close(w, &st[s], NULL, res) < 0 || res->hits_dropped)
			rc = -1;
		count_hits(res, counts, true);
	}
	*scan_s = now_s() - t0;
	if (weir_match_worker_stats(w)->streams_open != 0)
		rc = -1;
out:
	free(res);
	free(opened);
	free(st);
	weir_match_worker_free(w);
	return rc;
}

/* id block_matches block_pkts stream_matches regex, and a "# mode=..." summary. */
int hsm_oracle_load(const char *tsv, struct hsm_oracle *o)
{
	FILE *f = fopen(tsv, "r");
	char line[4096];
	memset(o, 0, sizeof(*o));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct hsm_count c;
		if (line[0] == '#') {
			const char *s;
			if ((s = strstr(line, "payload_pkts=")))
				o->payload_pkts = strtoull(s + 13, NULL, 10);
			if ((s = strstr(line, "payload_bytes=")))
				o->payload_bytes = strtoull(s + 14, NULL, 10);
			if ((s = strstr(line, "streams=")))
				o->streams = strtoull(s + 8, NULL, 10);
			continue;
		}
		if (sscanf(line, "%" SCNu32 "\t%" SCNu64 "\t%" SCNu64 "\t%" SCNu64, &c.id, &c.block_matches,
			   &c.block_pkts, &c.stream_matches) == 4 && o->n < 256)
			o->row[o->n++] = c;
	}
	fclose(f);
	return o->n ? 0 : -1;
}
