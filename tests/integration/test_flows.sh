#!/usr/bin/env bash
# Flow records against tshark's conversation tables on the bundled sample: with timeouts
# longer than the capture, every TCP/UDP flow weir reports is one tshark conversation with
# the same frame count in each direction, and every outer-layer conversation tshark lists is
# one weir flow (inner conversations of VXLAN/GTP/GRE tunnels are tshark-only: weir keys
# flows on the outer header). Fragments: reassembly off in both.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
sample="$WEIR_SOURCE_DIR/tests/data/sample.pcap"
cat > "$TMP/f.yaml" <<'Y'
flows:
  mode: on
  records: true
  timeouts: {tcp_new: 24h, tcp_established: 24h, tcp_closing: 24h, udp: 24h, other: 24h}
Y
for w in 1 2; do
  "$WEIR_BIN" run --config "$TMP/f.yaml" --pcap "$sample" --workers $w --out "$TMP/f$w.jsonl" \
    --no-summary 2> "$TMP/err" || { fail "workers=$w: weir failed: $(tail -3 "$TMP/err")"; continue; }
  for proto in tcp udp; do
    tshark -r "$sample" -o ip.defragment:FALSE -o ipv6.defragment:FALSE -q -z conv,$proto \
      > "$TMP/conv_$proto" 2>/dev/null
  done
  # outer-layer conversations: first TCP/UDP header of frames whose outermost IP is not a tunnel
  tshark -r "$sample" -o ip.defragment:FALSE -o ipv6.defragment:FALSE -T fields \
    -E occurrence=f -e frame.protocols -e ip.src -e ipv6.src -e tcp.srcport -e udp.srcport \
    -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport > "$TMP/outer" 2>/dev/null
  python3 - "$TMP/f$w.jsonl" "$TMP/conv_tcp" "$TMP/conv_udp" "$TMP/outer" <<'PY' \
    && ok "workers=$w: flow records equal tshark's conversations" || fail "workers=$w: see above"
import json, re, sys
def ep(ip, port): return (ip, int(port))
conv = {}
for proto, path in ((6, sys.argv[2]), (17, sys.argv[3])):
    for line in open(path):
        m = re.match(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+", line)
        if m:
            a, b = ep(m[1], m[2]), ep(m[3], m[4])
            # tshark: "<-" counts frames from B to A, "->" frames from A to B
            conv[(proto, frozenset((a, b)))] = {a: int(m[6]), b: int(m[5])}
outer = set()
for line in open(sys.argv[4]):
    f = line.rstrip("\n").split("\t")
    layers = f[0].split(":")
    ipl = next((l for l in layers if l in ("ip", "ipv6")), None)
    l4 = next((l for l in layers if l in ("tcp", "udp")), None)
    if not ipl or not l4: continue
    # the L4 header must sit right behind the outermost IP header
    if layers.index(l4) != layers.index(ipl) + 1: continue
    src = f[1] if ipl == "ip" else f[2]; dst = f[5] if ipl == "ip" else f[6]
    sp = f[3] if l4 == "tcp" else f[4]; dp = f[7] if l4 == "tcp" else f[8]
    if src and sp and dst and dp:
        outer.add(((6 if l4 == "tcp" else 17), frozenset((ep(src, sp), ep(dst, dp)))))
flows = [json.loads(l) for l in open(sys.argv[1]) if '"type":"flow"' in l]
bad = 0; seen = set()
for f in flows:
    if f["proto"] not in (6, 17): continue
    c, s = ep(f["client_ip"], f["client_port"]), ep(f["server_ip"], f["server_port"])
    key = (f["proto"], frozenset((c, s)))
    if key in seen:
        print("flow split in two:", f); bad += 1
    seen.add(key)
    t = conv.get(key)
    # Known: the sample's deliberately malformed TCP header (data offset 2, one packet):
    # tshark dissects its ports but leaves it out of the conversation table.
    if not t and key in outer and (c[1], s[1]) == (51444, 80) and f["packets_to_server"] == 1:
        continue
    if not t or t[c] != f["packets_to_server"] or t[s] != f["packets_to_client"]:
        print("flow", c, s, f["proto"], f["packets_to_server"], f["packets_to_client"], "tshark:", t); bad += 1
missing = outer - seen
for k in sorted(missing, key=str)[:10]:
    print("outer conversation without a flow:", k)
bad += len(missing)
print(f"{len(seen)} tcp/udp flows, {len(conv)} tshark conversations, {len(outer)} outer")
sys.exit(1 if bad or not seen else 0)
PY
done
finish
