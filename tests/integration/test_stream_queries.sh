#!/usr/bin/env bash
# Sliding, session, filtered, label and DNS-name queries on ndpi-mix.pcap against independent
# references computed from tshark's output (tests/integration/stream_reference.py), row for
# row and exactly (window bounds, key, packets, bytes):
#   sliding   group_by [src_ip], sliding 60s/20s
#   sessions  group_by [src_ip, dst_ip], session gap 30s (+ first_ts, last_ts)
#   https     filter "tcp port 443", group_by [dst_port], tumbling 60s
#   labels    group_by [src_label] over nested CIDRs (labels: CSV), tumbling 60s
#   names     group_by [dst_name] (DNS answers seen on the wire), tumbling 60s
# plus each query's stats counters (no_key, filtered, late, overflow), and sliding and
# sessions again with 2 workers (the distributor), which must give the very same rows.
# Skipped (77) without ../shared/data or tshark.
. "$(dirname "$0")/lib.sh"
need_data pcaps/ndpi-mix.pcap
if ! command -v tshark >/dev/null; then
  echo "SKIP: tshark is not installed"
  exit 77
fi
CAP=$DATA/pcaps/ndpi-mix.pcap
REF=$(dirname "$0")/stream_reference.py

# Nested prefixes (the longest wins), a label on two prefixes, a bare address, a quoted
# label, IPv6 with a /0 catch-all; sources outside every prefix are no_key.
cat > "$TMP/labels.csv" <<'L'
# CIDR,label
10.0.0.0/8,rfc1918-10
10.0.2.0/24, vbox-nat
10.0.2.15,vbox-guest
10.8.0.0/16,vpn
192.168.0.0/16,rfc1918-192
192.168.1.0/24,home
192.168.1.128/25,home-upper
192.168.1.178/32,home-host
192.168.2.0/24,home

172.16.0.0/12,"rfc1918, 172"
127.0.0.0/8,loopback
2a01:cb01::/32,orange
2a01:cb01:2049:8b07::/64,orange-lan
::/0,ipv6-other
L

# The default watermark_delay (2s): ndpi-mix is in time order, so nothing may come late
# (checked: stats late == 0) and windows close while the capture is read, as they do live.
cat > "$TMP/all.yaml" <<Y
labels: $TMP/labels.csv
queries:
  - name: sliding
    group_by: [src_ip]
    window: {type: sliding, size: 60s, slide: 20s}
    aggregates: [packets, bytes]
  - name: sessions
    group_by: [src_ip, dst_ip]
    window: {type: session, gap: 30s}
    aggregates: [packets, bytes, first_ts, last_ts]
  - name: https
    filter: "tcp port 443"
    group_by: [dst_port]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: labels
    group_by: [src_label]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: names
    group_by: [dst_name]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
Y
# 2 workers: sliding and sessions. dst_name runs with 1 worker only: with 2, a DNS answer
# learnt on one worker reaches the other through the main lcore, asynchronously, so whether
# a packet right after the response is named depends on timing (labels and filters add
# nothing to the distributor check).
{ echo "queries:"; for q in sliding sessions; do
    sed -n "/^  - name: $q\$/,/aggregates:/p" "$TMP/all.yaml"; done; } > "$TMP/two.yaml"

if ! python3 "$REF" ref "$CAP" "$TMP/labels.csv" "$TMP/ref" 2> "$TMP/ref.err"; then
  fail "tshark reference: $(tail -3 "$TMP/ref.err")"; finish
fi
count() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$TMP/ref/counts.tsv"; }

run_weir() { # NAME CONFIG WORKERS
  if ! "$WEIR_BIN" run --config "$2" --pcap "$CAP" --workers "$3" --out "$TMP/$1.jsonl" \
       --no-summary 2> "$TMP/$1.err"; then
    fail "$1: weir exited non-zero: $(tail -3 "$TMP/$1.err")"; return 1
  fi
  python3 "$REF" weir "$TMP/$1.jsonl" "$TMP/$1" > "$TMP/$1.bad" || fail "$1: $(head -5 "$TMP/$1.bad")"
  check_accounting "$TMP/$1.jsonl" > /dev/null || fail "$1: rx != processed + dropped"
}

compare() { # RUN QUERY WHAT [REFERENCE]
  local r=$TMP/ref/${4:-$2}.tsv w=$TMP/$1/$2.tsv
  if [ ! -s "$r" ]; then fail "$1/$2: the reference is empty"; return 1; fi
  if cmp -s "$r" "$w"; then
    ok "$1/$2: $(wc -l < "$w") rows ($3) equal the tshark reference${4:+ $4}"
  else
    fail "$1/$2: differs from the tshark reference${4:+ $4} (< reference, > weir):"
    diff "$r" "$w" | grep '^[<>]' | head -20
    return 1
  fi
}

qstat() { # RUN QUERY COUNTER EXPECTED
  local got
  got=$(stat "$TMP/$1.jsonl" "queries.$2.$3")
  [ "$got" = "$4" ] || fail "$1/$2: stats $3 = $got, expected $4"
}

windows() { cut -f1 "$TMP/ref/$1.tsv" | sort -u | wc -l; }

run_weir w1 "$TMP/all.yaml" 1
compare w1 sliding "$(windows sliding) windows of 60 s every 20 s, per src_ip"
compare w1 sessions "$(cut -f3,4 "$TMP/ref/sessions.tsv" | sort -u | wc -l) address pairs"
compare w1 https "$(windows https) windows, per dst_port, of $(($(count rx) - $(count https_filtered))) packets"
compare w1 labels "$(windows labels) windows, $(cut -f3 "$TMP/ref/labels.tsv" | sort -u | wc -l) labels"
compare w1 names "$(windows names) windows, $(cut -f3 "$TMP/ref/names.tsv" | sort -u | wc -l) names"
dns=$(stat "$TMP/w1.jsonl" dns.answers)
[ "$dns" = "$(count dns_answers)" ] ||
  fail "w1: weir learnt $dns DNS answers, the tshark reference $(count dns_answers)"
rx=$(stat "$TMP/w1.jsonl" rx)
[ "$rx" = "$(count rx)" ] || fail "w1: rx=$rx, tshark read $(count rx) frames"
for q in sliding sessions https labels names; do
  qstat w1 $q late 0
  qstat w1 $q overflow 0
done
for q in sliding sessions labels names; do qstat w1 $q filtered 0; done
qstat w1 sliding no_key "$(count no_key)"
qstat w1 sessions no_key "$(count no_key)"
qstat w1 https no_key 0
qstat w1 https filtered "$(count https_filtered)"
qstat w1 labels no_key "$(count labels_no_key)"
qstat w1 names no_key "$(count names_no_key)"

run_weir w2 "$TMP/two.yaml" 2
for q in sliding sessions; do
  if cmp -s "$TMP/w1/$q.tsv" "$TMP/w2/$q.tsv"; then
    ok "w2/$q: 2 workers give the same $(wc -l < "$TMP/w2/$q.tsv") rows as 1"
  else
    fail "w2/$q: 2 workers differ from 1 (< 1 worker, > 2 workers):"
    diff "$TMP/w1/$q.tsv" "$TMP/w2/$q.tsv" | grep '^[<>]' | head -20
  fi
  qstat w2 $q late 0
  qstat w2 $q overflow 0
  qstat w2 $q no_key "$(count no_key)"
done
finish
