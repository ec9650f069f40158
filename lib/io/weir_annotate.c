/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Labels and DNS names for each packet of a burst; the query filters'
 * compile and burst functions (the filters themselves travel in generations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "weir_annotate.h"
#include "weir_enrich.h"
#include "weir_filter.h"

#define DNS_RING 1024      /* answers in flight per worker, each way */
#define DNS_PER_PKT 16     /* answers taken from one response */
#define DNS_DRAIN 32       /* answers from other workers taken per burst */

struct weir_annotate_worker {
	struct weir_annotate *a;
	unsigned id;
	struct weir_dns_table *dns;   /* NULL: no query names destinations */
	struct rte_ring *dns_out;     /* to the main lcore */
	struct rte_ring *dns_in;      /* from the main lcore: other workers' answers */
	uint64_t learnt, ring_full;
} __rte_cache_aligned;

struct weir_annotate {
	const struct weir_config *cfg;
	struct weir_labels *labels;
	struct weir_dns_names *names;
	unsigned n_workers;
	struct weir_annotate_worker *workers;
	uint64_t shared;
};

static bool uses_field(const struct weir_config *cfg, enum weir_field f)
{
	for (unsigned q = 0; q < cfg->n_queries; q++)
		if (weir_query_uses_field(&cfg->queries[q], f))
			return true;
	return false;
}

bool weir_annotate_wanted(const struct weir_config *cfg)
{
	return cfg->labels[0] || uses_field(cfg, WEIR_FIELD_DST_NAME);
}

static uint32_t label_id(void *ctx, const char *name)
{
	return ctx ? weir_labels_find(ctx, name) : 0;
}

bool weir_annotate_has_dns(const struct weir_annotate *a)
{
	return a && a->names;
}

struct weir_filter *weir_annotate_compile_filter(const struct weir_annotate *a,
						 const uint16_t *port_linktype, unsigned n_ports,
						 const struct weir_query_conf *c, const char *path,
						 char *err, size_t errlen)
{
	int lt[RTE_MAX_ETHPORTS];
	struct weir_filter_env env = {.port_linktype = lt, .n_ports = n_ports,
				      .label_id = a && a->labels ? label_id : NULL,
				      .label_ctx = a ? a->labels : NULL};
	char e[512];

	for (unsigned i = 0; i < n_ports && i < RTE_MAX_ETHPORTS; i++)
		lt[i] = port_linktype[i];
	struct weir_filter *f = weir_filter_compile(c->filter, &env, e, sizeof(e));
	if (!f)
		snprintf(err, errlen, "%s%s%.0d%squery '%s': filter \"%s\": %s", path,
			 path[0] ? ":" : "", c->line, c->line ? ": " : "", c->name, c->filter, e);
	return f;
}

void weir_query_filters_burst(const struct weir_query_filters *qf, uint32_t active,
			      struct rte_mbuf *const *m, const struct weir_burst_meta *meta, unsigned n,
			      uint32_t *pass)
{
	uint8_t ok[WEIR_BURST_MAX];
	uint32_t filtered = qf->filtered & active;

	for (unsigned i = 0; i < n; i++)
		pass[i] = ~filtered;
	for (; filtered; filtered &= filtered - 1) {
		unsigned q = (unsigned)__builtin_ctz(filtered);
		weir_filter_burst(qf->filter[q], m, meta, n, ok);
		for (unsigned i = 0; i < n; i++)
			pass[i] |= (uint32_t)ok[i] << q;
	}
}

static int create_worker(struct weir_annotate *a, unsigned i, char *err, size_t errlen)
{
	struct weir_annotate_worker *w = &a->workers[i];
	char name[RTE_RING_NAMESIZE];

	w->a = a;
	w->id = i;
	if (!a->names)
		return 0;
	w->dns = weir_dns_table_create(a->cfg->dns_capacity, (int)rte_socket_id(), err, errlen);
	if (!w->dns)
		return -1;
	snprintf(name, sizeof(name), "weir_dnso%u", i);
	w->dns_out = rte_ring_create_elem(name, sizeof(struct weir_dns_answer), DNS_RING,
					  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "weir_dnsi%u", i);
	w->dns_in = rte_ring_create_elem(name, sizeof(struct weir_dns_answer), DNS_RING,
					 SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!w->dns_out || !w->dns_in) {
		snprintf(err, errlen, "cannot create DNS rings: %s", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

struct weir_annotate *weir_annotate_create(const struct weir_config *cfg, unsigned n_workers,
					   char *err, size_t errlen)
{
	struct weir_annotate *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = cfg;
	a->n_workers = n_workers;
	if (cfg->labels[0] && !(a->labels = weir_labels_load(cfg->labels, err, errlen)))
		goto fail;
	if (!a->labels && (uses_field(cfg, WEIR_FIELD_SRC_LABEL) || uses_field(cfg, WEIR_FIELD_DST_LABEL))) {
		snprintf(err, errlen, "a query uses src_label/dst_label but no labels file is configured "
			 "(labels: FILE.csv)");
		goto fail;
	}
	if (uses_field(cfg, WEIR_FIELD_DST_NAME) && !(a->names = weir_dns_names_create())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	a->workers = rte_zmalloc("weir_annotate", sizeof(*a->workers) * n_workers,
				 RTE_CACHE_LINE_SIZE);
	if (!a->workers) {
		snprintf(err, errlen, "cannot allocate annotation state");
		goto fail;
	}
	for (unsigned i = 0; i < n_workers; i++)
		if (create_worker(a, i, err, errlen) < 0)
			goto fail;
	return a;
fail:
	weir_annotate_free(a);
	return NULL;
}

void weir_annotate_free(struct weir_annotate *a)
{
	if (!a)
		return;
	if (a->workers)
		for (unsigned i = 0; i < a->n_workers; i++) {
			weir_dns_table_free(a->workers[i].dns);
			rte_ring_free(a->workers[i].dns_out);
			rte_ring_free(a->workers[i].dns_in);
		}
	rte_free(a->workers);
	if (a->labels)
		weir_labels_free(a->labels);
	if (a->names)
		weir_dns_names_free(a->names);
	free(a);
}

struct weir_annotate_worker *weir_annotate_worker_get(struct weir_annotate *a, unsigned worker)
{
	return &a->workers[worker];
}

static inline bool dns_response(const struct weir_pkt *p)
{
	return (p->flags & WEIR_PKT_F_L4) && p->payload_len && p->src_port == 53 &&
	       (p->l4_proto == 17 || p->l4_proto == 6);
}

/*
 * Name each packet's destination, learning the answers a response carries
 * before the packets after it (not before it: a packet is named by what
 * was seen up to its own time).
 */
static void dns_burst(struct weir_annotate_worker *w, struct rte_mbuf *const *m,
		      const struct weir_pkt *const *pkts, unsigned n, const uint64_t *ts,
		      uint64_t *name)
{
	struct weir_dns_answer ans[DNS_PER_PKT];
	unsigned k;

	while ((k = rte_ring_sc_dequeue_burst_elem(w->dns_in, ans, sizeof(ans[0]), DNS_PER_PKT,
						   NULL)) > 0)
		for (unsigned i = 0; i < k; i++)
			weir_dns_table_insert_ts(w->dns, &ans[i], ts[0]);
	for (unsigned i = 0; i < n; i++) {
		const struct weir_pkt *p = pkts[i];
		if (unlikely(dns_response(p)) && m[i]->nb_segs == 1) {
			k = weir_dns_parse(p, rte_pktmbuf_mtod(m[i], const uint8_t *), m[i]->data_len,
					   ts[i], ans, DNS_PER_PKT);
			for (unsigned j = 0; j < k; j++)
				weir_dns_table_insert_ts(w->dns, &ans[j], ts[i]);
			w->learnt += k;
			if (k && rte_ring_sp_enqueue_burst_elem(w->dns_out, ans, sizeof(ans[0]), k,
								NULL) < k)
				w->ring_full++;
		}
		name[i] = p->ip_version ? weir_dns_table_lookup(w->dns, p->ip_version, p->dst_ip, ts[i])
					: 0;
	}
}

void weir_annotate_burst(struct weir_annotate_worker *w, struct rte_mbuf *const *m,
			 const struct weir_pkt *const *pkts, unsigned n, struct weir_burst_meta *meta,
			 struct weir_annotations *out)
{
	struct weir_annotate *a = w->a;

	if (a->labels) {
		weir_labels_lookup_burst(a->labels, pkts, n, out->src_label, out->dst_label);
		meta->src_label = out->src_label;
		meta->dst_label = out->dst_label;
	}
	if (w->dns) {
		dns_burst(w, m, pkts, n, meta->ts, out->dst_name);
		meta->dst_name = out->dst_name;
	}
}

unsigned weir_annotate_main_poll(struct weir_annotate *a)
{
	struct weir_dns_answer ans[32];
	unsigned total = 0, k;

	if (!a || !a->names)
		return 0;
	for (unsigned i = 0; i < a->n_workers; i++) {
		struct weir_annotate_worker *w = &a->workers[i];
		while ((k = rte_ring_sc_dequeue_burst_elem(w->dns_out, ans, sizeof(ans[0]),
							   RTE_DIM(ans), NULL)) > 0) {
			for (unsigned j = 0; j < k; j++)
				weir_dns_names_add(a->names, ans[j].name_hash, ans[j].name);
			for (unsigned o = 0; o < a->n_workers; o++)
				if (o != i)
					a->shared += rte_ring_sp_enqueue_burst_elem(
						a->workers[o].dns_in, ans, sizeof(ans[0]), k, NULL);
			total += k;
		}
	}
	return total;
}

const char *weir_annotate_name(void *ctx, enum weir_field f, uint64_t id)
{
	struct weir_annotate *a = ctx;

	if (!a)
		return NULL;
	if (f == WEIR_FIELD_DST_NAME)
		return a->names ? weir_dns_names_get(a->names, id) : NULL;
	return a->labels ? weir_labels_name(a->labels, (uint32_t)id) : NULL;
}

void weir_annotate_dns_stats(const struct weir_annotate *a, uint64_t *learnt, uint64_t *shared,
			     uint64_t *ring_full, uint64_t *evicted)
{
	*learnt = *shared = *ring_full = *evicted = 0;
	if (!a)
		return;
	*shared = a->shared;
	for (unsigned i = 0; i < a->n_workers; i++) {
		*learnt += a->workers[i].learnt;
		*ring_full += a->workers[i].ring_full;
		if (a->workers[i].dns)
			*evicted += weir_dns_table_evictions(a->workers[i].dns);
	}
}
