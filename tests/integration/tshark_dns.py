#!/usr/bin/env python3
"""Independent reference for weir_dns_parse: the A/AAAA answers of DNS responses, from tshark.

Usage: tshark_dns.py CAPTURE

Prints TSV rows, in frame order:

    A <frame> <first question name> <address> <ttl>
        one per A (type 1) or AAAA (type 28) record of class IN in the *Answers* section
        of a DNS response (dns.flags.response == 1)
    F <frame> <first fragment's frame>
        the DNS response shown in <frame> was reassembled from IP (v4 or v6) fragments;
        the fragment with offset 0 (UDP header, DNS header, question and the first
        records) is <first fragment's frame>, the frame weir_dns_parse reads
    R <frame> tcp
        the DNS message shown in <frame> was reassembled from several TCP segments
    M <frame> <what>
        tshark marked the frame malformed, or the DNS layer carries expert info

The name is written as weir_dns_parse writes it: lower-case ASCII, no trailing dot, "."
for the root, bytes outside printable ASCII as \\DDD (decimal; tshark shows them as C
escapes, which are decoded first). A '.' inside a label cannot be told from a separator in
tshark's text and stays a '.'.

Only the "dns" layer is read (mDNS and LLMNR use other layers). tshark's JSON output is
read with duplicate keys kept (two identical records of one response, a frame with two
DNS messages).
"""
import json, subprocess, sys


def pairs(kv):
    return kv  # keep every (key, value) pair, duplicates included


def get(obj, key):
    """All values of key in a pairs-list object."""
    return [v for k, v in obj if k == key] if isinstance(obj, list) else []


def find_all(obj, key):
    """All values of key anywhere under obj."""
    out = []
    if isinstance(obj, list):
        for k, v in obj:
            if k == key:
                out.append(v)
            out += find_all(v, key)
    return out


def first(obj, key, default=None):
    v = get(obj, key)
    return v[0] if v else default


ESC = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def weir_name(text):
    """tshark's display of a name (C-style escapes: \\ooo octal, \\xhh, \\n ...) in weir's
    presentation: lower-case ASCII, bytes outside 0x21..0x7e and '\\' written \\DDD (decimal)."""
    raw, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n in "01234567":
                j = i + 1
                while j < len(text) and j < i + 4 and text[j] in "01234567":
                    j += 1
                raw.append(int(text[i + 1:j], 8) & 0xff)
                i = j
                continue
            if n == "x":
                raw.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            if n in ESC:
                raw.append(ESC[n])
                i += 2
                continue
        raw += c.encode("utf-8", "surrogateescape")
        i += 1
    out = []
    for b in raw:
        if 0x41 <= b <= 0x5a:
            b += 32
        out.append(chr(b) if 0x20 < b < 0x7f and b != 0x5c else "\\%03d" % b)
    return "".join(out)


def main():
    cap = sys.argv[1]
    cmd = ["tshark", "-r", cap, "-Y", "dns.flags.response == 1", "-T", "json",
           "-J", "frame dns ip ipv6 tcp _ws.malformed _ws.expert"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    pkts = json.loads(out, object_pairs_hook=pairs)
    rows = []
    for pkt in pkts:
        layers = first(first(pkt, "_source"), "layers")
        frame = first(layers, "frame")
        num = int(first(frame, "frame.number"))
        for proto in ("ip", "ipv6"):
            for ip in get(layers, proto):
                frags = find_all(ip, proto + ".fragment")
                if frags:  # listed by offset: the first one holds the UDP and DNS headers
                    rows.append(("F", num, int(frags[0])))
        for tcp in get(layers, "tcp"):
            if find_all(tcp, "tcp.segment"):
                rows.append(("R", num, "tcp"))
        for mal in get(layers, "_ws.malformed"):
            rows.append(("M", num, "malformed"))
        for dns in get(layers, "dns"):
            flags = first(dns, "dns.flags_tree")
            if first(flags, "dns.flags.response") != "1":
                continue
            qname = None
            for _, q in first(dns, "Queries", []) or []:
                qname = first(q, "dns.qry.name")
                break
            if qname is None:
                continue
            qname = "." if qname == "<Root>" else weir_name(qname)
            for _, a in first(dns, "Answers", []) or []:
                t = first(a, "dns.resp.type")
                cls = first(a, "dns.resp.class")
                if cls is None or int(cls, 16) != 1:
                    continue
                if t == "1" and first(a, "dns.a") is not None:
                    addr = first(a, "dns.a")
                elif t == "28" and first(a, "dns.aaaa") is not None:
                    addr = first(a, "dns.aaaa")
                else:
                    continue
                rows.append(("A", num, qname, addr, first(a, "dns.resp.ttl")))
            if first(dns, "_ws.expert") is not None or first(dns, "_ws.malformed") is not None:
                rows.append(("M", num, "dns expert info"))
    for r in rows:
        print("\t".join(str(x) for x in r))


if __name__ == "__main__":
    main()
