/* SPDX-License-Identifier: BSD-3-Clause
 *
 * JSON-lines records and the human summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir_out.h"

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

/* ---- sink ------------------------------------------------------------------ */

struct weir_out {
	FILE *records;
	bool records_owned;
	FILE *summary;
	unsigned top;
	uint64_t last_summary_start;
	struct weir_json j;
	int write_errno;
};

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

struct weir_out *weir_out_open(const char *path, unsigned top, char *err, size_t errlen)
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
		o->records = fopen(path, "w");
		if (!o->records) {
			snprintf(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
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

struct row_order {
	const struct weir_table *t;
	int agg; /* aggregate rows are ranked by */
};

static int rank_agg(const struct weir_query *q)
{
	for (unsigned j = 0; j < q->n_aggs; j++)
		if (q->conf.aggs[j] == WEIR_AGG_BYTES)
			return (int)j;
	return 0;
}

static struct row_order sort_ctx;

/* Largest first; ties by key bytes so output is deterministic. */
static int cmp_rows(const void *a, const void *b)
{
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	uint64_t va = weir_table_aggs(sort_ctx.t, ia)[sort_ctx.agg];
	uint64_t vb = weir_table_aggs(sort_ctx.t, ib)[sort_ctx.agg];

	if (va != vb)
		return va < vb ? 1 : -1;
	return memcmp(weir_table_key(sort_ctx.t, ia), weir_table_key(sort_ctx.t, ib),
		      (size_t)sort_ctx.t->key_words * 8);
}

/* Key field i as text (addresses) or NULL with *num set (everything else). */
static const char *field_text(const struct weir_query *q, const struct weir_key *k, unsigned i,
			      char *buf, unsigned len, uint64_t *num)
{
	enum weir_field f = q->conf.group_by[i];

	if (f == WEIR_FIELD_SRC_IP || f == WEIR_FIELD_DST_IP) {
		uint8_t ver, ip[16];
		weir_key_field_ip(q, k, i, &ver, ip);
		weir_pkt_format_ip(ver, ip, buf, len);
		return buf;
	}
	*num = weir_key_field_uint(q, k, i);
	return NULL;
}

static void row_json(struct weir_out *o, const struct weir_query *q, uint64_t start, uint64_t end,
		     const struct weir_table *t, uint32_t i)
{
	struct weir_json *j = &o->j;
	const struct weir_key *k = weir_table_key(t, i);
	const uint64_t *a = weir_table_aggs(t, i);
	char buf[64];
	uint64_t num;

	weir_json_reset(j);
	weir_json_begin(j, NULL);
	weir_json_str(j, "type", "window");
	weir_json_str(j, "query", q->conf.name);
	weir_json_u64(j, "window_start", start);
	weir_json_u64(j, "window_end", end);
	for (unsigned f = 0; f < q->conf.n_group_by; f++) {
		const char *name = weir_field_name(q->conf.group_by[f]);
		const char *txt = field_text(q, k, f, buf, sizeof(buf), &num);
		if (txt)
			weir_json_str(j, name, txt);
		else
			weir_json_u64(j, name, num);
	}
	for (unsigned g = 0; g < q->n_aggs; g++)
		weir_json_u64(j, weir_agg_name(q->conf.aggs[g]), a[g]);
	weir_json_end(j);
	weir_out_record(o, j);
}

static void summary_row(FILE *f, const struct weir_query *q, const struct weir_table *t, uint32_t i)
{
	const struct weir_key *k = weir_table_key(t, i);
	const uint64_t *a = weir_table_aggs(t, i);
	char buf[64];
	uint64_t num;

	fprintf(f, "   ");
	if (q->conf.n_group_by == 0)
		fprintf(f, " (all)");
	for (unsigned g = 0; g < q->conf.n_group_by; g++) {
		const char *txt = field_text(q, k, g, buf, sizeof(buf), &num);
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
	for (unsigned g = 0; g < q->n_aggs; g++)
		fprintf(f, "  %s=%" PRIu64, weir_agg_name(q->conf.aggs[g]), a[g]);
	fputc('\n', f);
}

static void summary_window(struct weir_out *o, const struct weir_query *q, uint64_t start,
			   uint64_t end, const struct weir_table *t, const uint32_t *order)
{
	FILE *f = o->summary;

	if (start != o->last_summary_start) {
		time_t s = (time_t)(start / 1000000000u);
		struct tm tm;
		char when[32];
		gmtime_r(&s, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "\n== window %s UTC, %" PRIu64 " s ==\n", when, (end - start) / 1000000000u);
		o->last_summary_start = start;
	}
	fprintf(f, "  %s: %u key%s", q->conf.name, t->n_used, t->n_used == 1 ? "" : "s");
	if (t->n_used > o->top)
		fprintf(f, ", top %u by %s", o->top, weir_agg_name(q->conf.aggs[rank_agg(q)]));
	if (t->overflow)
		fprintf(f, ", %" PRIu64 " not counted (max_keys)", t->overflow);
	fputc('\n', f);
	for (uint32_t r = 0; r < t->n_used && r < o->top; r++)
		summary_row(f, q, t, order[r]);
}

void weir_out_window(struct weir_out *o, const struct weir_query *q, uint64_t window_start,
		     uint64_t window_end, const struct weir_table *t)
{
	uint32_t *order = malloc(sizeof(*order) * (t->n_used ? t->n_used : 1));

	if (!order) {
		o->write_errno = ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < t->n_used; i++)
		order[i] = i;
	sort_ctx.t = t;
	sort_ctx.agg = rank_agg(q);
	qsort(order, t->n_used, sizeof(*order), cmp_rows);
	for (uint32_t i = 0; i < t->n_used; i++)
		row_json(o, q, window_start, window_end, t, order[i]);
	if (o->summary)
		summary_window(o, q, window_start, window_end, t, order);
	free(order);
}
