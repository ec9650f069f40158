#!/usr/bin/env bash
# Checkpoints that go wrong, and restores that must not pretend:
#  - the newest checkpoint truncated, bit-flipped, of another version, empty, or a foreign file
#    named like one: --restore latest says which file it rejected and why, restores the previous
#    one, and the output still equals an uninterrupted run's;
#  - a checkpoint directory on a full tmpfs, and on a read-only one: checkpoints fail (counted in
#    stats as failed, with the reason), no temp file is left, and the results are unchanged;
#  - weirctl snapshot writes one on request and says where; with checkpoints off it says so;
#  - a live port (net_null) killed and restored: the restore record reports the gap;
#  - a query changed, removed or added between checkpoint and restore is reported; the unchanged
#    one keeps its state (its rows equal the uninterrupted run's);
#  - a different capture than the checkpoint read is refused (exit 2, naming it).
# Skipped (77) without ../shared/data. The tmpfs parts need root (mount); skipped otherwise.
. "$(dirname "$0")/lib.sh"
need_data pcaps/ndpi-mix.pcap
CAP=$DATA/pcaps/ndpi-mix.pcap
EQ=$(dirname "$0")/rows_equal.py

# Paced (1 s a run) so that several checkpoints are written whatever the machine's speed.
cat > "$TMP/q.yaml" <<'Y'
summary: false
replay_pps: 100000
checkpoint:
  every_packets: 20000
  interval: 0s
  keep: 10
queries:
  - name: pairs
    group_by: [src_ip, dst_ip, proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: sessions
    group_by: [src_ip, dst_ip]
    window: {type: session, gap: 30s}
    aggregates: [packets, bytes, first_ts, last_ts]
Y
run() { # OUT CKPTDIR [ARGS...]: weir on ndpi-mix; its stderr in OUT.err
  local out=$1 dir=$2
  shift 2
  "$WEIR_BIN" run --config "$TMP/q.yaml" --pcap "$CAP" --out "$out" --checkpoint-dir "$dir" \
    "$@" 2> "$out.err"
}
# In DIR, with the output and the checkpoints named relative to it: copies of DIR restore alike.
run_in() { # DIR [ARGS...]
  local d=$1
  shift
  (cd "$d" && run out.jsonl . "$@")
}
same() { # WHAT OUT
  if python3 "$EQ" "$TMP/ref.jsonl" "$2" > "$2.eq"; then ok "$1"; else fail "$1: rows differ"; cat "$2.eq"; fi
}

mkdir -p "$TMP/ref.d" "$TMP/base"
run "$TMP/ref.jsonl" "$TMP/ref.d" || { fail "reference run: $(tail -3 "$TMP/ref.jsonl.err")"; finish; }
run_in "$TMP/base" || { fail "base run: $(tail -3 "$TMP/base/out.jsonl.err")"; finish; }
mapfile -t CKS < <(ls "$TMP/base" | grep '^ckpt-.*\.wckpt$')
[ "${#CKS[@]}" -ge 2 ] || { fail "only ${#CKS[@]} checkpoints written"; finish; }
newest=${CKS[-1]} prev=${CKS[-2]}

# ---- a damaged newest checkpoint: fall back to the previous one ----
damage() { # CASE DIR: damage DIR's newest checkpoint (or add a bad newer file)
  local f=$2/$newest size
  size=$(wc -c < "$f")
  case $1 in
    truncated) truncate -s $((size - 100)) "$f" ;;
    bitflip) printf '\xff' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc status=none ;;
    version) printf '\x63' | dd of="$f" bs=1 seek=8 conv=notrunc status=none ;;
    empty) : > "$2/ckpt-00000000000000000098.wckpt" ;;
    foreign) head -c 5000 "$CAP" > "$2/ckpt-00000000000000000099.wckpt" ;;
  esac
}
for c in truncated bitflip version empty foreign; do
  d=$TMP/c-$c
  cp -r "$TMP/base" "$d"
  damage $c "$d"
  used=$prev; case $c in empty|foreign) used=$newest ;; esac
  if ! run_in "$d" --restore latest; then
    fail "$c: restore failed: $(tail -3 "$d/out.jsonl.err")"; continue
  fi
  if grep -q "using it after rejecting" "$d/out.jsonl.err" &&
     grep -q "restored ./$used" "$d/out.jsonl.err" &&
     ! grep -q "these go to a fresh" "$d/out.jsonl.err"; then
    ok "$c: $(grep -m1 'weir ckpt' "$d/out.jsonl.err" | cut -c1-150)"
  else
    fail "$c: no fallback to $used reported: $(head -5 "$d/out.jsonl.err")"
  fi
  same "$c: restored from $used, rows equal the uninterrupted run's" "$d/out.jsonl"
done

# ---- failing writes: a full tmpfs, a read-only one ----
fs_case() { # NAME MOUNT-OPTIONS
  local d=$TMP/fs-$1
  mkdir -p "$d"
  if ! mount -t tmpfs -o "$2" weir-test "$d" 2>/dev/null; then
    echo "SKIP: $1: cannot mount a tmpfs (not root?)"; return
  fi
  run "$TMP/fs-$1.jsonl" "$d"
  local rc=$? failed
  failed=$(stat "$TMP/fs-$1.jsonl" checkpoints.failed 2>/dev/null)
  [ "$rc" = 0 ] || fail "$1: weir exited $rc: $(tail -3 "$TMP/fs-$1.jsonl.err")"
  if [ "${failed:-0}" -ge 1 ] && grep -q "checkpoint .* failed: .*$3" "$TMP/fs-$1.jsonl.err"; then
    ok "$1: $failed checkpoint(s) failed, counted: $(grep -m1 'failed:' "$TMP/fs-$1.jsonl.err" | cut -c1-160)"
  else
    fail "$1: failed=$failed, stderr: $(head -3 "$TMP/fs-$1.jsonl.err")"
  fi
  local tmp
  tmp=$(ls -A "$d" | grep -c '\.tmp\.') || true
  [ "$tmp" = 0 ] || fail "$1: $tmp temp files left behind"
  same "$1: processing went on, rows equal the uninterrupted run's" "$TMP/fs-$1.jsonl"
  umount "$d"
}
fs_case full size=200k "No space left on device"
fs_case readonly ro,size=1m "Read-only file system"

# ---- weirctl snapshot ----
SOCK=$TMP/ctl.sock
mkdir -p "$TMP/snap"
sed -e 's/every_packets: 20000/every_packets: 0/' -e 's/replay_pps: .*/replay_pps: 20000/' \
  "$TMP/q.yaml" > "$TMP/snap.yaml"
"$WEIR_BIN" run --config "$TMP/snap.yaml" --pcap "$CAP" --out "$TMP/snap.jsonl" --control "$SOCK" \
  --checkpoint-dir "$TMP/snap" 2> "$TMP/snap.err" &
pid=$!; PIDS+=("$pid")
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
if ctl snapshot > "$TMP/snap.out" 2>&1 && f=$(ctl --json snapshot status | python3 -c \
   'import json,sys; r=json.load(sys.stdin); print(r["last"]["path"])') && [ -s "$f" ]; then
  ok "weirctl snapshot: $(tr '\n' ' ' < "$TMP/snap.out" | cut -c1-160)"
else
  fail "weirctl snapshot: $(cat "$TMP/snap.out") $(tail -2 "$TMP/snap.err")"
fi
ctl shutdown > /dev/null; wait_exit "$pid"
SOCK=$TMP/ctl2.sock
start_weir "$SOCK" "$TMP/nock.jsonl" "$TMP/nock.err" --control "$SOCK"
if ! ctl snapshot > "$TMP/nock.out" 2>&1 && grep -q "checkpoints are off" "$TMP/nock.out"; then
  ok "weirctl snapshot without a checkpoint directory: $(cat "$TMP/nock.out")"
else
  fail "weirctl snapshot without checkpoints: $(cat "$TMP/nock.out")"
fi
ctl shutdown > /dev/null; wait_exit "$pid"

# ---- a live port: the state comes back, the time weir was down is reported ----
SOCK=$TMP/ctl3.sock
mkdir -p "$TMP/live"
start_weir "$SOCK" "$TMP/live/out.jsonl" "$TMP/live/err" --control "$SOCK" --checkpoint-dir "$TMP/live"
ctl snapshot > /dev/null 2>&1 || fail "live: weirctl snapshot failed"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; rm -rf "/var/run/dpdk/weir-$pid"
sleep 1
start_weir "$SOCK" "$TMP/live/out.jsonl" "$TMP/live/err2" --control "$SOCK" --checkpoint-dir "$TMP/live" \
  --restore latest
ctl shutdown > /dev/null; wait_exit "$pid"
if python3 - "$TMP/live/out.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"type":"restore"' in l]
assert len(r) == 1 and r[0]["gap_ns"] >= 1e9 and r[0]["skipped_packets"] == 0, r
PY
then
  ok "live port: restored, the restore record says weir was away $(grep -o '"gap_ns":[0-9]*' "$TMP/live/out.jsonl") ns"
else
  fail "live port restore: $(grep restore "$TMP/live/out.jsonl") $(tail -2 "$TMP/live/err2")"
fi
grep -q "live ports lost what came while weir was down" "$TMP/live/err2" ||
  fail "live port restore: stderr does not say what was lost: $(tail -2 "$TMP/live/err2")"

# ---- the config changed between checkpoint and restore ----
d=$TMP/changed
cp -r "$TMP/base" "$d"
sed -e 's/gap: 30s/gap: 20s/' -e '/name: pairs/,/aggregates/d' "$TMP/q.yaml" > "$TMP/q2.yaml"
cat >> "$TMP/q2.yaml" <<'Y'
  - name: pairs
    group_by: [src_ip, dst_ip, proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets, bytes]
  - name: newcomer
    group_by: [proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets]
  - name: gone_soon
    group_by: [proto]
    window: {type: tumbling, size: 60s}
    aggregates: [packets]
Y
sed -i '/name: gone_soon/,$d' "$TMP/q2.yaml"
if (cd "$d" && "$WEIR_BIN" run --config "$TMP/q2.yaml" --pcap "$CAP" --out out.jsonl \
      --checkpoint-dir . --restore latest 2> err); then
  for w in "query 'pairs' restored" "query 'sessions' changed since the checkpoint: starts fresh" \
           "query 'newcomer' not in the checkpoint: starts fresh"; do
    grep -q "$w" "$d/err" && ok "changed config: says \"$w\"" || fail "changed config: no \"$w\": $(head -5 "$d/err")"
  done
  grep '"query":"pairs"' "$TMP/ref.jsonl" > "$TMP/ref-pairs.jsonl"
  grep '"query":"pairs"' "$d/out.jsonl" > "$d/pairs.jsonl"
  if python3 "$EQ" "$TMP/ref-pairs.jsonl" "$d/pairs.jsonl" > "$d/eq"; then
    ok "changed config: the unchanged query's rows equal the uninterrupted run's"
  else
    fail "changed config: the unchanged query's rows differ"; cat "$d/eq"
  fi
else
  fail "restore with a changed config: $(tail -3 "$d/err")"
fi
d=$TMP/removed
cp -r "$TMP/base" "$d"
sed '/name: sessions/,/aggregates/d' "$TMP/q.yaml" > "$TMP/q3.yaml"
if (cd "$d" && "$WEIR_BIN" run --config "$TMP/q3.yaml" --pcap "$CAP" --out out.jsonl \
      --checkpoint-dir . --restore latest 2> err) && grep -q "query 'sessions' no longer configured" "$d/err"; then
  ok "removed query: $(grep -m1 "'sessions'" "$d/err")"
else
  fail "removed query: $(head -5 "$d/err")"
fi

# ---- another capture than the checkpoint read ----
d=$TMP/othercap
cp -r "$TMP/base" "$d"
cp "$CAP" "$TMP/other.pcap"; truncate -s 1000000 "$TMP/other.pcap"
"$WEIR_BIN" run --config "$TMP/q.yaml" --pcap "$TMP/other.pcap" --out "$d/out.jsonl" \
  --checkpoint-dir "$d" --restore latest 2> "$d/err"
rc=$?
if [ "$rc" = 2 ] && grep -q "restore: .*port 0 read" "$d/err"; then
  ok "another capture: refused: $(grep -m1 "port 0 read" "$d/err" | cut -c1-160)"
else
  fail "another capture: exit $rc, $(head -3 "$d/err")"
fi
finish
