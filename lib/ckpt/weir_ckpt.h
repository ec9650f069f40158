/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_ckpt: checkpoint files. A checkpoint is one file in a directory,
 * written to a temp name and renamed into place only once it is complete
 * and on disk, so a crash at any moment leaves either the old set of
 * checkpoints or the old set plus one complete new file. Readers validate
 * every byte they hand out (CRC32C everywhere, lengths against the file's
 * size) and fall back to older files when the newest is damaged.
 *
 * This runs off the data path: it allocates, blocks on I/O and fsyncs.
 * One writer per directory at a time (sequence numbers are taken from the
 * directory listing when a writer opens).
 *
 * File name: ckpt-<sequence, 20 decimal digits>.wckpt, so names sort like
 * sequences. Temp files are .ckpt-<sequence>.wckpt.tmp.<pid> (a leading dot,
 * never matching the checkpoint pattern). Other names are ignored.
 *
 * Format, version 1. All integers little-endian; all offsets and lengths in
 * bytes; every structure starts at an 8-byte aligned offset, so payloads are
 * 8-byte aligned in the file and in the reader's buffer.
 *
 *   file header (64 bytes)
 *     0  char[8]  magic "WEIRCKPT"
 *     8  u32      format version (1)
 *    12  u32      header length (64 in version 1)
 *    16  u64      creation time, ns since the Unix epoch (CLOCK_REALTIME)
 *    24  u64      generation id (the caller's: e.g. the checkpoint epoch)
 *    32  u64      config hash (the caller's: what the state was built under)
 *    40  u64      sequence (the one in the file name)
 *    48  u32      number of sections
 *    52  u32      flags (0)
 *    56  u32      reserved (0)
 *    60  u32      CRC32C of the 64 header bytes, this field taken as 0
 *   then, per section:
 *   section header (56 bytes)
 *     0  u32      type id (the caller's)
 *     4  u32      flags (0)
 *     8  char[32] name, NUL-padded (32 bytes used: no NUL)
 *    40  u64      payload length
 *    48  u32      CRC32C of the payload
 *    52  u32      CRC32C of bytes 0..51 of this section header
 *   payload (payload length bytes), then zero bytes up to a multiple of 8
 *   trailer (32 bytes)
 *     0  char[8]  magic "WCKPTEND"
 *     8  u32      number of sections (again)
 *    12  u32      the file header's CRC (ties the trailer to its header)
 *    16  u64      file length, trailer included (nothing may follow)
 *    24  u32      reserved (0)
 *    28  u32      CRC32C of trailer bytes 0..27
 *
 * The section header has its own CRC so a damaged length is caught before
 * it is used to skip ahead. The trailer is written last and names the file's
 * length, so any truncation (and any appended garbage) is detected.
 * CRC32C is the Castagnoli polynomial (reflected 0x82F63B78, init and final
 * xor ~0): the iSCSI/ext4 one, SSE4.2 `crc32` instruction.
 */
#ifndef WEIR_CKPT_H
#define WEIR_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WEIR_CKPT_VERSION 1
#define WEIR_CKPT_NAME_MAX 32 /* section name bytes (no NUL needed at 32) */
#define WEIR_CKPT_KEEP_DEFAULT 3

/* ---- CRC32C ---------------------------------------------------------------- */

/*
 * CRC32C of buf, continuing from crc (0 to start): chainable, so
 * weir_crc32c(weir_crc32c(0, a, n), b, m) is the CRC of a then b.
 * Uses SSE4.2 when compiled for it, else the table.
 */
uint32_t weir_crc32c(uint32_t crc, const void *buf, size_t len);
/* The same with the portable table always: for tests and comparisons. */
uint32_t weir_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* 1 when weir_crc32c uses the SSE4.2 instruction. */
int weir_crc32c_hw(void);

/* ---- why a file is rejected (or how a lookup ended) ------------------------ */

enum weir_ckpt_reason {
	WEIR_CKPT_OK = 0,
	WEIR_CKPT_IO,           /* open/read/stat failed (errno in the message) */
	WEIR_CKPT_NOT_REGULAR,  /* named like a checkpoint, not a regular file */
	WEIR_CKPT_BAD_NAME,     /* ckpt-*.wckpt without 20 digits */
	WEIR_CKPT_EMPTY,        /* zero-length file */
	WEIR_CKPT_NOT_CKPT,     /* bad magic: not a weir checkpoint */
	WEIR_CKPT_VERSION_BAD,  /* wrong format version */
	WEIR_CKPT_TRUNCATED,    /* ends before its own lengths say */
	WEIR_CKPT_HEADER_CRC,   /* file header CRC mismatch */
	WEIR_CKPT_SECTION_CRC,  /* a section header's or payload's CRC mismatch */
	WEIR_CKPT_TRAILER,      /* trailer missing, damaged or not matching */
	WEIR_CKPT_CORRUPT,      /* other inconsistency (lengths, padding, ...) */
	WEIR_CKPT_NONE,         /* open_latest: no checkpoint in the directory */
	WEIR_CKPT_NO_VALID,     /* open_latest: checkpoints, none valid */
	WEIR_CKPT_FALLBACK,     /* diag only: using an older file than the newest */
};

/* A short name for a reason ("truncated", "bad section CRC", ...). */
const char *weir_ckpt_reason_str(enum weir_ckpt_reason r);

/*
 * Diagnostics from open_latest: one call per rejected file (path, reason,
 * a message naming the file and the reason: "ckpt-...: truncated: file is
 * 100 bytes, section 2 'flows' needs 4096 more"), and one WEIR_CKPT_FALLBACK
 * call naming the file used when newer ones were rejected.
 */
typedef void (*weir_ckpt_diag_fn)(void *arg, const char *path, enum weir_ckpt_reason why,
				  const char *msg);
/* A ready-made diag: prints "weir ckpt: <msg>\n" to the FILE * given as arg. */
void weir_ckpt_diag_file(void *arg, const char *path, enum weir_ckpt_reason why,
			 const char *msg);

/* ---- writer ------------------------------------------------------------------ */

struct weir_ckpt_writer;

struct weir_ckpt_meta {
	uint64_t generation;  /* stored as is */
	uint64_t config_hash; /* stored as is */
	uint64_t created_ns;  /* 0: now */
	unsigned keep;        /* checkpoints kept after a commit; 0: WEIR_CKPT_KEEP_DEFAULT */
};

/*
 * Start a checkpoint in `dir` (which must exist): picks the next sequence
 * (1 + the highest ckpt-*.wckpt name there), creates the temp file and
 * writes a placeholder header. NULL with err filled ("PATH: strerror") on
 * failure; nothing is left behind then.
 */
struct weir_ckpt_writer *weir_ckpt_writer_open(const char *dir, const struct weir_ckpt_meta *meta,
					       char *err, size_t errlen);

/* The sequence and final path this writer commits to. */
uint64_t weir_ckpt_writer_seq(const struct weir_ckpt_writer *w);
const char *weir_ckpt_writer_path(const struct weir_ckpt_writer *w);

/*
 * Append a whole section. Names longer than WEIR_CKPT_NAME_MAX are refused.
 * 0, or -1 with weir_ckpt_writer_error() set; after any error the writer
 * only accepts commit (which then fails and cleans up) or abort.
 */
int weir_ckpt_add_section(struct weir_ckpt_writer *w, uint32_t type, const char *name,
			  const void *data, size_t len);

/* The same streamed: begin, any number of writes, end. One open at a time. */
int weir_ckpt_section_begin(struct weir_ckpt_writer *w, uint32_t type, const char *name);
int weir_ckpt_section_write(struct weir_ckpt_writer *w, const void *data, size_t len);
int weir_ckpt_section_end(struct weir_ckpt_writer *w);

/* The last error ("" if none). */
const char *weir_ckpt_writer_error(const struct weir_ckpt_writer *w);

/*
 * Finish: trailer, final header, fflush + fsync, rename to the final name,
 * fsync the directory, then delete all but the newest `keep` checkpoints.
 * Frees w. 0, or -1 with err naming the path and strerror (or the earlier
 * error): the temp file is removed and older checkpoints are untouched.
 * (If only the directory fsync fails, the new file is in place but may not
 * survive a power loss: that is still reported as -1.)
 */
int weir_ckpt_commit(struct weir_ckpt_writer *w, char *err, size_t errlen);

/* Drop the checkpoint: removes the temp file, frees w. NULL is ignored. */
void weir_ckpt_abort(struct weir_ckpt_writer *w);

/* ---- reader ------------------------------------------------------------------ */

struct weir_ckpt; /* a validated checkpoint, read whole into memory */

struct weir_ckpt_info {
	uint32_t version;
	uint64_t created_ns, generation, config_hash, sequence;
	uint32_t nsections;
	uint64_t file_len;
};

struct weir_ckpt_section {
	uint32_t type;
	char name[WEIR_CKPT_NAME_MAX + 1]; /* NUL-terminated */
	const void *data;                  /* 8-byte aligned; valid until close */
	uint64_t len;
};

/*
 * Read and fully validate one file. NULL with err ("PATH: reason: detail")
 * and *why (if given) on failure.
 */
struct weir_ckpt *weir_ckpt_open(const char *path, enum weir_ckpt_reason *why, char *err,
				 size_t errlen);

/*
 * The newest valid checkpoint in dir: candidates newest sequence first,
 * each rejected one reported to diag (may be NULL). NULL when none: *why is
 * WEIR_CKPT_NONE (a fresh start), WEIR_CKPT_NO_VALID, or WEIR_CKPT_IO
 * (directory unreadable), with err filled.
 */
struct weir_ckpt *weir_ckpt_open_latest(const char *dir, weir_ckpt_diag_fn diag, void *arg,
					enum weir_ckpt_reason *why, char *err, size_t errlen);

const struct weir_ckpt_info *weir_ckpt_info(const struct weir_ckpt *c);
const char *weir_ckpt_path(const struct weir_ckpt *c);
unsigned weir_ckpt_nsections(const struct weir_ckpt *c);
/* Section i in file order (NULL past the end). */
const struct weir_ckpt_section *weir_ckpt_section(const struct weir_ckpt *c, unsigned i);
/* The first section with this type and (unless name is NULL) name, or NULL. */
const struct weir_ckpt_section *weir_ckpt_find(const struct weir_ckpt *c, uint32_t type,
					       const char *name);
void weir_ckpt_close(struct weir_ckpt *c);

#endif
