#!/usr/bin/env bash
# Queries changed while weir runs (processing time, 1 s tumbling windows, the bundled capture replayed
# endlessly): `query add` of a file that replaces one query (same name, other group_by/aggregates)
# and adds one with a tcpdump filter, then `query remove`. Checked on the records: the replaced
# query's old windows end exactly at the boundary the add answered and the last one is whole, its
# new windows start exactly there; the added query's windows start at its boundary and its filter
# runs; the removed query's last window ends at the boundary the remove answered and nothing of it
# comes after; query list shows the states. Refusals leave everything running.
. "$(dirname "$0")/lib.sh"
: "${WEIRCTL_BIN:?WEIRCTL_BIN not set (run through meson test)}"
PCAP=$WEIR_SOURCE_DIR/tests/data/sample.pcap
SOCK=$TMP/weir.sock
OUT=$TMP/out.jsonl
cat > "$TMP/weir.yaml" <<Y
time: processing
watermark_delay: 0s
ports: [{devargs: "net_pcap0,rx_pcap=$PCAP,infinite_rx=1", profile: pcap-infinite, mbufs: 16384}]
queries:
  - name: proto
    group_by: [proto]
    window: {type: tumbling, size: 1s}
    aggregates: [packets]
  - name: total
    window: {type: tumbling, size: 1s}
    aggregates: [packets, bytes]
Y
cat > "$TMP/add.yaml" <<'Y'
queries:
  - name: proto
    group_by: [ip_version]
    window: {type: tumbling, size: 1s}
    aggregates: [packets, bytes]
  - name: tcp_ports
    filter: "tcp"
    group_by: [dst_port]
    window: {type: tumbling, size: 1s}
    aggregates: [packets]
Y
"$WEIR_BIN" run --config "$TMP/weir.yaml" --out "$OUT" --no-summary --control "$SOCK" 2> "$TMP/err" &
pid=$!; PIDS+=("$pid"); WPID=$pid
for _ in $(seq 300); do ctl --timeout 2 status > /dev/null 2>&1 && break; kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
if ! ctl status > /dev/null 2>&1; then fail "weir did not come up: $(tail -3 "$TMP/err")"; finish; fi
ok "weir replaying the sample endlessly, processing time (pid $WPID)"
sleep 2.5

# refusals first: nothing changes
ctl query add "$TMP/none.yaml" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "none.yaml" "$TMP/e" && ok "query add of a missing file: $(cat "$TMP/e")" || fail "missing file: $rc $(cat "$TMP/e")"
printf 'queries:\n  - name: bad\n    filter: "tcp and and"\n    aggregates: [packets]\n' > "$TMP/bad.yaml"
ctl query add "$TMP/bad.yaml" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "bad.yaml:2: query 'bad': filter" "$TMP/e" && ok "bad filter refused with FILE:LINE: $(cat "$TMP/e")" ||
  fail "bad filter: $rc $(cat "$TMP/e")"
printf 'queries:\n  - name: flows\n    group_by: [flow_id]\n    aggregates: [packets]\n' > "$TMP/flow.yaml"
ctl query add "$TMP/flow.yaml" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "flow.yaml:2: query 'flows' cannot be added: it uses flow fields" "$TMP/e" &&
  ok "a query needing flow tracking refused: $(cat "$TMP/e")" || fail "flow query: $rc $(cat "$TMP/e")"
printf 'workers: 1\n' > "$TMP/noq.yaml"
ctl query add "$TMP/noq.yaml" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "no queries: list" "$TMP/e" && ok "a file without queries refused" || fail "no queries: $(cat "$TMP/e")"
ctl query remove nosuch > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "no live query 'nosuch'" "$TMP/e" && ok "remove of an unknown query refused" || fail "remove nosuch: $(cat "$TMP/e")"
ctl --json query list > "$TMP/q.json"
jcheck "$TMP/q.json" '[q["name"] for q in r["queries"]] == ["proto", "total"]' && ok "after the refusals: proto, total" ||
  fail "query list after refusals: $(cat "$TMP/q.json")"

ctl --json query add "$TMP/add.yaml" > "$TMP/add.json" || fail "query add: exit $?"
# The list at once: the old proto is "ending" only until the boundary B, less than 1 s away.
LIST_NS=$(date +%s%N)
ctl query list > "$TMP/q.txt"
jcheck "$TMP/add.json" 'r["ok"] is True' 'len(r["added"]) == 2' 'r["added"][0]["name"] == "proto"' \
  'r["added"][0]["replaces"] == 0' 'r["added"][1]["replaces"] is None' \
  'r["added"][0]["from_ns"] % 1000000000 == 0' && ok "query add: proto replaced, tcp_ports added" ||
  fail "query add: $(cat "$TMP/add.json")"
B=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["added"][0]["from_ns"])' "$TMP/add.json")
B2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["added"][1]["from_ns"])' "$TMP/add.json")
if [ "$LIST_NS" -ge "$B" ]; then
  # processing time is the wall clock: a slow machine got here after B, when it had ended
  ok "query list: taken $(( (LIST_NS - B) / 1000000 )) ms after the old proto's end, not checked"
else
  grep -q "^proto \[ending\] " "$TMP/q.txt" && grep -q "^proto  *tumbling 1s  *ip_version" "$TMP/q.txt" &&
    ok "query list: the old proto ending, the new one live" || fail "query list: $(cat "$TMP/q.txt")"
fi
sleep 3
ctl --json query remove total > "$TMP/rm.json" || fail "query remove: exit $?"
U=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["until_ns"])' "$TMP/rm.json")
sleep 3
ctl --json query list > "$TMP/q.json"
jcheck "$TMP/q.json" '[q["name"] for q in r["queries"]] == ["proto", "tcp_ports"]' \
  'all(q["state"] == "live" for q in r["queries"])' 'r["queries"][1]["filter"] == "tcp"' \
  'r["queries"][1]["counters"]["filtered"] > 0' &&
  ok "ended queries gone from query list; tcp_ports' filter drops non-TCP packets" || fail "query list: $(cat "$TMP/q.json")"
ctl shutdown > /dev/null
wait_exit "$WPID"
[ "$rc" -eq 0 ] && ok "shutdown: exit 0" || fail "exit $rc: $(tail -3 "$TMP/err")"

python3 - "$OUT" "$B" "$B2" "$U" > "$TMP/check" <<'PY' && ok "records: $(cat "$TMP/check")" || fail "records: $(cat "$TMP/check")"
import collections, json, sys
out, B, B2, U = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
win = collections.defaultdict(lambda: collections.defaultdict(list))  # kind -> start -> rows
for line in open(out):
    r = json.loads(line)
    if r.get("type") != "window" or not r.get("final"):
        continue
    q = r["query"]
    kind = q + ("_old" if q == "proto" and "proto" in r else "_new" if q == "proto" else "")
    win[kind][(r["window_start"], r["window_end"])].append(r)
errs = []
old, new, tcp, tot = win["proto_old"], win["proto_new"], win["tcp_ports"], win["total"]
if not old or max(e for s, e in old) != B: errs.append(f"old proto's last window ends {max(e for s, e in old) if old else None}, not {B}")
if any(e > B for s, e in old): errs.append("old proto counted after B")
if not new or min(s for s, e in new) != B: errs.append(f"new proto's first window starts {min(s for s, e in new) if new else None}, not {B}")
if any("bytes" not in x or "ip_version" not in x for rows in new.values() for x in rows): errs.append("new proto rows lack ip_version/bytes")
if not tcp or min(s for s, e in tcp) != B2: errs.append(f"tcp_ports starts {min(s for s, e in tcp) if tcp else None}, not {B2}")
if not tot or max(e for s, e in tot) != U: errs.append(f"total's last window ends {max(e for s, e in tot) if tot else None}, not {U}")
# whole windows: the old query's last one and the removed one's last one against their neighbours
def whole(d, end):
    pk = {k: sum(x["packets"] for x in v) for k, v in d.items()}
    last = pk.get((end - 10**9, end), 0)
    before = [v for (s, e), v in pk.items() if e < end]
    ref = sorted(before)[len(before) // 2] if before else 0
    return last, ref
for name, d, end in (("old proto", old, B), ("total", tot, U)):
    last, ref = whole(d, end)
    if not ref or last < 0.3 * ref: errs.append(f"{name}'s last window holds {last} packets, its others about {ref}: cut short")
# total was not changed by the add: its windows run on through it, back to back, none cut short
spans = sorted(tot)
if any(b[0] != a[1] for a, b in zip(spans, spans[1:])): errs.append(f"total's windows have a gap: {spans}")
if not any(s < B < e or s == B for s, e in spans): errs.append("no total window at the add's boundary")
mid = [sum(x["packets"] for x in tot[k]) for k in spans[1:-1]]
if mid and min(mid) < 0.3 * sorted(mid)[len(mid) // 2]: errs.append(f"a total window cut short: {mid}")
# between B and U every packet with an IP version is in both new proto and total
for k, rows in tot.items():
    if k in new and k[0] >= B:
        a, b = sum(x["packets"] for x in new[k]), rows[0]["packets"]
        if a > b: errs.append(f"window {k}: new proto {a} > total {b}")
print("; ".join(errs) if errs else
      f"old proto ends at B, new proto and tcp_ports start at their boundaries, total (unchanged) "
      f"runs on through the add back to back and ends at U; "
      f"{len(old)} old / {len(new)} new proto windows, {len(tot)} total windows")
sys.exit(1 if errs else 0)
PY
finish
