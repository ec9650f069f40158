# perf/lib.sh: what perf/bench-rx.sh and perf/bench-match.sh share; sourced, not run.
# A script sets BENCH (its name: the prefix of its messages and files) and ROOT (the
# repository), then `. "$ROOT/perf/lib.sh"`. The functions read and set the scripts'
# globals (ROUNDS, PCAP, WEIR, TMP, CHILD, ...), as the scripts did before they shared them.
# shellcheck shell=bash disable=SC2034 # globals set here are read by the scripts

# Messages name the script, so that a log of several benchmarks says which one spoke.
die() { echo "$BENCH: $*" >&2; exit 1; }
# A machine without the benchmark's inputs is normal (most are), not a failure: exit 0.
skip() { echo "$BENCH: SKIP: $*"; exit 0; }
# Option values are checked before anything starts, so a typo fails at once, not mid-run.
is_num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

# The defaults of the options both scripts take: the same capture, cut the same way,
# for the same rounds and seconds, so that their figures can be set side by side.
set_common_defaults() {
	DATA=${WEIR_SHARED_DATA:-$ROOT/../shared/data}
	PCAP=$DATA/pcaps/ndpi-mix.pcap
	ROUNDS=3
	DURATION=5
	WARMUP=2
	SNAPLEN=2048
	MIN_RATIO=
	RESULTS=$ROOT/perf/results
	WEIR=${WEIR_BIN:-}
}

# The options both scripts take, with the same meaning, parsed in one place so they
# cannot drift apart. Returns 1 for any other option (the script's own, or unknown).
take_common_option() { # option value
	case $1 in
	--rounds) ROUNDS=$2 ;;
	--duration) DURATION=$2 ;;
	--pcap) PCAP=$2 ;;
	--weir) WEIR=$2 ;;
	--results) RESULTS=$2 ;;
	--min-ratio) MIN_RATIO=$2 ;;
	*) return 1 ;;
	esac
}

# Checked the same way in both, so a bad value fails with the same words.
check_common_options() {
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: '$ROUNDS' is not a positive integer"
	[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "--duration: '$DURATION' is not a whole number of seconds >= 1"
	[ -z "$MIN_RATIO" ] || is_num "$MIN_RATIO" || die "--min-ratio: '$MIN_RATIO' is not a number"
}

# The shared data (DATA) lives outside the repository, on developer and CI machines
# only: without it, skip; unless --pcap named a capture, which must then be readable.
require_capture() {
	[ -d "$DATA" ] || [ "$PCAP" != "$DATA/pcaps/ndpi-mix.pcap" ] ||
		skip "$DATA is absent (the shared benchmark data is only on developer and CI machines)"
	[ -r "$PCAP" ] || skip "$PCAP is absent or unreadable"
}

# The weir measured: --weir or $WEIR_BIN, else the release build (build-perf), else the
# debug one (build). Dies when there is none: the figures of no binary mean nothing.
find_weir() {
	local b
	if [ -z "$WEIR" ]; then
		for b in "$ROOT/build-perf/app/weir" "$ROOT/build/app/weir"; do
			[ -x "$b" ] && { WEIR=$b; break; }
		done
	fi
	[ -n "$WEIR" ] && [ -x "$WEIR" ] ||
		die "no weir binary: build one (cd $ROOT && meson setup build-perf --buildtype=release && ninja -C build-perf) or give --weir"
}

# Only a warning: the EAL may still get hugepages without root, and require_hugepages
# says so plainly when it cannot.
warn_unless_root() {
	[ "$(id -u)" = 0 ] || echo "$BENCH: warning: not root; the EAL may fail to use hugepages" >&2
}

# Without enough free hugepages the DPDK processes fall back to --no-huge, which is
# about 2x slower and not the figure these benchmarks are about: refuse to measure.
require_hugepages() { # MiB
	local huge_free_mb
	huge_free_mb=$(awk '/^HugePages_Free:/ {f=$2} /^Hugepagesize:/ {s=$2} END {print int(f*s/1024)}' /proc/meminfo)
	[ "${huge_free_mb:-0}" -ge "$1" ] ||
		die "only ${huge_free_mb:-0} MiB of free hugepages, $1 needed (as root: echo $1 > /proc/sys/vm/nr_hugepages)"
}

# ---- clean-up: everything we start is stopped by its PID ---------------------------
# Never by name: other DPDK processes (other benchmarks, tests) may share the machine.
# The script keeps the PID of its one running child in CHILD; TMP is its scratch folder.
stop_child() { # SIGINT, then SIGKILL after 15 s; always reaped
	local pid=$1 i
	kill -0 "$pid" 2> /dev/null || { wait "$pid" 2> /dev/null; return; }
	kill -INT "$pid" 2> /dev/null
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2> /dev/null && { echo "$BENCH: pid $pid ignores SIGINT, killing it" >&2; kill -KILL "$pid"; }
	wait "$pid" 2> /dev/null
}
cleanup() {
	[ -n "$CHILD" ] && stop_child "$CHILD"
	rm -rf "$TMP"
}
# Makes TMP and sets the traps, so that however the script ends (done, die, Ctrl-C)
# its child is stopped and TMP removed.
start_cleanup() {
	TMP=$(mktemp -d "/tmp/weir-$BENCH.XXXXXX")
	CHILD=
	trap cleanup EXIT
	trap 'echo "$BENCH: interrupted" >&2; exit 130' INT TERM
}

# ---- the replay: records cut to SNAPLEN (infinite_rx refuses records over 2,048 bytes)
# Sets CUT (the cut copy of PCAP, in TMP) and RECORDS (its record count, or the
# fallback given when capinfos cannot count them).
cut_capture() { # fallback_records
	CUT=$TMP/cut.pcap
	editcap -s "$SNAPLEN" "$PCAP" "$CUT" || die "editcap failed on $PCAP"
	RECORDS=$(capinfos -M -c "$CUT" 2> /dev/null | awk -F': *' '/Number of packets/ {print $2+0}')
	[[ ${RECORDS:-} =~ ^[0-9]+$ ]] && [ "$RECORDS" -gt 0 ] || RECORDS=$1
}

# weir adds --no-pci and --in-memory (or --file-prefix with --no-huge) to its EAL
# arguments itself; its WEIR_DEBUG_EAL=1 log shows them. Check, so that no run can touch
# the machine's NICs or another DPDK process's hugepage files unnoticed.
check_weir_eal_args() { # log
	grep -q -- '--no-pci' "$1" && grep -Eq -- '--in-memory|--file-prefix' "$1" ||
		{ echo "$BENCH: weir's EAL arguments lack --no-pci/--in-memory:" >&2; head -3 "$1" >&2; return 1; }
}

# ---- CSV writing ---------------------------------------------------------------------
# Every CSV row says when (STAMP), where (MACHINE) and on what tree (COMMIT, "+dirty"
# when the given paths have uncommitted changes) it was measured, so that results of
# several machines and trees can sit in one folder. Also makes RESULTS and names CSV,
# the file of every run.
describe_run() { # paths that make the tree "+dirty"
	mkdir -p "$RESULTS" || die "cannot create $RESULTS"
	STAMP=$(date -u +%Y%m%dT%H%M%SZ)
	CSV=$RESULTS/$BENCH-$STAMP.csv
	MACHINE=$(echo "$(hostname -s) $(nproc)cpu $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" | tr ',' ';')
	COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)
	git -C "$ROOT" diff --quiet HEAD -- "$@" 2> /dev/null || COMMIT="$COMMIT+dirty"
}

# One line a run in RESULTS/BENCH-summary.csv (the header when the file is new), for
# following a machine's figures over time.
append_summary() { # header row
	SUMMARY=$RESULTS/$BENCH-summary.csv
	[ -s "$SUMMARY" ] || echo "$1" > "$SUMMARY"
	echo "$2" >> "$SUMMARY"
}

# ---- figures -------------------------------------------------------------------------
# Printed before and after the runs: a high load average explains a slow, noisy round.
load_average() { cut -d' ' -f1-3 /proc/loadavg; }
# The median of the rounds: one slow round (a busy neighbour) does not move it.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# a / b to 3 decimals; 0 when b is 0 (a run that measured nothing).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'; }
