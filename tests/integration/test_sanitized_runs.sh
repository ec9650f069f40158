#!/usr/bin/env bash
# weir run itself under ASan+UBSan (LeakSanitizer on): defined only in a sanitizer build
# (meson -Db_sanitize=...), in the unit suite that `make test-asan` runs. Each run must
# exit 0 with no sanitizer report:
#  1. the embedded sample with rules/basic.rules (parse, flows, matching, built-in queries);
#  2. ndpi-mix, 2 workers, the ten queries of perf/queries/q10.yaml (sliding, session,
#     distinct, topk, quantiles, prefixes), bench-102 in packet mode, a stream rule, pcres
#     PCRE2 confirms and the ET Open rules.
. "$(dirname "$0")/lib.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
EAL="--no-huge -m 1024"

clean_run() { # name args...
  local name=$1; shift
  "$WEIR_BIN" run --eal "$EAL" --no-summary "$@" 2> "$TMP/$name.err"; local rc=$?
  if [ $rc -ne 0 ] || grep -q "Sanitizer\|runtime error" "$TMP/$name.err"; then
    fail "$name: exit $rc; $(grep -m3 "ERROR\|runtime error\|SUMMARY\|^weir:" "$TMP/$name.err" | tr '\n' ' ')"
  else
    ok "$name: exit 0, no sanitizer report"
  fi
}

clean_run sample --sample --rules "$WEIR_SOURCE_DIR/rules/basic.rules" --out "$TMP/sample.jsonl"

need_data pcaps/ndpi-mix.pcap
need_data patterns/bench-102.txt
# max_keys 512 a query keeps the run inside the EAL's 1 GiB, and makes hostpairs, sessions,
# https, fanout (its sketches too) and dst_ports overflow into their _other rows
{ awk '{print} /^  - name:/ {print "    max_keys: 512"}' "$WEIR_SOURCE_DIR/perf/queries/q10.yaml"
  printf 'flows: {capacity: 64k, records: true}\nrules_cache: off\n'; } > "$TMP/q10.yaml"
cat > "$TMP/stream.yaml" <<'Y'
rules:
  - id: 90001
    msg: HTTP request line, stream mode
    pattern: '^GET \S+ HTTP/1\.[01]'
    flags: [multiline]
    mode: stream
Y
# pcres PCRE2 confirms (back-reference, lookbehind, negated), with ET Open's 500 loadable rules
cat > "$TMP/confirm.rules" <<'R'
alert tcp any any -> any any (msg:"backref"; pcre:"/(\d)\.\1/"; sid:801;)
alert tcp any any -> any any (msg:"lookbehind"; pcre:"/(?<=HTTP\/)1\.[01]/"; sid:803;)
alert ip any any -> any any (msg:"neg backref"; content:"GET"; pcre:!"/(\d)\.\1/"; sid:805;)
R
et=(); for f in "$DATA"/rules/et-open/*.rules; do [ -e "$f" ] && et+=(--rules "$f"); done
clean_run ndpi-q10-rules --config "$TMP/q10.yaml" --workers 2 --pcap "$DATA/pcaps/ndpi-mix.pcap" \
  --rules "$DATA/patterns/bench-102.txt" --rules "$TMP/stream.yaml" --rules "$TMP/confirm.rules" \
  "${et[@]}" --out "$TMP/ndpi.jsonl"
[ -s "$TMP/ndpi.jsonl" ] && check_accounting "$TMP/ndpi.jsonl" > /dev/null \
  && ok "ndpi-q10-rules: rx == processed + dropped" || fail "ndpi-q10-rules: accounting"
[ "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if "\"rule\":801," in l))' "$TMP/ndpi.jsonl")" -gt 0 ] \
  && ok "ndpi-q10-rules: the PCRE2-confirmed rule alerted" || fail "ndpi-q10-rules: no alert of rule 801"
[ "$(stat "$TMP/ndpi.jsonl" queries.fanout.overflow 2>/dev/null || echo 0)" -gt 0 ] \
  && ok "ndpi-q10-rules: the overflow path ran (fanout)" || fail "ndpi-q10-rules: no overflow in fanout"
finish
