/* SPDX-License-Identifier: BSD-3-Clause
 *
 * EAL set-up for Criterion suites that need DPDK memory (.init/.fini of a
 * test). Criterion runs each test in its own process, so each starts its
 * own EAL: no hugepages (runs anywhere), a per-process file prefix, and
 * the empty runtime folder that prefix leaves is removed afterwards.
 */
#ifndef WEIR_TEST_EAL_H
#define WEIR_TEST_EAL_H

#include <stdio.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_eal.h>

static inline void eal_up(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=weirtest%d", (int)getpid());
	char *argv[] = {"test", "--no-pci", "--no-huge", "-m", "256", "--no-shconf",
			"--no-telemetry", "--log-level=lib.eal:error", prefix, NULL};
	cr_assert_geq(rte_eal_init(9, argv), 0, "EAL init");
}

static inline void eal_down(void)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
}

#endif /* WEIR_TEST_EAL_H */
