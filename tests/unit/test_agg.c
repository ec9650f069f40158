/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_sketch: the hash's mixing, HyperLogLog estimates against the true
 * distinct counts, the Space-Saving guarantees against exact counts (adds,
 * weights, merges), quantiles against the exact nearest rank of a sorted
 * copy, merge == add of both streams, and copies of the flat states.
 *
 * Every stream comes from a seeded generator, so a run is reproducible.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir_sketch.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s;
}

static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void) /* (0, 1] */
{
	return ((rng() >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static uint64_t hash_u64(uint64_t v)
{
	return weir_hash64(&v, sizeof(v));
}

/* States live in 8-byte aligned static buffers. */
#define BUF_WORDS (1 << 14) /* 128 KiB */
static uint64_t buf_a[BUF_WORDS], buf_b[BUF_WORDS], buf_c[BUF_WORDS], buf_d[BUF_WORDS];

static void *clear(uint64_t *buf, size_t bytes)
{
	cr_assert(bytes > 0 && bytes <= sizeof(buf_a));
	memset(buf, 0, bytes);
	return buf;
}

/* ---- hash ---------------------------------------------------------------- */

Test(hash, deterministic_and_length_sensitive)
{
	uint8_t z[32] = { 0 };
	const char *s = "weir";

	cr_assert_eq(weir_hash64(s, 4), weir_hash64("weir", 4));
	/* zero-padded tails and real zeroes differ, every length differs */
	for (size_t i = 0; i < 32; i++)
		for (size_t j = i + 1; j <= 32; j++)
			cr_assert_neq(weir_hash64(z, i), weir_hash64(z, j), "len %zu vs %zu", i, j);
	cr_assert_neq(weir_hash64("ab", 2), weir_hash64("ba", 2));
	uint8_t a[16] = { 1 }, b[16] = { 0 };

	b[8] = 1; /* the same word in the other position */
	cr_assert_neq(weir_hash64(a, 16), weir_hash64(b, 16));
}

/* Flipping one input bit flips each output bit with probability ~1/2. */
Test(hash, avalanche)
{
	enum { SAMPLES = 2000, LEN = 16 };
	static uint32_t flips[LEN * 8][64];

	memset(flips, 0, sizeof(flips));
	rng_seed(1);
	for (int s = 0; s < SAMPLES; s++) {
		uint8_t in[LEN];

		for (int i = 0; i < LEN; i++)
			in[i] = (uint8_t)(s % 3 != 0 || i == s % LEN ? rng() : 0); /* also sparse */
		if (s % 3 == 1)
			memset(in + 2, 0, LEN - 2); /* a port: two bytes then zeroes */
		uint64_t h0 = weir_hash64(in, LEN);

		for (int bit = 0; bit < LEN * 8; bit++) {
			in[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			uint64_t d = h0 ^ weir_hash64(in, LEN);

			in[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			for (int o = 0; o < 64; o++)
				flips[bit][o] += (d >> o) & 1;
		}
	}
	for (int bit = 0; bit < LEN * 8; bit++)
		for (int o = 0; o < 64; o++) {
			double p = (double)flips[bit][o] / SAMPLES;

			cr_assert(p > 0.42 && p < 0.58, "input bit %d -> output bit %d flips %.3f", bit,
				  o, p);
		}
}

/* The top bits (the HLL register index) of hashes of consecutive integers are uniform. */
Test(hash, consecutive_inputs_spread)
{
	enum { BUCKETS = 256, N = 256 * 400 };
	static uint32_t cnt[BUCKETS];

	memset(cnt, 0, sizeof(cnt));
	for (uint32_t i = 0; i < N; i++)
		cnt[weir_hash64(&i, sizeof(i)) >> 56]++;
	double chi2 = 0;

	for (int b = 0; b < BUCKETS; b++)
		chi2 += (cnt[b] - 400.0) * (cnt[b] - 400.0) / 400.0;
	/* 255 degrees of freedom: mean 255, sd 22.6; 6 sd either way */
	cr_assert(chi2 > 120 && chi2 < 390, "chi2 %.1f", chi2);
}

/* The inline hash of an item's two words is weir_hash64 of its 16 bytes. */
Test(hash, item_words_match_bytes)
{
	rng_seed(2);
	for (int k = 0; k < 100000; k++) {
		uint64_t w[2] = { rng(), k % 3 ? 0 : rng() };

		if (k % 5 == 0)
			w[0] &= 0xffff; /* a port */
		cr_assert_eq(weir_hash64_item(w[0], w[1]), weir_hash64(w, 16));
		if (w[1] == 0)
			cr_assert_eq(weir_hash64_u64(w[0]), weir_hash64(w, 16));
	}
}

/* ---- HyperLogLog --------------------------------------------------------- */

static double hll_se(unsigned p)
{
	return 1.04 / sqrt((double)(1u << p));
}

Test(hll, sizes)
{
	cr_assert_eq(weir_hll_bytes(12), 4096);
	cr_assert_eq(weir_hll_bytes(4), 16);
	cr_assert_eq(weir_hll_bytes(16), 65536);
	cr_assert_eq(weir_hll_bytes(3), 0);
	cr_assert_eq(weir_hll_bytes(17), 0);
	cr_assert(isnan(weir_hll_estimate((uint8_t *)buf_a, 17)));
}

Test(hll, empty_and_tiny)
{
	const unsigned p = WEIR_HLL_P_DEFAULT;
	uint8_t *r = clear(buf_a, weir_hll_bytes(p));

	cr_assert_eq(weir_hll_estimate(r, p), 0.0);
	rng_seed(2);
	for (unsigned n = 1; n <= 10; n++) {
		weir_hll_add(r, p, hash_u64(rng()));
		double e = weir_hll_estimate(r, p);

		cr_assert(fabs(e - n) <= 0.5, "n %u estimate %f", n, e);
	}
}

/* n random distinct values, each added twice: within 3 standard errors. */
static void hll_check(unsigned p, uint64_t n, uint64_t seed)
{
	uint8_t *r = clear(buf_a, weir_hll_bytes(p));

	rng_seed(seed);
	for (uint64_t i = 0; i < n; i++)
		weir_hll_add(r, p, hash_u64(rng()));
	rng_seed(seed);
	for (uint64_t i = 0; i < n; i++)
		weir_hll_add(r, p, hash_u64(rng())); /* duplicates */
	double e = weir_hll_estimate(r, p), tol = 3 * hll_se(p) * (double)n;

	if (tol < 1)
		tol = 1;
	cr_assert(fabs(e - (double)n) <= tol, "p %u n %lu estimate %.1f (tolerance %.1f)", p,
		  (unsigned long)n, e, tol);
}

Test(hll, estimates_default_p)
{
	static const uint64_t ns[] = { 0, 1, 10, 1000, 5000, 20000, 100000, 1000000 };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		hll_check(WEIR_HLL_P_DEFAULT, ns[i], 100 + i);
}

Test(hll, small_n_linear_counting_is_tight)
{
	/* at 1000 of 4096 registers linear counting is far better than 1.6% */
	hll_check(12, 1000, 7);
	uint8_t *r = clear(buf_a, 4096);

	rng_seed(8);
	for (int i = 0; i < 1000; i++)
		weir_hll_add(r, 12, hash_u64(rng()));
	double e = weir_hll_estimate(r, 12);

	cr_assert(fabs(e - 1000) < 20, "estimate %f", e);
}

Test(hll, other_precisions)
{
	for (unsigned p = WEIR_HLL_P_MIN; p <= WEIR_HLL_P_MAX; p += 2) {
		hll_check(p, 200000, 300 + p);
		hll_check(p, 3000, 400 + p);
	}
}

/* Structured keys (consecutive ints, ports as 16-byte items) through weir_hash64. */
Test(hll, structured_keys)
{
	const unsigned p = 12;
	uint8_t *r = clear(buf_a, 4096);

	for (uint32_t i = 0; i < 300000; i++)
		weir_hll_add(r, p, weir_hash64(&i, sizeof(i)));
	double e = weir_hll_estimate(r, p);

	cr_assert(fabs(e - 300000) <= 3 * hll_se(p) * 300000, "ints: %f", e);

	r = clear(buf_a, 4096);
	for (uint32_t port = 0; port < 65536; port++) {
		uint8_t item[16] = { 0 };

		item[0] = (uint8_t)(port >> 8);
		item[1] = (uint8_t)port;
		weir_hll_add(r, p, weir_hash64(item, 16));
	}
	e = weir_hll_estimate(r, p);
	cr_assert(fabs(e - 65536) <= 3 * hll_se(p) * 65536, "ports: %f", e);
}

Test(hll, duplicates_do_not_count)
{
	const unsigned p = 12;
	uint8_t *once = clear(buf_a, 4096), *many = clear(buf_b, 4096);

	rng_seed(9);
	for (int i = 0; i < 50000; i++) {
		uint64_t h = hash_u64(rng());

		weir_hll_add(once, p, h);
		for (int k = 0; k < 5; k++)
			weir_hll_add(many, p, h);
	}
	cr_assert_eq(memcmp(once, many, 4096), 0);
	cr_assert_eq(weir_hll_estimate(once, p), weir_hll_estimate(many, p));
}

/* merge(a, b) has the registers of adding a's and b's values to one sketch. */
Test(hll, merge_is_union)
{
	const unsigned p = 12;

	for (int overlap = 0; overlap <= 1; overlap++) {
		uint8_t *a = clear(buf_a, 4096), *b = clear(buf_b, 4096), *all = clear(buf_c, 4096);
		/* a: 0..99999, b: 100000..249999 or 50000..199999 */
		uint64_t b0 = overlap ? 50000 : 100000, b1 = b0 + 150000;

		for (uint64_t i = 0; i < 100000; i++) {
			weir_hll_add(a, p, hash_u64(i));
			weir_hll_add(all, p, hash_u64(i));
		}
		for (uint64_t i = b0; i < b1; i++) {
			weir_hll_add(b, p, hash_u64(i));
			weir_hll_add(all, p, hash_u64(i));
		}
		weir_hll_merge(a, b, p);
		cr_assert_eq(memcmp(a, all, 4096), 0);
		double n = (double)b1, e = weir_hll_estimate(a, p);

		cr_assert(fabs(e - n) <= 3 * hll_se(p) * n, "overlap %d: union %f of %f", overlap, e,
			  n);
		/* merging again changes nothing; merging the empty sketch neither */
		weir_hll_merge(a, b, p);
		weir_hll_merge(a, clear(buf_d, 4096), p);
		cr_assert_eq(memcmp(a, all, 4096), 0);
	}
}

Test(hll, copied_state_merges_the_same)
{
	const unsigned p = 10;
	uint8_t *a = clear(buf_a, 1024), *b = clear(buf_b, 1024);

	rng_seed(10);
	for (int i = 0; i < 20000; i++)
		weir_hll_add(i % 2 ? a : b, p, hash_u64(rng()));
	uint8_t *a2 = clear(buf_c, 1024), *b2 = clear(buf_d, 1024);

	memcpy(a2, a, 1024);
	memcpy(b2, b, 1024);
	weir_hll_merge(a, b, p);
	weir_hll_merge(a2, b2, p);
	cr_assert_eq(memcmp(a, a2, 1024), 0);
	cr_assert_eq(weir_hll_estimate(a, p), weir_hll_estimate(a2, p));
}

/* ---- Space-Saving -------------------------------------------------------- */

#define UNIVERSE 20000
static uint64_t truth[UNIVERSE];
static struct weir_topk_counter list_a[WEIR_TOPK_M_MAX], list_b[WEIR_TOPK_M_MAX];

static void item_of(uint32_t i, uint8_t item[16])
{
	memset(item, 0, 16);
	memcpy(item, &i, 4);
	item[15] = 0xa5; /* something in the second word too */
}

static uint32_t index_of(const uint8_t item[16])
{
	uint32_t i;

	memcpy(&i, item, 4);
	cr_assert(i < UNIVERSE && item[15] == 0xa5, "foreign item in the summary");
	return i;
}

/* Zipf(s) over UNIVERSE ranks, ranks shuffled into item numbers. */
static double zipf_cdf[UNIVERSE];
static uint32_t zipf_perm[UNIVERSE];

static void zipf_init(double s, uint64_t seed)
{
	double sum = 0;

	for (int i = 0; i < UNIVERSE; i++) {
		sum += 1.0 / pow(i + 1, s);
		zipf_cdf[i] = sum;
	}
	for (int i = 0; i < UNIVERSE; i++)
		zipf_cdf[i] /= sum;
	rng_seed(seed);
	for (int i = 0; i < UNIVERSE; i++)
		zipf_perm[i] = (uint32_t)i;
	for (int i = UNIVERSE - 1; i > 0; i--) {
		int j = (int)(rng() % (uint64_t)(i + 1));
		uint32_t t = zipf_perm[i];

		zipf_perm[i] = zipf_perm[j];
		zipf_perm[j] = t;
	}
}

static uint32_t zipf_next(void)
{
	double u = rng_unit();
	int lo = 0, hi = UNIVERSE - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (zipf_cdf[mid] >= u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return zipf_perm[lo];
}

/* Every guarantee of the header, against exact counts in truth[]. */
static void topk_check(const void *s, unsigned m, uint64_t total)
{
	static uint8_t seen[UNIVERSE];
	unsigned n = weir_topk_list(s, m, list_a);

	cr_assert_eq(weir_topk_total(s), total);
	cr_assert(n <= m);
	memset(seen, 0, sizeof(seen));
	uint64_t min = n ? list_a[n - 1].count : 0;

	for (unsigned j = 0; j < n; j++) {
		const struct weir_topk_counter *c = &list_a[j];
		uint32_t i = index_of(c->item);

		cr_assert(!seen[i], "item %u listed twice", i);
		seen[i] = 1;
		cr_assert(c->count >= truth[i], "item %u: count %lu < true %lu", i,
			  (unsigned long)c->count, (unsigned long)truth[i]);
		cr_assert(c->count - c->error <= truth[i], "item %u: count %lu - error %lu > true %lu",
			  i, (unsigned long)c->count, (unsigned long)c->error,
			  (unsigned long)truth[i]);
		cr_assert(c->error <= min, "error %lu above the minimum %lu",
			  (unsigned long)c->error, (unsigned long)min);
		if (j > 0)
			cr_assert(list_a[j - 1].count > c->count ||
				  (list_a[j - 1].count == c->count &&
				   memcmp(list_a[j - 1].item, c->item, 16) < 0),
				  "list order");
	}
	if (n == m)
		cr_assert(min * m <= total, "min %lu > total/m", (unsigned long)min);
	for (uint32_t i = 0; i < UNIVERSE; i++) {
		if (seen[i])
			continue;
		/* absent: at most the minimum when full, else never seen */
		cr_assert(truth[i] <= (n == m ? min : 0), "absent item %u has %lu (min %lu)", i,
			  (unsigned long)truth[i], (unsigned long)min);
		cr_assert(truth[i] * m <= total, "frequent item %u missing", i);
	}
}

/* The true top t item numbers, heaviest first. */
static void true_top(unsigned t, uint32_t *out)
{
	for (unsigned k = 0; k < t; k++) {
		uint32_t best = UINT32_MAX;

		for (uint32_t i = 0; i < UNIVERSE; i++) {
			int taken = 0;

			for (unsigned q = 0; q < k; q++)
				taken |= out[q] == i;
			if (!taken && (best == UINT32_MAX || truth[i] > truth[best]))
				best = i;
		}
		out[k] = best;
	}
}

static void topk_check_top(const void *s, unsigned m, unsigned t)
{
	uint32_t want[16];
	unsigned n = weir_topk_list(s, m, list_a);

	true_top(t, want);
	cr_assert(n >= t);
	for (unsigned k = 0; k < t; k++) {
		cr_assert(k == 0 || truth[want[k - 1]] > truth[want[k]], "test stream has ties");
		cr_assert_eq(index_of(list_a[k].item), want[k], "rank %u: got item %u want %u", k,
			     index_of(list_a[k].item), want[k]);
	}
}

static uint64_t sum_counts(const void *s, unsigned m)
{
	unsigned n = weir_topk_list(s, m, list_b);
	uint64_t sum = 0;

	for (unsigned j = 0; j < n; j++)
		sum += list_b[j].count;
	return sum;
}

Test(topk, sizes)
{
	cr_assert_eq(weir_topk_counters(1), 32);
	cr_assert_eq(weir_topk_counters(5), 40);
	cr_assert_eq(weir_topk_counters(10), 76);
	cr_assert_eq(weir_topk_counters(100), 256);
	cr_assert_eq(weir_topk_counters(100000), WEIR_TOPK_M_MAX);
	cr_assert_eq(weir_topk_bytes(40), 16 + 40 * 32); /* linear up to 64 */
	cr_assert_eq(weir_topk_bytes(64), 16 + 64 * 32);
	cr_assert_eq(weir_topk_bytes(65), 16 + 65 * 36 + 2 * 256); /* then heap and index */
	cr_assert_eq(weir_topk_bytes(256), 16 + 256 * 36 + 2 * 512);
	cr_assert_eq(weir_topk_bytes(0), 0);
	cr_assert_eq(weir_topk_bytes(WEIR_TOPK_M_MAX + 1), 0);
	cr_assert_eq(weir_topk_bytes(WEIR_TOPK_M_MAX), 16 + 4096 * 36 + 2 * 8192);
}

static void empty_and_not_full_is_exact_m(unsigned m)
{
	void *s = clear(buf_a, weir_topk_bytes(m));

	cr_assert_eq(weir_topk_list(s, m, list_a), 0);
	cr_assert_eq(weir_topk_total(s), 0);
	memset(truth, 0, sizeof(truth));
	rng_seed(20);
	uint64_t total = 0;

	for (int k = 0; k < 5000; k++) {
		uint32_t i = (uint32_t)(rng() % 30);
		uint64_t w = 1 + rng() % 3;
		uint8_t item[16];

		item_of(i, item);
		weir_topk_add(s, m, item, w);
		truth[i] += w;
		total += w;
	}
	weir_topk_add(s, m, list_a[0].item, 0); /* weight 0: nothing */
	topk_check(s, m, total);
	unsigned n = weir_topk_list(s, m, list_a);

	cr_assert_eq(n, 30);
	for (unsigned j = 0; j < n; j++) {
		cr_assert_eq(list_a[j].error, 0);
		cr_assert_eq(list_a[j].count, truth[index_of(list_a[j].item)]);
	}
}

Test(topk, empty_and_not_full_is_exact)
{
	static const unsigned ms[] = { 32, 100 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		empty_and_not_full_is_exact_m(ms[i]);
}

/* A skewed stream: the guarantees hold all along and the top 5 are right. */
static void zipf_stream_m(unsigned m)
{
	void *s = clear(buf_a, weir_topk_bytes(m));
	uint64_t total = 0;

	memset(truth, 0, sizeof(truth));
	zipf_init(1.1, 21);
	for (int k = 1; k <= 300000; k++) {
		uint32_t i = zipf_next();
		uint8_t item[16];

		item_of(i, item);
		weir_topk_add(s, m, item, 1);
		truth[i]++;
		total++;
		if (k % 50000 == 0 || k == 100 || k == 1000) {
			topk_check(s, m, total);
			cr_assert_eq(sum_counts(s, m), total); /* adds only: counts sum to N */
		}
	}
	topk_check_top(s, m, 5);
}

Test(topk, zipf_stream)
{
	static const unsigned ms[] = { 40, 100, 256 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		zipf_stream_m(ms[i]);
}

/* Each replacement takes a counter of the minimum count: count = min + w, error = min. */
static void replaces_the_minimum_m(unsigned m)
{
	void *s = clear(buf_a, weir_topk_bytes(m));
	uint64_t total = 0;

	memset(truth, 0, sizeof(truth));
	zipf_init(0.8, 22);
	for (int k = 0; k < 20000; k++) {
		uint32_t i = zipf_next();
		uint64_t w = 1 + rng() % 4;
		uint8_t item[16];
		unsigned n = weir_topk_list(s, m, list_a);
		int present = 0;

		item_of(i, item);
		for (unsigned j = 0; j < n; j++)
			present |= !memcmp(list_a[j].item, item, 16);
		uint64_t min = n ? list_a[n - 1].count : 0;
		uint64_t before = 0;

		for (unsigned j = 0; j < n; j++)
			if (!memcmp(list_a[j].item, item, 16))
				before = list_a[j].count;
		weir_topk_add(s, m, item, w);
		truth[i] += w;
		total += w;
		unsigned n2 = weir_topk_list(s, m, list_b);
		const struct weir_topk_counter *c = NULL;

		for (unsigned j = 0; j < n2; j++)
			if (!memcmp(list_b[j].item, item, 16))
				c = &list_b[j];
		cr_assert_not_null(c);
		if (present) {
			cr_assert_eq(c->count, before + w);
		} else if (n == m) {
			cr_assert_eq(n2, m);
			cr_assert_eq(c->count, min + w, "step %d: %lu != min %lu + %lu", k,
				     (unsigned long)c->count, (unsigned long)min, (unsigned long)w);
			cr_assert_eq(c->error, min);
		} else {
			cr_assert_eq(n2, n + 1);
			cr_assert_eq(c->count, w);
			cr_assert_eq(c->error, 0);
		}
	}
	topk_check(s, m, total);
}

Test(topk, replaces_the_minimum)
{
	static const unsigned ms[] = { 32, 100 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		replaces_the_minimum_m(ms[i]);
}

/* All items distinct: the index and heap churn on every add. */
static void all_distinct_churn_m(unsigned m)
{
	void *s = clear(buf_a, weir_topk_bytes(m));

	memset(truth, 0, sizeof(truth));
	for (uint32_t i = 0; i < UNIVERSE; i++) {
		uint8_t item[16];

		item_of(i, item);
		weir_topk_add(s, m, item, 1);
		truth[i] = 1;
	}
	topk_check(s, m, UNIVERSE);
	/* now a heavy item arrives late and must surface */
	uint8_t item[16];

	item_of(7, item);
	for (int k = 0; k < 2000; k++)
		weir_topk_add(s, m, item, 1);
	truth[7] += 2000;
	topk_check(s, m, UNIVERSE + 2000);
	weir_topk_list(s, m, list_a);
	cr_assert_eq(index_of(list_a[0].item), 7);
}

Test(topk, all_distinct_churn)
{
	static const unsigned ms[] = { 40, 200 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		all_distinct_churn_m(ms[i]);
}

/* Weighted adds (packet sizes): the same guarantees in weight units. */
static void weights_m(unsigned m)
{
	void *s = clear(buf_a, weir_topk_bytes(m));
	uint64_t total = 0;

	memset(truth, 0, sizeof(truth));
	zipf_init(1.2, 23);
	for (int k = 0; k < 200000; k++) {
		uint32_t i = zipf_next();
		uint64_t w = 40 + rng() % 1461;
		uint8_t item[16];

		item_of(i, item);
		weir_topk_add(s, m, item, w);
		truth[i] += w;
		total += w;
	}
	topk_check(s, m, total);
	cr_assert_eq(sum_counts(s, m), total);
	topk_check_top(s, m, 5);
}

Test(topk, weights)
{
	static const unsigned ms[] = { 40, 256 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		weights_m(ms[i]);
}

static uint64_t fill_shards(void **shards, unsigned nshards, unsigned m, double zs, uint64_t seed,
			    int n, int weighted)
{
	uint64_t total = 0;

	memset(truth, 0, sizeof(truth));
	zipf_init(zs, seed);
	for (int k = 0; k < n; k++) {
		uint32_t i = zipf_next();
		uint64_t w = weighted ? 1 + rng() % 100 : 1;
		uint8_t item[16];
		/* shard by item for half of the stream, by arrival for the rest */
		unsigned sh = k < n / 2 ? i % nshards : (unsigned)(k % (int)nshards);

		item_of(i, item);
		weir_topk_add(shards[sh], m, item, w);
		truth[i] += w;
		total += w;
	}
	return total;
}

static void merge_halves_m(unsigned m)
{
	const size_t bytes = weir_topk_bytes(m);

	for (int weighted = 0; weighted <= 1; weighted++) {
		void *sh[2] = { clear(buf_a, bytes), clear(buf_b, bytes) };
		uint64_t total = fill_shards(sh, 2, m, 1.1, 24 + weighted, 300000, weighted);
		/* a copy of the states (their serialized form) merges the same */
		void *a2 = clear(buf_c, bytes), *b2 = clear(buf_d, bytes);

		memcpy(a2, sh[0], bytes);
		memcpy(b2, sh[1], bytes);
		weir_topk_merge(sh[0], sh[1], m);
		topk_check(sh[0], m, total);
		topk_check_top(sh[0], m, 5);
		weir_topk_merge(a2, b2, m);
		cr_assert_eq(memcmp(a2, sh[0], bytes), 0, "copied states merge differently");
	}
}

Test(topk, merge_halves)
{
	static const unsigned ms[] = { 40, 256 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		merge_halves_m(ms[i]);
}

/* Eight shards merged as a tree, then adds after the merge. */
static void merge_tree_then_add_m(unsigned m)
{
	const size_t bytes = weir_topk_bytes(m);
	static uint64_t shard_buf[8][2048];
	void *sh[8];

	cr_assert(bytes <= sizeof(shard_buf[0]));
	for (int i = 0; i < 8; i++)
		sh[i] = clear(shard_buf[i], bytes);
	uint64_t total = fill_shards(sh, 8, m, 1.05, 26, 400000, 1);

	for (int step = 1; step < 8; step *= 2)
		for (int i = 0; i + step < 8; i += 2 * step)
			weir_topk_merge(sh[i], sh[i + step], m);
	topk_check(sh[0], m, total);
	topk_check_top(sh[0], m, 5);

	/* keep adding to the merged summary: still within the guarantees */
	for (int k = 0; k < 100000; k++) {
		uint32_t i = zipf_next();
		uint8_t item[16];

		item_of(i, item);
		weir_topk_add(sh[0], m, item, 3);
		truth[i] += 3;
		total += 3;
	}
	topk_check(sh[0], m, total);
	topk_check_top(sh[0], m, 5);
}

Test(topk, merge_tree_then_add)
{
	static const unsigned ms[] = { 40, 256 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		merge_tree_then_add_m(ms[i]);
}

/* Merging with an empty or a not-full summary. */
static void merge_partial_m(unsigned m)
{
	const size_t bytes = weir_topk_bytes(m);
	void *a = clear(buf_a, bytes), *e = clear(buf_b, bytes), *small = clear(buf_c, bytes);
	uint64_t total = 0;

	memset(truth, 0, sizeof(truth));
	zipf_init(1.0, 27);
	for (int k = 0; k < 50000; k++) {
		uint32_t i = zipf_next();
		uint8_t item[16];

		item_of(i, item);
		weir_topk_add(a, m, item, 1);
		truth[i]++;
		total++;
	}
	unsigned n = weir_topk_list(a, m, list_b);
	static struct weir_topk_counter before[WEIR_TOPK_M_MAX];

	memcpy(before, list_b, n * sizeof(before[0]));
	/* a + empty and empty + a: a's counters */
	weir_topk_merge(a, e, m);
	cr_assert_eq(weir_topk_list(a, m, list_b), n);
	cr_assert_eq(memcmp(before, list_b, n * sizeof(before[0])), 0);
	weir_topk_merge(e, a, m);
	cr_assert_eq(weir_topk_list(e, m, list_b), n);
	cr_assert_eq(memcmp(before, list_b, n * sizeof(before[0])), 0);
	topk_check(e, m, total);

	/* a not-full summary (exact) of other items, heavy enough to enter */
	for (uint32_t i = 0; i < 10; i++) {
		uint8_t item[16];
		uint32_t it = UNIVERSE - 1 - i;

		item_of(it, item);
		weir_topk_add(small, m, item, 5000 + i);
		truth[it] += 5000 + i;
		total += 5000 + i;
	}
	weir_topk_merge(a, small, m);
	topk_check(a, m, total);
	weir_topk_merge(small, e, m); /* the other way round: full into not full */
	topk_check(small, m, total);
}

Test(topk, merge_partial)
{
	static const unsigned ms[] = { 32, 100 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		merge_partial_m(ms[i]);
}

/* A merge that turns the count order upside down: the minimum is found anew. */
static void merge_reorders_m(unsigned m)
{
	const size_t bytes = weir_topk_bytes(m);
	void *a = clear(buf_a, bytes), *b = clear(buf_b, bytes);
	uint64_t total = 0;
	uint8_t item[16];

	memset(truth, 0, sizeof(truth));
	for (uint32_t i = 0; i < m; i++) { /* a, full: item i has i + 1 */
		item_of(i, item);
		weir_topk_add(a, m, item, i + 1);
		truth[i] += i + 1;
		total += i + 1;
	}
	for (uint32_t i = 0; i < m / 2; i++) { /* b, not full: the light half of a gets heavy */
		item_of(i, item);
		weir_topk_add(b, m, item, 1000 - i);
		truth[i] += 1000 - i;
		total += 1000 - i;
	}
	for (uint32_t i = 1000; i < 1010; i++) { /* and new items that push out m/2 .. m/2+9 */
		item_of(i, item);
		weir_topk_add(b, m, item, 3 * m);
		truth[i] += 3 * m;
		total += 3 * m;
	}
	weir_topk_merge(a, b, m);
	topk_check(a, m, total);
	unsigned n = weir_topk_list(a, m, list_a);

	cr_assert_eq(n, m);
	cr_assert_eq(index_of(list_a[0].item), 0);
	cr_assert_eq(list_a[0].count, 1001);
	cr_assert_eq(index_of(list_a[m / 2].item), 1000);
	cr_assert_eq(list_a[m / 2].count, 3 * m + 1); /* + a's minimum */
	cr_assert_eq(list_a[m / 2].error, 1);
	cr_assert_eq(index_of(list_a[m - 1].item), m / 2 + 10); /* the smallest kept */
	/* adds after the merge replace the true minimum */
	for (uint32_t i = 2000; i < 2010; i++) {
		uint64_t min = list_a[weir_topk_list(a, m, list_a) - 1].count;

		item_of(i, item);
		weir_topk_add(a, m, item, 1);
		truth[i] += 1;
		total += 1;
		weir_topk_list(a, m, list_a);
		int found = 0;

		for (unsigned j = 0; j < m; j++)
			if (!memcmp(list_a[j].item, item, 16)) {
				found = 1;
				cr_assert_eq(list_a[j].count, min + 1);
				cr_assert_eq(list_a[j].error, min);
			}
		cr_assert(found);
	}
	topk_check(a, m, total);
}

Test(topk, merge_reorders)
{
	static const unsigned ms[] = { 32, 80, 200 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		merge_reorders_m(ms[i]);
}

/*
 * merge against a reference computed here from both lists: the combined
 * counts and errors of the mergeable Space-Saving, of which the m largest
 * (by count) stay.
 */
static struct weir_topk_counter ref[2 * WEIR_TOPK_M_MAX], la[WEIR_TOPK_M_MAX],
	lb[WEIR_TOPK_M_MAX];

static int cmp_count_desc(const void *x, const void *y)
{
	const struct weir_topk_counter *a = x, *b = y;

	return a->count > b->count ? -1 : a->count < b->count;
}

/* items: an offset and a span; span < m keeps a summary not full */
static void topk_fill(void *s, unsigned m, uint32_t first, uint32_t span, int n)
{
	for (int k = 0; k < n; k++) {
		/* skewed within the span: the min of two uniforms */
		uint32_t x = (uint32_t)(rng() % span), y = (uint32_t)(rng() % span);
		uint8_t item[16];

		item_of(first + (x < y ? x : y), item);
		weir_topk_add(s, m, item, 1 + rng() % 10);
	}
}

static void merge_reference_case(unsigned m, uint32_t a0, uint32_t aspan, uint32_t b0,
				 uint32_t bspan)
{
	const size_t bytes = weir_topk_bytes(m);
	void *a = clear(buf_a, bytes), *b = clear(buf_b, bytes);

	topk_fill(a, m, a0, aspan, 20000);
	topk_fill(b, m, b0, bspan, 20000);
	unsigned na = weir_topk_list(a, m, la), nb = weir_topk_list(b, m, lb), nr = 0;
	uint64_t amin = na == m ? la[na - 1].count : 0, bmin = nb == m ? lb[nb - 1].count : 0;

	for (unsigned i = 0; i < na; i++) {
		ref[nr] = la[i];
		ref[nr].count += bmin;
		ref[nr].error += bmin;
		for (unsigned j = 0; j < nb; j++)
			if (!memcmp(la[i].item, lb[j].item, 16)) {
				ref[nr].count = la[i].count + lb[j].count;
				ref[nr].error = la[i].error + lb[j].error;
			}
		nr++;
	}
	for (unsigned j = 0; j < nb; j++) {
		int in_a = 0;

		for (unsigned i = 0; i < na; i++)
			in_a |= !memcmp(la[i].item, lb[j].item, 16);
		if (in_a)
			continue;
		ref[nr] = lb[j];
		ref[nr].count += amin;
		ref[nr].error += amin;
		nr++;
	}
	qsort(ref, nr, sizeof(ref[0]), cmp_count_desc);

	weir_topk_merge(a, b, m);
	unsigned n = weir_topk_list(a, m, list_a);

	cr_assert_eq(n, nr < m ? nr : m, "m %u: %u counters, want %u", m, n, nr < m ? nr : m);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(list_a[i].count, ref[i].count, "m %u: rank %u count %lu want %lu", m, i,
			     (unsigned long)list_a[i].count, (unsigned long)ref[i].count);
		int found = 0;

		for (unsigned j = 0; j < nr; j++)
			if (!memcmp(list_a[i].item, ref[j].item, 16)) {
				found = 1;
				cr_assert_eq(list_a[i].count, ref[j].count);
				cr_assert_eq(list_a[i].error, ref[j].error);
			}
		cr_assert(found, "m %u: merged item not in either summary", m);
	}
}

Test(topk, merge_matches_reference)
{
	static const unsigned ms[] = { 32, 40, 64, 65, 100, 256 };

	rng_seed(28);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		unsigned m = ms[i], h = m / 2;

		merge_reference_case(m, 0, 10 * m, 5 * m, 10 * m); /* both full, overlapping */
		merge_reference_case(m, 0, 10 * m, 20 * m, 10 * m); /* both full, disjoint */
		merge_reference_case(m, 0, 10 * m, 5 * m, h); /* full + not full */
		merge_reference_case(m, 0, h, 0, 10 * m); /* not full + full */
		merge_reference_case(m, 0, m - 1, h, m - 1); /* neither full, union > m */
		merge_reference_case(m, 0, h / 2, h / 4, h / 2); /* neither full, union < m */
	}
}

/*
 * The linear Space-Saving (m <= 64) of earlier builds, as it was: after the
 * 16-byte header (total, used, 0) the counters as struct
 * weir_topk_counter[m]; a new item takes the first counter of the smallest
 * count. Both the reference the summaries must match counter for counter
 * (the layout changed, not the results) and a maker of states in the old
 * layout, as checkpoints of those builds hold them.
 */
struct old_hdr {
	uint64_t total;
	uint32_t used, layout;
};

static struct weir_topk_counter *old_ctr(void *s)
{
	return (struct weir_topk_counter *)(void *)((uint8_t *)s + 16);
}

static unsigned old_min(void *s)
{
	struct old_hdr *h = s;
	struct weir_topk_counter *c = old_ctr(s);
	unsigned mi = 0;

	for (unsigned i = 1; i < h->used; i++)
		if (c[i].count < c[mi].count)
			mi = i;
	return mi;
}

static int old_find(void *s, const uint8_t *item)
{
	struct old_hdr *h = s;

	for (unsigned i = 0; i < h->used; i++)
		if (!memcmp(old_ctr(s)[i].item, item, 16))
			return (int)i;
	return -1;
}

static void old_set(struct weir_topk_counter *c, const uint8_t *item, uint64_t count, uint64_t error)
{
	memcpy(c->item, item, 16);
	c->count = count;
	c->error = error;
}

static void old_add(void *s, unsigned m, const uint8_t *item, uint64_t w)
{
	struct old_hdr *h = s;
	struct weir_topk_counter *c = old_ctr(s);
	int j = old_find(s, item);

	h->total += w;
	if (j >= 0) {
		c[j].count += w;
	} else if (h->used < m) {
		old_set(&c[h->used++], item, w, 0);
	} else {
		unsigned mi = old_min(s);

		old_set(&c[mi], item, c[mi].count + w, c[mi].count);
	}
}

static void old_merge(void *d, void *s, unsigned m)
{
	struct old_hdr *dh = d, *sh = s;
	struct weir_topk_counter *dc = old_ctr(d), *sc = old_ctr(s);
	unsigned du = dh->used, su = sh->used;
	uint64_t d_min = du == m ? dc[old_min(d)].count : 0, s_min = su == m ? sc[old_min(s)].count : 0;
	uint64_t matched = 0;

	dh->total += sh->total;
	if (su == 0)
		return;
	for (unsigned i = 0; i < du; i++) {
		int j = old_find(s, dc[i].item);

		dc[i].count += j >= 0 ? sc[j].count : s_min;
		dc[i].error += j >= 0 ? sc[j].error : s_min;
		if (j >= 0)
			matched |= 1ull << j;
	}
	for (unsigned j = 0; j < su; j++) {
		if (matched & (1ull << j))
			continue;
		uint64_t cnt = sc[j].count + d_min, err = sc[j].error + d_min;

		if (dh->used < m) {
			old_set(&dc[dh->used++], sc[j].item, cnt, err);
		} else {
			unsigned mi = old_min(d);

			if (dc[mi].count < cnt)
				old_set(&dc[mi], sc[j].item, cnt, err);
		}
	}
}

/* Items with ties in the first word (the second tells them apart), the second word mostly zero. */
static void tie_item(uint32_t x, uint8_t item[16])
{
	uint64_t lo = x % 7 == 0 ? 5 : x, hi = x % 7 == 0 ? x : 0;

	memcpy(item, &lo, 8);
	memcpy(item + 8, &hi, 8);
}

static int cmp_list(const void *a, const void *b)
{
	const struct weir_topk_counter *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return memcmp(x->item, y->item, 16);
}

/* s (either layout) holds exactly the counters of the old-layout state o. */
static void same_as_old(const void *s, void *o, unsigned m, const char *what)
{
	const struct old_hdr *oh = o;
	unsigned n = weir_topk_list(s, m, list_a);

	cr_assert_eq(weir_topk_total(s), oh->total, "%s m %u: total", what, m);
	cr_assert_eq(n, oh->used, "%s m %u: %u counters, want %u", what, m, n, oh->used);
	memcpy(list_b, old_ctr(o), n * sizeof(list_b[0]));
	qsort(list_b, n, sizeof(list_b[0]), cmp_list);
	cr_assert_eq(memcmp(list_a, list_b, n * sizeof(list_a[0])), 0, "%s m %u: counters differ",
		     what, m);
}

/* A stream of n adds into s (this build) and o (the old code), weights 1 or mixed. */
static void both_add(void *s, void *o, unsigned m, uint32_t span, int n, int weighted)
{
	for (int k = 0; k < n; k++) {
		uint8_t item[16];
		uint64_t w = weighted ? 1 + rng() % 5 : 1;
		uint32_t x = (uint32_t)(rng() % span), y = (uint32_t)(rng() % span);

		tie_item(x < y ? x : y, item);
		weir_topk_add(s, m, item, w);
		old_add(o, m, item, w);
	}
}

static const unsigned lin_ms[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 32, 33, 40, 63, 64 };

/* Every add and merge gives the counters of the old code, ties at the minimum included. */
Test(topk, linear_matches_old_layout)
{
	rng_seed(41);
	for (size_t t = 0; t < sizeof(lin_ms) / sizeof(lin_ms[0]); t++) {
		unsigned m = lin_ms[t];
		size_t bytes = weir_topk_bytes(m);
		void *a = clear(buf_a, bytes), *b = clear(buf_b, bytes);
		void *oa = clear(buf_c, bytes), *ob = clear(buf_d, bytes);

		for (int round = 0; round < 6; round++) {
			both_add(a, oa, m, 3 * m + 2, 500, round & 1);
			same_as_old(a, oa, m, "add");
		}
		both_add(b, ob, m, m > 1 ? m - 1 : 1, 50, 1); /* not full (for m > 2) */
		same_as_old(b, ob, m, "add, not full");
		weir_topk_merge(a, b, m);
		old_merge(oa, ob, m);
		same_as_old(a, oa, m, "merge, not full into full");
		both_add(b, ob, m, 4 * m, 3000, 0);
		weir_topk_merge(b, a, m);
		old_merge(ob, oa, m);
		same_as_old(b, ob, m, "merge, full into full");
		both_add(b, ob, m, 5 * m, 3000, 1);
		same_as_old(b, ob, m, "add after merge");
	}
}

/* A state in the old layout (restored from a checkpoint of an earlier build)
 * reads, adds and merges as it did: rewritten once, the results the same. */
Test(topk, old_layout_states_still_read)
{
	static uint64_t oa2[BUF_WORDS / 8], src_old[BUF_WORDS / 8];

	rng_seed(42);
	for (size_t t = 0; t < sizeof(lin_ms) / sizeof(lin_ms[0]); t++) {
		unsigned m = lin_ms[t];
		size_t bytes = weir_topk_bytes(m);
		void *s = clear(buf_a, bytes), *o = clear(buf_b, bytes), *n = clear(buf_c, bytes);
		void *on = clear(buf_d, bytes);

		cr_assert(bytes <= sizeof(oa2));
		/* o: an old state; s: the same bytes, as a restore copies them */
		for (int k = 0; k < 2000; k++) {
			uint8_t item[16];

			tie_item((uint32_t)(rng() % (3 * m + 1)), item);
			old_add(o, m, item, 1 + k % 3);
		}
		memcpy(s, o, bytes);
		same_as_old(s, o, m, "old layout listed");
		/* an old state merged into a new one, and the other way round */
		both_add(n, on, m, 2 * m + 1, 700, 1);
		memcpy(src_old, o, bytes);
		memcpy(oa2, o, bytes);
		weir_topk_merge(n, src_old, m); /* src is read only: not rewritten */
		old_merge(on, oa2, m);
		cr_assert_eq(memcmp(src_old, o, bytes), 0, "m %u: merge changed its source", m);
		same_as_old(n, on, m, "old source merged");
		memcpy(oa2, o, bytes);
		weir_topk_merge(s, n, m); /* s: still the old layout */
		old_merge(oa2, on, m);
		same_as_old(s, oa2, m, "merged into an old state");
		both_add(s, oa2, m, 4 * m, 2000, 0);
		same_as_old(s, oa2, m, "adds after");
		/* an old state's first change is an add */
		memcpy(s, o, bytes);
		memcpy(oa2, o, bytes);
		both_add(s, oa2, m, 4 * m, 2000, 1);
		same_as_old(s, oa2, m, "old state, then adds");
	}
}

/* weir_topk_add_words is weir_topk_add of the item those words make. */
Test(topk, add_words_is_add_of_the_item)
{
	static const unsigned ms[] = { 5, 40, 64, 65, 256 };

	rng_seed(43);
	for (size_t t = 0; t < sizeof(ms) / sizeof(ms[0]); t++) {
		unsigned m = ms[t];
		size_t bytes = weir_topk_bytes(m);
		void *a = clear(buf_a, bytes), *b = clear(buf_b, bytes);

		for (int k = 0; k < 20000; k++) {
			uint8_t item[16];
			uint64_t lo, hi;

			tie_item((uint32_t)(rng() % (4 * m)), item);
			memcpy(&lo, item, 8);
			memcpy(&hi, item + 8, 8);
			weir_topk_add(a, m, item, 1 + k % 2);
			weir_topk_add_words(b, m, lo, hi, 1 + k % 2);
		}
		cr_assert_eq(memcmp(a, b, bytes), 0, "m %u: states differ", m);
	}
}

/* ---- quantiles ----------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* the header's nearest-rank definition */
static uint64_t nearest_rank(double q, uint64_t n)
{
	double x = q * (double)n;
	uint64_t r = (uint64_t)ceil(x - x * 1e-9);

	return r < 1 ? 1 : r > n ? n : r;
}

static void quant_expect(const void *s, double q, uint32_t exact)
{
	double v = weir_quant_value(s, q), eps = weir_quant_rel_error();

	if (exact == 0)
		cr_assert_eq(v, 0.0, "q %g: %f for 0", q, v);
	else
		cr_assert(fabs(v - exact) <= eps * exact, "q %g: %f for %u (rel %.5f)", q, v, exact,
			  fabs(v - exact) / exact);
}

#define QN 200000
static uint32_t vals[QN], sorted[QN];

static void quant_check_stream(int n, const char *what)
{
	void *s = clear(buf_a, weir_quant_bytes());
	static const double qs[] = { 0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 };

	for (int i = 0; i < n; i++)
		weir_quant_add(s, vals[i]);
	cr_assert_eq(weir_quant_count(s), (uint64_t)n, "%s", what);
	memcpy(sorted, vals, n * sizeof(vals[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
		quant_expect(s, qs[k], sorted[nearest_rank(qs[k], n) - 1]);
	cr_assert_eq(weir_quant_value(s, 0), (double)sorted[0], "%s: p0 is the minimum", what);
	cr_assert_eq(weir_quant_value(s, 1), (double)sorted[n - 1], "%s: p100 is the maximum", what);
	for (int k = 0; k < 1000; k++) {
		double q = rng_unit();

		quant_expect(s, q, sorted[nearest_rank(q, n) - 1]);
	}

	/* merge of two parts == add of everything, bit for bit; copies merge the same */
	void *a = clear(buf_b, weir_quant_bytes()), *b = clear(buf_c, weir_quant_bytes());

	for (int i = 0; i < n; i++)
		weir_quant_add(i < n / 3 ? a : b, vals[i]);
	void *b2 = clear(buf_d, weir_quant_bytes());

	memcpy(b2, b, weir_quant_bytes());
	weir_quant_merge(b2, a);
	weir_quant_merge(a, b);
	cr_assert_eq(memcmp(a, s, weir_quant_bytes()), 0, "%s: merge != add", what);
	cr_assert_eq(memcmp(b2, s, weir_quant_bytes()), 0, "%s: merge order matters", what);
}

Test(quant, size_and_bound)
{
	cr_assert(weir_quant_bytes() <= 4096);
	cr_assert(weir_quant_rel_error() > 0 && weir_quant_rel_error() <= 0.01);
}

Test(quant, empty_is_nan)
{
	void *s = clear(buf_a, weir_quant_bytes());

	cr_assert_eq(weir_quant_count(s), 0);
	cr_assert(isnan(weir_quant_value(s, 0)));
	cr_assert(isnan(weir_quant_value(s, 0.5)));
	cr_assert(isnan(weir_quant_value(s, 1)));
	weir_quant_merge(s, clear(buf_b, weir_quant_bytes()));
	cr_assert(isnan(weir_quant_value(s, 0.5)));
	weir_quant_add(s, 42);
	cr_assert(isnan(weir_quant_value(s, NAN)));
	cr_assert_eq(weir_quant_value(s, 0.5), 42.0);
	cr_assert_eq(weir_quant_value(s, -1), 42.0);
	cr_assert_eq(weir_quant_value(s, 2), 42.0);
}

/*
 * Every value 0..2^18, values around every power of two and random values
 * over all of uint32: as the middle of three (so its bucket's representative
 * answers), within the bound, and monotone in the value.
 */
Test(quant, every_bucket_within_bound)
{
	void *s = buf_a;
	double prev = -1;

	for (uint64_t v = 0; v <= (1u << 18); v++) {
		clear(buf_a, weir_quant_bytes());
		weir_quant_add(s, 0);
		weir_quant_add(s, (uint32_t)v);
		weir_quant_add(s, UINT32_MAX);
		quant_expect(s, 0.5, (uint32_t)v);
		double r = weir_quant_value(s, 0.5);

		cr_assert(r >= prev, "not monotone at %lu", (unsigned long)v);
		prev = r;
	}
	rng_seed(30);
	for (int k = 0; k < 200000; k++) {
		uint32_t v;

		if (k < 32 * 5) {
			uint64_t p2 = 1ull << (k / 5);

			v = (uint32_t)(p2 + (uint64_t)(k % 5) - 2);
		} else {
			v = (uint32_t)(rng() >> (32 + rng() % 32)); /* every magnitude */
		}
		clear(buf_a, weir_quant_bytes());
		weir_quant_add(s, 0);
		weir_quant_add(s, v);
		weir_quant_add(s, UINT32_MAX);
		quant_expect(s, 0.5, v);
	}
}

Test(quant, uniform)
{
	rng_seed(31);
	for (int i = 0; i < QN; i++)
		vals[i] = (uint32_t)rng();
	quant_check_stream(QN, "uniform uint32");
	for (int i = 0; i < QN; i++)
		vals[i] = (uint32_t)(rng() % ((1u << 20) + 1));
	quant_check_stream(QN, "uniform 0..2^20");
}

Test(quant, exponential)
{
	rng_seed(32);
	for (int i = 0; i < QN; i++)
		vals[i] = (uint32_t)(-log(rng_unit()) * 1500.0); /* e.g. latencies in us */
	quant_check_stream(QN, "exponential");
	for (int i = 0; i < QN; i++) {
		double x = 64.0 / pow(rng_unit(), 1.5); /* Pareto: a heavy tail */

		vals[i] = x > 4e9 ? 4000000000u : (uint32_t)x;
	}
	quant_check_stream(QN, "pareto");
}

Test(quant, small_ints_and_constant)
{
	rng_seed(33);
	for (int i = 0; i < QN; i++)
		vals[i] = (uint32_t)(rng() % 100);
	quant_check_stream(QN, "small ints");
	void *s = buf_a;

	/* 0..63 are exact */
	for (int i = 0; i < QN; i++)
		vals[i] = (uint32_t)(rng() % 64);
	quant_check_stream(QN, "ints below 64");
	for (int k = 0; k <= 100; k++) {
		double q = k / 100.0;

		cr_assert_eq(weir_quant_value(s, q), (double)sorted[nearest_rank(q, QN) - 1], "q %g: %f vs %u", q,
			     weir_quant_value(s, q), sorted[nearest_rank(q, QN) - 1]);
	}
	for (int i = 0; i < QN; i++)
		vals[i] = 1234567;
	quant_check_stream(QN, "constant");
	cr_assert_eq(weir_quant_value(buf_a, 0.5), 1234567.0); /* clamped to min..max */
	for (int i = 0; i < 3; i++)
		vals[i] = (uint32_t[]){ 7, 1500, UINT32_MAX }[i];
	quant_check_stream(3, "three values");
	vals[0] = 0;
	quant_check_stream(1, "one zero");
}

/* The packet-size mix of a real link: a few sizes, most of the mass at both ends. */
Test(quant, packet_sizes)
{
	rng_seed(34);
	for (int i = 0; i < QN; i++) {
		uint64_t r = rng() % 100;

		vals[i] = r < 45 ? 64 : r < 55 ? (uint32_t)(65 + rng() % 500) : r < 60 ? 576 : 1514;
	}
	quant_check_stream(QN, "packet sizes");
}
