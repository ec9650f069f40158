/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_yaml (private to lib/conf): a YAML file as a small tree of scalars,
 * sequences and mappings, each node with its line, so that every config
 * error can say "FILE:LINE: what is wrong".
 *
 * Deliberately a strict subset of YAML: one document, scalar mapping keys,
 * no duplicate keys, no anchors/aliases/tags. Those features only make
 * config files harder to read and errors harder to place.
 */
#ifndef WEIR_YAML_H
#define WEIR_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum weir_ytype { WEIR_YSCALAR, WEIR_YSEQ, WEIR_YMAP };

struct weir_ynode {
	enum weir_ytype type;
	int line;                  /* 1-based line where the node starts */
	char *key;                 /* member name when the parent is a mapping, else NULL */
	int key_line;              /* line of that key */
	char *str;                 /* scalar text ("" for an empty value) */
	struct weir_ynode *child;  /* first item (sequence) or member (mapping) */
	struct weir_ynode *next;   /* next sibling */
	unsigned n_children;
};

/* Errors are written as "FILE:LINE: <prefix><message>" into err. */
struct weir_yctx {
	const char *file;
	char *err;
	size_t errlen;
	char prefix[160];
};

/* Iterate the items of a sequence or the members of a mapping. */
#define WEIR_YFOREACH(it, parent) \
	for (const struct weir_ynode *it = (parent)->child; it; it = it->next)

void weir_yctx_init(struct weir_yctx *y, const char *file, char *err, size_t errlen);

/* printf-style context put before every later message ("query 'x': "). */
void weir_yctx_prefix(struct weir_yctx *y, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse y->file into a tree. NULL with y->err filled on any error. */
struct weir_ynode *weir_yaml_load(struct weir_yctx *y);
void weir_yaml_free(struct weir_ynode *n);

/* Format "FILE:LINE: <prefix>message" into y->err. Always returns -1. */
int weir_yerr(struct weir_yctx *y, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Member `key` of mapping `map`, or NULL. */
const struct weir_ynode *weir_yget(const struct weir_ynode *map, const char *key);

const char *weir_ytype_name(enum weir_ytype t);

/* 0 if n is of type t, else -1 and "KEY: expected a mapping, got a scalar". */
int weir_yexpect(struct weir_yctx *y, const struct weir_ynode *n, enum weir_ytype t);

/*
 * Typed scalar reads. Each checks the node is a scalar, names the key in
 * its error and leaves *out untouched on error.
 */
int weir_yread_str(struct weir_yctx *y, const struct weir_ynode *n, char *buf, size_t len);
/* true/false, yes/no, on/off (any case) */
int weir_yread_bool(struct weir_yctx *y, const struct weir_ynode *n, bool *out);
/* decimal digits only, min <= value <= max */
int weir_yread_uint(struct weir_yctx *y, const struct weir_ynode *n,
		    uint64_t min, uint64_t max, uint64_t *out);
/* like weir_yread_uint, plus a binary suffix: 64k = 65536, 1M, 1G */
int weir_yread_size(struct weir_yctx *y, const struct weir_ynode *n,
		    uint64_t min, uint64_t max, uint64_t *out);
/* weir_parse_duration syntax ("60s", "500ms"), min <= ns <= max */
int weir_yread_duration(struct weir_yctx *y, const struct weir_ynode *n,
			uint64_t min, uint64_t max, uint64_t *ns);

/* A keyword and the value it stands for; tables end with {NULL, 0}. */
struct weir_yname {
	const char *name;
	int value;
};
/* one of the names (case-sensitive); the error lists them all */
int weir_yread_enum(struct weir_yctx *y, const struct weir_ynode *n,
		    const struct weir_yname *names, int *out);

#endif /* WEIR_YAML_H */
