#!/usr/bin/env bash
# The bundled starter rules (rules/basic.rules) on the bundled sample: each rule's matched
# packets equal the packets tshark dissects as what the rule describes. With
# --layer inner every tunnelled packet counts; with the default outer layer only packets with a
# single IP header (a tunnel's payload is not seen there).
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
sample="$WEIR_SOURCE_DIR/tests/data/sample.pcap"
rules="$WEIR_SOURCE_DIR/rules/basic.rules"
declare -A filter=(
  [1000001]='http.request and (http.user_agent contains "Wget/" or http.user_agent contains "curl/") and tcp.dstport == 80'
  [1000002]='http.request.method == "POST" and tcp.dstport == 80'
  [1000003]='dns.flags.response == 0 and dns.qry.name contains "_ldap._tcp" and udp.dstport == 53'
  [1000004]='tls.handshake.type == 1 and tcp.dstport == 443'
)
for layer in outer inner; do
  "$WEIR_BIN" run --sample --layer $layer --rules "$rules" --out "$TMP/$layer.jsonl" --no-summary \
    2> "$TMP/err" || { fail "$layer: weir failed: $(tail -3 "$TMP/err")"; continue; }
  for sid in "${!filter[@]}"; do
    want=$(tshark -r "$sample" -o ip.defragment:FALSE -Y "${filter[$sid]}" -T fields -e frame.protocols 2>/dev/null |
      python3 -c '
import sys
layer = sys.argv[1]; n = 0
for line in sys.stdin:
    p = line.strip().split(":")
    if layer == "inner" or sum(l in ("ip", "ipv6") for l in p) == 1:  # no tunnel
        n += 1
print(n)' $layer)
    got=$(stat "$TMP/$layer.jsonl" "rules.$sid.packets")
    [ "$got" = "$want" ] && [ "$want" -gt 0 ] && ok "$layer: rule $sid matched $got packets, as tshark" \
      || fail "$layer: rule $sid matched $got packets, tshark $want"
  done
done
"$WEIR_BIN" rules check --strict "$rules" > /dev/null && ok "basic.rules load strictly" || fail "basic.rules: rules check --strict"
finish
