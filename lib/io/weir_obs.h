/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_obs: observability plumbing that knows nothing of the pipeline.
 *
 *   - a log2 histogram of TSC cycles a worker fills once per burst (one
 *     bucket increment, a sum and a max; single writer, read as it stands
 *     by other threads with relaxed loads);
 *   - a growable text buffer and Prometheus text-format writers;
 *   - the metrics HTTP server (libmicrohttpd, its own polling thread), which
 *     calls back for the page body on every GET /metrics.
 */
#ifndef WEIR_OBS_H
#define WEIR_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir_conf.h"

/* Bucket b counts values in [2^b, 2^(b+1)) cycles (bucket 0: 0 and 1). */
#define WEIR_HIST_BUCKETS 64

struct weir_hist {
	uint64_t bucket[WEIR_HIST_BUCKETS];
	uint64_t sum;   /* cycles */
	uint64_t max;   /* cycles */
};

/* One sample: the only writer of h (a worker lcore), readers elsewhere. */
static inline void weir_hist_add(struct weir_hist *h, uint64_t cycles)
{
	unsigned b = 63u - (unsigned)__builtin_clzll(cycles | 1);

	__atomic_store_n(&h->bucket[b], h->bucket[b] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sum, h->sum + cycles, __ATOMIC_RELAXED);
	if (cycles > h->max)
		__atomic_store_n(&h->max, cycles, __ATOMIC_RELAXED);
}

/* dst += src, src read with relaxed loads (it may be updated meanwhile). */
void weir_hist_add_from(struct weir_hist *dst, const struct weir_hist *src);
/* Samples: the sum of the buckets. */
uint64_t weir_hist_count(const struct weir_hist *h);
/*
 * The q-quantile (0..1) in cycles: nearest rank, linearly interpolated in
 * its power-of-two bucket and capped at max (so within a factor of 2 of the
 * true value, usually much closer). 0 without samples.
 */
double weir_hist_quantile(const struct weir_hist *h, double q);

/* A growable text buffer; oom set (and text cut) when it cannot grow. */
struct weir_text {
	char *buf;
	size_t len, cap;
	bool oom;
};
void weir_text_printf(struct weir_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void weir_text_free(struct weir_text *t);

/*
 * Prometheus text format (version 0.0.4): a family's # HELP and # TYPE,
 * then samples. label may be NULL (no labels); values are escaped.
 */
void weir_prom_family(struct weir_text *t, const char *name, const char *type, const char *help);
void weir_prom_u64(struct weir_text *t, const char *name, const char *label, const char *value,
		   uint64_t v);
void weir_prom_double(struct weir_text *t, const char *name, const char *label, const char *value,
		      double v);
/* Histogram samples (_bucket{le}, _sum, _count) of h, in seconds at tsc_hz. */
void weir_prom_hist(struct weir_text *t, const char *name, const char *label, const char *value,
		    const struct weir_hist *h, uint64_t tsc_hz);

/*
 * The metrics server: GET (or HEAD) /metrics answers render()'s text, other
 * paths 404, other methods 405. render runs on the server's thread.
 * NULL with err filled when the address cannot be bound (in use, not
 * local, ...). bound gets "ADDR:PORT" as bound (the port when 0 was asked).
 */
typedef void weir_metrics_render_fn(void *ctx, struct weir_text *t);
struct weir_metrics;
struct weir_metrics *weir_metrics_start(const struct weir_metrics_conf *mc,
					weir_metrics_render_fn *render, void *ctx, char *bound,
					size_t boundlen, char *err, size_t errlen);
/* Stops the server's thread (waits for a request being answered); NULL is fine. */
void weir_metrics_stop(struct weir_metrics *m);

#endif /* WEIR_OBS_H */
