/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_ckpt: checkpoint files (format in weir_ckpt.h).
 */
#include "weir_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#define HDR_LEN 64
#define SEC_LEN 56
#define TRL_LEN 32
#define SEC_CRC_OFF 52
#define HDR_CRC_OFF 60
#define TRL_CRC_OFF 28

static const char file_magic[8] = { 'W', 'E', 'I', 'R', 'C', 'K', 'P', 'T' };
static const char trl_magic[8] = { 'W', 'C', 'K', 'P', 'T', 'E', 'N', 'D' };
static const uint8_t zeros[8];

/* ---- CRC32C ---------------------------------------------------------------- */

static uint32_t crc_table[256];

/* Built once at load: a constructor keeps the lookup free of locking. */
__attribute__((constructor)) static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & -(c & 1));
		crc_table[i] = c;
	}
}

uint32_t weir_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--)
		crc = (crc >> 8) ^ crc_table[(crc ^ *p++) & 0xff];
	return ~crc;
}

uint32_t weir_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef __SSE4_2__
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8); /* unaligned-safe; compiles to one load */
		c = _mm_crc32_u64(c, v);
	}
	uint32_t c32 = (uint32_t)c;

	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return ~c32;
#else
	return weir_crc32c_sw(crc, buf, len);
#endif
}

int weir_crc32c_hw(void)
{
#ifdef __SSE4_2__
	return 1;
#else
	return 0;
#endif
}

/* ---- little-endian fields (explicit, so the format is host-independent) ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static size_t pad8(uint64_t n)
{
	return (size_t)((8 - (n & 7)) & 7);
}

static void fmt(char *err, size_t errlen, const char *f, ...)
	__attribute__((format(printf, 3, 4)));
static void fmt(char *err, size_t errlen, const char *f, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, f);
	vsnprintf(err, errlen, f, ap);
	va_end(ap);
}

const char *weir_ckpt_reason_str(enum weir_ckpt_reason r)
{
	switch (r) {
	case WEIR_CKPT_OK: return "ok";
	case WEIR_CKPT_IO: return "I/O error";
	case WEIR_CKPT_NOT_REGULAR: return "not a regular file";
	case WEIR_CKPT_BAD_NAME: return "malformed checkpoint name";
	case WEIR_CKPT_EMPTY: return "empty file";
	case WEIR_CKPT_NOT_CKPT: return "not a weir checkpoint";
	case WEIR_CKPT_VERSION_BAD: return "wrong version";
	case WEIR_CKPT_TRUNCATED: return "truncated";
	case WEIR_CKPT_HEADER_CRC: return "bad header CRC";
	case WEIR_CKPT_SECTION_CRC: return "bad section CRC";
	case WEIR_CKPT_TRAILER: return "bad trailer";
	case WEIR_CKPT_CORRUPT: return "corrupt";
	case WEIR_CKPT_NONE: return "no checkpoint";
	case WEIR_CKPT_NO_VALID: return "no valid checkpoint";
	case WEIR_CKPT_FALLBACK: return "using an older checkpoint";
	}
	return "?";
}

void weir_ckpt_diag_file(void *arg, const char *path, enum weir_ckpt_reason why, const char *msg)
{
	fprintf(arg ? (FILE *)arg : stderr, "weir ckpt: %s\n", msg);
}

/* ---- directory listing ------------------------------------------------------- */

#define PFX "ckpt-"
#define SFX ".wckpt"
#define SEQ_DIGITS 20

/* 1: a checkpoint name (seq set); 0: foreign; -1: ckpt-*.wckpt, bad digits. */
static int parse_name(const char *name, uint64_t *seq)
{
	size_t n = strlen(name), pl = strlen(PFX), sl = strlen(SFX);

	if (n < pl + sl || strncmp(name, PFX, pl) || strcmp(name + n - sl, SFX))
		return 0;
	if (n != pl + SEQ_DIGITS + sl)
		return -1;
	uint64_t v = 0;

	for (size_t i = pl; i < pl + SEQ_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		unsigned d = (unsigned)(name[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*seq = v;
	return 1;
}

struct entry {
	uint64_t seq;
	int kind; /* 1 good name, -1 bad name */
	char name[256];
};

static int cmp_newest_first(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind > y->kind ? -1 : 1; /* well-named first */
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The checkpoint-like names in dir, newest first. -1 with err on failure. */
static int list_dir(const char *dir, struct entry **out, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;

	if (!d) {
		fmt(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	errno = 0;
	while ((de = readdir(d))) {
		uint64_t seq = 0;
		int k = parse_name(de->d_name, &seq);

		if (!k || strlen(de->d_name) >= sizeof(v->name))
			continue;
		if (cnt == cap) {
			struct entry *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				fmt(err, errlen, "%s: out of memory", dir);
				return -1;
			}
			v = nv;
		}
		v[cnt].seq = seq;
		v[cnt].kind = k;
		strcpy(v[cnt].name, de->d_name);
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_newest_first);
	*out = v;
	*n = cnt;
	return 0;
}

static int fsync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		fmt(err, errlen, "%s: fsync directory: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* ---- writer ------------------------------------------------------------------ */

struct weir_ckpt_writer {
	FILE *fp;
	char *dir, *tmp, *final;
	uint64_t seq, created_ns, generation, config_hash;
	unsigned keep;
	uint32_t nsec;
	uint64_t off; /* bytes written so far (the file's length) */
	bool failed;
	/* the open streamed section */
	bool in_sec;
	uint64_t sec_off, sec_len;
	uint32_t sec_type, sec_crc;
	char sec_name[WEIR_CKPT_NAME_MAX];
	char err[512];
};

const char *weir_ckpt_writer_error(const struct weir_ckpt_writer *w)
{
	return w->err;
}

uint64_t weir_ckpt_writer_seq(const struct weir_ckpt_writer *w)
{
	return w->seq;
}

const char *weir_ckpt_writer_path(const struct weir_ckpt_writer *w)
{
	return w->final;
}

/* Records the first error (later ones are usually its consequences). */
static int wfail(struct weir_ckpt_writer *w, const char *f, ...) __attribute__((format(printf, 2, 3)));
static int wfail(struct weir_ckpt_writer *w, const char *f, ...)
{
	if (!w->failed) {
		va_list ap;

		va_start(ap, f);
		vsnprintf(w->err, sizeof(w->err), f, ap);
		va_end(ap);
		w->failed = true;
	}
	return -1;
}

static int wwrite(struct weir_ckpt_writer *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->fp) != n)
		return wfail(w, "%s: write: %s", w->tmp, strerror(errno));
	w->off += n;
	return 0;
}

static int wpatch(struct weir_ckpt_writer *w, uint64_t at, const void *p, size_t n)
{
	if (fseeko(w->fp, (off_t)at, SEEK_SET) || fwrite(p, 1, n, w->fp) != n ||
	    fseeko(w->fp, (off_t)w->off, SEEK_SET))
		return wfail(w, "%s: write: %s", w->tmp, strerror(errno));
	return 0;
}

static void free_writer(struct weir_ckpt_writer *w)
{
	if (w->fp)
		fclose(w->fp);
	free(w->dir);
	free(w->tmp);
	free(w->final);
	free(w);
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void fill_header(uint8_t h[HDR_LEN], const struct weir_ckpt_writer *w)
{
	memset(h, 0, HDR_LEN);
	memcpy(h, file_magic, 8);
	put32(h + 8, WEIR_CKPT_VERSION);
	put32(h + 12, HDR_LEN);
	put64(h + 16, w->created_ns);
	put64(h + 24, w->generation);
	put64(h + 32, w->config_hash);
	put64(h + 40, w->seq);
	put32(h + 48, w->nsec);
	put32(h + HDR_CRC_OFF, weir_crc32c(0, h, HDR_LEN));
}

struct weir_ckpt_writer *weir_ckpt_writer_open(const char *dir, const struct weir_ckpt_meta *meta,
					       char *err, size_t errlen)
{
	struct weir_ckpt_writer *w = calloc(1, sizeof(*w));
	struct entry *ents = NULL;
	size_t n = 0;
	char name[64];

	if (!w) {
		fmt(err, errlen, "%s: out of memory", dir);
		return NULL;
	}
	if (list_dir(dir, &ents, &n, err, errlen) < 0) {
		free(w);
		return NULL;
	}
	/* newest first, well-named first: ents[0] holds the highest sequence */
	w->seq = (n && ents[0].kind == 1) ? ents[0].seq + 1 : 1;
	free(ents);
	if (meta) {
		w->generation = meta->generation;
		w->config_hash = meta->config_hash;
		w->created_ns = meta->created_ns;
		w->keep = meta->keep;
	}
	if (!w->keep)
		w->keep = WEIR_CKPT_KEEP_DEFAULT;
	if (!w->created_ns) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		w->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	w->dir = strdup(dir);
	snprintf(name, sizeof(name), PFX "%020" PRIu64 SFX, w->seq);
	w->final = path_join(dir, name);
	snprintf(name, sizeof(name), "." PFX "%020" PRIu64 SFX ".tmp.%ld", w->seq, (long)getpid());
	w->tmp = path_join(dir, name);
	if (!w->dir || !w->final || !w->tmp) {
		fmt(err, errlen, "%s: out of memory", dir);
		free_writer(w);
		return NULL;
	}
	int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0 || !(w->fp = fdopen(fd, "wb"))) {
		fmt(err, errlen, "%s: create: %s", w->tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(w->tmp);
		}
		free_writer(w);
		return NULL;
	}
	uint8_t h[HDR_LEN];

	fill_header(h, w); /* placeholder: the section count is patched at commit */
	if (wwrite(w, h, HDR_LEN) < 0) {
		fmt(err, errlen, "%s", w->err);
		weir_ckpt_abort(w);
		return NULL;
	}
	return w;
}

static void fill_sec(uint8_t s[SEC_LEN], uint32_t type, const char *name, uint64_t len,
		     uint32_t crc)
{
	memset(s, 0, SEC_LEN);
	put32(s, type);
	memcpy(s + 8, name, WEIR_CKPT_NAME_MAX);
	put64(s + 40, len);
	put32(s + 48, crc);
	put32(s + SEC_CRC_OFF, weir_crc32c(0, s, SEC_CRC_OFF));
}

int weir_ckpt_section_begin(struct weir_ckpt_writer *w, uint32_t type, const char *name)
{
	uint8_t s[SEC_LEN] = { 0 };

	if (w->failed)
		return -1;
	if (w->in_sec)
		return wfail(w, "%s: section begun inside section '%.32s'", w->tmp, w->sec_name);
	if (!name)
		name = "";
	if (strlen(name) > WEIR_CKPT_NAME_MAX)
		return wfail(w, "%s: section name '%s' longer than %d bytes", w->tmp, name,
			     WEIR_CKPT_NAME_MAX);
	if (w->nsec == UINT32_MAX)
		return wfail(w, "%s: too many sections", w->tmp);
	memset(w->sec_name, 0, sizeof(w->sec_name));
	memcpy(w->sec_name, name, strlen(name));
	w->sec_type = type;
	w->sec_off = w->off;
	w->sec_len = 0;
	w->sec_crc = 0;
	w->in_sec = true;
	/* placeholder header: the length and CRC are only known at the end */
	return wwrite(w, s, SEC_LEN);
}

int weir_ckpt_section_write(struct weir_ckpt_writer *w, const void *data, size_t len)
{
	if (w->failed)
		return -1;
	if (!w->in_sec)
		return wfail(w, "%s: section write outside a section", w->tmp);
	if (!len)
		return 0;
	w->sec_crc = weir_crc32c(w->sec_crc, data, len);
	w->sec_len += len;
	return wwrite(w, data, len);
}

int weir_ckpt_section_end(struct weir_ckpt_writer *w)
{
	uint8_t s[SEC_LEN];

	if (w->failed)
		return -1;
	if (!w->in_sec)
		return wfail(w, "%s: section end outside a section", w->tmp);
	if (wwrite(w, zeros, pad8(w->sec_len)) < 0)
		return -1;
	fill_sec(s, w->sec_type, w->sec_name, w->sec_len, w->sec_crc);
	if (wpatch(w, w->sec_off, s, SEC_LEN) < 0)
		return -1;
	w->in_sec = false;
	w->nsec++;
	return 0;
}

int weir_ckpt_add_section(struct weir_ckpt_writer *w, uint32_t type, const char *name,
			  const void *data, size_t len)
{
	if (weir_ckpt_section_begin(w, type, name) < 0 || weir_ckpt_section_write(w, data, len) < 0)
		return -1;
	return weir_ckpt_section_end(w);
}

void weir_ckpt_abort(struct weir_ckpt_writer *w)
{
	if (!w)
		return;
	if (w->fp) {
		fclose(w->fp);
		w->fp = NULL;
	}
	unlink(w->tmp);
	free_writer(w);
}

/* Delete all but the newest `keep` well-named checkpoints. Best effort. */
static void prune(const char *dir, unsigned keep)
{
	struct entry *ents = NULL;
	size_t n = 0, kept = 0;

	if (list_dir(dir, &ents, &n, NULL, 0) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (ents[i].kind != 1 || kept++ < keep)
			continue;
		char *p = path_join(dir, ents[i].name);

		if (p)
			unlink(p);
		free(p);
	}
	free(ents);
}

int weir_ckpt_commit(struct weir_ckpt_writer *w, char *err, size_t errlen)
{
	uint8_t t[TRL_LEN] = { 0 }, h[HDR_LEN];

	if (!w->failed && w->in_sec)
		wfail(w, "%s: commit with section '%.32s' still open", w->tmp, w->sec_name);
	if (!w->failed) {
		fill_header(h, w);
		memcpy(t, trl_magic, 8);
		put32(t + 8, w->nsec);
		put32(t + 12, get32(h + HDR_CRC_OFF));
		put64(t + 16, w->off + TRL_LEN);
		put32(t + TRL_CRC_OFF, weir_crc32c(0, t, TRL_CRC_OFF));
		if (wwrite(w, t, TRL_LEN) == 0)
			wpatch(w, 0, h, HDR_LEN);
	}
	/* ENOSPC and friends often surface only here, at flush, fsync or close */
	if (!w->failed && fflush(w->fp))
		wfail(w, "%s: write: %s", w->tmp, strerror(errno));
	if (!w->failed && fsync(fileno(w->fp)))
		wfail(w, "%s: fsync: %s", w->tmp, strerror(errno));
	if (!w->failed) {
		int rc = fclose(w->fp);

		w->fp = NULL;
		if (rc)
			wfail(w, "%s: close: %s", w->tmp, strerror(errno));
	}
	if (!w->failed && rename(w->tmp, w->final))
		wfail(w, "rename %s -> %s: %s", w->tmp, w->final, strerror(errno));
	if (w->failed) {
		fmt(err, errlen, "%s", w->err);
		weir_ckpt_abort(w);
		return -1;
	}
	/* the rename is durable only once the directory is */
	int rc = fsync_dir(w->dir, err, errlen);

	if (rc == 0)
		prune(w->dir, w->keep);
	free_writer(w);
	return rc;
}

/* ---- reader ------------------------------------------------------------------ */

struct weir_ckpt {
	char *path;
	uint8_t *buf;
	struct weir_ckpt_info info;
	struct weir_ckpt_section *sec;
};

const struct weir_ckpt_info *weir_ckpt_info(const struct weir_ckpt *c)
{
	return &c->info;
}

const char *weir_ckpt_path(const struct weir_ckpt *c)
{
	return c->path;
}

unsigned weir_ckpt_nsections(const struct weir_ckpt *c)
{
	return c->info.nsections;
}

const struct weir_ckpt_section *weir_ckpt_section(const struct weir_ckpt *c, unsigned i)
{
	return i < c->info.nsections ? &c->sec[i] : NULL;
}

const struct weir_ckpt_section *weir_ckpt_find(const struct weir_ckpt *c, uint32_t type,
					       const char *name)
{
	for (unsigned i = 0; i < c->info.nsections; i++)
		if (c->sec[i].type == type && (!name || !strcmp(c->sec[i].name, name)))
			return &c->sec[i];
	return NULL;
}

void weir_ckpt_close(struct weir_ckpt *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->buf);
	free(c->sec);
	free(c);
}

#define REJECT(r, ...)                                                     \
	do {                                                               \
		*why = (r);                                                \
		fmt(err, errlen, "%s: %s: ", path, weir_ckpt_reason_str(r)); \
		size_t _l = err ? strlen(err) : 0;                         \
		if (err && _l < errlen)                                    \
			fmt(err + _l, errlen - _l, __VA_ARGS__);           \
		return -1;                                                 \
	} while (0)

/*
 * Validate buf[0..size) and fill c. Checks run in the order that names the
 * most useful reason: magic before version (a foreign file is not "wrong
 * version"), version before CRC (a future version may lay its CRC
 * elsewhere), every length against the remaining bytes before it is used.
 */
static int validate(const char *path, const uint8_t *buf, uint64_t size, struct weir_ckpt *c,
		    enum weir_ckpt_reason *why, char *err, size_t errlen)
{
	if (size == 0)
		REJECT(WEIR_CKPT_EMPTY, "0 bytes");
	if (size < 8 && !memcmp(buf, file_magic, (size_t)size))
		REJECT(WEIR_CKPT_TRUNCATED, "file is %" PRIu64 " bytes, header needs %d", size,
		       HDR_LEN);
	if (size < 8 || memcmp(buf, file_magic, 8))
		REJECT(WEIR_CKPT_NOT_CKPT, "no WEIRCKPT magic");
	if (size < 16)
		REJECT(WEIR_CKPT_TRUNCATED, "file is %" PRIu64 " bytes, header needs %d", size,
		       HDR_LEN);
	uint32_t ver = get32(buf + 8), hlen = get32(buf + 12);

	if (ver != WEIR_CKPT_VERSION)
		REJECT(WEIR_CKPT_VERSION_BAD, "version %" PRIu32 " (this build reads %d)", ver,
		       WEIR_CKPT_VERSION);
	if (size < HDR_LEN)
		REJECT(WEIR_CKPT_TRUNCATED, "file is %" PRIu64 " bytes, header needs %d", size,
		       HDR_LEN);
	/* version 1's header is 64 bytes: the length field is checked under the CRC */
	uint8_t h[HDR_LEN];

	memcpy(h, buf, HDR_LEN);
	uint32_t hcrc = get32(h + HDR_CRC_OFF);

	put32(h + HDR_CRC_OFF, 0);
	uint32_t calc = weir_crc32c(0, h, HDR_LEN);

	if (calc != hcrc)
		REJECT(WEIR_CKPT_HEADER_CRC, "stored %08" PRIx32 ", computed %08" PRIx32, hcrc,
		       calc);
	if (hlen != HDR_LEN)
		REJECT(WEIR_CKPT_CORRUPT, "header length %" PRIu32 " (version 1 has %d)", hlen,
		       HDR_LEN);
	c->info.version = ver;
	c->info.created_ns = get64(buf + 16);
	c->info.generation = get64(buf + 24);
	c->info.config_hash = get64(buf + 32);
	c->info.sequence = get64(buf + 40);
	c->info.nsections = get32(buf + 48);
	c->info.file_len = size;

	uint64_t off = hlen, nsec = c->info.nsections;

	/* each section needs >= SEC_LEN bytes: bounds nsec before allocating */
	if (nsec > (size - off) / SEC_LEN)
		REJECT(WEIR_CKPT_TRUNCATED, "%" PRIu64 " sections do not fit in %" PRIu64 " bytes",
		       nsec, size);
	c->sec = calloc(nsec ? nsec : 1, sizeof(*c->sec));
	if (!c->sec)
		REJECT(WEIR_CKPT_IO, "out of memory");
	for (uint64_t i = 0; i < nsec; i++) {
		const uint8_t *s = buf + off;
		struct weir_ckpt_section *sec = &c->sec[i];

		if (size - off < SEC_LEN)
			REJECT(WEIR_CKPT_TRUNCATED, "file is %" PRIu64 " bytes, section %" PRIu64
			       " header at %" PRIu64 " needs %d", size, i, off, SEC_LEN);
		if (weir_crc32c(0, s, SEC_CRC_OFF) != get32(s + SEC_CRC_OFF))
			REJECT(WEIR_CKPT_SECTION_CRC, "header of section %" PRIu64
			       " (at offset %" PRIu64 ")", i, off);
		sec->type = get32(s);
		memcpy(sec->name, s + 8, WEIR_CKPT_NAME_MAX);
		sec->name[WEIR_CKPT_NAME_MAX] = 0;
		sec->len = get64(s + 40);
		off += SEC_LEN;
		if (sec->len > size - off || pad8(sec->len) > size - off - sec->len)
			REJECT(WEIR_CKPT_TRUNCATED, "file is %" PRIu64 " bytes, section %" PRIu64
			       " '%s' needs %" PRIu64 " at offset %" PRIu64, size, i, sec->name,
			       sec->len + pad8(sec->len), off);
		sec->data = buf + off;
		uint32_t pcrc = weir_crc32c(0, sec->data, sec->len);

		if (pcrc != get32(s + 48))
			REJECT(WEIR_CKPT_SECTION_CRC, "payload of section %" PRIu64 " '%s' (type %"
			       PRIu32 ", %" PRIu64 " bytes): stored %08" PRIx32 ", computed %08" PRIx32,
			       i, sec->name, sec->type, sec->len, get32(s + 48), pcrc);
		off += sec->len;
		if (memcmp(buf + off, zeros, pad8(sec->len)))
			REJECT(WEIR_CKPT_CORRUPT, "non-zero padding after section %" PRIu64 " '%s'",
			       i, sec->name);
		off += pad8(sec->len);
	}
	if (size - off < TRL_LEN)
		REJECT(WEIR_CKPT_TRUNCATED, "file is %" PRIu64 " bytes, trailer at %" PRIu64
		       " needs %d", size, off, TRL_LEN);
	const uint8_t *t = buf + off;

	if (memcmp(t, trl_magic, 8) || weir_crc32c(0, t, TRL_CRC_OFF) != get32(t + TRL_CRC_OFF))
		REJECT(WEIR_CKPT_TRAILER, "no valid trailer at offset %" PRIu64, off);
	if (get32(t + 8) != nsec || get32(t + 12) != hcrc)
		REJECT(WEIR_CKPT_TRAILER, "trailer does not match the header");
	if (get64(t + 16) != size || size - off != TRL_LEN)
		REJECT(WEIR_CKPT_TRAILER, "trailer says %" PRIu64 " bytes, file is %" PRIu64,
		       get64(t + 16), size);
	return 0;
}

/* Reads the whole file: a later truncation by someone else cannot fault us. */
static struct weir_ckpt *open_file(const char *path, enum weir_ckpt_reason *why, char *err,
				   size_t errlen)
{
	struct weir_ckpt *c = calloc(1, sizeof(*c));
	struct stat st;
	int fd = -1;

	*why = WEIR_CKPT_IO;
	if (!c || !(c->path = strdup(path))) {
		fmt(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fmt(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = WEIR_CKPT_NOT_REGULAR;
		fmt(err, errlen, "%s: %s", path, weir_ckpt_reason_str(*why));
		goto fail;
	}
	uint64_t size = (uint64_t)st.st_size, got = 0;

	c->buf = malloc(size ? size : 1);
	if (!c->buf) {
		fmt(err, errlen, "%s: out of memory for %" PRIu64 " bytes", path, size);
		goto fail;
	}
	while (got < size) {
		ssize_t r = read(fd, c->buf + got, size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fmt(err, errlen, "%s: read: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break; /* shrank since fstat: validate what is there */
		got += (uint64_t)r;
	}
	close(fd);
	fd = -1;
	if (validate(path, c->buf, got, c, why, err, errlen) < 0)
		goto fail;
	*why = WEIR_CKPT_OK;
	return c;
fail:
	if (fd >= 0)
		close(fd);
	weir_ckpt_close(c);
	return NULL;
}

struct weir_ckpt *weir_ckpt_open(const char *path, enum weir_ckpt_reason *why, char *err,
				 size_t errlen)
{
	enum weir_ckpt_reason r;

	struct weir_ckpt *c = open_file(path, &r, err, errlen);

	if (why)
		*why = r;
	return c;
}

struct weir_ckpt *weir_ckpt_open_latest(const char *dir, weir_ckpt_diag_fn diag, void *arg,
					enum weir_ckpt_reason *why, char *err, size_t errlen)
{
	struct entry *ents = NULL;
	size_t n = 0, rejected = 0;
	struct weir_ckpt *c = NULL;
	enum weir_ckpt_reason r = WEIR_CKPT_IO, dummy;
	char msg[768];

	if (!why)
		why = &dummy;
	if (list_dir(dir, &ents, &n, err, errlen) < 0) {
		*why = WEIR_CKPT_IO;
		return NULL;
	}
	for (size_t i = 0; i < n && !c; i++) {
		char *p = path_join(dir, ents[i].name);

		if (!p) {
			*why = WEIR_CKPT_IO;
			fmt(err, errlen, "%s: out of memory", dir);
			free(ents);
			return NULL;
		}
		if (ents[i].kind != 1) {
			r = WEIR_CKPT_BAD_NAME;
			snprintf(msg, sizeof(msg), "%s: %s: skipped", p, weir_ckpt_reason_str(r));
		} else {
			c = open_file(p, &r, msg, sizeof(msg));
		}
		if (!c) {
			rejected++;
			if (diag)
				diag(arg, p, r, msg);
		} else if (rejected && diag) {
			snprintf(msg, sizeof(msg), "%s: using it after rejecting %zu newer file(s)",
				 p, rejected);
			diag(arg, p, WEIR_CKPT_FALLBACK, msg);
		}
		free(p);
	}
	free(ents);
	if (c) {
		*why = WEIR_CKPT_OK;
	} else if (!rejected) {
		*why = WEIR_CKPT_NONE;
		fmt(err, errlen, "%s: no checkpoint", dir);
	} else {
		*why = WEIR_CKPT_NO_VALID;
		fmt(err, errlen, "%s: no valid checkpoint (%zu rejected)", dir, rejected);
	}
	return c;
}
