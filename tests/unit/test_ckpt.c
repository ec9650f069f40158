/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_ckpt: CRC32C against the standard check value and the table against
 * SSE4.2; round trips (empty, small, streamed, multi-MB sections); keep-last-N;
 * every truncation and every single-bit flip of a small file rejected with
 * the reason its region calls for, and open_latest falling back to the
 * previous good file and saying so; foreign and odd directory entries;
 * unwritable directories and a full filesystem (a 64 KiB tmpfs).
 *
 * Random data comes from a seeded generator, so a run is reproducible.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weir_ckpt.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weir-ckpt-test-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void cleanup(void)
{
	if (tmpdir[0])
		rm_rf(tmpdir);
}

static char *pathf(const char *name)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static char *ckpt_name(uint64_t seq)
{
	static char n[64];

	snprintf(n, sizeof(n), "ckpt-%020llu.wckpt", (unsigned long long)seq);
	return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	uint8_t *b = malloc(*len ? *len : 1);

	cr_assert_eq(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

static void spew(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(b, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* Files in dir, sorted, joined with spaces: to check what a run leaves. */
static char *listing(const char *dir)
{
	static char out[4096];
	char *names[64];
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	cr_assert_not_null(d);
	while ((de = readdir(d)) && n < 64)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *t = names[i];

				names[i] = names[j];
				names[j] = t;
			}
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

/* A small two-section checkpoint: the corruption tests' subject. */
static uint64_t write_small(const char *dir, uint64_t gen)
{
	char err[512];
	struct weir_ckpt_meta m = { .generation = gen, .config_hash = 0xfeedull, .keep = 100 };
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(dir, &m, err, sizeof(err));

	cr_assert_not_null(w, "%s", err);
	uint64_t seq = weir_ckpt_writer_seq(w);

	cr_assert_eq(weir_ckpt_add_section(w, 1, "flows", "0123456789abc", 13), 0); /* padded */
	cr_assert_eq(weir_ckpt_add_section(w, 2, "windows", "ABCDEFGH", 8), 0);
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), 0, "%s", err);
	return seq;
}

/* Collects open_latest's diagnostics. */
struct diags {
	int n;
	enum weir_ckpt_reason why[32];
	char msg[32][768];
};

static void collect(void *arg, const char *path, enum weir_ckpt_reason why, const char *msg)
{
	struct diags *d = arg;

	cr_assert_not_null(path);
	if (d->n < 32) {
		d->why[d->n] = why;
		snprintf(d->msg[d->n], sizeof(d->msg[0]), "%s", msg);
		d->n++;
	}
}

/* ---- CRC32C -------------------------------------------------------------- */

Test(crc32c, check_value)
{
	cr_assert_eq(weir_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(weir_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(weir_crc32c(0, "", 0), 0);
	/* chaining: the CRC of a then b is the CRC of a||b */
	cr_assert_eq(weir_crc32c(weir_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	cr_assert_eq(weir_crc32c_sw(weir_crc32c_sw(0, "12345", 5), "6789", 4), 0xE3069283u);
	/* RFC 3720 B.4: 32 bytes of zeroes, of 0xff */
	uint8_t z[32] = { 0 }, f[32];

	memset(f, 0xff, sizeof(f));
	cr_assert_eq(weir_crc32c(0, z, 32), 0x8A9136AAu);
	cr_assert_eq(weir_crc32c(0, f, 32), 0x62A8AB43u);
	cr_log_info("crc32c: %s\n", weir_crc32c_hw() ? "SSE4.2" : "table only");
}

Test(crc32c, hw_matches_table_on_random_buffers)
{
	enum { MAX = 4096 };
	static uint8_t buf[MAX + 16];

	rng_state = 42;
	for (int it = 0; it < 2000; it++) {
		size_t off = rng() % 16, len = rng() % (it < 200 ? 40 : MAX);

		fill_random(buf + off, len);
		uint32_t seed = (it & 1) ? (uint32_t)rng() : 0;
		uint32_t hw = weir_crc32c(seed, buf + off, len);

		cr_assert_eq(hw, weir_crc32c_sw(seed, buf + off, len), "len %zu off %zu", len, off);
		size_t cut = len ? rng() % len : 0; /* split anywhere, unaligned */

		cr_assert_eq(weir_crc32c(weir_crc32c(seed, buf + off, cut), buf + off + cut, len - cut),
			     hw);
	}
}

/* ---- round trips ---------------------------------------------------------- */

Test(ckpt, round_trip_sections, .init = make_tmpdir, .fini = cleanup)
{
	enum { BIG = 3 * 1024 * 1024 + 5 };
	uint8_t *big = malloc(BIG), *streamed = malloc(1 << 20);
	char err[512], name32[WEIR_CKPT_NAME_MAX + 1];

	rng_state = 7;
	fill_random(big, BIG);
	fill_random(streamed, 1 << 20);
	memset(name32, 'n', WEIR_CKPT_NAME_MAX);
	name32[WEIR_CKPT_NAME_MAX] = 0;

	struct weir_ckpt_meta m = { .generation = 77, .config_hash = 0x0123456789abcdefull,
				    .created_ns = 1700000000123456789ull };
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(tmpdir, &m, err, sizeof(err));

	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(weir_ckpt_writer_seq(w), 1);
	cr_assert_str_eq(weir_ckpt_writer_path(w), pathf(ckpt_name(1)));
	cr_assert_eq(weir_ckpt_add_section(w, 10, "empty", NULL, 0), 0);
	cr_assert_eq(weir_ckpt_add_section(w, 11, "hello", "hello", 5), 0);
	cr_assert_eq(weir_ckpt_add_section(w, 12, "big", big, BIG), 0);
	cr_assert_eq(weir_ckpt_section_begin(w, 13, name32), 0);
	for (size_t o = 0; o < (1 << 20);) {
		size_t n = 1 + rng() % 70000;

		if (n > (1 << 20) - o)
			n = (1 << 20) - o;
		cr_assert_eq(weir_ckpt_section_write(w, streamed + o, n), 0);
		o += n;
	}
	cr_assert_eq(weir_ckpt_section_end(w), 0);
	cr_assert_eq(weir_ckpt_add_section(w, 11, "hello2", "again", 5), 0);
	/* the temp file is hidden from readers until commit */
	cr_assert(!strncmp(listing(tmpdir), ".ckpt-00000000000000000001.wckpt.tmp.", 37), "%s",
		  listing(tmpdir));
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(listing(tmpdir), ckpt_name(1));

	enum weir_ckpt_reason why;
	struct diags d = { 0 };
	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, collect, &d, &why, err, sizeof(err));

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(why, WEIR_CKPT_OK);
	cr_assert_eq(d.n, 0);
	const struct weir_ckpt_info *in = weir_ckpt_info(c);

	cr_assert_eq(in->version, WEIR_CKPT_VERSION);
	cr_assert_eq(in->generation, 77);
	cr_assert_eq(in->config_hash, 0x0123456789abcdefull);
	cr_assert_eq(in->created_ns, 1700000000123456789ull);
	cr_assert_eq(in->sequence, 1);
	cr_assert_eq(weir_ckpt_nsections(c), 5);
	cr_assert_str_eq(weir_ckpt_path(c), pathf(ckpt_name(1)));

	const struct weir_ckpt_section *s = weir_ckpt_section(c, 0);

	cr_assert(s->type == 10 && s->len == 0 && !strcmp(s->name, "empty"));
	s = weir_ckpt_find(c, 11, NULL);
	cr_assert(s && s->len == 5 && !memcmp(s->data, "hello", 5));
	s = weir_ckpt_find(c, 11, "hello2");
	cr_assert(s && s->len == 5 && !memcmp(s->data, "again", 5));
	s = weir_ckpt_find(c, 12, "big");
	cr_assert(s && s->len == BIG && !memcmp(s->data, big, BIG));
	s = weir_ckpt_find(c, 13, name32);
	cr_assert(s && s->len == (1 << 20) && !memcmp(s->data, streamed, 1 << 20));
	for (unsigned i = 0; i < weir_ckpt_nsections(c); i++)
		cr_assert_eq((uintptr_t)weir_ckpt_section(c, i)->data % 8, 0, "section %u aligned", i);
	cr_assert_null(weir_ckpt_section(c, 5));
	cr_assert_null(weir_ckpt_find(c, 12, "nope"));
	cr_assert_null(weir_ckpt_find(c, 99, NULL));
	weir_ckpt_close(c);

	/* the explicit-path reader sees the same file */
	c = weir_ckpt_open(pathf(ckpt_name(1)), &why, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(weir_ckpt_nsections(c), 5);
	weir_ckpt_close(c);
	free(big);
	free(streamed);
}

Test(ckpt, zero_sections_and_writer_misuse, .init = make_tmpdir, .fini = cleanup)
{
	char err[512], longname[64];
	enum weir_ckpt_reason why;
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));

	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), 0, "%s", err);
	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, NULL, NULL, &why, err, sizeof(err));

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(weir_ckpt_nsections(c), 0);
	cr_assert_neq(weir_ckpt_info(c)->created_ns, 0); /* 0 means now */
	weir_ckpt_close(c);

	/* a name too long fails the writer; commit then fails and cleans up */
	memset(longname, 'x', 33);
	longname[33] = 0;
	w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));
	cr_assert_not_null(w);
	cr_assert_eq(weir_ckpt_add_section(w, 1, "ok", "a", 1), 0);
	cr_assert_eq(weir_ckpt_add_section(w, 1, longname, "a", 1), -1);
	cr_assert(strstr(weir_ckpt_writer_error(w), "longer than 32"), "%s",
		  weir_ckpt_writer_error(w));
	cr_assert_eq(weir_ckpt_add_section(w, 1, "ok", "a", 1), -1); /* sticky */
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), -1);
	cr_assert(strstr(err, "longer than 32"), "%s", err);
	cr_assert_str_eq(listing(tmpdir), ckpt_name(1));

	/* unbalanced streaming */
	w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));
	cr_assert_eq(weir_ckpt_section_write(w, "a", 1), -1);
	weir_ckpt_abort(w);
	w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));
	cr_assert_eq(weir_ckpt_section_begin(w, 1, "s"), 0);
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), -1);
	cr_assert(strstr(err, "still open"), "%s", err);
	/* abort leaves nothing */
	w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));
	cr_assert_eq(weir_ckpt_add_section(w, 1, "s", "abc", 3), 0);
	weir_ckpt_abort(w);
	weir_ckpt_abort(NULL);
	cr_assert_str_eq(listing(tmpdir), ckpt_name(1));
}

Test(ckpt, keep_last_n, .init = make_tmpdir, .fini = cleanup)
{
	char err[512], want[512];

	for (uint64_t i = 1; i <= 6; i++) {
		struct weir_ckpt_meta m = { .generation = i * 10, .keep = 2 };
		struct weir_ckpt_writer *w = weir_ckpt_writer_open(tmpdir, &m, err, sizeof(err));

		cr_assert_not_null(w, "%s", err);
		cr_assert_eq(weir_ckpt_writer_seq(w), i);
		cr_assert_eq(weir_ckpt_add_section(w, 1, "gen", &i, sizeof(i)), 0);
		cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), 0, "%s", err);
	}
	snprintf(want, sizeof(want), "%s ", ckpt_name(5));
	strcat(want, ckpt_name(6));
	cr_assert_str_eq(listing(tmpdir), want);

	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, NULL, NULL, NULL, err, sizeof(err));

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(weir_ckpt_info(c)->generation, 60);
	weir_ckpt_close(c);

	/* the default keeps WEIR_CKPT_KEEP_DEFAULT; foreign files are never pruned */
	spew(pathf("notes.txt"), "x", 1);
	for (int i = 0; i < 4; i++)
		write_small(tmpdir, 0), (void)0;
	/* write_small keeps 100: now prune with the default */
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));

	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s ", ckpt_name(9));
	strcat(want, ckpt_name(10));
	strcat(want, " ");
	strcat(want, ckpt_name(11));
	strcat(want, " notes.txt");
	cr_assert_str_eq(listing(tmpdir), want);
}

/* ---- corruption ----------------------------------------------------------- */

/*
 * The reason a single-bit flip at byte `at` of write_small's file must give.
 * Layout: header 0..63; section 0 header 64..119, payload 120..132 (13 bytes),
 * padding 133..135; section 1 header 136..191, payload 192..199; trailer
 * 200..231.
 */
static enum weir_ckpt_reason flip_reason(size_t at)
{
	if (at < 8)
		return WEIR_CKPT_NOT_CKPT;
	if (at < 12)
		return WEIR_CKPT_VERSION_BAD;
	if (at < 64)
		return WEIR_CKPT_HEADER_CRC;
	if (at < 133)
		return WEIR_CKPT_SECTION_CRC;
	if (at < 136)
		return WEIR_CKPT_CORRUPT;
	if (at < 200)
		return WEIR_CKPT_SECTION_CRC;
	return WEIR_CKPT_TRAILER;
}

/* open_latest over good seq 1 + damaged seq 2: falls back and says so. */
static void expect_fallback(enum weir_ckpt_reason want, const char *ctx)
{
	char err[512];
	enum weir_ckpt_reason why;
	struct diags d = { 0 };
	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, collect, &d, &why, err, sizeof(err));

	cr_assert_not_null(c, "%s: %s", ctx, err);
	cr_assert_eq(weir_ckpt_info(c)->sequence, 1, "%s", ctx);
	cr_assert_eq(weir_ckpt_info(c)->generation, 100, "%s", ctx);
	cr_assert_eq(d.n, 2, "%s: %d diags", ctx, d.n);
	cr_assert_eq(d.why[0], want, "%s: got %s (%s)", ctx, weir_ckpt_reason_str(d.why[0]),
		     d.msg[0]);
	cr_assert(strstr(d.msg[0], ckpt_name(2)), "%s: %s", ctx, d.msg[0]);
	cr_assert_eq(d.why[1], WEIR_CKPT_FALLBACK, "%s", ctx);
	cr_assert(strstr(d.msg[1], ckpt_name(1)) && strstr(d.msg[1], "rejecting 1 newer"), "%s: %s",
		  ctx, d.msg[1]);
	weir_ckpt_close(c);
}

Test(corrupt, truncate_at_every_offset, .init = make_tmpdir, .fini = cleanup)
{
	size_t len;
	char err[512];
	enum weir_ckpt_reason why;

	cr_assert_eq(write_small(tmpdir, 100), 1);
	cr_assert_eq(write_small(tmpdir, 200), 2);
	uint8_t *good = slurp(pathf(ckpt_name(2)), &len);

	cr_assert_eq(len, 232);
	for (size_t cut = 0; cut < len; cut++) {
		char ctx[64];
		enum weir_ckpt_reason want = cut ? WEIR_CKPT_TRUNCATED : WEIR_CKPT_EMPTY;

		snprintf(ctx, sizeof(ctx), "cut at %zu", cut);
		spew(pathf(ckpt_name(2)), good, cut);
		cr_assert_null(weir_ckpt_open(pathf(ckpt_name(2)), &why, err, sizeof(err)), "%s", ctx);
		cr_assert_eq(why, want, "%s: %s", ctx, err);
		cr_assert(strstr(err, ckpt_name(2)), "%s: %s", ctx, err);
		expect_fallback(want, ctx);
	}
	/* and bytes appended after the trailer */
	uint8_t *longer = malloc(len + 8);

	memcpy(longer, good, len);
	memset(longer + len, 0, 8);
	spew(pathf(ckpt_name(2)), longer, len + 8);
	expect_fallback(WEIR_CKPT_TRAILER, "8 bytes appended");
	free(longer);
	/* the intact file is accepted again */
	spew(pathf(ckpt_name(2)), good, len);
	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, NULL, NULL, &why, err, sizeof(err));

	cr_assert_eq(weir_ckpt_info(c)->generation, 200);
	weir_ckpt_close(c);
	free(good);
}

Test(corrupt, every_single_bit_flip, .init = make_tmpdir, .fini = cleanup)
{
	size_t len;
	char err[512];
	enum weir_ckpt_reason why;

	write_small(tmpdir, 100);
	write_small(tmpdir, 200);
	uint8_t *good = slurp(pathf(ckpt_name(2)), &len);

	for (size_t at = 0; at < len; at++)
		for (int bit = 0; bit < 8; bit++) {
			char ctx[64];

			snprintf(ctx, sizeof(ctx), "bit %d of byte %zu", bit, at);
			good[at] ^= (uint8_t)(1u << bit);
			spew(pathf(ckpt_name(2)), good, len);
			good[at] ^= (uint8_t)(1u << bit);
			cr_assert_null(weir_ckpt_open(pathf(ckpt_name(2)), &why, err, sizeof(err)),
				       "%s", ctx);
			cr_assert_eq(why, flip_reason(at), "%s: got %s: %s", ctx,
				     weir_ckpt_reason_str(why), err);
			if (bit == 0) /* the directory scan too, once a byte */
				expect_fallback(flip_reason(at), ctx);
		}
	/* the messages name what was hit */
	good[125] ^= 1;
	spew(pathf(ckpt_name(2)), good, len);
	cr_assert_null(weir_ckpt_open(pathf(ckpt_name(2)), &why, err, sizeof(err)));
	cr_assert(strstr(err, "bad section CRC") && strstr(err, "section 0 'flows'"), "%s", err);
	free(good);
}

/* Rewrites the header's version field and its CRC: a well-formed future file. */
Test(corrupt, wrong_version_magic_empty_and_odd_entries, .init = make_tmpdir, .fini = cleanup)
{
	size_t len;
	char err[512];
	enum weir_ckpt_reason why;

	write_small(tmpdir, 100);
	write_small(tmpdir, 200);
	uint8_t *b = slurp(pathf(ckpt_name(2)), &len);

	/* version 2 with a correct header CRC */
	b[8] = 2;
	memset(b + 60, 0, 4);
	uint32_t crc = weir_crc32c(0, b, 64);

	for (int i = 0; i < 4; i++)
		b[60 + i] = (uint8_t)(crc >> (8 * i));
	spew(pathf(ckpt_name(2)), b, len);
	cr_assert_null(weir_ckpt_open(pathf(ckpt_name(2)), &why, err, sizeof(err)));
	cr_assert_eq(why, WEIR_CKPT_VERSION_BAD);
	cr_assert(strstr(err, "wrong version") && strstr(err, "version 2"), "%s", err);
	expect_fallback(WEIR_CKPT_VERSION_BAD, "version 2");

	/* someone else's file under a checkpoint name */
	spew(pathf(ckpt_name(2)), "PK\3\4 this is a zip file, honest", 31);
	expect_fallback(WEIR_CKPT_NOT_CKPT, "foreign content");
	spew(pathf(ckpt_name(2)), "", 0);
	expect_fallback(WEIR_CKPT_EMPTY, "zero-length");
	cr_assert_eq(unlink(pathf(ckpt_name(2))), 0);
	cr_assert_eq(mkdir(pathf(ckpt_name(2)), 0755), 0);
	expect_fallback(WEIR_CKPT_NOT_REGULAR, "a directory");
	cr_assert_eq(rmdir(pathf(ckpt_name(2))), 0);
	cr_assert_eq(mkfifo(pathf(ckpt_name(2)), 0644), 0); /* opening must not block */
	expect_fallback(WEIR_CKPT_NOT_REGULAR, "a fifo");
	cr_assert_eq(unlink(pathf(ckpt_name(2))), 0);

	/* all at once: newest first, each reported, foreign names ignored */
	spew(pathf("ckpt-7.wckpt"), "x", 1);          /* malformed name */
	spew(pathf("ckpt-notes.txt"), "x", 1);        /* foreign */
	spew(pathf(".ckpt-00000000000000000009.wckpt.tmp.1"), "x", 1); /* a dead writer's */
	spew(pathf(ckpt_name(5)), "", 0);
	spew(pathf(ckpt_name(4)), b, len);            /* version 2 */
	size_t len1;
	uint8_t *one = slurp(pathf(ckpt_name(1)), &len1);

	spew(pathf(ckpt_name(3)), one, 100);          /* truncated */
	free(one);
	struct diags d = { 0 };
	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, collect, &d, &why, err, sizeof(err));

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(weir_ckpt_info(c)->sequence, 1);
	cr_assert_eq(d.n, 4);
	cr_assert_eq(d.why[0], WEIR_CKPT_EMPTY, "%s", d.msg[0]);
	cr_assert_eq(d.why[1], WEIR_CKPT_VERSION_BAD, "%s", d.msg[1]);
	cr_assert_eq(d.why[2], WEIR_CKPT_TRUNCATED, "%s", d.msg[2]);
	cr_assert_eq(d.why[3], WEIR_CKPT_FALLBACK, "%s", d.msg[3]);
	cr_assert(strstr(d.msg[3], "rejecting 3 newer"), "%s", d.msg[3]);
	weir_ckpt_close(c);
	/* a new writer continues after the highest name, good or not */
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));

	cr_assert_eq(weir_ckpt_writer_seq(w), 6);
	weir_ckpt_abort(w);

	/* nothing valid; nothing at all */
	cr_assert_eq(unlink(pathf(ckpt_name(1))), 0);
	cr_assert_eq(unlink(pathf(ckpt_name(2))) == 0 || errno == ENOENT, 1);
	/* the FILE * diag prints one line per report */
	char *txt = NULL;
	size_t txtlen = 0;
	FILE *mem = open_memstream(&txt, &txtlen);

	c = weir_ckpt_open_latest(tmpdir, weir_ckpt_diag_file, mem, &why, err, sizeof(err));
	weir_ckpt_close(c);
	fclose(mem);
	cr_assert(strstr(txt, "weir ckpt: ") && strstr(txt, "wrong version"), "%s", txt);
	cr_assert(strstr(txt, "ckpt-7.wckpt"), "%s", txt); /* reported as malformed, skipped */
	free(txt);

	cr_assert_null(weir_ckpt_open_latest(tmpdir, NULL, NULL, &why, err, sizeof(err)));
	cr_assert_eq(why, WEIR_CKPT_NO_VALID, "%s", err);
	cr_assert(strstr(err, "no valid checkpoint"), "%s", err);
	rm_rf(tmpdir);
	cr_assert_eq(mkdir(tmpdir, 0700), 0);
	cr_assert_null(weir_ckpt_open_latest(tmpdir, NULL, NULL, &why, err, sizeof(err)));
	cr_assert_eq(why, WEIR_CKPT_NONE, "%s", err);
	free(b);
}

/* ---- I/O errors ----------------------------------------------------------- */

Test(io, unwritable_or_missing_directory, .init = make_tmpdir, .fini = cleanup)
{
	char err[512];
	enum weir_ckpt_reason why;

	cr_assert_null(weir_ckpt_writer_open(pathf("missing"), NULL, err, sizeof(err)));
	cr_assert(strstr(err, "missing") && strstr(err, strerror(ENOENT)), "%s", err);
	cr_assert_null(weir_ckpt_open_latest(pathf("missing"), NULL, NULL, &why, err, sizeof(err)));
	cr_assert_eq(why, WEIR_CKPT_IO);

	/* root ignores mode bits: /proc refuses new files to everyone */
	cr_assert_null(weir_ckpt_writer_open("/proc", NULL, err, sizeof(err)));
	cr_assert(strstr(err, "/proc/.ckpt-") && strstr(err, "create"), "%s", err);
	if (geteuid() != 0) {
		write_small(tmpdir, 100);
		cr_assert_eq(chmod(tmpdir, 0500), 0);
		cr_assert_null(weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err)));
		cr_assert(strstr(err, strerror(EACCES)), "%s", err);
		cr_assert_eq(chmod(tmpdir, 0700), 0);
		cr_assert_str_eq(listing(tmpdir), ckpt_name(1));
	}
}

static char mnt[256];

static void unmount(void)
{
	if (mnt[0])
		umount2(mnt, MNT_DETACH);
	mnt[0] = 0;
	cleanup();
}

Test(io, full_and_readonly_filesystem, .init = make_tmpdir, .fini = unmount)
{
	char err[512];
	enum weir_ckpt_reason why;

	if (mount("tmpfs", tmpdir, "tmpfs", 0, "size=64k,mode=0700") != 0)
		cr_skip_test("cannot mount a tmpfs on %s (%s): ENOSPC/EROFS cases skipped", tmpdir,
			     strerror(errno));
	snprintf(mnt, sizeof(mnt), "%s", tmpdir);
	write_small(tmpdir, 100);

	/* 1 MiB does not fit in 64 KiB: fails at a write or at commit's flush */
	uint8_t *big = calloc(1, 1 << 20);
	struct weir_ckpt_writer *w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));

	cr_assert_not_null(w, "%s", err);
	int rc = weir_ckpt_add_section(w, 1, "big", big, 1 << 20);

	cr_assert_eq(rc, -1);
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), -1);
	cr_assert(strstr(err, strerror(ENOSPC)) && strstr(err, tmpdir) && strstr(err, ".tmp."),
		  "%s", err);
	cr_log_info("full filesystem: %s\n", err);
	cr_assert_str_eq(listing(tmpdir), ckpt_name(1)); /* no temp file left */

	/* streamed: the failure surfaces in section_write or later, same outcome */
	w = weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(weir_ckpt_section_begin(w, 1, "s"), 0);
	for (int i = 0; i < 16; i++)
		weir_ckpt_section_write(w, big, 1 << 16);
	weir_ckpt_section_end(w);
	cr_assert_eq(weir_ckpt_commit(w, err, sizeof(err)), -1);
	cr_assert(strstr(err, strerror(ENOSPC)), "%s", err);
	cr_assert_str_eq(listing(tmpdir), ckpt_name(1));

	struct weir_ckpt *c = weir_ckpt_open_latest(tmpdir, NULL, NULL, &why, err, sizeof(err));

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(weir_ckpt_info(c)->generation, 100);
	weir_ckpt_close(c);

	/* a small one still fits afterwards */
	cr_assert_eq(write_small(tmpdir, 200), 2);

	/* read-only: refused at open, nothing changes, still readable */
	if (mount(NULL, tmpdir, NULL, MS_REMOUNT | MS_RDONLY, "size=64k") != 0)
		cr_skip_test("cannot remount read-only (%s)", strerror(errno));
	cr_assert_null(weir_ckpt_writer_open(tmpdir, NULL, err, sizeof(err)));
	cr_assert(strstr(err, strerror(EROFS)) && strstr(err, tmpdir), "%s", err);
	c = weir_ckpt_open_latest(tmpdir, NULL, NULL, &why, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(weir_ckpt_info(c)->generation, 200);
	weir_ckpt_close(c);
	free(big);
}
