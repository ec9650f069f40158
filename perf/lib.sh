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
		die "no weir binary: build one (cd $ROOT && meson setup build-perf --buildtype=release -Db_lto=true && ninja -C build-perf) or give --weir"
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

# ---- runs and neighbours -----------------------------------------------------------------
# run_bg runs a command in the background (so the trap can stop it by PID) and waits for
# it, with a wall-clock limit; its status in WAIT_RC. Around each run: the CPU time every
# process of the machine used (/proc/stat, steal included) minus the CPU time of the run
# itself (bash's `times` for reaped children) = what other work took while we measured, in
# CPUs (OTHERS). These are 2-core VMs shared with other work: a busy neighbour halves a
# run's rate, so the scripts do not count rounds where neighbours took more than they allow.
TCK=$(getconf CLK_TCK 2> /dev/null || echo 100)
SNAP_BUSY=0 SNAP_CHILD=0 SNAP_T=0 OTHERS=0
cpu_snap() {
	local u n sy irq sirq steal line
	read -r _ u n sy _ _ irq sirq steal _ < /proc/stat
	SNAP_BUSY=$((u + n + sy + irq + sirq + steal))
	times > "$TMP/times"   # second line: children's user and system time
	{ read -r line; read -r line; } < "$TMP/times"
	SNAP_CHILD=$line
	SNAP_T=$(date +%s.%N)
}
others_since() { # busy0 child0 t0: sets OTHERS
	local b0=$1 c0=$2 t0=$3
	cpu_snap
	OTHERS=$(awk -v b="$((SNAP_BUSY - b0))" -v tck="$TCK" -v c0="$c0" -v c1="$SNAP_CHILD" \
		-v t0="$t0" -v t1="$SNAP_T" '
		function sec(s,   n, a, m) { n = split(s, a, " "); m = 0
			for (i = 1; i <= n; i++) { split(a[i], x, "m"); sub(/s$/, "", x[2]); m += x[1] * 60 + x[2] }
			return m }
		BEGIN { w = t1 - t0; o = b / tck - (sec(c1) - sec(c0)); if (o < 0) o = 0
			printf "%.2f", (w > 0 ? o / w : 0) }')
}

WAIT_RC=0
run_bg() { # limit_s log cmd...
	local limit=$1 log=$2 t0 b0 c0 w0
	shift 2
	cpu_snap
	b0=$SNAP_BUSY c0=$SNAP_CHILD w0=$SNAP_T
	"$@" < /dev/null > "$log" 2>&1 &
	CHILD=$!
	t0=$SECONDS
	WAIT_RC=
	while kill -0 "$CHILD" 2> /dev/null; do
		if [ $((SECONDS - t0)) -ge "$limit" ]; then
			echo "$BENCH: $(basename "$1") overran ${limit}s, stopping it" >&2
			stop_child "$CHILD"
			WAIT_RC=124
			break
		fi
		sleep 0.2
	done
	if [ -z "$WAIT_RC" ]; then
		wait "$CHILD" 2> /dev/null
		WAIT_RC=$?
	fi
	CHILD=
	others_since "$b0" "$c0" "$w0"
}
# A DPDK process a script starts itself (testpmd) gets --file-prefix "$EAL_PREFIX": its
# runtime folder, removed here, is its own and not the default "rte" one.
EAL_PREFIX=weir-perf-$$
cleanup() {
	[ -n "$CHILD" ] && stop_child "$CHILD"
	rm -rf "$TMP" "/var/run/dpdk/$EAL_PREFIX"
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
# totals_config FILE CACHE_DIR: one cheap query (a global packet count) and the
# compiled-database cache in CACHE_DIR: the config of the matching benchmarks.
totals_config() {
	cat > "$1" << Y
queries:
  - name: totals
    group_by: []
    window: {type: tumbling, size: 60s}
    aggregates: [packets]
rules_cache: $2
Y
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
# The median of the rounds: one slow round (a busy neighbour) does not move it.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# a / b to 3 decimals; 0 when b is 0 (a run that measured nothing).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'; }

# ---- shared by perf/report (and available to the other scripts) -----------------------
# testpmd_rxonly SECONDS LOG DEVARGS MBUFS: dpdk-testpmd --forward-mode=rxonly with one
# forwarding core (-l 0,1) on the vdev DEVARGS, as bench-rx's run A: Rx-pps and Rx-bps are
# printed once a second ("since last show"; the first print is 0); it is stopped (SIGINT,
# by PID) after SECONDS + 2 prints and the last SECONDS are averaged, so EAL start-up, the
# preload and the first second are left out. RES="mpps gbps seconds packets" (packets: the
# sum of those SECONDS Rx-pps prints, what was received in them); OTHERS as run_bg.
# Needs TESTPMD (default dpdk-testpmd), TMP, EAL_PREFIX. Used by bench-rx (its run A) and
# perf/report. Not printed: a $(...) subshell would hide the child's PID from the trap.
testpmd_rxonly() { # seconds log devargs mbufs
	local secs=$1 log=$2 devargs=$3 mbufs=$4 need=$(($1 + 2)) t0 b0 c0 w0
	cpu_snap
	b0=$SNAP_BUSY c0=$SNAP_CHILD w0=$SNAP_T
	: > "$log"   # exists before the loop greps it (the child opens it later)
	"${TESTPMD:-dpdk-testpmd}" -l 0,1 --no-pci --in-memory --file-prefix "$EAL_PREFIX" --no-telemetry \
		--log-level=lib.eal:error --vdev "$devargs" -- \
		--forward-mode=rxonly --stats-period=1 --total-num-mbufs="$mbufs" \
		< /dev/null > "$log" 2>&1 &
	CHILD=$!
	t0=$SECONDS
	while kill -0 "$CHILD" 2> /dev/null && [ "$(grep -c 'Rx-pps:' "$log")" -lt "$need" ]; do
		[ $((SECONDS - t0)) -lt $((need + 60)) ] || break
		sleep 0.2
	done
	stop_child "$CHILD"
	CHILD=
	others_since "$b0" "$c0" "$w0"
	RES=$(grep 'Rx-pps:' "$log" | awk -v need="$need" -v n="$secs" '
		{ p[NR] = $2; b[NR] = ($3 == "Rx-bps:") ? $4 : 0 }
		END {
			if (NR < need) exit 1
			for (i = NR - n + 1; i <= NR; i++) { sp += p[i]; sb += b[i] }
			printf "%.4f %.4f %d %.0f\n", sp / n / 1e6, sb / n / 1e9, n, sp
		}')
}

# testpmd_mbufs RECORDS: the pool testpmd needs to preload a capture of RECORDS records
# with infinite_rx, plus rx ring, per-lcore caches and bursts (bench-rx and perf/report).
testpmd_mbufs() { echo $((($1 + 1024 + 2 * 512 + 4096 + 8191) / 8192 * 8192)); }

# weir_stats FILE: one line from the last {"type":"stats"} record of a weir output file:
#   processed elapsed_s mpps gbps scanned payload_mpps payload_gbps stream_gbps tsc_hz stages
# gbps = captured bytes x 8 / elapsed_s; scanned etc. from "inspect" (0 without rules);
# tsc_hz and stages (name=cycles,...; "-" when absent) from "stage_cycles" when the build
# has it (tsc_hz 0 otherwise). Exit status 1 when there is no stats record.
weir_stats() { # file
	python3 - "$1" << 'PY'
import json, sys
st = None
for line in open(sys.argv[1]):
    if line.startswith('{"type":"stats"'):
        st = json.loads(line)
if st is None:
    sys.exit(1)
el = st.get("elapsed_s", 0) or 0
ins = st.get("inspect", {}) or {}
sc = st.get("stage_cycles") or {}
pp = sc.get("per_packet") or {}
f = lambda v: v / el if el > 0 else 0
print("%d %.6f %.4f %.4f %d %.4f %.4f %.4f %d %s" % (
    st["processed"], el, f(st["processed"]) / 1e6, f(st.get("bytes", 0)) * 8 / 1e9,
    ins.get("scanned", 0), f(ins.get("scanned", 0)) / 1e6, f(ins.get("scanned_bytes", 0)) * 8 / 1e9,
    f(ins.get("stream_bytes", 0)) * 8 / 1e9, sc.get("tsc_hz", 0),
    ",".join("%s=%.1f" % kv for kv in pp.items()) or "-"))
PY
}

# patterns_to_stream_rules IN OUT: a Hyperscan ID:/regex/flags file as a native rules YAML
# with every pattern in stream mode (i m s H V 8 W L -> nocase multiline dotall singlematch
# allowempty utf8 ucp som_leftmost), as bench-match.sh's run C writes it.
patterns_to_stream_rules() { # in out
	awk -v bench="$BENCH" '
BEGIN { print "# generated by perf/lib.sh patterns_to_stream_rules: every pattern in stream mode"; print "rules:" }
/^[ \t]*(#|$)/ { next }
{
	line = $0
	sub(/\r$/, "", line)
	c = index(line, ":")
	if (c < 2 || substr(line, c + 1, 1) != "/") { printf "%s: line %d is not ID:/regex/flags\n", bench, NR > "/dev/stderr"; bad = 1; exit 1 }
	id = substr(line, 1, c - 1); rest = substr(line, c + 1)
	n = length(rest)
	while (n > 1 && substr(rest, n, 1) != "/") n--
	re = substr(rest, 2, n - 2); fl = substr(rest, n + 1)
	gsub(/\047/, "\047\047", re)
	f = ""
	for (i = 1; i <= length(fl); i++) {
		ch = substr(fl, i, 1)
		name = ch == "i" ? "nocase" : ch == "m" ? "multiline" : ch == "s" ? "dotall" : \
		       ch == "H" ? "singlematch" : ch == "V" ? "allowempty" : ch == "8" ? "utf8" : \
		       ch == "W" ? "ucp" : ch == "L" ? "som_leftmost" : ""
		if (name == "") { printf "%s: id %s: unknown flag %s\n", bench, id, ch > "/dev/stderr"; bad = 1; exit 1 }
		f = f (f == "" ? "" : ", ") name
	}
	printf "  - id: %s\n    pattern: \047%s\047\n", id, re
	if (f != "") printf "    flags: [%s]\n", f
	print "    mode: stream"
}
END { exit bad }' "$1" > "$2"
}

# The TSC frequency for cycles = seconds x tsc_hz when weir's stats record has no
# stage_cycles (older builds): the kernel's calibrated TSC, else the CPU's MHz.
tsc_hz_guess() {
	local mhz
	mhz=$(dmesg 2> /dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' | tail -1)
	[ -n "$mhz" ] || mhz=$(sed -n 's/^cpu MHz[^:]*: *//p' /proc/cpuinfo | head -1)
	awk -v m="${mhz:-0}" 'BEGIN {printf "%.0f", m * 1e6}'
}
