#!/usr/bin/env bash
# Every capture in ../shared/data/pcaps/proto (malformed, truncated, fuzzed, pcapng, raw IPv6)
# runs to completion with exit 0, rx equal to the file's record count (libpcap's count via
# tshark), and rx == processed + dropped.
. "$(dirname "$0")/lib.sh"
need_data pcaps/proto
n=0
for f in "$DATA"/pcaps/proto/*.pcap "$DATA"/pcaps/proto/*.pcapng; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  b=$(basename "$f")
  out="$TMP/$b.jsonl"
  if ! timeout 120 "$WEIR_BIN" run --pcap "$f" --out "$out" --no-summary 2> "$TMP/err"; then
    fail "$b: exit $? $(tail -2 "$TMP/err")"; continue
  fi
  check_accounting "$out" > /dev/null || { fail "$b: rx != processed + dropped"; continue; }
  want=$(tshark -r "$f" -T fields -e frame.number 2>/dev/null | wc -l)
  got=$(stat "$out" rx)
  [ "$got" = "$want" ] || { fail "$b: rx=$got, tshark counts $want frames"; continue; }
  ok "$b: $got packets"
done
[ "$n" -gt 30 ] || fail "only $n captures found"
# the same with two workers (distributor path) on the nastiest ones
for f in "$DATA"/pcaps/proto/bad-*; do
  b=$(basename "$f")
  timeout 120 "$WEIR_BIN" run --pcap "$f" --workers 2 --out "$TMP/w2.jsonl" --no-summary 2>/dev/null \
    && check_accounting "$TMP/w2.jsonl" >/dev/null && ok "$b (2 workers)" || fail "$b (2 workers)"
done
finish
