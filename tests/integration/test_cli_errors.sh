#!/usr/bin/env bash
# Bad input: a one-line error naming the file and the problem, exit status 2, and no output
# file created.
. "$(dirname "$0")/lib.sh"
expect_error() { # name, regex the error must match, weir args...
  local name=$1 re=$2; shift 2
  rm -f "$TMP/out.jsonl"
  "$WEIR_BIN" "$@" > "$TMP/stdout" 2> "$TMP/stderr"; local rc=$?
  if [ $rc -ne 2 ]; then fail "$name: exit $rc, want 2 ($(head -2 "$TMP/stderr"))"; return; fi
  if ! grep -Eq "$re" "$TMP/stderr"; then fail "$name: error does not match /$re/: $(cat "$TMP/stderr")"; return; fi
  [ -e "$TMP/out.jsonl" ] && { fail "$name: output file was created"; return; }
  ok "$name: $(grep -E "$re" "$TMP/stderr" | head -1)"
}
printf 'this is not a capture\n' > "$TMP/garbage.pcap"
head -c 40 "$WEIR_SOURCE_DIR/tests/data/sample.pcap" > "$TMP/cut.pcap"
printf 'queries:\n  - name: q\n    group_by: [src_mac]\n    window: {type: tumbling, size: 60s}\n    aggregates: [packets]\n' > "$TMP/badfield.yaml"
printf 'workers: 1\nbogus_knob: 3\n' > "$TMP/badkey.yaml"
printf 'workers: [1\n' > "$TMP/syntax.yaml"
expect_error "missing pcap" "nope\.pcap" run --pcap "$TMP/nope.pcap" --out "$TMP/out.jsonl"
expect_error "garbage pcap" "garbage\.pcap" run --pcap "$TMP/garbage.pcap" --out "$TMP/out.jsonl"
expect_error "unknown driver" "net_bogus" run --port net_bogus0 --out "$TMP/out.jsonl"
expect_error "unknown field" "badfield\.yaml:3.*src_mac" run --config "$TMP/badfield.yaml" --sample --out "$TMP/out.jsonl"
expect_error "unknown key" "badkey\.yaml:2.*bogus_knob" run --config "$TMP/badkey.yaml" --sample --out "$TMP/out.jsonl"
expect_error "yaml syntax" "syntax\.yaml:[0-9]+" run --config "$TMP/syntax.yaml" --sample --out "$TMP/out.jsonl"
expect_error "missing config" "absent\.yaml" run --config "$TMP/absent.yaml" --sample --out "$TMP/out.jsonl"
expect_error "bad workers" "workers" run --workers zero --sample --out "$TMP/out.jsonl"
expect_error "unknown option" "run --help" run --bogus --out "$TMP/out.jsonl"
expect_error "no source" "nothing to read" run --out "$TMP/out.jsonl"
expect_error "unknown command" "unknown command" frobnicate
# Queries: problems found when the filters are compiled at start name the file, line and query.
printf 'queries:\n  - name: web\n    filter: "tcp port eighty"\n    aggregates: [packets]\n' > "$TMP/badfilter.yaml"
expect_error "bad filter" "badfilter\.yaml:2: query 'web': filter .*eighty" run --config "$TMP/badfilter.yaml" --sample --out "$TMP/out.jsonl"
printf 'queries:\n  - name: w\n    filter: "match(12"\n    aggregates: [packets]\n' > "$TMP/badpred.yaml"
expect_error "bad weir predicate" "badpred\.yaml:2: query 'w': filter .*column" run --config "$TMP/badpred.yaml" --sample --out "$TMP/out.jsonl"
printf 'queries:\n  - name: w\n    filter: "src_label == \\"corp\\""\n    aggregates: [packets]\n' > "$TMP/nolabels.yaml"
expect_error "label without table" "query 'w': filter .*(no lookup table|label)" run --config "$TMP/nolabels.yaml" --sample --out "$TMP/out.jsonl"
printf '10.0.0.0/8,corp\n10.1.0.0/33,lab\n' > "$TMP/bad-labels.csv"
printf 'labels: %s\nqueries:\n  - name: w\n    group_by: [src_label]\n    aggregates: [packets]\n' "$TMP/bad-labels.csv" > "$TMP/labels.yaml"
expect_error "bad labels csv" "bad-labels\.csv:2" run --config "$TMP/labels.yaml" --sample --out "$TMP/out.jsonl"
printf 'queries:\n  - name: w\n    group_by: [dst_label]\n    aggregates: [packets]\n' > "$TMP/nolabelfile.yaml"
expect_error "label field without table" "nolabelfile\.yaml:2: query .w.: group_by dst_label needs a labels file" run --config "$TMP/nolabelfile.yaml" --sample --out "$TMP/out.jsonl"
printf 'queries:\n  - name: w\n    window: {type: sliding, size: 10s, slide: 20s}\n    aggregates: [packets]\n' > "$TMP/badslide.yaml"
expect_error "slide > size" "badslide\.yaml:3: query 'w': window: slide" run --config "$TMP/badslide.yaml" --sample --out "$TMP/out.jsonl"
printf 'queries:\n  - name: w\n    aggregates: [packets]\n    having: "bytes > 10"\n' > "$TMP/badhaving.yaml"
expect_error "having names a missing aggregate" "badhaving\.yaml:4: query 'w': having: aggregate 'bytes' is not one of the query's" run --config "$TMP/badhaving.yaml" --sample --out "$TMP/out.jsonl"
# EAL arguments EAL refuses: a clear error, and the runtime folder EAL made while parsing them
# (named after weir's PID) is removed, not left under /var/run/dpdk.
sh -c 'echo $$ > "$1/eal.pid"; shift; exec "$@"' sh "$TMP" "$WEIR_BIN" run --sample --out "$TMP/out.jsonl" \
  --eal "--in-memory --legacy-mem" > "$TMP/stdout" 2> "$TMP/stderr"; rc=$?
epid=$(cat "$TMP/eal.pid")
if [ $rc -eq 0 ] || ! grep -q "weir: EAL init failed" "$TMP/stderr"; then
  fail "refused EAL arguments: exit $rc, $(grep -m1 weir: "$TMP/stderr")"
elif [ -e "/var/run/dpdk/weir-$epid" ]; then
  fail "refused EAL arguments left /var/run/dpdk/weir-$epid"; rm -rf "/var/run/dpdk/weir-$epid"
else
  ok "refused EAL arguments: exit $rc, $(grep -m1 'weir: EAL' "$TMP/stderr"), no runtime folder left"
fi
# A capture cut inside a record header still runs: libpcap reads what is there.
"$WEIR_BIN" run --pcap "$TMP/cut.pcap" --out "$TMP/cut.jsonl" --no-summary 2>/dev/null \
  && ok "truncated capture runs" || fail "truncated capture should run"
# not grep -q: weir would get SIGPIPE writing the rest of a help text longer than its 4 KiB buffer
"$WEIR_BIN" --help | grep "weir run --help" >/dev/null || fail "weir --help"
"$WEIR_BIN" run --help | grep -- "--pcap FILE" >/dev/null && ok "help texts" || fail "weir run --help"
finish
