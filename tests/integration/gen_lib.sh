# Helpers for the weir-gen tests (sourced after lib.sh): weir-gen as the memif server on two
# sockets, dpdk-testpmd (io forwarding, port 0 <-> port 1) as the two memif clients between them.
# Stop order (PLATFORM.md): the clients (testpmd) first, the server (weir-gen --hold) last, each
# by PID. Every prefix created under /var/run/dpdk is removed.
: "${WEIR_GEN_BIN:?WEIR_GEN_BIN not set (run through meson test)}"

GEN_TP_PREFIX=weirtest-gen-testpmd-$$
gen_pid="" gen_tp_pid=""
gen_cleanup() {
  [ -n "$gen_tp_pid" ] && kill -INT "$gen_tp_pid" 2>/dev/null && sleep 0.5 && kill -KILL "$gen_tp_pid" 2>/dev/null
  [ -n "$gen_pid" ] && kill -TERM "$gen_pid" 2>/dev/null && sleep 0.5 && kill -KILL "$gen_pid" 2>/dev/null
  rm -rf "$TMP" "/var/run/dpdk/$GEN_TP_PREFIX"
  [ -n "$gen_pid" ] && rm -rf "/var/run/dpdk/weir-gen-$gen_pid"
}
trap gen_cleanup EXIT

# CPUs: weir-gen on the first CPU we may use, testpmd (both lcores) on the last; one CPU: shared.
gen_cpus=$(python3 -c 'import os; s=sorted(os.sched_getaffinity(0)); print(s[0], s[-1])')
GEN_CPU=${gen_cpus% *}
TP_CPU=${gen_cpus#* }

# rsize=14: 16384-slot memif rings, so that a DUT or generator descheduled for a few ms on a
# busy 2-core VM does not overflow a ring (the loss would be real, but not what we test).
GEN_RSIZE=${GEN_RSIZE:-14}

# run_gen NAME ARGS...: one weir-gen run through testpmd; its summary in $TMP/NAME.json, its
# stderr in $TMP/NAME.err, its exit status in $gen_rc. 1 when no summary came.
run_gen() {
  local name=$1 sock="$TMP/$1"
  shift
  rm -f "$TMP/$name.json"
  "$WEIR_GEN_BIN" --tx "net_memif0,role=server,socket=$sock.a,rsize=$GEN_RSIZE" \
    --rx "net_memif1,role=server,socket=$sock.b,rsize=$GEN_RSIZE" --cpu "$GEN_CPU" \
    --json "$TMP/$name.json" --hold ${GEN_QUIET---quiet} "$@" 2> "$TMP/$name.err" &
  gen_pid=$!
  sleep 0.3
  dpdk-testpmd --no-pci --in-memory --file-prefix "$GEN_TP_PREFIX" --lcores "0@$TP_CPU,1@$TP_CPU" \
    --log-level=lib.eal:error \
    --vdev "net_memif0,role=client,socket=$sock.a,rsize=$GEN_RSIZE" \
    --vdev "net_memif1,role=client,socket=$sock.b,rsize=$GEN_RSIZE" -- \
    --forward-mode=io --auto-start --stats-period 1 --total-num-mbufs=16384 \
    > "$TMP/$name.testpmd" 2>&1 < /dev/null &
  gen_tp_pid=$!
  for _ in $(seq 1200); do
    [ -e "$TMP/$name.json" ] && break
    kill -0 "$gen_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$gen_tp_pid" 2>/dev/null; wait "$gen_tp_pid" 2>/dev/null; gen_tp_pid=""
  kill -TERM "$gen_pid" 2>/dev/null; wait "$gen_pid"; gen_rc=$?
  rm -rf "/var/run/dpdk/weir-gen-$gen_pid" "/var/run/dpdk/$GEN_TP_PREFIX"
  gen_pid=""
  [ -s "$TMP/$name.json" ]
}
