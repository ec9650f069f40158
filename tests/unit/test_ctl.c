/* SPDX-License-Identifier: BSD-3-Clause
 * Control socket requests: parsing, command lookup, error responses (no socket). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir_ctl.h"

#define PARSE(s, req, err) weir_ctl_parse_request(s, strlen(s), req, err, sizeof(err))

Test(ctl, parse_words_from_cmd_and_args)
{
	struct weir_ctl_req r;
	char err[256];

	cr_assert_eq(PARSE("{\"cmd\":\"windows  show\",\"args\":[\"hostpairs\",\"--top\",5],\"id\":7}",
			   &r, err), 0, "%s", err);
	cr_assert_eq(r.n, 5);
	cr_assert_str_eq(r.word[0], "windows");
	cr_assert_str_eq(r.word[1], "show");
	cr_assert_str_eq(r.word[2], "hostpairs");
	cr_assert_str_eq(r.word[4], "5");
}

Test(ctl, parse_errors_name_the_problem)
{
	struct weir_ctl_req r;
	char err[256];

	cr_assert_eq(PARSE("{\"cmd\":", &r, err), -1);
	cr_assert(strstr(err, "malformed JSON at line 1 column"), "%s", err);
	cr_assert_eq(PARSE("[\"status\"]", &r, err), -1);
	cr_assert(strstr(err, "must be a JSON object"), "%s", err);
	cr_assert_eq(PARSE("{\"args\":[]}", &r, err), -1);
	cr_assert(strstr(err, "\"cmd\" missing"), "%s", err);
	cr_assert_eq(PARSE("{\"cmd\":3}", &r, err), -1);
	cr_assert(strstr(err, "\"cmd\" must be a string"), "%s", err);
	cr_assert_eq(PARSE("{\"cmd\":\"  \"}", &r, err), -1);
	cr_assert(strstr(err, "empty"), "%s", err);
	cr_assert_eq(PARSE("{\"cmd\":\"a\",\"args\":\"b\"}", &r, err), -1);
	cr_assert(strstr(err, "array"), "%s", err);
	cr_assert_eq(PARSE("{\"cmd\":\"a\",\"args\":[1.5]}", &r, err), -1);
	cr_assert(strstr(err, "\"args\"[0]"), "%s", err);
	cr_assert_eq(PARSE("{\"cmd\":\"a\",\"cmd\":\"b\"}", &r, err), -1); /* duplicate key */
	cr_assert_eq(PARSE("{\"cmd\":\"a\",\"x\":1}", &r, err), -1);
	cr_assert(strstr(err, "unknown member \"x\""), "%s", err);
	cr_assert_eq(PARSE("{\"cmd\":\"a b c d e f g h i j k l m n o p q\"}", &r, err), -1);
	cr_assert(strstr(err, "too many words"), "%s", err);
}

static int echo(void *ctx, unsigned argc, char **argv, json_t *resp, char *err, size_t errlen)
{
	if (argc && strcmp(argv[0], "fail") == 0) {
		snprintf(err, errlen, "asked to fail");
		return -1;
	}
	json_object_set_new(resp, "tag", json_string(ctx));
	json_object_set_new(resp, "argc", json_integer(argc));
	return 0;
}

#define DISPATCH(c, s) weir_ctl_dispatch(c, s, strlen(s))

Test(ctl, dispatch_longest_prefix_and_errors)
{
	struct weir_ctl *c = weir_ctl_new();
	char *r;

	cr_assert(c);
	cr_assert_eq(weir_ctl_register(c, "rules", echo, "rules"), 0);
	cr_assert_eq(weir_ctl_register(c, "rules list", echo, "list"), 0);
	r = DISPATCH(c, "{\"cmd\":\"rules\",\"args\":[\"list\",\"x\"]}");
	cr_assert_str_eq(r, "{\"ok\":true,\"cmd\":\"rules list\",\"tag\":\"list\",\"argc\":1}");
	free(r);
	r = DISPATCH(c, "{\"cmd\":\"rules fail\"}");
	cr_assert_str_eq(r, "{\"ok\":false,\"cmd\":\"rules\",\"error\":\"asked to fail\"}");
	free(r);
	r = DISPATCH(c, "{\"cmd\":\"nope\"}");
	cr_assert_str_eq(r, "{\"ok\":false,\"error\":\"unknown command 'nope' (known: log level, rules, "
			    "rules list)\"}");
	free(r);
	r = DISPATCH(c, "{\"cmd\":\"log level\",\"args\":[\"loud\"]}");
	cr_assert(strstr(r, "\"ok\":false") && strstr(r, "'loud' is not one of"), "%s", r);
	free(r);
	r = DISPATCH(c, "not json");
	cr_assert(strstr(r, "\"ok\":false,\"error\":\"malformed JSON"), "%s", r);
	free(r);
	weir_ctl_close(c);
}

Test(ctl, open_refuses_bad_paths)
{
	char err[512];

	cr_assert_null(weir_ctl_open("/nonexistent-dir/x.sock", err, sizeof(err)));
	cr_assert(strstr(err, "No such file or directory"), "%s", err);
	cr_assert_null(weir_ctl_open("", err, sizeof(err)));
	cr_assert(strstr(err, "empty"), "%s", err);
	char path[] = "/tmp/weir-ctl-test.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_null(weir_ctl_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "not a socket"), "%s", err);
	unlink(path);
}
