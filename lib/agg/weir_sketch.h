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

/*
 * weir_hash64 of a 16-byte item given as its two 8-byte words (lo = bytes
 * 0..7, hi = bytes 8..15, host order as memcpy loads them), bit for bit:
 * inline, so that the data path hashes a field without a call or a copy
 * (with hi a constant 0, a number's item, one of the word rounds folds to
 * a constant). The definition follows weir_hash64's: see weir_sketch.c.
 */
#define WEIR_HASH_K0 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */
#define WEIR_HASH_K1 0xc2b2ae3d27d4eb4full
#define WEIR_HASH_K2 0x165667b19e3779f9ull
#define WEIR_HASH_M 0xd6e8feb86659fd93ull

/* A bijective avalanche mixer: two xor-shift-multiply rounds and a final
 * xor-shift; every input bit reaches every output bit. */
static inline uint64_t weir_hash_mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= WEIR_HASH_M;
	x ^= x >> 29;
	x *= WEIR_HASH_M;
	x ^= x >> 32;
	return x;
}

/* One word folded into the running state (weir_hash64's loop body). */
static inline uint64_t weir_hash_word(uint64_t h, uint64_t w)
{
	h ^= weir_hash_mix64(w ^ WEIR_HASH_K1);
	return ((h << 27) | (h >> 37)) * WEIR_HASH_K0;
}

static inline uint64_t weir_hash_final(uint64_t h)
{
	return weir_hash_mix64(h ^ (h >> 31));
}

static inline uint64_t weir_hash64_item(uint64_t lo, uint64_t hi)
{
	uint64_t h = WEIR_HASH_K2 ^ (16 * WEIR_HASH_K0); /* the length seeds the state */

	return weir_hash_final(weir_hash_word(weir_hash_word(h, lo), hi));
}

/* A number's item is its 8 bytes then 8 zero bytes (what weir_field_get gives). */
static inline uint64_t weir_hash64_u64(uint64_t v)
{
	return weir_hash64_item(v, 0);
}

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

/* weir_hll_add, inline for the data path. */
static inline void weir_hll_add_inline(uint8_t *regs, unsigned p, uint64_t hash)
{
	if (p < WEIR_HLL_P_MIN || p > WEIR_HLL_P_MAX)
		return;
	size_t idx = hash >> (64 - p);
	/* the guard bit caps the rank at 64 - p + 1 when the rest is zero */
	uint64_t w = (hash << p) | ((uint64_t)1 << (p - 1));
	uint8_t rank = (uint8_t)(__builtin_clzll(w) + 1);

	if (regs[idx] < rank)
		regs[idx] = rank;
}

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
 * weight, counters in use, layout tag) and the m counters, 16 + 32m bytes
 * (k=5: m=40, 1296 bytes). Up to m = 64 the counters are four arrays (the
 * items' first words, their second words, the counts, the errors), so that
 * add scans the first words and the counts with vector compares; states
 * of that size written by earlier builds (the counters as struct
 * weir_topk_counter[m], tag 0) are still read, and rewritten in place by
 * their first add or merge. Above m = 64: struct weir_topk_counter[m], a
 * min-heap and an item index over them (16-bit counter numbers, 4 + 4
 * bytes a counter), so that add stays O(log m) (k=100: m=256, 10256
 * bytes). Every call on one state passes the same m, 1..WEIR_TOPK_M_MAX
 * (another m: bytes 0, the rest do nothing).
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
/* weir_topk_add of the item given as its two 8-byte words (lo = bytes 0..7,
 * hi = bytes 8..15, host order as memcpy loads them; a number: v, 0). */
void weir_topk_add_words(void *s, unsigned m, uint64_t lo, uint64_t hi, uint64_t weight);
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
