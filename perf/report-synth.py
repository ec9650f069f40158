#!/usr/bin/env python3
"""report-synth.py --out FILE [--flows 1024] [--packets 65536] [--size 64]: a pcap of
Ethernet/IPv4/UDP frames of --size captured bytes (64 = the minimum Ethernet frame with
its FCS counted, what 14.88 Mpps on 10GbE is about), round-robin over --flows flows
(distinct address and port pairs), 1 us apart. Deterministic. For perf/report: replayed
with net_pcap infinite_rx=1 it is the synthetic 64-byte traffic."""
import argparse
import struct

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--flows", type=int, default=1024)
ap.add_argument("--packets", type=int, default=65536)
ap.add_argument("--size", type=int, default=64)
a = ap.parse_args()
if a.size < 42 or a.size > 2048 or a.flows < 1 or a.packets < 1:
    ap.error("--size must be 42..2048, --flows and --packets >= 1")

eth = bytes.fromhex("020000000002" "020000000001" "0800")
pay = a.size - 42


def csum(b):
    s = sum(struct.unpack("!10H", b))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


with open(a.out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    rec = struct.Struct("<IIII")
    frames = []
    for i in range(a.flows):
        src = 0x0A000000 | (i + 1)            # 10.0.x.y
        dst = 0xC0A80000 | ((i * 7) & 0xFFFF)  # 192.168.x.y
        sport, dport = 1024 + i % 60000, 9000 + i % 4
        ip = struct.pack("!BBHHHBBHII", 0x45, 0, 28 + pay, i & 0xFFFF, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        udp = struct.pack("!HHHH", sport, dport, 8 + pay, 0) + bytes((i + j) & 0xFF for j in range(pay))
        frames.append(eth + ip + udp)
    for n in range(a.packets):
        fr = frames[n % a.flows]
        t = 1700000000 * 1000000 + n
        f.write(rec.pack(t // 1000000, t % 1000000, len(fr), len(fr)))
        f.write(fr)
