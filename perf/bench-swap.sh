#!/usr/bin/env bash
# perf/bench-swap.sh: what a rule hot swap costs the data path (issue 5; see perf/README.md).
#
# One weir process (--workers 1) replays ndpi-mix.pcap (records cut to 2,048 bytes) forever
# with a generated 10,000-rule set loaded, a control socket and the Prometheus endpoint:
#
#   A = T seconds without swaps
#   B = T seconds of `weirctl rules reload` every 100 ms, alternating between two different
#       10,000-rule sets (both compiled into the cache beforehand)
#
# (--rounds R: A B A B ...; the phases of a kind are summed). Per phase: packets processed
# per second, and the per-burst processing time p50/p99/p99.9/max from the deltas of the
# log2 burst histogram (weir_burst_seconds on /metrics) between snapshots. Prints the
# ratios B/A against the targets (throughput >= 0.95x, p99.9 <= 1.5x), the compile time of
# the 10k sets (`weir rules check` on an empty cache), the cached load, and the time of
# `weirctl rules add` of 10 more rules. Writes perf/results/bench-swap-<time>.csv and
# appends a line to perf/results/bench-swap-summary.csv.
set -uo pipefail

BENCH=bench-swap
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
set_common_defaults   # DATA PCAP ROUNDS DURATION WARMUP SNAPLEN MIN_RATIO RESULTS WEIR
ROUNDS=3
DURATION=5
WARMUP=3
MIN_WORKER_CPU=0.97
PERIOD_MS=100
COUNT=10000
MAX_P999=
WEIRCTL=${WEIRCTL_BIN:-}
CONTROL_ONLY=0
NO_ADD=0
MAX_OTHERS=0.25

usage() {
	cat <<EOF
usage: perf/bench-swap.sh [--duration S] [--rounds N] [--period-ms MS] [--count N]
                          [--pcap FILE] [--weir BIN] [--weirctl BIN] [--results DIR]
                          [--min-ratio R] [--max-p999-ratio R] [--control-only] [--no-add]
  --duration S        seconds of each phase (default $DURATION); B may run longer: it ends
                      with the reload in flight at S seconds
  --rounds N          clean A B pairs, in one process (default $ROUNDS); the phases of a
                      kind are summed over the clean rounds
  --min-worker-cpu F  a round is clean when the worker lcore was on its CPU for at least
                      F of each phase's wall time (default $MIN_WORKER_CPU); other rounds are
                      run again, at most 3 x N rounds in all
  --period-ms MS      one reload started every MS milliseconds in B (default $PERIOD_MS); a
                      reload that takes longer delays the next (no catching up)
  --count N           rules per generated set (default $COUNT)
  --pcap FILE         capture (default \$WEIR_SHARED_DATA or ../shared/data: pcaps/ndpi-mix.pcap),
                      records cut to $SNAPLEN bytes
  --weir BIN          weir binary (default \$WEIR_BIN, else build-perf/app/weir, else build/app/weir)
  --weirctl BIN       weirctl binary (default \$WEIRCTL_BIN, else weirctl beside the weir binary)
  --results DIR       where the CSVs go (default perf/results)
  --min-ratio R       exit 1 when B/A throughput is below R (the issue's target: 0.95)
  --max-p999-ratio R  exit 1 when B/A burst-time p99.9 is above R (the issue's target: 1.5)
  --control-only      B sends \`weirctl status\` instead of a reload every period: the cost of
                      the control traffic alone (a control experiment; works on a weir
                      without \`rules reload\`)
  --no-add            skip the \`rules add\` of 10 rules
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--period-ms) PERIOD_MS=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--count) COUNT=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--weirctl) WEIRCTL=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--max-p999-ratio) MAX_P999=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--control-only) CONTROL_ONLY=1; shift ;;
	--min-worker-cpu) MIN_WORKER_CPU=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--no-add) NO_ADD=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) take_common_option "$1" "${2:-}" || { usage >&2; exit 2; }; shift $(($# < 2 ? $# : 2)) ;;
	esac
done
check_common_options
[[ $PERIOD_MS =~ ^[1-9][0-9]*$ ]] || die "--period-ms: '$PERIOD_MS' is not a positive integer"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "--count: '$COUNT' is not a positive integer"
[ -z "$MAX_P999" ] || is_num "$MAX_P999" || die "--max-p999-ratio: '$MAX_P999' is not a number"
is_num "$MIN_WORKER_CPU" || die "--min-worker-cpu: '$MIN_WORKER_CPU' is not a number"

# ---- prerequisites ---------------------------------------------------------------
require_capture
command -v editcap > /dev/null || skip "editcap not found (Debian: apt-get install wireshark-common)"
command -v python3 > /dev/null || die "python3 not found (generates the rules, reads the stats)"
command -v curl > /dev/null || die "curl not found (reads weir's /metrics)"
find_weir
[ -n "$WEIRCTL" ] || WEIRCTL=$(dirname "$WEIR")/weirctl
[ -x "$WEIRCTL" ] || die "no weirctl at $WEIRCTL (give --weirctl)"
warn_unless_root
# weir with flows (on with rules) and the pcap-infinite pool asks for about 1,136 MiB; with
# less it falls back to --no-huge, which is not the figure this is about (checked below).
require_hugepages 1200

# weir runs its main lcore on CPU 0 and the worker on CPU 1 (--lcores 0@0,1@1). Everything
# this script runs while weir runs (weirctl, curl, python) is pinned to CPU 0, so that
# the tooling never takes the worker's CPU: a swap's cost is what weir itself does.
CTL_CPU=0
PIN=(taskset -c "$CTL_CPU")
command -v taskset > /dev/null || PIN=()

start_cleanup   # TMP, CHILD; the child is stopped by its PID however we end
cut_capture 0   # CUT, RECORDS

# ---- rule sets ----------------------------------------------------------------------
# Two different sets (seeds 1 and 2, sids from 3,000,000 and 3,100,000) and 10 rules to
# add (seed 3, sids from 3,900,000): deterministic, so every run measures the same rules.
SET1=$TMP/set1.rules SET2=$TMP/set2.rules ADD10=$TMP/add10.rules
python3 "$ROOT/perf/gen-rules.py" --count "$COUNT" --seed 1 --sid-base 3000000 --out "$SET1" &&
	python3 "$ROOT/perf/gen-rules.py" --count "$COUNT" --seed 2 --sid-base 3100000 --out "$SET2" &&
	python3 "$ROOT/perf/gen-rules.py" --count 10 --seed 3 --sid-base 3900000 --out "$ADD10" ||
	die "perf/gen-rules.py failed"
CACHE=$TMP/hs-cache

# `weir rules check --quiet --cache-dir CACHE FILE`: "loaded skipped compile_s hits misses
# wall_s" in CRES. On an empty cache every database is compiled: the compile time.
CRES=
rules_check() { # log file
	local log=$1 t0 t1
	t0=$EPOCHREALTIME
	"$WEIR" rules check --quiet --cache-dir "$CACHE" "$2" < /dev/null > "$log" 2>&1 &
	CHILD=$!
	wait "$CHILD"
	WAIT_RC=$?
	CHILD=
	t1=$EPOCHREALTIME
	[ "$WAIT_RC" = 0 ] || return 1
	CRES=$(awk -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" '
		/^loaded:/ { loaded = $2 }
		/^skipped:/ { skipped = $2 }
		/^compile time:/ { ct = $3; h = $6; m = $8 }
		END { if (ct == "") exit 1; print loaded, skipped, ct, h, m, wall }' "$log")
}

describe_run lib app pmd-config perf/gen-rules.py   # STAMP, CSV, MACHINE, COMMIT
echo "date,machine,commit,round,phase,seconds,packets,mpps,mpps_per_worker_cpu,worker_on_cpu,bursts,p50_us,p99_us,p99_9_us,max_us,max_exact,swaps,swaps_failed,alerts_lost,others_cpu,note" > "$CSV"
echo "$BENCH: $(basename "$PCAP") cut to $SNAPLEN B ($RECORDS records); $COUNT-rule sets from perf/gen-rules.py"
echo "$BENCH: weir=$WEIR weirctl=$WEIRCTL; load average $(load_average)"

COMPILE_ROWS=()
for s in 1 2; do
	f=$SET1
	[ "$s" = 2 ] && f=$SET2
	rules_check "$TMP/check-$s.log" "$f" || { tail -5 "$TMP/check-$s.log" >&2; die "rules check of set $s failed"; }
	read -r loaded skipped ct h m w <<< "$CRES"
	COMPILE_ROWS+=("set $s|$loaded|$skipped|$ct|$h/$m|$w")
	echo "$STAMP,$MACHINE,$COMMIT,compile,set$s,$ct,$loaded,,,,,,,,,,,,,,cold: skipped=$skipped hits=$h misses=$m wall=$w" >> "$CSV"
	[ "$s" = 1 ] && { LOADED1=$loaded; COMPILE1=$ct; }
done
rules_check "$TMP/check-1c.log" "$SET1" || die "cached rules check of set 1 failed"
read -r loaded skipped ct h m w <<< "$CRES"
COMPILE_ROWS+=("set 1, cached|$loaded|$skipped|$ct|$h/$m|$w")
echo "$STAMP,$MACHINE,$COMMIT,compile,set1-cached,$ct,$loaded,,,,,,,,,,,,,,cached: hits=$h misses=$m wall=$w" >> "$CSV"
[ "$m" = 0 ] || echo "$BENCH: WARNING: the cached check of set 1 missed the cache ($h hits, $m misses)"
for row in "${COMPILE_ROWS[@]}"; do
	IFS='|' read -r n loaded skipped ct hm w <<< "$row"
	printf '  rules check %-14s %6s loaded %4s skipped  compile %8s s  (cache hits/misses %s)  wall %7s s\n' \
		"$n:" "$loaded" "$skipped" "$ct" "$hm" "$w"
done

# ---- weir ---------------------------------------------------------------------------------
totals_config "$TMP/weir.yaml" "$CACHE"
SOCK=$TMP/ctl.sock
# Long enough for every phase, reloads that overrun and the add; stopped by `shutdown`.
LIMIT=$((3 * ROUNDS * (2 * DURATION + 60) + WARMUP + 600))
WEIR_LOG=$TMP/weir.log
WEIR_OUT=$TMP/weir-out.jsonl
env WEIR_DEBUG_EAL=1 "$WEIR" run --config "$TMP/weir.yaml" \
	--port "net_pcap0,rx_pcap=$CUT,infinite_rx=1" --profile pcap-infinite \
	--rules "$SET1" --workers 1 --duration "$LIMIT" --no-summary --out "$WEIR_OUT" \
	--control "$SOCK" --metrics 0 < /dev/null > "$WEIR_LOG" 2>&1 &
CHILD=$!
WEIR_PID=$CHILD

ctl() { "${PIN[@]}" "$WEIRCTL" --socket "$SOCK" "$@"; }
weir_alive() { kill -0 "$WEIR_PID" 2> /dev/null; }
fail() { # message: weir's log tail, then die
	echo "$BENCH: $1; weir's log:" >&2
	tail -20 "$WEIR_LOG" >&2
	die "$1"
}

# Up when the control socket answers (EAL start-up, the preload, the cached rule load).
for ((i = 0; i < 600; i++)); do
	weir_alive || fail "weir exited during start-up"
	[ -S "$SOCK" ] && ctl --json status > "$TMP/status0.json" 2> /dev/null && break
	sleep 0.2
done
[ -s "$TMP/status0.json" ] || fail "weir's control socket did not answer within 120 s"
check_weir_eal_args "$WEIR_LOG" || die "weir's EAL arguments are not the expected ones"
grep -q -- "running with --no-huge" "$WEIR_LOG" && fail "weir found too few free hugepages (another DPDK process took them) and runs with --no-huge"
METRICS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"] or "")' "$TMP/status0.json")
[ -n "$METRICS" ] || fail "weir serves no /metrics (status says metrics: null)"
RULES0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rules"])' "$TMP/status0.json")
[ "$RULES0" = "$LOADED1" ] || echo "$BENCH: WARNING: weir has $RULES0 rules loaded, rules check loaded $LOADED1"

# A swap command weir does not know is a weir without hot swap (before issue 5): say so.
SWAP_WORD="rules reload"
if [ "$CONTROL_ONLY" = 1 ]; then
	SWAP_WORD=status
elif ! ctl --json rules status > "$TMP/rules-status0.json" 2>&1; then
	if grep -q "unknown command" "$TMP/rules-status0.json"; then
		fail "this weir has no \`rules status\`/\`rules reload\` (hot swap, issue 5): $(cat "$TMP/rules-status0.json"); --control-only measures the control traffic alone"
	fi
	echo "$BENCH: WARNING: rules status: $(cat "$TMP/rules-status0.json")"
fi

# ---- snapshots ----------------------------------------------------------------------------
# snap NAME: /metrics (the burst histogram's cumulative buckets and processed packets, read
# once), the stats (running burst max), status (generation, rules), weir's threads (CPU time,
# last CPU) and the machine's busy time, each with the wall clock around it.
SNAP=$TMP/snap
mkdir -p "$SNAP"
snap() {
	local n=$1 t0 t1
	t0=$EPOCHREALTIME
	"${PIN[@]}" curl -sf --max-time 5 "http://$METRICS/metrics" > "$SNAP/$n.prom" || fail "cannot read http://$METRICS/metrics"
	t1=$EPOCHREALTIME
	ctl --json stats > "$SNAP/$n.stats" || fail "weirctl stats failed"
	ctl --json status > "$SNAP/$n.status" || fail "weirctl status failed"
	{
		echo "t $t0 $t1"
		read -r _ u nn sy _ _ irq sirq steal _ < /proc/stat
		echo "busy $((u + nn + sy + irq + sirq + steal)) $TCK"
		times | tr '\n' ' ' | sed 's/^/times /'
		echo
		# the process's CPU ticks: its live threads' and those of threads that ended; then
		# those of its reaped children (weir compiles rules in a forked child)
		echo "proc $(cut -d')' -f2- "/proc/$WEIR_PID/stat" | awk '{print $12 + $13, $14 + $15}')"
		local t
		for t in /proc/"$WEIR_PID"/task/*; do
			# tid (comm) state ... utime(14) stime(15) ... processor(39); schedstat: ns on a
			# CPU, ns waiting for one
			echo "task ${t##*/} $(tr ' ' '_' < "$t/comm") $(cut -d')' -f2- "$t/stat" | awk '{print $12 + $13, $37}') $(cut -d' ' -f1,2 "$t/schedstat")"
		done
	} > "$SNAP/$n.t"
}

# ---- the phases -----------------------------------------------------------------------------
# B: a reload every PERIOD_MS, alternating SET2 / SET1, each waited for (weirctl prints the
# outcome once the generation is published or failed); a late one starts the next at once.
# The reload in flight at DURATION seconds is waited for: B's length is measured.
SWAPLOG=$TMP/swaps.tsv
echo -e "round\tk\tstart\tseconds\trc\tfile\tanswer" > "$SWAPLOG"
LOADED_SET=1
swap_phase() { # round
	local r=$1 k=0 t0 t1 next end rc f ans period
	period=$(awk -v p="$PERIOD_MS" 'BEGIN {printf "%.6f", p / 1000}')
	next=$EPOCHREALTIME
	end=$(awk -v a="$next" -v d="$DURATION" 'BEGIN {printf "%.6f", a + d}')
	while awk -v a="$EPOCHREALTIME" -v b="$end" 'BEGIN {exit !(a < b)}'; do
		weir_alive || fail "weir exited during phase B"
		if [ "$CONTROL_ONLY" = 1 ]; then
			f=-
			t0=$EPOCHREALTIME
			ans=$(ctl --json status 2>&1)
			rc=$?
			t1=$EPOCHREALTIME
		else
			if [ "$LOADED_SET" = 1 ]; then f=$SET2; else f=$SET1; fi
			t0=$EPOCHREALTIME
			ans=$(ctl --timeout 600 --json rules reload "$f" 2>&1)
			rc=$?
			t1=$EPOCHREALTIME
			[ "$rc" = 0 ] && { if [ "$f" = "$SET2" ]; then LOADED_SET=2; else LOADED_SET=1; fi; }
		fi
		echo -e "$r\t$k\t$t0\t$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')\t$rc\t$(basename "$f")\t$(echo "$ans" | tr '\t\n' '  ')" >> "$SWAPLOG"
		k=$((k + 1))
		next=$(awk -v n="$next" -v p="$period" -v t="$t1" 'BEGIN {n += p; printf "%.6f", (n < t ? t : n)}')
		local wait_s
		wait_s=$(awk -v n="$next" -v t="$EPOCHREALTIME" 'BEGIN {w = n - t; printf "%.6f", (w > 0 ? w : 0)}')
		[ "$wait_s" = 0.000000 ] || sleep "$wait_s"
	done
}

echo "$BENCH: warm-up ${WARMUP}s, then rounds (A ${DURATION}s no swaps, B ${DURATION}s $SWAP_WORD every ${PERIOD_MS} ms) until $ROUNDS clean; load average $(load_average)"
sleep "$WARMUP"
# The share of a phase's wall time the worker lcore spent on its CPU (schedstat): below
# 1 when a neighbour or the hypervisor took the CPU from it, which inflates burst times
# (a preempted burst lasts a time slice) and lowers the rate whatever weir does.
worker_frac() { # snap0 snap1
	awk '
		FNR == 1 { f++ }
		$1 == "t" { t[f] = ($2 + $3) / 2 }
		$1 == "task" && $3 ~ /^rte-worker/ { ns[f] += $6 }
		END { w = t[2] - t[1]; printf "%.3f", (w > 0 ? (ns[2] - ns[1]) / 1e9 / w : 0) }' "$SNAP/$1.t" "$SNAP/$2.t"
}

# Rounds until ROUNDS clean ones (the worker on its CPU for at least --min-worker-cpu of
# both phases), at most 3 x ROUNDS; with none clean every round counts (and the report
# says so).
clean=0 attempts=0 USED=()
ALL=()
r=0
while :; do
	r=$((r + 1))
	attempts=$((attempts + 1))
	# Each A starts with set 1 loaded and nothing in flight: after a B that ended on
	# set 2 one more (unmeasured) reload, then a second to settle.
	if [ "$LOADED_SET" = 2 ]; then
		ctl --timeout 600 --json rules reload "$SET1" > "$TMP/settle-$r.json" 2>&1 || fail "reload to set 1 after round $((r - 1)) failed: $(cat "$TMP/settle-$r.json")"
		LOADED_SET=1
	fi
	[ "$r" = 1 ] || sleep 1
	snap "a$r-start"
	sleep "$DURATION"
	snap "a$r-end"
	snap "b$r-start"
	swap_phase "$r"
	snap "b$r-end"
	weir_alive || fail "weir exited during round $r"
	ALL+=("$r")
	fa=$(worker_frac "a$r-start" "a$r-end") fb=$(worker_frac "b$r-start" "b$r-end")
	verdict="counted"
	if awk -v a="$fa" -v b="$fb" -v m="$MIN_WORKER_CPU" 'BEGIN {exit !(a >= m && b >= m)}'; then
		clean=$((clean + 1))
		USED+=("$r")
	else
		verdict="not counted (worker on its CPU < $MIN_WORKER_CPU of a phase)"
	fi
	printf '  round %d: %d %s in B; worker on its CPU %.1f %% of A, %.1f %% of B: %s\n' "$r" \
		"$(awk -F'\t' -v r="$r" 'NR > 1 && $1 == r' "$SWAPLOG" | wc -l)" "$SWAP_WORD" \
		"$(awk -v f="$fa" 'BEGIN {print f * 100}')" "$(awk -v f="$fb" 'BEGIN {print f * 100}')" "$verdict"
	[ "$clean" -lt "$ROUNDS" ] && [ "$attempts" -lt $((3 * ROUNDS)) ] || break
done
CONTENDED=0
[ "$clean" -gt 0 ] || { USED=("${ALL[@]}"); CONTENDED=1; }

# ---- rules add: 10 rules on top of the loaded set, then their removal -------------------------
# `rules add` compiles the 10 rules alone (a delta generation) and answers once it is
# published; weir then folds base + delta into one base in the background: its end is
# when `rules status` says merge idle, delta false (polled every 50 ms). The burst
# histogram is taken over add + merge. Then `rules remove` of the 10 ids (no compile).
ADD_WALL='' ADD_RC='' MERGE_S='' REMOVE_WALL='' REMOVE_RC=''
if [ "$NO_ADD" = 0 ] && [ "$CONTROL_ONLY" = 0 ]; then
	if [ "$LOADED_SET" = 2 ]; then
		ctl --timeout 600 --json rules reload "$SET1" > "$TMP/settle-add.json" 2>&1 || fail "reload to set 1 before the add failed"
		LOADED_SET=1
	fi
	sleep 1
	snap add-start
	t0=$EPOCHREALTIME
	ctl --timeout 600 --json rules add "$ADD10" > "$TMP/add.json" 2>&1
	ADD_RC=$?
	t1=$EPOCHREALTIME
	ADD_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
	if [ "$ADD_RC" = 0 ]; then
		for ((i = 0; i < 2400; i++)); do
			ctl --json rules status > "$TMP/add-status.json" 2>&1 || break
			python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r.get("merge", "idle") == "idle" and not r.get("delta") else 1)' \
				"$TMP/add-status.json" 2> /dev/null && { MERGE_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}'); break; }
			sleep 0.05
		done
	else
		ctl --json rules status > "$TMP/add-status.json" 2>&1
	fi
	snap add-end
	if [ "$ADD_RC" = 0 ]; then
		t0=$EPOCHREALTIME
		# shellcheck disable=SC2046 # the ids, one word each
		ctl --json rules remove $(sed -n 's/.*sid:\([0-9]*\);.*/\1/p' "$ADD10") > "$TMP/remove.json" 2>&1
		REMOVE_RC=$?
		t1=$EPOCHREALTIME
		REMOVE_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
	fi
fi

# ---- stop weir: `shutdown` (flush, final stats record), by PID if it does not go -----------------
ctl --json shutdown > /dev/null 2>&1 || kill -INT "$WEIR_PID" 2> /dev/null
for ((i = 0; i < 300; i++)); do weir_alive || break; sleep 0.1; done
stop_child "$WEIR_PID"
CHILD=

# ---- figures ----------------------------------------------------------------------------------
python3 - "$SNAP" "$SWAPLOG" "${ALL[*]}" "${USED[*]}" "$CONTENDED" "$STAMP,$MACHINE,$COMMIT" "$CSV" \
	"$WEIR_OUT" "$CONTROL_ONLY" "$PERIOD_MS" "${ADD_WALL:-}" "${ADD_RC:-}" "$TMP/add.json" \
	"$TMP/add-status.json" "$COMPILE1" "$LOADED1" "$MAX_OTHERS" "${MERGE_S:-}" "${REMOVE_WALL:-}" \
	"${REMOVE_RC:-}" "$TMP/remove.json" > "$TMP/report.txt" << 'PY'
import json, os, re, sys

(snapdir, swaplog, all_rounds, used_rounds, contended, prefix, csv, outjsonl, control_only, period_ms,
 add_wall, add_rc, add_json, add_status, compile1, loaded1, max_others, merge_s, remove_wall, remove_rc,
 remove_json) = sys.argv[1:22]
all_rounds = [int(x) for x in all_rounds.split()]
used_rounds = [int(x) for x in used_rounds.split()]
warnings = []
INF = float("inf")

def read_prom(path):
    """worker 0's cumulative buckets [(le_seconds, cum)], its +Inf count, processed packets"""
    buckets, inf, processed = [], 0, 0
    for line in open(path):
        m = re.match(r'weir_burst_seconds_bucket\{worker="([^"]+)",le="([^"]+)"\} (\d+)', line)
        if m:
            if m.group(1) == "0":
                if m.group(2) == "+Inf":
                    inf = int(m.group(3))
                else:
                    buckets.append((float(m.group(2)), int(m.group(3))))
            continue
        m = re.match(r'weir_processed_packets_total\{worker="([^"]+)"\} (\d+)', line)
        if m:
            processed += int(m.group(2))
    if not buckets:
        sys.exit("no weir_burst_seconds buckets for worker 0 in " + path)
    return buckets, inf, processed

def read_t(path):
    d = {"tasks": {}}
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "t":
            d["t"] = (float(f[1]) + float(f[2])) / 2
        elif f[0] == "busy":
            d["busy"], d["tck"] = int(f[1]), int(f[2])
        elif f[0] == "times":
            tot = 0.0
            for x in f[1:]:
                mm, ss = x.rstrip("s").split("m")
                tot += int(mm) * 60 + float(ss)
            d["ours"] = tot
        elif f[0] == "proc":
            d["proc_ticks"], d["child_ticks"] = int(f[1]), int(f[2])
        elif f[0] == "task" and len(f) >= 7:
            # tid comm ticks last_cpu run_ns wait_ns
            d["tasks"][f[1]] = {"comm": f[2], "ticks": int(f[3]), "cpu": f[4], "run": int(f[5]), "wait": int(f[6])}
    return d

_snaps = {}
def snap(name):
    if name not in _snaps:
        b, inf, proc = read_prom(os.path.join(snapdir, name + ".prom"))
        st = json.load(open(os.path.join(snapdir, name + ".stats")))["stats"]
        status = json.load(open(os.path.join(snapdir, name + ".status")))
        _snaps[name] = dict(b=b, inf=inf, proc=proc, max_ns=st["burst_time"]["max_ns"],
                            alerts_lost=st.get("inspect", {}).get("alerts_lost", 0),
                            alerts=st.get("inspect", {}).get("records", 0),
                            gen=status.get("generation"), rules=status.get("rules"),
                            **read_t(os.path.join(snapdir, name + ".t")))
    return _snaps[name]

def bucket_counts(s0, s1):
    """the phase's bursts per log2 bucket, [(lo_s, hi_s, n)]: bucket i is [le_{i-1}, le_i),
    the first also holds everything below it, the last is [le_max, inf)"""
    out, p0, p1 = [], 0, 0
    les = [le for le, _ in s1["b"]]
    for i, ((le, c1), (_, c0)) in enumerate(zip(s1["b"], s0["b"])):
        out.append((les[i - 1] if i else le / 2, le, (c1 - p1) - (c0 - p0)))
        p0, p1 = c0, c1
    out.append((les[-1], INF, (s1["inf"] - p1) - (s0["inf"] - p0)))
    return out

def quantile(bc, q, cap):
    """weir_hist_quantile on a bucket delta: nearest rank, linear in its bucket, capped"""
    n = sum(c for _, _, c in bc)
    if not n:
        return 0.0
    rank, cum = max(q * n, 1), 0
    for lo, hi, c in bc:
        if not c or cum + c < rank:
            cum += c
            continue
        if hi == INF:
            return cap
        return min(lo + (hi - lo) * (rank - cum) / c, cap)
    return cap

def phase(n0, n1, swaps):
    s0, s1 = snap(n0), snap(n1)
    bc = bucket_counts(s0, s1)
    secs = s1["t"] - s0["t"]
    top = max((hi for lo, hi, c in bc if c), default=0)
    # The stats' burst max is the whole run's: exact for this phase when it rose during it;
    # else the phase's max lies in its highest non-empty bucket, whose upper edge (capped by
    # the run's max) is given, marked not exact.
    if s1["max_ns"] > s0["max_ns"]:
        mx, exact = s1["max_ns"] / 1e9, True
    else:
        mx, exact = min(top, s1["max_ns"] / 1e9), False
    threads = {}
    for tid, t1 in s1["tasks"].items():
        t0 = s0["tasks"].get(tid, {"run": 0, "wait": 0, "ticks": 0})
        threads[tid] = dict(comm=t1["comm"], cpu=t1["cpu"], run=(t1["run"] - t0["run"]) / 1e9,
                            wait=(t1["wait"] - t0["wait"]) / 1e9)
    weir_cpu = sum(t["run"] for t in threads.values())
    # threads that ended during the phase (a compile job's, say) only show in the process total
    live_ticks = sum(t["ticks"] - s0["tasks"].get(tid, {"ticks": 0})["ticks"] for tid, t in s1["tasks"].items())
    ended = max(0.0, ((s1["proc_ticks"] - s0["proc_ticks"]) - live_ticks) / s1["tck"])
    if ended > 0.05:
        threads["ended"] = dict(comm="(threads that ended)", cpu="?", run=ended, wait=0.0)
        weir_cpu += ended
    children = (s1["child_ticks"] - s0["child_ticks"]) / s1["tck"]
    if children > 0.005:
        threads["children"] = dict(comm="(compile children)", cpu="?", run=children, wait=0.0)
        weir_cpu += children
    worker = sum(t["run"] for t in threads.values() if t["comm"].startswith("rte-worker"))
    busy = (s1["busy"] - s0["busy"]) / s1["tck"]
    others = max(0.0, busy - weir_cpu - (s1["ours"] - s0["ours"])) / secs if secs > 0 else 0
    pk = s1["proc"] - s0["proc"]
    return dict(secs=secs, packets=pk, bc=bc, max=mx, exact=exact, gen0=s0["gen"], gen1=s1["gen"],
                alerts=s1["alerts"] - s0["alerts"], alerts_lost=s1["alerts_lost"] - s0["alerts_lost"],
                others=others, threads=threads, weir_cpu=weir_cpu / secs if secs else 0,
                worker=worker, worker_frac=worker / secs if secs else 0,
                swaps=len(swaps), failed=sum(1 for x in swaps if x[4] != "0"))

def figures(p):
    bc, cap = p["bc"], p["max"]
    return dict(mpps=p["packets"] / p["secs"] / 1e6 if p["secs"] else 0,
                mpps_cpu=p["packets"] / p["worker"] / 1e6 if p["worker"] else 0,
                bursts=sum(c for _, _, c in bc), p50=quantile(bc, .5, cap), p99=quantile(bc, .99, cap),
                p999=quantile(bc, .999, cap))

swaps = [l.rstrip("\n").split("\t") for l in open(swaplog)][1:]
res = {}
for r in all_rounds:
    res[("A", r)] = phase("a%d-start" % r, "a%d-end" % r, [])
    res[("B", r)] = phase("b%d-start" % r, "b%d-end" % r, [x for x in swaps if int(x[0]) == r])
    if control_only == "0":
        ok = res[("B", r)]["swaps"] - res[("B", r)]["failed"]
        g0, g1 = res[("B", r)]["gen0"], res[("B", r)]["gen1"]
        if g0 is not None and g1 is not None and g1 - g0 != ok:
            warnings.append("round %d: the generation went %s -> %s over %d successful reloads" % (r, g0, g1, ok))
    if res[("A", r)]["gen1"] != res[("A", r)]["gen0"]:
        warnings.append("round %d: the generation changed during A" % r)

def total(kind):
    ph = [res[(kind, r)] for r in used_rounds]
    bc = [list(x) for x in ph[0]["bc"]]
    for p in ph[1:]:
        for i, (_, _, c) in enumerate(p["bc"]):
            bc[i][2] += c
    mx = max(p["max"] for p in ph)
    t = dict(secs=sum(p["secs"] for p in ph), packets=sum(p["packets"] for p in ph), bc=[tuple(x) for x in bc],
             max=mx, exact=all(p["exact"] for p in ph if p["max"] == mx), worker=sum(p["worker"] for p in ph),
             swaps=sum(p["swaps"] for p in ph), failed=sum(p["failed"] for p in ph),
             alerts=sum(p["alerts"] for p in ph), alerts_lost=sum(p["alerts_lost"] for p in ph),
             others=max(p["others"] for p in ph), weir_cpu=sum(p["weir_cpu"] for p in ph) / len(ph))
    t["worker_frac"] = t["worker"] / t["secs"] if t["secs"] else 0
    t.update(figures(t))
    return t

us = lambda s: s * 1e6
W = (26, 7, 8, 8, 6, 8, 9, 9, 9, 11, 5, 8, 6)
hdr = "| %-26s | %7s | %8s | %8s | %6s | %8s | %9s | %9s | %9s | %11s | %5s | %8s | %6s |"
row = "| %-26s | %7.1f | %8.3f | %8.3f | %5.1f%% | %8d | %9.2f | %9.2f | %9.2f | %10.1f%s | %5d | %8d | %6.2f |"
sep = "|%s|" % "|".join("-" * (w + 2) for w in W)
print()
print(hdr % ("phase", "seconds", "Mpps", "Mpps/cpu", "worker", "bursts", "p50 us", "p99 us", "p99.9 us", "max us",
             "swaps", "al. lost", "others"))
print(sep)
label_b = ("B: status every %s ms" if control_only == "1" else "B: reload every %s ms") % period_ms

def line(name, p, x):
    print(row % (name, p["secs"], x["mpps"], x["mpps_cpu"], p["worker_frac"] * 100, x["bursts"], us(x["p50"]),
                 us(x["p99"]), us(x["p999"]), us(p["max"]), " " if p["exact"] else "~", p["swaps"],
                 p["alerts_lost"], p["others"]))

def csv_row(f, rnd, k, p, x, note):
    f.write("%s,%s,%s,%.3f,%d,%.4f,%.4f,%.3f,%d,%.2f,%.2f,%.2f,%.2f,%d,%d,%d,%d,%.2f,%s\n" % (
        prefix, rnd, k, p["secs"], p["packets"], x["mpps"], x["mpps_cpu"], p["worker_frac"], x["bursts"],
        us(x["p50"]), us(x["p99"]), us(x["p999"]), us(p["max"]), p["exact"], p["swaps"], p["failed"],
        p["alerts_lost"], p["others"], note))

with open(csv, "a") as f:
    for r in all_rounds:
        for k in "AB":
            p = res[(k, r)]
            x = figures(p)
            line("round %d %s%s" % (r, k, "" if r in used_rounds else " (not counted)"), p, x)
            csv_row(f, r, k, p, x, "counted" if r in used_rounds else "not counted")
    A, B = total("A"), total("B")
    print(sep)
    for name, p in (("A: no swaps", A), (label_b, B)):
        line(name, p, p)
        csv_row(f, "total", name[0], p, p, "rounds " + " ".join(map(str, used_rounds)))
ratio = lambda a, b: a / b if b else 0
rt, rc, rp = ratio(B["mpps"], A["mpps"]), ratio(B["mpps_cpu"], A["mpps_cpu"]), ratio(B["p999"], A["p999"])
print("| %-26s | %7s | %7.3fx | %7.3fx | %6s | %8s | %8.2fx | %8.2fx | %8.2fx | %10.2fx | %5s | %8s | %6s |" % (
    "B / A", "", rt, rc, "", "", ratio(B["p50"], A["p50"]), ratio(B["p99"], A["p99"]), rp, ratio(B["max"], A["max"]),
    "", "", ""))
print("targets: throughput B/A %.3fx (>= 0.95x: %s), burst p99.9 B/A %.2fx (<= 1.5x: %s)" % (
    rt, "met" if rt >= 0.95 else "NOT met", rp, "met" if rp <= 1.5 else "NOT met"))
print("totals over rounds %s%s. Mpps/cpu: packets per second the worker lcore was on its CPU; worker: that"
      " share of the wall time; ~: the phase's max is only known to its log2 bucket" % (
          " ".join(map(str, used_rounds)), " (NONE was clean: contended figures)" if contended == "1" else ""))
print("weir's threads, CPU seconds in the last counted round (last CPU seen):")
for k in "AB":
    th = res[(k, used_rounds[-1])]["threads"]
    busy = sorted(((t["run"], tid, t) for tid, t in th.items() if t["run"] > 0.005), key=lambda x: -x[0])
    print("  %s: %s" % (k, ", ".join("%s %.2f s (waited %.3f s, CPU %s)" % (t["comm"], rn, t["wait"], t["cpu"])
                                     for rn, tid, t in busy)))
if A["others"] > float(max_others) or B["others"] > float(max_others):
    warnings.append("other processes used up to %.2f CPUs during a counted phase (> %s)"
                    % (max(A["others"], B["others"]), max_others))

word = "status" if control_only == "1" else "reload"
if swaps:
    lat = sorted(float(x[3]) for x in swaps)
    gaps = []
    for r in all_rounds:
        st = [float(x[2]) for x in swaps if int(x[0]) == r]
        gaps += [b - a for a, b in zip(st, st[1:])]
    print("%s: %d in B phases (%d failed); each took median %.3f s, p90 %.3f s, max %.3f s; one started every"
          " %.3f s on average (target %.3f s)" % (word, len(swaps), sum(1 for x in swaps if x[4] != "0"),
          lat[len(lat) // 2], lat[int(len(lat) * .9)], lat[-1], sum(gaps) / len(gaps) if gaps else 0,
          int(period_ms) / 1000))
    for x in [x for x in swaps if x[4] != "0"][:3]:
        warnings.append("%s %s of %s failed (rc %s): %s" % (word, x[1], x[5], x[4], x[6][:300]))
    if control_only == "0":
        def find(o, key):
            if isinstance(o, dict):
                if key in o:
                    return o[key]
                for v in o.values():
                    y = find(v, key)
                    if y is not None:
                        return y
            return None
        cs, ws, hm = [], [], set()
        for x in swaps:
            try:
                j = json.loads(x[6])
            except ValueError:
                continue
            c, w = find(j, "compile_s"), find(j, "wall_s")
            if isinstance(c, (int, float)):
                cs.append(float(c))
            if isinstance(w, (int, float)):
                ws.append(float(w))
            hm.add("%s/%s" % (find(j, "cache_hits"), find(j, "cache_misses")))
        med = lambda v: sorted(v)[len(v) // 2]
        if cs:
            print("reload jobs (weir's figures): compile median %.3f s, max %.3f s%s; cache hits/misses seen: %s" % (
                med(cs), max(cs), (", published after median %.3f s, max %.3f s" % (med(ws), max(ws))) if ws else "",
                ", ".join(sorted(hm)[:6])))
print("compile of the %s-rule set 1 (weir rules check, empty cache): %s s" % (loaded1, compile1))
def job_text(j):
    job = j.get("job") or {}
    t = "generation %s, %s rules, job %s %s" % (j.get("generation"), j.get("rules"), job.get("op"), job.get("state"))
    for k, f in (("compile_s", "compile %.3f s"), ("wall_s", "published after %.3f s")):
        if isinstance(job.get(k), (int, float)):
            t += ", " + f % job[k]
    if "cache_hits" in job:
        t += ", cache %s hits / %s misses" % (job.get("cache_hits"), job.get("cache_misses"))
    if job.get("error"):
        t += ", error: %s" % job["error"]
    return t

def load_json(path):
    try:
        return json.load(open(path))
    except (ValueError, OSError):
        return None

if add_wall:
    ans = load_json(add_json)
    if add_rc != "0" or not ans:
        warnings.append("rules add failed (rc %s): %s" % (add_rc, open(add_json).read().strip()[:300]))
    p = phase("add-start", "add-end", [])
    x = figures(p)
    print("rules add of 10 rules: %s s (weirctl, until published)%s" % (
        add_wall, "; " + job_text(ans) if isinstance(ans, dict) else ""))
    if merge_s:
        print("  background merge done %s s after the add started" % merge_s)
    elif add_rc == "0":
        warnings.append("the background merge after the add did not end within 120 s: %s"
                        % open(add_status).read().strip()[:300])
    print("  during the add and merge (%.1f s): %.3f Mpps (%.3f per worker CPU second, worker on its CPU %.1f %%),"
          " burst p99.9 %.2f us, max %.1f us%s, %d alerts lost, others %.2f CPU" % (
              p["secs"], x["mpps"], x["mpps_cpu"], p["worker_frac"] * 100, us(x["p999"]), us(p["max"]),
              "" if p["exact"] else "~", p["alerts_lost"], p["others"]))
    busy = sorted(((t["run"], t) for t in p["threads"].values() if t["run"] > 0.005), key=lambda y: -y[0])
    print("  weir's threads: " + ", ".join("%s %.2f s (CPU %s)" % (t["comm"], rn, t["cpu"]) for rn, t in busy))
    with open(csv, "a") as f:
        csv_row(f, "add", "add10", p, x, "add %s s merge %s s rc %s" % (add_wall, merge_s or "-", add_rc))
if remove_wall:
    ans = load_json(remove_json)
    if remove_rc != "0" or not ans:
        warnings.append("rules remove failed (rc %s): %s" % (remove_rc, open(remove_json).read().strip()[:300]))
    print("rules remove of the 10: %s s%s" % (remove_wall, "; generation %s, %s rules" % (
        ans.get("generation"), ans.get("rules")) if isinstance(ans, dict) else ""))

st = None
try:
    for line in open(outjsonl):
        if line.startswith('{"type":"stats"'):
            st = json.loads(line)
except OSError:
    pass
if st is None:
    warnings.append("no final stats record in weir's output")
else:
    ins = st.get("inspect", {})
    for k in ("scan_errors", "hits_dropped", "alerts_lost"):
        if ins.get(k, 0):
            warnings.append("inspect.%s=%d" % (k, ins[k]))
    if not ins.get("scanned"):
        warnings.append("nothing was scanned (inspect.scanned is 0)")
print("SUMMARY %.4f %.4f %.3f %.3f %.2f %.2f %.3f %s %d %d" % (
    A["mpps"], B["mpps"], rt, rc, us(A["p999"]), us(B["p999"]), rp, add_wall or "-", B["swaps"], B["failed"]))
for w in warnings:
    print("WARNING: " + w)
PY
rc=$?
[ "$rc" = 0 ] || { cat "$TMP/report.txt"; die "could not compute the figures (the snapshots are in $SNAP)"; }
grep -v '^SUMMARY ' "$TMP/report.txt" | sed "s/^WARNING: /$BENCH: WARNING: /"
read -r _ a_mpps b_mpps r_t r_c a_p999 b_p999 r_p add_s n_sw n_fail <<< "$(grep '^SUMMARY ' "$TMP/report.txt")"
append_summary "date,machine,commit,rounds,clean,seconds,period_ms,control_only,count,compile_s,a_mpps,b_mpps,mpps_b_over_a,mpps_per_cpu_b_over_a,a_p999_us,b_p999_us,p999_b_over_a,swaps,swaps_failed,add10_s" \
	"$STAMP,$MACHINE,$COMMIT,${#ALL[@]},$clean,$DURATION,$PERIOD_MS,$CONTROL_ONLY,$COUNT,$COMPILE1,$a_mpps,$b_mpps,$r_t,$r_c,$a_p999,$b_p999,$r_p,$n_sw,$n_fail,$add_s"
echo "date $STAMP, machine: $MACHINE, commit $COMMIT; every phase: $CSV"
status=0
if [ -n "$MIN_RATIO" ] && awk -v r="$r_t" -v m="$MIN_RATIO" 'BEGIN {exit !(r < m)}'; then
	echo "$BENCH: throughput B/A $r_t is below $MIN_RATIO"
	status=1
fi
if [ -n "$MAX_P999" ] && awk -v r="$r_p" -v m="$MAX_P999" 'BEGIN {exit !(r > m)}'; then
	echo "$BENCH: burst-time p99.9 B/A $r_p is above $MAX_P999"
	status=1
fi
exit "$status"
