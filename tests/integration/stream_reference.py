#!/usr/bin/env python3
"""Independent references for weir's stream queries, from tshark's field and JSON output.

Usage:
    stream_reference.py ref CAPTURE LABELS.csv OUTDIR
        run tshark once over CAPTURE and write the expected rows of each query of
        tests/integration/test_stream_queries.sh to OUTDIR/<query>.tsv, plus
        OUTDIR/counts.tsv (packets each query must report as no_key / filtered)
    stream_reference.py weir OUT.jsonl OUTDIR
        the same rows from weir's JSON lines (final rows only; exits 1, saying why, when a
        row is not final, is late, is an "_other" row, or the stats record is missing)

Rows are tab-separated, sorted, times in ns since the epoch:
    sliding   window_start window_end src_ip packets bytes
    sessions  window_start window_end src_ip dst_ip packets bytes first_ts last_ts
    https     window_start window_end dst_port packets bytes
    labels    window_start window_end src_label packets bytes
    names     window_start window_end dst_name packets bytes

Semantics mirrored (weir's documentation, README.md and lib/conf/weir_conf.c):
  - event time: the pcap record time (frame.time_epoch, read exactly as decimal ns);
  - bytes: the captured length (frame.cap_len), not the wire length (frame.len);
  - src_ip/dst_ip: the OUTERMOST IP header (analysis_layer: outer), whatever sits below it
    (VLAN, MPLS, PPPoE) and above it (ndpi-mix has 4in6, 6in4 and VXLAN frames: they are keyed
    on the outer addresses, as tests/integration/test_oracle_hostpairs.sh explains); a frame
    without an IP header has no key (no_key);
  - sliding windows [k*slide, k*slide + size) for every k (epoch-aligned), a packet in each
    window containing it; windows without packets are not emitted;
  - session windows per key: a packet >= gap after the key's previous one starts a new
    session; window_start = first ts, window_end = last ts + gap;
  - labels: longest-prefix match of the source address over the CSV (Python's ipaddress);
  - dst_name: see dns_answers() and names below.
"""
import collections, ipaddress, json, os, subprocess, sys

NS = 10**9
SLIDE_SIZE, SLIDE_STEP = 60 * NS, 20 * NS
GAP = 30 * NS
TUMBLE = 60 * NS

FIELDS = ["frame.number", "frame.time_epoch", "frame.cap_len", "frame.protocols",
          "ip.src", "ip.dst", "ip.frag_offset", "ipv6.src", "ipv6.dst", "ipv6.fraghdr.offset",
          "tcp.srcport", "tcp.dstport", "udp.srcport"]
# Reassembly off: like weir, tshark then reads every frame on its own (an IP fragment's
# L4 header only in the first fragment, a DNS message only from the one segment/datagram).
TSHARK = ["tshark", "-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
          "-o", "tcp.desegment_tcp_streams:FALSE"]
TSHARK_FIELDS = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=/t"]
# DNS answers: tshark's JSON, which keeps each record's fields together (in field output the
# records' dns.resp.* cannot be lined up: OPT records lack class and TTL, NSEC3 type bitmaps
# add dns.resp.type values). Only responses from port 53 are printed.
TSHARK_DNS = ["-Y", "dns.flags.response == 1 && (udp.srcport == 53 || tcp.srcport == 53)",
              "-T", "json", "-J", "frame dns"]
V6_EXT = {"ipv6.hopopts", "ipv6.routing", "ipv6.dstopts", "ipv6.fraghdr", "ah"}


def ts_ns(epoch):
    sec, _, frac = epoch.partition(".")
    return int(sec) * NS + int((frac + "000000000")[:9])


def addr(a):
    return str(ipaddress.ip_address(a))


class Pkt:
    __slots__ = ("num", "ts", "cap", "layers", "v", "ipl", "src", "dst", "l4")

    def __init__(self, line):
        vals = line.split("\t")
        self.v = {f: (vals[i].split("|") if i < len(vals) and vals[i] else [])
                  for i, f in enumerate(FIELDS)}
        self.num = int(self.v["frame.number"][0])
        self.ts = ts_ns(self.v["frame.time_epoch"][0])
        self.cap = int(self.v["frame.cap_len"][0])
        self.layers = self.v["frame.protocols"][0].split(":") if self.v["frame.protocols"] else []
        # The outermost IP header: the first ip/ipv6 layer that has addresses (as in
        # tests/integration/test_proto_tshark.sh). An EtherType 0x0800 frame whose header says
        # version 6 is one "ip" layer without addresses (bogus version) followed by "ipv6":
        # weir, like tshark, reads it as IPv6 and keys it on that header. The i-th layer of a
        # kind has the i-th occurrence of its fields.
        self.ipl = self.src = self.dst = self.l4 = None
        for pos, kind in enumerate(self.layers):
            if kind not in ("ip", "ipv6"):
                continue
            i = self.layers[:pos].count(kind)
            s, d = self.v[kind + ".src"], self.v[kind + ".dst"]
            if len(s) > i and len(d) > i:
                self.ipl, self.src, self.dst = pos, addr(s[i]), addr(d[i])
                # the protocol after the header and its IPv6 extension headers
                self.l4 = next((l for l in self.layers[pos + 1:] if l not in V6_EXT), None)
                break

    def first(self, field):
        vals = self.v[field]
        return vals[0] if vals else None


def read_capture(cap):
    """(packets, {frame number: [DNS message layers]}); the two tshark passes run at once."""
    cmd = TSHARK + ["-r", cap] + TSHARK_FIELDS
    for f in FIELDS:
        cmd += ["-e", f]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
             for c in (cmd, TSHARK + ["-r", cap] + TSHARK_DNS)]
    outs = [p.communicate()[0] for p in procs]
    for p, c in zip(procs, (cmd, TSHARK_DNS)):
        if p.returncode:
            raise SystemExit(f"tshark failed ({p.returncode}): {' '.join(c)}")
    # tshark writes DNS name bytes that are not UTF-8 as U+FFFD; keep its text as it is
    pkts = [Pkt(l) for l in outs[0].decode("utf-8", "replace").splitlines()]
    dns = {}
    for pkt in json.loads(outs[1].decode("utf-8", "replace"), object_pairs_hook=pairs):
        layers = first(first(pkt, "_source"), "layers")
        dns[int(first(first(layers, "frame"), "frame.number"))] = get(layers, "dns")
    return pkts, dns


def pairs(kv):
    return kv  # JSON objects as (key, value) lists: duplicate keys (equal records) are kept


def get(obj, key):
    return [v for k, v in obj if k == key] if isinstance(obj, list) else []


def first(obj, key, default=None):
    v = get(obj, key)
    return v[0] if v else default


def any_value(obj, pred):
    """Does pred hold for some string value anywhere under obj?"""
    if isinstance(obj, list):
        return any(any_value(v, pred) for _, v in obj)
    return isinstance(obj, str) and pred(obj)


# ---- the tcpdump filter "tcp port 443" --------------------------------------------------

def tcp_port_443(p):
    """What libpcap's code for `tcp port 443` on an Ethernet link accepts: EtherType 0x0800
    directly after the MAC header (no VLAN tag: tcpdump needs the `vlan` keyword for those),
    IPv4 protocol 6, fragment offset 0, and source or destination port 443 read at the IHL;
    or EtherType 0x86dd with the FIXED header's Next Header 6 (libpcap does not walk IPv6
    extension headers), port at offset 40. tshark shows exactly those as protocols starting
    eth:ethertype:ip:tcp / eth:ethertype:ipv6:tcp when reassembly is off: a later IPv4
    fragment is dissected as data, an IPv6 fragment header or other extension header sits
    between ipv6 and tcp. A frame too short for the ports has no tcp.*port (libpcap: a load
    out of bounds rejects the packet).
    So the naive display filter `tcp.port == 443` is NOT the reference: on ndpi-mix it also
    takes 264 frames that tcpdump's `tcp port 443` (and weir) reject: 165 VLAN-tagged,
    92 with TCP/443 only inside a tunnel (6in4, 4in6, GTP-U: the outer header is not TCP),
    7 ICMP errors quoting a TCP/443 header."""
    if p.layers[:4] not in (["eth", "ethertype", "ip", "tcp"], ["eth", "ethertype", "ipv6", "tcp"]):
        return False
    if p.layers[2] == "ip" and p.first("ip.frag_offset") not in (None, "0"):
        return False
    sp, dp = p.first("tcp.srcport"), p.first("tcp.dstport")
    return sp == "443" or dp == "443"


# ---- labels ---------------------------------------------------------------------------

def read_labels(path):
    nets = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cidr, label = (x.strip() for x in line.split(",", 1))
        if label.startswith('"'):
            label = label[1:-1].replace('""', '"')
        nets.append((ipaddress.ip_network(cidr), label))
    return nets


def label_of(nets, a):
    ip = ipaddress.ip_address(a)
    best = None
    for net, label in nets:
        if net.version == ip.version and ip in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, label)
    return best[1] if best else None


# ---- DNS answers ------------------------------------------------------------------------

def weir_name(text):
    """tshark's display of a name in weir's presentation (lib/enrich/weir_dns.c): ASCII
    lower-cased, bytes outside printable ASCII and '\\' written \\DDD (decimal). tshark shows
    bytes below 0x20 as \\ooo (octal) and a '\\' as \\\\; bytes >= 0x80 that are not UTF-8
    it replaces by U+FFFD, which cannot be undone: such names keep the U+FFFD (see
    canonical_name())."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            j = i + 1
            while j < len(text) and j < i + 4 and text[j] in "01234567":
                j += 1
            if j > i + 1:
                b = int(text[i + 1:j], 8)
                i = j
            else:
                b = ord(text[i + 1])
                i += 2
        else:
            b = ord(c)
            i += 1
        if 0x41 <= b <= 0x5a:
            b += 32
        out.append(chr(b) if 0x20 < b < 0x7f and b != 0x5c else
                   c if b > 0xff else "\\%03d" % b)
    return "".join(out)


def canonical_name(name):
    """weir's name with bytes >= 0x80 turned into what tshark shows for them (UTF-8 decoding,
    U+FFFD for what is not UTF-8), so that the two can be compared."""
    raw, i = bytearray(), 0
    while i < len(name):
        if name[i] == "\\" and name[i + 1:i + 4].isdigit():
            b = int(name[i + 1:i + 4])
            if b >= 0x80:
                raw.append(b)
            else:
                raw += ("\\%03d" % b).encode()
            i += 4
        else:
            raw += name[i].encode()
            i += 1
    return raw.decode("utf-8", "replace")


def dns_answers(p, messages):
    """(address, name, ttl) of the A/AAAA answers weir learns from frame p, mirroring
    lib/enrich/weir_dns.c and dns_response() in lib/io/weir_annotate.c: the outer L4 header is
    UDP or TCP from source port 53 with a DNS message right after it (tshark's "dns" layer;
    its LLMNR and mDNS layers are other ports), not a later IP fragment, not marked malformed;
    in each response message (a TCP segment may carry several) every record of the Answers
    section of class IN and type A or AAAA, named by the message's FIRST question; a TTL
    with the top bit set counts as 0."""
    L = p.layers
    if p.l4 not in ("udp", "tcp") or p.ipl is None:
        return []
    i4 = L.index(p.l4, p.ipl)
    if L[i4 + 1:i4 + 2] != ["dns"] or "_ws.malformed" in L:
        return []
    if (p.first("udp.srcport") if p.l4 == "udp" else p.first("tcp.srcport")) != "53":
        return []
    # A later IP fragment has no UDP header (tshark: "data" with reassembly off); the first
    # fragment of a datagram goes on elsewhere: weir keeps the answers complete in it, and
    # so does tshark, which dissects the records that fit and stops at the cut one.
    if L[p.ipl] == "ip" and p.first("ip.frag_offset") not in (None, "0"):
        return []
    if "ipv6.fraghdr" in L and p.first("ipv6.fraghdr.offset") not in (None, "0"):
        return []
    out = []
    for msg in messages:
        if first(first(msg, "dns.flags_tree"), "dns.flags.response") != "1":
            continue
        # A name weir cannot walk (over 255 bytes in wire form, a 0b01/0b10 label type)
        # anywhere in the message makes all of it unusable; tshark shows such names as
        # these markers without marking the frame malformed (ndpi-mix: 4 www.xt.com
        # responses whose second question is too long).
        if any_value(msg, lambda v: v in ("<Name too long>", "<Unknown extended label>")):
            continue
        qname = None
        for _, q in first(msg, "Queries", []) or []:
            qname = first(q, "dns.qry.name")
            break
        if qname is None:
            continue
        name = "." if qname == "<Root>" else weir_name(qname)
        for _, a in first(msg, "Answers", []) or []:
            t, cls = first(a, "dns.resp.type"), first(a, "dns.resp.class")
            if cls is None or int(cls, 16) != 1:
                continue
            if t == "1" and first(a, "dns.a") is not None:
                ip = first(a, "dns.a")
            elif t == "28" and first(a, "dns.aaaa") is not None:
                ip = first(a, "dns.aaaa")
            else:
                continue
            ttl = int(first(a, "dns.resp.ttl"))
            if ttl >= 2**31 or ttl < 0:
                ttl = 0
            out.append((addr(ip), name, ttl))
    return out


# ---- the references ---------------------------------------------------------------------

def reference(cap, labels_csv, outdir):
    pkts, dns_msgs = read_capture(cap)
    if any(b.ts < a.ts for a, b in zip(pkts, pkts[1:])):
        raise SystemExit("capture is not in time order: the DNS reference assumes it is")
    nets = read_labels(labels_csv)
    sliding = collections.defaultdict(lambda: [0, 0])
    https = collections.defaultdict(lambda: [0, 0])
    labels = collections.defaultdict(lambda: [0, 0])
    names = collections.defaultdict(lambda: [0, 0])
    by_pair = collections.defaultdict(list)
    counts = collections.Counter()
    dns = {}  # address -> (name, expiry ns) of the LATEST answer (weir_dns_table_insert replaces)
    for p in pkts:
        counts["rx"] += 1
        # sliding: windows [k*slide, k*slide+size) holding ts
        if p.src is None:
            counts["no_key"] += 1
        else:
            k = p.ts // SLIDE_STEP
            while k * SLIDE_STEP + SLIDE_SIZE > p.ts and k * SLIDE_STEP >= 0:
                e = sliding[(k * SLIDE_STEP, p.src)]
                e[0] += 1
                e[1] += p.cap
                k -= 1
            by_pair[(p.src, p.dst)].append(p)
        w = p.ts // TUMBLE * TUMBLE
        if tcp_port_443(p):
            e = https[(w, int(p.first("tcp.dstport")))]
            e[0] += 1
            e[1] += p.cap
        else:
            counts["https_filtered"] += 1
        lab = label_of(nets, p.src) if p.src else None
        if lab is None:
            counts["labels_no_key"] += 1
        else:
            e = labels[(w, lab)]
            e[0] += 1
            e[1] += p.cap
        # names: this frame's answers are learnt first (weir learns before it names; a
        # response's own destination is the client, rarely an answer), then the destination
        # is looked up: named while ts < answer ts + ttl. The latest answer for an address
        # replaces the entry (weir_dns_table_insert), even with a shorter TTL.
        for a, n, ttl in dns_answers(p, dns_msgs.get(p.num, [])):
            dns[a] = (n, p.ts + ttl * NS)
            counts["dns_answers"] += 1
        got = dns.get(p.dst) if p.dst else None
        if got and p.ts < got[1]:
            e = names[(w, got[0])]
            e[0] += 1
            e[1] += p.cap
        else:
            counts["names_no_key"] += 1
    sessions = []
    for (s, d), ps in by_pair.items():
        cur = None
        for p in ps:
            if cur is None or p.ts - cur[1] >= GAP:
                cur = [p.ts, p.ts, 0, 0]
                sessions.append((s, d, cur))
            cur[1] = p.ts
            cur[2] += 1
            cur[3] += p.cap
    os.makedirs(outdir, exist_ok=True)
    write(outdir, "sliding", [(w, w + SLIDE_SIZE, s, *e) for (w, s), e in sliding.items()])
    write(outdir, "sessions", [(c[0], c[1] + GAP, s, d, c[2], c[3], c[0], c[1])
                               for s, d, c in sessions])
    write(outdir, "https", [(w, w + TUMBLE, port, *e) for (w, port), e in https.items()])
    write(outdir, "labels", [(w, w + TUMBLE, lab, *e) for (w, lab), e in labels.items()])
    write(outdir, "names", [(w, w + TUMBLE, n, *e) for (w, n), e in names.items()])
    write(outdir, "counts", list(counts.items()))


def write(outdir, name, rows):
    with open(os.path.join(outdir, name + ".tsv"), "w") as f:
        for r in sorted("\t".join(str(x) for x in r) for r in rows):
            print(r, file=f)


# ---- weir's rows ------------------------------------------------------------------------

KEYS = {"sliding": ["src_ip"], "sessions": ["src_ip", "dst_ip"], "https": ["dst_port"],
        "labels": ["src_label"], "names": ["dst_name"]}
AGGS = {"sessions": ["packets", "bytes", "first_ts", "last_ts"]}


def from_weir(jsonl, outdir):
    rows = collections.defaultdict(list)
    stats, bad = None, []
    for line in open(jsonl, encoding="utf-8", errors="surrogateescape"):
        r = json.loads(line)
        if r["type"] == "stats":
            stats = r
            continue
        if r["type"] != "window":
            continue
        q = r["query"]
        if r.get("final") is not True or r.get("late"):
            bad.append(f"not a plain final row: {line.strip()}")
        if any(r.get(k) == "_other" for k in KEYS[q]):
            # weir writes "_other" in every key field of the row for keys beyond max_keys
            bad.append(f"_other row (max_keys is 65536, far above the keys here): {line.strip()}")
            continue
        keys = []
        for k in KEYS[q]:
            v = r[k]
            if k.endswith("_ip"):
                v = addr(v)
            elif k == "dst_name":
                v = canonical_name(v)
            keys.append(v)
        aggs = [r[a] for a in AGGS.get(q, ["packets", "bytes"])]
        rows[q].append((r["window_start"], r["window_end"], *keys, *aggs))
    if stats is None:
        bad.append("no stats record")
    os.makedirs(outdir, exist_ok=True)
    for q in KEYS:
        write(outdir, q, rows[q])
    if stats:
        with open(os.path.join(outdir, "stats.json"), "w") as f:
            json.dump(stats, f)
    for b in bad[:20]:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "ref":
        reference(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "weir":
        sys.exit(from_weir(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
