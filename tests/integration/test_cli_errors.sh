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
# A capture cut inside a record header still runs: libpcap reads what is there.
"$WEIR_BIN" run --pcap "$TMP/cut.pcap" --out "$TMP/cut.jsonl" --no-summary 2>/dev/null \
  && ok "truncated capture runs" || fail "truncated capture should run"
"$WEIR_BIN" --help | grep -q "weir run --help" || fail "weir --help"
"$WEIR_BIN" run --help | grep -q -- "--pcap FILE" && ok "help texts" || fail "weir run --help"
finish
