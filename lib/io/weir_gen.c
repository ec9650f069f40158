/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Rule generations: building, publishing (RCU), compile jobs, reclaiming.
 * Everything here runs on the main lcore except grace_done (call_rcu's
 * thread); see weir_gen.h for the model.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "weir_gen.h"
#include "weir_io.h"

enum job_op { JOB_RELOAD, JOB_ADD, JOB_MERGE };
enum job_state { JOB_IDLE, JOB_COMPILING, JOB_DONE, JOB_FAILED };
static const char *const op_names[] = {"reload", "add", "merge"};
static const char *const state_names[] = {"idle", "compiling", "done", "failed"};

/* What the compile child tells the parent besides its exit status. */
struct child_report {
	double compile_s;
	unsigned cache_hits, cache_misses, n_rules;
	char err[256];
};

/*
 * A job runs on a thread of its own: parse (reload, add), compile in a
 * bounded child process, load the databases from the cache, allocate the
 * workers' scratch: everything slow, off the main lcore, which only builds
 * and publishes the generation once the thread says `ready`.
 */
struct job {
	uint32_t id;
	enum job_op op;
	enum job_state state;      /* main lcore's view */
	struct weir_gens *gs;
	pthread_t thread;
	uint32_t ready;            /* the thread is done (release): outputs below are set */
	uint32_t cancel;           /* main wants it stopped (the child killed) */
	pid_t pid;                 /* the compile child while it runs (atomic) */
	uint32_t from_gen;         /* rules_version when it started */
	uint64_t t0_ns;
	double wall_s;             /* start to publish */
	/* inputs */
	unsigned n_files;          /* reload: its files (the new `rules reload` default); add: one */
	char files[WEIR_MAX_RULE_FILES][WEIR_PATH_MAX];
	struct weir_ruleset *rs;   /* add: the delta's live rules; merge: every live rule */
	uint32_t *live_ids;        /* add: ids running now (sorted), refused in the file */
	unsigned n_live_ids;
	/* outputs */
	struct weir_rdb *d;        /* the new database, NULL on failure (error says why) */
	struct child_report cr;
	struct rdb_key *key;       /* reload: the files' signatures, for the database */
	bool from_spare;           /* published a retired database again: nothing compiled */
	uint32_t generation;       /* published, when done */
	char error[1024];
};

struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* Rule files as stat saw them before they were parsed: what a parse or a database came from. */
struct rdb_key {
	unsigned n;
	char files[WEIR_MAX_RULE_FILES][WEIR_PATH_MAX];
	struct file_sig sig[WEIR_MAX_RULE_FILES];
};

/*
 * Parsed rule files by what stat says of them (path, device, inode, size,
 * mtime): reloading files that did not change copies the parsed rules
 * instead of parsing again (10k Suricata rules: seconds of parsing, tens
 * of ms to copy). Job threads only (user jobs run one at a time).
 */
#define PARSED_CACHE 2
struct parsed {
	struct rdb_key key;        /* the files */
	struct weir_ruleset *rs;   /* as parsed: valid (no error, nothing Hyperscan rejects) */
	uint64_t used;
};

static bool sig_of(const char *path, struct file_sig *sig)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	*sig = (struct file_sig){.dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
				 .mtime = st.st_mtim};
	return true;
}

static bool sig_equal(const struct file_sig *a, const struct file_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * Retired databases of reloads stay compiled, workers' scratch and all, so
 * that reloading the set that ran before (a rollback, or alternating sets)
 * swaps without compiling or loading anything.
 */
#define RDB_SPARES 2

struct slot_entry {
	uint32_t id;
	uint32_t slot;             /* WEIR_GEN_OFF: empty */
};

struct weir_gens {
	const struct weir_config *cfg;
	unsigned n_workers;
	bool flows;                /* workers track flows: stream rules can apply */
	pthread_mutex_t *readers_lock;
	struct weir_gen *cur;      /* published: workers rcu_dereference it */
	struct weir_gen *retired;  /* waiting for grace period and drain */
	uint32_t next_gen, next_serial, next_job;
	struct weir_rule_counters *rc[WEIR_MAX_WORKERS];
	/* rule id -> counter slot */
	struct slot_entry *map;
	uint32_t map_cap;          /* power of two, >= 2 * rules_max */
	uint32_t *slot_refs;       /* live generations holding the slot's rule */
	uint32_t *slot_free;
	uint32_t n_slot_free;
	char cache[WEIR_PATH_MAX]; /* where compile children leave databases */
	bool cache_private;        /* made for us (rules_cache off): removed at the end */
	bool rules_on;             /* started with rules: they can change */
	uint32_t rules_version;    /* bumped by every rule change (a merge of an older one is stale) */
	struct weir_window_view view0;      /* generation 1's queries */
	struct weir_query_filters qf0;
	struct job job;            /* the last user job (reload, add) */
	struct job merge;          /* the background merge; one of the two compiles at a time */
	bool merge_pending;
	struct parsed parsed[PARSED_CACHE];
	struct weir_rdb *spare[RDB_SPARES]; /* [0] most recently retired */
	uint64_t parsed_clock;
	unsigned n_files;          /* what `rules reload` without files reads */
	char files[WEIR_MAX_RULE_FILES][WEIR_PATH_MAX];
	struct weir_gens_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- counter slots ---------------------------------------------------------------- */

static uint32_t id_hash(uint32_t id)
{
	return (id * 0x9e3779b1u) >> 7;
}

static struct slot_entry *slot_find(struct weir_gens *gs, uint32_t id)
{
	uint32_t h = id_hash(id) & (gs->map_cap - 1);
	while (gs->map[h].slot != WEIR_GEN_OFF && gs->map[h].id != id)
		h = (h + 1) & (gs->map_cap - 1);
	return &gs->map[h];
}

/* The rule's slot, one more generation holding it; WEIR_GEN_OFF when every slot is taken. */
static uint32_t slot_get(struct weir_gens *gs, uint32_t id)
{
	struct slot_entry *e = slot_find(gs, id);
	if (e->slot == WEIR_GEN_OFF) {
		if (!gs->n_slot_free)
			return WEIR_GEN_OFF;
		e->id = id;
		e->slot = gs->slot_free[--gs->n_slot_free];
	}
	gs->slot_refs[e->slot]++;
	return e->slot;
}

/* Remove one entry from linear-probing table without tombstones (re-seat the cluster). */
static void map_delete(struct weir_gens *gs, struct slot_entry *e)
{
	uint32_t i = (uint32_t)(e - gs->map), mask = gs->map_cap - 1;
	gs->map[i].slot = WEIR_GEN_OFF;
	for (uint32_t j = (i + 1) & mask; gs->map[j].slot != WEIR_GEN_OFF; j = (j + 1) & mask) {
		struct slot_entry moved = gs->map[j];
		gs->map[j].slot = WEIR_GEN_OFF;
		*slot_find(gs, moved.id) = moved;
	}
}

/*
 * A generation holding the rule is gone. When it was the last, no worker can
 * write the slot any more (its generations are past their grace period):
 * zero it for the next rule that takes it.
 */
static void slot_put(struct weir_gens *gs, uint32_t id)
{
	struct slot_entry *e = slot_find(gs, id);
	if (e->slot == WEIR_GEN_OFF || --gs->slot_refs[e->slot])
		return;
	for (unsigned w = 0; w < gs->n_workers; w++)
		memset(&gs->rc[w][e->slot], 0, sizeof(gs->rc[w][e->slot]));
	gs->slot_free[gs->n_slot_free++] = e->slot;
	map_delete(gs, e);
}

static int slots_init(struct weir_gens *gs)
{
	uint32_t n = gs->cfg->rules_max;

	gs->map_cap = 1;
	while (gs->map_cap < 2 * n)
		gs->map_cap <<= 1;
	gs->map = malloc(sizeof(*gs->map) * gs->map_cap);
	gs->slot_refs = calloc(n, sizeof(*gs->slot_refs));
	gs->slot_free = malloc(sizeof(*gs->slot_free) * n);
	if (!gs->map || !gs->slot_refs || !gs->slot_free)
		return -1;
	for (uint32_t i = 0; i < gs->map_cap; i++)
		gs->map[i].slot = WEIR_GEN_OFF;
	for (uint32_t i = 0; i < n; i++)
		gs->slot_free[i] = n - 1 - i;
	gs->n_slot_free = n;
	for (unsigned w = 0; w < gs->n_workers; w++) {
		gs->rc[w] = rte_zmalloc("weir_rule_cnt", sizeof(*gs->rc[w]) * n, 64);
		if (!gs->rc[w])
			return -1;
	}
	return 0;
}

/* ---- databases ------------------------------------------------------------------------ */

static void rdb_free(struct weir_rdb *d)
{
	if (!d)
		return;
	for (unsigned w = 0; w < WEIR_MAX_WORKERS; w++)
		weir_match_worker_free(d->mw[w]);
	weir_match_free(d->match);
	weir_ruleset_free(d->rs);
	free(d->key);
	free(d);
}

/* Takes rs and m (freed on failure too). */
static struct weir_rdb *rdb_new(struct weir_gens *gs, struct weir_ruleset *rs, struct weir_match *m,
				char *err, size_t errlen)
{
	struct weir_rdb *d = calloc(1, sizeof(*d));
	if (!d) {
		weir_match_free(m);
		weir_ruleset_free(rs);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->rs = rs;
	d->match = m;
	const struct weir_match_info *mi = weir_match_info(m);
	d->stream_rules = mi->n_db_stream > 0 && gs->flows;
	unsigned streams = d->stream_rules ? gs->cfg->flows.streams * mi->max_streams_per_dir : 0;
	for (unsigned w = 0; w < gs->n_workers; w++)
		if (!(d->mw[w] = weir_match_worker_new(m, streams, err, errlen))) {
			rdb_free(d);
			return NULL;
		}
	return d;
}

/* A database no generation holds any more: kept as a spare when a reload made it. */
static void rdb_unref(struct weir_gens *gs, struct weir_rdb *d)
{
	if (!d || --d->refs)
		return;
	if (!d->key) {
		rdb_free(d);
		return;
	}
	rdb_free(gs->spare[RDB_SPARES - 1]);
	memmove(&gs->spare[1], &gs->spare[0], sizeof(gs->spare[0]) * (RDB_SPARES - 1));
	gs->spare[0] = d;
}

static bool key_current(const struct rdb_key *k, unsigned n, char *const *files)
{
	struct file_sig now;

	if (!k || k->n != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(k->files[i], files[i]) || !sig_of(files[i], &now) || !sig_equal(&now, &k->sig[i]))
			return false;
	return true;
}

/* A spare compiled from exactly these files, unchanged since: taken out of the spares. */
static struct weir_rdb *spare_take(struct weir_gens *gs, unsigned n, char *const *files)
{
	for (unsigned i = 0; i < RDB_SPARES; i++) {
		struct weir_rdb *d = gs->spare[i];
		if (!d || !key_current(d->key, n, files))
			continue;
		memmove(&gs->spare[i], &gs->spare[i + 1], sizeof(gs->spare[0]) * (RDB_SPARES - 1 - i));
		gs->spare[RDB_SPARES - 1] = NULL;
		/* no worker has used it since its grace period: its streams are abandoned */
		for (unsigned w = 0; w < gs->n_workers; w++)
			weir_match_worker_forget_streams(d->mw[w]);
		return d;
	}
	return NULL;
}

/* ---- generations -------------------------------------------------------------------- */

static void gen_free(struct weir_gens *gs, struct weir_gen *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_active; i++)
		slot_put(gs, weir_gen_rule(g, g->active[i].db, g->active[i].idx)->id);
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++) {
		free(g->slot[k]);
		rdb_unref(gs, g->db[k]);
	}
	free(g->active);
	free(g);
}

static bool in_ids(const uint32_t *ids, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * A generation over base and delta, with prev's queries (generation 1:
 * view0/qf0). A rule is off when it is in off_ids, or when its database is
 * prev's and it was off there (removals persist until a merge drops the
 * rule). NULL + err when out of slots or memory.
 */
static struct weir_gen *gen_build(struct weir_gens *gs, struct weir_rdb *base, struct weir_rdb *delta,
				  const struct weir_gen *prev, const uint32_t *off_ids, unsigned n_off,
				  char *err, size_t errlen)
{
	struct weir_gen *g = calloc(1, sizeof(*g));
	unsigned total = 0;

	if (!g)
		goto oom;
	g->view = prev ? prev->view : gs->view0;
	g->qf = prev ? prev->qf : gs->qf0;
	g->db[0] = base;
	g->db[1] = delta;
	g->rules = base || delta;
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++)
		if (g->db[k]) {
			g->db[k]->refs++;
			total += weir_match_info(g->db[k]->match)->n_rules;
			g->stream_rules |= g->db[k]->stream_rules;
		}
	g->active = malloc(sizeof(*g->active) * (total ? total : 1));
	if (!g->active)
		goto oom;
	for (unsigned k = 0; k < WEIR_GEN_DBS; k++) {
		if (!g->db[k])
			continue;
		unsigned n = weir_match_info(g->db[k]->match)->n_rules;
		bool same = prev && prev->db[k] == g->db[k];
		if (!(g->slot[k] = malloc(sizeof(uint32_t) * (n ? n : 1))))
			goto oom;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t id = weir_match_rule(g->db[k]->match, i)->id;
			g->slot[k][i] = WEIR_GEN_OFF;
			if ((same && prev->slot[k][i] == WEIR_GEN_OFF) || in_ids(off_ids, n_off, id))
				continue;
			uint32_t s = slot_get(gs, id);
			if (s == WEIR_GEN_OFF) {
				snprintf(err, errlen, "more than rules_max (%u) rule ids live at once",
					 gs->cfg->rules_max);
				gen_free(gs, g);
				return NULL;
			}
			g->slot[k][i] = s;
			g->active[g->n_active++] = (struct weir_gen_rule){.db = (uint8_t)k, .idx = i, .slot = s};
		}
	}
	g->id = ++gs->next_gen;
	return g;
oom:
	snprintf(err, errlen, "out of memory");
	gen_free(gs, g);
	return NULL;
}

static void grace_done(struct rcu_head *h)
{
	struct weir_gen *g = caa_container_of(h, struct weir_gen, rcu);
	__atomic_store_n(&g->grace_done, 1, __ATOMIC_RELEASE);
}

static void publish(struct weir_gens *gs, struct weir_gen *g)
{
	struct weir_gen *old = gs->cur;

	pthread_mutex_lock(gs->readers_lock);
	gs->cur = g;
	pthread_mutex_unlock(gs->readers_lock);
	rcu_assign_pointer(*weir_gens_published(gs), g);
	gs->st.published++;
	if (!old)
		return;
	old->next_retired = gs->retired;
	gs->retired = old;
	call_rcu(&old->rcu, grace_done);
}

/* Free the retired generations whose grace period is over (after drain). */
static unsigned reclaim(struct weir_gens *gs, void (*drain)(void *), void *ctx)
{
	struct weir_gen **pp = &gs->retired;
	unsigned n = 0;
	bool drained = false;

	while (*pp) {
		struct weir_gen *g = *pp;
		if (!__atomic_load_n(&g->grace_done, __ATOMIC_ACQUIRE)) {
			pp = &g->next_retired;
			continue;
		}
		if (!drained && drain)
			drain(ctx); /* records enqueued before the grace period ended */
		drained = true;
		*pp = g->next_retired;
		pthread_mutex_lock(gs->readers_lock);
		gen_free(gs, g);
		pthread_mutex_unlock(gs->readers_lock);
		n++;
	}
	return n;
}

/* ---- compile jobs ------------------------------------------------------------------- */

static long vm_data_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmData: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* How the config compiles rules; every compile of a run (start, reloads, the
 * cache probe) uses these, so their databases share cache keys. */
static struct weir_match_opts match_opts(const struct weir_gens *gs, const char *cache, FILE *diag,
					 bool strict)
{
	return (struct weir_match_opts){
		.cache_dir = cache, .diag = diag, .strict = strict,
		.block_first_match = gs->cfg->block_matches == WEIR_BLOCK_MATCHES_FIRST,
	};
}

/*
 * The child: bounded in memory (RLIMIT_DATA over what it inherits) and in
 * time (SIGALRM's default action ends it), at low priority so the main
 * lcore's core stays the main lcore's. Compiles strictly into the cache.
 */
static void __attribute__((noreturn)) compile_child(struct weir_gens *gs, struct weir_ruleset *rs,
						    FILE *diag, FILE *report)
{
	struct child_report cr = {0};
	uint64_t t = (gs->cfg->rules_compile_timeout_ns + 999999999u) / 1000000000u;
	struct rlimit rl;

	signal(SIGALRM, SIG_DFL);
	if (nice(10) < 0)
		errno = 0;
	rl.rlim_cur = rl.rlim_max = (rlim_t)vm_data_bytes() + gs->cfg->rules_compile_memory;
	setrlimit(RLIMIT_DATA, &rl);
	alarm((unsigned)t);
	struct weir_match_opts mo = match_opts(gs, gs->cache, diag, true);
	struct weir_match *m = weir_match_compile(rs, &mo, cr.err, sizeof(cr.err));
	if (m) {
		const struct weir_match_info *mi = weir_match_info(m);
		cr.compile_s = mi->compile_s;
		cr.cache_hits = mi->cache_hits;
		cr.cache_misses = mi->cache_misses;
		cr.n_rules = mi->n_rules;
	}
	fflush(diag);
	fwrite(&cr, sizeof(cr), 1, report);
	fflush(report);
	_exit(m ? 0 : 3);
}

/* The first lines the child wrote, for the error. */
static void diag_text(FILE *f, char *buf, size_t len)
{
	size_t n = 0;
	char line[512];

	buf[0] = '\0';
	rewind(f);
	while (n + 1 < len && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "; " : "", line);
	}
	buf[n < len ? n : len - 1] = '\0';
}

/* Why the child failed, into j->error. */
static void child_failed(struct weir_gens *gs, struct job *j, int status, FILE *diag, FILE *report)
{
	char text[900];

	diag_text(diag, text, sizeof(text));
	rewind(report);
	if (fread(&j->cr, sizeof(j->cr), 1, report) == 1 && j->cr.err[0] && !text[0])
		snprintf(text, sizeof(text), "%s", j->cr.err);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(j->error, sizeof(j->error),
			 "compile took longer than rules_compile_timeout (%" PRIu64 "s)",
			 gs->cfg->rules_compile_timeout_ns / 1000000000u);
	else if (WIFSIGNALED(status))
		snprintf(j->error, sizeof(j->error), "compiler died (%s): past rules_compile_memory?",
			 strsignal(WTERMSIG(status)));
	else if (strstr(text, "alloc") || strstr(text, "memory"))
		snprintf(j->error, sizeof(j->error), "compile ran out of rules_compile_memory: %s", text);
	else
		snprintf(j->error, sizeof(j->error), "%s", text[0] ? text : "compile failed");
}

/*
 * Compile rs in a child (bounded), then load what it cached and allocate
 * the workers' state: j->d, or NULL with j->error.
 */
static void compile_and_load(struct weir_gens *gs, struct job *j, struct weir_ruleset *rs)
{
	FILE *diag = tmpfile(), *report = tmpfile();
	int status = 0;
	char err[512];
	struct weir_match *m;

	/* Every database cached (an unchanged set, or one seen before): no child needed. */
	struct weir_match_opts probe = match_opts(gs, gs->cache, NULL, true);
	probe.cache_only = true;
	if ((m = weir_match_compile(rs, &probe, err, sizeof(err))) != NULL) {
		const struct weir_match_info *mi = weir_match_info(m);
		j->cr = (struct child_report){.compile_s = mi->compile_s, .cache_hits = mi->cache_hits,
					      .n_rules = mi->n_rules};
		goto built;
	}

	if (!diag || !report) {
		snprintf(j->error, sizeof(j->error), "cannot create temporary files: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(j->error, sizeof(j->error), "cannot fork the compiler: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		compile_child(gs, rs, diag, report);
	__atomic_store_n(&j->pid, pid, __ATOMIC_RELEASE);
	if (__atomic_load_n(&j->cancel, __ATOMIC_ACQUIRE))
		kill(pid, SIGKILL); /* cancelled before main could see the pid */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	__atomic_store_n(&j->pid, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&j->cancel, __ATOMIC_ACQUIRE)) {
		snprintf(j->error, sizeof(j->error), "cancelled");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		child_failed(gs, j, status, diag, report);
		goto out;
	}
	rewind(report);
	if (fread(&j->cr, sizeof(j->cr), 1, report) != 1)
		memset(&j->cr, 0, sizeof(j->cr));
	struct weir_match_opts mo = match_opts(gs, gs->cache, diag, true);
	m = weir_match_compile(rs, &mo, err, sizeof(err));
	if (!m) {
		snprintf(j->error, sizeof(j->error), "%s", err);
		goto out;
	}
built:
	j->d = rdb_new(gs, rs, m, err, sizeof(err)); /* takes rs and m */
	rs = NULL;
	if (!j->d)
		snprintf(j->error, sizeof(j->error), "%s", err);
out:
	weir_ruleset_free(rs);
	if (diag)
		fclose(diag);
	if (report)
		fclose(report);
}

static struct weir_ruleset *parse_files(struct weir_gens *gs, char **files, unsigned n, char *err,
					size_t errlen);

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* add: FILE's rules join the delta's live ones, none of them already running. */
static struct weir_ruleset *add_set(struct weir_gens *gs, struct job *j)
{
	char *files[1] = {j->files[0]};
	struct weir_ruleset *add = parse_files(gs, files, 1, j->error, sizeof(j->error));
	struct weir_ruleset *rs = j->rs;

	j->rs = NULL;
	for (unsigned i = 0; add && i < weir_ruleset_count(add); i++) {
		const struct weir_rule *r = weir_ruleset_rule(add, i);
		if (bsearch(&r->id, j->live_ids, j->n_live_ids, sizeof(uint32_t), cmp_u32)) {
			snprintf(j->error, sizeof(j->error), "%s:%u: rule %u is already loaded (remove it "
				 "first, or reload)", r->file, r->line, r->id);
			goto fail;
		}
		if (weir_ruleset_copy_rule(rs, r) < 0) {
			snprintf(j->error, sizeof(j->error), "out of memory");
			goto fail;
		}
	}
	if (add) {
		weir_ruleset_free(add);
		return rs;
	}
fail:
	weir_ruleset_free(add);
	weir_ruleset_free(rs);
	return NULL;
}

/* A copy of every rule of src (NULL when out of memory). */
static struct weir_ruleset *ruleset_dup(const struct weir_ruleset *src)
{
	struct weir_rules_opts ro = {.diag = stderr};
	struct weir_ruleset *rs = weir_ruleset_new(&ro);

	for (unsigned r = 0; rs && r < weir_ruleset_count(src); r++)
		if (weir_ruleset_copy_rule(rs, weir_ruleset_rule(src, r)) < 0) {
			weir_ruleset_free(rs);
			rs = NULL;
		}
	return rs;
}

/* The job's files parsed before and unchanged since: a copy of their rules, else NULL. */
static struct weir_ruleset *parsed_copy(struct weir_gens *gs, struct job *j)
{
	for (unsigned c = 0; c < PARSED_CACHE; c++) {
		struct parsed *p = &gs->parsed[c];
		char *files[WEIR_MAX_RULE_FILES];
		for (unsigned i = 0; i < j->n_files; i++)
			files[i] = j->files[i];
		if (!p->rs || !key_current(&p->key, j->n_files, files))
			continue;
		p->used = ++gs->parsed_clock;
		return ruleset_dup(p->rs);
	}
	return NULL;
}

/* Remember a parse (a copy; the job's set goes to its database), in the least recently used entry. */
static void parsed_keep(struct weir_gens *gs, const struct weir_ruleset *rs,
			const struct rdb_key *key)
{
	struct parsed *p = &gs->parsed[0];

	for (unsigned c = 1; c < PARSED_CACHE; c++)
		if (gs->parsed[c].used < p->used)
			p = &gs->parsed[c];
	weir_ruleset_free(p->rs);
	memset(p, 0, sizeof(*p));
	if (!(p->rs = ruleset_dup(rs)))
		return;
	p->key = *key;
	p->used = ++gs->parsed_clock;
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct weir_gens *gs = j->gs;
	struct weir_ruleset *rs = NULL;
	char *files[WEIR_MAX_RULE_FILES];

	/*
	 * Background work, on the main lcore's CPUs (never a worker's) at low
	 * priority: the main lcore goes first. The compile child inherits both.
	 */
	rte_cpuset_t main_cpus = rte_lcore_cpuset(rte_get_main_lcore());
	if (CPU_COUNT(&main_cpus))
		pthread_setaffinity_np(pthread_self(), sizeof(main_cpus), &main_cpus);
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) < 0)
		errno = 0;

	if (j->op == JOB_RELOAD) {
		for (unsigned i = 0; i < j->n_files; i++)
			files[i] = j->files[i];
		struct rdb_key *key = calloc(1, sizeof(*key));
		bool sigs = key != NULL;
		for (unsigned i = 0; sigs && i < j->n_files; i++) /* before parsing: a later change is seen */
			sigs = sig_of(j->files[i], &key->sig[i]);
		if (sigs) {
			key->n = j->n_files;
			memcpy(key->files, j->files, sizeof(key->files[0]) * j->n_files);
			j->key = key;
		} else {
			free(key);
		}
		rs = parsed_copy(gs, j);
		if (!rs && (rs = parse_files(gs, files, j->n_files, j->error, sizeof(j->error))) && sigs)
			parsed_keep(gs, rs, j->key);
	} else if (j->op == JOB_ADD) {
		rs = add_set(gs, j);
	} else {
		rs = j->rs;
		j->rs = NULL;
	}
	if (rs && !__atomic_load_n(&j->cancel, __ATOMIC_ACQUIRE))
		compile_and_load(gs, j, rs); /* takes rs */
	else
		weir_ruleset_free(rs);
	if (j->d) { /* the database remembers what it was compiled from */
		j->d->key = j->key;
		j->key = NULL;
	}
	__atomic_store_n(&j->ready, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Inputs freed, thread joined: the job keeps only what status shows. */
static void job_clear(struct job *j)
{
	weir_ruleset_free(j->rs);
	free(j->live_ids);
	free(j->key);
	j->rs = NULL;
	j->live_ids = NULL;
	j->key = NULL;
	if (j->d && !j->d->refs)
		rdb_free(j->d);
	j->d = NULL;
}

/* Start op on its thread; the inputs (j->files, j->rs, j->live_ids) are set. 0, or -1 + err. */
static int job_launch(struct weir_gens *gs, struct job *j, char *err, size_t errlen)
{
	j->gs = gs;
	j->from_gen = gs->rules_version;
	j->t0_ns = now_ns();
	j->state = JOB_COMPILING;
	int e = pthread_create(&j->thread, NULL, job_run, j);
	if (e == 0)
		return 0;
	snprintf(err, errlen, "cannot start the compile thread: %s", strerror(e));
	job_clear(j);
	j->state = JOB_FAILED;
	snprintf(j->error, sizeof(j->error), "%s", err);
	return -1;
}

/* A fresh job record of op (the previous one of its kind forgotten). */
static struct job *job_new(struct weir_gens *gs, enum job_op op)
{
	struct job *j = op == JOB_MERGE ? &gs->merge : &gs->job;

	job_clear(j);
	memset(j, 0, sizeof(*j));
	j->id = ++gs->next_job;
	j->op = op;
	return j;
}

static void job_fail(struct weir_gens *gs, struct job *j)
{
	j->state = JOB_FAILED;
	gs->st.jobs_failed++;
	fprintf(stderr, "weir: rules %s (job %u) failed, generation %u stays: %s\n", op_names[j->op],
		j->id, gs->cur ? gs->cur->id : 0, j->error);
	job_clear(j);
}

/* The thread is done: publish its database, or record why not. */
static void job_finish(struct weir_gens *gs, struct job *j)
{
	struct weir_rdb *d = j->d;
	struct weir_gen *g = NULL;
	char err[512];

	if (!j->from_spare)
		pthread_join(j->thread, NULL);
	if (!d) {
		job_fail(gs, j);
		return;
	}
	if (j->op == JOB_MERGE && gs->rules_version != j->from_gen) {
		j->state = JOB_IDLE; /* the rules changed meanwhile: merge again */
		gs->merge_pending = true;
		job_clear(j);
		return;
	}
	d->serial = ++gs->next_serial;
	d->refs++; /* ours until the generation holds it */
	g = j->op == JOB_ADD ? gen_build(gs, gs->cur->db[0], d, gs->cur, NULL, 0, err, sizeof(err))
			     : gen_build(gs, d, NULL, gs->cur, NULL, 0, err, sizeof(err));
	j->d = NULL;
	rdb_unref(gs, d);
	if (!g) {
		snprintf(j->error, sizeof(j->error), "%s", err);
		job_fail(gs, j);
		return;
	}
	publish(gs, g);
	gs->rules_version++;
	j->generation = g->id;
	j->wall_s = (double)(now_ns() - j->t0_ns) / 1e9;
	j->state = JOB_DONE;
	gs->st.jobs_ok++;
	gs->st.last_compile_s = j->cr.compile_s;
	gs->st.merges += j->op == JOB_MERGE;
	if (j->op == JOB_RELOAD) {
		gs->n_files = j->n_files;
		memcpy(gs->files, j->files, sizeof(gs->files[0]) * j->n_files);
	}
	gs->merge_pending = j->op == JOB_ADD;
	job_clear(j);
}

/* Stop a job's thread (its child killed) and wait for it. */
static void job_stop(struct job *j)
{
	if (j->state != JOB_COMPILING)
		return;
	__atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
	pid_t pid = __atomic_load_n(&j->pid, __ATOMIC_ACQUIRE);
	if (pid > 0)
		kill(pid, SIGKILL);
	pthread_join(j->thread, NULL);
	job_clear(j);
	j->state = JOB_IDLE;
}

/* Drop a merge in progress: a user's change goes first (the merge is redone after). */
static void merge_cancel(struct weir_gens *gs)
{
	if (gs->merge.state != JOB_COMPILING)
		return;
	job_stop(&gs->merge);
	gs->merge_pending = true;
}

/* The live rules of g (of database only_db, or all: -1), copied. */
static struct weir_ruleset *active_copy(const struct weir_gen *g, int only_db)
{
	struct weir_rules_opts ro = {.diag = stderr};
	struct weir_ruleset *rs = weir_ruleset_new(&ro);

	for (unsigned i = 0; rs && g && i < g->n_active; i++)
		if ((only_db < 0 || g->active[i].db == only_db) &&
		    weir_ruleset_copy_rule(rs, weir_gen_rule(g, g->active[i].db, g->active[i].idx)) < 0) {
			weir_ruleset_free(rs);
			return NULL;
		}
	return rs;
}

static void merge_start(struct weir_gens *gs)
{
	char err[256];
	struct weir_ruleset *rs = active_copy(gs->cur, -1);

	gs->merge_pending = false;
	if (!rs || weir_ruleset_count(rs) == 0) {
		weir_ruleset_free(rs); /* every rule removed: keep the generation as it is */
		return;
	}
	struct job *j = job_new(gs, JOB_MERGE);
	j->rs = rs;
	if (job_launch(gs, j, err, sizeof(err)) < 0)
		fprintf(stderr, "weir: rules merge: %s\n", err);
}

unsigned weir_gens_poll(struct weir_gens *gs, void (*drain)(void *), void *ctx)
{
	unsigned n = 0;

	if (!gs)
		return 0;
	for (struct job *j = &gs->job; j <= &gs->merge; j++)
		if (j->state == JOB_COMPILING && __atomic_load_n(&j->ready, __ATOMIC_ACQUIRE)) {
			job_finish(gs, j);
			n++;
		}
	if (gs->merge_pending && gs->job.state != JOB_COMPILING && gs->merge.state != JOB_COMPILING) {
		merge_start(gs);
		n++;
	}
	if (gs->retired)
		n += reclaim(gs, drain, ctx);
	return n;
}

/* ---- control commands --------------------------------------------------------------- */

static int busy(struct weir_gens *gs, char *err, size_t errlen)
{
	if (!gs->rules_on) {
		snprintf(err, errlen, "weir started without rules: the inspection stage is off "
				      "(start it with at least one rule file)");
		return -1;
	}
	merge_cancel(gs);
	if (gs->job.state == JOB_COMPILING) {
		snprintf(err, errlen, "rules %s (job %u) is still compiling: try again when "
			 "`rules status` shows it done", op_names[gs->job.op], gs->job.id);
		return -1;
	}
	return 0;
}

/* Rules Hyperscan rejects (skipped at start, with a "hyperscan: ..." reason). */
static unsigned hs_rejected(const struct weir_rules_stats *st)
{
	unsigned n = 0;

	for (unsigned i = 0; i < st->n_reasons; i++)
		if (strncmp(st->reason[i].name, "hyperscan", 9) == 0)
			n += st->reason[i].count;
	return n;
}

/* The first message line that refuses the set: an error, or a rule Hyperscan rejects. */
static void first_refusal(const char *text, char *err, size_t errlen)
{
	const char *pick = text;

	for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0')) {
		int n = (int)strcspn(l, "\n");
		if (memmem(l, (size_t)n, "error", 5) || memmem(l, (size_t)n, "hyperscan", 9)) {
			pick = l;
			break;
		}
	}
	snprintf(err, errlen, "%.*s", (int)strcspn(pick, "\n"), pick);
}

/*
 * Parse files into a new set, refusing invalid rules and rules Hyperscan
 * rejects (rules using keywords weir does not support are warned and left
 * out as at start, or refused under rules_strict). The messages go into err.
 */
static struct weir_ruleset *parse_files(struct weir_gens *gs, char **files, unsigned n, char *err,
					size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *diag = open_memstream(&text, &len);
	struct weir_rules_opts ro = {.strict = gs->cfg->rules_strict, .diag = diag};
	struct weir_ruleset *rs = diag ? weir_ruleset_new(&ro) : NULL;
	bool ok = rs != NULL;

	for (unsigned i = 0; ok && i < n; i++)
		ok = weir_ruleset_load(rs, files[i], WEIR_RULES_AUTO) >= 0;
	if (diag)
		fclose(diag);
	const struct weir_rules_stats *st = rs ? weir_ruleset_stats(rs) : NULL;
	if (ok && st->errors == 0 && hs_rejected(st) == 0 && weir_ruleset_count(rs) > 0) {
		if (text && text[0])
			fprintf(stderr, "%s", text); /* skip warnings, as at start */
		free(text);
		return rs;
	}
	if (text && text[0]) {
		first_refusal(text, err, errlen);
	} else if (rs && weir_ruleset_count(rs) == 0) {
		snprintf(err, errlen, "no rule loaded from %u file%s", n, n == 1 ? "" : "s");
	} else {
		snprintf(err, errlen, "%s: rules not loaded", n ? files[0] : "?");
	}
	free(text);
	weir_ruleset_free(rs);
	return NULL;
}

static void job_json(const struct job *j, json_t *o)
{
	json_object_set_new(o, "id", json_integer(j->id));
	json_object_set_new(o, "op", json_string(op_names[j->op]));
	json_object_set_new(o, "state", json_string(state_names[j->state]));
	if (j->state == JOB_FAILED)
		json_object_set_new(o, "error", json_string(j->error));
	if (j->state == JOB_DONE) {
		json_object_set_new(o, "generation", json_integer(j->generation));
		json_object_set_new(o, "compile_s", json_real(j->cr.compile_s));
		json_object_set_new(o, "wall_s", json_real(j->wall_s));
		json_object_set_new(o, "rules", json_integer(j->cr.n_rules));
		json_object_set_new(o, "cache_hits", json_integer(j->cr.cache_hits));
		json_object_set_new(o, "cache_misses", json_integer(j->cr.cache_misses));
		json_object_set_new(o, "reused", json_boolean(j->from_spare));
	}
}

void weir_gens_status_json(const struct weir_gens *gs, json_t *r)
{
	const struct weir_gen *g = gs ? gs->cur : NULL;
	json_object_set_new(r, "generation", json_integer(weir_gens_id(gs)));
	json_object_set_new(r, "rules", json_integer(g ? g->n_active : 0));
	json_object_set_new(r, "delta", json_boolean(g && g->db[1]));
	if (!gs || gs->job.id == 0) {
		json_object_set_new(r, "job", json_null());
	} else {
		json_t *o = json_object();
		job_json(&gs->job, o);
		json_object_set_new(r, "job", o);
	}
	json_object_set_new(r, "merge",
			    json_string(!gs ? "idle"
					: gs->merge.state == JOB_COMPILING ? "compiling"
					: gs->merge_pending ? "pending" : "idle"));
	json_object_set_new(r, "merges", json_integer(gs ? (json_int_t)gs->st.merges : 0));
	if (gs && gs->merge.id && gs->merge.state != JOB_IDLE) {
		json_t *o = json_object();
		job_json(&gs->merge, o);
		json_object_set_new(r, "merge_job", o);
	}
}

int weir_gens_reload(struct weir_gens *gs, char **files, unsigned n, json_t *resp, char *err,
		     size_t errlen)
{
	char *cur_files[WEIR_MAX_RULE_FILES];

	if (busy(gs, err, errlen) < 0)
		return -1;
	if (n > WEIR_MAX_RULE_FILES) {
		snprintf(err, errlen, "more than %u rule files", WEIR_MAX_RULE_FILES);
		return -1;
	}
	if (!n) {
		for (unsigned i = 0; i < gs->n_files; i++)
			cur_files[i] = gs->files[i];
		files = cur_files;
		n = gs->n_files;
	}
	for (unsigned i = 0; i < n; i++)
		if (strlen(files[i]) >= WEIR_PATH_MAX) {
			snprintf(err, errlen, "%.64s...: path too long", files[i]);
			return -1;
		}
	struct job *j = job_new(gs, JOB_RELOAD);
	j->n_files = n;
	for (unsigned i = 0; i < n; i++)
		snprintf(j->files[i], WEIR_PATH_MAX, "%s", files[i]);
	j->t0_ns = now_ns();
	if ((j->d = spare_take(gs, n, files)) != NULL) {
		/* the set ran before and is still compiled: publish it now */
		j->from_spare = true;
		j->cr.n_rules = weir_match_info(j->d->match)->n_rules;
		j->state = JOB_COMPILING;
		job_finish(gs, j);
		weir_gens_status_json(gs, resp);
		return 0;
	}
	if (job_launch(gs, j, err, errlen) < 0)
		return -1;
	weir_gens_status_json(gs, resp);
	return 0;
}

int weir_gens_add(struct weir_gens *gs, const char *file, json_t *resp, char *err, size_t errlen)
{
	if (busy(gs, err, errlen) < 0)
		return -1;
	if (strlen(file) >= WEIR_PATH_MAX) {
		snprintf(err, errlen, "%.64s...: path too long", file);
		return -1;
	}
	const struct weir_gen *g = gs->cur;
	struct job *j = job_new(gs, JOB_ADD);
	j->n_files = 1;
	snprintf(j->files[0], WEIR_PATH_MAX, "%s", file);
	j->rs = active_copy(g, 1);
	j->live_ids = malloc(sizeof(uint32_t) * (g->n_active ? g->n_active : 1));
	if (!j->rs || !j->live_ids) {
		job_clear(j);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned a = 0; a < g->n_active; a++)
		j->live_ids[j->n_live_ids++] = weir_gen_rule(g, g->active[a].db, g->active[a].idx)->id;
	qsort(j->live_ids, j->n_live_ids, sizeof(uint32_t), cmp_u32);
	if (job_launch(gs, j, err, errlen) < 0)
		return -1;
	weir_gens_status_json(gs, resp);
	return 0;
}

int weir_gens_remove(struct weir_gens *gs, unsigned n, const uint32_t *ids, json_t *resp,
		     char *err, size_t errlen)
{
	if (busy(gs, err, errlen) < 0)
		return -1;
	const struct weir_gen *g = gs->cur;
	for (unsigned i = 0; i < n; i++) {
		bool found = false;
		for (unsigned a = 0; a < g->n_active && !found; a++)
			found = weir_gen_rule(g, g->active[a].db, g->active[a].idx)->id == ids[i];
		if (!found) {
			snprintf(err, errlen, "no rule %u in generation %u", ids[i], g->id);
			return -1;
		}
	}
	struct weir_gen *ng = gen_build(gs, g->db[0], g->db[1], g, ids, n, err, errlen);
	if (!ng)
		return -1;
	publish(gs, ng);
	gs->rules_version++;
	gs->merge_pending = true;
	weir_gens_status_json(gs, resp);
	return 0;
}

/* ---- set-up ------------------------------------------------------------------------- */

static void make_dirs(char *path)
{
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	mkdir(path, 0700);
}

/* The compiled-database cache: rules_cache, "auto" under the user's cache dir, or a private one. */
static int cache_dir(struct weir_gens *gs, char *err, size_t errlen)
{
	const char *c = gs->cfg->rules_cache, *base = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (c[0] && strcmp(c, "off") != 0 && strcmp(c, "auto") != 0)
		snprintf(gs->cache, sizeof(gs->cache), "%s", c);
	else if (strcmp(c, "auto") == 0 && base && base[0] == '/')
		snprintf(gs->cache, sizeof(gs->cache), "%s/weir/hs", base);
	else if (strcmp(c, "auto") == 0 && home && home[0] == '/')
		snprintf(gs->cache, sizeof(gs->cache), "%s/.cache/weir/hs", home);
	if (gs->cache[0]) {
		make_dirs(gs->cache);
		return 0;
	}
	/* No cache: compile children still hand databases over through one. */
	snprintf(gs->cache, sizeof(gs->cache), "/tmp/weir-hs-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(gs->cache)) {
		snprintf(err, errlen, "cannot create a directory for compiled rules: %s", strerror(errno));
		return -1;
	}
	gs->cache_private = true;
	return 0;
}

/* Rules at start: every file loaded (problems on stderr), compiled here, once. */
static int load_initial(struct weir_gens *gs, char *err, size_t errlen)
{
	const struct weir_config *cfg = gs->cfg;
	struct weir_rules_opts ro = {.strict = cfg->rules_strict, .diag = stderr};
	struct weir_ruleset *rs = weir_ruleset_new(&ro);

	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < cfg->n_rules; i++)
		if (weir_ruleset_load(rs, cfg->rules[i], WEIR_RULES_AUTO) < 0) {
			snprintf(err, errlen, "%s: rules not loaded (see above)", cfg->rules[i]);
			goto fail;
		}
	if (weir_ruleset_count(rs) == 0) {
		snprintf(err, errlen, "no rule loaded from %u file%s", cfg->n_rules,
			 cfg->n_rules == 1 ? "" : "s");
		goto fail;
	}
	struct weir_match_opts mo = match_opts(gs, gs->cache_private ? NULL : gs->cache, stderr,
					       cfg->rules_strict);
	struct weir_match *m = weir_match_compile(rs, &mo, err, errlen);
	if (!m)
		goto fail;
	gs->st.last_compile_s = weir_match_info(m)->compile_s;
	struct weir_rdb *d = rdb_new(gs, rs, m, err, errlen);
	if (!d)
		return -1;
	d->serial = ++gs->next_serial;
	d->refs++;
	struct weir_gen *g = gen_build(gs, d, NULL, NULL, NULL, 0, err, errlen);
	rdb_unref(gs, d);
	if (!g)
		return -1;
	publish(gs, g);
	return 0;
fail:
	weir_ruleset_free(rs);
	return -1;
}

static struct weir_gen *published_gen;

struct weir_gen **weir_gens_published(struct weir_gens *gs)
{
	(void)gs; /* one pipeline per process */
	return &published_gen;
}

struct weir_gens *weir_gens_new(const struct weir_config *cfg, unsigned n_workers,
				const struct weir_window_view *view, const struct weir_query_filters *qf,
				pthread_mutex_t *readers_lock, char *err, size_t errlen)
{
	struct weir_gens *gs = calloc(1, sizeof(*gs));

	if (!gs) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	gs->cfg = cfg;
	gs->n_workers = n_workers;
	gs->flows = weir_inspect_flows_wanted(cfg);
	gs->readers_lock = readers_lock;
	gs->view0 = *view;
	gs->qf0 = *qf;
	gs->job.state = gs->merge.state = JOB_IDLE;
	gs->n_files = cfg->n_rules;
	memcpy(gs->files, cfg->rules, sizeof(gs->files[0]) * cfg->n_rules);
	gs->rules_on = cfg->n_rules > 0;
	if (!gs->rules_on) {
		struct weir_gen *g = gen_build(gs, NULL, NULL, NULL, NULL, 0, err, errlen);
		if (!g) {
			weir_gens_free(gs);
			return NULL;
		}
		publish(gs, g);
		return gs;
	}
	if (slots_init(gs) < 0) {
		snprintf(err, errlen, "cannot allocate rule counters (rules_max %u)", cfg->rules_max);
		weir_gens_free(gs);
		return NULL;
	}
	if (cache_dir(gs, err, errlen) < 0 || load_initial(gs, err, errlen) < 0) {
		weir_gens_free(gs);
		return NULL;
	}
	return gs;
}

void weir_gens_free(struct weir_gens *gs)
{
	if (!gs)
		return;
	job_stop(&gs->merge);
	job_stop(&gs->job);
	job_clear(&gs->job);
	job_clear(&gs->merge);
	for (unsigned c = 0; c < PARSED_CACHE; c++)
		weir_ruleset_free(gs->parsed[c].rs);
	rcu_barrier(); /* every grace_done has run */
	reclaim(gs, NULL, NULL);
	rcu_assign_pointer(published_gen, NULL);
	gen_free(gs, gs->cur);
	if (gs->cache_private)
		weir_remove_dir(gs->cache); /* the private handover folder: database files only */
	for (unsigned i = 0; i < RDB_SPARES; i++) /* the generations above may have added some */
		rdb_free(gs->spare[i]);
	for (unsigned w = 0; w < WEIR_MAX_WORKERS; w++)
		rte_free(gs->rc[w]);
	free(gs->map);
	free(gs->slot_refs);
	free(gs->slot_free);
	free(gs);
}

uint32_t weir_gens_id(const struct weir_gens *gs)
{
	return gs && gs->cur ? gs->cur->id : 1;
}

uint32_t weir_gens_oldest_id(const struct weir_gens *gs)
{
	uint32_t id = gs->cur ? gs->cur->id : 0;

	for (const struct weir_gen *g = gs->retired; g; g = g->next_retired)
		if (g->id < id)
			id = g->id;
	return id;
}

int weir_gens_publish_queries(struct weir_gens *gs, const struct weir_window_view *view,
			      const struct weir_query_filters *qf, char *err, size_t errlen)
{
	const struct weir_gen *c = gs->cur;
	struct weir_gen *g = gen_build(gs, c->db[0], c->db[1], c, NULL, 0, err, errlen);

	if (!g)
		return -1;
	g->view = *view;
	g->qf = *qf;
	publish(gs, g);
	return 0;
}

const struct weir_gen *weir_gens_current(const struct weir_gens *gs)
{
	return gs ? gs->cur : NULL;
}

const struct weir_gen *weir_gens_find(const struct weir_gens *gs, uint32_t id)
{
	if (!gs)
		return NULL;
	if (gs->cur && gs->cur->id == id)
		return gs->cur;
	for (const struct weir_gen *g = gs->retired; g; g = g->next_retired)
		if (g->id == id)
			return g;
	return NULL;
}

struct weir_rule_counters *weir_gens_counters(struct weir_gens *gs, unsigned w)
{
	return gs && w < gs->n_workers ? gs->rc[w] : NULL;
}

const struct weir_gens_stats *weir_gens_stats(const struct weir_gens *gs)
{
	return &gs->st;
}
