#!/usr/bin/env bash
# Reserves 2 MiB hugepages for DPDK when it can (root); otherwise weir falls back to --no-huge.
want=${WEIR_HUGEPAGES:-1024}
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ] && [ "$(id -u)" -eq 0 ]; then
  echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
fi
if [ "$(id -u)" -eq 0 ] && ! grep -qs ' /dev/hugepages hugetlbfs' /proc/mounts; then
  mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "${free:-0}" -gt 0 ] || echo "weir: warning: no hugepages could be reserved; weir will run with --no-huge (slower)"
exit 0
