/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir-gen: parsing of --rate and --size (no DPDK: checked by `weir-gen --dry-run`).
 */
#ifndef WEIR_GEN_PARSE_H
#define WEIR_GEN_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum gen_rate_kind { RATE_MAX, RATE_PPS, RATE_BPS };

struct gen_rate {
	enum gen_rate_kind kind;
	double value; /* packets/s or bits/s on the wire */
};

/* "max", "1.5Mpps", "500kpps", "2000pps", "2Gbit", "100Mbit", "10kbit", "1e6bit" (also "bps",
 * "bit/s", "Gbps", ...). 0 on success, -1 with a message in err. */
int gen_parse_rate(const char *s, struct gen_rate *r, char *err, size_t errlen);

#define GEN_SIZE_MIN 64
#define GEN_SIZE_MAX 9216

enum gen_size_kind { SIZE_FIXED, SIZE_RANGE, SIZE_IMIX };

struct gen_size {
	enum gen_size_kind kind;
	unsigned lo, hi; /* frame sizes incl. the 4-byte FCS; lo == hi for SIZE_FIXED */
};

/* "64", "64-1518", "imix". Sizes are Ethernet frame sizes including the FCS (RFC 2544), at
 * least min_size (headers + trailer + FCS) and at most GEN_SIZE_MAX. */
int gen_parse_size(const char *s, unsigned min_size, struct gen_size *sz, char *err, size_t errlen);

/* The classic IMIX: 7 x 64, 4 x 570, 1 x 1518 bytes, interleaved over 12 packets. */
extern const unsigned gen_imix_pattern[12];

/* Seconds (decimal, > 0): 0 or -1 with a message. */
int gen_parse_seconds(const char *opt, const char *s, double *v, char *err, size_t errlen);
/* Unsigned integer within [lo, hi] (decimal, optional k/M/G suffix = 10^3/10^6/10^9). */
int gen_parse_count(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *v,
		    char *err, size_t errlen);

/* "1.50 Mpps", "2.00 Gbit/s": human form of a rate. */
void gen_fmt_rate(char *buf, size_t len, double v, const char *unit);

#endif
