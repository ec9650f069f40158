#!/usr/bin/env bash
# perf/ipp.sh: instructions per packet of weir's worker lcore, counted by callgrind on fixed
# inputs: a regression metric that does not move with the machine's load. See perf/README.md,
# "ipp.sh: instructions per packet (callgrind)".
#
#   perf/ipp.sh [--weir BIN] [--scenario NAME]... [--k K] [--runs R] [--top N]
#               [--check] [--update] [--budget FILE] [--budget-scale X] [--margin PCT]
#               [--results DIR] [--from CSV] [--list]
#
# Exit status: 0 measured (and within budget with --check), 1 a scenario rose above its
# budget (--check) or the measurement failed, 2 bad usage.
set -uo pipefail
BENCH=ipp
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/perf/lib.sh"

SCENARIOS_ALL=(parse+hostpairs default rules ndpi-mix ndpi-parse ndpi-q10)
usage() {
	cat << EOF
usage: perf/ipp.sh [options]
  --weir BIN         weir binary (default \$WEIR_BIN, else build-ipp/app/weir, else
                     build-perf/app/weir); valgrind must be able to run it: build it with
                     -Dmarch=x86-64-v3 on machines with AVX-512 (make ipp-build)
  --scenario NAME    measure only NAME (repeatable): ${SCENARIOS_ALL[*]}
  --k K              the input is run once and K times (default 3); ipp = (Ir(K) - Ir(1)) / ((K-1) * packets)
  --runs R           measure each scenario R times (default 1) and print the spread
  --top N            top N functions by self and inclusive instructions per packet (default 10, 0: none)
  --check            exit 1 when a scenario's ipp is above its budget
  --budget FILE      the budget file (default perf/ipp-budget.txt)
  --budget-scale X   multiply every budget by X (e.g. 0.5: check that --check fails)
  --update           rewrite the budget file: budget = measured ipp x (1 + margin)
  --margin PCT       margin of --update, in percent (default 5)
  --results DIR      where the CSV of the run goes (default perf/results)
  --from CSV         no measurement: take the figures of an earlier run's CSV (perf/results/ipp-*.csv)
                     for --check / --update
  --list             list the scenarios and exit
EOF
}

set_common_defaults
K=3
RUNS=1
TOP=10
CHECK=0
UPDATE=0
BUDGET=$ROOT/perf/ipp-budget.txt
SCALE=1
MARGIN=5
SCENARIOS=()
FROM=
NDPI_RECORDS=20000
SAMPLE=$ROOT/tests/data/sample.pcap
# Enough DPDK memory for the ten queries of ndpi-q10 (max_keys 65536 each) and the flow table;
# --no-huge: valgrind cannot follow hugepage mappings, --no-shconf: no shared config file.
EAL_ARGS="--no-huge -m 1024 --no-shconf"

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--list) printf '%s\n' "${SCENARIOS_ALL[@]}"; exit 0 ;;
	--check) CHECK=1; shift; continue ;;
	--update) UPDATE=1; shift; continue ;;
	esac
	[ $# -ge 2 ] || { echo "ipp: $1 needs a value (or is unknown; see --help)" >&2; exit 2; }
	case $1 in
	--weir | --results) take_common_option "$1" "$2" ;;
	--scenario) SCENARIOS+=("$2") ;;
	--k) K=$2 ;;
	--runs) ROUNDS=$2; RUNS=$2 ;;
	--top) TOP=$2 ;;
	--budget) BUDGET=$2 ;;
	--budget-scale) SCALE=$2 ;;
	--margin) MARGIN=$2 ;;
	--from) FROM=$2 ;;
	*) echo "ipp: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift 2
done
bad() { echo "ipp: $*" >&2; exit 2; }
[[ $K =~ ^[0-9]+$ ]] && [ "$K" -ge 2 ] || bad "--k: '$K' is not an integer >= 2"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bad "--runs: '$RUNS' is not a positive integer"
[[ $TOP =~ ^[0-9]+$ ]] || bad "--top: '$TOP' is not a whole number"
is_num "$SCALE" || bad "--budget-scale: '$SCALE' is not a number"
is_num "$MARGIN" || bad "--margin: '$MARGIN' is not a number"
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${SCENARIOS_ALL[@]}")
for s in "${SCENARIOS[@]}"; do
	[[ " ${SCENARIOS_ALL[*]} " == *" $s "* ]] || bad "--scenario: unknown '$s' (known: ${SCENARIOS_ALL[*]})"
done
[ "$CHECK" = 0 ] || [ -r "$BUDGET" ] || bad "--check: no budget file $BUDGET (make one with --update)"
[ -z "$FROM" ] || [ -r "$FROM" ] || bad "--from: cannot read $FROM"
start_cleanup
declare -A IPP SPREAD
MEASURED=()

# --from CSV: the medians per scenario of an earlier run, and its description for --update.
if [ -n "$FROM" ]; then
	while read -r sc med pct desc; do
		[[ " ${SCENARIOS[*]} " == *" $sc "* ]] || continue
		IPP[$sc]=$med SPREAD[$sc]=$pct
		MEASURED+=("$sc")
		echo "ipp: $sc $med instructions/packet (from $FROM, spread $pct %)"
		IFS='|' read -r COMMIT MACHINE BUILD_DESC VG_VERSION K RUNS CC_VERSION <<< "$desc"
	done < <(python3 - "$FROM" << 'PY'
import csv, sys
rows = {}
for r in csv.DictReader(open(sys.argv[1])):
    rows.setdefault(r["scenario"], []).append(r)
for sc, rs in rows.items():
    v = sorted(float(r["ipp"]) for r in rs)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    pct = 100.0 * (v[-1] - v[0]) / med if med else 0.0
    r = rs[0]
    desc = "|".join([r["commit"], r["machine"], r["build"], r["valgrind"], r["k"], str(n), r.get("gcc", "?")])
    print(sc, f"{med:.2f}", f"{pct:.4f}", desc)
PY
	)
	[ ${#MEASURED[@]} -gt 0 ] || die "--from $FROM: no figures for ${SCENARIOS[*]}"
else

command -v valgrind > /dev/null && command -v callgrind_annotate > /dev/null ||
	die "valgrind is not installed (apt-get install valgrind)"
[ -n "$WEIR" ] || { [ -x "$ROOT/build-ipp/app/weir" ] && WEIR=$ROOT/build-ipp/app/weir; }
find_weir
WEIR=$(cd "$(dirname "$WEIR")" && pwd)/$(basename "$WEIR")
[ -r "$SAMPLE" ] || die "the bundled capture $SAMPLE is missing"

describe_run app lib
# The commit is that of the tree the binary was built from (meson-info names it), which need
# not be this one (a clean checkout of HEAD, to measure a budget while this tree has changes).
BDIR=$(dirname "$(dirname "$WEIR")")
SRCDIR=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
	"$BDIR/meson-info/meson-info.json" 2> /dev/null || echo "$ROOT")
if [ "$SRCDIR" != "$ROOT" ]; then
	COMMIT=$(git -C "$SRCDIR" rev-parse --short HEAD 2> /dev/null || echo unknown)
	git -C "$SRCDIR" diff --quiet HEAD -- app lib 2> /dev/null || COMMIT="$COMMIT+dirty"
	COMMIT="$COMMIT ($SRCDIR)"
fi
VG_VERSION=$(valgrind --version)
# The build the figures belong to: meson's buildtype and march of the binary's build folder.
BUILD_DESC=$(meson introspect "$BDIR" --buildoptions 2> /dev/null | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o.get("buildtype"), "-march=" + str(o.get("march")))' 2> /dev/null || echo "unknown build")
CC_VERSION=$(cc -dumpfullversion 2> /dev/null || echo '?')

echo "ipp: weir $WEIR ($BUILD_DESC, gcc $CC_VERSION), $VG_VERSION, commit $COMMIT, k=$K, runs=$RUNS"
echo "ipp: $MACHINE"

# ---- inputs ------------------------------------------------------------------------------
# Each scenario: its capture (SRC), the records used (MAXREC, empty: all), its config (CONF,
# empty: the built-in queries) and extra weir arguments.
cat > "$TMP/hostpairs.yaml" << 'Y'
queries:
  - name: hostpairs
    group_by: [src_ip, dst_ip, proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
Y
echo "queries: []" > "$TMP/parse-only.yaml"
# Leaving queries: out keeps the three built-in ones (hostpairs, protocols, totals).
echo "rules_cache: $TMP/rules-cache" > "$TMP/rules.yaml"

setup_scenario() { # name -> SRC MAXREC CONF EXTRA (array); returns 1 to skip
	MAXREC= CONF= EXTRA=()
	case $1 in
	parse+hostpairs) SRC=$SAMPLE CONF=$TMP/hostpairs.yaml ;;
	default) SRC=$SAMPLE ;;
	rules) SRC=$SAMPLE CONF=$TMP/rules.yaml EXTRA=(--rules "$ROOT/rules/basic.rules") ;;
	ndpi-mix)
		SRC=$DATA/pcaps/ndpi-mix.pcap MAXREC=$NDPI_RECORDS
		[ -r "$SRC" ] || { echo "ipp: $1: SKIP: $SRC is absent (../shared/data is only on developer and CI machines)"; return 1; }
		;;
	ndpi-parse | ndpi-q10) # perf/bench-queries.sh's P and Q10 on ndpi-mix: issue 4's ratio in instructions
		SRC=$DATA/pcaps/ndpi-mix.pcap MAXREC=$NDPI_RECORDS CONF=$TMP/parse-only.yaml
		[ "$1" = ndpi-q10 ] && CONF=$ROOT/perf/queries/q10.yaml
		[ -r "$SRC" ] || { echo "ipp: $1: SKIP: $SRC is absent (../shared/data is only on developer and CI machines)"; return 1; }
		;;
	esac
	return 0
}

# make_inputs name: TMP/name-1.pcap and TMP/name-K.pcap; PACKETS = records in one copy.
make_inputs() {
	local out max=()
	[ -n "$MAXREC" ] && max=(--max "$MAXREC")
	out=$(python3 "$ROOT/perf/ipp-pcap.py" "$SRC" "$TMP/$1-1.pcap" 1 "${max[@]}") || die "$1: cannot read $SRC"
	python3 "$ROOT/perf/ipp-pcap.py" "$SRC" "$TMP/$1-$K.pcap" "$K" "${max[@]}" > /dev/null || die "$1: cannot write the $K copies"
	PACKETS=${out%% *}
}

# callgrind_run name copies run: weir under callgrind, collecting on the worker lcore only
# (--toggle-collect=worker_main: the main lcore polls and merges on a timing that valgrind's
# thread scheduling decides, so its counts vary run to run; the worker's do not). LD_BIND_NOW
# resolves every symbol at start-up, so no lazy binding lands in the worker by chance.
callgrind_run() {
	local name=$1 n=$2 run=$3 tag=$1-$2-$3 conf=()
	[ -n "$CONF" ] && conf=(--config "$CONF")
	CG=$TMP/cg.$tag
	rm -f "$CG" "$TMP/$tag.jsonl"
	run_bg 900 "$TMP/$tag.log" env LD_BIND_NOW=1 WEIR_DEBUG_EAL=1 \
		valgrind --tool=callgrind --callgrind-out-file="$CG" --collect-atstart=no \
		--toggle-collect=worker_main "$WEIR" run "${conf[@]}" --pcap "$TMP/$name-$n.pcap" \
		--workers 1 --out "$TMP/$tag.jsonl" --no-summary --eal "$EAL_ARGS" "${EXTRA[@]}"
	if grep -q 'Process terminating with default action of signal 4 (SIGILL)' "$TMP/$tag.log"; then
		grep -m1 -A1 'Illegal opcode' "$TMP/$tag.log" >&2
		die "$WEIR uses instructions valgrind cannot run (AVX-512 from -march=native?): build one with -Dmarch=x86-64-v3 (make ipp-build) and give --weir build-ipp/app/weir"
	fi
	[ "$WAIT_RC" = 0 ] || { tail -5 "$TMP/$tag.log" >&2; die "$name: weir under valgrind exited $WAIT_RC"; }
	check_weir_eal_args "$TMP/$tag.log" || die "$name: unexpected EAL arguments"
	# every record read and accounted for, or the count means nothing
	python3 - "$TMP/$tag.jsonl" "$((n * PACKETS))" << 'PY' || die "$name: weir did not process every packet (see $TMP/$tag.jsonl)"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"type":"stats"' in l]
assert len(s) == 1, "no stats record"
s = s[0]
assert s["rx"] == int(sys.argv[2]), (s["rx"], sys.argv[2])
assert s["rx"] == s["processed"] + sum(s["dropped"].values())
PY
}

# ---- measure -----------------------------------------------------------------------------
echo "date,machine,commit,weir,build,gcc,valgrind,scenario,packets,k,run,ir_1,ir_k,ipp,weir_ipp,dpdk_ipp,libpcap_ipp,libc_ipp,other_ipp,process_ipp" > "$CSV"
for sc in "${SCENARIOS[@]}"; do
	setup_scenario "$sc" || continue
	make_inputs "$sc"
	vals=()
	for ((r = 1; r <= RUNS; r++)); do
		t0=$SECONDS
		callgrind_run "$sc" 1 "$r"
		cg1=$CG
		callgrind_run "$sc" "$K" "$r"
		top=0
		[ "$r" = 1 ] && top=$TOP
		python3 "$ROOT/perf/ipp-calc.py" measure "$cg1" "$CG" "$PACKETS" "$K" "$top" > "$TMP/calc" ||
			die "$sc: cannot read the callgrind output"
		line=$(head -1 "$TMP/calc")
		declare -A f=()
		for kv in $line; do f[${kv%%=*}]=${kv#*=}; done
		vals+=("${f[ipp]}")
		printf 'ipp: %-16s %10.2f instructions/packet  (run %d: %d packets, Ir(1)=%s Ir(%d)=%s; weir %s, dpdk %s, libpcap %s, libc %s, other %s; after rx %s; %ds)\n' \
			"$sc" "${f[ipp]}" "$r" "$PACKETS" "${f[ir1]}" "$K" "${f[irk]}" "${f[weir]}" "${f[dpdk]}" \
			"${f[libpcap]}" "${f[libc]}" "${f[other]}" "${f[process]:-?}" $((SECONDS - t0))
		[ "$top" -gt 0 ] && tail -n +2 "$TMP/calc"
		echo "$STAMP,$MACHINE,$COMMIT,$WEIR,$BUILD_DESC,$CC_VERSION,$VG_VERSION,$sc,$PACKETS,$K,$r,${f[ir1]},${f[irk]},${f[ipp]},${f[weir]},${f[dpdk]},${f[libpcap]},${f[libc]},${f[other]},${f[process]}" >> "$CSV"
		unset f
	done
	read -r med lo hi pct <<< "$(python3 "$ROOT/perf/ipp-calc.py" spread "${vals[@]}")"
	IPP[$sc]=$med
	SPREAD[$sc]=$pct
	[ "$RUNS" -gt 1 ] && echo "ipp: $sc: median $med over $RUNS runs, min $lo, max $hi, spread $pct %"
	MEASURED+=("$sc")
done
echo "ipp: results in $CSV"
[ ${#MEASURED[@]} -gt 0 ] || { echo "ipp: nothing measured"; exit 0; }
fi # measured (not --from)

# ---- budget ------------------------------------------------------------------------------
if [ "$UPDATE" = 1 ]; then
	{
		echo "# perf/ipp-budget.txt: instructions per packet budgets of weir's worker lcore, for perf/ipp.sh --check."
		echo "# Written by perf/ipp.sh --update: budget = measured x (1 + $MARGIN %)."
		echo "# measured $(date -u +%Y-%m-%d), commit $COMMIT, $MACHINE"
		echo "# weir $BUILD_DESC (gcc $CC_VERSION), $VG_VERSION, k=$K, runs=$RUNS"
		echo "# Counts depend on the compiler, -march and the Debian DPDK/libpcap/libc builds: compare like with like."
		echo "# scenario        measured      budget"
		for sc in "${SCENARIOS_ALL[@]}"; do
			if [ -n "${IPP[$sc]:-}" ]; then
				awk -v s="$sc" -v m="${IPP[$sc]}" -v p="$MARGIN" 'BEGIN {printf "%-16s %9.2f %11.2f\n", s, m, m * (1 + p / 100)}'
			elif [ -r "$BUDGET" ]; then # not measured this time (skipped, or not asked for): keep its line
				awk -v s="$sc" '$1 == s' "$BUDGET"
			fi
		done
	} > "$TMP/budget" || die "cannot write the budget"
	cp "$TMP/budget" "$BUDGET" || die "cannot write $BUDGET"
	echo "ipp: wrote $BUDGET"
fi

if [ "$CHECK" = 1 ]; then
	over=0
	for sc in "${MEASURED[@]}"; do
		read -r verdict budget pct <<< "$(python3 "$ROOT/perf/ipp-calc.py" check "$BUDGET" "$SCALE" "$sc" "${IPP[$sc]}")"
		case $verdict in
		ok) echo "ipp: $sc within budget: ${IPP[$sc]} <= $budget" ;;
		over) echo "ipp: $sc rose above budget: ${IPP[$sc]} > $budget (+$pct%)"; over=1 ;;
		*) echo "ipp: $sc has no budget in $BUDGET (add one with --update)" ;;
		esac
	done
	exit "$over"
fi
exit 0
