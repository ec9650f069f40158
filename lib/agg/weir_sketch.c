/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_sketch: HyperLogLog, Space-Saving top-k and a log-bucketed quantile
 * sketch, each a flat, fixed-size, position-independent state (see the
 * header for the layouts and the error bounds).
 */
#include "weir_sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

/* ---- hashing ------------------------------------------------------------- */

#define H_K0 WEIR_HASH_K0
#define H_M WEIR_HASH_M

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

/*
 * Each 8-byte word (the tail zero-padded) is mixed on its own (a bijection,
 * so no word value cancels out), folded into the running state, which is
 * rotated and multiplied by an odd constant (a bijection again, so the order
 * of the words matters); the length seeds the state so that a zero-padded
 * tail differs from real zeroes, and a last mix spreads everything. The
 * steps are the header's, which weir_hash64_item unrolls for 16 bytes.
 */
uint64_t weir_hash64(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = WEIR_HASH_K2 ^ (len * WEIR_HASH_K0);
	size_t n = len;

	while (n >= 8) {
		h = weir_hash_word(h, load64(p));
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, p, n);
		h = weir_hash_word(h, w);
	}
	return weir_hash_final(h);
}

/* ---- HyperLogLog --------------------------------------------------------- */

static inline int hll_p_ok(unsigned p)
{
	return p >= WEIR_HLL_P_MIN && p <= WEIR_HLL_P_MAX;
}

size_t weir_hll_bytes(unsigned p)
{
	return hll_p_ok(p) ? (size_t)1 << p : 0;
}

void weir_hll_add(uint8_t *regs, unsigned p, uint64_t hash)
{
	weir_hll_add_inline(regs, p, hash);
}

void weir_hll_merge(uint8_t *dst, const uint8_t *src, unsigned p)
{
	if (!hll_p_ok(p))
		return;
	size_t m = (size_t)1 << p;

	for (size_t i = 0; i < m; i++)
		dst[i] = dst[i] > src[i] ? dst[i] : src[i];
}

double weir_hll_estimate(const uint8_t *regs, unsigned p)
{
	if (!hll_p_ok(p))
		return NAN;
	size_t m = (size_t)1 << p;
	uint32_t hist[65] = { 0 };

	for (size_t i = 0; i < m; i++)
		hist[regs[i] <= 64 ? regs[i] : 64]++;

	/* sum of 2^-reg, from the histogram (exact: every term is a power of 2) */
	double z = 0.0, pw = 1.0;

	for (unsigned k = 0; k <= 64; k++, pw *= 0.5)
		z += hist[k] * pw;

	double dm = (double)m, alpha;

	switch (m) {
	case 16: alpha = 0.673; break;
	case 32: alpha = 0.697; break;
	case 64: alpha = 0.709; break;
	default: alpha = 0.7213 / (1.0 + 1.079 / dm); break;
	}
	double e = alpha * dm * dm / z;

	/* small range: linear counting over the empty registers */
	if (e <= 2.5 * dm && hist[0] > 0)
		e = dm * log(dm / (double)hist[0]);
	/* 64-bit hashes: no large-range correction is needed */
	return e;
}

/* ---- Space-Saving top-k -------------------------------------------------- */

/*
 * State layout for m counters (offsets in bytes, all little structures
 * naturally aligned when the state is 8-byte aligned), after the 16-byte
 * struct topk_hdr:
 *
 * m <= TOPK_LINEAR_MAX ("linear"), structure of arrays:
 *   16           uint64_t lo[m]     the items' bytes 0..7
 *   16+8m        uint64_t hi[m]     their bytes 8..15
 *   16+16m       uint64_t count[m]
 *   16+24m       uint64_t error[m]  (slots 0..used-1 in use)
 * One pass over lo[] finds the item (eight slots a step of two vector
 * compares, hi[] read only where lo[] matched); if it is absent and all m
 * are in use, a pass over count[] finds the minimum and another its first
 * slot. At this size that beats keeping an index and a heap up to date
 * (with struct weir_topk_counter[m] and one scalar pass that tracked the
 * minimum as it went, a packet of topk(dst_port, 5) cost 2.4x the
 * instructions). hdr.layout says TOPK_LAYOUT_SOA; a state of earlier builds
 * (layout 0) holds struct weir_topk_counter[m] at 16 instead and is
 * rewritten in place (lin_adopt) before its first change; all zeroes (the
 * empty summary, layout 0) is empty in both.
 *
 * m > TOPK_LINEAR_MAX ("indexed"):
 *   16           struct weir_topk_counter ctr[m]   (slots 0..used-1 in use)
 *   16+32m       uint16_t heap[m]  a binary min-heap of counter indices,
 *                                  ordered by count
 *   16+34m       uint16_t pos[m]   pos[i]: where counter i is in heap[]
 *   16+36m       uint16_t index[T] open addressing (linear probing) from the
 *                                  item to counter index + 1; 0 = empty;
 *                                  T = the power of two >= 2m (load <= 1/2)
 * The index finds the item and the heap keeps the minimum at hand: an
 * increment moves a counter down (O(1) for the heavy counters, which are
 * leaves), a replacement takes the root.
 *
 * Only indices are stored, so a state can be copied as it is. All zeroes is
 * the empty summary. Which of several counters of the minimum count goes is
 * the first one in slot order (linear) or left to the heap's layout
 * (indexed): a function of the history either way, so copies behave the
 * same.
 */
struct topk_hdr {
	uint64_t total;
	uint32_t used;
	uint32_t layout; /* linear states: TOPK_LAYOUT_SOA, or 0 (written by earlier builds) */
};

#define TOPK_HDR_BYTES 16u
#define TOPK_LINEAR_MAX 64u
#define TOPK_LAYOUT_SOA 0x31414f53u /* "SOA1" */

_Static_assert(sizeof(struct topk_hdr) == TOPK_HDR_BYTES, "topk header");
_Static_assert(sizeof(struct weir_topk_counter) == 32, "a linear state's counter is 4 words");

static inline int topk_m_ok(unsigned m)
{
	return m >= 1 && m <= WEIR_TOPK_M_MAX;
}

/* log2 of the index size: the power of two >= 2m */
static inline unsigned topk_tbl_bits(unsigned m)
{
	return 32 - (unsigned)__builtin_clz(2 * m - 1);
}

unsigned weir_topk_counters(unsigned k)
{
	unsigned m;

	if (k > WEIR_TOPK_M_MAX)
		return WEIR_TOPK_M_MAX;
	m = 8 * k;
	if (m > 2 * k + 56)
		m = 2 * k + 56;
	if (m < 32)
		m = 32;
	if (m > WEIR_TOPK_M_MAX)
		m = WEIR_TOPK_M_MAX;
	return m;
}

size_t weir_topk_bytes(unsigned m)
{
	if (!topk_m_ok(m))
		return 0;
	size_t b = TOPK_HDR_BYTES + sizeof(struct weir_topk_counter) * (size_t)m;

	if (m > TOPK_LINEAR_MAX)
		b += 4 * (size_t)m + 2 * ((size_t)1 << topk_tbl_bits(m));
	return b;
}

uint64_t weir_topk_total(const void *s)
{
	return ((const struct topk_hdr *)s)->total;
}

/* ---- linear states: structure of arrays ---- */

struct topk_lin {
	struct topk_hdr *h;
	uint64_t *lo, *hi, *cnt, *err;
};

static inline struct topk_lin lin_view(void *s, unsigned m)
{
	uint64_t *a = (uint64_t *)(void *)((uint8_t *)s + TOPK_HDR_BYTES);

	return (struct topk_lin){ s, a, a + m, a + 2 * (size_t)m, a + 3 * (size_t)m };
}

/* A state not in this layout yet: all zeroes (a table cleared for a new
 * window), or an earlier build's (counters as structs, from a checkpoint):
 * the same counters in the same slots, as arrays. Once per state. */
static __attribute__((noinline, cold)) void lin_adopt(void *s, unsigned m)
{
	struct topk_lin v = lin_view(s, m);
	struct weir_topk_counter c[TOPK_LINEAR_MAX];
	unsigned n = v.h->used < m ? v.h->used : m;

	memcpy(c, v.lo, n * sizeof(c[0]));
	for (unsigned i = 0; i < n; i++) {
		v.lo[i] = load64(c[i].item);
		v.hi[i] = load64(c[i].item + 8);
		v.cnt[i] = c[i].count;
		v.err[i] = c[i].error;
	}
	v.h->layout = TOPK_LAYOUT_SOA;
}

static inline void lin_own(void *s, unsigned m)
{
	if (__builtin_expect(((struct topk_hdr *)s)->layout != TOPK_LAYOUT_SOA, 0))
		lin_adopt(s, m);
}

/* The slot of (lo, hi) among the first n (of m), or -1. */
static inline int lin_find(const struct topk_lin *v, unsigned m, unsigned n, uint64_t lo,
			   uint64_t hi)
{
#ifdef __AVX2__
	/*
	 * Eight first words a step: two compares and one test; the second
	 * word only where the first one matched. The last step may read up to
	 * 7 words past slot n - 1: from m = 8 on still within the state (hi[]
	 * follows lo[]), and its lanes past n are dropped.
	 */
	if (m >= 8) {
		const __m256i k = _mm256_set1_epi64x((long long)lo);
		const uint64_t *end = v->lo + n;

		for (const uint64_t *p = v->lo; p < end; p += 8) {
			__m256i a = _mm256_cmpeq_epi64(_mm256_loadu_si256((const void *)p), k);
			__m256i b = _mm256_cmpeq_epi64(_mm256_loadu_si256((const void *)(p + 4)), k);
			__m256i any = _mm256_or_si256(a, b);

			if (_mm256_testz_si256(any, any))
				continue;
			unsigned bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(a)) |
					(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(b)) << 4;

			if (end - p < 8)
				bits &= (1u << (end - p)) - 1;
			for (; bits; bits &= bits - 1) {
				unsigned j = (unsigned)(p - v->lo) + (unsigned)__builtin_ctz(bits);

				if (v->hi[j] == hi)
					return (int)j;
			}
		}
		return -1;
	}
#endif
	for (unsigned i = 0; i < n; i++)
		if (v->lo[i] == lo && v->hi[i] == hi)
			return (int)i;
	return -1;
}

#ifdef __AVX2__
/* Lane-wise unsigned minimum of biased words (x ^ 2^63: signed compare = unsigned order). */
static inline __m256i min_biased(__m256i a, __m256i b)
{
	return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b));
}

static inline __m256i load_biased(const uint64_t *p)
{
	return _mm256_xor_si256(_mm256_loadu_si256((const void *)p), _mm256_set1_epi64x(INT64_MIN));
}

/* lin_min for n >= 8: the smallest count, eight a step in two lanes
 * sets, then the first slot holding it, eight a step again. */
static unsigned lin_min_avx2(const uint64_t *cnt, unsigned n)
{
	__m256i m0 = load_biased(cnt), m1 = load_biased(cnt + 4);
	unsigned i = 8;

	for (; i + 8 <= n; i += 8) {
		m0 = min_biased(m0, load_biased(cnt + i));
		m1 = min_biased(m1, load_biased(cnt + i + 4));
	}
	if (i + 4 <= n) {
		m0 = min_biased(m0, load_biased(cnt + i));
		i += 4;
	}
	/* fold the lanes: the two sets, halves swapped, then words swapped */
	m0 = min_biased(m0, m1);
	m0 = min_biased(m0, _mm256_permute2x128_si256(m0, m0, 1));
	m0 = min_biased(m0, _mm256_shuffle_epi32(m0, 0x4e));
	uint64_t min = (uint64_t)_mm256_extract_epi64(m0, 0) ^ (uint64_t)INT64_MIN;

	for (; i < n; i++)
		min = cnt[i] < min ? cnt[i] : min;

	const __m256i k = _mm256_set1_epi64x((long long)min);

	for (i = 0; i + 8 <= n; i += 8) {
		__m256i a = _mm256_cmpeq_epi64(_mm256_loadu_si256((const void *)(cnt + i)), k);
		__m256i b = _mm256_cmpeq_epi64(_mm256_loadu_si256((const void *)(cnt + i + 4)), k);
		__m256i any = _mm256_or_si256(a, b);

		if (!_mm256_testz_si256(any, any))
			return i + (unsigned)__builtin_ctz(
				(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(a)) |
				(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(b)) << 4);
	}
	while (cnt[i] != min)
		i++;
	return i;
}
#endif

/* The first of the slots 0..n-1 (n >= 1) with the smallest count. */
static inline unsigned lin_min(const uint64_t *cnt, unsigned n)
{
#ifdef __AVX2__
	if (n >= 8)
		return lin_min_avx2(cnt, n);
#endif
	unsigned mi = 0;

	for (unsigned i = 1; i < n; i++)
		if (cnt[i] < cnt[mi])
			mi = i;
	return mi;
}

/* Slot `at` to a new item (used grown by the caller when it is a new slot). */
static inline void lin_set(const struct topk_lin *v, unsigned at, uint64_t lo, uint64_t hi,
			   uint64_t count, uint64_t error)
{
	v->lo[at] = lo;
	v->hi[at] = hi;
	v->cnt[at] = count;
	v->err[at] = error;
}

/* An item not among the counters: a free slot while there is one, else
 * the first slot of the smallest count, c, which it takes with count
 * c + weight and error c. Out of line: the hit path stays a leaf. */
static __attribute__((noinline)) void lin_insert(void *s, unsigned m, uint64_t lo, uint64_t hi,
						 uint64_t weight)
{
	struct topk_lin v = lin_view(s, m);
	unsigned n = v.h->used;

	if (n < m) {
		v.h->used = n + 1;
		lin_set(&v, n, lo, hi, weight, 0);
		return;
	}
	unsigned mi = lin_min(v.cnt, n);
	uint64_t min = v.cnt[mi];

	lin_set(&v, mi, lo, hi, min + weight, min);
}

static inline void lin_add(void *s, unsigned m, uint64_t lo, uint64_t hi, uint64_t weight);

/* A state not in this layout yet (see lin_adopt): rewritten, then added to. */
static __attribute__((noinline, cold)) void lin_add_adopt(void *s, unsigned m, uint64_t lo,
							  uint64_t hi, uint64_t weight)
{
	lin_adopt(s, m);
	lin_add(s, m, lo, hi, weight);
}

/* The hit, the usual case, calls nothing: the other cases end in a tail
 * call, so the hit path saves no more registers than it must. */
static inline void lin_add(void *s, unsigned m, uint64_t lo, uint64_t hi, uint64_t weight)
{
	struct topk_lin v = lin_view(s, m);

	if (__builtin_expect(v.h->layout != TOPK_LAYOUT_SOA, 0)) {
		lin_add_adopt(s, m, lo, hi, weight);
		return;
	}
	v.h->total += weight;
	int ci = lin_find(&v, m, v.h->used, lo, hi);

	if (ci >= 0)
		v.cnt[ci] += weight;
	else
		lin_insert(s, m, lo, hi, weight);
}

/* The mergeable Space-Saving of weir_topk_merge (see there) over two linear states. */
static void lin_merge(void *dst, const void *src, unsigned m)
{
	uint64_t copy[(TOPK_HDR_BYTES + 32 * TOPK_LINEAR_MAX) / 8];

	if (((const struct topk_hdr *)src)->layout != TOPK_LAYOUT_SOA) {
		/* an earlier build's state: read it through a rewritten copy */
		memcpy(copy, src, weir_topk_bytes(m));
		lin_adopt(copy, m);
		src = copy;
	}
	lin_own(dst, m);
	struct topk_lin d = lin_view(dst, m), sv = lin_view((void *)(uintptr_t)src, m); /* sv: read only */
	unsigned du = d.h->used, su = sv.h->used;
	uint64_t d_min = du == m ? d.cnt[lin_min(d.cnt, du)] : 0;
	uint64_t s_min = su == m ? sv.cnt[lin_min(sv.cnt, su)] : 0;
	uint64_t matched = 0; /* bit j: src slot j was found in dst (m <= 64) */

	d.h->total += sv.h->total;
	if (su == 0)
		return;
	for (unsigned i = 0; i < du; i++) {
		int j = lin_find(&sv, m, su, d.lo[i], d.hi[i]);

		if (j >= 0) {
			d.cnt[i] += sv.cnt[j];
			d.err[i] += sv.err[j];
			matched |= 1ull << j;
		} else {
			d.cnt[i] += s_min;
			d.err[i] += s_min;
		}
	}
	for (unsigned j = 0; j < su; j++) {
		if (matched & (1ull << j))
			continue;
		uint64_t cnt = sv.cnt[j] + d_min, err = sv.err[j] + d_min;

		if (d.h->used < m) {
			lin_set(&d, d.h->used++, sv.lo[j], sv.hi[j], cnt, err);
		} else {
			unsigned mi = lin_min(d.cnt, m);

			if (d.cnt[mi] < cnt)
				lin_set(&d, mi, sv.lo[j], sv.hi[j], cnt, err);
		}
	}
}

/* The counters in use, in slot order, whichever layout the state has. */
static unsigned lin_list(const void *s, unsigned m, struct weir_topk_counter *out)
{
	struct topk_lin v = lin_view((void *)(uintptr_t)s, m); /* read only */
	unsigned n = v.h->used;

	if (v.h->layout != TOPK_LAYOUT_SOA) {
		memcpy(out, v.lo, n * sizeof(*out));
		return n;
	}
	for (unsigned i = 0; i < n; i++) {
		memcpy(out[i].item, &v.lo[i], 8);
		memcpy(out[i].item + 8, &v.hi[i], 8);
		out[i].count = v.cnt[i];
		out[i].error = v.err[i];
	}
	return n;
}

/* ---- indexed states: counters, heap and item index ---- */

struct topk_view {
	struct topk_hdr *h;
	struct weir_topk_counter *c;
	uint16_t *heap;
	uint16_t *pos;
	uint16_t *idx;
	unsigned m;
	unsigned bits;
	unsigned mask;
};

static inline struct topk_view topk_view(void *s, unsigned m)
{
	uint8_t *b = s;
	struct topk_view v;

	v.m = m;
	v.bits = topk_tbl_bits(m);
	v.mask = (1u << v.bits) - 1;
	v.h = (struct topk_hdr *)(void *)b;
	v.c = (struct weir_topk_counter *)(void *)(b + TOPK_HDR_BYTES);
	v.heap = (uint16_t *)(void *)(b + TOPK_HDR_BYTES + 32 * (size_t)m);
	v.pos = v.heap + m;
	v.idx = v.pos + m;
	return v;
}

static inline int item_eq(const uint8_t *a, const uint8_t *b)
{
	return load64(a) == load64(b) && load64(a + 8) == load64(b + 8);
}

/* The index's hash: cheap, unseeded (items an attacker picks to collide
 * make the probes longer, up to a linear scan, never wrong). */
static inline unsigned item_home(const struct topk_view *v, const uint8_t *item)
{
	uint64_t x = load64(item) * H_K0 ^ load64(item + 8);

	x ^= x >> 31;
	x *= H_M;
	return (unsigned)(x >> (64 - v->bits));
}

/* Slot of item in the index, or the empty slot where it would go. */
static inline unsigned idx_find(const struct topk_view *v, const uint8_t *item)
{
	unsigned s = item_home(v, item);

	for (;;) {
		uint16_t e = v->idx[s];

		if (e == 0 || item_eq(v->c[e - 1].item, item))
			return s;
		s = (s + 1) & v->mask;
	}
}

/* Empty slot s and shift the rest of its cluster back (no tombstones). */
static void idx_remove(const struct topk_view *v, unsigned s)
{
	unsigned j = s;

	for (;;) {
		j = (j + 1) & v->mask;
		uint16_t e = v->idx[j];

		if (e == 0)
			break;
		unsigned k = item_home(v, v->c[e - 1].item);
		/* move e back into s unless its home lies cyclically in (s, j] */
		int stays = s <= j ? (s < k && k <= j) : (s < k || k <= j);

		if (!stays) {
			v->idx[s] = e;
			s = j;
		}
	}
	v->idx[s] = 0;
}

static inline void heap_set(const struct topk_view *v, unsigned at, uint16_t ci)
{
	v->heap[at] = ci;
	v->pos[ci] = (uint16_t)at;
}

/* The heap orders by count alone: cheaper than the list order, and any
 * counter of the minimum count will do for Space-Saving. */
static inline uint64_t heap_count(const struct topk_view *v, unsigned at)
{
	return v->c[v->heap[at]].count;
}

static void heap_down(const struct topk_view *v, unsigned at, unsigned n)
{
	uint16_t ci = v->heap[at];
	uint64_t cnt = v->c[ci].count;

	for (;;) {
		unsigned l = 2 * at + 1;

		if (l >= n)
			break;
		uint64_t lc = heap_count(v, l);
		unsigned ch = l;

		if (l + 1 < n) {
			uint64_t rc = heap_count(v, l + 1);

			ch = l + (rc < lc); /* branchless: the order of ties is random */
			lc = rc < lc ? rc : lc;
		}
		if (lc >= cnt)
			break;
		heap_set(v, at, v->heap[ch]);
		at = ch;
	}
	heap_set(v, at, ci);
}

static void heap_up(const struct topk_view *v, unsigned at)
{
	uint16_t ci = v->heap[at];
	uint64_t cnt = v->c[ci].count;

	while (at > 0) {
		unsigned par = (at - 1) / 2;

		if (heap_count(v, par) <= cnt)
			break;
		heap_set(v, at, v->heap[par]);
		at = par;
	}
	heap_set(v, at, ci);
}

static inline void ctr_fill(struct weir_topk_counter *c, const uint8_t *item, uint64_t count,
			    uint64_t error)
{
	memcpy(c->item, item, 16);
	c->count = count;
	c->error = error;
}

/* Put a new counter in a free slot (used < m); slot is idx_find's answer. */
static inline void topk_append(const struct topk_view *v, unsigned slot, const uint8_t *item,
			       uint64_t count, uint64_t error)
{
	unsigned ci = v->h->used++;

	ctr_fill(&v->c[ci], item, count, error);
	v->idx[slot] = (uint16_t)(ci + 1);
	heap_set(v, ci, (uint16_t)ci);
	heap_up(v, ci);
}

/* Give the heap's root (a counter of the minimum count) to a new item;
 * slot is idx_find's answer for it (an empty slot). */
static inline void topk_replace_min(const struct topk_view *v, unsigned slot, const uint8_t *item,
				    uint64_t count, uint64_t error)
{
	uint16_t ci = v->heap[0];
	struct weir_topk_counter *c = &v->c[ci];
	unsigned old = idx_find(v, c->item);

	/* enter the new item first, then remove the old one: the shifts of the
	 * removal see the counter's new bytes, so both stay consistent */
	v->idx[slot] = (uint16_t)(ci + 1);
	ctr_fill(c, item, count, error);
	idx_remove(v, old);
	heap_down(v, 0, v->h->used);
}

static void idx_add(void *s, unsigned m, const uint8_t *item, uint64_t weight)
{
	struct topk_view v = topk_view(s, m);

	v.h->total += weight;
	unsigned slot = idx_find(&v, item);
	uint16_t e = v.idx[slot];

	if (e) {
		v.c[e - 1].count += weight;
		heap_down(&v, v.pos[e - 1], v.h->used);
	} else if (v.h->used < m) {
		topk_append(&v, slot, item, weight, 0);
	} else {
		uint64_t min = v.c[v.heap[0]].count;

		topk_replace_min(&v, slot, item, min + weight, min);
	}
}

/* weir_topk_merge over two indexed states. */
static void idx_merge(void *dst, const void *src, unsigned m)
{
	struct topk_view d = topk_view(dst, m);
	struct topk_view sv = topk_view((void *)(uintptr_t)src, m); /* read only */
	unsigned du = d.h->used, su = sv.h->used;
	uint64_t d_min = du == m ? d.c[d.heap[0]].count : 0;
	uint64_t s_min = su == m ? sv.c[sv.heap[0]].count : 0;
	uint64_t matched[WEIR_TOPK_M_MAX / 64];

	d.h->total += sv.h->total;
	if (su == 0)
		return;
	memset(matched, 0, sizeof(matched[0]) * ((m + 63) / 64));

	for (unsigned i = 0; i < du; i++) {
		struct weir_topk_counter *c = &d.c[i];
		int j = (int)sv.idx[idx_find(&sv, c->item)] - 1;

		if (j >= 0) {
			c->count += sv.c[j].count;
			c->error += sv.c[j].error;
			matched[j / 64] |= 1ull << (j % 64);
		} else {
			c->count += s_min;
			c->error += s_min;
		}
	}
	/* counts changed: heapify */
	for (unsigned i = du / 2; i-- > 0;)
		heap_down(&d, i, du);

	for (unsigned j = 0; j < su; j++) {
		if (matched[j / 64] & (1ull << (j % 64)))
			continue;
		struct weir_topk_counter cand;

		ctr_fill(&cand, sv.c[j].item, sv.c[j].count + d_min, sv.c[j].error + d_min);
		if (d.h->used < m)
			topk_append(&d, idx_find(&d, cand.item), cand.item, cand.count, cand.error);
		else if (d.c[d.heap[0]].count < cand.count)
			topk_replace_min(&d, idx_find(&d, cand.item), cand.item, cand.count, cand.error);
	}
}

/* ---- the interface ---- */

void weir_topk_add(void *s, unsigned m, const uint8_t item[16], uint64_t weight)
{
	if (!topk_m_ok(m) || weight == 0)
		return;
	if (m <= TOPK_LINEAR_MAX)
		lin_add(s, m, load64(item), load64(item + 8), weight);
	else
		idx_add(s, m, item, weight);
}

/* idx_add of the item the two words make; out of line, as its stack copy is. */
static __attribute__((noinline)) void idx_add_words(void *s, unsigned m, uint64_t lo, uint64_t hi,
						    uint64_t weight)
{
	uint8_t item[16];

	memcpy(item, &lo, 8);
	memcpy(item + 8, &hi, 8);
	idx_add(s, m, item, weight);
}

void weir_topk_add_words(void *s, unsigned m, uint64_t lo, uint64_t hi, uint64_t weight)
{
	if (!topk_m_ok(m) || weight == 0)
		return;
	if (m <= TOPK_LINEAR_MAX)
		lin_add(s, m, lo, hi, weight);
	else
		idx_add_words(s, m, lo, hi, weight);
}

/*
 * The mergeable Space-Saving (Agarwal et al. 2012, Cafaro et al. 2016):
 * an item in both summaries gets the sum of counts and of errors; an item
 * in one only gets the other summary's minimum added to both (it may have
 * been evicted there with up to that count), or 0 when that summary is not
 * full (it holds every item it saw, exactly). Of the combined set the m
 * largest stay. The minimum stays <= total/m, errors stay <= the minimum.
 */
void weir_topk_merge(void *dst, const void *src, unsigned m)
{
	if (!topk_m_ok(m))
		return;
	if (m <= TOPK_LINEAR_MAX)
		lin_merge(dst, src, m);
	else
		idx_merge(dst, src, m);
}

static int ctr_list_cmp(const void *a, const void *b)
{
	const struct weir_topk_counter *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return memcmp(x->item, y->item, 16);
}

unsigned weir_topk_list(const void *s, unsigned m, struct weir_topk_counter *out)
{
	if (!topk_m_ok(m))
		return 0;
	unsigned n;

	if (m <= TOPK_LINEAR_MAX) {
		n = lin_list(s, m, out);
	} else {
		n = ((const struct topk_hdr *)s)->used;
		memcpy(out, (const uint8_t *)s + TOPK_HDR_BYTES, n * sizeof(*out));
	}
	qsort(out, n, sizeof(*out), ctr_list_cmp);
	return n;
}

/* ---- quantiles ----------------------------------------------------------- */

/*
 * Buckets: 0..63 hold the values 0..63 exactly. Above, each octave
 * [2^e, 2^(e+1)), e = 6..31, is cut into 36 geometric buckets with the
 * boundaries 2^e * 2^(j/36); 64 + 26 * 36 = 1000 buckets cover all of
 * uint32. A bucket's integers lo..hi are represented by the harmonic mean
 * 2*lo*hi/(lo+hi), off by at most (hi-lo)/(hi+lo) <= (g-1)/(g+1) = 0.963%
 * (g = 2^(1/36)) of any value in the bucket.
 *
 * The bucket of v >= 64 without logarithms: e from count-leading-zeros, the
 * mantissa as the Q32 fixed-point x = v * 2^(32-e) in [2^32, 2^33); its top
 * 6 fraction bits pick a cell, each cell narrower than any bucket so at
 * most one boundary lies inside, and one compare with that boundary ends it.
 */
#define Q_EXACT 64u
#define Q_SUB 36u
#define Q_OCTAVES 26u /* e = 6..31 */
#define Q_BUCKETS (Q_EXACT + Q_SUB * Q_OCTAVES)
#define Q_REL_ERROR 0.0097 /* stated; the worst bucket is 0.96267% */

/* q_thr[j] = ceil(2^32 * 2^(j/36)), q_thr[36] = 2^33 (computed to 60 digits) */
static const uint64_t q_thr[Q_SUB + 1] = {
	0x100000000ull, 0x104fa0fe1ull, 0x10a0ce484ull, 0x10f38f92eull, 0x1147ecb89ull,
	0x119dedbb0ull, 0x11f59ac3dull, 0x124efc253ull, 0x12aa1a5abull, 0x1306fe0a4ull,
	0x1365b004aull, 0x13c639469ull, 0x1428a2f99ull, 0x148cf674cull, 0x14f33d3d9ull,
	0x155b81090ull, 0x15c5cbbc4ull, 0x1632276deull, 0x16a09e668ull, 0x17113b222ull,
	0x17840850bull, 0x17f910d77ull, 0x18705fd1full, 0x18ea0092dull, 0x1965fea54ull,
	0x19e465cddull, 0x1a65420b9ull, 0x1ae89f996ull, 0x1b6e8aeefull, 0x1bf710c1eull,
	0x1c823e075ull, 0x1d101ff4bull, 0x1da0c4013ull, 0x1e3437e72ull, 0x1eca89a4eull,
	0x1f63c77edull, 0x200000000ull,
};

/* q_cell[i]: the bucket holding 2^32 + i * 2^26 (the largest j with q_thr[j] <= it) */
static const uint8_t q_cell[64] = {
	0,  0,  1,  2,  3,  3,  4,  5,  6,  6,  7,  8,  8,  9,  10, 10,
	11, 12, 12, 13, 14, 14, 15, 15, 16, 17, 17, 18, 18, 19, 19, 20,
	21, 21, 22, 22, 23, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28, 28,
	29, 29, 29, 30, 30, 31, 31, 32, 32, 33, 33, 33, 34, 34, 35, 35,
};

struct quant {
	uint64_t count;   /* values added */
	uint32_t min_inv; /* ~min: all zeroes is min = UINT32_MAX, the identity */
	uint32_t max;
	uint32_t b[Q_BUCKETS];
};

_Static_assert(sizeof(struct quant) <= 4096, "quantile state over 4 KiB");

static inline unsigned q_bucket(uint32_t v)
{
	if (v < Q_EXACT)
		return v;
	unsigned e = 31 - (unsigned)__builtin_clz(v);
	uint64_t x = (uint64_t)v << (32 - e);
	unsigned c = q_cell[(x >> 26) & 63];

	c += x >= q_thr[c + 1];
	return Q_EXACT + (e - 6) * Q_SUB + c;
}

/* the integers lo..hi of bucket b */
static void q_bucket_range(unsigned b, uint64_t *lo, uint64_t *hi)
{
	if (b < Q_EXACT) {
		*lo = *hi = b;
		return;
	}
	unsigned e = 6 + (b - Q_EXACT) / Q_SUB, j = (b - Q_EXACT) % Q_SUB, sh = 32 - e;
	uint64_t unit = (uint64_t)1 << sh;

	*lo = (q_thr[j] + unit - 1) >> sh;
	*hi = ((q_thr[j + 1] + unit - 1) >> sh) - 1;
}

size_t weir_quant_bytes(void)
{
	return sizeof(struct quant);
}

double weir_quant_rel_error(void)
{
	return Q_REL_ERROR;
}

void weir_quant_add(void *s, uint32_t v)
{
	struct quant *q = s;
	uint32_t *b = &q->b[q_bucket(v)];

	*b += *b != UINT32_MAX; /* saturates */
	q->count++;
	if (v > q->max)
		q->max = v;
	if (~v > q->min_inv)
		q->min_inv = ~v;
}

void weir_quant_merge(void *dst, const void *src)
{
	struct quant *d = dst;
	const struct quant *s = src;

	for (unsigned i = 0; i < Q_BUCKETS; i++) {
		uint32_t x = d->b[i] + s->b[i];

		d->b[i] = x < d->b[i] ? UINT32_MAX : x;
	}
	d->count += s->count;
	if (s->max > d->max)
		d->max = s->max;
	if (s->min_inv > d->min_inv)
		d->min_inv = s->min_inv;
}

uint64_t weir_quant_count(const void *s)
{
	return ((const struct quant *)s)->count;
}

double weir_quant_value(const void *s, double q)
{
	const struct quant *qs = s;
	uint64_t n = 0;

	for (unsigned i = 0; i < Q_BUCKETS; i++)
		n += qs->b[i];
	if (n == 0 || q != q)
		return NAN;
	if (q < 0.0)
		q = 0.0;
	if (q > 1.0)
		q = 1.0;

	double x = q * (double)n;
	uint64_t r = (uint64_t)ceil(x - x * 1e-9);
	double lo_v = (double)(uint32_t)~qs->min_inv, hi_v = (double)qs->max;

	if (r <= 1)
		return lo_v;
	if (r >= n)
		return hi_v;

	uint64_t cum = 0;
	unsigned b = 0;

	for (; b < Q_BUCKETS - 1; b++) {
		cum += qs->b[b];
		if (cum >= r)
			break;
	}
	uint64_t lo, hi;

	q_bucket_range(b, &lo, &hi);
	double rep = lo == hi ? (double)lo : 2.0 * (double)lo * (double)hi / (double)(lo + hi);

	return rep < lo_v ? lo_v : rep > hi_v ? hi_v : rep;
}
