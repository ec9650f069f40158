/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The control socket: non-blocking accept/read/write with poll(2) on the main
 * lcore, JSON lines parsed with jansson. See weir_ctl.h for the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <rte_log.h>

#include "weir_ctl.h"

#define MAX_COMMANDS 32
#define ACCEPT_PER_POLL 128   /* connections taken per call: the merge loop comes first */
#define POLL_EVERY_NS 1000000 /* look at the sockets at most once a millisecond */
#define CLOSE_FLUSH_MS 200    /* weir_ctl_close: time left to send pending responses */

struct command {
	char name[64];
	unsigned n_words;
	char words[4][32];
	weir_ctl_fn fn;
	void *ctx;
};

struct client {
	int fd;
	char *in;            /* WEIR_CTL_MAX_REQUEST + 1 bytes */
	size_t in_len;
	char *out;           /* pending response bytes */
	size_t out_len, out_off;
	uint64_t deadline;   /* ms: a full request (or the response sent) by then */
	bool closing;        /* close once out is sent */
	bool draining;       /* response sent and write side shut: discard input until EOF */
};

struct weir_ctl {
	int fd;              /* listening socket; -1 without one */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct command cmd[MAX_COMMANDS];
	unsigned n_cmd;
	struct client cl[WEIR_CTL_MAX_CLIENTS];
	unsigned n_cl;
	uint64_t last_poll_ns;
	struct pollfd pfd[WEIR_CTL_MAX_CLIENTS + 1];
};

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t mono_ms(void)
{
	return mono_ns() / 1000000u;
}

/* ---- requests ---------------------------------------------------------------- */

static int add_word(struct weir_ctl_req *req, const char *w, size_t n, char *err, size_t errlen)
{
	if (req->n == WEIR_CTL_MAX_WORDS) {
		snprintf(err, errlen, "too many words in the request (at most %d)", WEIR_CTL_MAX_WORDS);
		return -1;
	}
	if (n >= WEIR_CTL_WORD_MAX) {
		snprintf(err, errlen, "a word of the request is longer than %d bytes",
			 WEIR_CTL_WORD_MAX - 1);
		return -1;
	}
	memcpy(req->word[req->n], w, n);
	req->word[req->n++][n] = '\0';
	return 0;
}

int weir_ctl_parse_request(const char *line, size_t len, struct weir_ctl_req *req, char *err,
			   size_t errlen)
{
	json_error_t je;
	json_t *root, *cmd, *args;
	int rc = -1;

	memset(req, 0, sizeof(*req));
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
			 je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "the request must be a JSON object, e.g. {\"cmd\":\"status\"}");
		goto out;
	}
	cmd = json_object_get(root, "cmd");
	if (!cmd) {
		snprintf(err, errlen, "\"cmd\" missing, e.g. {\"cmd\":\"status\"}");
		goto out;
	}
	if (!json_is_string(cmd)) {
		snprintf(err, errlen, "\"cmd\" must be a string");
		goto out;
	}
	const char *s = json_string_value(cmd);
	while (*s) {
		size_t n = strcspn(s, " \t");
		if (n && add_word(req, s, n, err, errlen) < 0)
			goto out;
		s += n;
		s += strspn(s, " \t");
	}
	if (req->n == 0) {
		snprintf(err, errlen, "\"cmd\" is empty");
		goto out;
	}
	args = json_object_get(root, "args");
	if (args && !json_is_array(args)) {
		snprintf(err, errlen, "\"args\" must be an array of strings");
		goto out;
	}
	size_t i;
	json_t *a;
	json_array_foreach(args, i, a) {
		char num[32];
		if (json_is_string(a)) {
			if (add_word(req, json_string_value(a), json_string_length(a), err, errlen) < 0)
				goto out;
		} else if (json_is_integer(a)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(a));
			if (add_word(req, num, strlen(num), err, errlen) < 0)
				goto out;
		} else {
			snprintf(err, errlen, "\"args\"[%zu] must be a string or an integer", i);
			goto out;
		}
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "cmd") && strcmp(key, "args") && strcmp(key, "id")) {
			snprintf(err, errlen, "unknown member \"%.64s\" (a request has cmd, args, id)", key);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* ---- commands ------------------------------------------------------------------ */

int weir_ctl_register(struct weir_ctl *c, const char *name, weir_ctl_fn fn, void *ctx)
{
	struct command *k;
	const char *s = name;

	if (c->n_cmd == MAX_COMMANDS || strlen(name) >= sizeof(k->name))
		return -1;
	k = &c->cmd[c->n_cmd];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	while (*s) {
		size_t n = strcspn(s, " ");
		if (k->n_words == 4 || n >= sizeof(k->words[0]))
			return -1;
		memcpy(k->words[k->n_words++], s, n);
		s += n;
		s += strspn(s, " ");
	}
	k->fn = fn;
	k->ctx = ctx;
	c->n_cmd++;
	return 0;
}

/* The command whose words are the longest prefix of the request's. */
static const struct command *lookup(const struct weir_ctl *c, const struct weir_ctl_req *req)
{
	const struct command *best = NULL;

	for (unsigned i = 0; i < c->n_cmd; i++) {
		const struct command *k = &c->cmd[i];
		unsigned w = 0;
		while (w < k->n_words && w < req->n && strcmp(k->words[w], req->word[w]) == 0)
			w++;
		if (w == k->n_words && (!best || k->n_words > best->n_words))
			best = k;
	}
	return best;
}

static void unknown(const struct weir_ctl *c, const struct weir_ctl_req *req, char *err,
		    size_t errlen)
{
	size_t o;

	/* name the words that were tried: "rules foo", or just "x" */
	char what[128] = "";
	for (unsigned w = 0; w < req->n && w < 2; w++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%.60s", w ? " " : "",
			 req->word[w]);
	o = (size_t)snprintf(err, errlen, "unknown command '%s' (known: ", what);
	for (unsigned i = 0; i < c->n_cmd && o < errlen; i++)
		o += (size_t)snprintf(err + o, errlen - o, "%s%s", i ? ", " : "", c->cmd[i].name);
	if (o < errlen)
		snprintf(err + o, errlen - o, ")");
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(o);
	return s;
}

static char *error_response(const char *cmd, const char *msg)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_false());
	if (cmd)
		json_object_set_new(o, "cmd", json_string(cmd));
	json_object_set_new(o, "error", json_string(msg));
	return dump(o);
}

char *weir_ctl_dispatch(struct weir_ctl *c, const char *line, size_t len)
{
	struct weir_ctl_req req;
	char err[2048];

	if (weir_ctl_parse_request(line, len, &req, err, sizeof(err)) < 0)
		return error_response(NULL, err);
	const struct command *k = lookup(c, &req);
	if (!k) {
		unknown(c, &req, err, sizeof(err));
		return error_response(NULL, err);
	}
	char *argv[WEIR_CTL_MAX_WORDS];
	unsigned argc = 0;
	for (unsigned w = k->n_words; w < req.n; w++)
		argv[argc++] = req.word[w];
	json_t *resp = json_object();
	json_object_set_new(resp, "ok", json_true());
	json_object_set_new(resp, "cmd", json_string(k->name));
	err[0] = '\0';
	if (k->fn(k->ctx, argc, argv, resp, err, sizeof(err)) < 0) {
		json_decref(resp);
		return error_response(k->name, err[0] ? err : "failed");
	}
	return dump(resp);
}

/* log level [LEVEL]: DPDK's global log level (weir's own messages go to stderr). */
static int cmd_log_level(void *ctx, unsigned argc, char **argv, json_t *resp, char *err,
			 size_t errlen)
{
	static const char *const names[] = {NULL,   "emerg",  "alert", "crit", "err",
					    "warning", "notice", "info",  "debug"};
	unsigned prev = rte_log_get_global_level(), lvl = 0;

	(void)ctx;
	if (argc > 1) {
		snprintf(err, errlen, "usage: log level [emerg|alert|crit|err|warning|notice|info|debug|1..8]");
		return -1;
	}
	if (argc == 1) {
		char *end;
		unsigned long n = strtoul(argv[0], &end, 10);
		if (!*end && n >= 1 && n <= 8)
			lvl = (unsigned)n;
		for (unsigned i = 1; i <= 8 && !lvl; i++)
			if (strcmp(argv[0], names[i]) == 0 ||
			    (i == 4 && strcmp(argv[0], "error") == 0) ||
			    (i == 5 && strcmp(argv[0], "warn") == 0))
				lvl = i;
		if (!lvl) {
			snprintf(err, errlen, "log level: '%.60s' is not one of emerg, alert, crit, err, "
				 "warning, notice, info, debug (or 1..8)", argv[0]);
			return -1;
		}
		rte_log_set_global_level(lvl);
		json_object_set_new(resp, "previous", json_string(prev <= 8 ? names[prev] : "?"));
	}
	unsigned now = rte_log_get_global_level();
	json_object_set_new(resp, "level", json_string(now >= 1 && now <= 8 ? names[now] : "?"));
	return 0;
}

struct weir_ctl *weir_ctl_new(void)
{
	struct weir_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = -1;
	weir_ctl_register(c, "log level", cmd_log_level, NULL);
	return c;
}

/* ---- the socket ---------------------------------------------------------------- */

/* Is anyone listening on the socket at `path`? 1 yes, 0 stale (refused), -1 other error. */
static int socket_alive(const char *path, int *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0) {
		*e = errno;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	*e = errno;
	close(fd);
	if (rc == 0)
		return 1;
	return *e == ECONNREFUSED ? 0 : -1;
}

struct weir_ctl *weir_ctl_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct weir_ctl *c;
	struct stat st;
	char dir[sizeof(sa.sun_path)];
	int e;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket '%.200s': path %s (at most %zu bytes)", path,
			 path[0] ? "too long" : "empty", sizeof(sa.sun_path) - 1);
		return NULL;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (access(dirname(dir), W_OK | X_OK) < 0) {
		snprintf(err, errlen, "control socket %s: directory %s: %s", path, dir,
			 errno == ENOENT ? "No such file or directory"
					 : errno == EACCES ? "not writable" : strerror(errno));
		return NULL;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control socket %s: exists and is not a socket (remove it "
				 "or give another path)", path);
			return NULL;
		}
		int alive = socket_alive(path, &e);
		if (alive == 1) {
			snprintf(err, errlen, "control socket %s: in use (another weir is listening on it)",
				 path);
			return NULL;
		}
		if (alive < 0) {
			snprintf(err, errlen, "control socket %s: exists and cannot be checked: %s", path,
				 strerror(e));
			return NULL;
		}
		if (unlink(path) < 0) { /* stale: its process is gone */
			snprintf(err, errlen, "control socket %s: stale, cannot remove it: %s", path,
				 strerror(errno));
			return NULL;
		}
	}
	c = weir_ctl_new();
	if (!c) {
		snprintf(err, errlen, "control socket: out of memory");
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto sys;
	mode_t old = umask(0177); /* created 0600: never a moment with wider access */
	int rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	umask(old);
	if (rc < 0) {
		errno = e;
		goto sys;
	}
	if (chmod(path, 0600) < 0 || listen(c->fd, 128) < 0 || stat(path, &st) < 0) {
		e = errno;
		unlink(path);
		errno = e;
		goto sys;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->last_poll_ns = 0;
	return c;
sys:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

/* ---- clients --------------------------------------------------------------------- */

static void client_drop(struct weir_ctl *c, unsigned i)
{
	struct client *k = &c->cl[i];

	close(k->fd);
	free(k->in);
	free(k->out);
	c->cl[i] = c->cl[--c->n_cl];
}

/* Queue a response line; the client reads no further request until it is sent. */
static void client_respond(struct client *k, char *line)
{
	size_t n = line ? strlen(line) : 0;

	free(k->out);
	k->out = NULL;
	k->out_len = k->out_off = 0;
	if (!line) {
		k->closing = true;
		return;
	}
	k->out = realloc(line, n + 2);
	if (!k->out) {
		free(line);
		k->closing = true;
		return;
	}
	k->out[n] = '\n';
	k->out[n + 1] = '\0';
	k->out_len = n + 1;
	k->deadline = mono_ms() + WEIR_CTL_TIMEOUT_MS;
}

/* Try to send what is pending: 1 progress, 0 would block, -1 gone. */
static int client_flush(struct client *k)
{
	int progress = 0;

	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? progress : -1;
		k->out_off += (size_t)n;
		progress = 1;
	}
	free(k->out);
	k->out = NULL;
	k->out_len = k->out_off = 0;
	return 1;
}

/*
 * Closing with unread input would reset the connection and lose the error
 * line just sent: shut the write side and read to EOF (bounded by the
 * deadline) instead. false: drop it now.
 */
static bool client_drain(struct client *k)
{
	char sink[4096];

	if (!k->draining) {
		shutdown(k->fd, SHUT_WR);
		k->draining = true;
		k->deadline = mono_ms() + WEIR_CTL_TIMEOUT_MS;
	}
	for (unsigned i = 0; i < 64; i++) { /* a bounded share of the main lcore per poll */
		ssize_t n = recv(k->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n <= 0)
			return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
	}
	return true;
}

/* Answer the first complete line in the input buffer, if any. */
static bool client_answer_line(struct weir_ctl *c, struct client *k)
{
	char *nl;

	while ((nl = memchr(k->in, '\n', k->in_len))) {
		size_t len = (size_t)(nl - k->in);
		bool blank = true;
		for (size_t i = 0; i < len && blank; i++)
			blank = k->in[i] == ' ' || k->in[i] == '\t' || k->in[i] == '\r';
		char *resp = blank ? NULL : weir_ctl_dispatch(c, k->in, len);
		memmove(k->in, nl + 1, k->in_len - len - 1);
		k->in_len -= len + 1;
		if (!blank) {
			client_respond(k, resp);
			return true;
		}
	}
	return false;
}

/* Read what the client sent; answer at most one request. false: drop it now. */
static bool client_read(struct weir_ctl *c, struct client *k)
{
	for (;;) {
		ssize_t n = recv(k->fd, k->in + k->in_len, WEIR_CTL_MAX_REQUEST + 1 - k->in_len,
				 MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (n == 0) { /* EOF: a last request without newline is still answered */
			if (k->in_len) {
				char *resp = weir_ctl_dispatch(c, k->in, k->in_len);
				k->in_len = 0;
				client_respond(k, resp);
			}
			k->closing = true;
			return k->out != NULL;
		}
		k->in_len += (size_t)n;
		if (client_answer_line(c, k))
			return true;
		if (k->in_len > WEIR_CTL_MAX_REQUEST) {
			char msg[96];
			snprintf(msg, sizeof(msg), "request longer than %d bytes (one JSON object per "
				 "line)", WEIR_CTL_MAX_REQUEST);
			client_respond(k, error_response(NULL, msg));
			k->closing = true;
			k->in_len = 0;
			return true;
		}
	}
}

static void reject(int fd, const char *why)
{
	char *line = error_response(NULL, why);

	if (line) {
		size_t n = strlen(line);
		line[n] = '\n'; /* json_dumps left room for its NUL: reuse it */
		(void)!send(fd, line, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(line);
	}
	close(fd);
}

static unsigned accept_clients(struct weir_ctl *c)
{
	unsigned done = 0;

	while (done < ACCEPT_PER_POLL) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break; /* EAGAIN, or out of descriptors: try again next time */
		done++;
		if (c->n_cl == WEIR_CTL_MAX_CLIENTS) {
			reject(fd, "too many control clients (at most " RTE_STR(WEIR_CTL_MAX_CLIENTS)
				   "); try again");
			continue;
		}
		struct client *k = &c->cl[c->n_cl];
		memset(k, 0, sizeof(*k));
		k->fd = fd;
		k->in = malloc(WEIR_CTL_MAX_REQUEST + 1);
		if (!k->in) {
			reject(fd, "out of memory");
			continue;
		}
		k->deadline = mono_ms() + WEIR_CTL_TIMEOUT_MS;
		c->n_cl++;
	}
	return done;
}

unsigned weir_ctl_poll(struct weir_ctl *c)
{
	unsigned events = 0, n;
	uint64_t now;

	if (!c || c->fd < 0)
		return 0;
	now = mono_ns();
	if (now - c->last_poll_ns < POLL_EVERY_NS)
		return 0;
	c->last_poll_ns = now;
	c->pfd[0] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	for (unsigned i = 0; i < c->n_cl; i++)
		c->pfd[i + 1] = (struct pollfd){.fd = c->cl[i].fd,
						.events = c->cl[i].out ? POLLOUT : POLLIN};
	n = c->n_cl;
	if (poll(c->pfd, n + 1, 0) < 0)
		return 0;
	/* clients first (their slots move when one is dropped: walk backwards) */
	for (unsigned i = n; i-- > 0;) {
		struct client *k = &c->cl[i];
		short re = c->pfd[i + 1].revents;
		bool keep = true;
		if (re) {
			events++;
			if (k->draining) {
				keep = client_drain(k);
			} else if (k->out) {
				keep = client_flush(k) >= 0;
			} else if (re & (POLLIN | POLLHUP | POLLERR)) {
				keep = client_read(c, k);
				if (keep && k->out)
					keep = client_flush(k) >= 0; /* usually all of it at once */
			}
		}
		if (keep && !k->out && !k->closing && k->in_len && client_answer_line(c, k))
			keep = client_flush(k) >= 0; /* a request sent right behind the last */
		if (keep && !k->out && k->closing && !k->draining)
			keep = client_drain(k);
		if (keep && mono_ms() > k->deadline) {
			keep = false; /* never sent a full line, or never read its response */
			events++;
		}
		if (!keep)
			client_drop(c, i);
	}
	if (c->pfd[0].revents & POLLIN)
		events += accept_clients(c);
	return events;
}

unsigned weir_ctl_clients(const struct weir_ctl *c)
{
	return c ? c->n_cl : 0;
}

void weir_ctl_close(struct weir_ctl *c)
{
	struct stat st;

	if (!c)
		return;
	uint64_t end = mono_ms() + CLOSE_FLUSH_MS;
	for (;;) { /* e.g. the answer to "shutdown" */
		bool pending = false;
		for (unsigned i = 0; i < c->n_cl; i++)
			if (c->cl[i].out && client_flush(&c->cl[i]) == 0)
				pending = true;
		if (!pending || mono_ms() > end)
			break;
		usleep(1000);
	}
	while (c->n_cl)
		client_drop(c, c->n_cl - 1);
	if (c->fd >= 0) {
		close(c->fd);
		/* only our own socket: someone may have replaced it meanwhile */
		if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			unlink(c->path);
	}
	free(c);
}
