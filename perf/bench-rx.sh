#!/usr/bin/env bash
# perf/bench-rx.sh: weir's rx + parse + hostpairs rate against dpdk-testpmd rxonly,
# measured in one run on the same replay (see perf/README.md).
#
#   A = dpdk-testpmd --forward-mode=rxonly, one forwarding core
#   B = weir run --workers 1, the hostpairs query only
#
# both on net_pcap infinite_rx=1 of ndpi-mix.pcap with records cut to 2,048 bytes.
# Runs A B once as warm-up (ignored), then B A, A B, ... for --rounds rounds, and
# reports the median Mpps of each and the ratio weir/testpmd. Writes
# perf/results/bench-rx-<time>.csv (every run) and appends a line to
# perf/results/bench-rx-summary.csv.
set -uo pipefail

BENCH=bench-rx
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
set_common_defaults   # DATA PCAP ROUNDS DURATION WARMUP SNAPLEN MIN_RATIO RESULTS WEIR
TESTPMD=${TESTPMD:-dpdk-testpmd}

usage() {
	cat <<EOF
usage: perf/bench-rx.sh [--rounds N] [--duration S] [--pcap FILE] [--weir BIN]
                        [--results DIR] [--min-ratio R]
  --rounds N     measured A/B rounds after the warm-up round (default $ROUNDS)
  --duration S   measured seconds per run (default $DURATION; warm-up runs: $WARMUP)
  --pcap FILE    capture to replay (default \$WEIR_SHARED_DATA or ../shared/data:
                 pcaps/ndpi-mix.pcap); records are cut to $SNAPLEN bytes first
  --weir BIN     weir binary (default \$WEIR_BIN, else build-perf/app/weir, else build/app/weir)
  --results DIR  where the CSVs go (default perf/results)
  --min-ratio R  exit 1 when weir/testpmd is below R (default: report only)
Environment: TESTPMD (default dpdk-testpmd).
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	*) take_common_option "$1" "${2:-}" || { usage >&2; exit 2; }; shift $(($# < 2 ? $# : 2)) ;;
	esac
done
check_common_options

# ---- prerequisites ---------------------------------------------------------------
require_capture
command -v "$TESTPMD" > /dev/null || die "$TESTPMD not found (Debian: apt-get install dpdk)"
command -v editcap > /dev/null || die "editcap not found (Debian: apt-get install wireshark-common)"
find_weir
warn_unless_root

# Hugepages: testpmd gets --in-memory on hugepages like weir does by itself.
require_hugepages 1024

start_cleanup   # TMP, CHILD; the child is stopped by its PID however we end

# ---- the replay: records cut to 2,048 bytes (infinite_rx refuses bigger ones) --------
cut_capture 200000   # CUT, RECORDS (200000 when capinfos cannot count them)
# testpmd preloads the whole file into its pool, plus rx ring, per-lcore caches, bursts.
TP_MBUFS=$(testpmd_mbufs "$RECORDS")

cat > "$TMP/hostpairs.yaml" << 'Y'
queries:
  - name: hostpairs
    group_by: [src_ip, dst_ip, proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes, ip_bytes]
Y

# ---- A: testpmd -----------------------------------------------------------------------
# perf/lib.sh's testpmd_rxonly (perf/report runs the same): Rx-pps is printed every
# second ("since last show"; the first print is 0); it is stopped once it has printed
# 2 + seconds samples and the last `seconds` of them are averaged: start-up (EAL,
# mempool, preload) and the first second are left out. It leaves "mpps gbps seconds
# packets" in RES; the CSV keeps mpps, packets, seconds of it (the figures run_weir gives).
TP_DEVARGS="net_pcap0,rx_pcap=$CUT,infinite_rx=1"
RES=

# ---- B: weir --------------------------------------------------------------------------
# --duration counts from the end of EAL start-up, so opening the port (the preload,
# 0.2-2 s) is in it: give 1 s more. The rate is weir's own: processed / elapsed_s
# (launch of the lcores to the last one done). Leaves "mpps processed elapsed_s" in RES.
run_weir() { # seconds out log
	local secs=$1 out=$2 log=$3 line
	WEIR_DEBUG_EAL=1 "$WEIR" run --config "$TMP/hostpairs.yaml" \
		--port "net_pcap0,rx_pcap=$CUT,infinite_rx=1" --profile pcap-infinite \
		--workers 1 --duration $((secs + 1)) --no-summary --out "$out" \
		< /dev/null > "$log" 2>&1 &
	CHILD=$!
	local t0=$SECONDS
	while kill -0 "$CHILD" 2> /dev/null; do
		[ $((SECONDS - t0)) -lt $((secs + 60)) ] || { echo "bench-rx: weir overran, stopping it" >&2; break; }
		sleep 0.2
	done
	stop_child "$CHILD"
	CHILD=
	check_weir_eal_args "$log" || return 1
	line=$(grep '"type":"stats"' "$out" | tail -1)
	[ -n "$line" ] || return 1
	local mpps processed elapsed
	mpps=$(sed -n 's/.*"mpps":\([0-9.e+-]*\).*/\1/p' <<< "$line")
	processed=$(sed -n 's/^{"type":"stats","rx":[0-9]*,"processed":\([0-9]*\).*/\1/p' <<< "$line")
	elapsed=$(sed -n 's/.*"elapsed_s":\([0-9.e+-]*\).*/\1/p' <<< "$line")
	[ -n "$mpps" ] && [ -n "$processed" ] && [ -n "$elapsed" ] || return 1
	RES=$(printf '%.4f %s %.3f %s' "$mpps" "$processed" "$elapsed" "$(stage_figures "$line")")
}

# Weir's sampled TSC cycles per packet in rx, parse, window, tx and all
# stages ("stage_cycles" of its stats; - where absent). The machines here
# change speed from one run to the next, and every stage with it: the share
# of parse + window in the total holds where Mpps drift, so it is the figure
# to compare builds by, and (rx + tx) / total is the ratio weir would reach
# if testpmd's loop cost what weir's rx and free do.
stage_figures() { # stats line
	local f out=
	for f in rx parse window tx total; do
		local v
		v=$(sed -n "s/.*\"stage_cycles\":{[^}]*\"per_packet\":{[^}]*\"$f\":\([0-9.e+-]*\).*/\1/p" <<< "$1")
		out+="${v:--} "
	done
	echo "${out% }"
}

# ---- the rounds -------------------------------------------------------------------
describe_run lib app pmd-config   # STAMP, CSV, MACHINE, COMMIT
echo "date,machine,commit,weir,round,tool,mpps,packets,seconds,rx_cycles,parse_cycles,window_cycles,tx_cycles,total_cycles" > "$CSV"

echo "bench-rx: $(basename "$PCAP") cut to $SNAPLEN B ($RECORDS records), weir=$WEIR"
echo "bench-rx: warm-up + $ROUNDS rounds of ${DURATION}s, A=testpmd B=weir; load average $(load_average)"
# One measured run: its CSV row and its line on screen; leaves its rate in mpps.
report_run() { # label tool mpps packets seconds [rx parse window tx total cycles]
	mpps=$3
	local cyc="${6:-} ${7:-} ${8:-} ${9:-} ${10:-}"
	echo "$STAMP,$MACHINE,$COMMIT,$WEIR,$1,$2,$3,$4,$5,$(tr ' ' ',' <<< "$cyc")" >> "$CSV"
	if [ -n "${10:-}" ] && [ "${10}" != - ]; then
		printf '  round %-6s %-7s %8.3f Mpps  cycles/packet: rx %s parse %s window %s total %s\n' \
			"$1" "$2" "$mpps" "$6" "$7" "$8" "${10}"
	else
		printf '  round %-6s %-7s %8.3f Mpps\n' "$1" "$2" "$mpps"
	fi
}
tp_rates=() weir_rates=() work_shares=() rx_shares=()
round_testpmd() {
	testpmd_rxonly "$secs" "$TMP/testpmd-$r.log" "$TP_DEVARGS" "$TP_MBUFS" || {
		tail -20 "$TMP/testpmd-$r.log" >&2
		die "testpmd round $label failed (log above)"
	}
	read -r m _ s p <<< "$RES"   # mpps gbps seconds packets
	report_run "$label" testpmd "$m" "$p" "$s"
	[ "$r" -gt 0 ] && tp_rates+=("$mpps")
}
round_weir() {
	run_weir "$secs" "$TMP/weir-$r.jsonl" "$TMP/weir-$r.log" || {
		tail -20 "$TMP/weir-$r.log" >&2
		die "weir round $label failed (log above)"
	}
	read -r m p s c_rx c_parse c_window c_tx c_total <<< "$RES"   # mpps processed elapsed_s cycles
	report_run "$label" weir "$m" "$p" "$s" "$c_rx" "$c_parse" "$c_window" "$c_tx" "$c_total"
	[ "$r" -gt 0 ] && weir_rates+=("$mpps")
	if [ "$r" -gt 0 ] && [ "$c_total" != - ] && [ "$c_window" != - ]; then
		work_shares+=("$(awk -v p="$c_parse" -v w="$c_window" -v t="$c_total" 'BEGIN {printf "%.4f", (p + w) / t}')")
		rx_shares+=("$(awk -v r="$c_rx" -v x="$c_tx" -v t="$c_total" 'BEGIN {printf "%.4f", (r + x) / t}')")
	fi
}
# A B, then B A, A B, ...: the second run of a pair was measured ~5 % faster whichever
# tool it was (perf/README.md), so each goes second in half the rounds.
for ((r = 0; r <= ROUNDS; r++)); do
	secs=$DURATION label=$r
	[ "$r" -eq 0 ] && { secs=$WARMUP; label=warmup; }
	if ((r % 2 == 0)); then
		round_testpmd
		round_weir
	else
		round_weir
		round_testpmd
	fi
done

best() { printf '%s\n' "$@" | sort -g | tail -1; }
tp=$(median "${tp_rates[@]}")
wr=$(median "${weir_rates[@]}")
ratio=$(ratio "$wr" "$tp")
# Best of the rounds: what each reached when nothing else held the CPUs back.
tp_best=$(best "${tp_rates[@]}")
wr_best=$(best "${weir_rates[@]}")

append_summary "date,machine,commit,weir,rounds,seconds,testpmd_mpps,weir_mpps,ratio" \
	"$STAMP,$MACHINE,$COMMIT,$WEIR,$ROUNDS,$DURATION,$tp,$wr,$ratio"

echo
printf '| %-22s | %-12s | %-12s | %-14s |\n' "date (UTC)" "testpmd Mpps" "weir Mpps" "weir/testpmd"
printf '|%s|%s|%s|%s|\n' "------------------------" "--------------" "--------------" "----------------"
printf '| %-22s | %12.3f | %12.3f | %14s |\n' "$STAMP" "$tp" "$wr" "${ratio}x"
printf '| %-22s | %12.3f | %12.3f | %14s |\n' "  (best of $ROUNDS)" "$tp_best" "$wr_best" "$(ratio "$wr_best" "$tp_best")x"
if [ ${#work_shares[@]} -gt 0 ]; then
	printf 'weir parse + window: %.1f %% of its cycles; (rx + tx) / total: %.3f (medians of the rounds)\n' \
		"$(awk -v s="$(median "${work_shares[@]}")" 'BEGIN {print 100 * s}')" "$(median "${rx_shares[@]}")"
fi
echo "machine: $MACHINE; tree at $COMMIT; weir: $WEIR; load average now $(load_average)"
echo "medians of $ROUNDS rounds of ${DURATION}s; every run: $CSV"
if [ -n "$MIN_RATIO" ] && awk -v r="$ratio" -v m="$MIN_RATIO" 'BEGIN {exit !(r < m)}'; then
	echo "bench-rx: weir/testpmd $ratio is below $MIN_RATIO"
	exit 1
fi
exit 0
