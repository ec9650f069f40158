/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_mbuf_free_burst: every mbuf ends where rte_pktmbuf_free would put it,
 * whichever way the burst takes. The pools have no lcore cache, so their
 * available counts are exact.
 */
#include <criterion/criterion.h>
#include <rte_mbuf.h>

#include "test_eal.h"
#include "weir_port.h"

#define POOL_N 64

static struct rte_mempool *pool_a, *pool_b;

static void setup(void)
{
	eal_up();
	pool_a = rte_pktmbuf_pool_create("test_a", POOL_N, 0, 0, 256, SOCKET_ID_ANY);
	pool_b = rte_pktmbuf_pool_create("test_b", POOL_N, 0, 0, 256, SOCKET_ID_ANY);
	cr_assert(pool_a && pool_b, "pools");
}

static void teardown(void)
{
	rte_mempool_free(pool_a);
	rte_mempool_free(pool_b);
	eal_down();
}

TestSuite(port, .init = setup, .fini = teardown);

static void alloc(struct rte_mempool *mp, struct rte_mbuf **m, unsigned n)
{
	cr_assert_eq(rte_pktmbuf_alloc_bulk(mp, m, n), 0, "alloc %u", n);
}

Test(port, plain_burst_returns_every_mbuf)
{
	struct rte_mbuf *m[32];

	for (int round = 0; round < 3; round++) {
		alloc(pool_a, m, 32);
		cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N - 32);
		weir_mbuf_free_burst(m, 32);
		cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N, "round %d", round);
	}
	weir_mbuf_free_burst(m, 0); /* an empty burst frees nothing */
	cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N);
}

/* A reference held elsewhere: the mbuf stays out until the last one goes. */
Test(port, held_mbuf_stays_until_its_last_reference)
{
	struct rte_mbuf *m[8];

	alloc(pool_a, m, 8);
	rte_mbuf_refcnt_update(m[5], 1);
	struct rte_mbuf *held = m[5];
	weir_mbuf_free_burst(m, 8);
	cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N - 1);
	cr_assert_eq(rte_mbuf_refcnt_read(held), 1);
	weir_mbuf_free_burst(&held, 1);
	cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N);
}

Test(port, chained_mbuf_frees_every_segment)
{
	struct rte_mbuf *m[4], *tail;

	alloc(pool_a, m, 4);
	alloc(pool_a, &tail, 1);
	cr_assert_eq(rte_pktmbuf_chain(m[2], tail), 0);
	cr_assert_eq(m[2]->nb_segs, 2);
	weir_mbuf_free_burst(m, 4);
	cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N);
}

Test(port, mixed_pools_go_back_to_their_own)
{
	struct rte_mbuf *m[6];

	alloc(pool_a, m, 3);
	alloc(pool_b, m + 3, 3);
	weir_mbuf_free_burst(m, 6);
	cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N);
	cr_assert_eq(rte_mempool_avail_count(pool_b), POOL_N);
}

/* A clone (indirect mbuf): it goes back to its pool, and releases its direct one. */
Test(port, clone_releases_the_mbuf_it_refers_to)
{
	struct rte_mbuf *m[2];

	alloc(pool_a, m, 1);
	m[1] = rte_pktmbuf_clone(m[0], pool_b);
	cr_assert_not_null(m[1]);
	cr_assert_eq(rte_mbuf_refcnt_read(m[0]), 2);
	weir_mbuf_free_burst(m, 2);
	cr_assert_eq(rte_mempool_avail_count(pool_a), POOL_N);
	cr_assert_eq(rte_mempool_avail_count(pool_b), POOL_N);
}
