#!/usr/bin/env bash
# Inline mode (--inline A:B) between two net_pcap ports that each read a capture and write
# what they send (tx_pcap=): what goes out must be exactly what came in on the peer port,
# byte for byte and in order (several workers: as a multiset), less what a drop rule stopped.
# The frames a drop rule must stop come from tshark: frames whose TCP payload starts with
# "POST ", and every later frame of the same TCP stream (a drop verdict holds for the rest of
# the flow). --layer inner, as tshark dissects the IPv6 inside the sample's 6in4 tunnel.
# Also: the inline counters, the per-stage cycle counters, and bad --inline pairs.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
command -v editcap >/dev/null || { echo "SKIP: editcap not installed"; exit 77; }

S=$WEIR_SOURCE_DIR/tests/data/sample.pcap
CHECK=$WEIR_SOURCE_DIR/tests/integration/inline_check.py
editcap -F pcap -r "$S" "$TMP/back.pcap" 1-300 >/dev/null   # what port 1 reads (sent out on port 0)
cat > "$TMP/drop.rules" <<'EOF'
drop tcp any any -> any any (msg:"drop HTTP POST"; content:"POST "; depth:5; sid:9000001; rev:1;)
EOF

# tshark's truth: the frames of every TCP stream from its first "POST " payload on
tshark -r "$S" -Y 'tcp.payload && tcp.payload[0:5] == "POST "' -T fields -e frame.number \
  -e tcp.stream 2>/dev/null > "$TMP/first"
tshark -r "$S" -Y tcp -T fields -e frame.number -e tcp.stream 2>/dev/null | python3 -c '
import sys
first = {}
for l in open(sys.argv[1]):
    f, s = l.split()
    first.setdefault(s, int(f))
for l in sys.stdin:
    f, s = l.split()
    if s in first and int(f) >= first[s]:
        print(f)' "$TMP/first" > "$TMP/dropframes"
n_drop=$(wc -l < "$TMP/dropframes")
n_in=$(tshark -r "$S" 2>/dev/null | wc -l)
n_back=$(tshark -r "$TMP/back.pcap" 2>/dev/null | wc -l)
echo "tshark: $n_in frames in, $n_drop to drop ($(wc -l < "$TMP/first") POST frames)"
[ "$n_drop" -gt 0 ] || fail "tshark found no POST frames to drop"

# inline_run NAME ARGS...: weir with port 0 reading the sample (sending to $TMP/NAME.o0.pcap)
# and port 1 reading back.pcap (sending to NAME.o1.pcap), paired 0:1.
inline_run() {
  local name=$1
  shift
  "$WEIR_BIN" run --port "net_pcap0,rx_pcap=$S,tx_pcap=$TMP/$name.o0.pcap" \
    --port "net_pcap1,rx_pcap=$TMP/back.pcap,tx_pcap=$TMP/$name.o1.pcap" --inline 0:1 \
    --out "$TMP/$name.jsonl" --no-summary "$@" 2> "$TMP/$name.err"
}

# check_run NAME DROPFILE [--unordered]: both directions exact, counters add up
check_run() {
  local name=$1 drop=$2
  shift 2
  if python3 "$CHECK" "$S" "$TMP/$name.o1.pcap" ${drop:+--drop "$drop"} "$@" &&
     python3 "$CHECK" "$TMP/back.pcap" "$TMP/$name.o0.pcap" "$@"; then
    ok "$name: port 1 sent port 0's frames and port 0 port 1's, byte for byte"
  else
    fail "$name: what was sent differs from what came in"
  fi
  local nd=0
  [ -n "$drop" ] && nd=$n_drop
  local fw rule txf
  fw=$(stat "$TMP/$name.jsonl" inline.forwarded)
  rule=$(stat "$TMP/$name.jsonl" inline.dropped.rule)
  txf=$(stat "$TMP/$name.jsonl" inline.dropped.tx-full)
  if [ "$fw" -eq $((n_in + n_back - nd)) ] && [ "$rule" -eq "$nd" ] && [ "$txf" -eq 0 ]; then
    ok "$name: forwarded=$fw dropped.rule=$rule tx-full=$txf"
  else
    fail "$name: forwarded=$fw dropped.rule=$rule tx-full=$txf (want $((n_in + n_back - nd)), $nd, 0)"
  fi
  check_accounting "$TMP/$name.jsonl" >/dev/null || fail "$name: rx != processed + dropped"
}

if inline_run plain; then
  check_run plain ""
else
  fail "plain: weir failed: $(tail -3 "$TMP/plain.err")"
fi

if inline_run drop --rules "$TMP/drop.rules" --layer inner; then
  check_run drop "$TMP/dropframes"
else
  fail "drop: weir failed: $(tail -3 "$TMP/drop.err")"
fi

# Two workers: a distributor reads both ports, the workers hand what they keep back to it.
if inline_run drop2 --rules "$TMP/drop.rules" --layer inner --workers 2; then
  check_run drop2 "$TMP/dropframes" --unordered
else
  fail "drop2: weir failed: $(tail -3 "$TMP/drop2.err")"
fi

# Cycles per packet per stage: the stages that ran are there and add up to the total.
python3 - "$TMP/drop2.jsonl" <<'PY' && ok "stage_cycles present and consistent" || fail "stage_cycles"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"type":"stats"' in l][0]["stage_cycles"]
p = s["per_packet"]
print("stage_cycles:", {k: round(v) for k, v in p.items()})
need = {"rx", "parse", "handover", "dequeue", "inspect", "window", "tx", "advance", "total"}
assert need <= set(p), f"missing {need - set(p)}"
assert s["sampled_packets"] > 0 and s["tsc_hz"] > 0
assert all(v >= 0 for v in p.values())
assert abs(sum(v for k, v in p.items() if k != "total") - p["total"]) < 1e-6 * p["total"] + 1
PY

# Bad pairs: a clear message, exit status 2, nothing run.
bad() {
  local what=$1 want=$2
  shift 2
  "$WEIR_BIN" run --pcap "$S" --pcap "$TMP/back.pcap" --out "$TMP/bad.jsonl" "$@" 2> "$TMP/bad.err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -q -- "$want" "$TMP/bad.err"; then
    ok "$what: $(head -1 "$TMP/bad.err")"
  else
    fail "$what: rc=$rc, stderr: $(cat "$TMP/bad.err")"
  fi
}
bad "port out of range" "there are 2 ports" --inline 0:5
bad "port paired with itself" "two different port indexes" --inline 1:1
bad "port in two pairs" "port 1 is already paired" --inline 0:1 --inline 1:0
bad "not a pair" "want A:B" --inline zero:one
printf 'inline: ["0:1", "1-0"]\n' > "$TMP/bad.yaml"
bad "config file" "bad.yaml:1" --config "$TMP/bad.yaml"

[ $fails -eq 0 ] && echo "PASS" || { echo "$fails failure(s)"; exit 1; }
