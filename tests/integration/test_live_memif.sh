#!/usr/bin/env bash
# Live port net_memif: weir is the memif server (pmd-config/memif-server.yaml), dpdk-testpmd the
# client in txonly mode sending 64-byte IPv4/UDP frames 198.18.0.1 -> 198.18.0.2 (testpmd's
# default). weir must receive (rx > 0), account for every packet (rx == processed + dropped),
# receive no more than testpmd sent, and its hostpairs rows must be exactly that one pair with
# proto 17, their packets summing to weir's processed. testpmd is a standard memif client with
# one rx and one tx queue: it offers a server-to-client ring, which the server must accept.
# Runs with --workers 1 and 2 (one rx queue: a distributor lcore feeds the workers), then with
# the roles swapped (weir the client). Stop order (PLATFORM.md): the client first, the server
# last, each by PID.
. "$(dirname "$0")/lib.sh"
command -v dpdk-testpmd >/dev/null || { echo "SKIP: dpdk-testpmd not installed"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) not installed"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (DPDK hugepages)"; exit 77; }

weir_pid="" tp_pid=""
# testpmd's own file prefix (its telemetry socket would otherwise share the default "rte"
# runtime folder with any other in-memory DPDK process); the folder is removed at the end.
TP_PREFIX=weirtest-testpmd-$$
cleanup() {
  # Only the processes this test started, by PID; client before server.
  [ -n "$tp_pid" ] && kill -INT "$tp_pid" 2>/dev/null && sleep 0.5 && kill -KILL "$tp_pid" 2>/dev/null
  [ -n "$weir_pid" ] && kill -TERM "$weir_pid" 2>/dev/null && sleep 0.5 && kill -KILL "$weir_pid" 2>/dev/null
  rm -rf "$TMP" "/var/run/dpdk/$TP_PREFIX"
}
trap cleanup EXIT

# start_testpmd ROLE SOCKET OUT: testpmd sending 64-byte frames on a memif port (pid in tp_pid).
# --stats-period keeps non-interactive testpmd running until SIGINT (without it, testpmd exits
# as soon as it reads EOF on stdin). Its own --in-memory EAL and prefix, --no-pci, a small pool.
start_testpmd() {
  dpdk-testpmd --no-pci --in-memory --file-prefix "$TP_PREFIX" --lcores "0@$cpu,1@$cpu" \
    --log-level=lib.eal:error --vdev "net_memif0,role=$1,socket=$2" -- \
    --forward-mode=txonly --txpkts=64 --auto-start --stats-period 1 --total-num-mbufs=8192 \
    > "$3" 2>&1 < /dev/null &
  tp_pid=$!
}

# testpmd's main and forwarding lcores both on our first CPU, where weir's main lcore (mostly
# idle) sits; weir's worker gets the next CPU on these 2-core machines (with --workers 2 weir's
# lcores float over both CPUs). On 1 CPU everything shares it, slower but correct.
cpu=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
sock="$TMP/memif.sock" # memif uses the abstract namespace by default: a unique name, no file

# Up to 10 s for a UNIX socket of process PID in STATE (listening | connected).
wait_socket() { # state pid
  local opt="-xp state connected"; [ "$1" = listening ] && opt=-xlp
  for _ in $(seq 100); do
    ss $opt 2>/dev/null | grep -c "pid=$2," > /dev/null && return 0
    sleep 0.1
  done
  return 1
}

run_case() { # workers
  local w=$1
  local out="$TMP/memif$w.jsonl" tpout="$TMP/testpmd$w.out"
  weir_pid="" tp_pid=""
  "$WEIR_BIN" run --port "net_memif0,role=server,socket=$sock.$w" --workers "$w" \
    --out "$out" --no-summary 2> "$TMP/weir$w.err" &
  weir_pid=$!
  if ! wait_socket listening $weir_pid; then
    fail "workers=$w: weir did not listen on the memif socket: $(tail -3 "$TMP/weir$w.err")"; return
  fi
  start_testpmd client "$sock.$w" "$tpout"
  # Connected once weir's end of the socket is established; then let traffic flow 1.5 s.
  wait_socket connected $weir_pid || fail "workers=$w: testpmd never connected"
  sleep 1.5
  kill -INT $tp_pid; wait $tp_pid; local tprc=$?; tp_pid=""
  sleep 0.3
  kill -TERM $weir_pid; wait $weir_pid; local rc=$?; weir_pid=""
  [ $tprc -eq 0 ] || fail "workers=$w: testpmd exit $tprc: $(grep -iE 'fail|error' "$tpout" | head -3)"
  if [ $rc -ne 0 ]; then fail "workers=$w: weir exit $rc: $(tail -3 "$TMP/weir$w.err")"; return; fi
  # testpmd's final "Forward statistics for port 0" block: TX-packets (sent into memif rings;
  # TX-dropped are bursts the full ring refused).
  local tx
  tx=$(awk '/Forward statistics for port 0/ {f=1} f && /TX-packets:/ {print $2; exit}' "$tpout")
  [ -n "$tx" ] || { fail "workers=$w: no TX-packets in testpmd's final stats"; return; }
  if r=$(python3 - "$out" "$tx" "$w" 2>&1 <<'PY'
import json, sys
out, tx, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
recs = [json.loads(l) for l in open(out)]
stats = [r for r in recs if r["type"] == "stats"]
assert len(stats) == 1, f"{len(stats)} stats records"
s = stats[0]
d = sum(s["dropped"].values())
assert s["rx"] > 0, "rx == 0 (nothing received over memif)"
assert s["rx"] == s["processed"] + d, f"rx {s['rx']} != processed {s['processed']} + dropped {d}"
assert s["rx"] <= tx, f"weir rx {s['rx']} > testpmd tx {tx}"
hp = [r for r in recs if r["type"] == "window" and r["query"] == "hostpairs"]
keys = {(r["src_ip"], r["dst_ip"], r["proto"]) for r in hp}
assert keys == {("198.18.0.1", "198.18.0.2", 17)}, f"hostpairs keys {keys}"
n = sum(r["packets"] for r in hp)
assert n == s["processed"], f"hostpairs packets {n} != processed {s['processed']}"
assert sum(s["queries"]["hostpairs"].values()) == 0, f"hostpairs counters {s['queries']['hostpairs']}"
assert all(r["bytes"] == 64 * r["packets"] for r in hp), "64-byte frames"
print(f"rx={s['rx']} processed={s['processed']} dropped={d} testpmd_tx={tx} "
      f"hostpairs 198.18.0.1->198.18.0.2/17 packets={n} in {len(hp)} window row(s)")
PY
  ); then ok "workers=$w: $r"; else fail "workers=$w: $(tail -1 <<< "$r")"; fi
}

run_case 1
run_case 2

# weir as the memif client (pmd-config/memif-client.yaml, memif's default role), testpmd as the
# txonly server. Stop order: the client (weir) first, then the server. The server's final
# TX-packets is not usable here: DPDK 22.11's memif_stats_get counts a server's queues by the
# ring counts of the (now disconnected) session, which are 0 after the client leaves. Bound weir's
# rx by TX-total (packets testpmd's txonly engine tried to send) instead, and check the client
# port's own ipackets, which are right.
client_case() {
  local out="$TMP/memif-client.jsonl" tpout="$TMP/testpmd-server.out"
  weir_pid="" tp_pid=""
  start_testpmd server "$sock.c" "$tpout"
  wait_socket listening $tp_pid || { fail "client: testpmd did not listen"; return; }
  "$WEIR_BIN" run --port "net_memif0,socket=$sock.c" --out "$out" --no-summary 2> "$TMP/weir-c.err" &
  weir_pid=$!
  wait_socket connected $weir_pid || fail "client: weir never connected"
  sleep 1.5
  kill -TERM $weir_pid; wait $weir_pid; local rc=$?; weir_pid=""
  sleep 0.3
  kill -INT $tp_pid; wait $tp_pid; local tprc=$?; tp_pid=""
  if [ $rc -ne 0 ]; then fail "client: weir exit $rc: $(tail -3 "$TMP/weir-c.err")"; return; fi
  local total r
  total=$(awk '/Forward statistics for port 0/ {f=1} f && /TX-total:/ {print $6; exit}' "$tpout")
  if [ $tprc -ne 0 ] || [ -z "$total" ]; then
    # testpmd as a memif server sometimes crashes on SIGINT once its client has left (DPDK
    # 22.11, seen under CPU contention). That is testpmd's shutdown, not weir: weir's own
    # records are still checked, only the upper bound from testpmd's stats is lost.
    echo "note: testpmd (memif server) exit $tprc at shutdown, no final stats: rx bound not checked"
    total=9223372036854775807
  fi
  if r=$(python3 - "$out" "$total" 2>&1 <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
total = int(sys.argv[2])
stats = [r for r in recs if r["type"] == "stats"]
assert len(stats) == 1, f"{len(stats)} stats records"
s = stats[0]
d = sum(s["dropped"].values())
assert s["rx"] > 0, "rx == 0 (nothing received over memif)"
assert s["rx"] == s["processed"] + d, f"rx {s['rx']} != processed {s['processed']} + dropped {d}"
assert s["rx"] <= total, f"weir rx {s['rx']} > testpmd TX-total {total}"
assert s["ports"]["net_memif0"]["ipackets"] == s["rx"], "client port ipackets != rx"
hp = [r for r in recs if r["type"] == "window" and r["query"] == "hostpairs"]
keys = {(r["src_ip"], r["dst_ip"], r["proto"]) for r in hp}
assert keys == {("198.18.0.1", "198.18.0.2", 17)}, f"hostpairs keys {keys}"
n = sum(r["packets"] for r in hp)
assert n == s["processed"], f"hostpairs packets {n} != processed {s['processed']}"
print(f"rx={s['rx']} processed={s['processed']} dropped={d} testpmd_tx_total={total} "
      f"hostpairs 198.18.0.1->198.18.0.2/17 packets={n} in {len(hp)} window row(s)")
PY
  ); then ok "weir as client: $r"; else fail "weir as client: $(tail -1 <<< "$r")"; fi
}
client_case
finish
