/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weirctl: talks to a running weir over its control socket (weir run
 * --control PATH). Sends one JSON request line, reads one response line,
 * prints it as tables (or as it came with --json).
 *
 * Exit status: 0 ok, 1 the response says "ok":false, 2 usage or connection error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#define MAX_RESPONSE (64u << 20)

static const char *prog = "weirctl";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weirctl [--socket PATH] [--json] [--timeout S] COMMAND [ARGS]\n"
		"\n"
		"  --socket PATH  weir's control socket (weir run --control PATH); default $WEIR_SOCKET\n"
		"  --json         print the response as it came (one JSON object)\n"
		"  --timeout S    give up after S seconds (default 5)\n"
		"  --no-wait      rules reload/add, snapshot: return once the job has started\n"
		"  --wait S       rules reload/add, snapshot: wait at most S seconds (default 600)\n"
		"\n"
		"commands:\n"
		"  status                 version, pid, uptime, workers, ports, config, generation\n"
		"  stats                  counters as the final stats record has them\n"
		"  rules list             loaded rules with their counters\n"
		"  rules reload [FILE...] compile the rule files (default: those running) into a new\n"
		"                         generation; waits until it is published or refused\n"
		"  rules add FILE         add FILE's rules (a small delta compile); waits likewise\n"
		"  rules remove ID...     stop matching those rules (no compile)\n"
		"  rules status           generation, last compile job, background merge\n"
		"  query list             queries: window, group_by, aggregates, filter, state, counters\n"
		"  query add FILE         add the queries of FILE (a queries: list) at their next window\n"
		"                         boundary; one named like a running query replaces it there\n"
		"  query remove NAME      end a query once its window in progress is emitted\n"
		"  windows show Q [--top N]  what the merger holds of query Q's open windows\n"
		"  log level [LEVEL]      show or set DPDK's log level (emerg .. debug)\n"
		"  shutdown               stop weir as SIGTERM does (flush, stats, exit 0)\n"
		"  snapshot               take a checkpoint now (weir run --checkpoint-dir); waits until\n"
		"                         it is on disk (--no-wait: until the barrier is asked for)\n"
		"  snapshot status        checkpoints written, failed, the last one, the one under way\n"
		"\n"
		"Exit status: 0 ok, 1 error response, 2 usage or connection error.\n");
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Send `req`, read one line back (malloc'd, NUL-terminated). NULL with a message printed. */
static char *roundtrip(const char *path, const char *req, double timeout)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	double end = now_s() + timeout;
	size_t len = 0, cap = 4096, off = 0, n = strlen(req);
	char *buf;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: %s: socket path too long (at most %zu bytes)\n", prog, path,
			sizeof(sa.sun_path) - 1);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		fprintf(stderr, "%s: %s: %s%s\n", prog, path, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " (is weir running with --control?)" : "");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (off < n) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int left = (int)((end - now_s()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			goto timeout;
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "%s: %s: send: %s\n", prog, path, strerror(errno));
			close(fd);
			return NULL;
		}
		if (w > 0)
			off += (size_t)w;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return NULL;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((end - now_s()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			free(buf);
			goto timeout;
		}
		if (len + 1 == cap) {
			char *b = cap < MAX_RESPONSE ? realloc(buf, cap * 2) : NULL;
			if (!b) {
				fprintf(stderr, "%s: %s: response too large\n", prog, path);
				free(buf);
				close(fd);
				return NULL;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			if (r < 0)
				fprintf(stderr, "%s: %s: recv: %s\n", prog, path, strerror(errno));
			else if (!len)
				fprintf(stderr, "%s: %s: weir closed the connection without an answer\n",
					prog, path);
			if (!len || r < 0) {
				free(buf);
				close(fd);
				return NULL;
			}
			break; /* a last line without newline */
		}
		len += (size_t)r;
		char *nl = memchr(buf + len - (size_t)r, '\n', (size_t)r);
		if (nl) {
			len = (size_t)(nl - buf);
			break;
		}
	}
	buf[len] = '\0';
	close(fd);
	return buf;
timeout:
	fprintf(stderr, "%s: %s: no answer within %g s\n", prog, path, timeout);
	close(fd);
	return NULL;
}

/* ---- tables ---------------------------------------------------------------------- */

static json_int_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : (json_int_t)json_number_value(v);
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "-";
}

/* "a, b, c" from an array of strings, into buf */
static const char *join(json_t *a, char *buf, size_t len)
{
	size_t i, o = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(a, i, v)
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
					      json_is_string(v) ? json_string_value(v) : "?");
	return buf[0] ? buf : "-";
}

static void print_value(const char *k, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (json_is_string(v))
		printf("%-16s %s\n", k, json_string_value(v));
	else
		printf("%-16s %s\n", k, s ? s : "?");
	free(s);
}

static void print_status(json_t *r)
{
	const char *k;
	json_t *v;
	char b[1024];

	json_object_foreach(r, k, v) {
		if (!strcmp(k, "ok") || !strcmp(k, "cmd"))
			continue;
		if (json_is_array(v))
			printf("%-16s %s\n", k, join(v, b, sizeof(b)));
		else
			print_value(k, v);
	}
}

static json_int_t dropped_sum(json_t *c)
{
	json_int_t s = 0;
	const char *k;
	json_t *v;

	json_object_foreach(json_object_get(c, "dropped"), k, v)
		s += json_integer_value(v);
	return s;
}

static void print_stats(json_t *r)
{
	json_t *s = json_object_get(r, "stats"), *v;
	const char *k;

	printf("rx %" JSON_INTEGER_FORMAT "  processed %" JSON_INTEGER_FORMAT "  dropped %"
	       JSON_INTEGER_FORMAT "  bytes %" JSON_INTEGER_FORMAT "  windows %" JSON_INTEGER_FORMAT
	       "\n%.3f s, %.2f Mpps\n",
	       num(s, "rx"), num(s, "processed"), dropped_sum(s), num(s, "bytes"), num(s, "windows"),
	       json_number_value(json_object_get(s, "elapsed_s")),
	       json_number_value(json_object_get(s, "mpps")));
	if ((v = json_object_get(s, "burst_time")))
		printf("burst time: %" JSON_INTEGER_FORMAT " bursts, p50 %" JSON_INTEGER_FORMAT
		       " ns, p99 %" JSON_INTEGER_FORMAT " ns, p99.9 %" JSON_INTEGER_FORMAT
		       " ns, max %" JSON_INTEGER_FORMAT " ns\n", num(v, "bursts"), num(v, "p50_ns"),
		       num(v, "p99_ns"), num(v, "p99_9_ns"), num(v, "max_ns"));
	if ((v = json_object_get(json_object_get(s, "stage_cycles"), "per_packet"))) {
		json_t *c;
		printf("cycles/packet:");
		json_object_foreach(v, k, c)
			printf(" %s %.0f", k, json_number_value(c));
		putchar('\n');
	}
	if ((v = json_object_get(s, "inline"))) {
		json_t *c;
		printf("inline: forwarded %" JSON_INTEGER_FORMAT ", not sent on:", num(v, "forwarded"));
		json_object_foreach(json_object_get(v, "dropped"), k, c)
			printf(" %s=%" JSON_INTEGER_FORMAT, k, json_integer_value(c));
		putchar('\n');
	}
	printf("\n%-12s %14s %14s %10s %16s\n", "worker", "rx", "processed", "dropped", "bytes");
	json_object_foreach(json_object_get(s, "workers"), k, v)
		printf("%-12s %14" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %16" JSON_INTEGER_FORMAT "\n", k, num(v, "rx"), num(v, "processed"),
		       dropped_sum(v), num(v, "bytes"));
	if ((v = json_object_get(s, "distributor")))
		printf("%-12s %14" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %16" JSON_INTEGER_FORMAT "\n", "distributor", num(v, "rx"), num(v, "processed"),
		       dropped_sum(v), num(v, "bytes"));
	printf("\n%-20s %14s %10s %10s %10s\n", "port", "ipackets", "imissed", "ierrors", "rx_nombuf");
	json_object_foreach(json_object_get(s, "ports"), k, v)
		printf("%-20s %14" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %10" JSON_INTEGER_FORMAT "\n", k, num(v, "ipackets"), num(v, "imissed"),
		       num(v, "ierrors"), num(v, "rx_nombuf"));
	printf("\n%-20s", "query");
	json_t *qs = json_object_get(s, "queries"), *q1 = json_object_iter_value(json_object_iter(qs));
	json_object_foreach(q1, k, v)
		printf(" %14s", k);
	putchar('\n');
	json_object_foreach(qs, k, v) {
		const char *c;
		json_t *n;
		printf("%-20s", k);
		json_object_foreach(v, c, n)
			printf(" %14" JSON_INTEGER_FORMAT, json_integer_value(n));
		putchar('\n');
	}
	if ((v = json_object_get(s, "inspect"))) {
		printf("\ninspect:");
		json_object_foreach(v, k, q1)
			printf(" %s=%" JSON_INTEGER_FORMAT, k, json_integer_value(q1));
		putchar('\n');
	}
}

static void print_rules(json_t *r)
{
	json_t *a = json_object_get(r, "rules"), *v;
	size_t i;

	if (!json_array_size(a)) {
		printf("no rules loaded\n");
		return;
	}
	printf("generation %" JSON_INTEGER_FORMAT "\n", num(r, "generation"));
	printf("%-10s %3s %-6s %-7s %12s %12s %10s %10s  %s\n", "id", "sev", "action", "mode",
	       "packets", "matches", "alerts", "suppressed", "msg");
	json_array_foreach(a, i, v)
		printf("%-10" JSON_INTEGER_FORMAT " %3" JSON_INTEGER_FORMAT " %-6s %-7s %12"
		       JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT " %10"
		       JSON_INTEGER_FORMAT "  %.60s\n", num(v, "id"), num(v, "severity"),
		       str(v, "action"), str(v, "mode"), num(v, "packets"), num(v, "matches"),
		       num(v, "alerts"), num(v, "suppressed"), str(v, "msg"));
}

static void print_queries(json_t *r)
{
	json_t *a = json_object_get(r, "queries"), *v;
	char g[512], ag[512], w[96];
	size_t i;

	printf("%-16s %-22s %-28s %-30s %10s %10s  %s\n", "name", "window", "group_by",
	       "aggregates", "no_key", "filtered", "filter / having");
	json_array_foreach(a, i, v) {
		json_t *win = json_object_get(v, "window"), *c = json_object_get(v, "counters");
		const char *t = str(win, "type");
		char name[128];
		snprintf(name, sizeof(name), "%s%s%s%s", str(v, "name"),
			 strcmp(str(v, "state"), "live") ? " [" : "",
			 strcmp(str(v, "state"), "live") ? str(v, "state") : "",
			 strcmp(str(v, "state"), "live") ? "]" : "");
		if (!strcmp(t, "session"))
			snprintf(w, sizeof(w), "session gap %gs", json_number_value(json_object_get(win, "gap_s")));
		else if (!strcmp(t, "sliding"))
			snprintf(w, sizeof(w), "sliding %gs/%gs",
				 json_number_value(json_object_get(win, "size_s")),
				 json_number_value(json_object_get(win, "slide_s")));
		else
			snprintf(w, sizeof(w), "%s %gs", t, json_number_value(json_object_get(win, "size_s")));
		printf("%-16s %-22s %-28s %-30s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       "  %s%s%s\n", name, w, join(json_object_get(v, "group_by"), g, sizeof(g)),
		       join(json_object_get(v, "aggregates"), ag, sizeof(ag)), num(c, "no_key"),
		       num(c, "filtered"), str(v, "filter"),
		       json_is_string(json_object_get(v, "having")) ? " / having " : "",
		       json_is_string(json_object_get(v, "having")) ? str(v, "having") : "");
	}
}

/* One line a window, then its top rows as the window records show them, minus the bounds. */
static void print_windows(json_t *r)
{
	json_t *a = json_object_get(r, "windows"), *v, *rows, *row, *val;
	size_t i, k;
	const char *key;

	if (!json_array_size(a))
		printf("%s: no open window held by the merger yet\n", str(r, "query"));
	json_array_foreach(a, i, v) {
		printf("%s [%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT ") %" JSON_INTEGER_FORMAT
		       " keys\n", str(r, "query"), num(v, "window_start"), num(v, "window_end"),
		       num(v, "keys"));
		rows = json_object_get(v, "rows");
		json_array_foreach(rows, k, row) {
			printf(" ");
			json_object_foreach(row, key, val) {
				if (!strcmp(key, "type") || !strcmp(key, "query") || !strcmp(key, "final") ||
				    !strcmp(key, "window_start") || !strcmp(key, "window_end"))
					continue;
				char *t = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
				printf(" %s=%s", key, t ? t : "?");
				free(t);
			}
			printf("\n");
		}
	}
}

/* query add: each query and the event time it starts at. */
static void print_added(json_t *r)
{
	json_t *a = json_object_get(r, "added"), *v;
	size_t i;

	json_array_foreach(a, i, v) {
		printf("added %s (slot %" JSON_INTEGER_FORMAT ") from %.9f", str(v, "name"),
		       num(v, "slot"), (double)num(v, "from_ns") / 1e9);
		if (json_is_integer(json_object_get(v, "replaces")))
			printf(", replacing slot %" JSON_INTEGER_FORMAT " there", num(v, "replaces"));
		putchar('\n');
	}
	printf("%-16s %" JSON_INTEGER_FORMAT "\n", "generation", num(r, "generation"));
}

/* A job's outcome for people: generation, state, compile figures or the error. */
static void print_job(json_t *r, json_t *job)
{
	printf("%-16s %" JSON_INTEGER_FORMAT "\n", "generation", num(r, "generation"));
	printf("%-16s %" JSON_INTEGER_FORMAT "\n", "rules", num(r, "rules"));
	printf("%-16s %s\n", "merge", str(r, "merge"));
	printf("%-16s %" JSON_INTEGER_FORMAT " (%s) %s\n", "job", num(job, "id"), str(job, "op"),
	       str(job, "state"));
	if (json_object_get(job, "compile_s"))
		printf("%-16s %.3f s compile, %.3f s to publish, %" JSON_INTEGER_FORMAT
		       " cache hits, %" JSON_INTEGER_FORMAT " misses\n", "compile",
		       json_number_value(json_object_get(job, "compile_s")),
		       json_number_value(json_object_get(job, "wall_s")), num(job, "cache_hits"),
		       num(job, "cache_misses"));
	if (json_object_get(job, "error"))
		printf("%-16s %s\n", "error", str(job, "error"));
}

/*
 * One request from words (the command's words, then arguments; with
 * abs_files, arguments that name existing files are sent as absolute paths).
 * The parsed response, its text in *text (malloc'd); NULL after a message.
 */
static json_t *request(const char *path, int n, char **words, bool abs_files, double timeout,
		       char **text)
{
	json_t *req = json_object(), *args = json_array();
	char abs[PATH_MAX];

	/* "rules reload F" or "rules" "reload" "F": files start after the command's words */
	int first_file = strchr(words[0], ' ') ? 1 : 2;

	json_object_set_new(req, "cmd", json_string(words[0]));
	for (int i = 1; i < n; i++)
		json_array_append_new(args, json_string(abs_files && i >= first_file &&
							realpath(words[i], abs) ? abs : words[i]));
	json_object_set_new(req, "args", args);
	char *line = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	if (!line)
		return NULL;
	size_t len = strlen(line);
	char *msg = malloc(len + 2);
	if (!msg) {
		free(line);
		return NULL;
	}
	memcpy(msg, line, len);
	memcpy(msg + len, "\n", 2);
	free(line);
	char *resp = roundtrip(path, msg, timeout);
	free(msg);
	if (!resp)
		return NULL;
	json_error_t je;
	json_t *r = json_loads(resp, 0, &je);
	if (!r || !json_is_object(r)) {
		fprintf(stderr, "%s: %s: not a JSON response (%s): %.200s\n", prog, path, je.text, resp);
		free(resp);
		json_decref(r);
		return NULL;
	}
	*text = resp;
	return r;
}

/* What a wait is for: the status command polled, and when its answer says the wait is over. */
struct wait_for {
	char *status;                       /* "rules status", "snapshot status" */
	bool (*over)(json_t *r, json_int_t id);
	const char *what;                   /* "job", "checkpoint" */
	const char *pending;                /* "still compiling", "not written" */
};

static bool job_over(json_t *r, json_int_t id)
{
	json_t *job = json_object_get(r, "job");

	return !json_is_object(job) || num(job, "id") != id ||
	       strcmp(str(job, "state"), "compiling") != 0;
}

static bool checkpoint_over(json_t *r, json_int_t epoch)
{
	return num(r, "done_epoch") >= epoch;
}

static const struct wait_for rules_job = {"rules status", job_over, "job", "still compiling"};
static const struct wait_for checkpoint = {"snapshot status", checkpoint_over, "checkpoint",
					   "not written"};

/*
 * Poll w->status until w->over says job `id` is over (or wait_s passes):
 * that response, its text in *text; NULL after a message. first is released.
 */
static json_t *wait_until(const char *path, const struct wait_for *w, json_int_t id, double timeout,
			  double wait_s, char **text, json_t *first)
{
	char *words[] = {w->status};
	double t_end = now_s() + wait_s;

	json_decref(first);
	free(*text);
	for (;;) {
		json_t *r = request(path, 1, words, false, timeout, text);
		if (!r || w->over(r, id))
			return r;
		if (now_s() > t_end) {
			fprintf(stderr, "%s: %s %" JSON_INTEGER_FORMAT " %s after %.0f s (see `weirctl %s`)\n",
				prog, w->what, id, w->pending, wait_s, w->status);
			json_decref(r);
			free(*text);
			return NULL;
		}
		json_decref(r);
		free(*text);
		usleep(20000);
	}
}

/* An option's seconds in (0, max]: 0, or -1 after saying what is wrong. */
static int seconds_arg(const char *opt, const char *arg, double max, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end || !(v > 0) || v > max) {
		fprintf(stderr, "%s: %s: '%s' is not a number of seconds (0..%g]\n", prog, opt, arg, max);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"no-wait", no_argument, NULL, 'n'},
		{"wait", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("WEIR_SOCKET");
	bool raw = false, nowait = false;
	double timeout = 5, wait_s = 600;
	int o;

	while ((o = getopt_long(argc, argv, "+s:jt:h", opts, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 'j': raw = true; break;
		case 'n': nowait = true; break;
		case 'w':
			if (seconds_arg("--wait", optarg, 86400, &wait_s) < 0)
				return 2;
			break;
		case 't':
			if (seconds_arg("--timeout", optarg, 3600, &timeout) < 0)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "%s: no command (see weirctl --help)\n", prog);
		return 2;
	}
	if (!path || !path[0]) {
		fprintf(stderr, "%s: no socket: give --socket PATH (weir run --control PATH) or set "
			"WEIR_SOCKET\n", prog);
		return 2;
	}
	/* weir resolves rule files from its own directory: send absolute paths */
	const char *cmd0 = argv[optind];
	const char *sub = !strchr(cmd0, ' ') && optind + 1 < argc ? argv[optind + 1] : "";
	bool files = !strcmp(cmd0, "rules reload") || !strcmp(cmd0, "rules add") ||
		     !strcmp(cmd0, "query add") ||
		     (!strcmp(cmd0, "rules") && (!strcmp(sub, "reload") || !strcmp(sub, "add"))) ||
		     (!strcmp(cmd0, "query") && !strcmp(sub, "add"));
	char *resp;
	json_t *r = request(path, argc - optind, argv + optind, files, timeout, &resp);
	if (!r)
		return 2;
	json_t *job = json_object_get(r, "job");
	if (!nowait && json_is_true(json_object_get(r, "ok")) && files && job) {
		json_t *done = wait_until(path, &rules_job, num(job, "id"), timeout, wait_s, &resp, r);
		if (!done)
			return 2;
		r = done;
	}
	bool snap = !strcmp(cmd0, "snapshot") && optind + 1 == argc;
	json_int_t epoch = num(r, "epoch");
	if (snap && !nowait && json_is_true(json_object_get(r, "ok"))) {
		r = wait_until(path, &checkpoint, epoch, timeout, wait_s, &resp, r);
		if (!r)
			return 2;
		if (num(json_object_get(r, "last"), "epoch") != epoch) {
			fprintf(stderr, "%s: checkpoint %" JSON_INTEGER_FORMAT " failed: %s\n", prog,
				epoch, str(r, "last_error"));
			json_decref(r);
			free(resp);
			return 1;
		}
	}
	int ok = json_is_true(json_object_get(r, "ok"));
	const char *cmd = str(r, "cmd");
	json_t *jobr = json_object_get(r, "job");
	if (ok && files && !nowait && jobr && strcmp(str(jobr, "state"), "done") != 0) {
		ok = 0; /* the compile was refused: the running generation stays */
		if (!raw)
			fprintf(stderr, "%s: rules %s refused (generation %" JSON_INTEGER_FORMAT
				" stays): %s\n", prog, str(jobr, "op"), num(r, "generation"),
				str(jobr, "error"));
	}
	if (raw)
		printf("%s\n", resp);
	else if (!ok && !jobr)
		fprintf(stderr, "%s: %s\n", prog, str(r, "error"));
	else if (!strcmp(cmd, "stats"))
		print_stats(r);
	else if (!strcmp(cmd, "rules list"))
		print_rules(r);
	else if (!strcmp(cmd, "query list"))
		print_queries(r);
	else if (!strcmp(cmd, "windows show"))
		print_windows(r);
	else if (!ok)
		; /* said above */
	else if (jobr && json_is_object(jobr))
		print_job(r, jobr);
	else if (!strcmp(cmd, "query add"))
		print_added(r);
	else
		print_status(r); /* status, log level, shutdown: key value lines */
	json_decref(r);
	free(resp);
	return ok ? 0 : 1;
}
