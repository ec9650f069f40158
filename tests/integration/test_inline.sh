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
# a net_pcap port with nothing to send to: it runs, with a warning naming the port
"$WEIR_BIN" run --pcap "$TMP/back.pcap" --pcap "$TMP/back.pcap" --inline 0:1 --out "$TMP/w.jsonl" \
  --no-summary 2> "$TMP/w.err" && grep -q "inline port 1 (net_pcap1,rx_pcap=.*) has no tx_pcap= or tx_iface=" \
  "$TMP/w.err" && ok "rx-only pcap port: $(head -1 "$TMP/w.err")" || fail "rx-only pcap port: $(cat "$TMP/w.err")"
printf 'inline: ["0:1", "1-0"]\n' > "$TMP/bad.yaml"
bad "config file" "bad.yaml:1" --config "$TMP/bad.yaml"

# ---- live: weir inline between two memif ports, fed by weir-gen (the memif server on both).
# 10 UDP flows round robin, flow f carrying payload line f % 2: the 5 "POST " flows are dropped
# whole, the 5 others come back complete and in order. weir's counters and weir-gen's loss agree.
done_() { [ $fails -eq 0 ] && echo "PASS" || { echo "$fails failure(s)"; exit 1; }; exit 0; }
live_skip() { echo "SKIP (live part): $*"; done_; }
[ -n "${WEIR_GEN_BIN:-}" ] && [ -x "$WEIR_GEN_BIN" ] || live_skip "weir-gen not built"
[ "$(id -u)" -eq 0 ] || live_skip "needs root"
command -v ss >/dev/null || live_skip "ss (iproute2) not installed"
echo 'drop udp any any -> any any (msg:"drop POST over UDP"; content:"POST "; depth:5; sid:9000002; rev:1;)' \
  > "$TMP/drop-udp.rules"
printf 'POST /upload\nGET /index.html\n' > "$TMP/payloads.txt"
cpus=$(python3 -c 'import os; s=sorted(os.sched_getaffinity(0)); print(s[0], s[-1])')
N=20000
"$WEIR_GEN_BIN" --tx "net_memif0,role=server,socket=$TMP/m.a,rsize=14" \
  --rx "net_memif1,role=server,socket=$TMP/m.b,rsize=14" --cpu "${cpus% *}" --link-wait 60 \
  --count $N --rate 50kpps --size 128 --flows 10 --payload-file "$TMP/payloads.txt" \
  --json "$TMP/gen.json" --hold --quiet 2> "$TMP/gen.err" &
gen=$!
PIDS+=("$gen")
for _ in $(seq 100); do ss -xl | grep -q "$TMP/m.b" && break; sleep 0.1; done
"$WEIR_BIN" run --port "net_memif0,role=client,socket=$TMP/m.a,rsize=14" \
  --port "net_memif1,role=client,socket=$TMP/m.b,rsize=14" --inline 0:1 --workers 1 \
  --rules "$TMP/drop-udp.rules" --out "$TMP/live.jsonl" --no-summary \
  --eal "--lcores 0@${cpus% *},1@${cpus#* }" 2> "$TMP/live.err" &
weir=$!
PIDS+=("$weir")
for _ in $(seq 900); do [ -e "$TMP/gen.json" ] && break; kill -0 "$gen" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$weir"; wait "$weir"; wrc=$?     # the memif clients stop first, the server last
kill -TERM "$gen"; wait "$gen"
rm -rf "/var/run/dpdk/weir-gen-$gen"
if [ $wrc -ne 0 ] || [ ! -s "$TMP/gen.json" ]; then
  fail "live: weir exit $wrc, weir-gen: $(cat "$TMP/gen.json" 2>/dev/null) $(tail -n 3 "$TMP/gen.err" "$TMP/live.err")"
elif r=$(python3 - "$TMP/gen.json" "$TMP/live.jsonl" $N 2>&1 <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
s = [json.loads(l) for l in open(sys.argv[2]) if '"type":"stats"' in l][0]
n = int(sys.argv[3])
inl = s["inline"]
assert g["sent"] == n, g["sent"]
assert inl["dropped"]["rule"] == n // 2, inl
assert inl["forwarded"] == n // 2 and inl["dropped"]["tx-full"] == 0, inl
assert g["received"] == n // 2 and g["lost"] == n // 2, (g["received"], g["lost"])
assert g["reordered"] == 0 and g["duplicates"] == 0 and g["foreign"] == 0, g
assert s["rx"] == s["processed"] == n, (s["rx"], s["processed"])
L = g["latency_ns"]
assert 0 < L["p50"] <= L["p99"] <= L["max"], L
print(f"sent {g['sent']}, weir forwarded {inl['forwarded']} and dropped {inl['dropped']['rule']} by rule, "
      f"weir-gen received {g['received']} in order, latency p50 {L['p50']} ns p99 {L['p99']} ns")
PY
); then ok "live memif: $r"; else fail "live memif: $r"; fi
done_
