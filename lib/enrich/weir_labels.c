/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_labels: a CSV of `CIDR,label` lines -> rte_lpm (IPv4) / rte_lpm6 (IPv6).
 *
 * File format, one entry a line:
 *
 *   # comment (a line whose first non-blank character is '#')
 *   10.0.0.0/8, corp
 *   10.1.2.3,"host, with a comma"     (a bare address is a /32 or /128)
 *   2001:db8::/32,lab
 *
 * - Blanks (spaces, tabs) around either field are ignored, and so are double
 *   quotes around the CIDR (CSV writers that quote every field); a trailing CR
 *   (CRLF files) and a UTF-8 byte order mark at the start are too.
 * - The label is plain text up to the end of the line, or double-quoted
 *   ("" inside quotes is one "); it may not be empty and must be shorter
 *   than WEIR_LABEL_MAX bytes. Nothing may follow a quoted label. Comments
 *   are whole lines only: a '#' after the address belongs to the label.
 * - Addresses are parsed by inet_pton (dotted quad; any IPv6 text form).
 * - Host bits set (10.1.2.3/16) are an error, naming the prefix meant
 *   (10.1.0.0/16): such a line is more often a typo than a deliberate
 *   shorthand, and silently masking it would label a larger range than
 *   the author may think.
 * - The same prefix twice with the same label is accepted; with another
 *   label it is an error naming both lines.
 * - /0 is allowed (the label of every address of that family that no other
 *   prefix matches); rte_lpm takes depths 1..32 / 1..128 only, so /0 is
 *   kept beside the tables and applied on a miss.
 *
 * Errors: "FILE:LINE: why"; "FILE: why" when no line is to blame (cannot open,
 * cannot create a table), as weir_conf words them.
 *
 * Label ids are 1..n in order of first appearance; the id is the LPM next
 * hop. rte_lpm next hops are 24 bits and (DPDK 22.11) rte_lpm6 ones 21 bits,
 * so a file may hold at most 2^21 - 1 distinct labels. Each table is only
 * created when the file has prefixes of that family (each costs 64 MiB of
 * tbl24), sized from the file: max_rules = the number of distinct prefixes,
 * tbl8 groups counted from the prefixes longer than 24 bits (tbl8_groups()).
 * Tables get unique names from a process-wide counter, so any number may
 * coexist.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include "weir_burst.h"
#include "weir_enrich.h"

#define LABELS_MAX ((1u << 21) - 1) /* rte_lpm6 next hop width in 22.11 */

struct weir_labels {
	struct rte_lpm *lpm4;   /* NULL: no IPv4 prefix longer than /0 */
	struct rte_lpm6 *lpm6;  /* NULL: no IPv6 prefix longer than /0 */
	uint32_t default4;      /* label of 0.0.0.0/0 (0: none) */
	uint32_t default6;      /* label of ::/0 */
	uint32_t n;             /* labels */
	char (*names)[WEIR_LABEL_MAX]; /* names[id - 1] */
	uint32_t *slots;        /* open addressing name -> id, size mask + 1 */
	uint32_t mask;
};

/* One parsed line. */
struct entry {
	uint8_t ver;
	uint8_t len;
	uint8_t addr[16];
	uint32_t id;
	unsigned line;
};

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Slot of name in l->slots: the one holding it, or the empty one to put it in. */
static uint32_t name_slot(const struct weir_labels *l, const char *name)
{
	uint32_t i = name_hash(name) & l->mask;

	while (l->slots[i] && strcmp(l->names[l->slots[i] - 1], name) != 0)
		i = (i + 1) & l->mask;
	return i;
}

uint32_t weir_labels_find(const struct weir_labels *l, const char *name)
{
	if (!l || !name || !l->slots)
		return 0;
	return l->slots[name_slot(l, name)];
}

uint32_t weir_labels_count(const struct weir_labels *l)
{
	return l ? l->n : 0;
}

const char *weir_labels_name(const struct weir_labels *l, uint32_t id)
{
	if (!l || id == 0 || id > l->n)
		return NULL;
	return l->names[id - 1];
}

void weir_labels_free(struct weir_labels *l)
{
	if (!l)
		return;
	rte_lpm_free(l->lpm4);
	rte_lpm6_free(l->lpm6);
	free(l->names);
	free(l->slots);
	free(l);
}

/* ------------------------------------------------------------------ loading */

struct loader {
	const char *path;
	char *err;
	size_t errlen;
	struct weir_labels *l;
	uint32_t cap;            /* names[] capacity */
	struct entry *e;
	size_t ne, cape;
};

static bool fail(struct loader *ld, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (!ld->err || ld->errlen == 0)
		return false;
	if (line)
		k = snprintf(ld->err, ld->errlen, "%s:%u: ", ld->path, line);
	else
		k = snprintf(ld->err, ld->errlen, "%s: ", ld->path);
	if (k < 0 || (size_t)k >= ld->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(ld->err + k, ld->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return false;
}

static bool oom(struct loader *ld, unsigned line)
{
	return fail(ld, line, "out of memory");
}

/* The id of label `name`, adding it when new; 0 on failure (err set). */
static uint32_t label_id(struct loader *ld, unsigned line, const char *name)
{
	struct weir_labels *l = ld->l;
	uint32_t s, i;

	if ((l->n + 1) * 2 > l->mask + 1) { /* keep the name index at most half full */
		uint32_t nsz = (l->mask + 1) * 2;
		uint32_t *ns = calloc(nsz, sizeof(*ns));
		uint32_t *old = l->slots;

		if (!ns)
			return oom(ld, line), 0;
		l->slots = ns;
		l->mask = nsz - 1;
		for (i = 0; i < l->n; i++)
			l->slots[name_slot(l, l->names[i])] = i + 1;
		free(old);
	}
	s = name_slot(l, name);
	if (l->slots[s])
		return l->slots[s];
	if (l->n >= LABELS_MAX)
		return fail(ld, line, "too many distinct labels (at most %u)", LABELS_MAX), 0;
	if (l->n == ld->cap) {
		uint32_t nc = ld->cap ? ld->cap * 2 : 64;
		void *nn = realloc(l->names, (size_t)nc * WEIR_LABEL_MAX);

		if (!nn)
			return oom(ld, line), 0;
		l->names = nn;
		ld->cap = nc;
	}
	snprintf(l->names[l->n], WEIR_LABEL_MAX, "%s", name);
	l->n++;
	l->slots[s] = l->n;
	return l->n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse "addr[/len]" (already trimmed) into e. */
static bool parse_cidr(struct loader *ld, unsigned line, char *s, struct entry *e)
{
	char *slash = strchr(s, '/');
	unsigned max, len, i;
	int af;

	if (*s == '\0')
		return fail(ld, line, "missing CIDR");
	if (slash)
		*slash = '\0';
	af = strchr(s, ':') ? AF_INET6 : AF_INET;
	max = af == AF_INET ? 32 : 128;
	memset(e->addr, 0, sizeof(e->addr));
	if (inet_pton(af, s, e->addr) != 1) {
		if (slash)
			*slash = '/';
		return fail(ld, line, "bad CIDR '%s': not an IP%s address", s,
			    af == AF_INET ? "v4" : "v6");
	}
	len = max;
	if (slash) {
		const char *d = slash + 1;

		if (*d == '\0') {
			*slash = '/';
			return fail(ld, line, "bad CIDR '%s': missing prefix length", s);
		}
		len = 0;
		for (; *d; d++) {
			if (*d < '0' || *d > '9') {
				*slash = '/';
				return fail(ld, line, "bad CIDR '%s': prefix length is not a number", s);
			}
			if (len <= 1000)
				len = len * 10 + (unsigned)(*d - '0');
		}
		if (len > max) {
			*slash = '/';
			return fail(ld, line, "prefix length %s out of range in '%s' (0-%u)", slash + 1,
				    s, max);
		}
	}
	e->ver = af == AF_INET ? 4 : 6;
	e->len = (uint8_t)len;
	/* host bits */
	for (i = 0; i < max / 8; i++) {
		unsigned keep = len >= (i + 1) * 8 ? 8 : len > i * 8 ? len - i * 8 : 0;
		uint8_t m = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		if (e->addr[i] & ~m) {
			uint8_t masked[16];
			char want[INET6_ADDRSTRLEN];
			unsigned j;

			for (j = 0; j < 16; j++) {
				unsigned k = len >= (j + 1) * 8 ? 8 : len > j * 8 ? len - j * 8 : 0;
				masked[j] = e->addr[j] & (uint8_t)(k ? 0xff << (8 - k) : 0);
			}
			inet_ntop(af, masked, want, sizeof(want));
			if (slash)
				*slash = '/';
			return fail(ld, line, "host bits set in '%s' (the prefix is %s/%u)", s, want,
				    len);
		}
	}
	return true;
}

/* Parse the label field starting at s (leading blanks skipped) into out. */
static bool parse_label(struct loader *ld, unsigned line, char *s, char *out)
{
	size_t n = 0;

	while (is_blank(*s))
		s++;
	if (*s == '"') {
		s++;
		for (;;) {
			if (*s == '\0')
				return fail(ld, line, "unterminated quoted label");
			if (*s == '"') {
				if (s[1] == '"') {
					s++;
				} else {
					s++;
					break;
				}
			}
			if (n + 1 >= WEIR_LABEL_MAX)
				return fail(ld, line, "label too long (at most %d bytes)",
					    WEIR_LABEL_MAX - 1);
			out[n++] = *s++;
		}
		while (is_blank(*s))
			s++;
		if (*s != '\0')
			return fail(ld, line, "unexpected text after the quoted label");
	} else {
		size_t k = strlen(s);

		while (k && is_blank(s[k - 1]))
			k--;
		if (k + 1 > WEIR_LABEL_MAX)
			return fail(ld, line, "label too long (%zu bytes, at most %d)", k,
				    WEIR_LABEL_MAX - 1);
		memcpy(out, s, k);
		n = k;
	}
	out[n] = '\0';
	if (n == 0)
		return fail(ld, line, "missing label");
	return true;
}

static bool parse_line(struct loader *ld, unsigned line, char *s)
{
	char label[WEIR_LABEL_MAX];
	struct entry e;
	char *comma, *a, *end;
	size_t k = strlen(s);

	while (k && (s[k - 1] == '\n' || s[k - 1] == '\r'))
		s[--k] = '\0';
	if (line == 1 && (uint8_t)s[0] == 0xef && (uint8_t)s[1] == 0xbb && (uint8_t)s[2] == 0xbf)
		s += 3;
	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return true;
	comma = strchr(s, ',');
	if (comma)
		*comma = '\0';
	a = s;
	end = a + strlen(a);
	while (end > a && is_blank(end[-1]))
		*--end = '\0';
	if (end - a >= 2 && a[0] == '"' && end[-1] == '"') { /* "10.0.0.0/8" */
		*--end = '\0';
		a++;
	}
	if (!parse_cidr(ld, line, a, &e))
		return false;
	if (!comma)
		return fail(ld, line, "missing label (expected CIDR,label)");
	if (!parse_label(ld, line, comma + 1, label))
		return false;
	e.id = label_id(ld, line, label);
	if (!e.id)
		return false;
	e.line = line;
	if (ld->ne == ld->cape) {
		size_t nc = ld->cape ? ld->cape * 2 : 256;
		void *ne = realloc(ld->e, nc * sizeof(*ld->e));

		if (!ne)
			return oom(ld, line);
		ld->e = ne;
		ld->cape = nc;
	}
	ld->e[ld->ne++] = e;
	return true;
}

static bool same_prefix(const struct entry *x, const struct entry *y)
{
	return x->ver == y->ver && x->len == y->len && memcmp(x->addr, y->addr, 16) == 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	if (x->ver != y->ver)
		return x->ver < y->ver ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Two lines with the same prefix and different labels: report the earliest such later line. */
static bool check_duplicates(struct loader *ld)
{
	const struct entry *bad = NULL, *first = NULL;
	size_t i, start = 0;

	if (ld->ne == 0)
		return true;
	qsort(ld->e, ld->ne, sizeof(*ld->e), entry_cmp);
	for (i = 1; i <= ld->ne; i++) {
		if (i < ld->ne && same_prefix(&ld->e[i], &ld->e[start])) {
			/* same prefix as the group's first line (the earliest) */
			if (ld->e[i].id != ld->e[start].id && (!bad || ld->e[i].line < bad->line)) {
				bad = &ld->e[i];
				first = &ld->e[start];
			}
			continue;
		}
		start = i;
	}
	if (bad) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(bad->ver == 4 ? AF_INET : AF_INET6, bad->addr, a, sizeof(a));
		return fail(ld, bad->line,
			    "duplicate prefix %s/%u: labelled \"%s\" here and \"%s\" on line %u", a,
			    bad->len, ld->l->names[bad->id - 1], ld->l->names[first->id - 1],
			    first->line);
	}
	return true;
}

static size_t cmp_bytes; /* qsort has no context argument: the key length of keycmp */

static int keycmp(const void *a, const void *b)
{
	return memcmp(a, b, cmp_bytes);
}

/*
 * tbl8 groups the prefixes of family `ver` need. Both tables resolve the first
 * 24 bits in tbl24 and each further byte in a tbl8 group of 256 entries, one
 * group per distinct leading-k-bytes path that a longer prefix goes through:
 * for IPv4 one per distinct /24 holding a prefix longer than /24; for IPv6
 * the sum over k = 3..15 of the distinct k-byte heads of the prefixes longer
 * than 8k bits. Counted exactly (the worst case, a group per byte per prefix,
 * would reserve 1 KiB x 13 per IPv6 host route), plus a small margin.
 */
static bool tbl8_groups(struct loader *ld, uint8_t ver, uint32_t *out)
{
	unsigned kmax = ver == 4 ? 3 : 15;
	uint8_t *keys = malloc(ld->ne * 16 + 1);
	uint64_t total = 0;

	if (!keys)
		return oom(ld, 0);
	for (unsigned k = 3; k <= kmax; k++) {
		size_t n = 0, distinct = 0;

		for (size_t i = 0; i < ld->ne; i++) {
			const struct entry *e = &ld->e[i];

			if (e->ver == ver && e->len > 8 * k)
				memcpy(keys + 16 * n++, e->addr, 16);
		}
		if (n == 0)
			break; /* none longer than 8k bits: none longer than 8(k+1) either */
		cmp_bytes = k;
		qsort(keys, n, 16, keycmp);
		for (size_t i = 0; i < n; i++)
			distinct += i == 0 || memcmp(keys + 16 * i, keys + 16 * (i - 1), k) != 0;
		total += distinct;
	}
	free(keys);
	total += total / 16 + 1;
	if (total > (ver == 4 ? RTE_LPM_MAX_TBL8_NUM_GROUPS : (1u << 21)))
		return fail(ld, 0, "too many long IPv%u prefixes (%" PRIu64 " tbl8 groups)", ver,
			    total);
	*out = (uint32_t)total;
	return true;
}

static bool build_tables(struct loader *ld)
{
	static uint32_t seq; /* unique table names within the process */
	struct weir_labels *l = ld->l;
	uint32_t n4 = 0, n6 = 0, t8_4 = 0, t8_6 = 0;
	char name[RTE_LPM_NAMESIZE];
	size_t i;

	for (i = 0; i < ld->ne; i++) {
		const struct entry *e = &ld->e[i];

		if (i && same_prefix(e, e - 1))
			continue; /* same prefix, same label (checked): added once */
		if (e->len == 0)
			continue;
		if (e->ver == 4)
			n4++;
		else
			n6++;
	}
	if (n4 && !tbl8_groups(ld, 4, &t8_4))
		return false;
	if (n6 && !tbl8_groups(ld, 6, &t8_6))
		return false;
	if (n4) {
		struct rte_lpm_config c = {.max_rules = n4, .number_tbl8s = t8_4};
		uint32_t s = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);

		snprintf(name, sizeof(name), "wlab4_%u", s);
		l->lpm4 = rte_lpm_create(name, SOCKET_ID_ANY, &c);
		if (!l->lpm4)
			return fail(ld, 0, "cannot create the IPv4 table (%u prefixes): %s", n4,
				    rte_strerror(rte_errno));
	}
	if (n6) {
		struct rte_lpm6_config c = {.max_rules = n6, .number_tbl8s = t8_6};
		uint32_t s = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);

		snprintf(name, sizeof(name), "wlab6_%u", s);
		l->lpm6 = rte_lpm6_create(name, SOCKET_ID_ANY, &c);
		if (!l->lpm6)
			return fail(ld, 0, "cannot create the IPv6 table (%u prefixes): %s", n6,
				    rte_strerror(rte_errno));
	}
	for (i = 0; i < ld->ne; i++) {
		const struct entry *e = &ld->e[i];
		int rc;

		if (i && same_prefix(e, e - 1))
			continue;
		if (e->len == 0) {
			if (e->ver == 4)
				l->default4 = e->id;
			else
				l->default6 = e->id;
			continue;
		}
		if (e->ver == 4) {
			uint32_t ip = (uint32_t)e->addr[0] << 24 | (uint32_t)e->addr[1] << 16 |
				      (uint32_t)e->addr[2] << 8 | e->addr[3];
			rc = rte_lpm_add(l->lpm4, ip, e->len, e->id);
		} else {
			rc = rte_lpm6_add(l->lpm6, e->addr, e->len, e->id);
		}
		if (rc < 0)
			return fail(ld, e->line, "cannot add the prefix to the IPv%u table: %s", e->ver,
				    rte_strerror(-rc));
	}
	return true;
}

struct weir_labels *weir_labels_load(const char *path, char *err, size_t errlen)
{
	struct loader ld = {.path = path, .err = err, .errlen = errlen};
	char *buf = NULL;
	size_t bufsz = 0;
	unsigned line = 0;
	bool ok = true;
	FILE *f;

	if (err && errlen)
		err[0] = '\0';
	if (!path) {
		if (err && errlen)
			snprintf(err, errlen, "labels: no file");
		return NULL;
	}
	if (rte_lcore_count() == 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: the DPDK EAL is not initialised (rte_lpm needs it)",
				 path);
		return NULL;
	}
	f = fopen(path, "r");
	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	ld.l = calloc(1, sizeof(*ld.l));
	if (ld.l) {
		ld.l->mask = 63;
		ld.l->slots = calloc(64, sizeof(*ld.l->slots));
	}
	if (!ld.l || !ld.l->slots) {
		fclose(f);
		oom(&ld, 0);
		weir_labels_free(ld.l);
		return NULL;
	}
	while (ok && getline(&buf, &bufsz, f) >= 0)
		ok = parse_line(&ld, ++line, buf);
	if (ok && ferror(f))
		ok = fail(&ld, line + 1, "read error: %s", strerror(errno));
	free(buf);
	fclose(f);
	ok = ok && check_duplicates(&ld) && build_tables(&ld);
	free(ld.e);
	if (!ok) {
		weir_labels_free(ld.l);
		return NULL;
	}
	return ld.l;
}

/* ---------------------------------------------------------------- data path */

static void lookup_chunk(const struct weir_labels *l, const struct weir_pkt *const *pkts,
			 unsigned n, uint32_t *src_id, uint32_t *dst_id)
{
	uint32_t ip4[2 * WEIR_BURST_MAX], hop4[2 * WEIR_BURST_MAX];
	uint8_t ip6[2 * WEIR_BURST_MAX][RTE_LPM6_IPV6_ADDR_SIZE];
	int32_t hop6[2 * WEIR_BURST_MAX];
	uint16_t at4[2 * WEIR_BURST_MAX], at6[2 * WEIR_BURST_MAX]; /* 2 * packet + (dst) */
	unsigned n4 = 0, n6 = 0, i;

	for (i = 0; i < n; i++) {
		const struct weir_pkt *p = pkts[i];

		src_id[i] = 0;
		dst_id[i] = 0;
		if (p->ip_version == 4) {
			src_id[i] = l->default4;
			dst_id[i] = l->default4;
			if (!l->lpm4)
				continue;
			memcpy(&ip4[n4], p->src_ip, 4);
			ip4[n4] = rte_be_to_cpu_32(ip4[n4]);
			at4[n4++] = (uint16_t)(2 * i);
			memcpy(&ip4[n4], p->dst_ip, 4);
			ip4[n4] = rte_be_to_cpu_32(ip4[n4]);
			at4[n4++] = (uint16_t)(2 * i + 1);
		} else if (p->ip_version == 6) {
			src_id[i] = l->default6;
			dst_id[i] = l->default6;
			if (!l->lpm6)
				continue;
			memcpy(ip6[n6], p->src_ip, 16);
			at6[n6++] = (uint16_t)(2 * i);
			memcpy(ip6[n6], p->dst_ip, 16);
			at6[n6++] = (uint16_t)(2 * i + 1);
		}
	}
	if (n4) {
		rte_lpm_lookup_bulk(l->lpm4, ip4, hop4, n4);
		for (i = 0; i < n4; i++) {
			uint32_t *o = (at4[i] & 1) ? dst_id : src_id;

			if (hop4[i] & RTE_LPM_LOOKUP_SUCCESS)
				o[at4[i] >> 1] = hop4[i] & 0x00ffffff;
		}
	}
	if (n6) {
		rte_lpm6_lookup_bulk_func(l->lpm6, ip6, hop6, n6);
		for (i = 0; i < n6; i++) {
			uint32_t *o = (at6[i] & 1) ? dst_id : src_id;

			if (hop6[i] >= 0)
				o[at6[i] >> 1] = (uint32_t)hop6[i];
		}
	}
}

void weir_labels_lookup_burst(const struct weir_labels *l, const struct weir_pkt *const *pkts,
			      unsigned n, uint32_t *src_id, uint32_t *dst_id)
{
	unsigned i;

	if (!l) {
		for (i = 0; i < n; i++)
			src_id[i] = dst_id[i] = 0;
		return;
	}
	for (i = 0; i < n; i += WEIR_BURST_MAX) {
		unsigned k = n - i < WEIR_BURST_MAX ? n - i : WEIR_BURST_MAX;

		lookup_chunk(l, pkts + i, k, src_id + i, dst_id + i);
	}
}
