#!/usr/bin/env bash
# Live port net_af_packet on a veth pair inside a network namespace this test creates: weir reads
# one end, tcpreplay sends tests/data/sample.pcap into the other. Both veth ends live in the
# namespace, so no traffic touches the machine's own interfaces. Checks: weir exits 0 after
# --duration, rx == processed + dropped, processed >= the IP packets replayed, and the hostpairs
# rows (summed over windows: event time is wall-clock time on a live port, so the replay may
# straddle a 60 s window boundary) equal tshark's count of the sample, per address pair and proto.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, DPDK)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: ip (iproute2) not installed"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) not installed"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: tcpreplay not installed"; exit 77; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
sample="$WEIR_SOURCE_DIR/tests/data/sample.pcap"
[ -s "$sample" ] || { fail "bundled sample missing: $sample"; finish; }

ns="weirt$$" va="wta$$" vb="wtb$$" # unique per run (interface names <= 15 characters)
weir_pid=""
cleanup() {
  [ -n "$weir_pid" ] && kill -TERM "$weir_pid" 2>/dev/null && sleep 0.5 && kill -KILL "$weir_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null # deletes both veth ends with it
  rm -rf "$TMP"
}
trap cleanup EXIT
if ! ip netns add "$ns" 2>"$TMP/ns.err"; then
  echo "SKIP: cannot create a network namespace: $(cat "$TMP/ns.err")"; exit 77
fi
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link add "$va" type veth peer name "$vb" || { fail "cannot create veth pair"; finish; }
# No IPv6 (no ND / MLD / router solicitations) and no addresses: the kernel sends nothing of its
# own on these links. MTU 9000: the sample has frames of up to 1522 bytes (MPLS, VLAN) that a
# 1500-byte MTU would refuse to send.
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx ip link set "$va" mtu 9000 up && nsx ip link set "$vb" mtu 9000 up || { fail "veth up"; finish; }
nsx ip link set lo up

# Reference from the capture itself: per (src, dst, proto) packets/bytes/ip_bytes, IP packets,
# and the effect of the kernel's IPv4 defragmentation (below).
python3 "$(dirname "$0")/tshark_hostpairs.py" "$sample" > "$TMP/ref.tsv" || { fail "tshark reference"; finish; }
tshark -r "$sample" -Y 'ip.flags.mf == 1 || ip.frag_offset > 0' -T fields -E separator=/t \
  -e ip.src -e ip.dst -e ip.proto -e ip.id -e ip.flags.mf -e ip.frag_offset > "$TMP/frags.tsv" 2>/dev/null

# weir in the namespace. A 4096-frame PACKET_MMAP ring (default 512) gives weir 0.4 s of slack at
# 10 kpps should these shared 2-core machines deschedule it: the kernel drops on a full ring and
# DPDK 22.11's af_packet does not report those drops (imissed stays 0).
# Cases: one worker; two workers behind the software distributor (profile: 1 rx queue); two
# workers on qpairs=2 (the kernel's fanout hash splits per flow, one rx queue per worker).
sed 's/^rx_queues: .*/rx_queues: 0/' "$WEIR_SOURCE_DIR/pmd-config/af_packet.yaml" > "$TMP/af_perworker.yaml"
run_case() { # label workers extra-devargs [weir args...]
  local label=$1 w=$2 extra=$3; shift 3
  local out="$TMP/af-$label.jsonl"
  ip netns exec "$ns" "$WEIR_BIN" run --port "net_af_packet0,iface=$va,framecnt=4096$extra" \
    --workers "$w" --duration 4 --out "$out" --no-summary "$@" 2> "$TMP/weir-$label.err" &
  weir_pid=$! # ip netns exec execs weir: the same PID (not via nsx: a backgrounded function forks)
  # grep -c reads to the end: grep -q stopping early could SIGPIPE ss, a failure under pipefail
  for _ in $(seq 100); do nsx ss -0 -p 2>/dev/null | grep -c "pid=$weir_pid," > /dev/null && break; sleep 0.1; done
  nsx ss -0 -p 2>/dev/null | grep -c "pid=$weir_pid," > /dev/null || fail "$label: weir opened no packet socket on $va"
  sleep 0.5 # the packet socket exists at probe; let the port start and the workers poll
  nsx tcpreplay -i "$vb" -p 10000 "$sample" > "$TMP/tcpreplay.out" 2>&1 ||
    fail "$label: tcpreplay: $(tail -3 "$TMP/tcpreplay.out")"
  local sent failed rc r
  sent=$(awk '/Successful packets:/ {print $3}' "$TMP/tcpreplay.out")
  failed=$(awk '/Failed packets:/ {print $3}' "$TMP/tcpreplay.out")
  wait $weir_pid; rc=$?; weir_pid=""
  [ $rc -eq 0 ] || { fail "$label: weir exit $rc: $(tail -3 "$TMP/weir-$label.err")"; return; }
  # tcpreplay fails on the sample's 10-byte frame (shorter than an Ethernet header).
  echo "$label: tcpreplay sent $sent, failed $failed"
  if r=$(python3 - "$out" "$TMP/ref.tsv" "$TMP/frags.tsv" "${sent:-0}" "${failed:-0}" "$w" 2>&1 <<'PY'
import collections, json, sys
out, ref_path, frag_path = sys.argv[1:4]
sent, failed, w = map(int, sys.argv[4:7])
recs = [json.loads(l) for l in open(out)]
stats = [r for r in recs if r["type"] == "stats"]
assert len(stats) == 1, f"{len(stats)} stats records"
s = stats[0]
d = sum(s["dropped"].values())
assert s["rx"] == s["processed"] + d, f"rx {s['rx']} != processed {s['processed']} + dropped {d}"
assert len(s["workers"]) == w, f"{len(s['workers'])} workers in stats"
assert sum(x["processed"] for x in s["workers"].values()) == s["processed"], "workers' processed"
ref = {}
for l in open(ref_path):
    f = l.rstrip("\n").split("\t")
    if f[0] == "H":
        e = ref.setdefault((f[2], f[3], int(f[4])), [0, 0, 0])
        for i in range(3):
            e[i] += int(f[5 + i])
ip_packets = sum(e[0] for e in ref.values())
# DPDK's af_packet PMD joins a PACKET_FANOUT group with PACKET_FANOUT_FLAG_DEFRAG: the kernel
# reassembles IPv4 fragments before the socket sees them, so an n-fragment datagram arrives as one
# packet (IPv6 fragments pass as they are). Expected packets per key = tshark's minus (n - 1) per
# fragmented datagram (minus n if the datagram is incomplete: the kernel holds and drops it).
# bytes/ip_bytes of such keys change too (one large packet), so only their packets are compared.
frags = collections.defaultdict(list)
for l in open(frag_path):
    src, dst, proto, ipid, mf, off = l.rstrip("\n").split("\t")
    frags[(src, dst, int(proto), ipid)].append((int(mf), int(off)))
expect = {k: list(v) for k, v in ref.items()}
defrag_keys = set()
for (src, dst, proto, _), fl in frags.items():
    complete = any(o == 0 for _, o in fl) and any(m == 0 for m, _ in fl)
    expect[(src, dst, proto)][0] -= len(fl) - 1 if complete else len(fl)
    defrag_keys.add((src, dst, proto))
assert failed <= 1 and sent + failed == 5500, f"tcpreplay sent {sent}, failed {failed}"
got = collections.defaultdict(lambda: [0, 0, 0])
for r in recs:
    if r["type"] == "window" and r["query"] == "hostpairs":
        e = got[(r["src_ip"], r["dst_ip"], r["proto"])]
        e[0] += r["packets"]; e[1] += r["bytes"]; e[2] += r["ip_bytes"]
# Rows for addresses the sample does not have would be the kernel's own packets (IPv6 ND/MLD if
# IPv6 were on): ignored, reported. With IPv6 disabled and no addresses there are none.
extra = {k: v for k, v in got.items() if k not in expect}
bad = []
for k, e in expect.items():
    g = got.get(k, [0, 0, 0])
    if g[0] != e[0] or (k not in defrag_keys and g != e):
        bad.append(f"{k}: weir {g} want {e}")
assert not bad, f"{len(bad)} hostpairs differ from tshark: " + "; ".join(bad[:5])
want_ip = ip_packets - sum(ref[k][0] - expect[k][0] for k in defrag_keys)
assert s["processed"] >= want_ip, f"processed {s['processed']} < {want_ip} IP packets replayed"
print(f"rx={s['rx']} processed={s['processed']} dropped={d}; {len(expect)} hostpairs keys equal "
      f"tshark's ({sum(e[0] for e in expect.values())} packets; {ip_packets} IP frames in the "
      f"sample, {len(frags)} fragmented datagram(s) reassembled by the kernel); "
      f"{len(extra)} extra key(s) {sorted(extra)[:3]}; per worker processed "
      f"{[x['processed'] for x in s['workers'].values()]}")
PY
  ); then ok "$label: $r"; else fail "$label: $(tail -1 <<< "$r")"; fi
}
run_case w1 1 ""
run_case w2-distributor 2 ""
run_case w2-qpairs2 2 ",qpairs=2" --profile "$TMP/af_perworker.yaml"
finish
