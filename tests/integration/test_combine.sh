#!/usr/bin/env bash
# The flow combiner (combine_flows) on ndpi-mix.pcap: twelve queries, ten of shapes it sums
# (flow-field keys and prefixes, sums, first/last time, field aggregates, distinct, topk; a
# sliding and a session window; two tcpdump filters) and two it does not (quantiles, emit
# every), give the same records with it as without it: rows_equal.py, exact but for top-k
# (whose intervals must overlap); the same per-query counters; with 1 and 2 workers, and with
# a table so small (64 flows) that it fills and hands over early. Its stats show its work.
# Skipped (77) without ../shared/data.
. "$(dirname "$0")/lib.sh"
need_data pcaps/ndpi-mix.pcap
CAP=$DATA/pcaps/ndpi-mix.pcap
EQ=$(dirname "$0")/rows_equal.py

cat > "$TMP/q.yaml" <<'Y'
queries:
  - name: hostpairs
    group_by: [src_ip, dst_ip, proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes, ip_bytes]
  - name: talkers
    group_by: [src_ip]
    window: {type: sliding, size: 60s, slide: 10s}
    aggregates: [packets, bytes, payload_bytes]
  - name: sessions
    group_by: [src_ip, dst_ip]
    window: {type: session, gap: 30s}
    aggregates: [packets, bytes, first_ts, last_ts]
  - name: https
    filter: "tcp port 443"
    group_by: [dst_ip]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: syn
    filter: "tcp[tcpflags] & tcp-syn != 0"
    group_by: [src_ip/16, dst_port]
    window: {type: sliding, size: 30s, slide: 10s}
    aggregates: [packets, avg(dst_port), max(src_port), min(src_port), sum(src_port), distinct(dst_ip)]
  - name: fanout
    group_by: [src_ip]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, distinct(dst_port)]
    having: distinct(dst_port) > 20
  - name: top_ports
    group_by: [proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, topk(dst_port, 5)]
  - name: vlans
    group_by: [vlan, ip_version]
    window: {type: tumbling, size: 20s}
    aggregates: [packets, bytes, distinct(src_ip), topk(src_ip, 3)]
  - name: global
    group_by: []
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes, ip_bytes, payload_bytes, first_ts, last_ts]
  - name: subnets
    group_by: [src_ip/24, l4_proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: sizes
    group_by: [proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, quantiles(length)]
  - name: partial
    group_by: [dst_port]
    window: {type: tumbling, size: 60s}
    emit: {every: 20s}
    aggregates: [packets, bytes]
Y
{ cat "$TMP/q.yaml"; echo "combine_flows: 0"; } > "$TMP/off.yaml"
{ cat "$TMP/q.yaml"; echo "combine_flows: 64"; } > "$TMP/small.yaml"

run() { # NAME CONFIG WORKERS
  if ! "$WEIR_BIN" run --config "$TMP/$2.yaml" --pcap "$CAP" --workers "$3" --out "$TMP/$1.jsonl" \
       --no-summary 2> "$TMP/$1.err"; then
    fail "$1: exit non-zero: $(tail -3 "$TMP/$1.err")"
  fi
}
run off off 1
run on q 1
run on2 q 2
run small small 2

nrows=$(grep -c '"type":"window"' "$TMP/off.jsonl")
[ "$nrows" -gt 40000 ] || fail "the reference run gave only $nrows rows"
for q in hostpairs talkers sessions https syn fanout top_ports vlans global subnets sizes partial; do
  grep -q "\"query\":\"$q\"" "$TMP/off.jsonl" || fail "no $q rows"
done
grep -q '"type":"alert"' "$TMP/off.jsonl" || fail "no alert from fanout's having"

queries() { python3 -c '
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r.get("type")=="stats": print(json.dumps(r["queries"], sort_keys=True))' "$1"; }
queries "$TMP/off.jsonl" > "$TMP/off.q"
# Partial rows ("final":false) are left out: what a partial holds depends on when the merger
# polls (two runs without the combiner differ there too); the final rows are compared.
grep -v '"final":false' "$TMP/off.jsonl" > "$TMP/off.final"
for r in on on2 small; do
  grep -v '"final":false' "$TMP/$r.jsonl" > "$TMP/$r.final"
  if python3 "$EQ" "$TMP/off.final" "$TMP/$r.final" > "$TMP/$r.diff"; then
    ok "$r: the same $(wc -l < "$TMP/off.final") final rows and alerts as without the combiner"
  else
    fail "$r: records differ: $(head -5 "$TMP/$r.diff")"
  fi
  queries "$TMP/$r.jsonl" > "$TMP/$r.q"
  cmp -s "$TMP/off.q" "$TMP/$r.q" && ok "$r: the same per-query counters" ||
    fail "$r: per-query counters differ: $(diff "$TMP/off.q" "$TMP/$r.q" | head -4)"
done

# Its work: most packets summed, several per flow sum; none with combine_flows: 0; the
# 64-flow table filled.
read -r pk fl full <<< "$(python3 -c '
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r.get("type")=="stats": c=r["combiner"]; print(c["packets"], c["flows"], c["full"])' "$TMP/on.jsonl")"
rx=$(stat "$TMP/on.jsonl" rx)
echo "combiner: $pk of $rx packets summed into $fl flow sums, $full full"
[ "$pk" -gt $((rx * 9 / 10)) ] && [ "$((fl * 3))" -lt "$pk" ] && [ "$full" -eq 0 ] &&
  ok "1 worker: most packets summed, over 3 a flow sum" || fail "1 worker: combiner stats $pk $fl $full"
[ "$(stat "$TMP/off.jsonl" combiner.packets)" -eq 0 ] && ok "combine_flows: 0 sums nothing" ||
  fail "combine_flows: 0 still summed packets"
[ "$(stat "$TMP/small.jsonl" combiner.full)" -gt 0 ] && ok "64 flows: the table filled" ||
  fail "64 flows: never full"
finish
