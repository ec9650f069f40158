#!/usr/bin/env python3
"""ckpt_event_time.py CAPTURE CKPT...: each checkpoint resumes event time where its barrier was.

A checkpoint's meta section says how many packets of the capture were read before the barrier
("sources"[0]["packets"]) and the event time a restore starts from ("event_time_ns"). That time
must be the latest pcap timestamp among exactly those packets: a later one (the workers' time
when the checkpoint was written, after they went on past the barrier) makes the restored
watermark drop the packets between the barrier and it as too late. Prints one line per
checkpoint; exit 1 if any differs."""
import json
import struct
import sys


def timestamps(path):
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        order, nano = {0xA1B2C3D4: ("<", False), 0xA1B23C4D: ("<", True),
                       0xD4C3B2A1: (">", False), 0x4D3CB2A1: (">", True)}[magic]
        out = []
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return out
            sec, frac, incl, _ = struct.unpack(order + "IIII", rec)
            out.append(sec * 10**9 + (frac if nano else frac * 1000))
            f.seek(incl, 1)


def meta(path):
    data = open(path, "rb").read()
    at = data.find(b'{"version":')
    if at < 0:
        raise ValueError(f"{path}: no meta section")
    return json.JSONDecoder().raw_decode(data[at:].decode("utf-8", "replace"))[0]


ts = timestamps(sys.argv[1])
bad = 0
for path in sys.argv[2:]:
    m = meta(path)
    n = m["sources"][0]["packets"]
    want = max(ts[:n]) if n else 0
    got = m["event_time_ns"]
    same = got == want
    bad += not same
    print(f"{'ok' if same else 'BAD'} {path}: {n} packets read, event time {got}, "
          f"latest of them {want}")
sys.exit(1 if bad else 0)
