#!/usr/bin/env bash
# perf/bench-match.sh: weir's payload-matching pipeline against a scan-only baseline,
# measured in one run on the same payloads (see perf/README.md).
#
#   A = bench-scan: payloads preloaded in memory, one block scan per payload, one core,
#       pass after pass (Hyperscan's pcapscan idea): "raw" (one Hyperscan database of
#       the patterns, as written), "raw_first" (the same with SINGLEMATCH, what weir's
#       block_matches: first compiles) and "weir_match" (the file through lib/match)
#   B = weir run --workers 1 --rules PATTERNS: the full pipeline in block mode
#   C = weir run --workers 1 --rules STREAM.yaml: the same rules, all `mode: stream`
#
# all on ndpi-mix.pcap with records cut to 2,048 bytes (weir replays it with net_pcap
# infinite_rx=1; bench-scan preloads the payloads of the same cut file). Runs A B C once
# as warm-up (ignored), then A B C A B C ... for --rounds rounds, and reports the median
# payload packets/s and Gbit/s of each and the ratios B/A and C/A. Then times rule
# compilation and cached loads (weir rules check) for bench-102 and ET Open.
# Writes perf/results/bench-match-<time>.csv (every run) and appends a line to
# perf/results/bench-match-summary.csv.
set -uo pipefail

BENCH=bench-match
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
set_common_defaults   # DATA PCAP ROUNDS DURATION WARMUP SNAPLEN MIN_RATIO RESULTS WEIR
PATTERNS=$DATA/patterns/bench-102.txt
ETOPEN=$DATA/rules/et-open
COMPILE=1
SCAN=${BENCH_SCAN_BIN:-}
CPU=1
MAX_OTHERS=0.25
BLOCK_MATCHES=first

usage() {
	cat <<EOF
usage: perf/bench-match.sh [--rounds N] [--duration S] [--pcap FILE] [--patterns FILE]
                           [--weir BIN] [--scan BIN] [--results DIR] [--min-ratio R]
                           [--no-compile] [--max-others CPUS]
  --rounds N       measured A/B/C rounds after the warm-up round (default $ROUNDS); a round
                   where other processes took more than --max-others CPUs during any of
                   its runs is not counted and another is run (at most 3 x N in all)
  --duration S     measured seconds per run (default $DURATION; warm-up runs: $WARMUP)
  --pcap FILE      capture (default \$WEIR_SHARED_DATA or ../shared/data: pcaps/ndpi-mix.pcap);
                   records are cut to $SNAPLEN bytes first
  --patterns FILE  Hyperscan ID:/regex/flags file (default patterns/bench-102.txt)
  --weir BIN       weir binary (default \$WEIR_BIN, else build-perf/app/weir, else build/app/weir)
  --scan BIN       bench-scan binary (default \$BENCH_SCAN_BIN, else perf/bench-scan in
                   the weir binary's build folder)
  --results DIR    where the CSVs go (default perf/results)
  --min-ratio R    exit 1 when weir block / raw baseline (payload packets/s) is below R
                   (default: report only)
  --no-compile     skip the rule compile / cached-load timings
  --max-others C   CPUs other processes may use during a counted run (default $MAX_OTHERS)
  --block-matches first|every
                   weir's block_matches setting for B, and bench-scan's weir_match engine
                   (default $BLOCK_MATCHES, weir run's default)
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--patterns) PATTERNS=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--scan) SCAN=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--no-compile) COMPILE=0; shift ;;
	--max-others) MAX_OTHERS=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	--block-matches) BLOCK_MATCHES=${2:-}; shift $(($# < 2 ? $# : 2)) ;;
	-h | --help) usage; exit 0 ;;
	*) take_common_option "$1" "${2:-}" || { usage >&2; exit 2; }; shift $(($# < 2 ? $# : 2)) ;;
	esac
done
check_common_options
is_num "$MAX_OTHERS" || die "--max-others: '$MAX_OTHERS' is not a number"
case $BLOCK_MATCHES in first | every) ;; *) die "--block-matches: '$BLOCK_MATCHES' is not first or every" ;; esac

# ---- prerequisites ---------------------------------------------------------------
require_capture
[ -r "$PATTERNS" ] || skip "$PATTERNS is absent or unreadable"
command -v editcap > /dev/null || skip "editcap not found (Debian: apt-get install wireshark-common)"
command -v python3 > /dev/null || die "python3 not found (reads weir's stats JSON)"
find_weir
[ -n "$SCAN" ] || SCAN=$(cd "$(dirname "$WEIR")/.." && pwd)/perf/bench-scan
[ -x "$SCAN" ] || die "no bench-scan binary at $SCAN: ninja -C $(dirname "$(dirname "$WEIR")") (or give --scan)"
warn_unless_root
# bench-scan runs on the CPU of weir's worker lcore (weir: --lcores 0@0,1@1 on 2 CPUs).
[ "$(nproc)" -gt "$CPU" ] || CPU=0

# weir's pcap-infinite pool (262144 mbufs of ~2.3 KB) needs about 600 MiB of hugepages;
# without enough it falls back to --no-huge, which is not the figure this is about.
require_hugepages 1024

start_cleanup   # TMP, CHILD; the child is stopped by its PID however we end


# ---- the replay: records cut to 2,048 bytes (infinite_rx refuses bigger ones) --------
cut_capture 0   # CUT, RECORDS (0 when capinfos cannot count them)

# The pipeline the issue names (replay, parse, flows, matching, alerts): no query.
printf 'queries: []\nrules_cache: %s\nblock_matches: %s\n' "$TMP/hs-cache" "$BLOCK_MATCHES" > "$TMP/weir.yaml"

# C's rules: every line of the pattern file as a native rule with mode: stream (a
# pattern, with its flags; see rules/README.md), by perf/lib.sh's
# patterns_to_stream_rules. The regex is pcapscan's: from the slash after "ID:" to the
# last slash. A line that is not ID:/regex/flags, or an unknown flag, is named and fatal.
STREAM_RULES=$TMP/stream-rules.yaml
patterns_to_stream_rules "$PATTERNS" "$STREAM_RULES" || die "cannot turn $PATTERNS into stream rules"

# ---- A: bench-scan ------------------------------------------------------------------
# Leaves in A_RAW, A_RF and A_WM: "pps gbps payloads seconds matches_per_pass".
A_RAW="" A_RF="" A_WM=""
scan_result() { # engine log
	awk -v e="$1" '$1 == "RESULT" && $2 == "engine=" e { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["pps"], v["gbps"], v["payloads"], v["seconds"], v["matches_per_pass"] }' "$2"
}
run_scan() { # seconds log
	local secs=$1 log=$2
	run_bg $((secs * 3 + 120)) "$log" taskset -c "$CPU" "$SCAN" --engine all --block-matches "$BLOCK_MATCHES" \
		--seconds "$secs" "$CUT" "$PATTERNS"
	[ "$WAIT_RC" = 0 ] || return 1
	A_RAW=$(scan_result raw "$log") A_RF=$(scan_result raw_first "$log") A_WM=$(scan_result weir_match "$log")
	[ -n "$A_RAW" ] && [ -n "$A_RF" ] && [ -n "$A_WM" ]
}

# ---- B, C: weir ---------------------------------------------------------------------
# --duration counts from the end of EAL start-up, which includes the port's preload and
# the rule compile (cached after the first run): give 2 s more. The rate is weir's own:
# inspect.scanned / elapsed_s (lcore launch to the last one done).
# Leaves in RES: "pps gbps scanned elapsed mpps stream_gbps"; warnings in WARN.
RES="" WARN=""
run_weir() { # rules seconds out log
	local rules=$1 secs=$2 out=$3 log=$4
	run_bg $((secs + 90)) "$log" env WEIR_DEBUG_EAL=1 "$WEIR" run --config "$TMP/weir.yaml" \
		--port "net_pcap0,rx_pcap=$CUT,infinite_rx=1" --profile pcap-infinite \
		--rules "$rules" --workers 1 --duration $((secs + 2)) --no-summary --out "$out"
	[ "$WAIT_RC" = 0 ] || return 1
	check_weir_eal_args "$log" || return 1
	local r
	r=$(python3 - "$out" "$RECORDS" << 'PY'
import json, sys
st = None
with open(sys.argv[1]) as f:
    for line in f:
        if line.startswith('{"type":"stats"'):
            st = json.loads(line)
if st is None:
    sys.exit(1)
ins, el = st.get("inspect", {}), st["elapsed_s"]
sc, sb, strb = ins.get("scanned", 0), ins.get("scanned_bytes", 0), ins.get("stream_bytes", 0)
warn = []
if not ins:
    warn.append("no inspect section in the stats record (rules not loaded?)")
elif sc == 0:
    warn.append("inspect.scanned is 0 after %d packets: nothing was scanned" % st["processed"])
for k in ("scan_errors", "hits_dropped", "no_stream", "alerts_lost"):
    if ins.get(k, 0):
        warn.append("inspect.%s=%d" % (k, ins[k]))
passes = st["processed"] / int(sys.argv[2]) if int(sys.argv[2]) else 0
print("%.0f %.4f %d %.3f %.4f %.4f %.2f %.0f|%s" % (
    sc / el if el > 0 else 0, sb * 8 / el / 1e9 if el > 0 else 0, sc, el,
    st["processed"] / el / 1e6 if el > 0 else 0, strb * 8 / el / 1e9 if el > 0 else 0,
    passes, sc / passes if passes else 0, "; ".join(warn)))
PY
	) || return 1
	RES=${r%%|*}
	WARN=${r#*|}
}

# ---- rule compile and cached-load times ----------------------------------------------
# `weir rules check --cache-dir DIR FILES` twice on an empty cache: the first compiles
# every database, the second loads them from the cache. Leaves "loaded compile_s hits
# misses bad wall_s" in CRES.
CRES=
rules_check() { # cache log files...
	local cache=$1 log=$2 t0 t1
	shift 2
	t0=$(date +%s.%N)
	"$WEIR" rules check --quiet --block-matches "$BLOCK_MATCHES" --cache-dir "$cache" "$@" < /dev/null > "$log" 2>&1 &
	CHILD=$!
	wait "$CHILD"
	WAIT_RC=$?
	CHILD=
	t1=$(date +%s.%N)
	[ "$WAIT_RC" = 0 ] || return 1
	CRES=$(awk -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" '
		/^loaded:/ { loaded = $2 }
		/^compile time:/ {
			# compile time: X s (cache: H hits, M misses, B bad)
			ct = $3; h = $6; m = $8; b = $10
		}
		END { if (ct == "") exit 1; print loaded, ct, h, m, b, wall }' "$log")
}

# ---- the rounds -------------------------------------------------------------------
describe_run lib app pmd-config perf/bench-scan.c   # STAMP, CSV, MACHINE, COMMIT
echo "date,machine,commit,round,run,payload_pps,payload_gbps,payloads,seconds,pkt_mpps,stream_gbps,others_cpu,note" > "$CSV"

echo "bench-match: $(basename "$PCAP") cut to $SNAPLEN B ($RECORDS records), rules $(basename "$PATTERNS")"
echo "bench-match: weir=$WEIR scan=$SCAN (pinned to CPU $CPU)"
echo "bench-match: warm-up + $ROUNDS rounds of ${DURATION}s, A=bench-scan (raw, weir_match) B=weir block C=weir stream; load average $(load_average)"
a_raw=() a_wm=() b_pps=() c_pps=()
a_raw_g=() a_wm_g=() b_g=() c_g=() b_m=() c_m=() c_sg=()
WARNINGS=()
mpps() { awk -v p="$1" 'BEGIN {printf "%.3f", p / 1e6}'; }
# Round 0 is the warm-up. Then rounds until $ROUNDS clean ones (every run of the round
# saw neighbours use at most --max-others CPUs), at most 3 x $ROUNDS attempts; if none
# is clean, every round counts (and the table says so).
clean=0 attempts=0 all_rounds=()
declare -A ROUND
r=0
while :; do
	secs=$DURATION label=$r
	[ "$r" -eq 0 ] && { secs=$WARMUP; label=warmup; }
	round_max=0
	note_max() { awk -v a="$1" -v b="$round_max" 'BEGIN {exit !(a > b)}' && round_max=$1; }

	run_scan "$secs" "$TMP/scan-$r.log" || { tail -20 "$TMP/scan-$r.log" >&2; die "bench-scan round $label failed (log above)"; }
	note_max "$OTHERS"
	read -r pps g n s mpp <<< "$A_RAW"
	echo "$STAMP,$MACHINE,$COMMIT,$label,a-raw,$pps,$g,$n,$s,,,$OTHERS,matches_per_pass=$mpp" >> "$CSV"
	printf '  round %-6s a raw          %7s M payload pkts/s %7.3f Gbit/s  [others %s CPU]\n' "$label" "$(mpps "$pps")" "$g" "$OTHERS"
	ROUND[$r,araw]="$pps $g"
	A_PAYLOADS=$n A_MATCHES=$mpp
	read -r pps g n s mpp <<< "$A_RF"
	echo "$STAMP,$MACHINE,$COMMIT,$label,a-raw_first,$pps,$g,$n,$s,,,$OTHERS,matches_per_pass=$mpp" >> "$CSV"
	printf '  round %-6s a raw_first    %7s M payload pkts/s %7.3f Gbit/s\n' "$label" "$(mpps "$pps")" "$g"
	ROUND[$r,arf]="$pps $g"
	[ "$BLOCK_MATCHES" = first ] && A_MATCHES=$mpp
	read -r pps g n s mpp <<< "$A_WM"
	echo "$STAMP,$MACHINE,$COMMIT,$label,a-weir_match,$pps,$g,$n,$s,,,$OTHERS,matches_per_pass=$mpp" >> "$CSV"
	printf '  round %-6s a weir_match   %7s M payload pkts/s %7.3f Gbit/s\n' "$label" "$(mpps "$pps")" "$g"
	ROUND[$r,awm]="$pps $g"
	[ "$mpp" = "$A_MATCHES" ] || WARNINGS+=("round $label: weir_match ($BLOCK_MATCHES) and the raw engine compiled alike disagree on matches per pass ($A_MATCHES vs $mpp)")

	for mode in block stream; do
		rules=$PATTERNS tag=b
		[ "$mode" = stream ] && { rules=$STREAM_RULES tag=c; }
		run_weir "$rules" "$secs" "$TMP/weir-$mode-$r.jsonl" "$TMP/weir-$mode-$r.log" || {
			tail -20 "$TMP/weir-$mode-$r.log" >&2
			die "weir $mode round $label failed (log above)"
		}
		note_max "$OTHERS"
		read -r pps g sc el mp sg passes ppp <<< "$RES"
		[ -z "$WARN" ] || WARNINGS+=("round $label, weir $mode: $WARN")
		echo "$STAMP,$MACHINE,$COMMIT,$label,$tag-weir-$mode,$pps,$g,$sc,$el,$mp,$sg,$OTHERS,passes=$passes payloads_per_pass=$ppp" >> "$CSV"
		printf '  round %-6s %s weir %-6s   %7s M payload pkts/s %7.3f Gbit/s  [others %s CPU] %.3f Mpps all packets%s\n' \
			"$label" "$tag" "$mode" "$(mpps "$pps")" "$g" "$OTHERS" "$mp" \
			"$([ "$mode" = stream ] && printf ', %.3f Gbit/s into streams' "$sg")"
		[ -z "$WARN" ] || echo "  WARNING: $WARN"
		ROUND[$r,$tag]="$pps $g $mp $sg"
		[ "$mode" = block ] && B_PPP=$ppp || C_PPP=$ppp
	done

	if [ "$r" -gt 0 ]; then
		attempts=$((attempts + 1))
		all_rounds+=("$r")
		if awk -v a="$round_max" -v m="$MAX_OTHERS" 'BEGIN {exit !(a <= m)}'; then
			clean=$((clean + 1))
			ROUND[$r,clean]=1
		else
			echo "  round $label not counted: neighbours used up to $round_max CPUs (> $MAX_OTHERS)"
		fi
		[ "$clean" -lt "$ROUNDS" ] && [ "$attempts" -lt $((3 * ROUNDS)) ] || break
	fi
	r=$((r + 1))
done
COUNTED="$clean clean rounds of $attempts"
if [ "$clean" -eq 0 ]; then
	COUNTED="all $attempts rounds (NONE was clean: neighbours used > $MAX_OTHERS CPUs in each)"
	WARNINGS+=("no round ran without busy neighbours: the medians are of contended runs")
fi
for r in "${all_rounds[@]}"; do
	[ "$clean" -eq 0 ] || [ -n "${ROUND[$r,clean]:-}" ] || continue
	read -r p g <<< "${ROUND[$r,araw]}"; a_raw+=("$p"); a_raw_g+=("$g")
	read -r p g <<< "${ROUND[$r,arf]}"; a_rf+=("$p"); a_rf_g+=("$g")
	read -r p g <<< "${ROUND[$r,awm]}"; a_wm+=("$p"); a_wm_g+=("$g")
	read -r p g m sg <<< "${ROUND[$r,b]}"; b_pps+=("$p"); b_g+=("$g"); b_m+=("$m")
	read -r p g m sg <<< "${ROUND[$r,c]}"; c_pps+=("$p"); c_g+=("$g"); c_m+=("$m"); c_sg+=("$sg")
done

m_araw=$(median "${a_raw[@]}") m_arf=$(median "${a_rf[@]}") m_awm=$(median "${a_wm[@]}")
m_b=$(median "${b_pps[@]}") m_c=$(median "${c_pps[@]}")
g_araw=$(median "${a_raw_g[@]}") g_arf=$(median "${a_rf_g[@]}") g_awm=$(median "${a_wm_g[@]}")
g_b=$(median "${b_g[@]}") g_c=$(median "${c_g[@]}")
mp_b=$(median "${b_m[@]}") mp_c=$(median "${c_m[@]}") sg_c=$(median "${c_sg[@]}")
r_b=$(ratio "$m_b" "$m_araw") r_c=$(ratio "$m_c" "$m_araw")
r_b_wm=$(ratio "$m_b" "$m_awm") r_c_wm=$(ratio "$m_c" "$m_awm")
r_b_rf=$(ratio "$m_b" "$m_arf") r_c_rf=$(ratio "$m_c" "$m_arf")

# ---- compile / cached load -------------------------------------------------------------
COMPILE_ROWS=()
if [ "$COMPILE" = 1 ]; then
	sets=("bench-102 (block)|$PATTERNS" "bench-102 (stream)|$STREAM_RULES")
	et=("$ETOPEN"/*.rules)
	[ -e "${et[0]}" ] && sets+=("ET Open, all ${#et[@]} files|${et[*]}")
	k=0
	for s in "${sets[@]}"; do
		name=${s%%|*} files=${s#*|} k=$((k + 1))
		# shellcheck disable=SC2086 # the list is space-separated paths without spaces
		rules_check "$TMP/cache-$k" "$TMP/check-$k-1.log" $files || { tail -5 "$TMP/check-$k-1.log" >&2; die "rules check of $name failed"; }
		read -r loaded ct1 h1 m1 b1 w1 <<< "$CRES"
		# shellcheck disable=SC2086
		rules_check "$TMP/cache-$k" "$TMP/check-$k-2.log" $files || { tail -5 "$TMP/check-$k-2.log" >&2; die "rules check of $name (cached) failed"; }
		read -r loaded2 ct2 h2 m2 b2 w2 <<< "$CRES"
		[ "$m2" = 0 ] || WARNINGS+=("$name: the second rules check missed the cache ($h2 hits, $m2 misses, $b2 bad)")
		COMPILE_ROWS+=("$(printf '| %-28s | %6s | %9s s | %6s/%-6s | %9s s | %6s/%-6s | %7s s | %7s s |' \
			"$name" "$loaded" "$ct1" "$h1" "$m1" "$ct2" "$h2" "$m2" "$w1" "$w2")")
		echo "$STAMP,$MACHINE,$COMMIT,compile,$name,,,$loaded,$ct1,,,,cold hits=$h1 misses=$m1 bad=$b1 wall=$w1" >> "$CSV"
		echo "$STAMP,$MACHINE,$COMMIT,compile,$name,,,$loaded2,$ct2,,,,cached hits=$h2 misses=$m2 bad=$b2 wall=$w2" >> "$CSV"
	done
fi

append_summary "date,machine,commit,rounds,seconds,raw_pps,weir_match_pps,block_pps,stream_pps,block_over_raw,stream_over_raw,block_matches,raw_first_pps,block_over_raw_first" \
	"$STAMP,$MACHINE,$COMMIT,$ROUNDS,$DURATION,$m_araw,$m_awm,$m_b,$m_c,$r_b,$r_c,$BLOCK_MATCHES,$m_arf,$r_b_rf"

echo
echo "payloads: bench-scan $A_PAYLOADS per pass of the file; weir ${B_PPP:-?} (block), ${C_PPP:-?} (stream) per pass (scanned / (processed / $RECORDS records))"
printf '| %-40s | %14s | %14s | %12s | %12s | %12s |\n' "run (medians)" "payload Mpps" "payload Gbit/s" "x (a) raw" "x (a) first" "x (a) wm"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------------------" "----------------" "----------------" "--------------" "--------------" "--------------"
printf '| %-40s | %14s | %14.3f | %12s | %12s | %12s |\n' "(a) bench-scan raw (hs_scan)" "$(mpps "$m_araw")" "$g_araw" "1.000x" "$(ratio "$m_araw" "$m_arf")x" "$(ratio "$m_araw" "$m_awm")x"
printf '| %-40s | %14s | %14.3f | %12s | %12s | %12s |\n' "(a) bench-scan raw_first (SINGLEMATCH)" "$(mpps "$m_arf")" "$g_arf" "$(ratio "$m_arf" "$m_araw")x" "1.000x" "$(ratio "$m_arf" "$m_awm")x"
printf '| %-40s | %14s | %14.3f | %12s | %12s | %12s |\n' "(a) bench-scan weir_match ($BLOCK_MATCHES)" "$(mpps "$m_awm")" "$g_awm" "$(ratio "$m_awm" "$m_araw")x" "$(ratio "$m_awm" "$m_arf")x" "1.000x"
printf '| %-40s | %14s | %14.3f | %12s | %12s | %12s |\n' "(b) weir run, block ($(printf %.3f "$mp_b") Mpps all)" "$(mpps "$m_b")" "$g_b" "${r_b}x" "${r_b_rf}x" "${r_b_wm}x"
printf '| %-40s | %14s | %14.3f | %12s | %12s | %12s |\n' "(c) weir run, stream ($(printf %.3f "$mp_c") Mpps all)" "$(mpps "$m_c")" "$g_c" "${r_c}x" "${r_c_rf}x" "${r_c_wm}x"
echo "(b): block_matches: $BLOCK_MATCHES; the target is (b) >= 1.0x (a) raw, pcapscan's every-match scan"
echo "(c) gave $sg_c Gbit/s to stream scans (TCP bytes in order, each once: the replay repeats sequence numbers)"
if [ "${#COMPILE_ROWS[@]}" -gt 0 ]; then
	echo
	printf '| %-28s | %6s | %11s | %13s | %11s | %13s | %9s | %9s |\n' "rules check" "loaded" "compile" "hits/misses" "cached load" "hits/misses" "wall 1st" "wall 2nd"
	printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "--------" "-------------" "---------------" "-------------" "---------------" "-----------" "-----------"
	printf '%s\n' "${COMPILE_ROWS[@]}"
fi
echo "medians of $COUNTED (max others $MAX_OTHERS CPU)"
echo "date $STAMP, machine: $MACHINE, commit $COMMIT; every run: $CSV"
for w in "${WARNINGS[@]}"; do echo "bench-match: WARNING: $w"; done
if [ -n "$MIN_RATIO" ] && awk -v r="$r_b" -v m="$MIN_RATIO" 'BEGIN {exit !(r < m)}'; then
	echo "bench-match: weir block / raw baseline $r_b is below $MIN_RATIO"
	exit 1
fi
exit 0
