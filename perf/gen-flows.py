#!/usr/bin/env python3
"""gen-flows.py --flows N --out FILE: a pcap of N UDP/IPv4 packets, each its own flow
(distinct address and port pairs), 60-byte frames, 1 us apart. Deterministic. For
perf/bench-ckpt.sh: replayed in a loop it keeps N flows and N window keys alive."""
import argparse
import struct

ap = argparse.ArgumentParser()
ap.add_argument("--flows", type=int, required=True)
ap.add_argument("--out", required=True)
a = ap.parse_args()

eth = bytes.fromhex("020000000002" "020000000001" "0800")
with open(a.out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    rec = struct.Struct("<IIII")
    for i in range(a.flows):
        src = 0x0A000000 | (i >> 8)          # 10.x.y.z: 65536 sources * 256 ports each
        dst = 0xC0A80000 | (i & 0xFF)        # 192.168.0.z
        sport = 1024 + (i & 0xFF) * 97 % 60000
        ip = struct.pack("!BBHHHBBHII", 0x45, 0, 28 + 18, i & 0xFFFF, 0, 64, 17, 0, src, dst)
        udp = struct.pack("!HHHH", sport, 9, 8 + 18, 0) + bytes(18)
        frame = eth + ip + udp
        t = 1700000000 * 1000000 + i
        f.write(rec.pack(t // 1000000, t % 1000000, len(frame), len(frame)))
        f.write(frame)
