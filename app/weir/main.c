/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir: the appliance's command line.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "weir_build.h"
#include "weir_conf.h"
#include "weir_io.h"
#include "weir_match.h"

#define EXIT_USAGE 2

static volatile sig_atomic_t stop_requested;
static struct itimerval pending_alarm;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage_main(FILE *f)
{
	fprintf(f,
		"weir %s: line-rate packet stream analytics on DPDK ports\n"
		"\n"
		"usage: weir COMMAND [OPTIONS]\n"
		"\n"
		"commands:\n"
		"  run       read packets from ports or pcap files, run the queries and rules, write\n"
		"            window results and alerts as JSON lines and print a summary (weir run --help)\n"
		"  rules     rules check FILE...: load and compile rule files, report what loaded,\n"
		"            what was skipped and why, compile time and database sizes\n"
		"  version   print the version\n"
		"\n"
		"weir --help | weir COMMAND --help\n",
		WEIR_VERSION);
}

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: weir run [--config FILE] [--pcap FILE]... [--port DEVARGS]... [--profile NAME|FILE]\n"
		"                [--rules FILE]... [--strict]\n"
		"                [--workers N] [--out PATH|-] [--eal \"EXTRA EAL ARGS\"] [--layer outer|inner]\n"
		"                [--duration SECONDS] [--sample] [--no-summary] [--control SOCKET]\n"
		"                [--metrics ADDR:PORT] [--checkpoint-dir DIR] [--restore latest|FILE]\n"
		"                [--inline A:B]...\n"
		"\n"
		"  --config FILE     YAML configuration (queries, ports, knobs); see README.md.\n"
		"                    Without it the bundled queries run: hostpairs, protocols, totals\n"
		"                    (60 s tumbling windows).\n"
		"  --pcap FILE       read a capture (pcap or pcapng) through DPDK's net_pcap driver, with\n"
		"                    the capture's timestamps as event time. Repeatable. weir exits once\n"
		"                    every capture is read and every window is flushed.\n"
		"  --port DEVARGS    open a DPDK port: a vdev (\"net_null0\", \"net_memif0,role=server\",\n"
		"                    \"net_af_packet0,iface=veth0\") or a PCI address (must be allow-listed\n"
		"                    by its profile). Repeatable. Live ports run until SIGINT/SIGTERM.\n"
		"  --profile P       pmd-config profile for the --port ports (name in %s\n"
		"                    or a path); default: picked from the driver name.\n"
		"  --rules FILE      payload rules: Suricata subset (.rules), weir's native YAML\n"
		"                    (.yaml) or Hyperscan ID:/regex/flags lines. Repeatable. Matches\n"
		"                    become alerts and the `rule` group-by field (rules/README.md).\n"
		"  --strict          a rule that is skipped or invalid fails the start.\n"
		"  --workers N       worker lcores (default 1). Single-queue ports (pcap, memif) get a\n"
		"                    distributor lcore that spreads flows over the workers.\n"
		"  --out PATH|-      JSON-lines output (default weir-out.jsonl; - = stdout, summary\n"
		"                    then goes to stderr).\n"
		"  --eal \"ARGS\"      extra EAL arguments (weir adds --no-pci, --in-memory or --no-huge,\n"
		"                    --file-prefix weir-PID and --lcores unless given here).\n"
		"  --layer L         analysis layer for tunnelled traffic: outer (default) or inner.\n"
		"  --duration S      stop after S seconds of wall time (live ports, benchmarks), as on\n"
		"                    SIGTERM: windows are flushed and stats written.\n"
		"  --sample          run on the bundled sample capture (tests/data/sample.pcap).\n"
		"  --no-summary      do not print the human summary.\n"
		"  --control SOCKET  serve the control socket (JSON lines, mode 0600) at this path for\n"
		"                    weirctl (status, stats, rules reload/add/remove/list, query\n"
		"                    add/remove/list, windows show, shutdown, ...). Off by default;\n"
		"                    config key control_socket. SIGHUP re-reads the config file and\n"
		"                    reloads its rules (as `weirctl rules reload` does).\n"
		"  --metrics A:P     serve Prometheus metrics (GET /metrics) on ADDR:PORT, [IPV6]:PORT,\n"
		"                    or PORT alone (127.0.0.1). Off by default; config metrics: {listen}.\n"
		"                    DPDK telemetry (/weir/stats, /weir/rules, /weir/queries,\n"
		"                    /weir/status) is always on: dpdk-telemetry.py -f weir-PID.\n"
		"  --checkpoint-dir DIR  write checkpoints of the window state there (config\n"
		"                    checkpoint: {dir, interval, every_packets, keep}; default every\n"
		"                    60 s and on `weirctl snapshot`).\n"
		"  --restore R       start from a checkpoint: `latest` (the newest valid one in the\n"
		"                    checkpoint directory; none there = a fresh start) or a file.\n"
		"                    Capture ports resume right after the packets the checkpoint had\n"
		"                    read, and the output file is cut back to what it had committed,\n"
		"                    so the results equal those of an uninterrupted run.\n"
		"  --inline A:B      inline mode: packets received on port A (0-based, in the order the\n"
		"                    config's ports and then --pcap/--port give them) are sent out on\n"
		"                    port B after processing, and B's on A. Repeatable; config key\n"
		"                    inline: [\"A:B\"]. A packet matching a rule with action drop is\n"
		"                    not sent on, nor are the later packets of its flow (counted under\n"
		"                    inline.dropped.rule); a full tx queue drops (inline.dropped.tx-full).\n"
		"                    Idle workers spin rather than sleep (for latency) when each has a\n"
		"                    CPU of its own.\n"
		"\n"
		"Exit status: 0 done, 1 runtime failure, 2 bad input (options, config, capture, port).\n",
		weir_pmd_config_dir());
}

struct cli {
	const char *config;
	const char *profile;
	const char *pcaps[WEIR_MAX_PORTS];
	const char *ports[WEIR_MAX_PORTS];
	unsigned n_pcaps, n_ports, n_rules;
	const char *rules[WEIR_MAX_RULE_FILES];
	const char *inline_pairs[WEIR_MAX_PORTS];
	unsigned n_inline;
	bool strict;
	long workers;
	double duration;
	const char *out, *eal, *layer, *control, *metrics, *ckpt_dir, *restore;
	bool sample, no_summary;
};

static int parse_run_args(int argc, char **argv, struct cli *c)
{
	enum { O_CONFIG = 256, O_PCAP, O_PORT, O_PROFILE, O_WORKERS, O_OUT, O_EAL, O_LAYER,
	       O_SAMPLE, O_NO_SUMMARY, O_DURATION, O_RULES, O_STRICT, O_CONTROL, O_METRICS, O_CKPT_DIR, O_RESTORE, O_INLINE, O_HELP };
	static const struct option opts[] = {
		{"config", required_argument, NULL, O_CONFIG},
		{"pcap", required_argument, NULL, O_PCAP},
		{"port", required_argument, NULL, O_PORT},
		{"profile", required_argument, NULL, O_PROFILE},
		{"workers", required_argument, NULL, O_WORKERS},
		{"out", required_argument, NULL, O_OUT},
		{"eal", required_argument, NULL, O_EAL},
		{"layer", required_argument, NULL, O_LAYER},
		{"sample", no_argument, NULL, O_SAMPLE},
		{"no-summary", no_argument, NULL, O_NO_SUMMARY},
		{"duration", required_argument, NULL, O_DURATION},
		{"rules", required_argument, NULL, O_RULES},
		{"strict", no_argument, NULL, O_STRICT},
		{"control", required_argument, NULL, O_CONTROL},
		{"metrics", required_argument, NULL, O_METRICS},
		{"checkpoint-dir", required_argument, NULL, O_CKPT_DIR},
		{"restore", required_argument, NULL, O_RESTORE},
		{"inline", required_argument, NULL, O_INLINE},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	int o;
	char *end;

	c->workers = -1;
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_CONFIG: c->config = optarg; break;
		case O_PROFILE: c->profile = optarg; break;
		case O_OUT: c->out = optarg; break;
		case O_EAL: c->eal = optarg; break;
		case O_LAYER: c->layer = optarg; break;
		case O_CONTROL: c->control = optarg; break;
		case O_METRICS: c->metrics = optarg; break;
		case O_CKPT_DIR: c->ckpt_dir = optarg; break;
		case O_RESTORE: c->restore = optarg; break;
		case O_SAMPLE: c->sample = true; break;
		case O_NO_SUMMARY: c->no_summary = true; break;
		case O_PCAP:
		case O_PORT:
			if (c->n_pcaps + c->n_ports >= WEIR_MAX_PORTS) {
				fprintf(stderr, "weir: at most %d ports\n", WEIR_MAX_PORTS);
				return -1;
			}
			if (o == O_PCAP)
				c->pcaps[c->n_pcaps++] = optarg;
			else
				c->ports[c->n_ports++] = optarg;
			break;
		case O_WORKERS:
			c->workers = strtol(optarg, &end, 10);
			if (*end || c->workers < 1 || c->workers > WEIR_MAX_WORKERS) {
				fprintf(stderr, "weir: --workers: '%s' is not a number from 1 to %d\n",
					optarg, WEIR_MAX_WORKERS);
				return -1;
			}
			break;
		case O_RULES:
			if (c->n_rules >= WEIR_MAX_RULE_FILES) {
				fprintf(stderr, "weir: at most %d rule files\n", WEIR_MAX_RULE_FILES);
				return -1;
			}
			c->rules[c->n_rules++] = optarg;
			break;
		case O_STRICT: c->strict = true; break;
		case O_INLINE:
			if (c->n_inline >= WEIR_MAX_PORTS) {
				fprintf(stderr, "weir: at most %d --inline pairs\n", WEIR_MAX_PORTS);
				return -1;
			}
			c->inline_pairs[c->n_inline++] = optarg;
			break;
		case O_DURATION:
			c->duration = strtod(optarg, &end);
			if (*end || !(c->duration > 0) || c->duration > 1e7) {
				fprintf(stderr, "weir: --duration: '%s' is not a positive number of seconds\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
		case O_HELP:
			usage_run(stdout);
			exit(0);
		default:
			fprintf(stderr, "weir: see 'weir run --help'\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "weir: unexpected argument '%s' (see 'weir run --help')\n", argv[optind]);
		return -1;
	}
	return 0;
}

static int copy_str(char *dst, size_t len, const char *src, const char *what)
{
	if (strlen(src) >= len) {
		fprintf(stderr, "weir: %s too long\n", what);
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

/* Defaults, then the config file, then the command line. */
static int build_config(struct weir_config *cfg, const struct cli *c)
{
	char err[1024];
	char sample[WEIR_PATH_MAX];

	weir_config_defaults(cfg);
	if (c->config && weir_config_load(cfg, c->config, err, sizeof(err)) < 0)
		goto bad;
	if (c->workers > 0)
		cfg->workers = (unsigned)c->workers;
	if (c->out && copy_str(cfg->out, sizeof(cfg->out), c->out, "--out") < 0)
		return -1;
	if (c->eal && copy_str(cfg->eal_args, sizeof(cfg->eal_args), c->eal, "--eal") < 0)
		return -1;
	if (c->control && copy_str(cfg->control_socket, sizeof(cfg->control_socket), c->control,
				   "--control") < 0)
		return -1;
	if (c->ckpt_dir && copy_str(cfg->checkpoint.dir, sizeof(cfg->checkpoint.dir), c->ckpt_dir,
				    "--checkpoint-dir") < 0)
		return -1;
	if (c->restore && copy_str(cfg->restore, sizeof(cfg->restore), c->restore, "--restore") < 0)
		return -1;
	if (!strcmp(cfg->restore, "latest") && !cfg->checkpoint.dir[0]) {
		fprintf(stderr, "weir: --restore latest: no checkpoint directory (give --checkpoint-dir "
				"or checkpoint: {dir} in the config)\n");
		return -1;
	}
	if (c->metrics && weir_config_set_metrics(cfg, c->metrics, err, sizeof(err)) < 0) {
		fprintf(stderr, "weir: --metrics: %s\n", err);
		return -1;
	}
	if (c->no_summary)
		cfg->summary = false;
	if (c->strict)
		cfg->rules_strict = true;
	for (unsigned i = 0; i < c->n_rules; i++)
		if (weir_config_add_rules(cfg, c->rules[i], err, sizeof(err)) < 0)
			goto bad;
	if (c->layer) {
		if (strcmp(c->layer, "outer") == 0)
			cfg->layer = WEIR_PKT_OUTER;
		else if (strcmp(c->layer, "inner") == 0)
			cfg->layer = WEIR_PKT_INNER;
		else {
			fprintf(stderr, "weir: --layer: '%s' is not outer or inner\n", c->layer);
			return -1;
		}
	}
	if (c->sample) {
		const char *dir = getenv("WEIR_SOURCE_DIR") ? getenv("WEIR_SOURCE_DIR") : WEIR_SOURCE_DIR;
		snprintf(sample, sizeof(sample), "%s/tests/data/sample.pcap", dir);
		if (weir_config_add_pcap(cfg, sample, err, sizeof(err)) < 0)
			goto bad;
	}
	for (unsigned i = 0; i < c->n_pcaps; i++)
		if (weir_config_add_pcap(cfg, c->pcaps[i], err, sizeof(err)) < 0)
			goto bad;
	for (unsigned i = 0; i < c->n_ports; i++)
		if (weir_config_add_port(cfg, c->ports[i], c->profile, err, sizeof(err)) < 0)
			goto bad;
	for (unsigned i = 0; i < c->n_inline; i++)
		if (weir_config_add_inline(cfg, c->inline_pairs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "weir: --inline: %s\n", err);
			return -1;
		}
	return 0;
bad:
	fprintf(stderr, "weir: %s\n", err);
	return -1;
}

static int cmd_run(int argc, char **argv)
{
	static struct weir_config cfg; /* large: keep it off the stack */
	struct cli c;
	char err[512];
	struct sigaction sa;

	memset(&c, 0, sizeof(c));
	if (parse_run_args(argc, argv, &c) < 0 || build_config(&cfg, &c) < 0)
		return EXIT_USAGE;
	if (cfg.n_ports == 0) {
		fprintf(stderr, "weir: nothing to read: give --pcap FILE, --port DEVARGS, --sample, "
				"or ports: in the config\n");
		return EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND; /* a second signal ends weir at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (c.duration > 0) {
		/* SIGALRM ends the run like SIGTERM does, after the EAL is up. */
		struct itimerval it = {.it_value = {.tv_sec = (time_t)c.duration,
			.tv_usec = (suseconds_t)((c.duration - (time_t)c.duration) * 1e6)}};
		sa.sa_flags = 0;
		sigaction(SIGALRM, &sa, NULL);
		pending_alarm = it;
	}

	if (weir_eal_start(&cfg, "weir", err, sizeof(err)) < 0) {
		fprintf(stderr, "weir: %s\n", err);
		return 1;
	}
	if (c.duration > 0)
		setitimer(ITIMER_REAL, &pending_alarm, NULL);
	int status = weir_run(&cfg, &stop_requested);
	weir_eal_stop();
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage_main(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("weir %s\n", WEIR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "rules") == 0) {
		if (argc >= 3 && strcmp(argv[2], "check") == 0)
			return weir_rules_check_main(argc - 2, argv + 2);
		fprintf(stderr, "usage: weir rules check [--strict] [--quiet] [--cache-dir DIR]"
				" [--block-matches first|every] FILE...\n");
		return argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)
			       ? 0 : EXIT_USAGE;
	}
	fprintf(stderr, "weir: unknown command '%s' (see 'weir --help')\n", argv[1]);
	return EXIT_USAGE;
}
