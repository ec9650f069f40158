#!/usr/bin/env bash
# Observability against a live weir (net_null port: endless frames): the Prometheus endpoint
# (--metrics and the config key; every line of two scrapes parses, counters grow, the burst-time
# histogram's buckets are cumulative and match _count; 404, 405, HEAD; a port in use and a bad
# address refuse the start with exit 2), DPDK telemetry through dpdk-telemetry.py (/weir/stats,
# /weir/rules, /weir/queries, /weir/status), and the burst_time percentiles in `weirctl --json
# stats` and the final stats record. Every process started here is stopped by its PID.
. "$(dirname "$0")/lib.sh"
: "${WEIRCTL_BIN:?WEIRCTL_BIN not set (run through meson test)}"
command -v curl > /dev/null || { echo "SKIP: curl is not installed (.ci/deps.sh installs it)"; exit 77; }
RULES=$WEIR_SOURCE_DIR/rules/basic.rules
TELEMETRY=$(command -v dpdk-telemetry.py || echo /usr/bin/dpdk-telemetry.py)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SOCK=$TMP/weir.sock
PORT=$(free_port)
if ! start_weir "$SOCK" "$TMP/out.jsonl" "$TMP/err" --control "$SOCK" --metrics "127.0.0.1:$PORT" --rules "$RULES"; then
  fail "weir --metrics did not come up: $(tail -3 "$TMP/err")"
  finish
fi
WPID=$pid
URL=http://127.0.0.1:$PORT/metrics
ok "weir running (pid $WPID), metrics on 127.0.0.1:$PORT"

# 1. two scrapes: the format, the families, counters that grow, the histogram
curl -sf -o "$TMP/m1.txt" -D "$TMP/h1.txt" "$URL" || fail "GET /metrics: curl exit $?"
sleep 1
curl -sf -o "$TMP/m2.txt" "$URL" || fail "second GET /metrics: curl exit $?"
grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/h1.txt" && ok "content type text/plain; version=0.0.4" ||
  fail "content type: $(grep -i content-type "$TMP/h1.txt")"
python3 - "$TMP/m1.txt" "$TMP/m2.txt" <<'PY' && ok "two scrapes parse; counters grow; burst histogram cumulative, +Inf == _count" || fail "metrics format (above)"
import math, re, sys
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
sample_re = re.compile(rf"^({name_re})(?:\{{(.*)\}})? (\S+)$")
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')

def parse(path):
    types, helps, samples = {}, {}, {}
    for n, line in enumerate(open(path).read().split("\n"), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], *line[7:].split(" ", 1)
            assert re.fullmatch(name_re, name), f"{path}:{n}: bad name {name}"
            (helps if kind == "HELP" else types)[name] = rest
            assert kind == "HELP" or rest in ("counter", "gauge", "histogram", "summary", "untyped"), line
            continue
        assert not line.startswith("#"), f"{path}:{n}: stray comment {line}"
        m = sample_re.match(line)
        assert m, f"{path}:{n}: not a sample: {line!r}"
        name, labels, value = m.groups()
        lab, pos = {}, 0
        while labels and pos < len(labels):
            lm = label_re.match(labels, pos)
            assert lm, f"{path}:{n}: bad labels {labels!r}"
            lab[lm.group(1)] = lm.group(2)
            pos = lm.end()
        v = float(value)
        assert not math.isnan(v), line
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert fam in types and fam in helps, f"{path}:{n}: {name} has no # TYPE/# HELP before it"
        key = (name, tuple(sorted(lab.items())))
        assert key not in samples, f"{path}:{n}: duplicate series {key}"
        samples[key] = v
    return types, samples

t1, s1 = parse(sys.argv[1])
t2, s2 = parse(sys.argv[2])
want = ["weir_rx_packets_total", "weir_processed_packets_total", "weir_dropped_packets_total",
        "weir_malformed_packets_total", "weir_port_ipackets_total", "weir_rule_matches_total",
        "weir_rule_alerts_total", "weir_query_overflow_total", "weir_query_no_key_total",
        "weir_query_late_total", "weir_query_filtered_total", "weir_generation", "weir_burst_seconds"]
for f in want:
    assert f in t1, f"family {f} missing"
assert t1["weir_burst_seconds"] == "histogram" and t1["weir_rx_packets_total"] == "counter"
assert s1[("weir_generation", ())] == 1
assert ("weir_dropped_packets_total", (("reason", "ring-full"),)) in s1
assert ("weir_query_overflow_total", (("query", "hostpairs"),)) in s1
assert any(k[0] == "weir_rule_matches_total" for k in s1), "no per-rule series"
# counters: never go back; rx/processed/port ipackets grew between the scrapes
for k, v in s1.items():
    if t1.get(k[0]) == "counter" or k[0].endswith(("_bucket", "_count", "_sum")):
        assert s2[k] >= v, f"{k} went back: {v} -> {s2[k]}"
for k in [("weir_rx_packets_total", (("worker", "0"),)), ("weir_processed_packets_total", (("worker", "0"),)),
          ("weir_port_ipackets_total", (("port", "net_null0"),)), ("weir_burst_seconds_count", (("worker", "0"),))]:
    assert s2[k] > s1[k] > 0, f"{k} did not grow: {s1[k]} -> {s2[k]}"
# the histogram of each worker: le ascending, cumulative, +Inf == _count, _sum > 0
for s in (s1, s2):
    workers = {dict(k[1])["worker"] for k in s if k[0] == "weir_burst_seconds_count"}
    assert workers == {"0"}, workers
    for w in workers:
        b = sorted((float(dict(k[1])["le"]), v) for k, v in s.items()
                   if k[0] == "weir_burst_seconds_bucket" and dict(k[1])["worker"] == w)
        assert len(b) > 10 and b[-1][0] == math.inf, b[-3:]
        assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), f"buckets not cumulative: {b}"
        assert b[-1][1] == s[("weir_burst_seconds_count", (("worker", w),))], "+Inf != _count"
        assert s[("weir_burst_seconds_sum", (("worker", w),))] > 0
print(f"{len(s1)} series; rx {s1[('weir_rx_packets_total', (('worker', '0'),))]:.0f} -> "
      f"{s2[('weir_rx_packets_total', (('worker', '0'),))]:.0f}")
PY

# 2. other paths and methods
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
[ "$code" = 404 ] && ok "GET / -> 404" || fail "GET /: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics/x")
[ "$code" = 404 ] && ok "GET /metrics/x -> 404" || fail "GET /metrics/x: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'x=1' "$URL")
[ "$code" = 405 ] && ok "POST /metrics -> 405" || fail "POST: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL")
[ "$code" = 405 ] && ok "DELETE /metrics -> 405" || fail "DELETE: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$URL")
[ "$code" = 200 ] && ok "HEAD /metrics -> 200" || fail "HEAD: $code"

# 3. the port in use: exit 2, one clear line, nothing written
"$WEIR_BIN" run --port net_null0 --out "$TMP/busy.jsonl" --no-summary --metrics "127.0.0.1:$PORT" \
  > /dev/null 2> "$TMP/busy.err" & bpid=$!
PIDS+=("$bpid")
wait_exit $bpid
[ "$rc" -eq 2 ] && grep -q "metrics: cannot listen on 127.0.0.1:$PORT: Address already in use" "$TMP/busy.err" &&
  [ ! -e "$TMP/busy.jsonl" ] && ok "metrics port in use: exit 2, '$(grep metrics "$TMP/busy.err")'" ||
  fail "port in use: exit $rc, $(cat "$TMP/busy.err"), out file $(ls "$TMP/busy.jsonl" 2>&1)"

# 4. telemetry: dpdk-telemetry.py against weir's file prefix
prefix=$("$WEIRCTL_BIN" --socket "$SOCK" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["file_prefix"])')
[ "$prefix" = "weir-$WPID" ] && ok "status names the file prefix $prefix" || fail "file_prefix '$prefix'"
if [ -x "$TELEMETRY" ] || [ -f "$TELEMETRY" ]; then
  tel() { echo "$1" | python3 "$TELEMETRY" -f "$prefix" > "$2" 2> "$2.err"; }
  tel /weir/stats "$TMP/t1.json"; sleep 0.5; tel /weir/stats "$TMP/t2.json"
  python3 - "$TMP/t1.json" "$TMP/t2.json" <<'PY' && ok "/weir/stats: totals, drops by reason, workers, ports, burst_time; counters grow" || fail "/weir/stats: $(head -c 400 "$TMP/t1.json") $(cat "$TMP/t1.json.err")"
import json, sys
a, b = (json.load(open(p))["/weir/stats"] for p in sys.argv[1:])
assert a["rx"] > 0 and b["rx"] > a["rx"] and b["processed"] > a["processed"]
assert a["dropped_by_reason"] == {"ring_full": 0} and a["dropped"] == 0
assert a["workers"]["0"]["rx"] > 0 and a["workers"]["0"]["burst_p99_ns"] > 0
bt = a["burst_time"]
assert bt["bursts"] > 0 and 0 < bt["p50_ns"] <= bt["p99_ns"] <= bt["p99_9_ns"] <= bt["max_ns"], bt
assert a["ports"]["net_null0"]["ipackets"] > 0
PY
  tel /weir/rules "$TMP/r.json"
  jcheck "$TMP/r.json" 'r["/weir/rules"]["n_rules"] >= 1' \
    'all(set(v) == {"packets", "matches", "alerts", "suppressed"} for v in r["/weir/rules"]["rules"].values())' &&
    ok "/weir/rules: per-rule counters" || fail "/weir/rules: $(head -c 300 "$TMP/r.json")"
  rid=$(python3 -c 'import json,sys; print(next(iter(json.load(open(sys.argv[1]))["/weir/rules"]["rules"])))' "$TMP/r.json")
  tel "/weir/rules,$rid" "$TMP/r1.json"
  jcheck "$TMP/r1.json" "r['/weir/rules']['id'] == $rid" '"msg" in r["/weir/rules"]' &&
    ok "/weir/rules,$rid: one rule" || fail "/weir/rules,$rid: $(head -c 300 "$TMP/r1.json")"
  tel /weir/queries "$TMP/q.json"
  jcheck "$TMP/q.json" 'set(r["/weir/queries"]) == {"hostpairs", "protocols", "totals"}' \
    'set(r["/weir/queries"]["totals"]) == {"no_key", "late", "overflow", "filtered", "merge_overflow"}' &&
    ok "/weir/queries: per-query counters" || fail "/weir/queries: $(head -c 300 "$TMP/q.json")"
  tel /weir/status "$TMP/s.json"
  jcheck "$TMP/s.json" 'r["/weir/status"]["generation"] == 1' "r['/weir/status']['pid'] == $WPID" \
    'r["/weir/status"]["uptime_ms"] > 0' 'r["/weir/status"]["version"]' \
    "r['/weir/status']['metrics'] == '127.0.0.1:$PORT'" &&
    ok "/weir/status: version, pid, generation, uptime" || fail "/weir/status: $(head -c 300 "$TMP/s.json")"
else
  echo "note: $TELEMETRY is absent (Debian's dpdk package has it): telemetry not checked"
fi

# 5. weirctl stats: burst_time percentiles, total and per worker
"$WEIRCTL_BIN" --socket "$SOCK" --json stats > "$TMP/st.json" || fail "weirctl stats: exit $?"
jcheck "$TMP/st.json" 'r["stats"]["burst_time"]["bursts"] > 0' \
  'all(k in r["stats"]["burst_time"] for k in ("p50_ns", "p99_ns", "p99_9_ns", "max_ns", "mean_ns"))' \
  'r["stats"]["burst_time"]["p50_ns"] <= r["stats"]["burst_time"]["p99_ns"] <= r["stats"]["burst_time"]["p99_9_ns"] <= r["stats"]["burst_time"]["max_ns"]' \
  'r["stats"]["workers"]["0"]["burst_time"]["p99_ns"] > 0' &&
  ok "weirctl --json stats: burst_time p50/p99/p99.9/max" || fail "weirctl stats: $(head -c 400 "$TMP/st.json")"

# 6. stop by PID: exit 0, final stats record with burst_time, the runtime folder gone, port free
kill -TERM "$WPID"
wait_exit "$WPID"
[ "$rc" -eq 0 ] && ok "SIGTERM: exit 0" || fail "weir exit $rc: $(tail -3 "$TMP/err")"
[ "$(stat "$TMP/out.jsonl" burst_time.bursts 2>/dev/null || echo 0)" -gt 0 ] &&
  ok "final stats record has burst_time" || fail "final stats record: no burst_time"
[ ! -e "/var/run/dpdk/weir-$WPID" ] && ok "runtime folder /var/run/dpdk/weir-$WPID removed" ||
  fail "left behind: $(ls -la "/var/run/dpdk/weir-$WPID" 2>&1)"
python3 -c 'import socket,sys; s = socket.socket(); s.connect(("127.0.0.1", int(sys.argv[1])))' "$PORT" 2>/dev/null &&
  fail "metrics port still accepts after exit" || ok "metrics port closed after exit"

# 7. the config key, port 0 (status tells the port), and bad addresses
cat > "$TMP/m.yaml" <<Y
metrics: {listen: "127.0.0.1:0"}
Y
SOCK2=$TMP/weir2.sock
if start_weir "$SOCK2" "$TMP/out2.jsonl" "$TMP/err2" --control "$SOCK2" --config "$TMP/m.yaml"; then
  addr=$("$WEIRCTL_BIN" --socket "$SOCK2" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"])')
  # into a file first: with pipefail, grep -q leaving early would fail curl (SIGPIPE)
  curl -sf "http://$addr/metrics" > "$TMP/m0.txt" && grep -q '^weir_generation 1$' "$TMP/m0.txt" &&
    ok "config metrics: {listen: 127.0.0.1:0} serves on $addr" || fail "config metrics on '$addr'"
  kill -TERM "$pid"; wait_exit "$pid"
  [ "$rc" -eq 0 ] || fail "config run exit $rc"
else
  fail "weir with metrics: in the config did not start: $(tail -3 "$TMP/err2")"
fi
before=$fails
for bad in "127.0.0.1" "127.0.0.1:70000" "localhost:9464" "[::1]:x" ":9464"; do
  "$WEIR_BIN" run --port net_null0 --out "$TMP/bad.jsonl" --metrics "$bad" > /dev/null 2> "$TMP/bad.err"; rc=$?
  [ $rc -eq 2 ] && grep -qF -- "--metrics: metrics listen address '$bad'" "$TMP/bad.err" ||
    fail "--metrics $bad: exit $rc, $(cat "$TMP/bad.err")"
done
[ "$fails" -eq "$before" ] && ok "--metrics with a bad address (5 kinds): exit 2 with the address named"
printf 'metrics:\n  listen: 10.0.0.1\n' > "$TMP/bad.yaml"
"$WEIR_BIN" run --port net_null0 --out "$TMP/bad.jsonl" --config "$TMP/bad.yaml" > /dev/null 2> "$TMP/bad.err"; rc=$?
[ $rc -eq 2 ] && grep -q "bad.yaml:2: metrics listen address '10.0.0.1'" "$TMP/bad.err" &&
  ok "config metrics.listen without a port: exit 2 at file:line" || fail "bad.yaml: exit $rc, $(cat "$TMP/bad.err")"
printf 'metrics:\n  port: 1\n' > "$TMP/bad.yaml"
"$WEIR_BIN" run --port net_null0 --out "$TMP/bad.jsonl" --config "$TMP/bad.yaml" > /dev/null 2> "$TMP/bad.err"; rc=$?
[ $rc -eq 2 ] && grep -q "bad.yaml:2: .*port" "$TMP/bad.err" && ok "config metrics: unknown key refused" ||
  fail "unknown metrics key: exit $rc, $(cat "$TMP/bad.err")"

finish
