#!/usr/bin/env bash
# Payload matching inside weir's pipeline:
#  1. bench-102 on ndpi-mix: per-rule matched packets equal block_pkts of
#     ../shared/data/oracle/hs_oracle-ndpi-mix-ext.tsv (the definition that, like weir, reads
#     payloads behind VLAN tags and in IPv6), with 1 and 2 workers, except one known rule;
#     matches equal packets (block_matches: first, the default), or the oracle's block_matches
#     with block_matches: every; a `rule`-keyed query counts the same; alerts (no limit) equal
#     matched packets.
#  2. alert_limit: 1 alert per rule and flow, the rest counted as suppressed.
#  3. stream mode: a marker split across two TCP segments (also delivered out of order and
#     retransmitted) alerts once in stream mode and never in packet mode.
#  4. weir rules check.
#  5. pcres Hyperscan only prefilters (back-references, lookbehind) against equivalents.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

# -- 3 and 4 need no shared data -----------------------------------------------------------
cat > "$TMP/split.yaml" <<'Y'
rules:
  - id: 9001
    msg: split marker, stream
    literal: weir-split-marker
    mode: stream
  - id: 9002
    msg: split marker, packet
    literal: weir-split-marker
    mode: packet
Y
for order in inorder reorder; do
  python3 "$here/craft_tcp.py" "$TMP/$order.pcap" $([ $order = reorder ] && echo --reorder)
  "$WEIR_BIN" run --pcap "$TMP/$order.pcap" --rules "$TMP/split.yaml" --out "$TMP/$order.jsonl" \
    --no-summary 2> "$TMP/err" || { fail "$order: weir failed: $(tail -3 "$TMP/err")"; continue; }
  got=$(python3 -c '
import json,sys
a=[json.loads(l) for l in open(sys.argv[1]) if "\"alert\"" in l]
print(sum(1 for r in a if r["rule"]==9001), sum(1 for r in a if r["rule"]==9002),
      next((r["direction"] for r in a if r["rule"]==9001), "-"))' "$TMP/$order.jsonl")
  [ "$got" = "1 0 to_server" ] && ok "$order: stream rule alerts once (to_server), packet rule never" \
    || fail "$order: alerts (stream, packet, direction) = $got, want 1 0 to_server"
done
"$WEIR_BIN" rules check "$TMP/split.yaml" > "$TMP/check" && grep -q "loaded: 2" "$TMP/check" \
  && ok "rules check" || fail "rules check: $(cat "$TMP/check")"
printf '\x00\x01garbage\xff\n' > "$TMP/bad.rules"
"$WEIR_BIN" rules check "$TMP/bad.rules" > /dev/null 2>&1; [ $? -eq 2 ] && ok "rules check on garbage exits 2" \
  || fail "rules check on garbage"
"$WEIR_BIN" run --sample --rules "$TMP/bad.rules" --out "$TMP/x.jsonl" 2> "$TMP/err"; rc=$?
{ [ $rc -eq 2 ] && grep -q "bad.rules" "$TMP/err" && [ ! -e "$TMP/x.jsonl" ]; } && ok "run with a garbage rule file: exit 2, names it" \
  || fail "run with garbage rules: rc=$rc $(cat "$TMP/err")"

# -- 1 and 2 on the real capture -------------------------------------------------------------
need_data pcaps/ndpi-mix.pcap
need_data oracle/hs_oracle-ndpi-mix-ext.tsv
cat > "$TMP/q.yaml" <<'Y'
alert_limit: 0
rules_cache: off
queries:
  - name: per_rule
    group_by: [rule]
    window: {type: tumbling, size: 1h}
    aggregates: [packets]
Y
{ cat "$TMP/q.yaml"; echo "block_matches: every"; } > "$TMP/q-every.yaml"
for run in 1:first 2:first 1:every; do
  w=${run%:*} bm=${run#*:}
  out="$TMP/m$w-$bm.jsonl" cfg="$TMP/q.yaml"
  [ "$bm" = every ] && cfg="$TMP/q-every.yaml"
  "$WEIR_BIN" run --config "$cfg" --pcap "$DATA/pcaps/ndpi-mix.pcap" --workers $w \
    --rules "$DATA/patterns/bench-102.txt" --out "$out" --no-summary 2> "$TMP/err" \
    || { fail "workers=$w $bm: weir failed: $(tail -3 "$TMP/err")"; continue; }
  check_accounting "$out" > /dev/null || fail "workers=$w $bm: rx != processed + dropped"
  python3 - "$out" "$DATA/oracle/hs_oracle-ndpi-mix-ext.tsv" "$bm" <<'PY' && ok "workers=$w block_matches=$bm: 101 of 102 rules equal the ext oracle; rule query and alerts agree" || fail "workers=$w $bm: see above"
import collections, json, sys
every = sys.argv[3] == "every"
recs = [json.loads(l) for l in open(sys.argv[1])]
stats = [r for r in recs if r["type"] == "stats"][0]
rules = stats["rules"]
q = collections.Counter(); alerts = collections.Counter()
for r in recs:
    if r["type"] == "window" and r["query"] == "per_rule": q[str(r["rule"])] += r["packets"]
    if r["type"] == "alert": alerts[str(r["rule"])] += 1
# Known: rule 606 ends in \b. The oracle's payload runs to the captured end of the frame, into
# Ethernet trailer bytes; weir's ends where the IP datagram ends. Frame 90415 carries a 'P'
# trailer byte right after an e-mail address, so only weir sees the word boundary there.
known = {"606": (263, 444 if every else 263)}
bad = 0
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    if not f[0].isdigit(): continue
    rid, matches, pkts = f[0], int(f[1]), int(f[2])
    if not every: matches = pkts  # the first match of a rule in a packet only
    r = rules.get(rid, {"packets": 0, "matches": 0})
    want = known.get(rid, (pkts, matches))
    if (r["packets"], r["matches"]) != want:
        print(f"rule {rid}: weir packets/matches {r['packets']}/{r['matches']}, expected {want}"); bad += 1
    if q[rid] != r["packets"]:
        print(f"rule {rid}: per_rule query {q[rid]} != {r['packets']} matched packets"); bad += 1
    if alerts[rid] != r["packets"] or r["suppressed"]:
        print(f"rule {rid}: {alerts[rid]} alerts for {r['packets']} packets"); bad += 1
sys.exit(1 if bad else 0)
PY
done
# 5. PCRE2 confirmation: a back-reference, a lookbehind and a negated back-reference (Hyperscan
#    prefilters, PCRE2 confirms) alert on exactly the packets of equivalent pcres Hyperscan runs
#    itself, on ndpi-mix: an independent formulation as the oracle.
cat > "$TMP/eq.rules" <<'R'
alert tcp any any -> any any (msg:"backref"; pcre:"/(\d)\.\1/"; sid:801;)
alert tcp any any -> any any (msg:"alternation"; pcre:"/0\.0|1\.1|2\.2|3\.3|4\.4|5\.5|6\.6|7\.7|8\.8|9\.9/"; sid:802;)
alert tcp any any -> any any (msg:"lookbehind"; pcre:"/(?<=HTTP\/)1\.[01]/"; sid:803;)
alert tcp any any -> any any (msg:"plain"; pcre:"/HTTP\/1\.[01]/"; sid:804;)
alert ip any any -> any any (msg:"neg backref"; content:"GET"; pcre:!"/(\d)\.\1/"; sid:805;)
alert ip any any -> any any (msg:"neg alternation"; content:"GET"; pcre:!"/0\.0|1\.1|2\.2|3\.3|4\.4|5\.5|6\.6|7\.7|8\.8|9\.9/"; sid:806;)
R
"$WEIR_BIN" rules check "$TMP/eq.rules" > "$TMP/eq.check" 2>&1
grep -q "^confirmed by PCRE2: 3 parts" "$TMP/eq.check" && ok "rules check counts the 3 parts PCRE2 confirms" \
  || fail "rules check: $(cat "$TMP/eq.check")"
"$WEIR_BIN" run --config "$TMP/q.yaml" --pcap "$DATA/pcaps/ndpi-mix.pcap" --rules "$TMP/eq.rules" \
  --out "$TMP/eq.jsonl" --no-summary 2> "$TMP/err" || fail "pcre2 confirmation run: $(tail -3 "$TMP/err")"
python3 - "$TMP/eq.jsonl" <<'PY' && ok "PCRE2-confirmed rules alert on the same packets as their Hyperscan equivalents" || fail "PCRE2 confirmation: see above"
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
st = [r for r in recs if r["type"] == "stats"][0]
seen = collections.defaultdict(set)
for r in recs:
    if r["type"] == "alert":
        seen[r["rule"]].add((r["ts"], r["flow_id"], r["src_ip"], r["src_port"]))
bad = st["inspect"]["confirm_errors"] != 0
for a, b in ((801, 802), (803, 804), (805, 806)):
    print(f"rules {a}/{b}: {len(seen[a])}/{len(seen[b])} alerts")
    bad |= not seen[a] or seen[a] != seen[b]
sys.exit(1 if bad else 0)
PY

# 2. one alert per rule and flow
printf 'alert_limit: 1\n' > "$TMP/lim.yaml"
"$WEIR_BIN" run --config "$TMP/lim.yaml" --pcap "$DATA/pcaps/ndpi-mix.pcap" \
  --rules "$DATA/patterns/bench-102.txt" --out "$TMP/lim.jsonl" --no-summary 2>/dev/null
python3 - "$TMP/lim.jsonl" <<'PY' && ok "alert_limit 1: one alert per (flow, rule), the rest suppressed" || fail "alert_limit"
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rules = [r for r in recs if r["type"] == "stats"][0]["rules"]
per = collections.Counter((r["flow_id"], r["rule"]) for r in recs if r["type"] == "alert")
dup = [k for k, v in per.items() if v > 1 and k[0] != 0]
bad = [k for k, v in rules.items() if v["alerts"] + v["suppressed"] != v["packets"]]
print("pairs alerting more than once:", dup[:5], "rules not adding up:", bad[:5])
print(f"{sum(per.values())} alerts, {sum(v['suppressed'] for v in rules.values())} suppressed")
sys.exit(1 if dup or bad else 0)
PY
finish
