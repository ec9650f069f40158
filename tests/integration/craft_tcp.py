#!/usr/bin/env python3
"""Writes a small pcap for cross-packet matching tests, by hand (no scapy).

One TCP connection 10.9.0.1:40000 -> 10.9.0.2:80: handshake, then the request
"GET /x HTTP/1.1\\r\\nX-Probe: weir-split-marker\\r\\n\\r\\n" sent as two segments
that cut "weir-split-marker" in half; with --reorder the second segment is
captured before the first (out of order), then the first, then a
retransmission of the second. Usage: craft_tcp.py OUT.pcap [--reorder]
"""
import struct, sys

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ip(a): return bytes(int(x) for x in a.split("."))

def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, ip(src), ip(dst))
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + iph + tcp

C, S, CP, SP = "10.9.0.1", "10.9.0.2", 40000, 80
req = b"GET /x HTTP/1.1\r\nX-Probe: weir-split-marker\r\n\r\n"
cut = req.index(b"split") + 2
ci, si = 1000, 5000
pk = [frame(C, S, CP, SP, ci, 0, 0x02),
      frame(S, C, SP, CP, si, ci + 1, 0x12),
      frame(C, S, CP, SP, ci + 1, si + 1, 0x10)]
seg1 = frame(C, S, CP, SP, ci + 1, si + 1, 0x18, req[:cut])
seg2 = frame(C, S, CP, SP, ci + 1 + cut, si + 1, 0x18, req[cut:])
pk += [seg2, seg1, seg2] if "--reorder" in sys.argv else [seg1, seg2]
pk.append(frame(S, C, SP, CP, si + 1, ci + 1 + len(req), 0x10))
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, p in enumerate(pk):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(p), len(p)) + p)
