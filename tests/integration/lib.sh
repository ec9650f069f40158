# Shared helpers for the integration tests (sourced). Exit 77 = skipped (meson).
set -uo pipefail
: "${WEIR_BIN:?WEIR_BIN not set (run through meson test)}"
: "${WEIR_SOURCE_DIR:?}"
DATA=${WEIR_SHARED_DATA:-$WEIR_SOURCE_DIR/../shared/data}
TMP=$(mktemp -d /tmp/weir-test.XXXXXX)
# Processes a test starts in the background go into PIDS; whatever is left of them is killed on exit.
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fails=0

need_data() {
  if [ ! -e "$DATA/$1" ]; then
    echo "SKIP: $DATA/$1 is absent (../shared/data is only on developer and CI machines)"
    exit 77
  fi
}

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# JSON lines of one run -> the stats record's field (python3 one-liner)
stat() { python3 -c '
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r.get("type")=="stats":
        v=r
        for k in sys.argv[2].split("."): v=v[k]
        print(v)' "$1" "$2"; }

# rx == processed + dropped in the stats record
check_accounting() {
  python3 - "$1" <<'PY'
import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if '"type":"stats"' in l]
assert len(s)==1, "exactly one stats record"
s=s[0]
d=sum(s["dropped"].values())
print(f"rx={s['rx']} processed={s['processed']} dropped={d}")
sys.exit(0 if s["rx"]==s["processed"]+d else 1)
PY
}

# Live weir runs (test_control.sh, test_metrics.sh, test_*_swap.sh): start_weir adds its pid to
# PIDS; its ARGS include --control SOCK.
# ctl ARGS...: weirctl on the test's control socket $SOCK.
ctl() { "$WEIRCTL_BIN" --socket "$SOCK" "$@"; }

# start_weir SOCK OUT ERR [ARGS...]: weir in the background (pid in $pid); 0 once the socket answers.
start_weir() {
  local sock=$1 out=$2 err=$3
  shift 3
  "$WEIR_BIN" run --port net_null0 --out "$out" --no-summary "$@" 2> "$err" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 300); do
    if [ -S "$sock" ] && "$WEIRCTL_BIN" --socket "$sock" --timeout 2 status > /dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_exit PID: wait up to 10 s for it to exit (then kill it); its exit status in $rc.
wait_exit() {
  local p=$1
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then kill -KILL "$p"; wait "$p" 2>/dev/null; rc=137; return; fi
  wait "$p"; rc=$?
}

# jcheck FILE PYTHON-EXPR...: the response in FILE parses, and each expression over r holds.
jcheck() {
  python3 - "$@" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
for e in sys.argv[2:]:
    assert eval(e, {"r": r}), f"{e} does not hold for {json.dumps(r)[:400]}"
PY
}

finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
  echo "all passed"; exit 0
}
