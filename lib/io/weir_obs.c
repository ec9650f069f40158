/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Observability plumbing: burst-time histograms, Prometheus text format and
 * the metrics HTTP server (libmicrohttpd with its own polling thread, so no
 * request is ever served on an lcore).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "weir_obs.h"

/* ---- histogram ------------------------------------------------------------------ */

void weir_hist_add_from(struct weir_hist *dst, const struct weir_hist *src)
{
	for (unsigned b = 0; b < WEIR_HIST_BUCKETS; b++)
		dst->bucket[b] += __atomic_load_n(&src->bucket[b], __ATOMIC_RELAXED);
	dst->sum += __atomic_load_n(&src->sum, __ATOMIC_RELAXED);
	uint64_t mx = __atomic_load_n(&src->max, __ATOMIC_RELAXED);
	if (mx > dst->max)
		dst->max = mx;
}

uint64_t weir_hist_count(const struct weir_hist *h)
{
	uint64_t n = 0;

	for (unsigned b = 0; b < WEIR_HIST_BUCKETS; b++)
		n += h->bucket[b];
	return n;
}

double weir_hist_quantile(const struct weir_hist *h, double q)
{
	uint64_t n = weir_hist_count(h), cum = 0;

	if (!n)
		return 0;
	double rank = q * (double)n;
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < WEIR_HIST_BUCKETS; b++) {
		if (!h->bucket[b] || (double)(cum + h->bucket[b]) < rank) {
			cum += h->bucket[b];
			continue;
		}
		double lo = b ? (double)(1ull << b) : 0, hi = 2 * (b ? lo : 1);
		double v = lo + (hi - lo) * (rank - (double)cum) / (double)h->bucket[b];
		return v > (double)h->max ? (double)h->max : v;
	}
	return (double)h->max;
}

/* ---- text and Prometheus format ---------------------------------------------------- */

void weir_text_printf(struct weir_text *t, const char *fmt, ...)
{
	va_list ap;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 16384;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->oom = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

void weir_text_free(struct weir_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

void weir_prom_family(struct weir_text *t, const char *name, const char *type, const char *help)
{
	weir_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} with the value escaped as the format wants (\\, \", \n). */
static void prom_series(struct weir_text *t, const char *name, const char *suffix,
			const char *label, const char *value, const char *extra)
{
	weir_text_printf(t, "%s%s", name, suffix);
	if (!label && !extra)
		return;
	weir_text_printf(t, "{");
	if (label) {
		weir_text_printf(t, "%s=\"", label);
		for (const char *p = value; *p; p++) {
			if (*p == '\\' || *p == '"')
				weir_text_printf(t, "\\%c", *p);
			else if (*p == '\n')
				weir_text_printf(t, "\\n");
			else
				weir_text_printf(t, "%c", *p);
		}
		weir_text_printf(t, "\"%s", extra ? "," : "");
	}
	weir_text_printf(t, "%s}", extra ? extra : "");
}

void weir_prom_u64(struct weir_text *t, const char *name, const char *label, const char *value,
		   uint64_t v)
{
	prom_series(t, name, "", label, value, NULL);
	weir_text_printf(t, " %" PRIu64 "\n", v);
}

void weir_prom_double(struct weir_text *t, const char *name, const char *label, const char *value,
		      double v)
{
	prom_series(t, name, "", label, value, NULL);
	weir_text_printf(t, " %.9g\n", v);
}

/*
 * Buckets from 2^8 cycles (about 0.1 us) to 2^40 (minutes): below and above
 * fold into the first and +Inf, so every series has the same le= set.
 */
#define PROM_B_LO 7
#define PROM_B_HI 39

void weir_prom_hist(struct weir_text *t, const char *name, const char *label, const char *value,
		    const struct weir_hist *h, uint64_t tsc_hz)
{
	uint64_t cum = 0;
	char le[48];

	for (unsigned b = 0; b < WEIR_HIST_BUCKETS; b++) {
		cum += h->bucket[b];
		if (b < PROM_B_LO || b > PROM_B_HI)
			continue;
		snprintf(le, sizeof(le), "le=\"%.6g\"", (double)(2ull << b) / (double)tsc_hz);
		prom_series(t, name, "_bucket", label, value, le);
		weir_text_printf(t, " %" PRIu64 "\n", cum);
	}
	prom_series(t, name, "_bucket", label, value, "le=\"+Inf\"");
	weir_text_printf(t, " %" PRIu64 "\n", cum);
	prom_series(t, name, "_sum", label, value, NULL);
	weir_text_printf(t, " %.9g\n", (double)h->sum / (double)tsc_hz);
	prom_series(t, name, "_count", label, value, NULL);
	weir_text_printf(t, " %" PRIu64 "\n", cum);
}

/* ---- HTTP server ------------------------------------------------------------------- */

struct weir_metrics {
	struct MHD_Daemon *d;
	int fd;
	weir_metrics_render_fn *render;
	void *ctx;
};

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
				  bool allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **req_cls)
{
	struct weir_metrics *m = cls;
	struct weir_text t = {0};

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed (GET /metrics)\n",
				  true);
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found (GET /metrics)\n", false);
	m->render(m->ctx, &t);
	if (t.oom || !t.buf) {
		weir_text_free(&t);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", false);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(t.len, t.buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		weir_text_free(&t);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* Our own listening socket, so that "address in use" and friends read as such. */
static int listen_on(const struct weir_metrics_conf *mc, char *bound, size_t boundlen, bool *v6,
		     char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, mc->host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(mc->port);
		sl = sizeof(*a4);
		*v6 = false;
	} else if (inet_pton(AF_INET6, mc->host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(mc->port);
		sl = sizeof(*a6);
		*v6 = true;
	} else {
		snprintf(err, errlen, "metrics: '%s' is not a numeric address", mc->host);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s", mc->listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char host[INET6_ADDRSTRLEN] = "?";
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (*v6)
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
	snprintf(bound, boundlen, *v6 ? "[%s]:%u" : "%s:%u", host,
		 (unsigned)ntohs(*v6 ? a6->sin6_port : a4->sin_port));
	return fd;
}

struct weir_metrics *weir_metrics_start(const struct weir_metrics_conf *mc,
					weir_metrics_render_fn *render, void *ctx, char *bound,
					size_t boundlen, char *err, size_t errlen)
{
	struct weir_metrics *m = calloc(1, sizeof(*m));
	bool v6 = false;

	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->render = render;
	m->ctx = ctx;
	m->fd = listen_on(mc, bound, boundlen, &v6, err, errlen);
	if (m->fd < 0) {
		free(m);
		return NULL;
	}
	/* Its own thread (never an lcore), few connections, short timeouts. */
	m->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
				on_request, m, MHD_OPTION_LISTEN_SOCKET, m->fd,
				MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				MHD_OPTION_END);
	if (!m->d) {
		snprintf(err, errlen, "metrics: cannot start the HTTP server on %s", bound);
		close(m->fd);
		free(m);
		return NULL;
	}
	return m;
}

void weir_metrics_stop(struct weir_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d); /* closes the listening socket too (not quiesced) */
	free(m);
}
