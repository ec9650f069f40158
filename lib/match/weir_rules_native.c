/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir's native rule format: one YAML file, `rules:` a list of mappings
 * (rules/README.md documents every key). Read with lib/conf's YAML tree so
 * that every error names FILE:LINE. An invalid rule is reported and left
 * out; the others load.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "weir_match_int.h"
#include "weir_yaml.h"

static const struct weir_yname flag_names[] = {
	{ "nocase", HS_FLAG_CASELESS },       { "dotall", HS_FLAG_DOTALL },
	{ "multiline", HS_FLAG_MULTILINE },   { "singlematch", HS_FLAG_SINGLEMATCH },
	{ "allowempty", HS_FLAG_ALLOWEMPTY }, { "utf8", HS_FLAG_UTF8 },
	{ "ucp", HS_FLAG_UCP },               { "som_leftmost", HS_FLAG_SOM_LEFTMOST },
	{ NULL, 0 },
};
static const struct weir_yname action_names[] = {
	{ "alert", WEIR_ACTION_ALERT }, { "count", WEIR_ACTION_COUNT },
	{ "drop", WEIR_ACTION_DROP },   { "pass", WEIR_ACTION_PASS },   { NULL, 0 },
};
static const struct weir_yname mode_names[] = {
	{ "packet", WEIR_MODE_PACKET }, { "stream", WEIR_MODE_STREAM }, { NULL, 0 },
};
static const struct weir_yname dir_names[] = {
	{ "any", WEIR_DIR_ANY }, { "to_server", WEIR_DIR_TO_SERVER },
	{ "to_client", WEIR_DIR_TO_CLIENT }, { NULL, 0 },
};
static const struct weir_yname proto_names[] = {
	{ "any", 0 }, { "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 },
	{ "sctp", 132 }, { NULL, 0 },
};

struct nat {
	struct weir_ruleset *rs;
	struct weir_yctx y;
	char err[512];
	struct weir_origin o;
	struct weir_rule r;
	unsigned flags;
	hs_expr_ext_t ext;
	const struct weir_ynode *pattern, *literal;
};

/* y.err is "FILE:LINE: message": report it under the rule's id. */
static int report_yerr(struct nat *n, const char *reason)
{
	const char *msg = n->err;
	unsigned line = 0;
	size_t fl = strlen(n->o.file);
	if (strncmp(msg, n->o.file, fl) == 0 && msg[fl] == ':') {
		msg += fl + 1;
		while (isdigit((unsigned char)*msg))
			line = line * 10 + (unsigned)(*msg++ - '0');
		if (*msg == ':')
			msg++;
		while (*msg == ' ')
			msg++;
	}
	struct weir_origin o = n->o;
	if (line)
		o.line = line;
	weir_rules_report(n->rs, &o, WEIR_REASON_ERROR, reason, "%s", msg);
	return -1;
}

static int read_str(struct nat *n, const struct weir_ynode *v, char **out)
{
	if (weir_yexpect(&n->y, v, WEIR_YSCALAR) < 0)
		return -1;
	free(*out);
	*out = strdup(v->str);
	return *out ? 0 : weir_yerr(&n->y, v->line, "out of memory");
}

static int read_flags(struct nat *n, const struct weir_ynode *v)
{
	if (weir_yexpect(&n->y, v, WEIR_YSEQ) < 0)
		return -1;
	WEIR_YFOREACH(it, v) {
		int f;
		if (weir_yread_enum(&n->y, it, flag_names, &f) < 0)
			return -1;
		n->flags |= (unsigned)f;
	}
	return 0;
}

/* "80", "[80,443]", or a YAML list of such items. */
static int read_ports(struct nat *n, const struct weir_ynode *v, struct weir_portset *ps)
{
	struct weir_sbuf b = { 0 };
	if (v->type == WEIR_YSCALAR) {
		weir_sbuf_add(&b, v->str, strlen(v->str));
	} else if (v->type == WEIR_YSEQ && v->n_children) {
		weir_sbuf_add(&b, "[", 1);
		WEIR_YFOREACH(it, v) {
			if (weir_yexpect(&n->y, it, WEIR_YSCALAR) < 0) {
				free(b.s);
				return -1;
			}
			weir_sbuf_printf(&b, "%s%s", it == v->child ? "" : ",", it->str);
		}
		weir_sbuf_add(&b, "]", 1);
	} else {
		return weir_yerr(&n->y, v->line, "%s: expected a port, a range or a list", v->key);
	}
	char *text = weir_sbuf_take(&b), err[160];
	if (!text)
		return weir_yerr(&n->y, v->line, "out of memory");
	int rc = weir_portset_parse(text, ps, err, sizeof(err));
	free(text);
	return rc < 0 ? weir_yerr(&n->y, v->line, "%s: %s", v->key, err) : 0;
}

static int read_tags(struct nat *n, const struct weir_ynode *v)
{
	if (weir_yexpect(&n->y, v, WEIR_YSEQ) < 0)
		return -1;
	WEIR_YFOREACH(it, v) {
		if (weir_yexpect(&n->y, it, WEIR_YSCALAR) < 0)
			return -1;
		if (weir_rule_add_tag(&n->r, it->str) < 0)
			return weir_yerr(&n->y, it->line, "out of memory");
	}
	return 0;
}

static int read_ext(struct nat *n, const struct weir_ynode *v, unsigned long long flag,
		    unsigned long long *field)
{
	uint64_t x;
	if (weir_yread_uint(&n->y, v, 0, UINT32_MAX, &x) < 0)
		return -1;
	n->ext.flags |= flag;
	*field = x;
	return 0;
}

static int read_enum8(struct nat *n, const struct weir_ynode *v, const struct weir_yname *names,
		      uint8_t *out)
{
	int x;
	if (weir_yread_enum(&n->y, v, names, &x) < 0)
		return -1;
	*out = (uint8_t)x;
	return 0;
}

/* proto: a name or an IP protocol number */
static int read_proto(struct nat *n, const struct weir_ynode *v)
{
	uint64_t x;
	if (v->type == WEIR_YSCALAR && isdigit((unsigned char)v->str[0])) {
		if (weir_yread_uint(&n->y, v, 0, 255, &x) < 0)
			return -1;
		n->r.scope.l4_proto = (uint8_t)x;
		return 0;
	}
	return read_enum8(n, v, proto_names, &n->r.scope.l4_proto);
}

static int read_member(struct nat *n, const struct weir_ynode *m)
{
	const char *k = m->key;
	uint64_t x;
	bool b;
	if (!strcmp(k, "id")) {
		if (weir_yread_uint(&n->y, m, 1, UINT32_MAX, &x) < 0)
			return -1;
		n->r.id = n->o.id = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "msg"))
		return read_str(n, m, &n->r.msg);
	if (!strcmp(k, "pattern") || !strcmp(k, "literal")) {
		if (weir_yexpect(&n->y, m, WEIR_YSCALAR) < 0)
			return -1;
		*(k[0] == 'p' ? &n->pattern : &n->literal) = m;
		return 0;
	}
	if (!strcmp(k, "flags"))
		return read_flags(n, m);
	if (!strcmp(k, "proto"))
		return read_proto(n, m);
	if (!strcmp(k, "src_port"))
		return read_ports(n, m, &n->r.scope.sport);
	if (!strcmp(k, "dst_port"))
		return read_ports(n, m, &n->r.scope.dport);
	if (!strcmp(k, "direction"))
		return read_enum8(n, m, dir_names, &n->r.scope.dir);
	if (!strcmp(k, "established")) {
		if (weir_yread_bool(&n->y, m, &b) < 0)
			return -1;
		n->r.scope.est = b ? WEIR_EST_YES : WEIR_EST_NO;
		return 0;
	}
	if (!strcmp(k, "mode"))
		return read_enum8(n, m, mode_names, &n->r.mode);
	if (!strcmp(k, "action"))
		return read_enum8(n, m, action_names, &n->r.action);
	if (!strcmp(k, "severity")) {
		if (weir_yread_uint(&n->y, m, 1, 255, &x) < 0)
			return -1;
		n->r.severity = (uint8_t)x;
		return 0;
	}
	if (!strcmp(k, "tags"))
		return read_tags(n, m);
	if (!strcmp(k, "min_offset"))
		return read_ext(n, m, HS_EXT_FLAG_MIN_OFFSET, &n->ext.min_offset);
	if (!strcmp(k, "max_offset"))
		return read_ext(n, m, HS_EXT_FLAG_MAX_OFFSET, &n->ext.max_offset);
	if (!strcmp(k, "min_length"))
		return read_ext(n, m, HS_EXT_FLAG_MIN_LENGTH, &n->ext.min_length);
	return weir_yerr(&n->y, m->key_line, "unknown key '%s'", k);
}

/* pattern (a Hyperscan regex) or literal (bytes, escaped here). */
static int add_expression(struct nat *n, const struct weir_ynode *item)
{
	if (!n->pattern == !n->literal)
		return weir_yerr(&n->y, item->line, "a rule needs exactly one of pattern, literal");
	const struct weir_ynode *v = n->pattern ? n->pattern : n->literal;
	if (!v->str[0])
		return weir_yerr(&n->y, v->line, "%s: empty", v->key);
	struct weir_sbuf b = { 0 };
	if (n->literal)
		weir_sbuf_literal(&b, (const uint8_t *)v->str, strlen(v->str));
	else
		weir_sbuf_add(&b, v->str, strlen(v->str));
	char *expr = weir_sbuf_take(&b);
	int rc = expr ? weir_rule_add_part(&n->r, expr, n->flags, &n->ext, false) : -1;
	free(expr);
	return rc < 0 ? weir_yerr(&n->y, v->line, "out of memory") : 0;
}

static int load_rule(struct nat *n, const struct weir_ynode *item)
{
	n->o.line = (unsigned)item->line;
	n->o.id = 0;
	n->flags = 0;
	n->pattern = n->literal = NULL;
	memset(&n->ext, 0, sizeof(n->ext));
	weir_rule_init(&n->r, n->o.file, n->o.line);
	if (weir_yexpect(&n->y, item, WEIR_YMAP) < 0)
		return report_yerr(n, "syntax");
	const struct weir_ynode *id = weir_yget(item, "id");
	if (id && id->type == WEIR_YSCALAR)
		n->o.id = (uint32_t)strtoul(id->str, NULL, 10);
	int rc = 0;
	WEIR_YFOREACH(m, item) {
		if ((rc = read_member(n, m)) < 0)
			break;
	}
	if (rc == 0 && !n->r.id)
		rc = weir_yerr(&n->y, item->line, "a rule needs an id");
	if (rc == 0)
		rc = add_expression(n, item);
	if (rc == 0 && !n->r.msg && !(n->r.msg = strdup("")))
		rc = weir_yerr(&n->y, item->line, "out of memory");
	if (rc < 0) {
		weir_rule_free_fields(&n->r);
		return report_yerr(n, "syntax");
	}
	char msg[1024], reason[56];
	if (weir_rule_validate(&n->r, msg, sizeof(msg), reason, sizeof(reason)) < 0) {
		unsigned line = (unsigned)(n->pattern ? n->pattern : n->literal)->line;
		struct weir_origin o = n->o;
		o.line = line;
		weir_rules_report(n->rs, &o, WEIR_REASON_ERROR, "invalid regex", "invalid regex: %s", msg);
		weir_rule_free_fields(&n->r);
		return -1;
	}
	return weir_rules_add(n->rs, &n->r, &n->o);
}

/* Nothing but blanks and comments: an empty rule file, not a YAML error. */
static bool only_comments(const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '#')
			p += strcspn(p, "\n") - 1;
		else if (!isspace((unsigned char)*p))
			return false;
	}
	return true;
}

int weir_load_native(struct weir_ruleset *rs, const char *file, const char *text)
{
	struct nat *n = calloc(1, sizeof(*n));
	if (!n)
		return -1;
	n->rs = rs;
	n->o = (struct weir_origin){ .file = file, .id_name = "id" };
	weir_yctx_init(&n->y, file, n->err, sizeof(n->err));
	int added = 0;
	if (only_comments(text))
		goto out;
	struct weir_ynode *root = weir_yaml_load(&n->y);
	if (!root) {
		report_yerr(n, "syntax");
		added = -1;
		goto out;
	}
	const struct weir_ynode *list = weir_yget(root, "rules");
	if (root->type != WEIR_YMAP || !list) {
		weir_yerr(&n->y, root->line, "expected a mapping with a 'rules:' list");
		report_yerr(n, "syntax");
	} else if (weir_yexpect(&n->y, list, WEIR_YSEQ) < 0) {
		report_yerr(n, "syntax");
	} else {
		WEIR_YFOREACH(m, root)
			if (strcmp(m->key, "rules") != 0) {
				weir_yerr(&n->y, m->key_line, "unknown key '%s'", m->key);
				report_yerr(n, "syntax");
			}
		WEIR_YFOREACH(item, list)
			added += load_rule(n, item) == 0;
	}
	weir_yaml_free(root);
out:
	free(n);
	return added;
}
