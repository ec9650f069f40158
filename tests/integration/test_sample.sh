#!/usr/bin/env bash
# The README's sample run: `weir run --sample` prints a summary, writes JSON lines, and its
# hostpairs and totals equal an independent tshark computation over the same capture.
. "$(dirname "$0")/lib.sh"
sample="$WEIR_SOURCE_DIR/tests/data/sample.pcap"
[ -s "$sample" ] || { fail "bundled sample missing: $sample"; finish; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
python3 "$(dirname "$0")/tshark_hostpairs.py" "$sample" | sort > "$TMP/ref.tsv"
for w in 1 2; do
  out="$TMP/s$w.jsonl"
  if ! "$WEIR_BIN" run --sample --workers $w --out "$out" > "$TMP/summary$w" 2> "$TMP/err$w"; then
    fail "workers=$w: exit non-zero: $(tail -3 "$TMP/err$w")"; continue
  fi
  grep -q '^== window ' "$TMP/summary$w" || fail "workers=$w: summary has no window section"
  grep -q 'hostpairs: ' "$TMP/summary$w" || fail "workers=$w: summary lacks hostpairs"
  grep -q 'rx .* processed .*(rx == processed + dropped)' "$TMP/summary$w" || fail "workers=$w: summary totals"
  check_accounting "$out" > /dev/null || fail "workers=$w: rx != processed + dropped"
  python3 - "$out" <<'PY' | sort > "$TMP/weir$w.tsv"
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["type"]!="window": continue
    b=r["window_start"]//10**9
    if r["query"]=="hostpairs":
        print("H",b,r["src_ip"],r["dst_ip"],r["proto"],r["packets"],r["bytes"],r["ip_bytes"],sep="\t")
    elif r["query"]=="totals":
        print("T",b,r["packets"],r["bytes"],sep="\t")
PY
  if diff -q "$TMP/ref.tsv" "$TMP/weir$w.tsv" > /dev/null; then
    ok "workers=$w: $(wc -l < "$TMP/ref.tsv") hostpairs+totals rows equal tshark's"
  else
    fail "workers=$w: differs from tshark:"; diff "$TMP/ref.tsv" "$TMP/weir$w.tsv" | head -20
  fi
done

# Processing time: windows follow the wall clock at rx, not the pcap's 2023 timestamps.
printf 'time: processing\nqueries:\n  - name: all\n    window: {type: tumbling, size: 1s}\n    aggregates: [packets]\n' > "$TMP/ptime.yaml"
t0=$(date +%s)
"$WEIR_BIN" run --config "$TMP/ptime.yaml" --sample --out "$TMP/ptime.jsonl" --no-summary 2> "$TMP/ptime.err" \
  || fail "processing time: exit non-zero: $(tail -2 "$TMP/ptime.err")"
t1=$(date +%s)
if python3 - "$TMP/ptime.jsonl" "$t0" "$t1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
win = [r for r in rows if r["type"] == "window"]
t0, t1 = int(sys.argv[2]), int(sys.argv[3]) + 1
assert win, "no window"
assert all(t0 <= r["window_start"] // 10**9 <= t1 for r in win), [r["window_start"] for r in win]
assert sum(r["packets"] for r in win) == 5500, sum(r["packets"] for r in win)
PY
then ok "processing time: windows within the run's wall-clock span, all 5500 packets counted"
else fail "processing time"; fi
finish
