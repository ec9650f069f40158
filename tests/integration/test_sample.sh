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

# Link types above 255 (Linux cooked v2 is 276) reach the parser whole.
python3 - "$TMP/sll2.pcap" <<'PY'
import struct, sys
udp = struct.pack("!HHHH", 1234, 53, 13, 0) + b"hello"
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([10, 0, 0, 1]),
                 bytes([10, 0, 0, 2])) + udp
sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, bytes(8))
recs = b"".join(struct.pack("<IIII", 1700000000 + i, 0, len(sll2 + ip), len(sll2 + ip)) + sll2 + ip
                for i in range(2))
open(sys.argv[1], "wb").write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 276) + recs)
PY
if "$WEIR_BIN" run --pcap "$TMP/sll2.pcap" --out - --no-summary 2> /dev/null |
   grep -q '"query":"hostpairs".*"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":17,"packets":2'
then ok "SLL2 (link type 276) capture parsed"
else fail "SLL2 capture: no 10.0.0.1 -> 10.0.0.2 hostpair"; fi
finish
