/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Query changes at run time: see weir_qctl.h. Main lcore only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir_filter.h"
#include "weir_gen.h"
#include "weir_qctl.h"

/*
 * A change starts at the first window boundary at least this much event time
 * after the newest event time a worker reached. Workers adopt a published
 * generation at their next burst; a worker that is descheduled meanwhile (two
 * CPUs shared by workers, main and others) would count packets past a boundary
 * that close under the old definition. In processing time this is 250 ms of
 * wall time; a fast event-time replay can still outrun it.
 */
#define SWAP_LEAD_NS (250ull * 1000000ull)

enum slot_state { Q_FREE, Q_LIVE, Q_ENDING, Q_ENDED };
static const char *const state_names[] = {"free", "live", "ending", "ended"};

struct slot {
	enum slot_state state;
	uint64_t from, until;
	uint32_t off_gen;          /* Q_ENDED: the first generation without it */
	struct weir_filter *filter;
};

struct weir_qctl {
	struct weir_qctl_env env;
	struct weir_gens *gs;
	struct slot slot[WEIR_MAX_QUERIES];
};

/* Compile the query's filter into the slot; 0, or -1 + err. */
static int slot_filter(struct weir_qctl *q, unsigned qi, const struct weir_query_conf *c,
		       const char *path, char *err, size_t errlen)
{
	if (!c->filter[0])
		return 0;
	q->slot[qi].filter = weir_annotate_compile_filter(q->env.ann, q->env.linktype,
							  q->env.n_port_ids, c, path, err, errlen);
	return q->slot[qi].filter ? 0 : -1;
}

static void qf_set(struct weir_query_filters *qf, unsigned qi, struct weir_filter *f)
{
	qf->filter[qi] = f;
	if (f)
		qf->filtered |= 1u << qi;
	else
		qf->filtered &= ~(1u << qi);
}

struct weir_qctl *weir_qctl_new(const struct weir_qctl_env *env, struct weir_window_view *view,
				struct weir_query_filters *qf, char *err, size_t errlen)
{
	struct weir_qctl *q = calloc(1, sizeof(*q));

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->env = *env;
	*view = *weir_window_set_base_view(env->win);
	memset(qf, 0, sizeof(*qf));
	for (unsigned qi = 0; qi < WEIR_MAX_QUERIES; qi++) {
		if (!weir_window_set_live(env->win, qi))
			continue;
		q->slot[qi] = (struct slot){.state = Q_LIVE, .until = UINT64_MAX};
		if (slot_filter(q, qi, &weir_window_set_query(env->win, qi)->conf, env->cfg->path, err,
				errlen) < 0) {
			weir_qctl_free(q);
			return NULL;
		}
		qf_set(qf, qi, q->slot[qi].filter);
	}
	return q;
}

void weir_qctl_free(struct weir_qctl *q)
{
	if (!q)
		return;
	for (unsigned qi = 0; qi < WEIR_MAX_QUERIES; qi++)
		weir_filter_free(q->slot[qi].filter);
	free(q);
}

void weir_qctl_attach(struct weir_qctl *q, struct weir_gens *gs)
{
	q->gs = gs;
}

/* A live query (not ending) by name, or -1. */
static int find_live(const struct weir_qctl *q, const char *name)
{
	for (unsigned qi = 0; qi < WEIR_MAX_QUERIES; qi++)
		if (q->slot[qi].state == Q_LIVE &&
		    strcmp(weir_window_set_query(q->env.win, qi)->conf.name, name) == 0)
			return (int)qi;
	return -1;
}

/* What the running stages cannot give a query: NULL when it can run. */
static const char *unmet_need(const struct weir_qctl *q, const struct weir_query_conf *c)
{
	if (!q->env.flows && (weir_query_uses_field(c, WEIR_FIELD_FLOW_ID) ||
			      weir_query_uses_field(c, WEIR_FIELD_DIRECTION) || strstr(c->filter, "flow.new")))
		return "it uses flow fields, and weir started without flow tracking (flows: {mode: on})";
	if (!q->env.dns && weir_query_uses_field(c, WEIR_FIELD_DST_NAME))
		return "it uses dst_name, and weir started without DNS learning (no query used dst_name)";
	return NULL;
}

/*
 * The queries of a file (its queries: list, read as the config's is, with
 * the running config's labels). Copied into *out; 0, or -1 + err.
 */
static int load_queries(const struct weir_qctl *q, const char *file, struct weir_config *out,
			char *err, size_t errlen)
{
	*out = *q->env.cfg;
	out->n_queries = 0;
	if (weir_config_load(out, file, err, errlen) < 0)
		return -1;
	if (!out->n_queries) {
		snprintf(err, errlen, "%s: no queries: list", file);
		return -1;
	}
	for (unsigned i = 0; i < out->n_queries; i++) {
		const char *why = unmet_need(q, &out->queries[i]);
		if (why) {
			snprintf(err, errlen, "%s:%u: query '%s' cannot be added: %s", file,
				 out->queries[i].line, out->queries[i].name, why);
			return -1;
		}
		for (unsigned k = 0; k < i; k++)
			if (!strcmp(out->queries[k].name, out->queries[i].name)) {
				snprintf(err, errlen, "%s:%u: query '%s' twice in the file", file,
					 out->queries[i].line, out->queries[i].name);
				return -1;
			}
	}
	return 0;
}

static void undo_slots(struct weir_qctl *q, const unsigned *slots, unsigned n)
{
	pthread_mutex_lock(q->env.readers_lock);
	for (unsigned i = 0; i < n; i++) {
		weir_window_set_release(q->env.win, slots[i]);
		weir_filter_free(q->slot[slots[i]].filter);
		memset(&q->slot[slots[i]], 0, sizeof(q->slot[slots[i]]));
	}
	pthread_mutex_unlock(q->env.readers_lock);
}

int weir_qctl_add(struct weir_qctl *q, const char *file, json_t *resp, char *err, size_t errlen)
{
	static struct weir_config nc; /* large; main lcore only */
	const struct weir_gen *g = weir_gens_current(q->gs);
	struct weir_window_view view = g->view;
	struct weir_query_filters qf = g->qf;
	unsigned slots[WEIR_MAX_QUERIES], n = 0, replaced[WEIR_MAX_QUERIES], n_replaced = 0;
	uint64_t t = q->env.event_time(q->env.ctx) + SWAP_LEAD_NS;
	json_t *added = json_array();

	if (load_queries(q, file, &nc, err, errlen) < 0)
		goto fail;
	for (unsigned i = 0; i < nc.n_queries; i++) {
		const struct weir_query_conf *c = &nc.queries[i];
		unsigned qi;
		pthread_mutex_lock(q->env.readers_lock);
		int rc = weir_window_set_add(q->env.win, c, &qi, err, errlen);
		pthread_mutex_unlock(q->env.readers_lock);
		if (rc < 0)
			goto fail;
		slots[n++] = qi;
		if (slot_filter(q, qi, c, file, err, errlen) < 0)
			goto fail;
		int old = find_live(q, c->name);
		uint64_t from = old >= 0
			? weir_window_next_boundary(weir_window_set_query(q->env.win, (unsigned)old), t)
			: weir_window_next_boundary(weir_window_set_query(q->env.win, qi), t);
		q->slot[qi] = (struct slot){.state = Q_LIVE, .from = from, .until = UINT64_MAX,
					    .filter = q->slot[qi].filter};
		weir_window_view_set(&view, q->env.win, qi, from, UINT64_MAX);
		qf_set(&qf, qi, q->slot[qi].filter);
		if (old >= 0) {
			replaced[n_replaced++] = (unsigned)old;
			q->slot[old].state = Q_ENDING;
			q->slot[old].until = from;
			view.until[old] = from;
		}
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "slot", json_integer(qi));
		json_object_set_new(o, "from_ns", json_integer((json_int_t)from));
		json_object_set_new(o, "replaces", old >= 0 ? json_integer(old) : json_null());
		json_array_append_new(added, o);
	}
	if (weir_gens_publish_queries(q->gs, &view, &qf, err, errlen) < 0)
		goto fail;
	json_object_set_new(resp, "added", added);
	json_object_set_new(resp, "generation", json_integer(weir_gens_id(q->gs)));
	return 0;
fail:
	/* nothing was published: the slots taken so far go back, replaced ones live on */
	for (unsigned i = 0; i < n_replaced; i++) {
		q->slot[replaced[i]].state = Q_LIVE;
		q->slot[replaced[i]].until = UINT64_MAX;
	}
	undo_slots(q, slots, n);
	json_decref(added);
	return -1;
}

int weir_qctl_remove(struct weir_qctl *q, const char *name, json_t *resp, char *err, size_t errlen)
{
	const struct weir_gen *g = weir_gens_current(q->gs);
	struct weir_window_view view = g->view;
	int qi = find_live(q, name);

	if (qi < 0) {
		snprintf(err, errlen, "no live query '%.100s' (see query list)", name);
		return -1;
	}
	uint64_t until = weir_window_next_boundary(weir_window_set_query(q->env.win, (unsigned)qi),
						   q->env.event_time(q->env.ctx) + SWAP_LEAD_NS);
	view.until[qi] = until;
	if (weir_gens_publish_queries(q->gs, &view, &g->qf, err, errlen) < 0)
		return -1;
	q->slot[qi].state = Q_ENDING;
	q->slot[qi].until = until;
	json_object_set_new(resp, "name", json_string(name));
	json_object_set_new(resp, "until_ns", json_integer((json_int_t)until));
	json_object_set_new(resp, "generation", json_integer(weir_gens_id(q->gs)));
	return 0;
}

unsigned weir_qctl_poll(struct weir_qctl *q)
{
	unsigned events = 0;
	char err[256];

	if (!q || !q->gs)
		return 0;
	for (unsigned qi = 0; qi < WEIR_MAX_QUERIES; qi++) {
		struct slot *s = &q->slot[qi];
		if (s->state == Q_ENDING && weir_window_set_drained(q->env.win, qi, s->until)) {
			const struct weir_gen *g = weir_gens_current(q->gs);
			struct weir_window_view view = g->view;
			struct weir_query_filters qf = g->qf;
			weir_window_view_drop(&view, q->env.win, qi);
			qf_set(&qf, qi, NULL);
			if (weir_gens_publish_queries(q->gs, &view, &qf, err, sizeof(err)) < 0)
				continue; /* out of memory: try again later */
			s->state = Q_ENDED;
			s->off_gen = weir_gens_id(q->gs);
			events++;
		} else if (s->state == Q_ENDED && weir_gens_oldest_id(q->gs) >= s->off_gen &&
			   weir_window_set_drained(q->env.win, qi, s->until)) {
			pthread_mutex_lock(q->env.readers_lock);
			weir_window_set_release(q->env.win, qi);
			weir_filter_free(s->filter);
			memset(s, 0, sizeof(*s));
			pthread_mutex_unlock(q->env.readers_lock);
			events++;
		}
	}
	return events;
}

const char *weir_qctl_state(const struct weir_qctl *q, unsigned slot)
{
	return q && slot < WEIR_MAX_QUERIES ? state_names[q->slot[slot].state] : "free";
}

void weir_qctl_bounds(const struct weir_qctl *q, unsigned slot, uint64_t *from, uint64_t *until)
{
	*from = q ? q->slot[slot].from : 0;
	*until = q ? q->slot[slot].until : UINT64_MAX;
}
