/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_filter: tcpdump filters (libpcap -> rte_bpf_convert -> rte_bpf) and
 * weir's own predicates, combined by a small boolean tree.
 *
 * Compile time:
 *  - An expression without a weir predicate goes to libpcap whole.
 *  - Otherwise a recursive-descent parser builds a tree whose leaves are weir
 *    predicates or runs of tcpdump tokens; each maximal subtree without a
 *    weir predicate is written back as text (parenthesised where weir's
 *    precedence differs from libpcap's) and compiled as one program.
 *  - Each program is compiled once per distinct link type of the ports.
 *  - DPDK 22.11 work-arounds: (1) rte_bpf_convert gives indirect packet
 *    loads (BPF_LD|BPF_IND) src_reg 0 (the accumulator) where classic BPF
 *    means X, which the converter keeps in EBPF_REG_7: patched after the
 *    conversion; (2) the x86 JIT mis-encodes jset with a constant that fits
 *    in a signed byte (emit_tst_imm writes a 1-byte immediate for an
 *    imm32-only opcode): programs with such a BPF_JMP|BPF_JSET|BPF_K run in
 *    the interpreter. (jset #0x1fff, the IPv4 fragment test of every port
 *    filter, is encoded correctly and keeps the JIT.)
 *  - The tree is flattened into a postfix program over burst bitmaps.
 *
 * Data path: each BPF program runs once over the burst (grouped by link
 * type), each weir predicate is evaluated over the burst, then the postfix
 * program combines 512-bit bitmaps on a small stack. No allocation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "weir_filter.h"

#define WF_SNAPLEN 262144
#define WF_LT_MAX 16          /* distinct link types among the ports */
#define WF_DEPTH_MAX 32       /* postfix evaluation stack (bitmaps) */
#define WF_NEST_MAX 200       /* parser recursion */
#define WF_WORDS (WEIR_BURST_MAX / 64)

/* ---- compiled form ---------------------------------------------------------------------- */

enum wf_opcode {
	WF_BPF,       /* arg: program index */
	WF_MATCH,     /* arg: rule id */
	WF_SEV,       /* cmp, arg: severity */
	WF_FLOWNEW,
	WF_SRC_LABEL, /* cmp (EQ/NE), arg: label id */
	WF_DST_LABEL,
	WF_AND,
	WF_OR,
	WF_NOT,
};

enum wf_cmp { WF_EQ, WF_NE, WF_LT, WF_LE, WF_GT, WF_GE };

struct wf_code {
	uint8_t op;
	uint8_t cmp;
	uint32_t arg;
};

struct wf_prog {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *); /* NULL: interpreter */
	uint64_t (*jit_ok)(void *); /* the JIT function when it is safe to use */
};

struct weir_filter {
	unsigned n_lt;
	int lt[WF_LT_MAX];
	unsigned n_ports;        /* 0: every packet uses lt[0] */
	uint8_t *port_lt;        /* port id -> index into lt[] (0xff: none) */
	unsigned n_bpf;
	struct wf_prog *progs;   /* n_bpf * n_lt, program k for link type l at k * n_lt + l */
	char **bpf_text;
	unsigned n_code;
	struct wf_code *code;
};

/* ---- errors ----------------------------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- tokens ----------------------------------------------------------------------------- */

enum tok_type {
	T_EOF,
	T_WORD,   /* tcpdump word, keyword or number */
	T_STRING, /* "..." (the span includes the quotes) */
	T_LP,
	T_RP,
	T_AND,    /* and, && */
	T_OR,     /* or, || */
	T_NOT,    /* not, ! */
	T_OP,     /* == != = < > <= >= << >> & | + * % ^ [ ] , : any other punctuation */
};

struct tok {
	uint8_t type;
	uint32_t pos, len; /* byte span in the expression */
};

struct lexer {
	const char *s;
	struct tok *t;
	unsigned n, cap;
};

static int is_punct(char c)
{
	return c != '\0' && strchr("()!&|=<>\"[]+*%^,", c) != NULL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int lex_push(struct lexer *lx, uint8_t type, size_t pos, size_t len)
{
	if (lx->n == lx->cap) {
		unsigned cap = lx->cap ? lx->cap * 2 : 32;
		struct tok *t = realloc(lx->t, cap * sizeof(*t));
		if (t == NULL)
			return -1;
		lx->t = t;
		lx->cap = cap;
	}
	lx->t[lx->n++] = (struct tok){.type = type, .pos = (uint32_t)pos, .len = (uint32_t)len};
	return 0;
}

static int word_is(const char *s, const struct tok *t, const char *w)
{
	return t->type == T_WORD && strlen(w) == t->len && memcmp(s + t->pos, w, t->len) == 0;
}

/* Tokenise; 0, or -1 with err set. The list always ends with T_EOF. */
static int lex(struct lexer *lx, char *err, size_t errlen)
{
	const char *s = lx->s;
	size_t i = 0;

	for (;;) {
		while (is_space(s[i]))
			i++;
		if (s[i] == '\0')
			break;
		size_t st = i;
		uint8_t type;
		char c = s[i], d = s[i + 1];

		if (c == '(') {
			type = T_LP, i++;
		} else if (c == ')') {
			type = T_RP, i++;
		} else if (c == '"') {
			i++;
			while (s[i] != '\0' && s[i] != '"')
				i++;
			if (s[i] != '"') {
				seterr(err, errlen, "column %zu: unterminated string", st + 1);
				return -1;
			}
			if (lex_push(lx, T_STRING, st, i + 1 - st) < 0)
				goto oom;
			i++;
			continue;
		} else if (c == '&' && d == '&') {
			type = T_AND, i += 2;
		} else if (c == '|' && d == '|') {
			type = T_OR, i += 2;
		} else if (c == '!' && d != '=') {
			type = T_NOT, i++;
		} else if ((c == '=' && d == '=') || (c == '!' && d == '=') || (c == '<' && d == '=') ||
			   (c == '>' && d == '=') || (c == '<' && d == '<') || (c == '>' && d == '>')) {
			type = T_OP, i += 2;
		} else if (is_punct(c)) {
			type = T_OP, i++;
		} else {
			while (s[i] != '\0' && !is_space(s[i]) && !is_punct(s[i]))
				i++;
			type = T_WORD;
		}
		if (lex_push(lx, type, st, i - st) < 0)
			goto oom;
		struct tok *t = &lx->t[lx->n - 1];
		if (word_is(s, t, "and"))
			t->type = T_AND;
		else if (word_is(s, t, "or"))
			t->type = T_OR;
		else if (word_is(s, t, "not"))
			t->type = T_NOT;
	}
	if (lex_push(lx, T_EOF, i, 0) < 0)
		goto oom;
	return 0;
oom:
	seterr(err, errlen, "out of memory");
	return -1;
}

/* Does token k start a weir predicate? */
static int weir_start(const char *s, const struct tok *t, unsigned k)
{
	const struct tok *a = &t[k];

	if (a->type != T_WORD)
		return 0;
	if (word_is(s, a, "match"))
		return t[k + 1].type == T_LP;
	return word_is(s, a, "rule.severity") || word_is(s, a, "flow.new") ||
	       word_is(s, a, "src_label") || word_is(s, a, "dst_label");
}

/* ---- parser ----------------------------------------------------------------------------- */

enum node_type { N_RUN, N_PRED, N_AND, N_OR, N_NOT };

struct node {
	uint8_t type;
	uint8_t weir;           /* the subtree holds a weir predicate */
	int l, r;               /* children (N_NOT: l) */
	uint32_t start, end;    /* N_RUN: byte span; others: token span for messages */
	struct wf_code pred;    /* N_PRED */
};

struct parser {
	const char *s;
	const struct tok *t;
	unsigned k;             /* current token */
	struct node *nodes;
	unsigned n_nodes, cap;
	unsigned nest;
	const struct weir_filter_env *env;
	char *err;
	size_t errlen;
};

static int new_node(struct parser *p, struct node nd)
{
	if (p->n_nodes == p->cap) {
		unsigned cap = p->cap ? p->cap * 2 : 32;
		struct node *n = realloc(p->nodes, cap * sizeof(*n));
		if (n == NULL) {
			seterr(p->err, p->errlen, "out of memory");
			return -1;
		}
		p->nodes = n;
		p->cap = cap;
	}
	p->nodes[p->n_nodes] = nd;
	return (int)p->n_nodes++;
}

static unsigned col(const struct parser *p)
{
	return p->t[p->k].pos + 1;
}

static int expected(struct parser *p, const char *what)
{
	const struct tok *t = &p->t[p->k];

	if (t->type == T_EOF)
		seterr(p->err, p->errlen, "column %u: expected %s, found the end", col(p), what);
	else
		seterr(p->err, p->errlen, "column %u: expected %s, found '%.*s'", col(p), what,
		       (int)t->len, p->s + t->pos);
	return -1;
}

static int parse_or(struct parser *p);

/* A decimal number token into *v (<= max). */
static int number(struct parser *p, uint32_t max, uint32_t *v, const char *what)
{
	const struct tok *t = &p->t[p->k];
	uint64_t x = 0;

	if (t->type != T_WORD)
		return expected(p, what);
	for (uint32_t i = 0; i < t->len; i++) {
		char c = p->s[t->pos + i];
		if (c < '0' || c > '9' || x > max)
			return expected(p, what);
		x = x * 10 + (uint64_t)(c - '0');
	}
	if (x > max)
		return expected(p, what);
	*v = (uint32_t)x;
	p->k++;
	return 0;
}

static int cmp_op(struct parser *p, int eq_ne_only, uint8_t *cmp)
{
	static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
	const struct tok *t = &p->t[p->k];

	if (t->type == T_OP)
		for (unsigned i = 0; i < (eq_ne_only ? 2u : 6u); i++)
			if (strlen(ops[i]) == t->len && memcmp(p->s + t->pos, ops[i], t->len) == 0) {
				*cmp = (uint8_t)i;
				p->k++;
				return 0;
			}
	return expected(p, eq_ne_only ? "a comparison operator (== !=)"
				      : "a comparison operator (== != < <= > >=)");
}

static int parse_pred(struct parser *p)
{
	const struct tok *t = &p->t[p->k];
	struct node nd = {.type = N_PRED, .weir = 1, .l = -1, .r = -1, .start = t->pos};
	const char *s = p->s;

	if (word_is(s, t, "match")) {
		p->k++; /* '(' was checked by weir_start */
		p->k++;
		nd.pred.op = WF_MATCH;
		if (number(p, UINT32_MAX, &nd.pred.arg, "a rule id (a number)") < 0)
			return -1;
		if (p->t[p->k].type != T_RP)
			return expected(p, "')'");
		p->k++;
	} else if (word_is(s, t, "rule.severity")) {
		p->k++;
		nd.pred.op = WF_SEV;
		if (cmp_op(p, 0, &nd.pred.cmp) < 0 ||
		    number(p, 255, &nd.pred.arg, "a severity (0-255)") < 0)
			return -1;
	} else if (word_is(s, t, "flow.new")) {
		p->k++;
		nd.pred.op = WF_FLOWNEW;
	} else {
		int src = word_is(s, t, "src_label");
		p->k++;
		nd.pred.op = src ? WF_SRC_LABEL : WF_DST_LABEL;
		if (cmp_op(p, 1, &nd.pred.cmp) < 0)
			return -1;
		const struct tok *q = &p->t[p->k];
		if (q->type != T_STRING)
			return expected(p, "a label name in double quotes");
		char name[256];
		if (q->len - 2 >= sizeof(name)) {
			seterr(p->err, p->errlen, "column %u: label name too long", col(p));
			return -1;
		}
		memcpy(name, s + q->pos + 1, q->len - 2);
		name[q->len - 2] = '\0';
		uint32_t id = 0;
		if (p->env == NULL || p->env->label_id == NULL) {
			seterr(p->err, p->errlen, "column %u: label \"%s\": no lookup table loaded",
			       col(p), name);
			return -1;
		}
		id = p->env->label_id(p->env->label_ctx, name);
		if (id == 0) {
			seterr(p->err, p->errlen, "column %u: unknown label \"%s\"", col(p), name);
			return -1;
		}
		nd.pred.arg = id;
		p->k++;
	}
	nd.end = p->t[p->k - 1].pos + p->t[p->k - 1].len;
	return new_node(p, nd);
}

/* Index of the ')' matching the '(' at token k, or the T_EOF index. */
static unsigned match_paren(const struct tok *t, unsigned k)
{
	unsigned depth = 0;

	for (; t[k].type != T_EOF; k++) {
		if (t[k].type == T_LP)
			depth++;
		else if (t[k].type == T_RP && --depth == 0)
			return k;
	}
	return k;
}

/* A run of tcpdump tokens: up to and/or/not, an unbalanced ')', a weir predicate or the end. */
static int parse_run(struct parser *p)
{
	unsigned depth = 0, k0 = p->k;

	for (;;) {
		const struct tok *t = &p->t[p->k];
		if (t->type == T_EOF) {
			if (depth > 0)
				return expected(p, "')'");
			break;
		}
		if (depth == 0 && (t->type == T_AND || t->type == T_OR || t->type == T_NOT ||
				   t->type == T_RP))
			break;
		if (weir_start(p->s, p->t, p->k)) {
			if (depth == 0)
				break;
			seterr(p->err, p->errlen,
			       "column %u: weir predicate inside a tcpdump expression", col(p));
			return -1;
		}
		if (t->type == T_STRING) {
			seterr(p->err, p->errlen, "column %u: unexpected string", col(p));
			return -1;
		}
		if (t->type == T_LP)
			depth++;
		else if (t->type == T_RP)
			depth--;
		p->k++;
	}
	if (p->k == k0)
		return expected(p, "a filter term");
	const struct tok *last = &p->t[p->k - 1];
	struct node nd = {.type = N_RUN, .l = -1, .r = -1, .start = p->t[k0].pos,
			  .end = last->pos + last->len};
	return new_node(p, nd);
}

static int parse_unary(struct parser *p)
{
	const struct tok *t = &p->t[p->k];
	int c;

	if (++p->nest > WF_NEST_MAX) {
		seterr(p->err, p->errlen, "column %u: expression nested too deeply", col(p));
		return -1;
	}
	if (t->type == T_NOT) {
		p->k++;
		if ((c = parse_unary(p)) < 0)
			return -1;
		c = new_node(p, (struct node){.type = N_NOT, .weir = p->nodes[c].weir, .l = c,
					       .r = -1, .start = t->pos});
	} else if (t->type == T_LP) {
		/* A boolean group is followed by and/or/')'/the end; anything else
		 * makes the parentheses part of a tcpdump (arithmetic) term. */
		unsigned rp = match_paren(p->t, p->k);
		uint8_t next = p->t[rp].type == T_EOF ? T_EOF : p->t[rp + 1].type;
		if (p->t[rp].type == T_RP && next != T_EOF && next != T_AND && next != T_OR &&
		    next != T_RP) {
			c = parse_run(p);
		} else {
			p->k++;
			if ((c = parse_or(p)) < 0)
				return -1;
			if (p->t[p->k].type != T_RP)
				return expected(p, "')' or 'and'/'or'");
			p->k++;
		}
	} else if (weir_start(p->s, p->t, p->k)) {
		c = parse_pred(p);
	} else {
		c = parse_run(p);
	}
	p->nest--;
	return c;
}

static int parse_bin(struct parser *p, int is_or)
{
	int l = is_or ? parse_bin(p, 0) : parse_unary(p);

	while (l >= 0 && p->t[p->k].type == (is_or ? T_OR : T_AND)) {
		p->k++;
		int r = is_or ? parse_bin(p, 0) : parse_unary(p);
		if (r < 0)
			return -1;
		l = new_node(p, (struct node){.type = (uint8_t)(is_or ? N_OR : N_AND),
					       .weir = p->nodes[l].weir | p->nodes[r].weir,
					       .l = l, .r = r});
	}
	return l;
}

static int parse_or(struct parser *p)
{
	return parse_bin(p, 1);
}

/* ---- text of a weir-free subtree -------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t n, cap;
};

static int sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *x = realloc(b->s, cap);
		if (x == NULL)
			return -1;
		b->s = x;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

/*
 * libpcap gives and/or equal precedence (left to right); weir gives `and`
 * the higher one. Parenthesise every operand whose operator differs from its
 * parent's, so the text means what weir parsed; runs stay bare so tcpdump's
 * qualifier inheritance ("host a or b") keeps working inside a part.
 */
static int serialize(const struct parser *p, int k, struct sbuf *b)
{
	const struct node *nd = &p->nodes[k];

	switch (nd->type) {
	case N_RUN:
		return sb_put(b, p->s + nd->start, nd->end - nd->start);
	case N_NOT:
		if (sb_put(b, "not (", 5) < 0 || serialize(p, nd->l, b) < 0)
			return -1;
		return sb_put(b, ")", 1);
	default: {
		const char *op = nd->type == N_AND ? " and " : " or ";
		for (int side = 0; side < 2; side++) {
			int c = side ? nd->r : nd->l;
			int paren = p->nodes[c].type != N_RUN && p->nodes[c].type != N_NOT &&
				    p->nodes[c].type != nd->type;
			if (side && sb_put(b, op, strlen(op)) < 0)
				return -1;
			if ((paren && sb_put(b, "(", 1) < 0) || serialize(p, c, b) < 0 ||
			    (paren && sb_put(b, ")", 1) < 0))
				return -1;
		}
		return 0;
	}
	}
}

/* ---- BPF programs ----------------------------------------------------------------------- */

static const char *lt_name(int lt)
{
	const char *n = pcap_datalink_val_to_name(lt);
	return n ? n : "unknown";
}

/* Compile `text` for link type `lt` into *out. */
static int compile_bpf(const char *text, int lt, int many_lt, struct wf_prog *out, char *err,
		       size_t errlen)
{
	struct bpf_program bp;
	char where[64] = "";
	pcap_t *pc;

	if (many_lt)
		snprintf(where, sizeof(where), " (link type %s)", lt_name(lt));
	pc = pcap_open_dead(lt, WF_SNAPLEN);
	if (pc == NULL) {
		seterr(err, errlen, "'%s'%s: pcap_open_dead failed", text, where);
		return -1;
	}
	if (pcap_compile(pc, &bp, text, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		seterr(err, errlen, "'%s'%s: %s", text, where, pcap_geterr(pc));
		pcap_close(pc);
		return -1;
	}
	pcap_close(pc);

	/* rte_bpf runs no loops: libpcap's `protochain` jumps backwards
	 * (a cBPF jump offset wrapping around), which the converter refuses
	 * with a bare EPERM. Say why. */
	for (u_int i = 0; i < bp.bf_len; i++) {
		const struct bpf_insn *c = &bp.bf_insns[i];
		if (c->code == (BPF_JMP | BPF_JA) && (uint64_t)i + c->k + 1 >= bp.bf_len) {
			seterr(err, errlen, "'%s'%s: not supported by rte_bpf: the program loops "
			       "(protochain)", text, where);
			pcap_freecode(&bp);
			return -1;
		}
	}
	struct rte_bpf_prm *prm = rte_bpf_convert(&bp);
	pcap_freecode(&bp);
	if (prm == NULL) {
		seterr(err, errlen, "'%s'%s: not supported by rte_bpf: rte_bpf_convert failed (%s)",
		       text, where, rte_strerror(rte_errno));
		return -1;
	}

	/* The converter's instructions follow the prm in memory it allocated
	 * and we own: fix them in place. */
	struct ebpf_insn *ins = (struct ebpf_insn *)(uintptr_t)prm->ins;
	int jit_unsafe = 0;
	for (uint32_t i = 0; i < prm->nb_ins; i++) {
		uint8_t code = ins[i].code;
		/* bug (1): classic `ld [x + k]` is eBPF LD_IND with the index
		 * in src_reg; X lives in EBPF_REG_7, the converter writes 0. */
		if (BPF_CLASS(code) == BPF_LD && BPF_MODE(code) == BPF_IND)
			ins[i].src_reg = EBPF_REG_7;
		/* bug (2): the x86 JIT encodes `test $imm32, reg` (F7 /0)
		 * with a one-byte immediate when the constant fits in int8:
		 * the next bytes are then decoded as garbage. */
		if (code == (BPF_JMP | BPF_JSET | BPF_K) && ins[i].imm == (int8_t)ins[i].imm)
			jit_unsafe = 1;
	}

	struct rte_bpf *bpf = rte_bpf_load(prm);
	int e = rte_errno;
	rte_free(prm);
	if (bpf == NULL) {
		seterr(err, errlen, "'%s'%s: rte_bpf_load: %s", text, where, rte_strerror(e));
		return -1;
	}
	out->bpf = bpf;
	out->jit = out->jit_ok = NULL;
	struct rte_bpf_jit jit;
	if (!jit_unsafe && rte_bpf_get_jit(bpf, &jit) == 0 && jit.func != NULL)
		out->jit = out->jit_ok = jit.func;
	return 0;
}

/* Program index for `text` (compiled for every link type), reusing an identical one. */
static int add_bpf(struct weir_filter *f, const char *text, char *err, size_t errlen)
{
	for (unsigned k = 0; k < f->n_bpf; k++)
		if (strcmp(f->bpf_text[k], text) == 0)
			return (int)k;

	struct wf_prog *progs = realloc(f->progs, (f->n_bpf + 1) * f->n_lt * sizeof(*progs));
	if (progs != NULL)
		f->progs = progs;
	char **texts = realloc(f->bpf_text, (f->n_bpf + 1) * sizeof(*texts));
	if (texts != NULL)
		f->bpf_text = texts;
	char *dup = progs && texts ? strdup(text) : NULL;
	if (dup == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	struct wf_prog *pr = &f->progs[f->n_bpf * f->n_lt];
	memset(pr, 0, f->n_lt * sizeof(*pr));
	for (unsigned l = 0; l < f->n_lt; l++) {
		if (compile_bpf(text, f->lt[l], f->n_lt > 1, &pr[l], err, errlen) < 0) {
			for (unsigned j = 0; j < l; j++)
				rte_bpf_destroy(pr[j].bpf);
			free(dup);
			return -1;
		}
	}
	f->bpf_text[f->n_bpf] = dup;
	return (int)f->n_bpf++;
}

/* ---- code generation -------------------------------------------------------------------- */

struct gen {
	struct parser *p;
	struct weir_filter *f;
	struct wf_code *code;
	unsigned n, cap;
	unsigned depth, max_depth;
};

static int emit(struct gen *g, struct wf_code c)
{
	if (g->n == g->cap) {
		unsigned cap = g->cap ? g->cap * 2 : 16;
		struct wf_code *x = realloc(g->code, cap * sizeof(*x));
		if (x == NULL) {
			seterr(g->p->err, g->p->errlen, "out of memory");
			return -1;
		}
		g->code = x;
		g->cap = cap;
	}
	g->code[g->n++] = c;
	if (c.op == WF_AND || c.op == WF_OR)
		g->depth--;
	else if (c.op != WF_NOT && ++g->depth > g->max_depth)
		g->max_depth = g->depth;
	if (g->max_depth > WF_DEPTH_MAX) {
		seterr(g->p->err, g->p->errlen, "expression nested too deeply");
		return -1;
	}
	return 0;
}

static int gen_node(struct gen *g, int k)
{
	const struct node *nd = &g->p->nodes[k];

	if (!nd->weir) {
		struct sbuf b = {0};
		if (serialize(g->p, k, &b) < 0) {
			free(b.s);
			seterr(g->p->err, g->p->errlen, "out of memory");
			return -1;
		}
		int idx = add_bpf(g->f, b.s, g->p->err, g->p->errlen);
		free(b.s);
		if (idx < 0)
			return -1;
		return emit(g, (struct wf_code){.op = WF_BPF, .arg = (uint32_t)idx});
	}
	switch (nd->type) {
	case N_PRED:
		return emit(g, nd->pred);
	case N_NOT:
		if (gen_node(g, nd->l) < 0)
			return -1;
		return emit(g, (struct wf_code){.op = WF_NOT});
	default:
		if (gen_node(g, nd->l) < 0 || gen_node(g, nd->r) < 0)
			return -1;
		return emit(g, (struct wf_code){.op = nd->type == N_AND ? WF_AND : WF_OR});
	}
}

/* ---- compile / free --------------------------------------------------------------------- */

void weir_filter_free(struct weir_filter *f)
{
	if (f == NULL)
		return;
	for (unsigned k = 0; k < f->n_bpf * f->n_lt; k++)
		rte_bpf_destroy(f->progs[k].bpf);
	for (unsigned k = 0; k < f->n_bpf; k++)
		free(f->bpf_text[k]);
	free(f->progs);
	free(f->bpf_text);
	free(f->port_lt);
	free(f->code);
	free(f);
}

static int setup_linktypes(struct weir_filter *f, const struct weir_filter_env *env, char *err,
			   size_t errlen)
{
	if (env == NULL || env->n_ports == 0 || env->port_linktype == NULL) {
		f->n_lt = 1;
		f->lt[0] = DLT_EN10MB;
		return 0;
	}
	f->port_lt = malloc(env->n_ports);
	if (f->port_lt == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	f->n_ports = env->n_ports;
	for (unsigned p = 0; p < env->n_ports; p++) {
		int lt = env->port_linktype[p];
		unsigned l;
		for (l = 0; l < f->n_lt && f->lt[l] != lt; l++)
			;
		if (l == f->n_lt) {
			if (f->n_lt == WF_LT_MAX) {
				seterr(err, errlen, "more than %d link types among the ports",
				       WF_LT_MAX);
				return -1;
			}
			f->lt[f->n_lt++] = lt;
		}
		f->port_lt[p] = (uint8_t)l;
	}
	return 0;
}

struct weir_filter *weir_filter_compile(const char *expr, const struct weir_filter_env *env,
					char *err, size_t errlen)
{
	struct lexer lx = {.s = expr};
	struct parser p = {.s = expr, .env = env, .err = err, .errlen = errlen};
	struct gen g = {.p = &p};
	struct weir_filter *f = NULL;
	int weir = 0;

	if (expr == NULL || expr[strspn(expr, " \t\r\n\f\v")] == '\0') {
		seterr(err, errlen, "empty filter");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (setup_linktypes(f, env, err, errlen) < 0 || lex(&lx, err, errlen) < 0)
		goto fail;
	for (unsigned k = 0; k < lx.n && !weir; k++)
		weir = weir_start(expr, lx.t, k);

	g.f = f;
	if (!weir) {
		/* Plain tcpdump: libpcap parses the whole string. */
		int idx = add_bpf(f, expr, err, errlen);
		if (idx < 0 || emit(&g, (struct wf_code){.op = WF_BPF, .arg = (uint32_t)idx}) < 0)
			goto fail;
	} else {
		p.t = lx.t;
		int root = parse_or(&p);
		if (root < 0)
			goto fail;
		if (lx.t[p.k].type != T_EOF) {
			expected(&p, lx.t[p.k].type == T_RP ? "the end (unbalanced ')')"
							     : "'and', 'or' or the end");
			goto fail;
		}
		if (gen_node(&g, root) < 0)
			goto fail;
	}
	f->code = g.code;
	f->n_code = g.n;
	free(lx.t);
	free(p.nodes);
	return f;
fail:
	free(lx.t);
	free(p.nodes);
	free(g.code);
	weir_filter_free(f);
	return NULL;
}

int weir_filter_jitted(const struct weir_filter *f)
{
	for (unsigned k = 0; k < f->n_bpf * f->n_lt; k++)
		if (f->progs[k].jit == NULL)
			return 0;
	return 1;
}

int weir_filter_use_jit(struct weir_filter *f, int on)
{
	for (unsigned k = 0; k < f->n_bpf * f->n_lt; k++)
		f->progs[k].jit = on ? f->progs[k].jit_ok : NULL;
	return weir_filter_jitted(f);
}

/* ---- data path -------------------------------------------------------------------------- */

/* Packets of a burst grouped by link type: ctx[start[l] .. start[l + 1]) with positions idx[]. */
struct groups {
	void *ctx[WEIR_BURST_MAX];
	uint16_t idx[WEIR_BURST_MAX];
	uint16_t start[WF_LT_MAX + 1];
};

static void group(const struct weir_filter *f, struct rte_mbuf *const *m, unsigned n,
		  struct groups *gr)
{
	uint8_t lt[WEIR_BURST_MAX];
	uint16_t cnt[WF_LT_MAX + 1] = {0};

	if (f->n_ports == 0) {
		for (unsigned i = 0; i < n; i++) {
			gr->ctx[i] = m[i];
			gr->idx[i] = (uint16_t)i;
		}
		gr->start[0] = 0;
		for (unsigned l = 1; l <= f->n_lt; l++)
			gr->start[l] = (uint16_t)n;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint16_t port = m[i]->port;
		lt[i] = port < f->n_ports ? f->port_lt[port] : WF_LT_MAX; /* unknown port: no group */
		cnt[lt[i]]++;
	}
	gr->start[0] = 0;
	for (unsigned l = 0; l < f->n_lt; l++)
		gr->start[l + 1] = (uint16_t)(gr->start[l] + cnt[l]);
	uint16_t pos[WF_LT_MAX];
	memcpy(pos, gr->start, sizeof(pos));
	for (unsigned i = 0; i < n; i++) {
		if (lt[i] == WF_LT_MAX)
			continue;
		uint16_t j = pos[lt[i]]++;
		gr->ctx[j] = m[i];
		gr->idx[j] = (uint16_t)i;
	}
}

static void run_bpf(const struct weir_filter *f, unsigned k, const struct groups *gr,
		    uint64_t *bits)
{
	uint64_t rc[WEIR_BURST_MAX];

	for (unsigned l = 0; l < f->n_lt; l++) {
		const struct wf_prog *pr = &f->progs[k * f->n_lt + l];
		unsigned a = gr->start[l], b = gr->start[l + 1];
		if (a == b)
			continue;
		if (pr->jit != NULL) {
			for (unsigned j = a; j < b; j++)
				rc[j] = pr->jit(gr->ctx[j]);
		} else {
			rte_bpf_exec_burst(pr->bpf, (void **)(uintptr_t)&gr->ctx[a], &rc[a], b - a);
		}
		for (unsigned j = a; j < b; j++)
			bits[gr->idx[j] >> 6] |= (uint64_t)(rc[j] != 0) << (gr->idx[j] & 63);
	}
}

static int cmp8(uint8_t cmp, uint32_t v, uint32_t x)
{
	switch (cmp) {
	case WF_EQ: return v == x;
	case WF_NE: return v != x;
	case WF_LT: return v < x;
	case WF_LE: return v <= x;
	case WF_GT: return v > x;
	default: return v >= x;
	}
}

static void run_pred(const struct wf_code *c, const struct weir_burst_meta *meta, unsigned base,
		     unsigned n, uint64_t *bits)
{
	switch (c->op) {
	case WF_MATCH:
	case WF_SEV: {
		const struct weir_burst_rules *r = meta ? meta->rules : NULL;
		if (r == NULL)
			return;
		for (unsigned i = 0; i < n; i++) {
			unsigned a = r->off[base + i], b = r->off[base + i + 1];
			uint64_t hit = 0;
			if (c->op == WF_MATCH) {
				for (unsigned j = a; j < b; j++)
					hit |= r->ids[j] == c->arg;
			} else {
				for (unsigned j = a; j < b; j++)
					hit |= (uint64_t)cmp8(c->cmp, r->sev[j], c->arg);
			}
			bits[i >> 6] |= hit << (i & 63);
		}
		return;
	}
	case WF_FLOWNEW: {
		const uint8_t *fn = meta ? meta->flow_new : NULL;
		if (fn == NULL)
			return;
		for (unsigned i = 0; i < n; i++)
			bits[i >> 6] |= (uint64_t)(fn[base + i] != 0) << (i & 63);
		return;
	}
	default: {
		const uint32_t *lab = meta == NULL ? NULL
				      : c->op == WF_SRC_LABEL ? meta->src_label
							      : meta->dst_label;
		uint64_t ne = c->cmp == WF_NE;
		for (unsigned i = 0; i < n; i++) {
			uint32_t v = lab ? lab[base + i] : 0;
			bits[i >> 6] |= ((uint64_t)(v == c->arg) ^ ne) << (i & 63);
		}
		return;
	}
	}
}

static void burst_chunk(const struct weir_filter *f, struct rte_mbuf *const *m,
			const struct weir_burst_meta *meta, unsigned base, unsigned n, uint8_t *pass)
{
	uint64_t st[WF_DEPTH_MAX][WF_WORDS];
	struct groups gr;
	unsigned sp = 0, nw = (n + 63) / 64;
	int grouped = 0;

	/* Fast path: one tcpdump program, one link type, every port known. */
	int fast = f->n_code == 1 && f->code[0].op == WF_BPF && f->n_lt == 1;
	for (unsigned i = 0; fast && f->n_ports > 0 && i < n; i++)
		fast = m[i]->port < f->n_ports;
	if (fast) {
		const struct wf_prog *pr = &f->progs[f->code[0].arg];
		if (pr->jit != NULL) {
			for (unsigned i = 0; i < n; i++)
				pass[i] = pr->jit(m[i]) != 0;
		} else {
			uint64_t rc[WEIR_BURST_MAX];
			rte_bpf_exec_burst(pr->bpf, (void **)(uintptr_t)m, rc, n);
			for (unsigned i = 0; i < n; i++)
				pass[i] = rc[i] != 0;
		}
		return;
	}

	for (unsigned c = 0; c < f->n_code; c++) {
		const struct wf_code *op = &f->code[c];
		uint64_t *top;
		switch (op->op) {
		case WF_AND:
			sp--;
			for (unsigned w = 0; w < nw; w++)
				st[sp - 1][w] &= st[sp][w];
			break;
		case WF_OR:
			sp--;
			for (unsigned w = 0; w < nw; w++)
				st[sp - 1][w] |= st[sp][w];
			break;
		case WF_NOT:
			for (unsigned w = 0; w < nw; w++)
				st[sp - 1][w] = ~st[sp - 1][w];
			break;
		default:
			top = st[sp++];
			memset(top, 0, nw * sizeof(*top));
			if (op->op == WF_BPF) {
				if (!grouped) {
					group(f, m, n, &gr);
					grouped = 1;
				}
				run_bpf(f, op->arg, &gr, top);
			} else {
				run_pred(op, meta, base, n, top);
			}
			break;
		}
	}
	for (unsigned i = 0; i < n; i++)
		pass[i] = (uint8_t)((st[0][i >> 6] >> (i & 63)) & 1);
}

void weir_filter_burst(const struct weir_filter *f, struct rte_mbuf *const *m,
		       const struct weir_burst_meta *meta, unsigned n, uint8_t *pass)
{
	for (unsigned base = 0; base < n; base += WEIR_BURST_MAX) {
		unsigned k = n - base < WEIR_BURST_MAX ? n - base : WEIR_BURST_MAX;
		burst_chunk(f, m + base, meta, base, k, pass + base);
	}
}
