#!/usr/bin/env python3
"""Independent reference: per-60s-window hostpairs and totals of a capture, from tshark.

Same semantics as ../shared/data/oracle/ndpi-mix.hostpairs.tsv: keys from the outermost IP
header (VLAN/MPLS/PPPoE transparent), proto = IPv4 protocol / IPv6 fixed Next Header,
ip_bytes = IPv4 total length or IPv6 payload length + 40; bytes = captured length.
Prints TSV: hostpairs rows "H bin src dst proto packets bytes ip_bytes" and totals rows
"T bin packets bytes".
"""
import collections, subprocess, sys

fields = ["frame.time_epoch", "frame.protocols", "frame.cap_len", "ip.src", "ip.dst", "ip.proto",
          "ip.len", "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.plen"]
cmd = ["tshark", "-r", sys.argv[1], "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
for f in fields:
    cmd += ["-e", f]
out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
size = int(sys.argv[2]) if len(sys.argv) > 2 else 60
hp = collections.defaultdict(lambda: [0, 0, 0])
tot = collections.defaultdict(lambda: [0, 0])
for line in out.splitlines():
    v = dict(zip(fields, line.split("\t")))
    sec, _, frac = v["frame.time_epoch"].partition(".")
    b = int(sec) // size * size
    cap = int(v["frame.cap_len"])
    tot[b][0] += 1
    tot[b][1] += cap
    layers = v["frame.protocols"].split(":")
    first = next((l for l in layers if l in ("ip", "ipv6")), None)
    if first == "ip" and v["ip.src"]:
        key = (b, v["ip.src"], v["ip.dst"], int(v["ip.proto"]))
        ipb = int(v["ip.len"])
    elif first == "ipv6" and v["ipv6.src"]:
        key = (b, v["ipv6.src"], v["ipv6.dst"], int(v["ipv6.nxt"]))
        ipb = int(v["ipv6.plen"]) + 40
    else:
        continue
    e = hp[key]
    e[0] += 1; e[1] += cap; e[2] += ipb
for k, e in sorted(hp.items()):
    print("H", *k, *e, sep="\t")
for b, e in sorted(tot.items()):
    print("T", b, *e, sep="\t")
