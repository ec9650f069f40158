/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_out: records as JSON lines, and the human summary. Runs on the
 * control thread only; the data path never formats anything.
 */
#ifndef WEIR_OUT_H
#define WEIR_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "weir_window.h"

/* A small append-only JSON object builder (one record = one line). */
struct weir_json {
	char *buf;
	size_t len, cap;
	unsigned depth;
	bool first[16]; /* per depth: no member written yet */
	bool oom;
};

void weir_json_init(struct weir_json *j);
void weir_json_free(struct weir_json *j);
void weir_json_reset(struct weir_json *j);
void weir_json_begin(struct weir_json *j, const char *key);     /* "key":{ ; key NULL at top */
void weir_json_end(struct weir_json *j);                        /* } */
void weir_json_u64(struct weir_json *j, const char *key, uint64_t v);
void weir_json_i64(struct weir_json *j, const char *key, int64_t v);
void weir_json_double(struct weir_json *j, const char *key, double v);
void weir_json_str(struct weir_json *j, const char *key, const char *v);  /* escaped */
void weir_json_bool(struct weir_json *j, const char *key, bool v);
void weir_json_null(struct weir_json *j, const char *key);
void weir_json_raw(struct weir_json *j, const char *key, const char *json); /* already JSON */

struct weir_out;

/*
 * Open the record sink: `path` ("-" = stdout). The human summary goes to
 * stdout, or to stderr when records go to stdout; `top` rows per query and
 * window (0 = no summary). resume_at < 0: the file is created empty; else
 * (a restore) the existing file is cut back to resume_at bytes, the length
 * the checkpoint committed, and appended to: what was written after that
 * checkpoint is written again. A file shorter than that is an error.
 */
struct weir_out *weir_out_open(const char *path, unsigned top, int64_t resume_at, char *err,
			       size_t errlen);
/*
 * Flush the records and return the file's length: what a checkpoint taken
 * now commits. -1 for stdout or after a write error.
 */
int64_t weir_out_commit_offset(struct weir_out *o);

/*
 * Names for ids in keys and top-k items: labels (src_label, dst_label) and
 * DNS names (dst_name); NULL when unknown (the number is printed).
 */
typedef const char *(*weir_out_name_fn)(void *ctx, enum weir_field f, uint64_t id);
void weir_out_set_names(struct weir_out *o, weir_out_name_fn fn, void *ctx);

/*
 * One window result: its rows as JSON lines (sorted), an alert record for
 * each final row its query's having holds for, and its summary part
 * (final results only).
 */
void weir_out_window(struct weir_out *o, const struct weir_window_result *r);
/*
 * The rules generation window and having-alert records name from now on
 * (the one current when they are emitted; 0 = none, not written).
 */
void weir_out_set_generation(struct weir_out *o, uint32_t id);
uint64_t weir_out_having_alerts(const struct weir_out *o);

/* A result's rows (the _other row included) in output order; *order is malloc'd. */
uint32_t weir_out_rows(const struct weir_window_result *r, uint32_t **order);
/* Row `row` (an index from weir_out_rows) as the object a window record holds, into j (reset). */
void weir_out_row_json(struct weir_out *o, struct weir_json *j, const struct weir_window_result *r,
		       uint32_t row);

/* A finished record built with weir_json (written as one line). */
void weir_out_record(struct weir_out *o, const struct weir_json *j);

/* The stream the human summary goes to (NULL when off). */
FILE *weir_out_summary_stream(struct weir_out *o);

/* Flush and close; -1 if any write failed (with err filled). */
int weir_out_close(struct weir_out *o, char *err, size_t errlen);

/* Name for an IP protocol number ("tcp"), or NULL. */
const char *weir_proto_name(unsigned proto);

#endif /* WEIR_OUT_H */
