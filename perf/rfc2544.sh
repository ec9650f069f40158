#!/usr/bin/env bash
# perf/rfc2544.sh: RFC 2544 throughput search through a DUT with weir-gen.
#
# weir-gen is the memif server on two sockets (sends on A, receives on B) and runs every trial
# in one process (--trials -, fed through a coprocess), the DUT forwards between two memif
# client ports. Binary search over the offered rate for the NDR (highest rate with no loss)
# and the PDR (loss <= --pdr-loss, 0.5 %), then latency trials at 10 %, 50 % and 90 % of the
# PDR. Writes trials.csv (every trial), summary.json, summary.txt and plot.png (gnuplot) into
# the results folder. See perf/README.md, "rfc2544.sh".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=rfc2544
die() { echo "$BENCH: $*" >&2; exit 2; }
is_num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

usage() {
	cat <<EOF
Usage: perf/rfc2544.sh [options]
  --dut testpmd|weir  the forwarder (default testpmd): dpdk-testpmd --forward-mode=io between
                      two memif clients, or weir's inline mode (weir run --port
                      net_memif0,role=client,socket=A --port net_memif1,role=client,socket=B
                      --inline 0:1 --workers 1 [--config C] [--rules R] --out OUT)
  --dut-cmd "CMD"     any other forwarder: CMD is run by bash with {A} and {B} replaced by
                      the two memif socket paths (it must connect to both as memif client
                      and forward A -> B), {CPU} by the DUT's CPU and {OUT} by the results
                      folder; it is stopped with SIGINT, then SIGKILL after 3 s
  --config C, --rules R   passed to weir (--dut weir)
  --size S            frame size for weir-gen --size (64, 64-1518, imix; default 64)
  --trial S           seconds per search trial (default 5)
  --latency-trial S   seconds per latency trial (default: --trial)
  --latency-at R,...  also measure latency at these fixed rates in pps (e.g. 250000,1000000):
                      two DUTs measured at the same offered loads give the latency one adds
  --resolution P      stop the search when hi - lo <= P % of the maximum rate (default 1)
  --pdr-loss P        loss ratio in % allowed for the PDR (default 0.5)
  --max-rate R        upper bound of the search (weir-gen --rate syntax, in pps or bit/s);
                      default: the rate of a first trial at --rate max
  --catch-up US       weir-gen --catch-up: token bucket depth (default 2000 us: on a shared CPU
                      the generator catches up after being descheduled)
  --rsize N           memif rings of 2^N slots on both sides (default 10, memif's default)
  --gen-cpu N, --dut-cpu N   CPUs (default: the first and the last CPU we may use)
  --gen PATH, --weir PATH    binaries (default: \$WEIR_GEN_BIN / \$WEIR_BIN, else build*/app/)
  --results DIR       results folder (default perf/results/rfc2544-DUT-SIZE-DATE)
EOF
}

DUT=testpmd DUT_CMD="" CONFIG="" RULES="" SIZE=64 TRIAL=5 LAT_TRIAL="" RES=1 PDR_LOSS=0.5 LAT_AT=
MAX_RATE="" RSIZE=10 CATCH_UP=2000 GEN=${WEIR_GEN_BIN:-} WEIR=${WEIR_BIN:-} RESULTS=""
cpus=$(python3 -c 'import os; s=sorted(os.sched_getaffinity(0)); print(s[0], s[-1])')
GEN_CPU=${cpus% *} DUT_CPU=${cpus#* }
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--dut) DUT=$2 ;;
	--dut-cmd) DUT_CMD=$2 DUT=cmd ;;
	--config) CONFIG=$2 ;;
	--rules) RULES=$2 ;;
	--size) SIZE=$2 ;;
	--trial) TRIAL=$2 ;;
	--latency-trial) LAT_TRIAL=$2 ;;
	--latency-at) LAT_AT=$2 ;;
	--resolution) RES=$2 ;;
	--pdr-loss) PDR_LOSS=$2 ;;
	--max-rate) MAX_RATE=$2 ;;
	--rsize) RSIZE=$2 ;;
	--catch-up) CATCH_UP=$2 ;;
	--gen-cpu) GEN_CPU=$2 ;;
	--dut-cpu) DUT_CPU=$2 ;;
	--gen) GEN=$2 ;;
	--weir) WEIR=$2 ;;
	--results) RESULTS=$2 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	[ $# -ge 2 ] || die "$1 needs a value"
	shift 2
done
LAT_TRIAL=${LAT_TRIAL:-$TRIAL}
[[ -z $LAT_AT || $LAT_AT =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
	die "--latency-at '$LAT_AT' is not a list of rates in pps (e.g. 250000,1000000)"
for v in TRIAL LAT_TRIAL RES PDR_LOSS; do is_num "${!v}" || die "--$(tr 'A-Z_' 'a-z-' <<< "$v") '${!v}' is not a number"; done
python3 -c "import sys; sys.exit(0 if 0 < $RES < 100 and $TRIAL > 0 and $LAT_TRIAL > 0 else 1)" ||
	die "--resolution must lie in (0, 100), --trial and --latency-trial above 0"
[[ $CATCH_UP =~ ^[0-9]+$ ]] || die "--catch-up must be microseconds"
[[ $RSIZE =~ ^[0-9]+$ ]] && [ "$RSIZE" -ge 6 ] && [ "$RSIZE" -le 14 ] || die "--rsize must be 6..14"
[ "$(id -u)" -eq 0 ] || die "needs root (DPDK)"

find_bin() { # name: first existing build*/app/NAME
	local f
	for f in "$ROOT"/build/app/"$1" "$ROOT"/build-*/app/"$1"; do [ -x "$f" ] && { echo "$f"; return; }; done
}
GEN=${GEN:-$(find_bin weir-gen)}
[ -x "$GEN" ] || die "weir-gen not found (build it, or give --gen PATH)"
"$GEN" --dry-run --size "$SIZE" > /dev/null || die "weir-gen refuses --size $SIZE"
case $DUT in
testpmd) command -v dpdk-testpmd > /dev/null || die "dpdk-testpmd is not installed" ;;
weir)
	WEIR=${WEIR:-$(find_bin weir)}
	[ -x "$WEIR" ] || die "weir not found (build it, or give --weir PATH)"
	help=$("$WEIR" run --help 2>&1) # not piped into grep -q: with pipefail, SIGPIPE would fail it
	grep -q -- '--inline' <<< "$help" ||
		die "$WEIR has no inline mode yet ('weir run --help' does not mention --inline): use --dut testpmd or --dut-cmd"
	;;
cmd) [ -n "$DUT_CMD" ] || die "--dut-cmd needs a command" ;;
*) die "--dut must be testpmd or weir (or give --dut-cmd)" ;;
esac

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${RESULTS:-$ROOT/perf/results/rfc2544-$DUT-$SIZE-$STAMP}
mkdir -p "$RESULTS" || die "cannot create $RESULTS"
TMP=$(mktemp -d /tmp/weir-rfc2544.XXXXXX)
SOCK_A=$TMP/a SOCK_B=$TMP/b
TP_PREFIX=weir-rfc2544-tp-$$
GEN_PID="" DUT_PID=""
CSV=$RESULTS/trials.csv

cleanup() {
	# Stop order (PLATFORM.md): the memif clients (the DUT) first, the server (weir-gen) last.
	if [ -n "$DUT_PID" ]; then
		kill -INT "$DUT_PID" 2>/dev/null
		for _ in $(seq 30); do kill -0 "$DUT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DUT_PID" 2>/dev/null
		wait "$DUT_PID" 2>/dev/null
	fi
	if [ -n "$GEN_PID" ]; then
		kill -TERM "$GEN_PID" 2>/dev/null
		for _ in $(seq 30); do kill -0 "$GEN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$GEN_PID" 2>/dev/null
		rm -rf "/var/run/dpdk/weir-gen-$GEN_PID"
	fi
	rm -rf "$TMP" "/var/run/dpdk/$TP_PREFIX"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# weir-gen: the memif server on both sockets, trials read from its stdin (a coprocess).
coproc GENP { exec "$GEN" --tx "net_memif0,role=server,socket=$SOCK_A,rsize=$RSIZE" \
	--rx "net_memif1,role=server,socket=$SOCK_B,rsize=$RSIZE" --cpu "$GEN_CPU" --size "$SIZE" \
	--catch-up "$CATCH_UP" --trials - --hold --quiet --link-wait 30 --drain 0.2 2> "$RESULTS/gen.err"; }
GEN_PID=$GENP_PID
exec {GEN_IN}>&"${GENP[1]}" {GEN_OUT}<&"${GENP[0]}"
sleep 0.3

case $DUT in
testpmd)
	dpdk-testpmd --no-pci --in-memory --file-prefix "$TP_PREFIX" --lcores "0@$DUT_CPU,1@$DUT_CPU" \
		--log-level=lib.eal:error \
		--vdev "net_memif0,role=client,socket=$SOCK_A,rsize=$RSIZE" \
		--vdev "net_memif1,role=client,socket=$SOCK_B,rsize=$RSIZE" -- \
		--forward-mode=io --auto-start --stats-period 10 --total-num-mbufs=32768 \
		> "$RESULTS/dut.out" 2>&1 < /dev/null &
	DUT_PID=$!
	DUT_DESC="dpdk-testpmd --forward-mode=io (main + forwarding lcore on CPU $DUT_CPU)"
	;;
weir)
	args=(run --port "net_memif0,role=client,socket=$SOCK_A,rsize=$RSIZE"
		--port "net_memif1,role=client,socket=$SOCK_B,rsize=$RSIZE" --inline 0:1 --workers 1
		--out "$RESULTS/weir-out.jsonl" --no-summary)
	[ -n "$CONFIG" ] && args+=(--config "$CONFIG")
	[ -n "$RULES" ] && args+=(--rules "$RULES")
	taskset -c "$DUT_CPU" "$WEIR" "${args[@]}" > "$RESULTS/dut.out" 2>&1 < /dev/null &
	DUT_PID=$!
	DUT_DESC="weir run --inline 0:1 --workers 1 (all lcores on CPU $DUT_CPU)"
	;;
cmd)
	c=${DUT_CMD//\{A\}/$SOCK_A}; c=${c//\{B\}/$SOCK_B}; c=${c//\{CPU\}/$DUT_CPU}; c=${c//\{OUT\}/$RESULTS}
	bash -c "exec $c" > "$RESULTS/dut.out" 2>&1 < /dev/null &
	DUT_PID=$!
	DUT_DESC="$c"
	;;
esac

echo "phase,trial,target_pps,achieved_pps,achieved_bps,sent,received,lost,loss_ratio,reordered,duplicates,tx_full,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,gen_limited,pass" > "$CSV"
N=0
# trial PHASE RATE SECONDS: one weir-gen trial; sets T_* (achieved pps, loss ratio, lost, ...)
trial() {
	local phase=$1 rate=$2 secs=$3 line
	kill -0 "$GEN_PID" 2>/dev/null || die "weir-gen exited: $(tail -3 "$RESULTS/gen.err")"
	kill -0 "$DUT_PID" 2>/dev/null || die "the DUT exited: $(tail -5 "$RESULTS/dut.out")"
	echo "$rate $secs" >&"$GEN_IN"
	local wait_s
	wait_s=$(python3 -c "print(int($secs) + 60)")
	IFS= read -r -t "$wait_s" line <&"$GEN_OUT" || die "no result from weir-gen for '$rate $secs': $(tail -3 "$RESULTS/gen.err")"
	N=$((N + 1))
	echo "$line" >> "$RESULTS/trials.jsonl"
	eval "$(python3 - "$line" "$phase" "$N" "$PDR_LOSS" "$CSV" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); phase, n, pdr, csv = sys.argv[2], sys.argv[3], float(sys.argv[4]) / 100, sys.argv[5]
L = r["latency_ns"]
# A trial passes when the loss criterion holds AND weir-gen offered at least 95 % of the target
# (target_reached): a DUT is not credited with a rate it was not offered.
lim = 1 if not r["target_reached"] else 0
ok_ndr = r["lost"] == 0 and r["received"] > 0 and not lim
ok_pdr = r["received"] > 0 and r["loss_ratio"] <= pdr and not lim
ok = ok_pdr if phase == "pdr" else ok_ndr if phase == "ndr" else True
with open(csv, "a") as f:
    f.write(",".join(str(x) for x in [phase, n, f"{r['target_pps']:.0f}", f"{r['achieved_pps']:.0f}",
        f"{r['achieved_bps']:.0f}", r["sent"], r["received"], r["lost"], f"{r['loss_ratio']:.9f}",
        r["reordered"], r["duplicates"], r["tx_full"], L["p50"], L["p90"], L["p99"], L["p999"], L["max"],
        lim, int(ok)]) + "\n")
print(f"T_ACH={r['achieved_pps']:.0f} T_LOSS={r['loss_ratio']:.9f} T_LOST={r['lost']} T_PASS={int(ok)} "
      f"T_P50={L['p50']} T_P99={L['p99']} T_P999={L['p999']} T_LIM={lim}")
PY
)"
	printf '%s: %-7s trial %2d  offered %-12s achieved %10.0f pps  loss %-12s %s\n' "$BENCH" "$phase" "$N" \
		"$rate" "$T_ACH" "$T_LOSS" "$([ "$T_PASS" = 1 ] && echo pass || echo fail)$([ "$T_LIM" = 1 ] && echo ' (gen below target)')"
}

echo "$BENCH: DUT: $DUT_DESC; weir-gen on CPU $GEN_CPU; --size $SIZE, trials of $TRIAL s; results in $RESULTS"
if [ -n "$MAX_RATE" ]; then
	UPPER=$("$GEN" --dry-run --size "$SIZE" --rate "$MAX_RATE" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["target_pps"]))') ||
		die "--max-rate '$MAX_RATE' is not a weir-gen rate"
else
	trial max max "$TRIAL"
	UPPER=${T_ACH%.*}
fi
[ "${UPPER:-0}" -gt 0 ] || die "nothing could be sent (upper bound 0 pps)"
STEP=$(python3 -c "print(max(1, int($UPPER * $RES / 100)))")

# search PHASE LO: binary search in [LO, UPPER] for the highest passing rate; sets FOUND, CONV.
search() {
	local phase=$1 lo=$2 hi=$UPPER mid
	trial "$phase" "${hi}pps" "$TRIAL"
	if [ "$T_PASS" = 1 ]; then FOUND=$hi CONV=1; return; fi
	while [ $((hi - lo)) -gt "$STEP" ]; do
		mid=$(((lo + hi) / 2))
		trial "$phase" "${mid}pps" "$TRIAL"
		if [ "$T_PASS" = 1 ]; then lo=$mid; else hi=$mid; fi
	done
	FOUND=$lo CONV=1
	[ $((hi - lo)) -le "$STEP" ] || CONV=0
}
search ndr 0
NDR=$FOUND NDR_CONV=$CONV
search pdr "$NDR"
PDR=$FOUND PDR_CONV=$CONV

LAT=()
for pct in 10 50 90; do
	r=$((PDR * pct / 100))
	if [ "$r" -lt 1 ]; then LAT+=("$pct,0,0,0,0"); continue; fi
	trial "lat$pct" "${r}pps" "$LAT_TRIAL"
	LAT+=("$pct,$r,$T_P50,$T_P99,$T_P999")
done
for r in ${LAT_AT//,/ }; do
	trial "at$r" "${r}pps" "$LAT_TRIAL"
	LAT+=("0,$r,$T_P50,$T_P99,$T_P999")
done

# Close weir-gen's trial input: it finishes and holds the ports until the cleanup stops it.
exec {GEN_IN}>&-
eval "exec ${GENP[1]}>&-"

python3 - "$RESULTS" "$UPPER" "$STEP" "$NDR" "$NDR_CONV" "$PDR" "$PDR_CONV" "$SIZE" "$TRIAL" "$PDR_LOSS" \
	"$DUT_DESC" "$STAMP" "$GEN_CPU" "$RSIZE" "${LAT[@]}" <<'PY'
import json, os, platform, sys
(res, upper, step, ndr, ndrc, pdr, pdrc, size, trial, pdr_loss, dut, stamp, gcpu, rsize), lat = sys.argv[1:15], sys.argv[15:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mean_wire = json.loads(open(os.path.join(res, "trials.jsonl")).readline())["mean_wire_bytes"]
s = {"date": stamp, "machine": f"{platform.node()}: {os.cpu_count()} CPUs, {cpu}", "dut": dut,
     "size": size, "trial_s": float(trial), "pdr_loss_pct": float(pdr_loss), "memif_rsize": int(rsize),
     "upper_pps": int(upper), "resolution_pps": int(step),
     "ndr_pps": int(ndr), "ndr_bps": int(ndr) * mean_wire * 8, "ndr_converged": ndrc == "1",
     "pdr_pps": int(pdr), "pdr_bps": int(pdr) * mean_wire * 8, "pdr_converged": pdrc == "1",
     "latency_ns": []}
for l in lat:
    pct, rate, p50, p99, p999 = (int(x) for x in l.split(","))
    x = {"load_pct_of_pdr": pct, "rate_pps": rate, "p50": p50, "p99": p99, "p999": p999}
    if pct:
        s["latency_ns"].append(x)
    else:  # --latency-at: a fixed rate
        del x["load_pct_of_pdr"]
        s.setdefault("latency_at_ns", []).append(x)
json.dump(s, open(os.path.join(res, "summary.json"), "w"), indent=1)
with open(os.path.join(res, "summary.txt"), "w") as f:
    f.write(f"RFC 2544 through {dut}, --size {size}, {trial} s trials, {s['date']}, {s['machine']}\n")
    f.write(f"max offered {int(upper)} pps, resolution {int(step)} pps\n")
    f.write(f"NDR {int(ndr)/1e6:.3f} Mpps ({s['ndr_bps']/1e9:.3f} Gbit/s)  converged={s['ndr_converged']}\n")
    f.write(f"PDR ({pdr_loss} %) {int(pdr)/1e6:.3f} Mpps ({s['pdr_bps']/1e9:.3f} Gbit/s)  converged={s['pdr_converged']}\n")
    for x in s["latency_ns"]:
        f.write(f"latency at {x['load_pct_of_pdr']}% of PDR ({x['rate_pps']} pps): p50 {x['p50']} ns  "
                f"p99 {x['p99']} ns  p99.9 {x['p999']} ns\n")
    for x in s.get("latency_at_ns", []):
        f.write(f"latency at {x['rate_pps']} pps: p50 {x['p50']} ns  p99 {x['p99']} ns  p99.9 {x['p999']} ns\n")
with open(os.path.join(res, "latency.dat"), "w") as f:
    for x in s["latency_ns"]:
        f.write(f"{x['load_pct_of_pdr']} {x['rate_pps']} {x['p50']/1e3} {x['p99']/1e3} {x['p999']/1e3}\n")
PY
cat "$RESULTS/summary.txt"

if command -v gnuplot > /dev/null; then
	gnuplot <<EOF || echo "$BENCH: gnuplot failed; no plot"
set terminal pngcairo size 1100,500 noenhanced
set output "$RESULTS/plot.png"
set datafile separator ","
set multiplot layout 1,2 title "RFC 2544, $DUT, --size $SIZE, $TRIAL s trials ($STAMP)"
set title "search trials: loss vs offered rate"
set xlabel "offered rate (Mpps)"
set ylabel "loss ratio (%)"
set logscale y
set yrange [1e-5:100]
set key top left
plot "$CSV" using (strcol(1) eq "ndr" ? \$3/1e6 : 1/0):(\$9*100 > 1e-5 ? \$9*100 : 1e-5) with points pt 7 title "NDR search (0 loss drawn at 1e-5)", \
     "$CSV" using (strcol(1) eq "pdr" ? \$3/1e6 : 1/0):(\$9*100 > 1e-5 ? \$9*100 : 1e-5) with points pt 5 title "PDR search", \
     $PDR_LOSS with lines dt 2 title "PDR limit"
unset logscale y
set autoscale y
set datafile separator whitespace
if ($PDR > 0) {
set title "latency at 10/50/90 % of PDR"
set xlabel "load (% of PDR)"
set ylabel "latency (us)"
set logscale y
set xrange [0:100]
plot "$RESULTS/latency.dat" using 1:3 with linespoints title "p50", "" using 1:4 with linespoints title "p99", \
     "" using 1:5 with linespoints title "p99.9"
}
unset multiplot
EOF
	[ -s "$RESULTS/plot.png" ] && echo "$BENCH: plot: $RESULTS/plot.png"
else
	echo "$BENCH: gnuplot not installed (apt-get install -y gnuplot-nox): no plot"
fi
echo "$BENCH: CSV: $CSV"
