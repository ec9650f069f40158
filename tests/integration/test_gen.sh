#!/usr/bin/env bash
# weir-gen (app/weir-gen): option parsing and bad input (no DPDK needed), then live runs through
# dpdk-testpmd --forward-mode=io between two memif ports: weir-gen is the memif server on both
# sockets (--tx on A, --rx on B), testpmd the two clients and forwards 0 <-> 1. Asserts counts,
# not timings (the machine is a noisy 2-core VM): everything sent comes back, in order, once,
# with the lengths sent; latency percentiles exist and are ordered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gen_lib.sh"
G=$WEIR_GEN_BIN
SAMPLE=$WEIR_SOURCE_DIR/tests/data/sample.pcap

# expect_err NAME WANT_RC REGEX ARGS...: weir-gen exits WANT_RC with a message matching REGEX.
expect_err() {
  local name=$1 want=$2 re=$3 out rc
  shift 3
  out=$("$G" "$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq "$want" ] && grep -qE -- "$re" <<< "$out"; then ok "$name: exit $rc: $(grep -E -- "$re" <<< "$out" | head -1)"
  else fail "$name: exit $rc (want $want), output: $out"; fi
}

# ---- parsing (--dry-run prints what the options resolve to; no EAL)
if r=$(python3 - "$G" <<'PY' 2>&1
import json, subprocess, sys
g = sys.argv[1]
def dry(*a):
    return json.loads(subprocess.run([g, "--dry-run", *a], check=True, capture_output=True, text=True).stdout)
for spec, kind, val in [("1.5Mpps", "pps", 1.5e6), ("500kpps", "pps", 5e5), ("2000pps", "pps", 2000),
                        ("2Gbit", "bps", 2e9), ("100Mbit", "bps", 1e8), ("10Gbps", "bps", 1e10),
                        ("max", "max", 0)]:
    r = dry("--rate", spec)
    assert r["rate_kind"] == kind and abs(r["rate_value"] - val) < 1e-6, (spec, r)
# bit rates count wire bytes: 64-byte frames are 84 bytes with preamble + IFG
r = dry("--rate", "84Mbit", "--size", "64")
assert abs(r["target_pps"] - 125000) < 1e-6 and r["mean_wire_bytes"] == 84, r
r = dry("--size", "imix", "--flows", "5")
assert r["frame_lengths"] == {"60": 35, "566": 20, "1514": 5}, r   # 7:4:1, lengths without FCS
r = dry("--size", "64-1518")
ls = [int(k) for k in r["frame_lengths"]]
assert min(ls) >= 60 and max(ls) <= 1514 and len(ls) > 1000, r
print("rates, sizes, imix 7:4:1 and 64-1518 templates resolve as documented")
PY
); then ok "dry-run: $r"; else fail "dry-run: $r"; fi
if r=$("$G" --dry-run --pcap "$SAMPLE" --loops 3 | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["pcap_records"] == 5500 and r["count"] == 16500, r
print(r["pcap_records"], "records, --loops 3 sends", r["count"])' 2>&1); then ok "dry-run pcap: $r"
else fail "dry-run pcap: $r"; fi

# --payload-file lines at the start of the L4 payload, \xHH escapes; frames as the tx loop stamps
# them (--write-pcap): IPv4 and TCP checksums valid (tshark) over odd and even lengths.
printf 'GET /etc/passwd HTTP/1.1\nbin\\x00\\xffary\n' > "$TMP/payload.txt"
if "$G" --dry-run --payload-file "$TMP/payload.txt" --flows 2 --size 100-300 --proto tcp \
    --write-pcap "$TMP/frames.pcap" > /dev/null 2> "$TMP/payload.err" &&
  r=$(python3 - "$TMP/frames.pcap" <<'PY' 2>&1
import struct, sys
d = open(sys.argv[1], "rb").read(); o = 24; n = 0; want = [b"GET /etc/passwd HTTP/1.1", b"bin\x00\xffary"]
while o < len(d):
    cl = struct.unpack("<I", d[o + 8:o + 12])[0]; f = d[o + 16:o + 16 + cl]; o += 16 + cl
    assert f[54:54 + len(want[n % 2])] == want[n % 2], f[54:90]
    assert f[-18:-16] == b"\x00\x00" and f[-16:-14] == b"WG", f[-18:].hex()   # magic 0x4757, trial 0
    assert struct.unpack("<Q", f[-14:-6])[0] == n, "seq"
    n += 1
print(f"{n} frames carry their payload line and the trailer")
PY
  ); then ok "payload file: $r"; else fail "payload file: $r $(cat "$TMP/payload.err")"; fi
if command -v tshark > /dev/null; then
  bad=$(tshark -r "$TMP/frames.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
    -T fields -e ip.checksum.status -e tcp.checksum.status 2>/dev/null | sort | uniq -c | grep -v ' 1	1$')
  [ -z "$bad" ] && ok "tshark: every IPv4 and TCP checksum good" || fail "tshark checksums: $bad"
fi

# ---- bad input (exit 2, one line naming the problem)
expect_err "bad rate" 2 "invalid --rate '5xpps'" --dry-run --rate 5xpps
expect_err "bad rate 0" 2 "invalid --rate '0pps'" --dry-run --rate 0pps
expect_err "bad size" 2 "invalid --size 'big'" --dry-run --size big
expect_err "size too small" 2 "invalid --size '60'.*64\.\.9216" --dry-run --size 60
expect_err "tcp size too small" 2 "76\.\.9216" --dry-run --proto tcp --size 64
expect_err "size range reversed" 2 "invalid --size '1518-64'" --dry-run --size 1518-64
expect_err "missing pcap" 2 "--pcap $TMP/none.pcap: No such file or directory" --dry-run --pcap "$TMP/none.pcap"
printf 'not a pcap at all\n' > "$TMP/bad.pcap"
expect_err "corrupt pcap" 2 "--pcap $TMP/bad.pcap: " --dry-run --pcap "$TMP/bad.pcap"
expect_err "pcap record over the data room" 2 \
  "--pcap $SAMPLE: record [0-9]+ has 1[0-9]{3} bytes, 1[0-9]{3} with the 18-byte trailer, over the mbuf data room of 1500 bytes: use --mbuf-size" \
  --dry-run --pcap "$SAMPLE" --mbuf-size 1500
expect_err "missing payload file" 2 "--payload-file $TMP/none: No such file" --dry-run --payload-file "$TMP/none"
expect_err "no --tx" 2 "--tx DEVARGS is required" --count 1
expect_err "both duration and count" 2 "not both" --dry-run --duration 1 --count 5
# net_null reports a 10G link: 20 Gbit/s is refused before anything is sent
expect_err "rate above link speed" 2 "above the link speed of net_null0 \(10 Gbit/s\)" \
  --tx net_null0 --rate 20Gbit --count 10 --quiet
expect_err "link down" 1 "link down after 1 s" \
  --tx "net_memif0,role=server,socket=$TMP/nobody" --link-wait 1 --count 10 --quiet

# ---- live: through testpmd io forwarding
command -v dpdk-testpmd >/dev/null || { echo "SKIP (live part): dpdk-testpmd not installed"; finish; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP (live part): needs root"; finish; }

# check NAME PYTHON-ASSERTS...: the summary of run NAME; r is its JSON, basic() the common checks.
check() {
  local name=$1
  shift
  if [ "$gen_rc" -ne 0 ]; then fail "$name: weir-gen exit $gen_rc: $(tail -3 "$TMP/$name.err")"; return; fi
  if r=$(python3 - "$TMP/$name.json" "$@" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
L = r["latency_ns"]
def basic(n=None):
    assert r["sent"] > 0, "nothing sent"
    if n is not None:
        assert r["sent"] == n, f"sent {r['sent']} != {n}"
    assert r["received"] == r["sent"], f"received {r['received']} != sent {r['sent']}"
    assert r["lost"] == 0 and r["loss_ratio"] == 0, f"lost {r['lost']}"
    assert r["reordered"] == 0 and r["duplicates"] == 0, f"reordered {r['reordered']} dup {r['duplicates']}"
    assert r["foreign"] == 0 and r["stale"] == 0, f"foreign {r['foreign']} stale {r['stale']}"
    assert L["samples"] == r["received"], L
    assert 0 < L["min"] <= L["p50"] <= L["p90"] <= L["p99"] <= L["p999"] <= L["max"], L
    assert sum(r["rx_lengths"].values()) == r["received"], "rx_lengths"
for e in sys.argv[2:]:
    exec(e)
print(f"sent={r['sent']} received={r['received']} lost={r['lost']} tx_full={r['tx_full']} "
      f"achieved={r['achieved_pps']:.0f}pps p50={L['p50']}ns p99={L['p99']}ns max={L['max']}ns "
      f"lengths={dict(list(r['rx_lengths'].items())[:4])}")
PY
  ); then ok "$name: $r"; else fail "$name: $(tail -2 <<< "$r")"; fi
}

run_gen fixed --count 200000 --rate 100kpps --size 64 || fail "fixed: no summary: $(tail -3 "$TMP/fixed.err")"
check fixed 'basic(200000)' 'assert r["rx_lengths"] == {"60": 200000}, r["rx_lengths"]' \
  'assert r["target_pps"] == 100000 and r["rate"] == "100kpps"'

# imix: the 12-frame cycle 7 x 64, 4 x 570, 1 x 1518 (60/566/1514 bytes without FCS). 12000
# frames are 1000 whole cycles: with no loss the mix is exact (tolerance 0); over any window
# of a run it is within one cycle (12 frames) of 7:4:1.
run_gen imix --count 12000 --rate 50kpps --size imix --flows 7 || fail "imix: no summary"
check imix 'basic(12000)' 'assert r["rx_lengths"] == {"60": 7000, "566": 4000, "1514": 1000}, r["rx_lengths"]'

# uniform 64-1518 with TCP (checksummed per packet): lengths within the range
run_gen uniform --count 20000 --rate 50kpps --size 76-1518 --proto tcp --flows 100 || fail "uniform: no summary"
check uniform 'basic(20000)' \
  'ls=[int(k) for k in r["rx_lengths"]]; assert min(ls) >= 72 and max(ls) <= 1514 and len(ls) > 500, (min(ls), max(ls), len(ls))'

# pcap replay: each loop returns every record of the capture, each with the trailer appended
python3 - "$SAMPLE" > "$TMP/sample-lengths.json" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); o = 24; c = {}
while o < len(d):
    cl = struct.unpack("<I", d[o + 8:o + 12])[0]; o += 16 + cl
    c[str(cl + 18)] = c.get(str(cl + 18), 0) + 3
print(json.dumps(c))
PY
run_gen pcap --pcap "$SAMPLE" --loops 3 --rate 100kpps || fail "pcap: no summary"
check pcap 'basic(3 * 5500)' "want = json.load(open('$TMP/sample-lengths.json'))" \
  'assert r["rx_lengths"] == want, "lengths differ from the capture records + 18"' \
  'assert r["pcap"]["records"] == 5500'

# --duration with a bit rate: sent matches the duration roughly (loose: the VM is noisy)
# (with the once-a-second progress line forced on, as a terminal would get it)
GEN_QUIET=--progress run_gen duration --duration 2 --rate 50Mbit --size 128 || fail "duration: no summary"
check duration 'basic()' 'assert 1.9 < r["tx_duration_s"] < 6, r["tx_duration_s"]' \
  'assert abs(r["target_pps"] - 50e6 / (148 * 8)) < 1, r["target_pps"]'
line=$(tr '\r' '\n' < "$TMP/duration.err" | grep -E '^tx +[0-9.]+ Mpps +[0-9.]+ Gbit/s \| rx +[0-9.]+ Mpps \| loss [0-9-]+ +\| p50 +[0-9.]+ us p99 +[0-9.]+ us' | head -1)
[ -n "$line" ] && ok "progress line: $line" || fail "no progress line: $(head -c 300 "$TMP/duration.err")"

# ---- perf/rfc2544.sh: a short search (0.3 s trials, 25 % resolution, bounded at 200 kpps)
RFC=$WEIR_SOURCE_DIR/perf/rfc2544.sh
if out=$(bash "$RFC" --trial abc 2>&1); then fail "rfc2544 --trial abc: exit 0"
else grep -q "trial 'abc' is not a number" <<< "$out" && ok "rfc2544 bad option: $out" || fail "rfc2544 bad option: $out"; fi
# --dut weir needs weir's inline mode: a weir whose 'run --help' lacks --inline is refused
printf '#!/bin/sh\necho "Usage: weir run [--port DEVARGS] [--out FILE]"\n' > "$TMP/old-weir"
chmod +x "$TMP/old-weir"
out=$(bash "$RFC" --dut weir --weir "$TMP/old-weir" --gen "$G" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "has no inline mode yet" <<< "$out" && ok "rfc2544 --dut weir without --inline: $out" ||
  fail "rfc2544 --dut weir: exit $rc: $out"
if bash "$RFC" --gen "$G" --trial 0.3 --resolution 25 --max-rate 200kpps --results "$TMP/rfc" --latency-at 20000 \
    --gen-cpu "$GEN_CPU" --dut-cpu "$TP_CPU" > "$TMP/rfc.out" 2>&1 &&
  r=$(python3 - "$TMP/rfc" <<'PY' 2>&1
import csv, json, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "trials.csv"))))
want = ["phase", "trial", "target_pps", "achieved_pps", "achieved_bps", "sent", "received", "lost", "loss_ratio",
        "reordered", "duplicates", "tx_full", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "gen_limited", "pass"]
assert list(rows[0].keys()) == want, list(rows[0].keys())
phases = [r["phase"] for r in rows]
assert "ndr" in phases and "pdr" in phases, phases
for r in rows:
    assert int(r["sent"]) > 0 and int(r["received"]) <= int(r["sent"]) + int(r["duplicates"]), r
s = json.load(open(os.path.join(d, "summary.json")))
assert s["ndr_converged"] and s["pdr_converged"], s
assert 0 <= s["ndr_pps"] <= s["pdr_pps"] <= s["upper_pps"] == 200000, s
assert s["resolution_pps"] == 50000, s
# the search ends within one resolution step: some trial failed within a step above each
# result, unless the result is the upper bound itself
for ph, v in (("ndr", s["ndr_pps"]), ("pdr", s["pdr_pps"])):
    if v < s["upper_pps"]:
        assert any(r["phase"] == ph and r["pass"] == "0" and v < int(r["target_pps"]) <= v + 50000 for r in rows), (ph, v)
assert len(s["latency_ns"]) == 3
at = s["latency_at_ns"]
assert len(at) == 1 and at[0]["rate_pps"] == 20000 and 0 < at[0]["p50"] <= at[0]["p99"], at
assert any(r["phase"] == "at20000" for r in rows), "no trial at the fixed rate"
print(f"{len(rows)} trials; NDR {s['ndr_pps']} pps <= PDR {s['pdr_pps']} pps; converged")
PY
  ); then ok "rfc2544: $r"; else fail "rfc2544: $r $(tail -5 "$TMP/rfc.out")"; fi
if command -v gnuplot > /dev/null; then
  [ -s "$TMP/rfc/plot.png" ] && ok "rfc2544: plot.png written" || fail "rfc2544: no plot.png: $(tail -3 "$TMP/rfc.out")"
fi

# no DPDK runtime folder of ours left behind
left=$(ls /var/run/dpdk 2>/dev/null | grep -E "^($GEN_TP_PREFIX|weir-gen-)" || true)
[ -z "$left" ] && ok "no /var/run/dpdk prefix left" || fail "left in /var/run/dpdk: $left"
finish
