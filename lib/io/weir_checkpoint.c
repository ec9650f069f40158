/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Checkpoints of the pipeline: barriers, checkpoint files, restore.
 *
 * A checkpoint is cut at a barrier (epoch) that the main lcore asks for by
 * bumping pl->ckpt_req. Sources take it between two bursts: a direct worker
 * notes what it has read; the distributor notes what it has read and, per
 * worker, how many packets it has handed over, and each worker takes the
 * barrier right after exactly those. Taking it, a worker ships all its open
 * window shards to the merger followed by its mark (weir_window_barrier),
 * and puts a mark in its records ring. The main lcore writes records up to
 * each worker's mark and merges shards up to each worker's mark (later ones
 * are held back, nothing is emitted meanwhile); once every mark is in, the
 * merger holds exactly the state of the packets before the barrier, and the
 * output holds exactly their results. That state is saved to memory (the
 * workers run on), the held shards are merged, and the writer thread puts
 * the checkpoint on disk: temp file, fsync, rename, directory fsync
 * (lib/ckpt). A failed write is counted (checkpoint_failed) and the previous
 * checkpoint stays; the data path never waits for the disk.
 *
 * Sections: "meta" (JSON: epoch, sources' positions, counters, the output's
 * committed length) and "windows" (weir_window_set_save).
 *
 * Restore (--restore latest|FILE) loads the window state, the counters, cuts
 * the output file back to the committed length and skips, on capture ports,
 * the packets the checkpoint had read: the run goes on as if never stopped.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_mbuf.h>

#include "weir_ckpt.h"
#include "weir_pipeline_int.h"

#define SEC_META 1
#define SEC_WINDOWS 2
#define SEC_FLOWS 3 /* one per worker, "flows.<worker>" */
#define META_VERSION 1

/* One checkpoint on its way to disk (the writer thread owns it). */
struct ckpt_job {
	uint64_t epoch, config_hash;
	char *meta;
	void *windows;
	size_t windows_len;
	unsigned n_flows;  /* workers whose flow copies go in (their inspect stages, not owned) */
	const struct weir_inspect *flows[WEIR_MAX_WORKERS];
	uint64_t cut_ns;   /* barrier asked .. state saved */
};

struct weir_checkpoints {
	const struct weir_checkpoint_conf *conf;
	uint64_t config_hash;
	/* main lcore */
	uint64_t epoch;               /* the last barrier asked for */
	bool pending;                 /* it is under way */
	uint64_t asked_tsc;
	bool *rec_marked;             /* per worker: its records are in up to its mark */
	struct ckpt_job *waiting;     /* cut, waiting for the workers' flow copies */
	uint64_t next_tsc;            /* interval: the next one is due then */
	uint64_t next_packets;        /* every_packets: ... once this many are read */
	/* restore */
	json_t *restored;             /* the meta of the checkpoint restored from, or NULL */
	char restored_path[WEIR_PATH_MAX];
	int64_t out_offset;           /* -1: a fresh output */
	uint64_t restore_t0;          /* mono_ns when the restore began */
	/* writer thread */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ckpt_job *job;         /* waiting for the thread */
	bool writing, quit;
	/* status, under lock */
	uint64_t written, failed, abandoned, last_epoch, last_bytes, last_write_ns, last_cut_ns;
	uint64_t done_epoch;          /* the last epoch written or failed */
	char last_path[WEIR_PATH_MAX];
	char last_error[512];
};

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- writer thread ------------------------------------------------------------ */

/* Worker i's flow copy, serialized here (off the data path). */
static int write_flows(struct weir_ckpt_writer *w, unsigned i, const struct weir_inspect *in,
		       uint64_t *bytes)
{
	char name[WEIR_CKPT_NAME_MAX];
	size_t cap = weir_inspect_ckpt_size(in), n;
	void *buf = malloc(cap);
	int rc;

	snprintf(name, sizeof(name), "flows.%u", i);
	n = buf ? weir_inspect_ckpt_write(in, buf, cap) : 0;
	rc = weir_ckpt_add_section(w, SEC_FLOWS, name, buf, n);
	*bytes += n;
	free(buf);
	return rc || !n ? -1 : 0;
}

static int write_job(struct weir_checkpoints *ck, const struct ckpt_job *j, char *path,
		     size_t pathlen, uint64_t *bytes, char *err, size_t errlen)
{
	struct weir_ckpt_meta meta = {.generation = j->epoch, .config_hash = j->config_hash,
				      .keep = ck->conf->keep};
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(ck->conf->dir, &meta, err, errlen);

	if (!w)
		return -1;
	snprintf(path, pathlen, "%s", weir_ckpt_writer_path(w));
	int rc = weir_ckpt_add_section(w, SEC_META, "meta", j->meta, strlen(j->meta)) |
		 weir_ckpt_add_section(w, SEC_WINDOWS, "windows", j->windows, j->windows_len);
	*bytes = strlen(j->meta) + j->windows_len;
	for (unsigned i = 0; i < j->n_flows && rc == 0; i++)
		rc = write_flows(w, i, j->flows[i], bytes);
	if (rc) {
		snprintf(err, errlen, "%s", weir_ckpt_writer_error(w));
		weir_ckpt_abort(w);
		return -1;
	}
	return weir_ckpt_commit(w, err, errlen);
}

static void job_free(struct ckpt_job *j)
{
	if (!j)
		return;
	free(j->meta);
	free(j->windows);
	free(j);
}

static void *writer_main(void *arg)
{
	struct weir_checkpoints *ck = arg;

	pthread_mutex_lock(&ck->lock);
	for (;;) {
		while (!ck->job && !ck->quit)
			pthread_cond_wait(&ck->cond, &ck->lock);
		if (!ck->job)
			break;
		struct ckpt_job *j = ck->job;
		ck->job = NULL;
		ck->writing = true;
		pthread_mutex_unlock(&ck->lock);

		char path[WEIR_PATH_MAX] = "", err[512] = "";
		uint64_t bytes = 0, t0 = mono_ns();
		int rc = write_job(ck, j, path, sizeof(path), &bytes, err, sizeof(err));
		uint64_t took = mono_ns() - t0;
		if (rc < 0)
			fprintf(stderr, "weir: checkpoint %" PRIu64 " failed: %s (the previous one "
				"stays; processing goes on)\n", j->epoch, err);

		pthread_mutex_lock(&ck->lock);
		ck->writing = false;
		ck->done_epoch = j->epoch;
		if (rc < 0) {
			ck->failed++;
			snprintf(ck->last_error, sizeof(ck->last_error), "%s", err);
		} else {
			ck->written++;
			ck->last_epoch = j->epoch;
			ck->last_bytes = bytes;
			ck->last_write_ns = took;
			ck->last_cut_ns = j->cut_ns;
			snprintf(ck->last_path, sizeof(ck->last_path), "%s", path);
		}
		job_free(j);
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

static bool writer_busy(struct weir_checkpoints *ck)
{
	pthread_mutex_lock(&ck->lock);
	bool busy = ck->waiting || ck->job || ck->writing;
	pthread_mutex_unlock(&ck->lock);
	return busy;
}

/* ---- the cut ---------------------------------------------------------------------- */

static json_t *counters_json(const struct counters *c)
{
	json_t *o = json_pack("{s:I,s:I,s:I}", "rx", (json_int_t)c->rx, "processed",
			      (json_int_t)c->processed, "bytes", (json_int_t)c->bytes);
	json_t *d = json_object(), *m = json_object();

	for (unsigned i = 0; i < WEIR_DROP__COUNT; i++)
		if (c->dropped[i])
			json_object_set_new(d, weir_drop_name(i), json_integer((json_int_t)c->dropped[i]));
	for (unsigned i = 0; i < WEIR_PKT_MAL__COUNT; i++)
		if (c->malformed[i])
			json_object_set_new(m, weir_pkt_malformed_name(i),
					    json_integer((json_int_t)c->malformed[i]));
	json_object_set_new(o, "dropped", d);
	json_object_set_new(o, "malformed", m);
	return o;
}

static void counters_sum(struct counters *sum, const struct counters *c)
{
	sum->rx += c->rx;
	sum->processed += c->processed;
	sum->bytes += c->bytes;
	for (unsigned i = 0; i < WEIR_DROP__COUNT; i++)
		sum->dropped[i] += c->dropped[i];
	for (unsigned i = 0; i < WEIR_PKT_MAL__COUNT; i++)
		sum->malformed[i] += c->malformed[i];
}

/* One poller's positions at the barrier: packets read per (port, queue). */
static void sources_json(const struct pipeline *pl, const struct poller *po, const uint64_t *got,
			 json_t *a)
{
	for (unsigned i = 0; i < po->n_rxq; i++) {
		const struct weir_port_conf *pc = &pl->cfg->ports[po->rxq[i].port_index];
		struct stat st;
		json_t *s = json_pack("{s:i,s:i,s:s,s:I,s:b}", "port", po->rxq[i].port_index, "queue",
				      po->rxq[i].queue, "devargs", pc->devargs, "packets",
				      (json_int_t)got[i], "finite", pc->finite);
		if (pc->pcap_path[0] && stat(pc->pcap_path, &st) == 0)
			json_object_set_new(s, "pcap_size", json_integer((json_int_t)st.st_size));
		json_array_append_new(a, s);
	}
}

/*
 * The event time the checkpoint resumes from: the latest packet before the
 * barrier, as the marks saw it. Not the workers' time now: they went on
 * past their barriers while the others caught up, and a restore that
 * started the watermark from a later packet would drop the packets between
 * the barrier and it as too late.
 */
static uint64_t event_time_max(const struct pipeline *pl)
{
	uint64_t t = pl->dist ? pl->dist->mark.max_ts : 0;

	for (unsigned i = 0; i < pl->n_workers; i++)
		t = RTE_MAX(t, pl->workers[i].mark.max_ts);
	return t;
}

/* The meta section: where the sources were, what was counted and written. */
static char *meta_json(struct pipeline *pl, uint64_t epoch, int64_t out_offset)
{
	struct counters work = {0};
	json_t *src = json_array();

	for (unsigned i = 0; i < pl->n_workers; i++) {
		counters_sum(&work, &pl->workers[i].mark.c);
		if (!pl->dist)
			sources_json(pl, &pl->workers[i].po, pl->workers[i].mark.got, src);
	}
	if (pl->dist)
		sources_json(pl, &pl->dist->po, pl->dist->mark.got, src);
	json_t *m = json_pack("{s:i,s:I,s:I,s:I,s:i,s:b,s:o,s:o,s:{s:s,s:I},s:I,s:I,s:i}",
			      "version", META_VERSION, "epoch", (json_int_t)epoch, "created_ns",
			      (json_int_t)wall_ns(), "event_time_ns", (json_int_t)event_time_max(pl),
			      "workers", pl->n_workers, "distributor", pl->dist != NULL, "sources", src,
			      "workers_counters", counters_json(&work), "out", "path", pl->cfg->out,
			      "offset", (json_int_t)out_offset, "windows_emitted",
			      (json_int_t)pl->windows_emitted, "records_written",
			      (json_int_t)pl->records_written, "generation", weir_gens_id(pl->gens));
	if (pl->dist)
		json_object_set_new(m, "distributor_counters", counters_json(&pl->dist->mark.c));
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return s;
}

/* Every mark is in: save the state, let the merger go on, hand the file to the writer. */
static void cut(struct pipeline *pl, struct weir_checkpoints *ck)
{
	struct ckpt_job *j = calloc(1, sizeof(*j));
	int64_t off = weir_out_commit_offset(pl->out);

	if (j) {
		j->epoch = ck->epoch;
		j->config_hash = ck->config_hash;
		j->windows = weir_window_set_save(pl->win, &j->windows_len);
		/* the workers' copies stay put until the writer is done: no barrier before that */
		for (unsigned i = 0; i < pl->n_workers && pl->workers[i].flow_ckpt; i++) {
			j->flows[i] = pl->workers[i].inspect;
			j->n_flows = i + 1;
		}
		j->meta = meta_json(pl, ck->epoch, off);
		j->cut_ns = (rte_rdtsc() - ck->asked_tsc) * 1000000000u / rte_get_tsc_hz();
	}
	weir_window_set_barrier_done(pl->win);
	memset(ck->rec_marked, 0, pl->n_workers * sizeof(*ck->rec_marked));
	ck->pending = false;
	pthread_mutex_lock(&ck->lock);
	if (!j || !j->windows || !j->meta) {
		ck->failed++;
		snprintf(ck->last_error, sizeof(ck->last_error), "out of memory saving the state");
		ck->done_epoch = ck->epoch;
		job_free(j);
	} else {
		ck->waiting = j;
	}
	pthread_mutex_unlock(&ck->lock);
}

/* The cut job goes to the writer once every worker's flow copy for it is complete. */
static unsigned hand_over_when_copied(struct pipeline *pl, struct weir_checkpoints *ck)
{
	struct ckpt_job *j = ck->waiting;

	for (unsigned i = 0; j && i < j->n_flows; i++)
		if (__atomic_load_n(&pl->workers[i].flow_done, __ATOMIC_ACQUIRE) != j->epoch)
			return 0;
	if (!j)
		return 0;
	pthread_mutex_lock(&ck->lock);
	ck->waiting = NULL;
	ck->job = j;
	pthread_cond_signal(&ck->cond);
	pthread_mutex_unlock(&ck->lock);
	return 1;
}

static bool records_aligned(const struct pipeline *pl, const struct weir_checkpoints *ck)
{
	for (unsigned i = 0; i < pl->n_workers; i++)
		if (pl->workers[i].records && !ck->rec_marked[i])
			return false;
	return true;
}

static bool sources_running(const struct pipeline *pl)
{
	if (pl->dist)
		return !__atomic_load_n(&pl->dist->done, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < pl->n_workers; i++)
		if (__atomic_load_n(&pl->workers[i].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static uint64_t packets_read(const struct pipeline *pl)
{
	uint64_t n = pl->dist ? __atomic_load_n(&pl->dist->c.rx, __ATOMIC_RELAXED) : 0;

	for (unsigned i = 0; i < pl->n_workers; i++)
		n += __atomic_load_n(&pl->workers[i].c.rx, __ATOMIC_RELAXED);
	return n;
}

static uint64_t ask(struct pipeline *pl, struct weir_checkpoints *ck)
{
	ck->epoch++;
	ck->pending = true;
	ck->asked_tsc = rte_rdtsc();
	__atomic_store_n(&pl->ckpt_req, ck->epoch, __ATOMIC_RELEASE);
	return ck->epoch;
}

static bool due(const struct pipeline *pl, struct weir_checkpoints *ck)
{
	uint64_t now = rte_rdtsc();
	bool d = false;

	if (ck->conf->interval_ns && now >= ck->next_tsc) {
		ck->next_tsc = now + ck->conf->interval_ns * rte_get_tsc_hz() / 1000000000u;
		d = true;
	}
	if (ck->conf->every_packets) {
		uint64_t n = packets_read(pl);
		if (n >= ck->next_packets) {
			ck->next_packets = (n / ck->conf->every_packets + 1) * ck->conf->every_packets;
			d = true;
		}
	}
	return d;
}

unsigned weir_checkpoints_poll(struct pipeline *pl)
{
	struct weir_checkpoints *ck = pl->ck;
	uint64_t e;

	if (!ck)
		return 0;
	if (hand_over_when_copied(pl, ck))
		return 1;
	if (!ck->pending) {
		/* one falling due while the last is written waits for it: none is skipped */
		if (!writer_busy(ck) && sources_running(pl) && due(pl, ck))
			ask(pl, ck);
		return 0;
	}
	if (!records_aligned(pl, ck) || !weir_window_set_aligned(pl->win, &e))
		return 0;
	cut(pl, ck);
	return 1;
}

uint64_t weir_checkpoints_request(struct pipeline *pl, char *err, size_t errlen)
{
	struct weir_checkpoints *ck = pl->ck;

	if (!ck) {
		snprintf(err, errlen, "checkpoints are off (give --checkpoint-dir or checkpoint: {dir})");
		return 0;
	}
	if (ck->pending)
		return ck->epoch; /* the one under way serves this request too */
	if (!sources_running(pl)) {
		snprintf(err, errlen, "the sources are done: nothing left to checkpoint");
		return 0;
	}
	if (writer_busy(ck)) {
		snprintf(err, errlen, "busy: checkpoint %" PRIu64 " is still being written", ck->epoch);
		return 0;
	}
	return ask(pl, ck);
}

bool weir_checkpoints_pending(const struct pipeline *pl)
{
	return pl->ck && pl->ck->pending;
}

void weir_checkpoints_record_mark(struct pipeline *pl, unsigned w)
{
	if (pl->ck && pl->ck->pending)
		pl->ck->rec_marked[w] = true;
}

bool weir_checkpoints_records_held(const struct pipeline *pl, unsigned w)
{
	return pl->ck && pl->ck->pending && pl->ck->rec_marked[w];
}

bool weir_checkpoints_finish(struct pipeline *pl)
{
	struct weir_checkpoints *ck = pl->ck;
	uint64_t e;

	if (!ck)
		return false;
	hand_over_when_copied(pl, ck); /* the workers finished their copies before they ended */
	if (!ck->pending)
		return false;
	if (records_aligned(pl, ck) && weir_window_set_aligned(pl->win, &e)) {
		cut(pl, ck);
		hand_over_when_copied(pl, ck); /* the workers finished their copies before they ended */
		return true;
	}
	/* a source had stopped before it saw the barrier: it can never align */
	weir_window_set_barrier_done(pl->win);
	memset(ck->rec_marked, 0, pl->n_workers * sizeof(*ck->rec_marked));
	ck->pending = false;
	pthread_mutex_lock(&ck->lock);
	ck->abandoned++;
	ck->done_epoch = ck->epoch;
	snprintf(ck->last_error, sizeof(ck->last_error),
		 "checkpoint %" PRIu64 " given up: the sources ended before every one reached it",
		 ck->epoch);
	pthread_mutex_unlock(&ck->lock);
	return true;
}

/* ---- status ------------------------------------------------------------------------ */

void weir_checkpoints_json(struct pipeline *pl, json_t *r)
{
	struct weir_checkpoints *ck = pl->ck;

	if (!ck) {
		json_object_set_new(r, "enabled", json_false());
		return;
	}
	pthread_mutex_lock(&ck->lock);
	json_t *o = json_pack("{s:b,s:s,s:I,s:I,s:I,s:I}", "enabled", ck->conf->dir[0] != 0, "dir",
			      ck->conf->dir, "written", (json_int_t)ck->written, "failed",
			      (json_int_t)ck->failed, "abandoned", (json_int_t)ck->abandoned,
			      "done_epoch", (json_int_t)ck->done_epoch);
	json_object_set_new(o, "pending", ck->pending || ck->job || ck->writing
				? json_integer((json_int_t)ck->epoch) : json_null());
	if (ck->written)
		json_object_set_new(o, "last", json_pack("{s:I,s:s,s:I,s:f,s:f}", "epoch",
				(json_int_t)ck->last_epoch, "path", ck->last_path, "bytes",
				(json_int_t)ck->last_bytes, "write_s", ck->last_write_ns / 1e9,
				"cut_s", ck->last_cut_ns / 1e9));
	if (ck->last_error[0])
		json_object_set_new(o, "last_error", json_string(ck->last_error));
	pthread_mutex_unlock(&ck->lock);
	if (ck->restored_path[0])
		json_object_set_new(o, "restored_from", json_string(ck->restored_path));
	json_object_update(r, o);
	json_decref(o);
}

void weir_checkpoints_stats(struct pipeline *pl, struct weir_json *j)
{
	if (!pl->ck)
		return;
	json_t *o = json_object();
	char *s;

	weir_checkpoints_json(pl, o);
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		weir_json_raw(j, "checkpoints", s);
	free(s);
	json_decref(o);
}

/* ---- set-up and restore --------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void report_query(void *ctx, const char *query, const char *what)
{
	static const struct { const char *what, *says; } says[] = {
		{"restored", "restored"},
		{"changed", "changed since the checkpoint: starts fresh"},
		{"new", "not in the checkpoint: starts fresh"},
		{"removed", "no longer configured: its saved state is dropped"},
	};
	(void)ctx;
	for (unsigned i = 0; i < RTE_DIM(says); i++)
		if (!strcmp(says[i].what, what))
			fprintf(stderr, "weir: restore: query '%s' %s\n", query, says[i].says);
}

static uint64_t jint(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* The output goes on where the checkpoint committed it, if it is the same file. */
static void restore_out_offset(struct pipeline *pl, struct weir_checkpoints *ck)
{
	json_t *out = json_object_get(ck->restored, "out");
	const char *path = json_string_value(json_object_get(out, "path"));
	json_int_t off = json_integer_value(json_object_get(out, "offset"));

	if (!strcmp(pl->cfg->out, "-"))
		fprintf(stderr, "weir: restore: records go to stdout: what the checkpoint committed "
			"cannot be taken back, results after it may come twice\n");
	else if (!path || strcmp(path, pl->cfg->out) || off < 0)
		fprintf(stderr, "weir: restore: the checkpoint's records went to %s, these go to a "
			"fresh %s\n", path ? path : "?", pl->cfg->out);
	else
		ck->out_offset = off;
}

static struct weir_ckpt *open_checkpoint(const struct weir_config *cfg, char *err, size_t errlen)
{
	enum weir_ckpt_reason why;
	char e[1024];
	struct weir_ckpt *c;

	if (strcmp(cfg->restore, "latest")) {
		c = weir_ckpt_open(cfg->restore, &why, e, sizeof(e));
		if (!c)
			fail(err, errlen, "--restore: %s", e);
		return c;
	}
	c = weir_ckpt_open_latest(cfg->checkpoint.dir, weir_ckpt_diag_file, stderr, &why, e, sizeof(e));
	if (!c && why == WEIR_CKPT_NONE)
		fprintf(stderr, "weir: --restore latest: no checkpoint in %s: starting fresh\n",
			cfg->checkpoint.dir);
	else if (!c)
		fail(err, errlen, "--restore latest: %s", e);
	return c;
}

/* Each worker's flow table, when the worker count is the one saved (flow ids name workers). */
static int restore_flows(struct pipeline *pl, const struct weir_ckpt *c, char *err, size_t errlen)
{
	unsigned saved = (unsigned)jint(pl->ck->restored, "workers");
	bool tracked = pl->workers[0].inspect && weir_inspect_flows(pl->workers[0].inspect);
	char name[WEIR_CKPT_NAME_MAX], why[512];

	if (!weir_ckpt_find(c, SEC_FLOWS, NULL))
		return 0;
	if (!tracked || saved != pl->n_workers) {
		fprintf(stderr, "weir: restore: flows start afresh (%s)\n",
			tracked ? "the checkpoint had another worker count" : "flow tracking is off");
		return 0;
	}
	for (unsigned i = 0; i < pl->n_workers; i++) {
		snprintf(name, sizeof(name), "flows.%u", i);
		const struct weir_ckpt_section *f = weir_ckpt_find(c, SEC_FLOWS, name);
		if (!f)
			return fail(err, errlen, "%s: no section %s", weir_ckpt_path(c), name);
		if (weir_inspect_flows_restore(pl->workers[i].inspect, f->data, f->len, why,
					       sizeof(why)) < 0)
			return fail(err, errlen, "%s: %s: %s", weir_ckpt_path(c), name, why);
	}
	return 0;
}

static int restore_load(struct pipeline *pl, struct weir_checkpoints *ck, char *err, size_t errlen)
{
	struct weir_ckpt *c = open_checkpoint(pl->cfg, err, errlen);
	const struct weir_ckpt_section *ms, *ws;
	json_error_t je;
	char why[512];
	int rc = -1;

	if (!c)
		return *err ? -1 : 0; /* none: a fresh start */
	ms = weir_ckpt_find(c, SEC_META, "meta");
	ws = weir_ckpt_find(c, SEC_WINDOWS, "windows");
	if (!ms || !ws) {
		fail(err, errlen, "%s: not a weir run checkpoint (no %s section)", weir_ckpt_path(c),
		     ms ? "windows" : "meta");
		goto out;
	}
	ck->restored = json_loadb(ms->data, ms->len, 0, &je);
	if (!ck->restored || jint(ck->restored, "version") != META_VERSION) {
		fail(err, errlen, "%s: meta section: %s", weir_ckpt_path(c),
		     ck->restored ? "unknown version" : je.text);
		goto out;
	}
	if (weir_window_set_load(pl->win, ws->data, ws->len, report_query, NULL, why,
				 sizeof(why)) < 0) {
		fail(err, errlen, "%s: %s", weir_ckpt_path(c), why);
		goto out;
	}
	if (restore_flows(pl, c, err, errlen) < 0)
		goto out;
	snprintf(ck->restored_path, sizeof(ck->restored_path), "%s", weir_ckpt_path(c));
	ck->epoch = jint(ck->restored, "epoch");
	restore_out_offset(pl, ck);
	rc = 0;
out:
	weir_ckpt_close(c);
	return rc;
}

static void *start_writer(struct weir_checkpoints *ck, char *err, size_t errlen)
{
	struct stat st;

	if (stat(ck->conf->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fail(err, errlen, "checkpoint directory %s: %s", ck->conf->dir,
		     errno && stat(ck->conf->dir, &st) < 0 ? strerror(errno) : "not a directory");
		return NULL;
	}
	if (pthread_create(&ck->thread, NULL, writer_main, ck) != 0) {
		fail(err, errlen, "cannot start the checkpoint writer thread");
		return NULL;
	}
	ck->thread_started = true;
	return ck;
}

/* Each worker's flow table is copied on write at barriers (its copy allocated now). */
static int flows_enable(struct pipeline *pl, char *err, size_t errlen)
{
	for (unsigned i = 0; i < pl->n_workers; i++) {
		struct worker *w = &pl->workers[i];
		int rc = w->inspect ? weir_inspect_ckpt_enable(w->inspect, err, errlen) : 0;
		if (rc < 0)
			return -1;
		w->flow_ckpt = rc == 1;
	}
	return 0;
}

int weir_checkpoints_open(struct pipeline *pl, char *err, size_t errlen)
{
	const struct weir_config *cfg = pl->cfg;
	struct weir_checkpoints *ck;

	*err = '\0';
	if (!cfg->checkpoint.dir[0] && !cfg->restore[0])
		return 0;
	ck = pl->ck = calloc(1, sizeof(*ck));
	if (!ck || !(ck->rec_marked = calloc(pl->n_workers, sizeof(*ck->rec_marked))))
		return fail(err, errlen, "out of memory");
	ck->conf = &cfg->checkpoint;
	ck->out_offset = -1;
	ck->config_hash = rte_hash_crc(cfg->queries, sizeof(cfg->queries[0]) * cfg->n_queries, 0);
	pthread_mutex_init(&ck->lock, NULL);
	pthread_cond_init(&ck->cond, NULL);
	if (cfg->checkpoint.dir[0] && !start_writer(ck, err, errlen))
		return -1;
	if (cfg->checkpoint.dir[0] && flows_enable(pl, err, errlen) < 0)
		return -1;
	ck->next_tsc = rte_rdtsc() + cfg->checkpoint.interval_ns * rte_get_tsc_hz() / 1000000000u;
	ck->next_packets = cfg->checkpoint.every_packets;
	ck->restore_t0 = mono_ns();
	return cfg->restore[0] ? restore_load(pl, ck, err, errlen) : 0;
}

int64_t weir_checkpoints_out_offset(const struct pipeline *pl)
{
	return pl->ck ? pl->ck->out_offset : -1;
}

void weir_checkpoints_free(struct pipeline *pl)
{
	struct weir_checkpoints *ck = pl->ck;

	if (!ck)
		return;
	if (ck->thread_started) {
		pthread_mutex_lock(&ck->lock);
		ck->quit = true;
		pthread_cond_signal(&ck->cond);
		pthread_mutex_unlock(&ck->lock);
		pthread_join(ck->thread, NULL); /* the job in flight is written first */
	}
	job_free(ck->job);
	job_free(ck->waiting);
	json_decref(ck->restored);
	free(ck->rec_marked);
	free(ck);
	pl->ck = NULL;
}

/* ---- resume ------------------------------------------------------------------------ */

static void counters_load(struct counters *c, const json_t *o)
{
	const json_t *d = json_object_get(o, "dropped"), *m = json_object_get(o, "malformed");

	c->rx += jint(o, "rx");
	c->processed += jint(o, "processed");
	c->bytes += jint(o, "bytes");
	for (unsigned i = 0; i < WEIR_DROP__COUNT; i++)
		c->dropped[i] += jint(d, weir_drop_name(i));
	for (unsigned i = 0; i < WEIR_PKT_MAL__COUNT; i++)
		c->malformed[i] += jint(m, weir_pkt_malformed_name(i));
}

/* The poller that reads (port, queue) now, and its index for it; NULL if none. */
static struct poller *poller_of(struct pipeline *pl, unsigned port, unsigned queue, unsigned *idx)
{
	for (unsigned w = 0; w <= pl->n_workers; w++) {
		struct poller *po = w == pl->n_workers ? (pl->dist ? &pl->dist->po : NULL)
						       : &pl->workers[w].po;
		for (unsigned i = 0; po && i < po->n_rxq; i++)
			if (po->rxq[i].port_index == port && po->rxq[i].queue == queue) {
				*idx = i;
				return po;
			}
	}
	return NULL;
}

/* Read and drop the n packets of a capture queue that the checkpoint had counted. */
static int skip_packets(struct pipeline *pl, struct poller *po, unsigned i, uint64_t n, char *err,
			size_t errlen)
{
	struct rte_mbuf *m[64];
	unsigned idle = 0;

	while (po->got[i] < n && idle < 1000) {
		unsigned k = rte_eth_rx_burst(po->rxq[i].port_id, po->rxq[i].queue, m,
					      (uint16_t)RTE_MIN((uint64_t)RTE_DIM(m), n - po->got[i]));
		rte_pktmbuf_free_bulk(m, k);
		po->got[i] += k;
		idle = k ? 0 : idle + 1;
	}
	if (po->got[i] < n)
		return fail(err, errlen, "restore: %s ends after %" PRIu64 " packets, the checkpoint "
			    "had read %" PRIu64, pl->cfg->ports[po->rxq[i].port_index].devargs,
			    po->got[i], n);
	return 0;
}

/* Capture ports resume after what the checkpoint read; live ports cannot. Packets skipped. */
static int resume_sources(struct pipeline *pl, uint64_t *skipped, bool *live, char *err,
			  size_t errlen)
{
	const json_t *src = json_object_get(pl->ck->restored, "sources");
	size_t k;
	json_t *s;

	json_array_foreach(src, k, s) {
		unsigned port = (unsigned)jint(s, "port"), queue = (unsigned)jint(s, "queue"), i;
		const char *devargs = json_string_value(json_object_get(s, "devargs"));
		if (port >= pl->n_ports || !devargs || strcmp(devargs, pl->cfg->ports[port].devargs))
			return fail(err, errlen, "restore: the checkpoint's port %u read '%s', now it is "
				    "%s", port, devargs ? devargs : "?",
				    port < pl->n_ports ? pl->cfg->ports[port].devargs : "missing");
		if (!json_is_true(json_object_get(s, "finite"))) {
			*live = true;
			continue;
		}
		struct stat st;
		const char *pcap = pl->cfg->ports[port].pcap_path;
		if (stat(pcap, &st) < 0 || (uint64_t)st.st_size != jint(s, "pcap_size"))
			return fail(err, errlen, "restore: %s changed since the checkpoint (%" PRIu64
				    " bytes then): its position no longer holds", pcap,
				    jint(s, "pcap_size"));
		struct poller *po = poller_of(pl, port, queue, &i);
		if (!po || skip_packets(pl, po, i, jint(s, "packets"), err, errlen) < 0)
			return po ? -1 : fail(err, errlen, "restore: no rx queue %u on port %u", queue,
					      port);
		*skipped += po->got[i];
	}
	return 0;
}

/* A record saying where the output picks up again, and (live ports) how long weir was away. */
static void restore_record(struct pipeline *pl, uint64_t skipped, bool live)
{
	struct weir_json *j = &pl->rec_json;
	uint64_t created = jint(pl->ck->restored, "created_ns"), now = wall_ns();

	weir_json_reset(j);
	weir_json_begin(j, NULL);
	weir_json_str(j, "type", "restore");
	weir_json_str(j, "checkpoint", pl->ck->restored_path);
	weir_json_u64(j, "epoch", jint(pl->ck->restored, "epoch"));
	weir_json_u64(j, "checkpoint_ns", created);
	weir_json_u64(j, "restored_ns", now);
	weir_json_u64(j, "skipped_packets", skipped);
	if (live) /* what live ports received meanwhile is lost */
		weir_json_u64(j, "gap_ns", now > created ? now - created : 0);
	weir_json_double(j, "restore_s", (double)(mono_ns() - pl->ck->restore_t0) / 1e9);
	weir_json_end(j);
	weir_out_record(pl->out, j);
}

int weir_checkpoints_resume(struct pipeline *pl, char *err, size_t errlen)
{
	struct weir_checkpoints *ck = pl->ck;
	uint64_t skipped = 0, ts;
	bool live = false;

	if (!ck || !ck->restored)
		return 0;
	counters_load(&pl->workers[0].c, json_object_get(ck->restored, "workers_counters"));
	counters_load(pl->dist ? &pl->dist->c : &pl->workers[0].c,
		      json_object_get(ck->restored, "distributor_counters"));
	pl->windows_emitted = jint(ck->restored, "windows_emitted");
	pl->records_written = jint(ck->restored, "records_written");
	ts = jint(ck->restored, "event_time_ns");
	for (unsigned i = 0; i < pl->n_workers; i++)
		pl->workers[i].max_ts_pub = ts;
	if (pl->dist)
		pl->dist->ts = ts;
	if (resume_sources(pl, &skipped, &live, err, errlen) < 0)
		return -1;
	restore_record(pl, skipped, live);
	fprintf(stderr, "weir: restored %s (checkpoint %" PRIu64 ") in %.3f s: %" PRIu64 " packets "
		"already read are skipped%s\n", ck->restored_path, ck->epoch,
		(double)(mono_ns() - ck->restore_t0) / 1e9, skipped,
		live ? "; live ports lost what came while weir was down (see the restore record)" : "");
	return 0;
}
