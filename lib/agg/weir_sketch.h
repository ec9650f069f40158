/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_sketch: the mergeable summaries behind distinct(), topk() and
 * quantiles(): HyperLogLog, Space-Saving and a log-bucketed quantile
 * sketch.
 *
 * Every state is a flat, fixed-size byte array: all zeroes is the empty
 * summary, it holds no pointers (so it can be copied, shipped over a ring
 * or written to a checkpoint as it is: that is its serialized form, in host
 * byte order), and merge(a, b) gives the summary of the union of both
 * inputs. The add functions run on the data path: no allocation, no
 * syscalls, no libm calls.
 */
#ifndef WEIR_SKETCH_H
#define WEIR_SKETCH_H

#include <stddef.h>
#include <stdint.h>

/* A 64-bit hash of a value, well mixed in every bit (HyperLogLog input). */
uint64_t weir_hash64(const void *data, size_t len);

/* ---- HyperLogLog: 2^p one-byte registers -------------------------------- */

#define WEIR_HLL_P_MIN 4
#define WEIR_HLL_P_MAX 16
#define WEIR_HLL_P_DEFAULT 12 /* 4096 bytes; standard error 1.04/sqrt(4096) = 1.6% */

/*
 * Register j (the top p bits of the hash) keeps the largest rank seen (1 +
 * the leading zeroes of the other 64 - p bits, at most 65 - p). Standard
 * error 1.04/sqrt(2^p): p=4 26%, p=10 3.3%, p=12 1.6%, p=14 0.8%, p=16 0.4%.
 * A p outside [WEIR_HLL_P_MIN, WEIR_HLL_P_MAX]: bytes 0, add and merge do
 * nothing, estimate NaN. dst and src of a merge have the same p.
 */
size_t weir_hll_bytes(unsigned p);
void weir_hll_add(uint8_t *regs, unsigned p, uint64_t hash);
void weir_hll_merge(uint8_t *dst, const uint8_t *src, unsigned p);
/* Estimated distinct count: alpha_m * m^2 / sum(2^-reg) (alpha_m bias
 * corrected), below 2.5 m with empty registers linear counting m ln(m/V).
 * 0 for the empty state. Not on the data path (uses libm). */
double weir_hll_estimate(const uint8_t *regs, unsigned p);

/* ---- Space-Saving top-k: m counters over 16-byte items ------------------- */

struct weir_topk_counter {
	uint8_t item[16];  /* the value, zero padded (a port is its 2 bytes, then 0) */
	uint64_t count;    /* an over-estimate: true count in [count - error, count] */
	uint64_t error;
};

/*
 * The state (weir_topk_bytes(m), 8-byte aligned): a 16-byte header (total
 * weight, counters in use) and the m counters, 16 + 32m bytes (k=5: m=40,
 * 1296 bytes); above m = 64 also a min-heap and an item index over them
 * (16-bit counter numbers, 4 + 4 bytes a counter), so that add stays
 * O(log m) (k=100: m=256, 10256 bytes). Every call on one state passes the
 * same m, 1..WEIR_TOPK_M_MAX (another m: bytes 0, the rest do nothing).
 *
 * Guarantees, after any mix of adds and merges, with N = weir_topk_total:
 * every counter's true count is in [count - error, count]; error <= the
 * smallest count <= N/m; an item absent has a true count <= the smallest
 * count (0 while fewer than m counters are in use), so every item with a
 * true count > N/m is present.
 */
#define WEIR_TOPK_M_MAX 4096

/* Counters for topk(FIELD, k): 8k, at least 32, beyond k = 9 growing as
 * 2k + 56 (k=5: 40, k=10: 76, k=100: 256), at most WEIR_TOPK_M_MAX. */
unsigned weir_topk_counters(unsigned k);
size_t weir_topk_bytes(unsigned m);
/* weight 0 is ignored. An item not present while all m counters are in use
 * takes a counter of the smallest count c: count c + weight, error c.
 * One pass over the counters up to m = 64, else O(log m). */
void weir_topk_add(void *s, unsigned m, const uint8_t item[16], uint64_t weight);
/* Agarwal et al. "Mergeable summaries" (2012) / Cafaro et al. for
 * Space-Saving: an item in both gets the sums of counts and errors, an item
 * in one only gets the other's smallest count (when that one is full) added
 * to its count and error; the m largest of the combined set stay (of equal
 * counts at the boundary, those already in dst). dst and src do not overlap. */
void weir_topk_merge(void *dst, const void *src, unsigned m);
/* Counters in use, sorted by count (desc), then item bytes; returns how many (<= m). */
unsigned weir_topk_list(const void *s, unsigned m, struct weir_topk_counter *out);
uint64_t weir_topk_total(const void *s); /* sum of all weights added */

/* ---- quantiles of non-negative integers --------------------------------- */

/*
 * 4016 bytes (8-byte aligned): the count, the exact min and max, and 1000
 * uint32 buckets: 0..63 exact, then 36 geometric buckets per octave up to
 * 2^32 - 1, so the whole uint32 range is covered (nothing clamps) and a
 * bucket's representative is within 0.963% of every value in it. The add
 * path finds the bucket with count-leading-zeros and a table (no libm).
 * Bucket counters saturate at 2^32 - 1 (the count does not). Merge adds
 * bucket-wise: merge(a, b) is bit for bit the state of adding both streams.
 */
size_t weir_quant_bytes(void);
double weir_quant_rel_error(void);   /* 0.0097: bound on |value - exact| / exact */
void weir_quant_add(void *s, uint32_t v);
void weir_quant_merge(void *dst, const void *src);
uint64_t weir_quant_count(const void *s);
/*
 * Nearest rank: the value of rank r = ceil(q * n) of the n values in
 * ascending order (q clamped to 0..1, r at least 1; q * n is first lowered
 * by 1e-9 of itself so that 0.07 * 100 is rank 7, not 8). Rank 1 is the
 * exact minimum, rank n the exact maximum, any other rank the
 * representative of its bucket (clamped to [min, max]): within
 * weir_quant_rel_error() of the exact value, exact below 64.
 * NaN when empty (or q is NaN). Not on the data path (uses libm).
 */
double weir_quant_value(const void *s, double q);

#endif /* WEIR_SKETCH_H */
