#!/usr/bin/env bash
# perf/bench-ckpt.sh: what checkpoints cost (issue 6; see perf/README.md).
#
# One weir process (--workers 1) replays a generated capture of N distinct UDP flows
# (perf/gen-flows.py, default 1M) in a loop, with flow tracking on (capacity N) and a
# query keyed by the 5-tuple over a 1 h tumbling window (max_keys N): N live flows and
# N window keys. After a warm-up of two passes over the capture:
#
#   A = T seconds without checkpoints
#   B = T seconds of `weirctl snapshot` back to back (each waits until its file is on disk)
#
# (--rounds R: A B A B ...; a kind's phases are summed). Per phase: packets per second and
# the per-burst time p50/p99/p99.9/max, from the deltas of weir's log2 burst histogram on
# /metrics (a checkpoint barrier counts as a burst: packets wait for it). Per checkpoint:
# its size, the time from the barrier to the state saved in memory (cut), the time to write
# and fsync it. Then weir is stopped and started again with --restore latest: the time to
# load it. Prints the ratios B/A against the issue's targets (throughput >= 0.9x, B's
# longest burst <= 2x A's). Writes perf/results/bench-ckpt-<time>.csv.
set -uo pipefail

BENCH=bench-ckpt
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
set_common_defaults
ROUNDS=2
DURATION=6
FLOWS=1000000
WEIRCTL=${WEIRCTL_BIN:-}
CKDIR=

usage() {
	cat <<EOF
usage: perf/bench-ckpt.sh [--flows N] [--duration S] [--rounds N] [--weir BIN] [--weirctl BIN]
                          [--results DIR] [--min-ratio R]
  --flows N      distinct flows (and window keys) in the replay (default $FLOWS)
  --duration S   seconds of each phase (default $DURATION)
  --rounds N     A B pairs in one process (default $ROUNDS)
  --min-ratio R  exit 1 when B/A throughput is below R (the issue's target: 0.9)
  --dir DIR      where the checkpoints go (default: a folder in /tmp); e.g. a tmpfs, to leave
                 the disk's writeback out of the figures
EOF
}
while [ $# -gt 0 ]; do
	case $1 in
	--flows) FLOWS=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--dir) CKDIR=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--weirctl) WEIRCTL=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	-h | --help) usage; exit 0 ;;
	*) take_common_option "$1" "${2:-}" || { usage >&2; exit 2; }; shift $(($# < 2 ? $# : 2)) ;;
	esac
done
check_common_options
[[ $FLOWS =~ ^[1-9][0-9]*$ ]] || die "--flows: '$FLOWS' is not a positive integer"
command -v python3 > /dev/null || die "python3 not found"
command -v curl > /dev/null || die "curl not found (reads weir's /metrics)"
find_weir
[ -n "$WEIRCTL" ] || WEIRCTL=$(dirname "$WEIR")/weirctl
[ -x "$WEIRCTL" ] || die "no weirctl at $WEIRCTL (give --weirctl)"
warn_unless_root
# mbufs for the preloaded capture (~0.5 KiB each), 2 x 6 window shards of N keys, the flow table
MIB=$((FLOWS * (512 + 6 * 128 + 176) / 1048576 + 200))
require_hugepages "$MIB"
start_cleanup
describe_run lib app perf/gen-flows.py

CAP=$TMP/flows.pcap
python3 "$ROOT/perf/gen-flows.py" --flows "$FLOWS" --out "$CAP" || die "gen-flows.py failed"
[ -n "$CKDIR" ] || CKDIR=$TMP/ckpt
mkdir -p "$CKDIR" || die "cannot create $CKDIR"
cat > "$TMP/weir.yaml" <<Y
workers: 1
summary: false
flows: {mode: on, capacity: $FLOWS}
checkpoint: {interval: 0s, keep: 2}
ports:
  - devargs: net_pcap0,rx_pcap=$CAP,infinite_rx=1
    profile: pcap-infinite
    mbufs: $((FLOWS + 65536))
    mbuf_data_room: 384
queries:
  - name: flows5
    group_by: [src_ip, dst_ip, src_port, dst_port]
    window: {type: tumbling, size: 1h}
    aggregates: [packets, bytes]
    max_keys: $FLOWS
Y
SOCK=$TMP/ctl.sock
# This script and everything it starts (weirctl, curl, awk, the shell's own forks) run on CPU 0,
# weir's main lcore's: on CPU 1 they would preempt the worker whose bursts are measured, and
# phase B runs many more of them than A. weir itself gets every CPU back (it takes its lcores
# from its affinity) and pins its worker lcore to CPU 1.
PIN=(taskset -c 0) ALL_CPUS=(taskset -c "0-$(($(nproc --all) - 1))")
if command -v taskset > /dev/null; then taskset -pc 0 $$ > /dev/null; else PIN=() ALL_CPUS=(); fi
ctl() { "${PIN[@]}" "$WEIRCTL" --socket "$SOCK" "$@"; }
start_weir() { # log [ARGS]
	local log=$1
	shift
	"${ALL_CPUS[@]}" env WEIR_DEBUG_EAL=1 "$WEIR" run --config "$TMP/weir.yaml" --checkpoint-dir "$CKDIR" \
		--control "$SOCK" --metrics 0 --out "$TMP/out.jsonl" --duration 3600 "$@" \
		< /dev/null > "$log" 2>&1 &
	CHILD=$!
	for ((i = 0; i < 600; i++)); do
		kill -0 "$CHILD" 2> /dev/null || { tail -5 "$log" >&2; die "weir exited during start-up"; }
		[ -S "$SOCK" ] && ctl --json status > "$TMP/status.json" 2> /dev/null && return 0
		sleep 0.2
	done
	die "weir's control socket did not answer"
}
start_weir "$TMP/weir.log"
check_weir_eal_args "$TMP/weir.log" || die "weir's EAL arguments are not the expected ones"
grep -q -- "running with --no-huge" "$TMP/weir.log" && die "weir fell back to --no-huge (too few free hugepages)"
METRICS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"])' "$TMP/status.json")
processed() { ctl --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["processed"])'; }
echo "$BENCH: $FLOWS flows and window keys; weir=$WEIR; load average $(load_average)"
# Warm-up: every flow and key created (two passes), then the state as it will be checkpointed.
for ((i = 0; i < 600; i++)); do
	[ "$(processed)" -ge $((2 * FLOWS)) ] && break
	sleep 0.2
done
mkdir -p "$TMP/snap"
snap() { # NAME: /metrics and the stats, with the time
	echo "$EPOCHREALTIME" > "$TMP/snap/$1.t"
	"${PIN[@]}" curl -sf --max-time 5 "http://$METRICS/metrics" > "$TMP/snap/$1.prom" || die "cannot read /metrics"
	ctl --json stats > "$TMP/snap/$1.stats" || die "weirctl stats failed"
}
CKLOG=$TMP/checkpoints.jsonl
: > "$CKLOG"
for ((r = 1; r <= ROUNDS; r++)); do
	snap "a$r-0"; sleep "$DURATION"; snap "a$r-1"
	snap "b$r-0"
	end=$(awk -v t="$EPOCHREALTIME" -v d="$DURATION" 'BEGIN {printf "%.6f", t + d}')
	while awk -v a="$EPOCHREALTIME" -v b="$end" 'BEGIN {exit !(a < b)}'; do
		ctl --timeout 600 --json snapshot > /dev/null || die "weirctl snapshot failed"
		ctl --json snapshot status >> "$CKLOG"
	done
	snap "b$r-1"
	echo "  round $r: $(($(wc -l < "$CKLOG"))) checkpoints so far"
done
ctl --json shutdown > /dev/null 2>&1
stop_child "$CHILD"
CHILD=
# Restore: the newest checkpoint into a fresh process.
start_weir "$TMP/restore.log" --restore latest
RESTORE=$(sed -n 's/.*) in \([0-9.]*\) s:.*/\1/p' "$TMP/restore.log")
ctl --json shutdown > /dev/null 2>&1
stop_child "$CHILD"
CHILD=

python3 - "$TMP/snap" "$ROUNDS" "$CKLOG" "${RESTORE:-nan}" "$CSV" "$STAMP,$MACHINE,$COMMIT" "$MIN_RATIO" << 'PY'
import json, re, sys
snapdir, rounds, cklog, restore, csv, prefix, min_ratio = sys.argv[1:8]
rounds = int(rounds)

def read(name):
    b, proc = {}, 0
    for line in open(f"{snapdir}/{name}.prom"):
        m = re.match(r'weir_burst_seconds_bucket\{worker="0",le="([^"]+)"\} (\d+)', line)
        if m:
            b[float(m.group(1)) if m.group(1) != "+Inf" else float("inf")] = int(m.group(2))
        m = re.match(r'weir_processed_packets_total\{worker="[^"]+"\} (\d+)', line)
        if m:
            proc += int(m.group(1))
    st = json.load(open(f"{snapdir}/{name}.stats"))["stats"]
    return dict(t=float(open(f"{snapdir}/{name}.t").read()), b=b, proc=proc,
                max=st["burst_time"]["max_ns"] / 1e9)

def phase(kind, r):
    s0, s1 = read(f"{kind}{r}-0"), read(f"{kind}{r}-1")
    les = sorted(s1["b"])
    cum = [(le, s1["b"][le] - s0["b"].get(le, 0)) for le in les]
    # cumulative counts -> per bucket [lo, hi)
    n, prev, lo, bc = 0, 0, 0.0, []
    for le, c in cum:
        bc.append((lo, le, c - prev)); prev, lo = c, le
    # the run's max is exact for this phase when it rose during it; else the top bucket's edge
    # (lo_max: a lower bound, the top bucket's lower edge, for the target's baseline)
    top = max(((lo, hi) for lo, hi, c in bc if c), default=(0.0, 0.0))
    exact = s1["max"] > s0["max"]
    mx = s1["max"] if exact else min(top[1], s1["max"])
    return dict(secs=s1["t"] - s0["t"], packets=s1["proc"] - s0["proc"], bc=bc, max=mx,
                lo_max=s1["max"] if exact else top[0], exact=exact)

def total(kind):
    ph = [phase(kind, r) for r in range(1, rounds + 1)]
    bc = [list(x) for x in ph[0]["bc"]]
    for p in ph[1:]:
        for i, x in enumerate(p["bc"]):
            bc[i][2] += x[2]
    mx = max(p["max"] for p in ph)
    return dict(secs=sum(p["secs"] for p in ph), packets=sum(p["packets"] for p in ph), bc=bc, max=mx,
                lo_max=max(p["lo_max"] for p in ph), exact=all(p["exact"] for p in ph if p["max"] == mx))

def q(bc, f, cap):
    n = sum(c for _, _, c in bc)
    rank, cum = max(f * n, 1), 0
    for lo, hi, c in bc:
        if c and cum + c >= rank:
            return cap if hi == float("inf") else min(lo + (hi - lo) * (rank - cum) / c, cap)
        cum += c
    return cap

A, B = total("a"), total("b")
out = open(csv, "w")
out.write("date,machine,commit,phase,seconds,packets,mpps,p50_us,p99_us,p99_9_us,max_us,max_exact\n")
print("| phase | seconds | Mpps | p50 us | p99 us | p99.9 us | max us |")
print("|---|---|---|---|---|---|---|")
for name, p in (("A: no checkpoints", A), ("B: checkpoints back to back", B)):
    p["mpps"] = p["packets"] / p["secs"] / 1e6
    p["q"] = [q(p["bc"], f, p["max"]) * 1e6 for f in (.5, .99, .999)]
    print("| %s | %.1f | %.3f | %.2f | %.2f | %.2f | %.1f%s |" % (name, p["secs"], p["mpps"], *p["q"], p["max"] * 1e6,
                                                          "" if p["exact"] else "~"))
    out.write("%s,%s,%.3f,%d,%.4f,%.2f,%.2f,%.2f,%.1f,%d\n" % (prefix, name[0], p["secs"], p["packets"], p["mpps"],
                                                          *p["q"], p["max"] * 1e6, p["exact"]))
rt, rp, rm = B["mpps"] / A["mpps"], B["q"][2] / A["q"][2], B["max"] / A["max"]
print("| B / A | | %.3fx | | | %.2fx | %.2fx |" % (rt, rp, rm))
# The target compares B's longest burst, at most its upper bound, with A's, at least its lower
# bound (the two agree where a phase raised the process's max: then it is exact).
rm = B["max"] / A["lo_max"] if A["lo_max"] else float("inf")
for nm, p in (("A", A), ("B", B)):
    print("bursts of 0.5 ms or more in %s (log2 buckets from, count): %s" % (
        nm, ", ".join("%.2f ms: %d" % (lo * 1e3, c) for lo, hi, c in p["bc"] if lo >= 0.4e-3 and c) or "none"))
# The VM's own stalls give A long bursts too: how often each phase has them says more than one max.
long_rate = lambda p: sum(c for lo, hi, c in p["bc"] if lo >= 0.9e-3) / p["secs"]
print("bursts of 0.9 ms or more per second: A %.2f, B %.2f" % (long_rate(A), long_rate(B)))
cks = [json.loads(l) for l in open(cklog)]
last = [c["last"] for c in cks if c.get("last")]
med = lambda v: sorted(v)[len(v) // 2] if v else float("nan")
print("checkpoints in B: %d (%d failed); size %.1f MiB; barrier to state saved (cut) median %.3f s, max %.3f s;"
      " write + fsync median %.3f s, max %.3f s" % (len(cks), cks[-1]["failed"] if cks else 0,
      med([c["bytes"] for c in last]) / 2**20, med([c["cut_s"] for c in last]), max(c["cut_s"] for c in last),
      med([c["write_s"] for c in last]), max(c["write_s"] for c in last)))
print("restore of the newest checkpoint (load and rebuild the state): %s s" % restore)
print("targets: throughput B/A %.3fx (>= 0.9x: %s); longest burst B/A %.2fx (B's at most %.1f us over A's at least"
      " %.1f us; <= 2x: %s)" % (rt, "met" if rt >= 0.9 else "NOT met", rm, B["max"] * 1e6, A["lo_max"] * 1e6,
                               "met" if rm <= 2 else "NOT met"))
out.write("%s,ckpt,,,,,,,,,%s\n" % (prefix, "size_mib=%.1f cut_s=%.3f write_s=%.3f restore_s=%s" % (
    med([c["bytes"] for c in last]) / 2**20, med([c["cut_s"] for c in last]), med([c["write_s"] for c in last]), restore)))
sys.exit(1 if min_ratio and rt < float(min_ratio) else 0)
PY
rc=$?
echo "$BENCH: results in $CSV"
exit $rc
