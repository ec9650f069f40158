#!/usr/bin/env bash
# Exactly-once window results across crashes. weir reads ndpi-mix.pcap (paced at 25k pps so that
# a run lasts seconds) with tumbling, sliding, session and sketch queries, 2 workers behind the
# distributor, and a checkpoint every 3000 packets. It is killed with SIGKILL at 20 random moments
# (startup, between checkpoints, while one is being written), and restarted each time with
# --restore latest until a run completes. The output file then holds exactly the rows of an
# uninterrupted run (sorted, field for field; top-k lists within the sketch's error bounds, see
# rows_equal.py), and its stats count every packet once.
# A second part restores a checkpoint taken with 2 workers into a run with 1 worker.
# Skipped (77) without ../shared/data.
. "$(dirname "$0")/lib.sh"
need_data pcaps/ndpi-mix.pcap
CAP=$DATA/pcaps/ndpi-mix.pcap
KILLS=${WEIR_TEST_KILLS:-20}

cat > "$TMP/q.yaml" <<'Y'
workers: 2
summary: false
checkpoint:
  every_packets: 3000
  interval: 0s
  keep: 3
queries:
  - name: pairs
    group_by: [src_ip, dst_ip, proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: sliding
    group_by: [src_ip]
    window: {type: sliding, size: 60s, slide: 20s}
    aggregates: [packets, bytes, max(length)]
  - name: sessions
    group_by: [src_ip, dst_ip]
    window: {type: session, gap: 30s}
    aggregates: [packets, bytes, first_ts, last_ts]
  - name: sketches
    group_by: [proto]
    window: {type: tumbling, size: 120s}
    aggregates: [distinct(dst_ip), topk(dst_port, 5), quantiles(length), flag_counts]
Y
{ cat "$TMP/q.yaml"; echo "replay_pps: 25000"; } > "$TMP/paced.yaml"

EQ=$(dirname "$0")/rows_equal.py

# The reference: one uninterrupted run (checkpoints on too: they must not change anything).
# Paced like the rounds: at full speed the distributor has read the whole file before the
# first checkpoint is cut, and a run ends with none or one (no source left to mark).
mkdir -p "$TMP/ref"
if ! "$WEIR_BIN" run --config "$TMP/paced.yaml" --pcap "$CAP" --out "$TMP/ref.jsonl" \
     --checkpoint-dir "$TMP/ref" 2> "$TMP/ref.err"; then
  fail "reference run: $(tail -3 "$TMP/ref.err")"; finish
fi
nref=$(grep -c '"type":"window"' "$TMP/ref.jsonl")
[ "$nref" -gt 1000 ] || fail "reference run gave only $nref rows"
grep -q '"query":"sessions"' "$TMP/ref.jsonl" && grep -q '"query":"sketches"' "$TMP/ref.jsonl" ||
  fail "reference run lacks session or sketch rows"
# Each checkpoint resumes event time at its barrier: the latest timestamp of the packets read
# before it, not the workers' time when it was written (they go on past their barriers).
ET=$(dirname "$0")/ckpt_event_time.py
event_times() { # DIR LABEL
  local files=("$1"/ckpt-*.wckpt)
  [ -e "${files[0]}" ] || { fail "$2: no checkpoint files"; return; }
  python3 "$ET" "$CAP" "${files[@]}" > "$1/et.txt" &&
    ok "$2: ${#files[@]} checkpoints resume event time at their barriers" ||
    fail "$2: checkpoint event time past the barrier: $(grep BAD "$1/et.txt" | head -2)"
}
event_times "$TMP/ref" "reference run"

# One round: runs restarted with --restore latest until one completes; each of the first
# `budget` runs is killed after a random 0.2-2.5 s. Sets `killed` and `restores`.
round() { # DIR WORKERS-OF-LATER-RUNS BUDGET
  local dir=$1 w=$2 budget=$3 run=0 p
  killed=0; restores=0
  mkdir -p "$dir"
  while :; do
    run=$((run + 1))
    local wk=2; [ "$run" -gt 1 ] && wk=$w
    "$WEIR_BIN" run --config "$TMP/paced.yaml" --pcap "$CAP" --out "$dir/out.jsonl" \
      --checkpoint-dir "$dir" --restore latest --workers "$wk" 2>> "$dir/err" &
    p=$!; PIDS+=("$p")
    if [ "$killed" -lt "$budget" ]; then
      sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 2.3 * r / 32767 }')"
      if kill -KILL "$p" 2>/dev/null; then
        wait "$p" 2>/dev/null
        killed=$((killed + 1))
        rm -rf "/var/run/dpdk/weir-$p" # a --no-huge run's runtime folder (none with --in-memory)
        continue
      fi
    fi
    if ! wait "$p"; then fail "$dir: run $run exited non-zero: $(tail -3 "$dir/err")"; return 1; fi
    restores=$(grep -c '"type":"restore"' "$dir/out.jsonl")
    return 0
  done
}

total=0 r=0
while [ "$total" -lt "$KILLS" ]; do
  r=$((r + 1))
  round "$TMP/r$r" 2 $((KILLS - total)) || break
  total=$((total + killed))
  if python3 "$EQ" "$TMP/ref.jsonl" "$TMP/r$r/out.jsonl" > "$TMP/r$r.eq"; then
    ok "round $r: $killed kill -9, $restores restores from a checkpoint: the $nref rows equal the uninterrupted run's"
  else
    fail "round $r ($killed kills, $restores restores): rows differ (< uninterrupted, > killed and restored):"
    cat "$TMP/r$r.eq"
  fi
  acc=$(check_accounting "$TMP/r$r/out.jsonl") || fail "round $r: $acc"
  [ "$(stat "$TMP/r$r/out.jsonl" rx)" = 102018 ] ||
    fail "round $r: stats rx $(stat "$TMP/r$r/out.jsonl" rx), the capture has 102018 packets"
  n=$(ls "$TMP/r$r" | grep -c '^ckpt-.*\.wckpt$')
  [ "$n" -le 3 ] || fail "round $r: $n checkpoint files left, keep is 3"
  event_times "$TMP/r$r" "round $r"
done
[ "$total" -ge "$KILLS" ] && ok "$total kills in $r rounds"

# Flow state: flow records, alerts (bench-102 patterns, alert_limit per flow and rule) and a
# query keyed by flow id and direction, across 6 more kills: flow tables and the alert counters
# are restored, so flow ids, flow records and alerts equal the uninterrupted run's.
if [ -e "$DATA/patterns/bench-102.txt" ]; then
  cat > "$TMP/fq.yaml" <<Y
workers: 2
summary: false
flows: {mode: on, records: true}
rules: [$DATA/patterns/bench-102.txt]
rules_cache: $TMP/hs
checkpoint: {every_packets: 3000, interval: 0s, keep: 3}
queries:
  - name: perflow
    group_by: [flow_id, direction]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: byrule
    group_by: [rule]
    window: {type: tumbling, size: 60s}
    aggregates: [packets]
Y
  mkdir -p "$TMP/fref"
  if "$WEIR_BIN" run --config "$TMP/fq.yaml" --pcap "$CAP" --out "$TMP/fref.jsonl" \
       --checkpoint-dir "$TMP/fref" 2> "$TMP/fref.err"; then
    { cat "$TMP/fq.yaml"; echo "replay_pps: 25000"; } > "$TMP/paced.yaml"
    round "$TMP/f" 2 6
    kinds=$(grep -o '"type":"[a-z]*"' "$TMP/fref.jsonl" | sort | uniq -c | tr -s ' \n' ' ')
    if python3 "$EQ" "$TMP/fref.jsonl" "$TMP/f/out.jsonl" > "$TMP/f.eq"; then
      ok "flows: $killed kill -9, $restores restores: records equal the uninterrupted run's ($kinds)"
    else
      fail "flows: $killed kills, $restores restores: records differ"; cat "$TMP/f.eq"
    fi
  else
    fail "flows reference run: $(tail -3 "$TMP/fref.err")"
  fi
fi

# Restore 2 workers' checkpoint into 1 worker (direct mode): same rows.
{ cat "$TMP/q.yaml"; echo "replay_pps: 25000"; } > "$TMP/paced.yaml"
round "$TMP/w" 1 1
if python3 "$EQ" "$TMP/ref.jsonl" "$TMP/w/out.jsonl" > "$TMP/w.eq"; then
  ok "2 workers killed, restored with 1 ($restores restores): rows equal the uninterrupted run's"
else
  fail "restore with another worker count: rows differ"; cat "$TMP/w.eq"
fi
finish
