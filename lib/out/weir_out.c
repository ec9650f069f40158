/* SPDX-License-Identifier: BSD-3-Clause
 *
 * JSON-lines records and the human summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "weir_out.h"
#include "weir_sketch.h"

/* ---- JSON builder ---------------------------------------------------------- */

void weir_json_init(struct weir_json *j)
{
	memset(j, 0, sizeof(*j));
	j->first[0] = true;
}

void weir_json_free(struct weir_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

void weir_json_reset(struct weir_json *j)
{
	j->len = 0;
	j->depth = 0;
	j->first[0] = true;
	j->oom = false;
}

static void put(struct weir_json *j, const char *s, size_t n)
{
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1)
			cap *= 2;
		char *b = realloc(j->buf, cap);
		if (!b) {
			j->oom = true;
			return;
		}
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void puts_(struct weir_json *j, const char *s)
{
	put(j, s, strlen(s));
}

static void put_escaped(struct weir_json *j, const char *s)
{
	put(j, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(j, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(j, esc, 6);
		} else {
			put(j, (const char *)&c, 1);
		}
	}
	put(j, "\"", 1);
}

/* Comma and key before a member. */
static void member(struct weir_json *j, const char *key)
{
	if (!j->first[j->depth])
		put(j, ",", 1);
	j->first[j->depth] = false;
	if (key) {
		put_escaped(j, key);
		put(j, ":", 1);
	}
}

void weir_json_begin(struct weir_json *j, const char *key)
{
	if (j->depth > 0 || key)
		member(j, key);
	put(j, "{", 1);
	if (j->depth + 1 < sizeof(j->first) / sizeof(j->first[0]))
		j->depth++;
	j->first[j->depth] = true;
}

void weir_json_end(struct weir_json *j)
{
	put(j, "}", 1);
	if (j->depth > 0)
		j->depth--;
}

void weir_json_u64(struct weir_json *j, const char *key, uint64_t v)
{
	char b[24];
	member(j, key);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(j, b);
}

void weir_json_i64(struct weir_json *j, const char *key, int64_t v)
{
	char b[24];
	member(j, key);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(j, b);
}

void weir_json_double(struct weir_json *j, const char *key, double v)
{
	char b[32];
	member(j, key);
	snprintf(b, sizeof(b), "%.6g", v);
	puts_(j, b);
}

void weir_json_str(struct weir_json *j, const char *key, const char *v)
{
	member(j, key);
	put_escaped(j, v);
}

void weir_json_bool(struct weir_json *j, const char *key, bool v)
{
	member(j, key);
	puts_(j, v ? "true" : "false");
}

void weir_json_null(struct weir_json *j, const char *key)
{
	member(j, key);
	puts_(j, "null");
}

void weir_json_raw(struct weir_json *j, const char *key, const char *json)
{
	member(j, key);
	puts_(j, json);
}

/* ---- sink ------------------------------------------------------------------ */

struct weir_out {
	FILE *records;
	bool records_owned;
	FILE *summary;
	unsigned top;
	uint64_t last_summary_start;
	struct weir_json j;
	int write_errno;
	weir_out_name_fn names;
	void *names_ctx;
	uint64_t having_alerts;
	uint32_t generation;       /* 0: not written */
};

void weir_out_set_generation(struct weir_out *o, uint32_t id)
{
	o->generation = id;
}

void weir_out_set_names(struct weir_out *o, weir_out_name_fn fn, void *ctx)
{
	o->names = fn;
	o->names_ctx = ctx;
}

uint64_t weir_out_having_alerts(const struct weir_out *o)
{
	return o->having_alerts;
}

const char *weir_proto_name(unsigned proto)
{
	switch (proto) {
	case 1: return "icmp";
	case 2: return "igmp";
	case 4: return "ipip";
	case 6: return "tcp";
	case 17: return "udp";
	case 41: return "ipv6";
	case 47: return "gre";
	case 50: return "esp";
	case 51: return "ah";
	case 58: return "icmpv6";
	case 89: return "ospf";
	case 103: return "pim";
	case 112: return "vrrp";
	case 132: return "sctp";
	default: return NULL;
	}
}

/* The records file, cut back to `resume_at` bytes (-1: created empty). */
static FILE *open_records(const char *path, int64_t resume_at, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, resume_at < 0 ? "w" : "r+");

	if (!f) {
		snprintf(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
		return NULL;
	}
	if (resume_at < 0)
		return f;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < resume_at) {
		snprintf(err, errlen, "%s: holds %lld bytes, the checkpoint committed %lld: the output "
			 "it belongs to is gone", path, (long long)st.st_size, (long long)resume_at);
		fclose(f);
		return NULL;
	}
	if (ftruncate(fileno(f), resume_at) < 0 || fseeko(f, resume_at, SEEK_SET) < 0) {
		snprintf(err, errlen, "%s: cannot cut back to %lld bytes: %s", path,
			 (long long)resume_at, strerror(errno));
		fclose(f);
		return NULL;
	}
	return f;
}

struct weir_out *weir_out_open(const char *path, unsigned top, int64_t resume_at, char *err,
			       size_t errlen)
{
	struct weir_out *o = calloc(1, sizeof(*o));

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strcmp(path, "-") == 0) {
		o->records = stdout;
		o->summary = top ? stderr : NULL;
	} else {
		o->records = open_records(path, resume_at, err, errlen);
		if (!o->records) {
			free(o);
			return NULL;
		}
		o->records_owned = true;
		o->summary = top ? stdout : NULL;
	}
	o->top = top;
	o->last_summary_start = UINT64_MAX;
	weir_json_init(&o->j);
	return o;
}

void weir_out_record(struct weir_out *o, const struct weir_json *j)
{
	if (j->oom) {
		o->write_errno = ENOMEM;
		return;
	}
	if (fwrite(j->buf, 1, j->len, o->records) != j->len || fputc('\n', o->records) == EOF)
		o->write_errno = errno ? errno : EIO;
}

int64_t weir_out_commit_offset(struct weir_out *o)
{
	if (!o->records_owned)
		return -1;
	if (fflush(o->records) != 0 && !o->write_errno)
		o->write_errno = errno;
	return o->write_errno ? -1 : (int64_t)ftello(o->records);
}

FILE *weir_out_summary_stream(struct weir_out *o)
{
	return o->summary;
}

int weir_out_close(struct weir_out *o, char *err, size_t errlen)
{
	int rc = 0;

	if (fflush(o->records) != 0 && !o->write_errno)
		o->write_errno = errno;
	if (o->records_owned && fclose(o->records) != 0 && !o->write_errno)
		o->write_errno = errno;
	if (o->summary)
		fflush(o->summary);
	if (o->write_errno) {
		snprintf(err, errlen, "writing records failed: %s", strerror(o->write_errno));
		rc = -1;
	}
	weir_json_free(&o->j);
	free(o);
	return rc;
}

/* ---- window rows ----------------------------------------------------------- */

/* A row of a result: entry i, or the _other entry (i == n_used). */
struct row {
	const struct weir_key *key; /* NULL: _other */
	const uint64_t *aggs;
	const uint8_t *blob;
	uint64_t start, end;
};

static struct row row_get(const struct weir_window_result *r, uint32_t i)
{
	const struct weir_table *t = r->t;
	struct row w;
	bool other = i == t->n_used;

	w.key = other ? NULL : weir_table_key(t, i);
	w.aggs = other ? t->other + t->key_words : weir_table_aggs(t, i);
	w.blob = weir_table_blob(t, w.aggs);
	weir_window_row_bounds(r, i, other, &w.start, &w.end);
	return w;
}

/* The aggregate rows are ranked by: bytes if the query has it, else the first. */
static int rank_agg(const struct weir_query *q)
{
	for (unsigned j = 0; j < q->n_aggs; j++)
		if (q->conf.aggs[j].kind == WEIR_AGG_BYTES)
			return (int)j;
	return 0;
}

static struct {
	const struct weir_window_result *r;
	const double *rank;  /* per row: the ranking aggregate's value, computed once */
} sort_ctx;

/* Sessions by start; others largest first; ties by key bytes, _other last. */
static int cmp_rows(const void *a, const void *b)
{
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	const struct weir_window_result *r = sort_ctx.r;
	struct row ra = row_get(r, ia), rb = row_get(r, ib);

	if (!ra.key || !rb.key)
		return ra.key ? -1 : rb.key ? 1 : 0;
	if (r->q->conf.window == WEIR_WINDOW_SESSION && ra.start != rb.start)
		return ra.start < rb.start ? -1 : 1;
	double va = sort_ctx.rank[ia], vb = sort_ctx.rank[ib];
	if (va != vb)
		return va < vb ? 1 : -1;
	return memcmp(ra.key, rb.key, (size_t)r->t->key_words * 8);
}

/* A number of field f as text when it has a name (labels, DNS names, directions). */
static const char *id_name(struct weir_out *o, enum weir_field f, uint64_t v)
{
	if (f == WEIR_FIELD_DIRECTION)
		return v == WEIR_PKT_DIR_TO_SERVER ? "to_server" : v == WEIR_PKT_DIR_TO_CLIENT ? "to_client" : NULL;
	if ((f == WEIR_FIELD_SRC_LABEL || f == WEIR_FIELD_DST_LABEL || f == WEIR_FIELD_DST_NAME) &&
	    o->names)
		return o->names(o->names_ctx, f, v);
	return NULL;
}

/* Key field i as text (addresses, names) or NULL with *num set (everything else). */
static const char *field_text(struct weir_out *o, const struct weir_query *q,
			      const struct weir_key *k, unsigned i, char *buf, unsigned len,
			      uint64_t *num)
{
	enum weir_field f = q->conf.group_by[i];

	if (!k)
		return "_other";
	if (f == WEIR_FIELD_SRC_IP || f == WEIR_FIELD_DST_IP) {
		uint8_t ver, ip[16];
		weir_key_field_ip(q, k, i, &ver, ip);
		weir_pkt_format_ip(ver, ip, buf, len);
		return buf;
	}
	*num = weir_key_field_uint(q, k, i);
	return id_name(o, f, *num);
}

/* A top-k item of field f as a JSON value. */
static void item_json(struct weir_out *o, enum weir_field f, const uint8_t item[16], char *buf,
		      size_t len)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char ip[64];
	uint64_t v;

	if (f == WEIR_FIELD_SRC_IP || f == WEIR_FIELD_DST_IP) {
		uint8_t a[16] = {0};
		if (memcmp(item, v4mapped, 12) == 0) {
			memcpy(a, item + 12, 4);
			weir_pkt_format_ip(4, a, ip, sizeof(ip));
		} else
			weir_pkt_format_ip(6, item, ip, sizeof(ip));
		snprintf(buf, len, "\"%s\"", ip);
		return;
	}
	memcpy(&v, item, 8);
	const char *name = id_name(o, f, v);
	if (name) {
		struct weir_json t;
		weir_json_init(&t);
		put_escaped(&t, name);
		snprintf(buf, len, "%s", t.buf ? t.buf : "null");
		weir_json_free(&t);
	} else {
		snprintf(buf, len, "%" PRIu64, v);
	}
}

static void topk_json(struct weir_out *o, struct weir_json *j, const struct weir_query *q,
		      unsigned a, const uint8_t *blob)
{
	const struct weir_agg_slot *sl = &q->slot[a];
	struct weir_topk_counter *c = malloc(sizeof(*c) * sl->param);
	unsigned n = c ? weir_topk_list(blob + sl->blob_off, sl->param, c) : 0;
	unsigned k = q->conf.aggs[a].param;
	struct weir_json arr;
	char item[300], cell[340];

	weir_json_init(&arr);
	put(&arr, "[", 1);
	for (unsigned i = 0; i < n && i < k; i++) {
		item_json(o, (enum weir_field)sl->field, c[i].item, item, sizeof(item));
		snprintf(cell, sizeof(cell), "%s[%s,%" PRIu64 ",%" PRIu64 "]", i ? "," : "", item,
			 c[i].count, c[i].error);
		puts_(&arr, cell);
	}
	put(&arr, "]", 1);
	weir_json_raw(j, q->conf.aggs[a].name, arr.buf);
	weir_json_free(&arr);
	free(c);
}

static void agg_json(struct weir_out *o, struct weir_json *j, const struct weir_query *q,
		     unsigned a, const uint64_t *aggs, const uint8_t *blob)
{
	static const char *const flags[] = {"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"};
	static const char *const ranks[] = {"p50", "p90", "p99"};
	const struct weir_agg_slot *sl = &q->slot[a];
	const char *name = q->conf.aggs[a].name;
	double v;

	switch ((enum weir_agg)sl->kind) {
	case WEIR_AGG_MIN: case WEIR_AGG_MAX: case WEIR_AGG_AVG:
		v = weir_agg_value(q, a, 0, aggs, blob);
		if (v != v)
			weir_json_null(j, name);
		else if (sl->kind == WEIR_AGG_AVG)
			weir_json_double(j, name, v);
		else
			weir_json_u64(j, name, (uint64_t)v);
		break;
	case WEIR_AGG_DISTINCT:
		weir_json_u64(j, name, (uint64_t)(weir_agg_value(q, a, 0, aggs, blob) + 0.5));
		break;
	case WEIR_AGG_TOPK:
		topk_json(o, j, q, a, blob);
		break;
	case WEIR_AGG_QUANTILES:
		weir_json_begin(j, name);
		for (unsigned r = 0; r < 3; r++) {
			v = weir_agg_value(q, a, r, aggs, blob);
			if (v != v)
				weir_json_null(j, ranks[r]);
			else
				weir_json_double(j, ranks[r], v);
		}
		weir_json_end(j);
		break;
	case WEIR_AGG_FIRST_TS:
		weir_json_u64(j, name, ~aggs[sl->word]);
		break;
	case WEIR_AGG_FLAG_COUNTS:
		weir_json_begin(j, name);
		for (unsigned b = 0; b < 8; b++)
			weir_json_u64(j, flags[b], aggs[sl->word + b]);
		weir_json_end(j);
		break;
	default:
		weir_json_u64(j, name, aggs[sl->word]);
		break;
	}
}

/* type, query, bounds and key fields: the part window rows and alerts share. */
static void row_head(struct weir_out *o, struct weir_json *j, const char *type,
		     const struct weir_query *q, const struct row *w)
{
	char buf[64];
	uint64_t num;

	weir_json_reset(j);
	weir_json_begin(j, NULL);
	weir_json_str(j, "type", type);
	weir_json_str(j, "query", q->conf.name);
	weir_json_u64(j, "window_start", w->start);
	weir_json_u64(j, "window_end", w->end);
	for (unsigned f = 0; f < q->conf.n_group_by; f++) {
		const char *name = weir_field_name(q->conf.group_by[f]);
		const char *txt = field_text(o, q, w->key, f, buf, sizeof(buf), &num);
		if (txt)
			weir_json_str(j, name, txt);
		else
			weir_json_u64(j, name, num);
	}
}

static void row_build(struct weir_out *o, struct weir_json *j, const struct weir_window_result *r,
		      const struct row *w)
{
	const struct weir_query *q = r->q;

	row_head(o, j, "window", q, w);
	for (unsigned g = 0; g < q->n_aggs; g++)
		agg_json(o, j, q, g, w->aggs, w->blob);
	weir_json_bool(j, "final", r->final);
	if (r->late)
		weir_json_bool(j, "late", true);
	if (o->generation)
		weir_json_u64(j, "generation", o->generation);
	weir_json_end(j);
}

void weir_out_row_json(struct weir_out *o, struct weir_json *j, const struct weir_window_result *r,
		       uint32_t row)
{
	struct row w = row_get(r, row);

	row_build(o, j, r, &w);
}

static void row_json(struct weir_out *o, const struct weir_window_result *r, const struct row *w)
{
	row_build(o, &o->j, r, w);
	weir_out_record(o, &o->j);
}

/* having holds: an alert naming the row and the value of the first aggregate it tests. */
static void having_alert(struct weir_out *o, const struct weir_window_result *r,
			 const struct row *w)
{
	const struct weir_query *q = r->q;
	const struct weir_having *h = &q->conf.having;
	struct weir_json *j = &o->j;

	row_head(o, j, "alert", q, w);
	weir_json_str(j, "having", h->text);
	for (unsigned i = 0; i < h->n; i++)
		if (h->node[i].op == WEIR_HV_AGG) {
			double v = weir_agg_value(q, h->node[i].agg, h->node[i].sub, w->aggs, w->blob);
			weir_json_double(j, "value", v);
			break;
		}
	if (r->late)
		weir_json_bool(j, "late", true);
	if (o->generation)
		weir_json_u64(j, "generation", o->generation);
	weir_json_end(j);
	weir_out_record(o, j);
	o->having_alerts++;
}

static void summary_row(struct weir_out *o, FILE *f, const struct weir_query *q,
			const struct row *w)
{
	char buf[64];
	uint64_t num;

	fprintf(f, "   ");
	if (q->conf.n_group_by == 0)
		fprintf(f, " (all)");
	for (unsigned g = 0; g < q->conf.n_group_by; g++) {
		const char *txt = field_text(o, q, w->key, g, buf, sizeof(buf), &num);
		enum weir_field fld = q->conf.group_by[g];
		const char *pn = NULL;
		if ((fld == WEIR_FIELD_PROTO || fld == WEIR_FIELD_L4_PROTO) && !txt)
			pn = weir_proto_name((unsigned)num);
		if (txt)
			fprintf(f, " %-22s", txt);
		else if (pn)
			fprintf(f, " %-7s", pn);
		else
			fprintf(f, " %s=%-5" PRIu64, weir_field_name(fld), num);
	}
	for (unsigned g = 0; g < q->n_aggs; g++) {
		double v = weir_agg_value(q, g, 0, w->aggs, w->blob);
		if (q->conf.aggs[g].kind == WEIR_AGG_TOPK)
			continue;
		if (v == (double)(uint64_t)v)
			fprintf(f, "  %s=%" PRIu64, q->conf.aggs[g].name, (uint64_t)v);
		else
			fprintf(f, "  %s=%.2f", q->conf.aggs[g].name, v);
	}
	fputc('\n', f);
}

static void summary_window(struct weir_out *o, const struct weir_window_result *r,
			   const uint32_t *order, uint32_t rows)
{
	FILE *f = o->summary;
	const struct weir_query *q = r->q;

	if (r->start != o->last_summary_start) {
		time_t s = (time_t)(r->start / 1000000000u);
		struct tm tm;
		char when[32];
		gmtime_r(&s, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (q->conf.window == WEIR_WINDOW_SESSION)
			fprintf(f, "\n== sessions ending by %s UTC ==\n", when);
		else
			fprintf(f, "\n== window %s UTC, %" PRIu64 " s ==\n", when,
				(r->end - r->start) / 1000000000u);
		o->last_summary_start = r->start;
	}
	fprintf(f, "  %s%s: %u %s", q->conf.name, r->late ? " (late update)" : "", rows,
		q->conf.window == WEIR_WINDOW_SESSION ? (rows == 1 ? "session" : "sessions")
						      : (rows == 1 ? "key" : "keys"));
	if (rows > o->top)
		fprintf(f, ", top %u by %s", o->top, q->conf.aggs[rank_agg(q)].name);
	if (r->t->overflow)
		fprintf(f, ", %" PRIu64 " in _other (max_keys)", r->t->overflow);
	fputc('\n', f);
	for (uint32_t i = 0; i < rows && i < o->top; i++) {
		struct row w = row_get(r, order[i]);
		summary_row(o, f, q, &w);
	}
}

uint32_t weir_out_rows(const struct weir_window_result *r, uint32_t **order)
{
	uint32_t rows = r->t->n_used + (r->t->has_other ? 1 : 0);

	double *rank = malloc(sizeof(*rank) * (rows ? rows : 1));
	unsigned agg = (unsigned)rank_agg(r->q);

	*order = malloc(sizeof(**order) * (rows ? rows : 1));
	if (!*order || !rank) {
		free(*order);
		free(rank);
		*order = NULL;
		return 0;
	}
	/* a sketch's value (a distinct estimate) takes KiBs of reading: once per row, not per compare */
	for (uint32_t i = 0; i < rows; i++) {
		struct row w = row_get(r, i);
		(*order)[i] = i;
		rank[i] = weir_agg_value(r->q, agg, 0, w.aggs, w.blob);
	}
	sort_ctx.r = r;
	sort_ctx.rank = rank;
	qsort(*order, rows, sizeof(**order), cmp_rows);
	free(rank);
	return rows;
}

void weir_out_window(struct weir_out *o, const struct weir_window_result *r)
{
	uint32_t *order;
	uint32_t rows = weir_out_rows(r, &order);

	if (!order) {
		o->write_errno = ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < rows; i++) {
		struct row w = row_get(r, order[i]);
		row_json(o, r, &w);
		if (r->final && r->q->conf.having.n && weir_having_eval(r->q, w.aggs, w.blob))
			having_alert(o, r, &w);
	}
	if (o->summary && r->final)
		summary_window(o, r, order, rows);
	free(order);
}
