/* SPDX-License-Identifier: BSD-3-Clause
 *
 * EAL start-up: the argument vector weir builds for rte_eal_init.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "weir_flow.h"
#include "weir_inspect.h"
#include "weir_io.h"
#include "weir_port.h"
#include "weir_window.h"

#define MAX_ARGS 128

static char runtime_dir[WEIR_PATH_MAX]; /* removed at stop */
static char file_prefix[64];           /* ours ("weir-PID"); "" when the user gave one */

struct argv_buf {
	char *argv[MAX_ARGS];
	int argc;
	char store[8192];
	size_t used;
};

static int push(struct argv_buf *a, const char *s)
{
	size_t n = strlen(s) + 1;

	if (a->argc >= MAX_ARGS - 1 || a->used + n > sizeof(a->store))
		return -1;
	a->argv[a->argc++] = memcpy(a->store + a->used, s, n);
	a->used += n;
	a->argv[a->argc] = NULL;
	return 0;
}

/* Split the user's extra EAL arguments on blanks (no quoting: EAL args have no spaces). */
static int push_words(struct argv_buf *a, const char *s)
{
	char word[WEIR_PATH_MAX];

	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strcspn(s, " \t");
		if (n == 0)
			break;
		if (n >= sizeof(word) || (snprintf(word, sizeof(word), "%.*s", (int)n, s), push(a, word) < 0))
			return -1;
		s += n;
	}
	return 0;
}

static bool user_gave(const struct weir_config *cfg, const char *opt)
{
	return strstr(cfg->eal_args, opt) != NULL;
}

/* Free hugepage bytes of the default size, from /proc/meminfo. */
static uint64_t hugepages_free_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t free_pages = 0, size_kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			free_pages = v;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			size_kb = v;
	}
	fclose(f);
	return free_pages * size_kb * 1024;
}

/*
 * Hugepage memory a run needs: mempools, window shards and flow combiners, flow tables and
 * stream states (an upper bound; allocation happens once at start).
 */
static uint64_t memory_estimate(const struct weir_config *cfg)
{
	uint64_t sum = weir_ports_memory_estimate(cfg);
	char err[256];

	for (unsigned i = 0; i < cfg->n_queries; i++) {
		struct weir_query q;
		if (weir_query_compile(&q, &cfg->queries[i], i, err, sizeof(err)) == 0)
			sum += (uint64_t)weir_table_size(&q, cfg->queries[i].max_keys) *
			       WEIR_WINDOW_SHARDS * cfg->workers;
	}
	sum += weir_window_combiner_memory(cfg->combine_flows) * cfg->workers;
	/* rte_lpm's tbl24 (64 MiB) and rte_lpm6's (a few MiB), when a family is in the file */
	if (cfg->labels[0])
		sum += 80ull << 20;
	/* DNS tables: capacity rounded up to a power of two, 48-byte slots, per worker */
	sum += (uint64_t)rte_align32pow2(cfg->dns_capacity) * 48 * cfg->workers;
	if (weir_inspect_wanted(cfg)) {
		struct weir_flow_conf fc;
		weir_flow_conf_default(&fc);
		fc.capacity = cfg->flows.capacity;
		if (cfg->flows.ooo_slots)
			fc.ooo_slots = cfg->flows.ooo_slots;
		/* stream states: our 24-byte handle plus Hyperscan's state (a few hundred bytes) */
		sum += (weir_flow_table_memory(&fc) + (uint64_t)cfg->flows.streams * 2 * 512 +
			((uint64_t)1 << 20)) * cfg->workers;
	}
	return sum;
}

int weir_needs_distributor(const struct weir_config *cfg)
{
	if (cfg->workers <= 1)
		return 0;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (weir_port_queues(&cfg->ports[i], cfg->workers) < cfg->workers)
			return 1;
	return 0;
}

/* "-l 0-N" when each lcore gets a CPU, else all lcores floating over the CPUs we may use. */
static int push_lcores(struct argv_buf *a, unsigned n_lcores)
{
	cpu_set_t set;
	char spec[64];
	unsigned n_cpus = 0, cpus[CPU_SETSIZE];

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (unsigned c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				cpus[n_cpus++] = c;
	if (n_cpus == 0)
		cpus[n_cpus++] = 0;
	if (n_lcores <= n_cpus) {
		char list[512] = "";
		for (unsigned i = 0; i < n_lcores; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%u@%u",
				 i ? "," : "", i, cpus[i]);
		return push(a, "--lcores") | push(a, list);
	}
	/* Oversubscribed (2-core machines): lcores share CPUs, idle ones yield. */
	snprintf(spec, sizeof(spec), "(0-%u)@(%u-%u)", n_lcores - 1, cpus[0], cpus[n_cpus - 1]);
	return push(a, "--lcores") | push(a, spec);
}

/*
 * EAL creates the runtime folder while it parses its arguments, so a run
 * whose EAL arguments are refused (say --in-memory with --legacy-mem) would
 * leave an empty weir-PID folder behind: remove it when the name is ours.
 */
static void remove_failed_runtime_dir(const struct weir_config *cfg)
{
	const char *dir = rte_eal_get_runtime_dir();
	const char *base = dir ? strrchr(dir, '/') : NULL;

	if (!user_gave(cfg, "--file-prefix") && file_prefix[0] && base &&
	    strcmp(base + 1, file_prefix) == 0)
		weir_remove_dir(dir);
}

int weir_eal_start(const struct weir_config *cfg, const char *prog, char *err, size_t errlen)
{
	static struct argv_buf a;
	unsigned n_lcores = 1 + cfg->workers + (weir_needs_distributor(cfg) ? 1 : 0);
	uint64_t need = memory_estimate(cfg) + ((uint64_t)256 << 20);
	char buf[128];
	int rc = 0;

	memset(&a, 0, sizeof(a));
	rc |= push(&a, prog);
	if (!user_gave(cfg, "--lcores") && !user_gave(cfg, "-l ") && !user_gave(cfg, "-c "))
		rc |= push_lcores(&a, n_lcores);
	/* Never probe the machine's own NIC unless the config allow-lists devices. */
	unsigned n_pci = 0;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		for (unsigned k = 0; k < cfg->ports[i].n_pci; k++, n_pci++)
			rc |= push(&a, "-a") | push(&a, cfg->ports[i].pci[k]);
	if (n_pci == 0 && !user_gave(cfg, "-a ") && !user_gave(cfg, "--allow"))
		rc |= push(&a, "--no-pci");
	/*
	 * A per-process prefix keeps runs apart and names the runtime folder
	 * that holds the telemetry socket (dpdk-telemetry.py -f weir-PID),
	 * with --in-memory too (it then holds nothing else).
	 */
	if (!user_gave(cfg, "--file-prefix"))
		snprintf(file_prefix, sizeof(file_prefix), "weir-%d", (int)getpid());
	if (!user_gave(cfg, "--no-huge") && !user_gave(cfg, "--in-memory") &&
	    !user_gave(cfg, "--file-prefix")) {
		if (hugepages_free_bytes() >= need) {
			rc |= push(&a, "--in-memory");
		} else {
			fprintf(stderr, "weir: warning: fewer than %llu MiB of free hugepages, running with --no-huge (slower)\n",
				(unsigned long long)(need >> 20));
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(need >> 20));
			/* --in-memory does not combine with --no-huge */
			rc |= push(&a, "--no-huge") | push(&a, "-m") | push(&a, buf) | push(&a, "--no-shconf");
		}
	}
	if (file_prefix[0])
		rc |= push(&a, "--file-prefix") | push(&a, file_prefix);
	if (!user_gave(cfg, "--log-level"))
		rc |= push(&a, "--log-level=lib.eal:error") | push(&a, "--log-level=lib.telemetry:error");
	/* Telemetry stays on (weir registers /weir/... commands) unless the user says otherwise. */
	rc |= push_words(&a, cfg->eal_args);
	if (rc) {
		snprintf(err, errlen, "EAL arguments too long");
		return -1;
	}
	if (getenv("WEIR_DEBUG_EAL")) {
		for (int i = 0; i < a.argc; i++)
			fprintf(stderr, "%s ", a.argv[i]);
		fputc('\n', stderr);
	}
	if (rte_eal_init(a.argc, a.argv) < 0) {
		snprintf(err, errlen, "EAL init failed: %s", rte_strerror(rte_errno));
		remove_failed_runtime_dir(cfg);
		return -1;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

const char *weir_eal_file_prefix(void)
{
	return file_prefix;
}

void weir_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[WEIR_PATH_MAX + 300];

	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

void weir_eal_stop(void)
{
	rte_eal_cleanup();
	/*
	 * A --file-prefix run leaves its runtime folder behind (the telemetry
	 * sockets, and a --no-huge run's config and fbarray files): the folder
	 * is this process's own (weir-PID), so all of it goes (don't litter).
	 */
	if (runtime_dir[0] && file_prefix[0])
		weir_remove_dir(runtime_dir);
}
