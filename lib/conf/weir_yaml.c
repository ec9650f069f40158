/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_yaml: libyaml's event stream folded into a tree with line numbers.
 *
 * The event API is used (not yaml_document_t) because it lets us reject
 * duplicate keys, anchors and aliases while the marks are at hand, and keep
 * only what the config code needs. Control plane only: plain heap.
 */
#include "weir_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "weir_conf.h"

/* Config files are hand written; anything bigger is a mistake (or an attack). */
#define YAML_MAX_BYTES (4u << 20)
/* Our schema nests 4 deep; the bound keeps recursion safe on "[[[[[...". */
#define YAML_MAX_DEPTH 32

struct loader {
	struct weir_yctx *y;
	yaml_parser_t parser;
	const unsigned char *buf;
	size_t len;
};

void weir_yctx_init(struct weir_yctx *y, const char *file, char *err, size_t errlen)
{
	y->file = file;
	y->err = err;
	y->errlen = errlen;
	y->prefix[0] = '\0';
	if (errlen)
		err[0] = '\0';
}

void weir_yctx_prefix(struct weir_yctx *y, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(y->prefix, sizeof(y->prefix), fmt, ap);
	va_end(ap);
}

static int yerr_v(struct weir_yctx *y, int line, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!y->errlen)
		return -1;
	if (line > 0)
		snprintf(y->err, y->errlen, "%s:%d: %s%s", y->file, line, y->prefix, msg);
	else
		snprintf(y->err, y->errlen, "%s: %s%s", y->file, y->prefix, msg);
	return -1;
}

int weir_yerr(struct weir_yctx *y, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yerr_v(y, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- reading the file ---------------------------------------------------- */

static int read_file(struct weir_yctx *y, unsigned char **out, size_t *outlen)
{
	FILE *f = fopen(y->file, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return weir_yerr(y, 0, "cannot open: %s", strerror(errno));
	for (;;) {
		if (len == cap) {
			unsigned char *nb;

			if (cap >= YAML_MAX_BYTES) {
				fclose(f);
				free(buf);
				return weir_yerr(y, 0, "too large for a config file (over %u bytes)",
						 YAML_MAX_BYTES);
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return weir_yerr(y, 0, "out of memory");
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		free(buf);
		return weir_yerr(y, 0, "cannot read: %s", strerror(e));
	}
	fclose(f);
	*out = buf;
	*outlen = len;
	return 0;
}

static int line_at(const unsigned char *buf, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		line += buf[i] == '\n';
	return line;
}

/*
 * libyaml would accept UTF-16 (with NULs) and report garbage as a reader
 * error deep inside; a NUL in a config file always means "not a text file".
 */
static int check_text(struct weir_yctx *y, const unsigned char *buf, size_t len)
{
	const unsigned char *nul = memchr(buf, '\0', len);

	if (nul)
		return weir_yerr(y, line_at(buf, (size_t)(nul - buf)),
				 "binary data (NUL byte), not a YAML text file");
	return 0;
}

/* ---- libyaml errors -------------------------------------------------------- */

static int syntax_err(struct loader *L)
{
	const yaml_parser_t *p = &L->parser;
	struct weir_yctx *y = L->y;
	size_t line, col;
	char ctx[160] = "";

	if (p->error == YAML_MEMORY_ERROR)
		return weir_yerr(y, 0, "out of memory");
	if (p->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset, not a mark */
		size_t off = p->problem_offset < L->len ? p->problem_offset : L->len;
		size_t bol = off;

		while (bol > 0 && L->buf[bol - 1] != '\n')
			bol--;
		line = (size_t)line_at(L->buf, off);
		col = off - bol + 1;
		if (p->problem_value != -1)
			snprintf(ctx, sizeof(ctx), " (byte 0x%02X)", (unsigned)p->problem_value);
	} else {
		line = p->problem_mark.line + 1;
		col = p->problem_mark.column + 1;
		if (p->context)
			snprintf(ctx, sizeof(ctx), " (%s at line %zu)", p->context,
				 p->context_mark.line + 1);
	}
	if (y->errlen)
		snprintf(y->err, y->errlen, "%s:%zu:%zu: %s%s", y->file, line, col,
			 p->problem ? p->problem : "YAML syntax error", ctx);
	return -1;
}

static int next_event(struct loader *L, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&L->parser, ev))
		return syntax_err(L);
	return 0;
}

static int ev_line(const yaml_event_t *ev)
{
	return (int)ev->start_mark.line + 1;
}

/* ---- building the tree ----------------------------------------------------- */

static struct weir_ynode *node_new(struct loader *L, enum weir_ytype t, int line)
{
	struct weir_ynode *n = calloc(1, sizeof(*n));

	if (!n)
		weir_yerr(L->y, line, "out of memory");
	else {
		n->type = t;
		n->line = line;
	}
	return n;
}

static void node_append(struct weir_ynode *parent, struct weir_ynode **tail,
			struct weir_ynode *child)
{
	if (*tail)
		(*tail)->next = child;
	else
		parent->child = child;
	*tail = child;
	parent->n_children++;
}

void weir_yaml_free(struct weir_ynode *n)
{
	while (n) {
		struct weir_ynode *next = n->next;

		weir_yaml_free(n->child);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

/* Anchors, aliases and tags: valid YAML, but they hide where a value came from. */
static int check_props(struct loader *L, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return weir_yerr(L->y, ev_line(ev), "YAML aliases (*%s) are not supported",
				 (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return weir_yerr(L->y, ev_line(ev), "YAML anchors (&%s) are not supported",
				 (const char *)anchor);
	if (tag)
		return weir_yerr(L->y, ev_line(ev), "YAML tags (%s) are not supported",
				 (const char *)tag);
	return 0;
}

static struct weir_ynode *parse_node(struct loader *L, const yaml_event_t *ev, int depth);

static struct weir_ynode *parse_scalar(struct loader *L, const yaml_event_t *ev)
{
	struct weir_ynode *n = node_new(L, WEIR_YSCALAR, ev_line(ev));

	if (n && !(n->str = strdup((const char *)ev->data.scalar.value))) {
		weir_yerr(L->y, n->line, "out of memory");
		weir_yaml_free(n);
		n = NULL;
	}
	return n;
}

static struct weir_ynode *parse_seq(struct loader *L, const yaml_event_t *start, int depth)
{
	struct weir_ynode *seq = node_new(L, WEIR_YSEQ, ev_line(start)), *tail = NULL;
	yaml_event_t ev;

	while (seq) {
		struct weir_ynode *item;

		if (next_event(L, &ev))
			break;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return seq;
		}
		item = parse_node(L, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!item)
			break;
		node_append(seq, &tail, item);
	}
	weir_yaml_free(seq);
	return NULL;
}

static const struct weir_ynode *find_member(const struct weir_ynode *map, const char *key)
{
	for (const struct weir_ynode *m = map->child; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

/* Read one key event; 1 at the end of the mapping, -1 on error. */
static int parse_key(struct loader *L, const struct weir_ynode *map, char **key, int *line)
{
	yaml_event_t ev;
	const struct weir_ynode *dup;
	int rc = 0;

	if (next_event(L, &ev))
		return -1;
	*line = ev_line(&ev);
	if (ev.type == YAML_MAPPING_END_EVENT)
		rc = 1;
	else if (check_props(L, &ev))
		rc = -1;
	else if (ev.type != YAML_SCALAR_EVENT)
		rc = weir_yerr(L->y, *line, "mapping keys must be plain scalars");
	else if ((dup = find_member(map, (const char *)ev.data.scalar.value)))
		rc = weir_yerr(L->y, *line, "duplicate key '%s' (first at line %d)",
			       (const char *)ev.data.scalar.value, dup->key_line);
	else if (!(*key = strdup((const char *)ev.data.scalar.value)))
		rc = weir_yerr(L->y, *line, "out of memory");
	yaml_event_delete(&ev);
	return rc;
}

static struct weir_ynode *parse_map(struct loader *L, const yaml_event_t *start, int depth)
{
	struct weir_ynode *map = node_new(L, WEIR_YMAP, ev_line(start)), *tail = NULL;

	while (map) {
		struct weir_ynode *val;
		yaml_event_t ev;
		char *key = NULL;
		int key_line, rc = parse_key(L, map, &key, &key_line);

		if (rc == 1)
			return map;
		if (rc < 0 || next_event(L, &ev)) {
			free(key);
			break;
		}
		val = parse_node(L, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!val) {
			free(key);
			break;
		}
		val->key = key;
		val->key_line = key_line;
		node_append(map, &tail, val);
	}
	weir_yaml_free(map);
	return NULL;
}

static struct weir_ynode *parse_node(struct loader *L, const yaml_event_t *ev, int depth)
{
	if (depth > YAML_MAX_DEPTH) {
		weir_yerr(L->y, ev_line(ev), "nested too deep (more than %d levels)", YAML_MAX_DEPTH);
		return NULL;
	}
	if (check_props(L, ev))
		return NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return parse_scalar(L, ev);
	case YAML_SEQUENCE_START_EVENT:
		return parse_seq(L, ev, depth);
	case YAML_MAPPING_START_EVENT:
		return parse_map(L, ev, depth);
	default:
		weir_yerr(L->y, ev_line(ev), "unexpected YAML event %d", (int)ev->type);
		return NULL;
	}
}

/* Expect an event of `type`; a document start in its place means a second document. */
static int expect_event(struct loader *L, yaml_event_type_t type, yaml_event_t *ev)
{
	if (next_event(L, ev))
		return -1;
	if (ev->type == type)
		return 0;
	if (ev->type == YAML_DOCUMENT_START_EVENT)
		weir_yerr(L->y, ev_line(ev), "only one YAML document per file");
	else
		weir_yerr(L->y, ev_line(ev), "unexpected YAML event %d", (int)ev->type);
	yaml_event_delete(ev);
	return -1;
}

/* stream-start, document-start, node, document-end, stream-end */
static struct weir_ynode *parse_stream(struct loader *L)
{
	struct weir_ynode *root = NULL;
	yaml_event_t ev;

	if (expect_event(L, YAML_STREAM_START_EVENT, &ev))
		return NULL;
	yaml_event_delete(&ev);
	if (next_event(L, &ev))
		return NULL;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		weir_yerr(L->y, 1, "empty file (no YAML document)");
		return NULL;
	}
	yaml_event_delete(&ev); /* document start */
	if (next_event(L, &ev))
		return NULL;
	root = parse_node(L, &ev, 0);
	yaml_event_delete(&ev);
	if (root && !expect_event(L, YAML_DOCUMENT_END_EVENT, &ev)) {
		yaml_event_delete(&ev);
		if (!expect_event(L, YAML_STREAM_END_EVENT, &ev)) {
			yaml_event_delete(&ev);
			return root;
		}
	}
	weir_yaml_free(root);
	return NULL;
}

struct weir_ynode *weir_yaml_load(struct weir_yctx *y)
{
	struct loader L = { .y = y };
	unsigned char *buf = NULL;
	struct weir_ynode *root = NULL;

	if (read_file(y, &buf, &L.len))
		return NULL;
	L.buf = buf;
	if (L.len == 0) {
		weir_yerr(y, 1, "empty file (no YAML document)");
	} else if (!check_text(y, buf, L.len)) {
		if (!yaml_parser_initialize(&L.parser)) {
			weir_yerr(y, 0, "out of memory");
		} else {
			yaml_parser_set_input_string(&L.parser, buf, L.len);
			root = parse_stream(&L);
			yaml_parser_delete(&L.parser);
		}
	}
	free(buf);
	return root;
}

/* ---- lookups and typed reads ----------------------------------------------- */

const struct weir_ynode *weir_yget(const struct weir_ynode *map, const char *key)
{
	if (!map || map->type != WEIR_YMAP)
		return NULL;
	return find_member(map, key);
}

const char *weir_ytype_name(enum weir_ytype t)
{
	switch (t) {
	case WEIR_YSCALAR:
		return "scalar";
	case WEIR_YSEQ:
		return "sequence";
	case WEIR_YMAP:
		return "mapping";
	}
	return "?";
}

/* "key: " before a value's message, nothing for sequence items and the root */
static const char *key_of(const struct weir_ynode *n)
{
	return n->key ? n->key : "";
}

static const char *key_sep(const struct weir_ynode *n)
{
	return n->key ? ": " : "";
}

int weir_yexpect(struct weir_yctx *y, const struct weir_ynode *n, enum weir_ytype t)
{
	if (n->type == t)
		return 0;
	return weir_yerr(y, n->line, "%s%sexpected a %s, got a %s", key_of(n), key_sep(n),
			 weir_ytype_name(t), weir_ytype_name(n->type));
}

int weir_yread_str(struct weir_yctx *y, const struct weir_ynode *n, char *buf, size_t len)
{
	size_t l;

	if (weir_yexpect(y, n, WEIR_YSCALAR))
		return -1;
	l = strlen(n->str);
	if (l >= len)
		return weir_yerr(y, n->line, "%s%stoo long (%zu characters, at most %zu)",
				 key_of(n), key_sep(n), l, len - 1);
	memcpy(buf, n->str, l + 1);
	return 0;
}

int weir_yread_bool(struct weir_yctx *y, const struct weir_ynode *n, bool *out)
{
	static const char *const words[] = { "false", "true", "no", "yes", "off", "on" };

	if (weir_yexpect(y, n, WEIR_YSCALAR))
		return -1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(n->str, words[i]) == 0) {
			*out = i & 1;
			return 0;
		}
	}
	return weir_yerr(y, n->line, "%s%sexpected true or false (yes/no, on/off), got '%s'",
			 key_of(n), key_sep(n), n->str);
}

/* Decimal digits, then (with `suffix`) one of k/M/G. -1 syntax, -2 overflow. */
static int parse_u64(const char *s, bool suffix, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	if (suffix && *p) {
		const char *units = "kmg";
		const char *u = strchr(units, tolower((unsigned char)*p));
		unsigned shift = u ? 10u * (unsigned)(u - units + 1) : 0;

		if (!shift || p[1])
			return -1;
		if (v > (UINT64_MAX >> shift))
			return -2;
		v <<= shift;
		p++;
	}
	if (*p)
		return -1;
	*out = v;
	return 0;
}

static int read_u64(struct weir_yctx *y, const struct weir_ynode *n, uint64_t min,
		    uint64_t max, bool suffix, uint64_t *out)
{
	uint64_t v;
	int rc;

	if (weir_yexpect(y, n, WEIR_YSCALAR))
		return -1;
	rc = parse_u64(n->str, suffix, &v);
	if (rc == -1)
		return weir_yerr(y, n->line, "%s%sexpected an unsigned integer%s, got '%s'",
				 key_of(n), key_sep(n), suffix ? " (k, M, G suffixes allowed)" : "",
				 n->str);
	if (rc == -2 || v < min || v > max)
		return weir_yerr(y, n->line, "%s%s%s is out of range %" PRIu64 "..%" PRIu64,
				 key_of(n), key_sep(n), n->str, min, max);
	*out = v;
	return 0;
}

int weir_yread_uint(struct weir_yctx *y, const struct weir_ynode *n, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	return read_u64(y, n, min, max, false, out);
}

int weir_yread_size(struct weir_yctx *y, const struct weir_ynode *n, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	return read_u64(y, n, min, max, true, out);
}

/* Shortest exact rendering of a bound ("1ms", "24h") for range errors. */
static void fmt_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "h", 3600000000000ull }, { "m", 60000000000ull }, { "s", 1000000000ull },
		{ "ms", 1000000ull },      { "us", 1000ull },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ns && ns % units[i].ns == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ns / units[i].ns, units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64 "ns", ns);
}

int weir_yread_duration(struct weir_yctx *y, const struct weir_ynode *n, uint64_t min,
			uint64_t max, uint64_t *ns)
{
	char lo[32], hi[32];
	uint64_t v;

	if (weir_yexpect(y, n, WEIR_YSCALAR))
		return -1;
	if (weir_parse_duration(n->str, &v))
		return weir_yerr(y, n->line,
				 "%s%sexpected a duration such as 60s, 500ms, 2m (units ns, us, ms, s, m, h), got '%s'",
				 key_of(n), key_sep(n), n->str);
	if (v < min || v > max) {
		fmt_duration(min, lo, sizeof(lo));
		fmt_duration(max, hi, sizeof(hi));
		return weir_yerr(y, n->line, "%s%s%s is out of range %s..%s", key_of(n),
				 key_sep(n), n->str, lo, hi);
	}
	*ns = v;
	return 0;
}

int weir_yread_enum(struct weir_yctx *y, const struct weir_ynode *n,
		    const struct weir_yname *names, int *out)
{
	char known[256] = "";
	size_t used = 0;

	if (weir_yexpect(y, n, WEIR_YSCALAR))
		return -1;
	for (const struct weir_yname *e = names; e->name; e++) {
		if (strcmp(n->str, e->name) == 0) {
			*out = e->value;
			return 0;
		}
		if (used < sizeof(known))
			used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
						 used ? ", " : "", e->name);
	}
	return weir_yerr(y, n->line, "%s%sexpected one of %s; got '%s'", key_of(n), key_sep(n),
			 known, n->str);
}
