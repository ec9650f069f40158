/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The Suricata/Snort subset: header (action, protocol, addresses, ports,
 * direction) and the payload keywords weir can express EXACTLY as
 * Hyperscan expressions. Everything else skips the rule with a reason.
 *
 * Translation (Suricata's semantics, detect-engine-content-inspection.c):
 *  - a content without distance/within starts a chain; distance/within
 *    contents and /R pcres extend the chain of the keyword before them.
 *    Each chain is one expression: elements joined by bounded gaps
 *    (?s:.{d,d+w-len}) for distance d / within w (within counts from the
 *    previous match's end plus distance, as Suricata does).
 *  - offset/depth of a one-content chain become Hyperscan's MIN/MAX_OFFSET
 *    extended parameters (exact: a literal has a fixed length); on a longer
 *    chain they become a leading ^(?s:.{o,o+d-len}).
 *  - chains and independent pcres must all match: each is a part; the
 *    compiler joins the parts with a Hyperscan logical combination (AND).
 *  - a negated content/pcre (not relative) is a part that must NOT match
 *    anywhere in its window; checked after the whole payload is scanned.
 * Not expressible (skipped): negative distance, negated relative content,
 * anything relative to a negated content, ^ inside a relative pcre,
 * http/file/dns/tls buffers and every keyword not listed in kw_table.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "weir_match_int.h"

#define MAX_OPTS 128
#define REASON_LEN 56

/* Suricata's default classification.config: classtype -> priority. */
static const struct { const char *name; uint8_t prio; } classtypes[] = {
	{ "not-suspicious", 3 },            { "unknown", 3 },
	{ "bad-unknown", 2 },               { "attempted-recon", 2 },
	{ "successful-recon-limited", 2 },  { "successful-recon-largescale", 2 },
	{ "attempted-dos", 2 },             { "successful-dos", 2 },
	{ "attempted-user", 1 },            { "unsuccessful-user", 1 },
	{ "successful-user", 1 },           { "attempted-admin", 1 },
	{ "successful-admin", 1 },          { "rpc-portmap-decode", 2 },
	{ "shellcode-detect", 1 },          { "string-detect", 3 },
	{ "suspicious-filename-detect", 2 },{ "suspicious-login", 2 },
	{ "system-call-detect", 2 },        { "tcp-connection", 4 },
	{ "trojan-activity", 1 },           { "unusual-client-port-connection", 2 },
	{ "network-scan", 3 },              { "denial-of-service", 2 },
	{ "non-standard-protocol", 2 },     { "protocol-command-decode", 3 },
	{ "web-application-activity", 2 },  { "web-application-attack", 1 },
	{ "misc-activity", 3 },             { "misc-attack", 2 },
	{ "icmp-event", 3 },                { "inappropriate-content", 1 },
	{ "policy-violation", 1 },          { "default-login-attempt", 2 },
	{ "targeted-activity", 1 },         { "exploit-kit", 1 },
	{ "external-ip-check", 2 },         { "domain-c2", 1 },
	{ "pup-activity", 2 },              { "credential-theft", 1 },
	{ "social-engineering", 2 },        { "coin-mining", 2 },
	{ "command-and-control", 1 },
};

enum elem_type { EL_CONTENT, EL_PCRE };

/* One content or pcre, in keyword order. */
struct elem {
	enum elem_type type;
	bool negated, nocase, relative;
	bool has_offset, has_depth, has_distance, has_within, startswith, endswith;
	long offset, depth, distance, within;
	uint8_t *data;          /* content bytes */
	size_t len;
	char *re;               /* pcre body */
	unsigned re_flags;      /* HS_FLAG_CASELESS/DOTALL/MULTILINE */
	bool re_extended, re_anchored;
};

struct opt {
	char *name, *value;     /* value NULL: option without ':' */
};

/* Parse state of one rule. The first problem found wins: it is the reason. */
struct sig {
	struct weir_ruleset *rs;
	struct weir_origin o;
	struct weir_rule r;
	struct opt opts[MAX_OPTS];
	unsigned n_opts;
	struct elem *el;
	unsigned n_el;
	enum weir_reason_kind kind;
	bool failed;
	char reason[REASON_LEN];
	char detail[512];
	int priority;           /* -1 = none */
	int class_prio;
	bool proto_stream, proto_pkt;
};

static int fail(struct sig *s, enum weir_reason_kind kind, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct sig *s, enum weir_reason_kind kind, const char *reason, const char *fmt, ...)
{
	if (s->failed)
		return -1;
	va_list ap;
	s->failed = true;
	s->kind = kind;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	return -1;
}

static int unsupported(struct sig *s, const char *what, const char *name)
{
	char reason[REASON_LEN];
	snprintf(reason, sizeof(reason), "%s %s", what, name);
	return fail(s, WEIR_REASON_SKIP, reason, "%s '%s' not supported", what, name);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* ---------------------------------------------------------------- options */

/* Split "name:value; name; ..." in place. Quotes protect ';', and a
 * backslash protects the next character, as in Suricata's parser. */
static int split_options(struct sig *s, char *p)
{
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		char *name = p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')
			p++;
		if (p == name)
			return fail(s, WEIR_REASON_ERROR, "syntax", "expected an option name at '%.30s'", p);
		char *end_name = p;
		while (isspace((unsigned char)*p))
			p++;
		char *value = NULL;
		if (*p == ':') {
			value = ++p;
			bool quoted = false;
			for (; *p && (quoted || *p != ';'); p++) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == '"')
					quoted = !quoted;
			}
			if (quoted)
				return fail(s, WEIR_REASON_ERROR, "syntax", "unterminated quote in option '%.*s'",
					    (int)(end_name - name), name);
		}
		if (*p != ';' && !(value && !*p && s->n_opts))
			return fail(s, WEIR_REASON_ERROR, "syntax", "missing ';' after option '%.*s'",
				    (int)(end_name - name), name);
		if (s->n_opts == MAX_OPTS)
			return fail(s, WEIR_REASON_ERROR, "syntax", "more than %d options", MAX_OPTS);
		/* end_name may be the ';' itself: step past it before cutting */
		if (*p)
			*p++ = '\0';
		*end_name = '\0';
		s->opts[s->n_opts].name = name;
		s->opts[s->n_opts].value = value ? trim(value) : NULL;
		s->n_opts++;
	}
	return 0;
}

static int parse_long(struct sig *s, const char *kw, const char *v, long min, long max, long *out)
{
	char *end;
	if (!v || !*v)
		return fail(s, WEIR_REASON_ERROR, "invalid number", "%s needs a value", kw);
	long x = strtol(v, &end, 10);
	if (*trim(end) || end == v) {
		if (isalpha((unsigned char)*v) || *v == '_')
			return unsupported(s, "keyword", "byte_extract variable");
		return fail(s, WEIR_REASON_ERROR, "invalid number", "%s: invalid number '%s'", kw, v);
	}
	if (x < min || x > max)
		return fail(s, WEIR_REASON_ERROR, "invalid number", "%s %ld out of range %ld..%ld", kw, x, min, max);
	*out = x;
	return 0;
}

/* Remove the quotes around a value; *neg set for a leading '!'. */
static char *unquote(struct sig *s, const char *kw, char *v, bool *neg)
{
	*neg = false;
	if (!v) {
		fail(s, WEIR_REASON_ERROR, "syntax", "%s needs a value", kw);
		return NULL;
	}
	if (*v == '!') {
		*neg = true;
		v = trim(v + 1);
	}
	size_t n = strlen(v);
	if (n < 2 || v[0] != '"' || v[n - 1] != '"') {
		fail(s, WEIR_REASON_ERROR, "syntax", "%s value must be quoted", kw);
		return NULL;
	}
	v[n - 1] = '\0';
	return v + 1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Content string: text with \" \\ \; \: escapes and |hex bytes| sections. */
static int decode_content(struct sig *s, const char *v, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = malloc(strlen(v) + 1);
	size_t n = 0;
	if (!buf)
		return fail(s, WEIR_REASON_ERROR, "out of memory", "out of memory");
	for (const char *p = v; *p;) {
		if (*p == '|') {
			for (p++; *p && *p != '|';) {
				if (isspace((unsigned char)*p)) {
					p++;
					continue;
				}
				int hi = hexval(*p), lo = hi < 0 ? -1 : hexval(p[1]);
				if (lo < 0) {
					free(buf);
					return fail(s, WEIR_REASON_ERROR, "invalid content",
						    "invalid hex in content \"%s\"", v);
				}
				buf[n++] = (uint8_t)(hi << 4 | lo);
				p += 2;
			}
			if (*p != '|') {
				free(buf);
				return fail(s, WEIR_REASON_ERROR, "invalid content", "unterminated |hex| in content \"%s\"", v);
			}
			p++;
		} else if (*p == '\\') {
			if (!strchr("\"\\;:", p[1]) || !p[1]) {
				free(buf);
				return fail(s, WEIR_REASON_ERROR, "invalid content",
					    "invalid escape '\\%c' in content \"%s\"", p[1], v);
			}
			buf[n++] = (uint8_t)p[1];
			p += 2;
		} else {
			buf[n++] = (uint8_t)*p++;
		}
	}
	if (!n) {
		free(buf);
		return fail(s, WEIR_REASON_ERROR, "invalid content", "empty content");
	}
	*out = buf;
	*outlen = n;
	return 0;
}

static struct elem *new_elem(struct sig *s, enum elem_type t)
{
	struct elem *e = realloc(s->el, (s->n_el + 1) * sizeof(*e));
	if (!e) {
		fail(s, WEIR_REASON_ERROR, "out of memory", "out of memory");
		return NULL;
	}
	s->el = e;
	e = &s->el[s->n_el++];
	memset(e, 0, sizeof(*e));
	e->type = t;
	return e;
}

static int kw_content(struct sig *s, char *v)
{
	bool neg;
	char *str = unquote(s, "content", v, &neg);
	if (!str)
		return -1;
	struct elem *e = new_elem(s, EL_CONTENT);
	if (!e)
		return -1;
	e->negated = neg;
	return decode_content(s, str, &e->data, &e->len);
}

/* pcre:"/body/flags" */
static int kw_pcre(struct sig *s, char *v)
{
	bool neg;
	char *str = unquote(s, "pcre", v, &neg);
	if (!str)
		return -1;
	char *last = strrchr(str, '/');
	if (str[0] != '/' || last == str)
		return fail(s, WEIR_REASON_ERROR, "invalid pcre", "pcre must be \"/regex/flags\"");
	struct elem *e = new_elem(s, EL_PCRE);
	if (!e)
		return -1;
	e->negated = neg;
	*last = '\0';
	for (const char *f = last + 1; *f; f++) {
		switch (*f) {
		case 'i': e->re_flags |= HS_FLAG_CASELESS; break;
		case 's': e->re_flags |= HS_FLAG_DOTALL; break;
		case 'm': e->re_flags |= HS_FLAG_MULTILINE; break;
		case 'x': e->re_extended = true; break;
		case 'A': e->re_anchored = true; break;
		case 'R': e->relative = true; break;
		/* ungreedy only changes which match PCRE returns, not whether
		 * one exists; B/O (raw bytes, PCRE limits) do not apply here */
		case 'G': case 'B': case 'O': break;
		case 'E': return unsupported(s, "pcre modifier", "E");
		case 'U': case 'I': case 'P': case 'Q': case 'H': case 'D': case 'M':
		case 'C': case 'S': case 'Y': case 'V': case 'W': case 'Z': {
			char m[2] = { *f, 0 };
			return unsupported(s, "pcre modifier", m);
		}
		default:
			return fail(s, WEIR_REASON_ERROR, "invalid pcre", "unknown pcre modifier '%c'", *f);
		}
	}
	e->re = strdup(str + 1);
	return e->re ? 0 : fail(s, WEIR_REASON_ERROR, "out of memory", "out of memory");
}

/* The content a modifier applies to: the last keyword must be a content. */
static struct elem *last_content(struct sig *s, const char *kw)
{
	if (!s->n_el || s->el[s->n_el - 1].type != EL_CONTENT) {
		fail(s, WEIR_REASON_ERROR, "modifier without content", "%s without a content before it", kw);
		return NULL;
	}
	return &s->el[s->n_el - 1];
}

static int kw_modifier(struct sig *s, const char *kw, char *v)
{
	struct elem *e = last_content(s, kw);
	if (!e)
		return -1;
	if (strcmp(kw, "nocase") == 0) {
		e->nocase = true;
		return 0;
	}
	if (strcmp(kw, "rawbytes") == 0)
		return 0;
	if (strcmp(kw, "startswith") == 0) {
		e->startswith = true;
		return 0;
	}
	if (strcmp(kw, "endswith") == 0) {
		e->endswith = true;
		return 0;
	}
	if (strcmp(kw, "offset") == 0) {
		e->has_offset = true;
		return parse_long(s, kw, v, 0, 65535, &e->offset);
	}
	if (strcmp(kw, "depth") == 0) {
		e->has_depth = true;
		return parse_long(s, kw, v, 1, 65535, &e->depth);
	}
	if (strcmp(kw, "distance") == 0) {
		e->has_distance = true;
		return parse_long(s, kw, v, -65535, 65535, &e->distance);
	}
	e->has_within = true;
	return parse_long(s, kw, v, 1, 65535, &e->within);
}

static int kw_flow(struct sig *s, char *v)
{
	if (!v)
		return fail(s, WEIR_REASON_ERROR, "syntax", "flow needs a value");
	for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ",")) {
		tok = trim(tok);
		if (!strcmp(tok, "to_server") || !strcmp(tok, "from_client"))
			s->r.scope.dir = WEIR_DIR_TO_SERVER;
		else if (!strcmp(tok, "to_client") || !strcmp(tok, "from_server"))
			s->r.scope.dir = WEIR_DIR_TO_CLIENT;
		else if (!strcmp(tok, "established"))
			s->r.scope.est = WEIR_EST_YES;
		else if (!strcmp(tok, "not_established"))
			s->r.scope.est = WEIR_EST_NO;
		else if (!strcmp(tok, "stateless"))
			;
		else if (!strcmp(tok, "only_stream") || !strcmp(tok, "no_stream") ||
			 !strcmp(tok, "only_frag") || !strcmp(tok, "no_frag")) {
			char reason[REASON_LEN];
			snprintf(reason, sizeof(reason), "flow:%s", tok);
			return fail(s, WEIR_REASON_SKIP, reason, "flow:%s not supported", tok);
		} else {
			return fail(s, WEIR_REASON_ERROR, "syntax", "unknown flow option '%s'", tok);
		}
	}
	return 0;
}

static int kw_classtype(struct sig *s, char *v)
{
	if (!v || !*v)
		return fail(s, WEIR_REASON_ERROR, "syntax", "classtype needs a value");
	for (size_t i = 0; i < sizeof(classtypes) / sizeof(classtypes[0]); i++)
		if (strcmp(classtypes[i].name, v) == 0)
			s->class_prio = classtypes[i].prio;
	char tag[128];
	snprintf(tag, sizeof(tag), "classtype:%s", v);
	return weir_rule_add_tag(&s->r, tag) < 0 ? fail(s, WEIR_REASON_ERROR, "out of memory", "out of memory") : 0;
}

static int kw_msg(struct sig *s, char *v)
{
	bool neg;
	char *m = v && *v == '"' ? unquote(s, "msg", v, &neg) : v;
	if (!m)
		return -1;
	free(s->r.msg);
	s->r.msg = malloc(strlen(m) + 1);
	if (!s->r.msg)
		return fail(s, WEIR_REASON_ERROR, "out of memory", "out of memory");
	char *d = s->r.msg;
	for (const char *p = m; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		*d++ = *p;
	}
	*d = '\0';
	return 0;
}

static int kw_number(struct sig *s, const char *kw, char *v)
{
	long x;
	if (strcmp(kw, "sid") == 0 || strcmp(kw, "rev") == 0 || strcmp(kw, "gid") == 0) {
		if (parse_long(s, kw, v, kw[0] == 's' ? 1 : 0, (long)UINT32_MAX, &x) < 0)
			return -1;
		if (kw[0] == 'r')
			s->r.rev = (uint32_t)x;
		return 0;
	}
	if (parse_long(s, kw, v, 1, 255, &x) < 0)
		return -1;
	s->priority = (int)x;
	return 0;
}

enum kw_kind { KW_IGNORE, KW_MSG, KW_CONTENT, KW_MOD, KW_PCRE, KW_FLOW, KW_NUM, KW_CLASS };

/* Everything weir reads; any other keyword skips the rule. */
static const struct { const char *name; enum kw_kind kind; } kw_table[] = {
	{ "msg", KW_MSG },          { "content", KW_CONTENT },   { "nocase", KW_MOD },
	{ "offset", KW_MOD },       { "depth", KW_MOD },         { "distance", KW_MOD },
	{ "within", KW_MOD },       { "startswith", KW_MOD },    { "endswith", KW_MOD },
	{ "rawbytes", KW_MOD },     { "pcre", KW_PCRE },         { "flow", KW_FLOW },
	{ "sid", KW_NUM },          { "rev", KW_NUM },           { "gid", KW_NUM },
	{ "priority", KW_NUM },     { "classtype", KW_CLASS },
	/* no effect on what matches */
	{ "reference", KW_IGNORE }, { "metadata", KW_IGNORE },   { "fast_pattern", KW_IGNORE },
	{ "target", KW_IGNORE },
};

static int do_option(struct sig *s, struct opt *op)
{
	for (size_t i = 0; i < sizeof(kw_table) / sizeof(kw_table[0]); i++) {
		if (strcmp(kw_table[i].name, op->name) != 0)
			continue;
		switch (kw_table[i].kind) {
		case KW_IGNORE: return 0;
		case KW_MSG: return kw_msg(s, op->value);
		case KW_CONTENT: return kw_content(s, op->value);
		case KW_MOD: return kw_modifier(s, op->name, op->value);
		case KW_PCRE: return kw_pcre(s, op->value);
		case KW_FLOW: return kw_flow(s, op->value);
		case KW_NUM: return kw_number(s, op->name, op->value);
		case KW_CLASS: return kw_classtype(s, op->value);
		}
	}
	return unsupported(s, "keyword", op->name);
}

/* ----------------------------------------------------------------- header */

static const char *next_token(char **p)
{
	while (isspace((unsigned char)**p))
		(*p)++;
	if (!**p)
		return NULL;
	char *start = *p;
	int depth = 0;
	for (; **p && (depth || !isspace((unsigned char)**p)); (*p)++) {
		if (**p == '[')
			depth++;
		else if (**p == ']' && depth)
			depth--;
	}
	if (**p)
		*(*p)++ = '\0';
	return start;
}

static int header_action(struct sig *s, const char *a)
{
	if (!strcmp(a, "alert"))
		s->r.action = WEIR_ACTION_ALERT;
	else if (!strcmp(a, "drop"))
		s->r.action = WEIR_ACTION_DROP;
	else if (!strcmp(a, "pass"))
		s->r.action = WEIR_ACTION_PASS;
	else if (!strncmp(a, "reject", 6))
		return unsupported(s, "action", a);
	else
		return fail(s, WEIR_REASON_ERROR, "syntax", "unknown action '%s'", a);
	return 0;
}

static int header_proto(struct sig *s, const char *p)
{
	static const struct { const char *name; uint8_t proto; } protos[] = {
		{ "ip", 0 }, { "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "sctp", 132 },
		{ "tcp-pkt", 6 }, { "tcp-stream", 6 }, { "icmpv6", 58 }, { "ipv6-icmp", 58 },
	};
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strcmp(protos[i].name, p) == 0) {
			s->r.scope.l4_proto = protos[i].proto;
			s->proto_stream = !strcmp(p, "tcp-stream");
			s->proto_pkt = !strcmp(p, "tcp-pkt");
			return 0;
		}
	}
	/* http, dns, tls, smb ...: Suricata's app-layer parsers */
	return unsupported(s, "proto", p);
}

/* An address expression weir can honour is one that means "any": weir's
 * scope has no addresses, so anything narrower skips the rule. */
static bool address_is_any(const struct weir_ruleset *rs, const char *a, int depth)
{
	if (depth > 8)
		return false;
	if (!strcmp(a, "any"))
		return true;
	if (a[0] == '$') {
		const char *v = weir_ruleset_var(rs, a + 1);
		return v && address_is_any(rs, v, depth + 1);
	}
	if (a[0] != '[')
		return false;
	/* a list is any when one of its items is, and none is negated */
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", a + 1);
	char *end = strrchr(buf, ']');
	if (!end || strchr(buf, '!'))
		return false;
	*end = '\0';
	bool any = false;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		any |= address_is_any(rs, trim(tok), depth + 1);
	return any;
}

static int header_ports(struct sig *s, const char *text, struct weir_portset *ps)
{
	char err[160];
	if (weir_portset_parse_vars(s->rs, text, ps, err, sizeof(err)) < 0)
		return fail(s, WEIR_REASON_ERROR, "invalid port", "%s", err);
	return 0;
}

static int parse_header(struct sig *s, char *h)
{
	const char *tok[8];
	unsigned n = 0;
	while (n < 8 && (tok[n] = next_token(&h)) != NULL)
		n++;
	if (n != 7)
		return fail(s, WEIR_REASON_ERROR, "syntax",
			    "header must be: action proto src sport -> dst dport");
	if (header_action(s, tok[0]) < 0 || header_proto(s, tok[1]) < 0)
		return -1;
	if (strcmp(tok[4], "->") && strcmp(tok[4], "<>"))
		return fail(s, WEIR_REASON_ERROR, "syntax", "direction must be -> or <>, got '%s'", tok[4]);
	s->r.scope.bidir = tok[4][0] == '<';
	for (int i = 2; i <= 5; i += 3)
		if (!address_is_any(s->rs, tok[i], 0))
			return fail(s, WEIR_REASON_SKIP, "ip address",
				    "address '%s' not supported (weir scopes by protocol and port only)", tok[i]);
	if (header_ports(s, tok[3], &s->r.scope.sport) < 0 || header_ports(s, tok[6], &s->r.scope.dport) < 0)
		return -1;
	return 0;
}

/* -------------------------------------------------------------- translate */

/* Inline flag group for an element inside a longer expression. */
static void open_flags(struct weir_sbuf *b, unsigned f, bool extended)
{
	weir_sbuf_add(b, "(?", 2);
	if (f & HS_FLAG_CASELESS)
		weir_sbuf_add(b, "i", 1);
	if (f & HS_FLAG_DOTALL)
		weir_sbuf_add(b, "s", 1);
	if (f & HS_FLAG_MULTILINE)
		weir_sbuf_add(b, "m", 1);
	if (extended)
		weir_sbuf_add(b, "x", 1);
	if ((f & (HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_MULTILINE)) !=
	    (HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_MULTILINE)) {
		weir_sbuf_add(b, "-", 1);
		if (!(f & HS_FLAG_CASELESS))
			weir_sbuf_add(b, "i", 1);
		if (!(f & HS_FLAG_DOTALL))
			weir_sbuf_add(b, "s", 1);
		if (!(f & HS_FLAG_MULTILINE))
			weir_sbuf_add(b, "m", 1);
	}
	weir_sbuf_add(b, ":", 1);
}

static void close_flags(struct weir_sbuf *b, bool extended)
{
	/* in x mode a '#' comment runs to the end of the line */
	weir_sbuf_add(b, extended ? "\n)" : ")", extended ? 2 : 1);
}

static void add_content(struct weir_sbuf *b, const struct elem *e)
{
	open_flags(b, e->nocase ? HS_FLAG_CASELESS : 0, false);
	weir_sbuf_literal(b, e->data, e->len);
	close_flags(b, false);
}

static void add_gap(struct weir_sbuf *b, long lo, long hi /* -1 = unbounded */)
{
	if (lo == 0 && hi == 0)
		return;
	if (hi < 0)
		weir_sbuf_printf(b, lo ? "(?s:.{%ld,})" : "(?s:.*)", lo);
	else if (lo == hi)
		weir_sbuf_printf(b, "(?s:.{%ld})", lo);
	else
		weir_sbuf_printf(b, "(?s:.{%ld,%ld})", lo, hi);
}

/*
 * Where a ^ sits in a regex, outside classes and escapes: returns how many
 * there are, *first0 whether one is the first character, and *alt whether
 * a '|' appears at nesting level 0.
 */
static unsigned count_carets(const char *re, bool *first0, bool *alt)
{
	unsigned n = 0;
	int depth = 0;
	bool cls = false;
	*first0 = re[0] == '^';
	*alt = false;
	for (const char *p = re; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == 'A' || *p == 'G')
				n++;
			continue;
		}
		if (cls) {
			cls = *p != ']' || p[-1] == '[' || (p[-1] == '^' && p[-2] == '[');
			continue;
		}
		if (*p == '[')
			cls = true;
		else if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (*p == '|' && depth == 0)
			*alt = true;
		else if (*p == '^')
			n++;
	}
	return n;
}

/* A /R pcre after the previous element: the pcre runs from the previous
 * match's end, so its leading ^ (if any) means "right there". */
static int add_relative_pcre(struct sig *s, struct weir_sbuf *b, const struct elem *e)
{
	bool first0, alt;
	unsigned carets = count_carets(e->re, &first0, &alt);
	const char *body = e->re;
	if (carets > 1 || (carets == 1 && (!first0 || alt)))
		return fail(s, WEIR_REASON_SKIP, "relative pcre with anchor",
			    "relative pcre \"/%s/\" with an anchor not at its start", e->re);
	if (carets == 1) {
		body++;
		if (e->re_flags & HS_FLAG_MULTILINE)
			weir_sbuf_add(b, "(?s:(?:.*\\n)?)", 14);
	} else if (!e->re_anchored) {
		weir_sbuf_add(b, "(?s:.*)", 7);
	}
	open_flags(b, e->re_flags, e->re_extended);
	weir_sbuf_add(b, body, strlen(body));
	close_flags(b, e->re_extended);
	return 0;
}

/* Gap before a relative content: it starts distance..distance+within-len
 * bytes after the previous element's end (Suricata counts within from
 * the previous end plus distance). */
static int add_relative_content(struct sig *s, struct weir_sbuf *b, const struct elem *e)
{
	if (e->has_offset || e->has_depth || e->startswith)
		return fail(s, WEIR_REASON_SKIP, "offset/depth with distance/within",
			    "offset/depth together with distance/within on one content");
	long d = e->has_distance ? e->distance : 0;
	if (d < 0)
		return fail(s, WEIR_REASON_SKIP, "negative distance", "negative distance %ld", d);
	if (e->has_within && e->within < (long)e->len)
		return fail(s, WEIR_REASON_ERROR, "within shorter than content",
			    "within %ld is shorter than its content (%zu bytes)", e->within, e->len);
	add_gap(b, d, e->has_within ? d + e->within - (long)e->len : -1);
	add_content(b, e);
	return 0;
}

/* Window [offset, offset+depth) of an absolute content, startswith included. */
static void content_window(const struct elem *e, long *lo, long *hi /* -1 none */)
{
	*lo = e->has_offset ? e->offset : 0;
	*hi = e->has_depth ? *lo + e->depth : -1;
	if (e->startswith)
		*hi = *lo + (long)e->len;
}

static int check_window(struct sig *s, const struct elem *e)
{
	if (e->has_depth && e->depth < (long)e->len)
		return fail(s, WEIR_REASON_ERROR, "depth shorter than content",
			    "depth %ld is shorter than its content (%zu bytes)", e->depth, e->len);
	return 0;
}

/* A chain head with offset/depth followed by more elements: anchor it. */
static void add_head_window(struct weir_sbuf *b, const struct elem *e)
{
	long lo, hi;
	content_window(e, &lo, &hi);
	if (lo == 0 && hi < 0)
		return;
	weir_sbuf_add(b, "^", 1);
	add_gap(b, lo, hi < 0 ? -1 : hi - (long)e->len);
}

/* A pcre starting a chain. Alone it keeps its flags as Hyperscan flags;
 * followed by more it carries them inline. */
static void add_head_pcre(struct weir_sbuf *b, const struct elem *h, bool lone, unsigned *flags)
{
	bool wrap = !lone || h->re_extended || h->re_anchored;
	if (lone)
		*flags = h->re_flags;
	if (h->re_anchored)
		weir_sbuf_add(b, "\\A", 2);
	if (wrap)
		open_flags(b, h->re_flags, h->re_extended);
	weir_sbuf_add(b, h->re, strlen(h->re));
	if (wrap)
		close_flags(b, h->re_extended);
}

/* A lone content: its window as Hyperscan end-offset bounds, exact because
 * a literal has a fixed length. */
static void add_lone_content(struct weir_sbuf *b, const struct elem *h, hs_expr_ext_t *ext,
			     unsigned *flags)
{
	long lo, hi;
	content_window(h, &lo, &hi);
	if (lo > 0) {
		ext->flags |= HS_EXT_FLAG_MIN_OFFSET;
		ext->min_offset = (unsigned long long)lo + h->len;
	}
	if (hi >= 0) {
		ext->flags |= HS_EXT_FLAG_MAX_OFFSET;
		ext->max_offset = (unsigned long long)hi;
	}
	*flags = h->nocase ? HS_FLAG_CASELESS : 0;
	weir_sbuf_literal(b, h->data, h->len);
}

/* One part: elements [first, last] of s->el, a chain. */
static int emit_chain(struct sig *s, unsigned first, unsigned last)
{
	const struct elem *h = &s->el[first];
	struct weir_sbuf b = { 0 };
	hs_expr_ext_t ext = { 0 };
	unsigned flags = 0;

	if (h->type == EL_PCRE) {
		add_head_pcre(&b, h, first == last, &flags);
	} else if (check_window(s, h) < 0) {
		return -1;
	} else if (first == last) {
		add_lone_content(&b, h, &ext, &flags);
	} else {
		add_head_window(&b, h);
		add_content(&b, h);
	}
	for (unsigned i = first; i <= last; i++) {
		const struct elem *e = &s->el[i];
		int rc = 0;
		if (i > first)
			rc = e->type == EL_PCRE ? add_relative_pcre(s, &b, e) : add_relative_content(s, &b, e);
		if (rc == 0 && e->endswith && i != last)
			rc = fail(s, WEIR_REASON_SKIP, "endswith before relative content",
				  "endswith on a content that has relative contents after it");
		if (rc < 0) {
			free(b.s);
			return -1;
		}
	}
	if (s->el[last].endswith)
		weir_sbuf_add(&b, "\\z", 2);
	char *expr = weir_sbuf_take(&b);
	int rc = expr ? weir_rule_add_part(&s->r, expr, flags, &ext, false) : -1;
	free(expr);
	return rc < 0 ? fail(s, WEIR_REASON_ERROR, "out of memory", "out of memory") : 0;
}

/* A negated content or pcre that is not relative: its own part. */
static int emit_negated(struct sig *s, const struct elem *e)
{
	if (e->relative || e->has_distance || e->has_within)
		return fail(s, WEIR_REASON_SKIP, "negated relative content",
			    "negated content/pcre relative to another one");
	int rc = emit_chain(s, (unsigned)(e - s->el), (unsigned)(e - s->el));
	if (rc == 0)
		s->r.parts[s->r.n_parts - 1].negated = true;
	return rc;
}

static bool is_relative(const struct elem *e)
{
	return e->type == EL_PCRE ? e->relative : (e->has_distance || e->has_within);
}

/*
 * A relative keyword with nothing before it is relative to the start of the
 * buffer (Suricata's previous-match offset starts at 0): distance d, within
 * w mean offset d, depth w.
 */
static void make_absolute(struct elem *e)
{
	if (e->type == EL_PCRE) {
		e->relative = false;
		return;
	}
	if (e->has_distance && e->distance > 0) {
		e->has_offset = true;
		e->offset = e->distance;
	}
	if (e->has_within) {
		e->has_depth = true;
		e->depth = e->within;
	}
	e->has_distance = e->has_within = false;
}

/* Elements -> parts: chains of relative elements, negated parts. */
static int translate(struct sig *s)
{
	unsigned i = 0;
	if (s->n_el && is_relative(&s->el[0]) && !s->el[0].has_offset && !s->el[0].has_depth)
		make_absolute(&s->el[0]);
	while (i < s->n_el) {
		const struct elem *e = &s->el[i];
		if (e->negated) {
			if (emit_negated(s, e) < 0)
				return -1;
			if (i + 1 < s->n_el && is_relative(&s->el[i + 1]))
				return fail(s, WEIR_REASON_SKIP, "relative to negated content",
					    "content/pcre relative to a negated one");
			i++;
			continue;
		}
		if (is_relative(e))
			return fail(s, WEIR_REASON_SKIP, "relative without previous",
				    "relative content/pcre without a content before it");
		unsigned last = i;
		while (last + 1 < s->n_el && !s->el[last + 1].negated && is_relative(&s->el[last + 1]))
			last++;
		if (last + 1 < s->n_el && s->el[last + 1].negated && is_relative(&s->el[last + 1]))
			return fail(s, WEIR_REASON_SKIP, "negated relative content",
				    "negated content/pcre relative to another one");
		if (emit_chain(s, i, last) < 0)
			return -1;
		i = last + 1;
	}
	return 0;
}

static int finish_rule(struct sig *s)
{
	if (!s->n_el)
		return fail(s, WEIR_REASON_SKIP, "no content or pcre", "no content or pcre to match");
	if (translate(s) < 0)
		return -1;
	bool positive = false, negative = false;
	for (unsigned i = 0; i < s->r.n_parts; i++) {
		positive |= !s->r.parts[i].negated;
		negative |= s->r.parts[i].negated;
	}
	if (!positive)
		return fail(s, WEIR_REASON_SKIP, "only negated content", "only negated content/pcre");
	s->r.mode = s->proto_stream ? WEIR_MODE_STREAM : s->proto_pkt ? WEIR_MODE_PACKET
								: s->rs->opts.default_mode;
	if (negative && s->r.mode == WEIR_MODE_STREAM)
		return fail(s, WEIR_REASON_SKIP, "negated content in stream mode",
			    "negated content/pcre in a stream-mode rule");
	s->r.severity = (uint8_t)(s->priority > 0 ? s->priority : s->class_prio);
	char msg[1024], reason[REASON_LEN];
	if (weir_rule_validate(&s->r, msg, sizeof(msg), reason, sizeof(reason)) < 0)
		return fail(s, WEIR_REASON_SKIP, reason, "hyperscan cannot compile: %s", msg);
	return 0;
}

/* Find sid first so that every message can name the rule. */
static void find_sid(struct sig *s)
{
	for (unsigned i = 0; i < s->n_opts; i++) {
		if (strcmp(s->opts[i].name, "sid") == 0 && s->opts[i].value) {
			char *end;
			unsigned long v = strtoul(s->opts[i].value, &end, 10);
			if (!*end && v && v <= UINT32_MAX)
				s->o.id = (uint32_t)v;
		}
	}
}

static void sig_free(struct sig *s)
{
	for (unsigned i = 0; i < s->n_el; i++) {
		free(s->el[i].data);
		free(s->el[i].re);
	}
	free(s->el);
	weir_rule_free_fields(&s->r);
}

static int parse_rule(struct sig *s, char *text)
{
	char *open = strchr(text, '(');
	char *close = strrchr(text, ')');
	if (!open || !close || close < open || *trim(close + 1))
		return fail(s, WEIR_REASON_ERROR, "syntax", "expected 'header (options)'");
	*open = '\0';
	*close = '\0';
	if (split_options(s, open + 1) < 0)
		return -1;
	find_sid(s);
	if (!s->o.id)
		return fail(s, WEIR_REASON_ERROR, "missing sid", "rule has no sid");
	if (parse_header(s, text) < 0)
		return -1;
	for (unsigned i = 0; i < s->n_opts; i++)
		if (do_option(s, &s->opts[i]) < 0)
			return -1;
	return finish_rule(s);
}

static int load_one(struct weir_ruleset *rs, const char *file, unsigned line, char *text)
{
	struct sig *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->rs = rs;
	s->o = (struct weir_origin){ .file = file, .line = line, .id_name = "sid" };
	s->priority = -1;
	s->class_prio = 3;
	weir_rule_init(&s->r, file, line);
	int rc = parse_rule(s, text);
	if (rc == 0 && !s->r.msg)
		s->r.msg = strdup("");
	if (rc < 0 || !s->r.msg) {
		weir_rules_report(rs, &s->o, s->failed ? s->kind : WEIR_REASON_ERROR,
				  s->failed ? s->reason : "out of memory", "%s",
				  s->failed ? s->detail : "out of memory");
		sig_free(s);
		free(s);
		return -1;
	}
	s->r.id = s->o.id;
	rc = weir_rules_add(rs, &s->r, &s->o);
	memset(&s->r, 0, sizeof(s->r)); /* owned by the set (or freed) now */
	sig_free(s);
	free(s);
	return rc;
}

int weir_load_suricata(struct weir_ruleset *rs, const char *file, char *text, size_t len)
{
	int added = 0;
	unsigned lineno = 0;
	char *p = text, *end = text + len;
	while (p < end) {
		/* one rule: lines joined while they end in a backslash */
		unsigned first = ++lineno;
		char *rule = p, *w = p;
		for (;;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			char *eol = nl ? nl : end;
			size_t n = (size_t)(eol - p);
			while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			bool cont = n && p[n - 1] == '\\';
			memmove(w, p, cont ? n - 1 : n);
			w += cont ? n - 1 : n;
			p = nl ? nl + 1 : end;
			if (!cont || p >= end)
				break;
			lineno++;
		}
		*w = '\0';
		char *t = trim(rule);
		if (*t && *t != '#' && load_one(rs, file, first, t) == 0)
			added++;
	}
	return added;
}
