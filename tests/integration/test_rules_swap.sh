#!/usr/bin/env bash
# Rule generations under load: weir replays the bundled sample capture endlessly (net_pcap
# infinite_rx) at full speed while the control socket swaps rule sets.
#  1. rules reload / add / remove / status through weirctl: generation ids, the delta and the
#     background merge, counters carried by rule id, the compiled-database cache on an unchanged set.
#  2. refusals that keep the running generation: an invalid rule (FILE:LINE in the error), a missing
#     file, a duplicate id on add, an unknown id on remove, a compile past rules_compile_timeout /
#     rules_compile_memory (a separate weir with tiny bounds).
#  3. SIGHUP re-reads the config file's rule list; a broken config file is reported, nothing changes.
#  4. 100 swaps alternating two rule sets: no crash, exit 0, rx == processed + dropped, and every alert
#     names a generation whose rule set holds its rule (the generation -> set map is what each reload
#     answered).
# Every process started here is stopped by its PID.
. "$(dirname "$0")/lib.sh"
: "${WEIRCTL_BIN:?WEIRCTL_BIN not set (run through meson test)}"
A=$WEIR_SOURCE_DIR/rules/basic.rules     # Suricata subset: 1000001..1000004
B=$WEIR_SOURCE_DIR/rules/example.yaml    # native: 1001..1004
PCAP=$WEIR_SOURCE_DIR/tests/data/sample.pcap
# field NAME: of the last --json response in $TMP/r.json
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"r": r}))' "$TMP/r.json" "$1"; }
ids() { ctl --json rules list | python3 -c 'import json,sys; print(" ".join(str(x["id"]) for x in json.load(sys.stdin)["rules"]))'; }

cat > "$TMP/weir.yaml" <<Y
flows: {capacity: 65536, streams: 4096}
rules_cache: $TMP/hs
ports: [{devargs: "net_pcap0,rx_pcap=$PCAP,infinite_rx=1", profile: pcap-infinite, mbufs: 16384}]
rules: [$A]
Y
SOCK=$TMP/weir.sock
OUT=$TMP/out.jsonl
replay() { "$WEIR_BIN" run --config "$1" --out "$2" --no-summary --control "$3" 2> "$4" & pid=$!; PIDS+=("$pid"); }
up() { for _ in $(seq 300); do "$WEIRCTL_BIN" --socket "$1" --timeout 2 status > /dev/null 2>&1 && return 0
         kill -0 "$pid" 2>/dev/null || return 1; sleep 0.1; done; return 1; }
replay "$TMP/weir.yaml" "$OUT" "$SOCK" "$TMP/err"
if ! up "$SOCK"; then fail "weir did not come up: $(tail -3 "$TMP/err")"; finish; fi
WPID=$pid
ok "weir replaying $PCAP endlessly (pid $WPID)"

# ---- 1. reload, cache, add, merge, remove, counters ---------------------------------------
[ "$(ids)" = "1000001 1000002 1000003 1000004" ] && ok "generation 1: the config's rules" ||
  fail "generation 1 rules: $(ids)"
ctl --json rules list > "$TMP/r.json"
before=$(field '[x["packets"] for x in r["rules"] if x["id"]==1000004][0]')

cat "$A" > "$TMP/a2.rules"
echo 'alert tcp any any -> any any (msg:"TCP payload with GET"; content:"GET "; sid:7000001; rev:1;)' >> "$TMP/a2.rules"
ctl --json rules reload "$TMP/a2.rules" > "$TMP/r.json" || fail "reload a2: exit $?"
jcheck "$TMP/r.json" 'r["ok"] is True' 'r["generation"] == 2' 'r["job"]["state"] == "done"' \
  'r["job"]["op"] == "reload"' 'r["job"]["generation"] == 2' 'r["rules"] == 5' 'r["delta"] is False' &&
  ok "rules reload FILE: generation 2, 5 rules" || fail "reload a2"
sleep 0.5
ctl --json rules list > "$TMP/r.json"
after=$(field '[x["packets"] for x in r["rules"] if x["id"]==1000004][0]')
[ "$after" -gt "$before" ] && [ "$before" -gt 0 ] &&
  ok "rule 1000004 counters carry on through the reload ($before -> $after packets)" ||
  fail "rule 1000004 counters: $before before, $after after the reload"

ctl --json rules reload "$TMP/a2.rules" > "$TMP/r.json"
jcheck "$TMP/r.json" 'r["generation"] == 3' 'r["job"]["cache_misses"] == 0' 'r["job"]["cache_hits"] > 0' &&
  ok "reloading an unchanged set hits the compiled-database cache ($(field 'r["job"]["cache_hits"]') hits, 0 misses)" ||
  fail "unchanged reload: $(cat "$TMP/r.json")"
ctl rules reload > "$TMP/t.txt" && grep -q "^generation  *4$" "$TMP/t.txt" &&
  grep -q "^job .*(reload) done$" "$TMP/t.txt" && ok "rules reload (no file: the running files), table output" ||
  fail "rules reload table: $(cat "$TMP/t.txt")"

ctl --json rules add "$B" > "$TMP/r.json" || fail "rules add: exit $?"
jcheck "$TMP/r.json" 'r["job"]["op"] == "add"' 'r["job"]["state"] == "done"' 'r["job"]["rules"] == 4' \
  'r["rules"] == 9' && ok "rules add: a 4-rule delta compiled, 9 rules live" || fail "rules add: $(cat "$TMP/r.json")"
for _ in $(seq 100); do ctl --json rules status > "$TMP/r.json"
  [ "$(field 'r["merge"]')" = idle ] && [ "$(field 'r["delta"]')" = False ] && break; sleep 0.1; done
jcheck "$TMP/r.json" 'r["merges"] >= 1' 'r["delta"] is False' 'r["rules"] == 9' &&
  ok "background merge: base + delta folded into one base (generation $(field 'r["generation"]'))" ||
  fail "merge: $(cat "$TMP/r.json")"
[ "$(ids)" = "1001 1002 1003 1004 1000001 1000002 1000003 1000004 7000001" ] ||
  [ "$(echo $(ids | tr ' ' '\n' | sort -n))" = "1001 1002 1003 1004 1000001 1000002 1000003 1000004 7000001" ] &&
  ok "rules list after add + merge: both files' rules" || fail "rules after merge: $(ids)"
g=$(field 'r["generation"]')
ctl --json rules remove 1000001 7000001 > "$TMP/r.json"
jcheck "$TMP/r.json" "r['generation'] == $g + 1" 'r["rules"] == 7' &&
  ok "rules remove 1000001 7000001: published at once as generation $((g + 1)), 7 rules" ||
  fail "rules remove: $(cat "$TMP/r.json")"
ids | grep -qw 1000001 && fail "1000001 still listed after remove" || ok "removed rules are gone from rules list"

# ---- 2. refusals keep the running generation ----------------------------------------------
for _ in $(seq 100); do ctl --json rules status > "$TMP/r.json"; [ "$(field 'r["merge"]')" = idle ] && break; sleep 0.1; done
g=$(field 'r["generation"]')
cp "$A" "$TMP/bad.rules"
echo 'alert tcp any any -> any any (msg:"broken"; pcre:"/(unclosed/"; sid:7000002; rev:1;)' >> "$TMP/bad.rules"
line=$(wc -l < "$TMP/bad.rules")
ctl rules reload "$TMP/bad.rules" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "bad.rules:$line: sid 7000002.*hyperscan" "$TMP/e" &&
  ok "invalid rule refused with FILE:LINE: $(cat "$TMP/e")" || fail "bad reload: exit $rc: $(cat "$TMP/e")"
ctl rules reload "$TMP/none.rules" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "none.rules.*cannot open" "$TMP/e" && ok "missing file refused: $(cat "$TMP/e")" ||
  fail "missing file: exit $rc: $(cat "$TMP/e")"
ctl rules add "$B" > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "example.yaml:[0-9]*: rule 100[1-4] is already loaded" "$TMP/e" &&
  ok "add of a loaded id refused: $(cat "$TMP/e")" || fail "duplicate add: exit $rc: $(cat "$TMP/e")"
ctl rules remove 424242 > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "no rule 424242" "$TMP/e" && ok "remove of an unknown id refused" ||
  fail "remove unknown: exit $rc: $(cat "$TMP/e")"
ctl rules remove abc > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "'abc' is not a rule id" "$TMP/e" && ok "remove abc refused" || fail "remove abc: $(cat "$TMP/e")"
ctl rules add > /dev/null 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] && grep -q "usage: rules add FILE" "$TMP/e" && ok "rules add without a file: usage" || fail "add usage: $(cat "$TMP/e")"
ctl --json rules status > "$TMP/r.json"
jcheck "$TMP/r.json" "r['generation'] == $g" && ok "after the refusals generation $g still runs" ||
  fail "generation moved: $(cat "$TMP/r.json")"

# compile bounds: 1500 bounded-repeat regexes take about 4 s and tens of MiB to compile
python3 - > "$TMP/heavy.rules" <<'PY'
import random
random.seed(1)
for i in range(1500):
    w = "".join(random.choice("abcdefghijklmnop") for _ in range(6))
    print(f'alert tcp any any -> any any (msg:"h{i}"; pcre:"/{w}[^\\r\\n]{{20,80}}{w[::-1]}\\d{{4,9}}/"; sid:{800000 + i}; rev:1;)')
PY
for bound in "rules_compile_timeout: 1s|longer than rules_compile_timeout (1s)" \
             "rules_compile_memory: 16M|ran out of rules_compile_memory"; do
  printf 'flows: {capacity: 65536, streams: 4096}\nrules_cache: off\n%s\n' "${bound%%|*}" > "$TMP/b.yaml"
  SOCK2=$TMP/b.sock
  if start_weir "$SOCK2" /dev/null "$TMP/berr" --control "$SOCK2" --config "$TMP/b.yaml" --rules "$A"; then
    "$WEIRCTL_BIN" --socket "$SOCK2" rules reload "$TMP/heavy.rules" > /dev/null 2> "$TMP/e"; rc=$?
    "$WEIRCTL_BIN" --socket "$SOCK2" --json rules status > "$TMP/r.json"
    [ $rc -eq 1 ] && grep -q "${bound#*|}" "$TMP/e" && jcheck "$TMP/r.json" 'r["generation"] == 1' 'r["rules"] == 4' &&
      ok "${bound%%|*}: refused, generation 1 stays: $(cut -c1-120 "$TMP/e")" ||
      fail "${bound%%|*}: exit $rc: $(cat "$TMP/e")"
    "$WEIRCTL_BIN" --socket "$SOCK2" shutdown > /dev/null; wait_exit "$pid"
    [ "$rc" -eq 0 ] || fail "bounded weir exit $rc"
  else
    fail "weir with ${bound%%|*} did not start: $(tail -2 "$TMP/berr")"
  fi
done

# ---- 3. SIGHUP --------------------------------------------------------------------------------
sed -i "s|^rules: .*|rules: [$B]|" "$TMP/weir.yaml"
kill -HUP "$WPID"
for _ in $(seq 100); do [ "$(ids)" = "1001 1002 1003 1004" ] && break; sleep 0.1; done
[ "$(ids)" = "1001 1002 1003 1004" ] && grep -q "SIGHUP: reloading 1 rule file" "$TMP/err" &&
  ok "SIGHUP: the config file's new rule list is running" || fail "SIGHUP reload: $(ids); $(tail -2 "$TMP/err")"
ctl --json rules status > "$TMP/r.json"; g=$(field 'r["generation"]')
cp "$TMP/weir.yaml" "$TMP/weir.good"
echo "rules_max: lots" >> "$TMP/weir.yaml"
kill -HUP "$WPID"; sleep 1
ctl --json rules status > "$TMP/r.json"
grep -q "SIGHUP: .*weir.yaml:5: rules_max.*nothing changed" "$TMP/err" && jcheck "$TMP/r.json" "r['generation'] == $g" &&
  ok "SIGHUP with a broken config: $(grep 'SIGHUP: .*weir.yaml' "$TMP/err" | tail -1)" ||
  fail "broken SIGHUP: $(tail -2 "$TMP/err")"
cp "$TMP/weir.good" "$TMP/weir.yaml"

# ---- 4. 100 swaps at full speed ------------------------------------------------------------------
: > "$TMP/gens"; : > "$TMP/reused"
echo "1 A" >> "$TMP/gens" # generation 1 ran set A
for i in $(seq 100); do
  if [ $((i % 2)) -eq 1 ]; then f=$A; s=A; else f=$B; s=B; fi
  ctl --json rules reload "$f" > "$TMP/r.json" 2>> "$TMP/swap.err" || { fail "swap $i: $(cat "$TMP/r.json")"; break; }
  echo "$(field 'r["generation"]') $s" >> "$TMP/gens"
  field 'r["job"]["reused"]' >> "$TMP/reused"
done
reused=$(grep -c True "$TMP/reused")
[ "$reused" -ge 95 ] && ok "$reused of 100 swaps published a set still compiled from its last run (nothing compiled or loaded)" ||
  fail "only $reused swaps reused a compiled set"
ctl --json rules status > "$TMP/r.json"
kill -0 "$WPID" 2>/dev/null && ok "100 swaps done, weir alive at generation $(field 'r["generation"]')" ||
  fail "weir died during the swaps: $(tail -3 "$TMP/err")"
ctl shutdown > /dev/null
wait_exit "$WPID"
[ "$rc" -eq 0 ] && ok "shutdown after the swaps: exit 0" || fail "exit $rc: $(tail -3 "$TMP/err")"
check_accounting "$OUT" > "$TMP/acc" && ok "every packet accounted for: $(cat "$TMP/acc")" ||
  fail "accounting: $(cat "$TMP/acc")"
python3 - "$OUT" "$TMP/gens" "$A" "$B" > "$TMP/check" <<'PY' && ok "alerts vs generations: $(cat "$TMP/check")" || fail "alerts vs generations: $(cat "$TMP/check")"
import json, re, sys
out, gens, fa, fb = sys.argv[1:]
sets = {"A": {int(x) for x in re.findall(r"sid:(\d+);", open(fa).read())},
        "B": {int(x) for x in re.findall(r"^\s*- id: (\d+)", open(fb).read(), re.M)}}
assert len(sets["A"]) == 4 and len(sets["B"]) == 4, sets
gen_set = {}
for line in open(gens):
    g, s = line.split()
    gen_set[int(g)] = s
alerts = bad = 0
seen = set()
for line in open(out):
    r = json.loads(line)
    if r.get("type") != "alert" or "having" in r:
        continue
    alerts += 1
    g = r["generation"]
    if g not in gen_set:   # generations of steps 1-3 (not in the swap map)
        continue
    seen.add(g)
    if r["rule"] not in sets[gen_set[g]]:
        bad += 1
        if bad < 5:
            print("alert of rule", r["rule"], "names generation", g, "which ran set", gen_set[g])
print(f"{alerts} alerts, {len(seen)} swap generations seen in alerts, {bad} with a rule outside their generation")
sys.exit(1 if bad or len(seen) < 50 else 0)
PY
finish
