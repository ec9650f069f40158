#!/usr/bin/env bash
# Control socket and weirctl against a live weir (net_null port: endless frames, so it keeps running
# and counting): every command through weirctl (tables and --json), the bad inputs (malformed JSON,
# oversized request, unknown command, a client that never sends, 1,000 clients at once), the socket
# path checks (regular file, stale socket, socket in use, missing directory), mode 0600, the config
# key, `shutdown` ending weir with exit 0 and its final stats record, and a weir whose output
# reader is slower than its alerts still answering. Every process started here is stopped by its PID.
. "$(dirname "$0")/lib.sh"
: "${WEIRCTL_BIN:?WEIRCTL_BIN not set (run through meson test)}"
RULES=$WEIR_SOURCE_DIR/rules/basic.rules
SOCK=$TMP/weir.sock
OUT=$TMP/out.jsonl
if ! start_weir "$SOCK" "$OUT" "$TMP/err" --control "$SOCK" --rules "$RULES"; then
  fail "weir --control did not come up: $(tail -3 "$TMP/err")"
  finish
fi
WPID=$pid
ok "weir running (pid $WPID), control socket answers"

# 1. the socket: a socket, owner-only
mode=$(command stat -c '%a %F' "$SOCK")
[ "$mode" = "600 socket" ] && ok "socket mode 0600" || fail "socket: '$mode', want '600 socket'"

# 2. every command, --json and tables
ctl --json status > "$TMP/status.json" || fail "status: exit $?"
jcheck "$TMP/status.json" 'r["ok"] is True' 'r["cmd"] == "status"' 'r["version"]' \
  "r['pid'] == $WPID" 'r["uptime_s"] > 0' 'r["workers"] == 1' 'r["ports"] == ["net_null0"]' \
  'r["generation"] == 1' 'r["rules"] >= 1' 'r["queries"] == 3' 'r["config"] is None' \
  && ok "status --json" || fail "status --json"
ctl status > "$TMP/status.txt" && grep -q "^pid  *$WPID$" "$TMP/status.txt" &&
  grep -q "^ports  *net_null0$" "$TMP/status.txt" && ok "status table" ||
  fail "status table: $(cat "$TMP/status.txt")"

ctl --json stats > "$TMP/stats1.json" || fail "stats: exit $?"
jcheck "$TMP/stats1.json" 'r["ok"] is True' 'r["stats"]["type"] == "stats"' 'r["stats"]["rx"] > 0' \
  '"0" in r["stats"]["workers"]' '"net_null0" in r["stats"]["ports"]' \
  'set(r["stats"]["queries"]) == {"hostpairs", "protocols", "totals"}' '"rules" in r["stats"]' \
  && ok "stats --json: the stats record's fields" || fail "stats --json"
ctl stats > "$TMP/stats.txt" && grep -q "^rx [0-9]* *processed [0-9]*" "$TMP/stats.txt" &&
  grep -q "^net_null0 " "$TMP/stats.txt" && grep -q "^hostpairs " "$TMP/stats.txt" &&
  grep -Eq "^burst time: [1-9][0-9]* bursts, p50 [0-9]+ ns, p99 [0-9]+ ns, p99.9 [0-9]+ ns, max [0-9]+ ns" "$TMP/stats.txt" &&
  grep -Eq "^cycles/packet: rx [0-9]+ parse [0-9]+ .*window [0-9]+ .*total [1-9][0-9]*$" "$TMP/stats.txt" &&
  ok "stats table (burst time and cycles/packet lines included)" || fail "stats table: $(head -20 "$TMP/stats.txt")"

ctl --json rules list > "$TMP/rules.json" || fail "rules list: exit $?"
nrules=$(grep -c '^alert' "$RULES")
jcheck "$TMP/rules.json" 'r["ok"] is True' "len(r['rules']) == $nrules" \
  'all(set(x) >= {"id","msg","severity","action","packets","matches","alerts","suppressed"} for x in r["rules"])' \
  'r["rules"][0]["action"] == "alert"' && ok "rules list --json: $nrules rules" || fail "rules list --json"
ctl rules list > "$TMP/rules.txt" && [ "$(grep -c '^[0-9]' "$TMP/rules.txt")" -eq "$nrules" ] &&
  sed -n 1p "$TMP/rules.txt" | grep -q "^generation 1$" && sed -n 2p "$TMP/rules.txt" | grep -q "^id .*msg$" && ok "rules list table" ||
  fail "rules list table: $(cat "$TMP/rules.txt")"

ctl --json query list > "$TMP/q.json" || fail "query list: exit $?"
jcheck "$TMP/q.json" 'r["ok"] is True' '[q["name"] for q in r["queries"]] == ["hostpairs","protocols","totals"]' \
  'r["queries"][0]["group_by"] == ["src_ip","dst_ip","proto"]' \
  'r["queries"][0]["window"] == {"type":"tumbling","size_s":60.0,"lateness_s":0.0,"emit_every_s":0.0}' \
  'r["queries"][2]["aggregates"] == ["packets","bytes","ip_bytes","payload_bytes"]' \
  'r["queries"][0]["filter"] is None and r["queries"][0]["having"] is None' \
  'r["queries"][0]["counters"]["no_key"] > 0' && ok "query list --json" || fail "query list --json"
ctl query list > "$TMP/q.txt" && grep -q "^hostpairs  *tumbling 60s  *src_ip, dst_ip, proto" "$TMP/q.txt" &&
  ok "query list table" || fail "query list table: $(cat "$TMP/q.txt")"

ctl --json log level info > "$TMP/log.json" && jcheck "$TMP/log.json" 'r["level"] == "info"' &&
  ctl log level | grep -q "^level  *info$" && ok "log level: set and read back" || fail "log level"
ctl log level loud > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "'loud' is not one of" "$TMP/e" && ok "log level loud: exit 1, $(cat "$TMP/e")" ||
  fail "log level loud: exit $rc: $(cat "$TMP/e")"

# 3. errors through weirctl
ctl frobnicate > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "unknown command 'frobnicate' (known: .*status.*shutdown" "$TMP/e" &&
  ok "unknown command: exit 1, $(cat "$TMP/e")" || fail "unknown command: exit $rc: $(cat "$TMP/e")"
ctl --json frobnicate > "$TMP/e.json"; jcheck "$TMP/e.json" 'r["ok"] is False' '"unknown command" in r["error"]' &&
  ok "unknown command --json: ok false" || fail "unknown command --json"
"$WEIRCTL_BIN" --socket "$TMP/none.sock" status > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 2 ] && grep -q "none.sock: No such file or directory (is weir running with --control?)" "$TMP/e" &&
  ok "no socket: exit 2, $(cat "$TMP/e")" || fail "no socket: exit $rc: $(cat "$TMP/e")"
"$WEIRCTL_BIN" status > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 2 ] && ok "no --socket: exit 2, $(cat "$TMP/e")" || fail "no --socket: exit $rc"

# 4. the protocol's bad inputs, straight on the socket
python3 - "$SOCK" "$WEIRCTL_BIN" > "$TMP/proto.log" 2>&1 <<'PY'
import json, socket, subprocess, sys, time
path, weirctl = sys.argv[1], sys.argv[2]

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    return s

def lines(s, n=1):
    buf = b""
    while buf.count(b"\n") < n:
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
    return [json.loads(l) for l in buf.decode().split("\n") if l]

def ask(raw):
    s = conn()
    s.sendall(raw)
    if not raw.endswith(b"\n"):
        s.shutdown(socket.SHUT_WR)
    r = lines(s)
    s.close()
    return r[0]

r = ask(b'{"cmd": "status",\n')
assert r["ok"] is False and r["error"].startswith("malformed JSON"), r
print("malformed JSON:", r["error"])
r = ask(b'[1,2]\n')
assert r["ok"] is False and "JSON object" in r["error"], r
r = ask(b'{"args":[]}\n')
assert r["ok"] is False and '"cmd" missing' in r["error"], r
r = ask(b'{"cmd":"status","args":[{}]}\n')
assert r["ok"] is False and '"args"[0]' in r["error"], r
r = ask(b'{"cmd":"status","bogus":1}\n')
assert r["ok"] is False and 'unknown member "bogus"' in r["error"], r
r = ask(b'{"cmd":"status"}')  # no newline, then EOF: still answered
assert r["ok"] is True, r
print("non-object, missing cmd, bad args, unknown member: errors; request at EOF answered")

# two requests in one write, answered in order on one connection
s = conn()
s.sendall(b'{"cmd":"status"}\n{"cmd":"query list"}\n')
rs = lines(s, 2)
assert [x["cmd"] for x in rs] == ["status", "query list"] and all(x["ok"] for x in rs), rs
s.close()
print("pipelined requests: both answered in order")

# oversized: 70 KB without a newline -> one error line, then the connection is closed
s = conn()
try:
    s.sendall(b'{"cmd":"' + b"x" * 70000)
except (BrokenPipeError, ConnectionResetError):
    pass
rs = lines(s, 2)
assert len(rs) == 1 and rs[0]["ok"] is False and "longer than 65536" in rs[0]["error"], rs
assert s.recv(10) == b"", "oversized request: connection not closed"
print("oversized:", rs[0]["error"])

# a client that connects and never sends: others are served meanwhile, it is closed after ~2 s
idle = conn()
t0 = time.time()
for _ in range(5):
    out = subprocess.run([weirctl, "--socket", path, "--json", "status"], capture_output=True, timeout=10)
    assert out.returncode == 0 and json.loads(out.stdout)["ok"], out
idle.settimeout(10)
assert idle.recv(10) == b"", "idle client got data"
dt = time.time() - t0
assert 1.5 <= dt <= 5, f"idle client closed after {dt:.2f} s"
print(f"idle client: others served meanwhile, it was closed after {dt:.2f} s")

# a half line, then silence: closed too
s = conn()
s.sendall(b'{"cmd":"sta')
s.settimeout(10)
assert s.recv(10) == b"", "half-line client got data"
print("half-line client closed")
PY
rc=$?
sed 's/^/  /' "$TMP/proto.log"
[ $rc -eq 0 ] && ok "protocol bad inputs" || fail "protocol bad inputs"

# 5. 1,000 clients at once: weir admits what it can (64), rejects the rest with an error line, keeps
#    serving and keeps processing packets.
rx0=$(ctl --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["rx"])')
python3 - "$SOCK" > "$TMP/many.log" 2>&1 <<'PY'
import json, resource, socket, sys, time
path = sys.argv[1]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks = []
t0 = time.time()
for i in range(1000):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)  # blocking: waits while the listen backlog is full
    s.settimeout(10)
    socks.append(s)
for s in socks:
    try:
        s.sendall(b'{"cmd":"stats"}\n')
    except OSError:
        pass  # rejected and closed already
ok = busy = closed = 0
for s in socks:
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
    except OSError:
        pass
    s.close()
    if not buf:
        closed += 1
        continue
    r = json.loads(buf)
    if r["ok"]:
        assert r["stats"]["rx"] > 0
        ok += 1
    else:
        assert "too many control clients" in r["error"], r
        busy += 1
print(f"1000 clients in {time.time() - t0:.2f} s: {ok} answered, {busy} rejected with an error line, "
      f"{closed} closed without a line")
assert 1 <= ok <= 64, ok
assert ok + busy + closed == 1000
assert busy >= 900, busy
PY
rc=$?
sed 's/^/  /' "$TMP/many.log"
[ $rc -eq 0 ] && ok "1,000 clients at once" || fail "1,000 clients at once"
sleep 0.5
kill -0 $WPID 2>/dev/null && ok "weir still running" || fail "weir died"
ctl --json stats > "$TMP/stats2.json" || fail "stats after the flood: exit $?"
rx1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["rx"])' "$TMP/stats2.json")
jcheck "$TMP/stats2.json" "r['stats']['rx'] > $rx0" "r['stats']['processed'] > $rx0" &&
  ok "packets kept flowing: rx $rx0 -> $rx1" || fail "rx did not grow: $rx0 -> $rx1"

# 6. shutdown: exit 0 with the final stats record; the socket is removed
ctl --json shutdown > "$TMP/sd.json"; rc=$?
[ $rc -eq 0 ] && jcheck "$TMP/sd.json" 'r["ok"] is True' || fail "shutdown: exit $rc"
wait_exit $WPID
if [ "$rc" -eq 0 ]; then
  acc=$(check_accounting "$OUT") && ok "shutdown: weir exit 0, final stats record, $acc" ||
    fail "shutdown: stats record: $acc"
else
  fail "shutdown: weir exit $rc: $(tail -3 "$TMP/err")"
fi
[ ! -e "$SOCK" ] && ok "socket removed at exit" || fail "socket left behind"

# 7. socket path checks: exit 2 with a message, nothing written
check_refused() { # name path expected-message
  local out="$TMP/ref.jsonl"
  rm -f "$out"
  "$WEIR_BIN" run --port net_null0 --out "$out" --no-summary --control "$2" 2> "$TMP/e" &
  local p=$!
  PIDS+=("$p")
  wait_exit $p
  if [ "$rc" -eq 2 ] && grep -q "$3" "$TMP/e" && [ ! -e "$out" ]; then
    ok "$1: exit 2, $(grep "$3" "$TMP/e")"
  else
    fail "$1: exit $rc: $(tail -2 "$TMP/e")"
  fi
}
echo "not a socket" > "$TMP/file.sock"
check_refused "regular file at the path" "$TMP/file.sock" "exists and is not a socket"
[ "$(cat "$TMP/file.sock")" = "not a socket" ] && ok "the regular file is left alone" || fail "file changed"
check_refused "missing directory" "$TMP/nodir/x.sock" "directory .*nodir: No such file or directory"
check_refused "path too long" "$TMP/$(printf 'x%.0s' $(seq 120)).sock" "path too long"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(30)' "$TMP/live.sock" &
lpid=$!
PIDS+=("$lpid")
for _ in $(seq 50); do [ -S "$TMP/live.sock" ] && break; sleep 0.1; done
check_refused "socket someone listens on" "$TMP/live.sock" "in use"
kill $lpid; wait $lpid 2>/dev/null

# 8. a stale socket (its process gone): removed, weir starts; here through the config key
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$TMP/stale.sock"
[ -S "$TMP/stale.sock" ] || fail "could not make a stale socket"
printf 'control_socket: %s\n' "$TMP/stale.sock" > "$TMP/ctl.yaml"
if start_weir "$TMP/stale.sock" "$TMP/out2.jsonl" "$TMP/err2" --config "$TMP/ctl.yaml"; then
  SOCK=$TMP/stale.sock
  ctl --json status > "$TMP/st2.json" && jcheck "$TMP/st2.json" "r['config'] == '$TMP/ctl.yaml'" &&
    ok "stale socket replaced; control_socket from the config file" || fail "stale: status"
  [ "$(command stat -c %a "$TMP/stale.sock")" = 600 ] || fail "stale: new socket mode $(command stat -c %a "$TMP/stale.sock")"
  ctl shutdown > /dev/null
  wait_exit $pid
  [ "$rc" -eq 0 ] && ok "shutdown (table output): exit 0" || fail "second weir exit $rc"
else
  fail "stale socket: weir did not start: $(tail -3 "$TMP/err2")"
  kill -KILL $pid 2>/dev/null
fi


# 9. windows show: what the merger holds of open windows (1 s panes and gaps, so it fills fast)
cat > "$TMP/win.yaml" <<'Y'
queries:
  - name: slide
    window: {type: sliding, size: 60s, slide: 1s}
    aggregates: [packets, bytes]
  - name: sess
    window: {type: session, gap: 1s}
    aggregates: [packets]
Y
SOCK=$TMP/win.sock
if start_weir "$SOCK" "$TMP/out3.jsonl" "$TMP/err3" --config "$TMP/win.yaml" --control "$SOCK"; then
  sleep 3
  ctl --json windows show slide --top 2 > "$TMP/w.json" || fail "windows show: exit $?"
  jcheck "$TMP/w.json" 'r["ok"] and r["query"] == "slide" and len(r["windows"]) > 0' \
    'all(w["window_end"] - w["window_start"] == 60 * 10**9 for w in r["windows"])' \
    'all(row["final"] is False and row["packets"] > 0 for w in r["windows"] for row in w["rows"])' &&
    ok "windows show --json: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["windows"]))' "$TMP/w.json") open sliding windows with partial rows" ||
    fail "windows show --json: $(head -c 300 "$TMP/w.json")"
  ctl --json windows show sess > "$TMP/s.json" &&
    jcheck "$TMP/s.json" 'r["windows"] and r["windows"][0]["rows"][0]["packets"] > 0' &&
    ok "windows show of a session query: the open session" || fail "windows show sess: $(head -c 300 "$TMP/s.json")"
  ctl windows show slide --top 1 | grep '^slide \[[0-9]*, [0-9]*) 1 keys$' >/dev/null &&
    ok "windows show table" || fail "windows show table: $(ctl windows show slide --top 1 | head -3)"
  ctl windows show nope 2> "$TMP/e" > /dev/null; rc=$?
  [ $rc -eq 1 ] && grep -q "no query 'nope'" "$TMP/e" && ok "windows show of an unknown query: exit 1" ||
    fail "windows show nope: exit $rc $(cat "$TMP/e")"
  ctl windows show slide --top zero 2> "$TMP/e" > /dev/null; rc=$?
  [ $rc -eq 1 ] && grep -q -- "--top" "$TMP/e" && ok "windows show --top zero refused" || fail "--top zero: exit $rc"
  ctl shutdown > /dev/null
  wait_exit $pid
  [ "$rc" -eq 0 ] || fail "third weir exit $rc"
else
  fail "windows show: weir did not start: $(tail -3 "$TMP/err3")"
fi

# 8. A reader slower than the alerts (a FIFO drained at ~6 MB/s): the main lcore still answers
# between batches of records (it used to stay in the drain loop: every request timed out), the
# alerts that find the record ring full are counted as alerts_lost, and shutdown ends it.
mkfifo "$TMP/slow.fifo"
python3 -c '
import sys, time
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as o:
    while (b := f.read(65536)):
        o.write(b)
        time.sleep(0.01)' "$TMP/slow.fifo" "$TMP/slow.jsonl" & READER=$!; PIDS+=("$READER")
SOCK=$TMP/slow.sock
"$WEIR_BIN" run --port "net_pcap0,rx_pcap=$WEIR_SOURCE_DIR/tests/data/sample.pcap,infinite_rx=1" \
  --rules "$RULES" --out "$TMP/slow.fifo" --no-summary --control "$SOCK" 2> "$TMP/err4" & pid=$!
PIDS+=("$pid")
for _ in $(seq 300); do ctl --timeout 2 status > /dev/null 2>&1 && break; sleep 0.1; done
sleep 2
late=0
for _ in $(seq 10); do ctl --timeout 5 status > /dev/null 2>> "$TMP/e4" || late=$((late + 1)); sleep 0.2; done
[ "$late" -eq 0 ] && ok "slow output reader: 10 of 10 status requests answered within 5 s" ||
  fail "slow output reader: $late of 10 status requests unanswered: $(tail -1 "$TMP/e4")"
ctl shutdown > /dev/null
wait_exit $pid
wait "$READER" 2>/dev/null
[ "$rc" -eq 0 ] && lost=$(stat "$TMP/slow.jsonl" inspect.alerts_lost) && [ "$lost" -gt 0 ] &&
  check_accounting "$TMP/slow.jsonl" > /dev/null &&
  ok "slow output reader: exit 0, $lost alerts lost to the full record ring and counted" ||
  fail "slow output reader: exit $rc, alerts_lost '${lost:-}' $(tail -2 "$TMP/err4")"

finish
