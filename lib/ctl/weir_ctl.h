/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_ctl: the control socket. A UNIX stream socket (mode 0600) served on
 * weir's main lcore, polled without blocking from the merge loop: the data
 * path never waits on it. One JSON object per line each way:
 *
 *   -> {"cmd":"rules list"}            {"cmd":"log","args":["level","debug"]}
 *   <- {"ok":true,"cmd":"rules list","rules":[...]}
 *   <- {"ok":false,"error":"unknown command 'x' (known: status, stats, ...)"}
 *
 * The words of "cmd" (split at spaces) followed by "args" name the command
 * (the longest registered prefix) and its arguments. Requests are bounded
 * (WEIR_CTL_MAX_REQUEST bytes: longer gets an error and the connection
 * closed), a client must send a complete line within WEIR_CTL_TIMEOUT_MS of
 * connecting or of its previous response (else it is closed), and at most
 * WEIR_CTL_MAX_CLIENTS are served at once (more are accepted, sent an error
 * line and closed).
 */
#ifndef WEIR_CTL_H
#define WEIR_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define WEIR_CTL_MAX_REQUEST (64 * 1024)
#define WEIR_CTL_TIMEOUT_MS 2000
#define WEIR_CTL_MAX_CLIENTS 64
#define WEIR_CTL_MAX_WORDS 16
#define WEIR_CTL_WORD_MAX 256

/* A parsed request: the words of cmd then args. */
struct weir_ctl_req {
	unsigned n;
	char word[WEIR_CTL_MAX_WORDS][WEIR_CTL_WORD_MAX];
};

/*
 * Parse one request line (without its newline). 0, or -1 with err naming the
 * problem ("malformed JSON at 1:7: ...", "\"cmd\" missing", ...).
 */
int weir_ctl_parse_request(const char *line, size_t len, struct weir_ctl_req *req, char *err,
			   size_t errlen);

/*
 * A command handler: argv are the request's words after the command's own.
 * Adds its members to `resp` (an object that already holds "ok" and "cmd")
 * and returns 0, or fills err and returns -1 (the response is then
 * {"ok":false,"cmd":...,"error":err}).
 */
typedef int (*weir_ctl_fn)(void *ctx, unsigned argc, char **argv, json_t *resp, char *err,
			   size_t errlen);

struct weir_ctl;

/*
 * A command table without a socket (weir_ctl_dispatch only): for tests.
 * Registers the built-in "log level [LEVEL]".
 */
struct weir_ctl *weir_ctl_new(void);

/*
 * Listen on `path`: refuses (NULL, err filled) a path that is too long, whose
 * directory is not writable, or that exists and is not a stale socket (one
 * nobody listens on: that is removed). The socket is created mode 0600.
 */
struct weir_ctl *weir_ctl_open(const char *path, char *err, size_t errlen);

/* Add a command ("rules list"): 0, or -1 when the table is full. */
int weir_ctl_register(struct weir_ctl *c, const char *name, weir_ctl_fn fn, void *ctx);

/* The response line (no newline, malloc'd) to one request line. */
char *weir_ctl_dispatch(struct weir_ctl *c, const char *line, size_t len);

/*
 * Accept, read, answer, time out: never blocks. Cheap when called often (it
 * looks at the socket at most once a millisecond). Returns how many events it
 * handled (0 when idle). NULL is allowed (no socket).
 */
unsigned weir_ctl_poll(struct weir_ctl *c);

/* Clients being served now. */
unsigned weir_ctl_clients(const struct weir_ctl *c);

/* Send what is pending (briefly), close every client, remove the socket. NULL is allowed. */
void weir_ctl_close(struct weir_ctl *c);

#endif /* WEIR_CTL_H */
