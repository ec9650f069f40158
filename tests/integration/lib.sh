# Shared helpers for the integration tests (sourced). Exit 77 = skipped (meson).
set -uo pipefail
: "${WEIR_BIN:?WEIR_BIN not set (run through meson test)}"
: "${WEIR_SOURCE_DIR:?}"
DATA=${WEIR_SHARED_DATA:-$WEIR_SOURCE_DIR/../shared/data}
TMP=$(mktemp -d /tmp/weir-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
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

finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
  echo "all passed"; exit 0
}
