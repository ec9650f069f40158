#!/usr/bin/env python3
"""perf/gen-rules.py: a deterministic generator of realistic rule files in weir's
Suricata subset (rules/README.md), for benchmarks that need many rules (bench-swap.sh).

    perf/gen-rules.py --count 10000 --seed 1 --sid-base 3000000 --out set1.rules
    perf/gen-rules.py --count 10000 --seed 2 --sid-base 3000000 --out set2.rules
    perf/gen-rules.py --count 10 --seed 3 --sid-base 3900000 --out add10.rules

The same options give the same bytes (Python's random.Random(seed), no other input).
The mix imitates a sensor's ET-style rule set restricted to what weir loads (no
app-layer protocols, no sticky buffers, no byte_test/flowbits/dsize):

  * HTTP requests to $HTTP_PORTS (and 8080/8000:8081 lists): a method at depth 4-7 then
    a path, a parameter or a user agent chained with distance:0 (one Hyperscan expression
    whose rare part is the random token), request headers, some with a pcre;
  * HTTP responses from $HTTP_PORTS (status line at depth 12, then a header or body token);
  * DNS queries to udp 53: the query flag at offset 2, then a length-prefixed name;
  * TLS to 443 / 8443: record header at depth 2-3, then an SNI-like host name; certificate
    subjects to_client;
  * other services (FTP, SMTP, POP, IMAP, SMB, MSSQL, MySQL, RDP, SSH, telnet, IRC, VNC,
    redis, memcached): a banner or command at a small depth plus a token;
  * UDP services (SIP, SNMP, NTP, SSDP, TFTP, NetBIOS) and a few ICMP and any-port rules
    (binary "shellcode" signatures as |hex|, a few negated contents).

Contents are 4-20 bytes: tokens from protocol vocabularies combined with seeded random
strings, so that every rule is distinct and almost none matches ordinary traffic (as in a
real set, where most rules never fire). About 10 % carry a pcre (no back-references or
look-around: Hyperscan cannot compile those, and weir would skip the rule). Every rule has
msg, a classtype, sid, rev; some a reference and metadata, as ET rules do.
"""
import argparse
import random
import re
import string
import sys

LOWER = string.ascii_lowercase
ALNUM = string.ascii_lowercase + string.digits
MIXED = string.ascii_letters + string.digits

HTTP_METHODS = ["GET ", "POST ", "PUT ", "HEAD ", "OPTIONS ", "DELETE "]
HTTP_DIRS = ["/wp-admin/", "/wp-content/plugins/", "/admin/", "/cgi-bin/", "/include/", "/api/v1/",
             "/images/", "/uploads/", "/modules/", "/components/", "/scripts/", "/phpmyadmin/",
             "/manager/html/", "/solr/", "/console/", "/remote/", "/owa/", "/vendor/", "/.git/",
             "/jmx-console/", "/struts/", "/user/", "/portal/", "/webtools/", "/dana-na/"]
HTTP_EXTS = [".php", ".asp", ".aspx", ".jsp", ".cgi", ".do", ".action", ".pl", ".html", ".js",
             ".exe", ".dll", ".zip", ".jar", ".ps1", ".bin", ".dat", ".gif"]
HTTP_PARAMS = ["id=", "cmd=", "page=", "file=", "url=", "q=", "user=", "action=", "dir=", "path=",
               "debug=", "exec=", "lang=", "redirect=", "template=", "uid=", "token="]
ATTACK_TOKENS = ["union select", "select%20", "../../", "..%2f", "<script>", "%3cscript", "/etc/passwd",
                 "cmd.exe", "/bin/sh", "wget%20", "curl%20", "${jndi:", "eval(", "base64_decode",
                 "xp_cmdshell", "waitfor delay", "benchmark(", "sleep(", "concat(", "information_schema",
                 "onerror=", "javascript:", "document.cookie", "passthru(", "system(", "%3bid%3b"]
UA_PREFIX = ["User-Agent|3a 20|", "User-Agent|3a| "]
UA_BODIES = ["Mozilla/4.0 (compatible|3b| ", "Mozilla/5.0 (Windows NT ", "Mozilla/5.0 (", "python-requests/",
             "Go-http-client/", "curl/", "Wget/", "Java/", "WinHttp", "Microsoft-CryptoAPI/", ""]
HTTP_HEADERS = ["Host|3a 20|", "Referer|3a 20|", "Cookie|3a 20|", "X-Forwarded-For|3a 20|", "Accept|3a 20|",
                "Content-Type|3a 20|", "Authorization|3a 20|Basic ", "X-Requested-With|3a 20|"]
RESP_STATUS = ["HTTP/1.1 200", "HTTP/1.0 200", "HTTP/1.1 302", "HTTP/1.1 404", "HTTP/1.1 500"]
RESP_TOKENS = ["Server|3a 20|", "Content-Type|3a 20|application/", "Set-Cookie|3a 20|", "Location|3a 20|http",
               "Content-Disposition|3a 20|attachment", "X-Powered-By|3a 20|", "<title>", "<iframe src=",
               "MZ|90 00|", "PK|03 04|", "%PDF-1.", "<?xml version"]
TLDS = ["com", "net", "org", "ru", "cn", "info", "xyz", "top", "biz", "io", "cc", "tk", "pw", "su", "in"]
SERVICES = [  # proto, ports, flow direction, head token, head depth
    ("tcp", "21", "to_server", "USER ", 5), ("tcp", "21", "to_server", "PASS ", 5),
    ("tcp", "21", "to_server", "RETR ", 5), ("tcp", "21", "to_client", "220 ", 4),
    ("tcp", "25", "to_server", "MAIL FROM|3a|", 10), ("tcp", "25", "to_server", "RCPT TO|3a|", 8),
    ("tcp", "25", "to_server", "EHLO ", 5), ("tcp", "[25,587]", "to_server", "AUTH LOGIN", 10),
    ("tcp", "110", "to_server", "USER ", 5), ("tcp", "143", "to_server", " LOGIN ", 20),
    ("tcp", "[139,445]", "to_server", "|ff|SMB", 8), ("tcp", "[139,445]", "to_server", "|fe|SMB", 8),
    ("tcp", "1433", "to_server", "|12 01 00|", 3), ("tcp", "3306", "to_server", "|03|", 5),
    ("tcp", "3389", "to_server", "|03 00 00|", 3), ("tcp", "$SSH_PORTS", "to_server", "SSH-2.0-", 8),
    ("tcp", "$SSH_PORTS", "to_client", "SSH-2.0-", 8), ("tcp", "23", "to_server", "|ff fb|", 2),
    ("tcp", "6667", "to_server", "NICK ", 5), ("tcp", "6667", "to_server", "PRIVMSG ", 8),
    ("tcp", "5900", "to_client", "RFB 003.", 8), ("tcp", "6379", "to_server", "*3|0d 0a|$", 5),
    ("tcp", "11211", "to_server", "set ", 4), ("tcp", "$ORACLE_PORTS", "to_server", "(CONNECT_DATA=", 64),
    ("tcp", "[8080,8443,9000:9100]", "to_server", "GET /", 5), ("tcp", "1080", "to_server", "|05 01 00|", 3),
]
UDP_SERVICES = [  # ports, head content, offset, depth
    ("5060", "INVITE sip|3a|", 0, 11), ("5060", "REGISTER sip|3a|", 0, 13), ("161", "|30|", 0, 1),
    ("123", "|17 00 03 2a|", 0, 4), ("1900", "M-SEARCH * HTTP/1.1", 0, 19), ("69", "|00 01|", 0, 2),
    ("137", "|00 01 00 00 00 00 00 00 20|", 4, 9), ("500", "|00 00 00 00 00 00 00 00 01 10|", 8, 10),
    ("[1194,51820]", "|38|", 0, 1), ("11211", "stats", 8, 8),
]
# Tokens ordinary traffic carries: the "info"/"policy" rules every real set has, which fire
# routinely (about 0.5 % of the rules; each token in few rules, so that one packet never
# matches dozens of rules at once).
COMMON = [  # header, content options
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"GET / HTTP/1.1"; depth:14'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"POST "; depth:5'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"User-Agent|3a 20|curl/"; nocase'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"User-Agent|3a 20|Wget/"'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"User-Agent|3a 20|Mozilla/5.0 (Windows NT 10.0"'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"Accept-Encoding|3a 20|gzip"'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:"Cookie|3a 20|"; nocase'),
    ("tcp any any -> any $HTTP_PORTS", 'flow:to_server,established; content:".exe"; nocase'),
    ("tcp any $HTTP_PORTS -> any any", 'flow:to_client,established; content:"HTTP/1.1 200 OK"; depth:15'),
    ("tcp any $HTTP_PORTS -> any any", 'flow:to_client,established; content:"Server|3a 20|nginx"'),
    ("tcp any $HTTP_PORTS -> any any", 'flow:to_client,established; content:"Server|3a 20|Apache"'),
    ("tcp any $HTTP_PORTS -> any any", 'flow:to_client,established; content:"Content-Type|3a 20|text/html"; nocase'),
    ("tcp any $HTTP_PORTS -> any any", 'flow:to_client,established; content:"Transfer-Encoding|3a 20|chunked"'),
    ("tcp any $HTTP_PORTS -> any any", 'flow:to_client,established; content:"Set-Cookie|3a 20|"'),
    ("tcp any any -> any 443", 'flow:to_server,established; content:"|16 03 01|"; depth:3; content:"|01|"; distance:2; within:1'),
    ("tcp any 443 -> any any", 'flow:to_client,established; content:"|16 03 03|"; depth:3; content:"|02|"; distance:2; within:1'),
    ("tcp any any -> any $SSH_PORTS", 'flow:to_server,established; content:"SSH-2.0-OpenSSH"; depth:15'),
    ("udp any any -> any 53", 'content:"|06|google|03|com|00|"; nocase'),
    ("udp any any -> any 53", 'content:"|08|facebook|03|com|00|"; nocase'),
    ("udp any any -> any 53", 'content:"|09|microsoft|03|com|00|"; nocase'),
    ("udp any any -> any 53", 'content:"|05|apple|03|com|00|"; nocase'),
    ("udp any any -> any 53", 'content:"|00 00 1c 00 01|"'),
    ("udp any any -> any 1900", 'content:"M-SEARCH * HTTP/1.1"; depth:19'),
    ("udp any any -> any 5060", 'content:"SIP/2.0"; nocase'),
    ("tcp any any -> any 21", 'flow:to_server,established; content:"USER anonymous"; nocase'),
    ("tcp any any -> any 25", 'flow:to_server,established; content:"EHLO "; depth:5'),
]
CLASSTYPES = ["trojan-activity", "web-application-attack", "attempted-admin", "attempted-recon",
              "policy-violation", "bad-unknown", "misc-activity", "attempted-user", "shellcode-detect",
              "protocol-command-decode", "successful-recon-limited", "misc-attack", "command-and-control",
              "exploit-kit", "domain-c2", "credential-theft", "coin-mining"]
FAMILIES = ["Zeus", "Emotet", "TrickBot", "Dridex", "Qakbot", "AgentTesla", "Formbook", "Lokibot",
            "CobaltStrike", "Mirai", "Gafgyt", "njRAT", "Remcos", "AsyncRAT", "IcedID", "Ursnif",
            "RedLine", "Raccoon", "Vidar", "SocGholish", "Gootloader", "Sliver", "Metasploit", "XMRig"]


def cut(s, n):
    """s cut to at most n characters, never inside a |hex| run"""
    s = s[:max(n, 0)]
    if s.count("|") % 2:
        s = s[:s.rindex("|")]
    return s


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.n_common = seed  # round-robin over COMMON, from a different start per seed

    # ---- building blocks -------------------------------------------------------------
    def word(self, lo, hi, chars=ALNUM):
        return "".join(self.r.choice(chars) for _ in range(self.r.randint(lo, hi)))

    def hexbytes(self, lo, hi):
        n = self.r.randint(lo, hi)
        return "|" + " ".join("%02x" % self.r.randrange(256) for _ in range(n)) + "|"

    def token(self, lo=4, hi=20):
        """A content string of lo..hi bytes: a vocabulary word (cut first when too long)
        and a random part of at least 3 characters that is always kept, so that a token
        is rare in real traffic however short."""
        k = self.r.random()
        rnd_hi = max(3, min(10, hi - 2))
        if k < 0.35:
            return self.word(lo, hi)
        if k < 0.55:
            pre, rnd = self.r.choice(HTTP_DIRS).strip("/") + "/", self.word(3, rnd_hi)
        elif k < 0.75:
            pre, rnd = "", self.word(3, rnd_hi, LOWER) + self.r.choice(HTTP_EXTS)
        elif k < 0.90:
            return self.word(max(lo, 4), max(lo, min(hi, 12)), MIXED)
        else:
            pre, rnd = self.r.choice(ATTACK_TOKENS), self.word(3, max(3, min(6, hi - 2)))
        rnd = rnd[:hi]
        s = cut(pre, hi - len(rnd)) + rnd
        if len(s) < lo:
            s += self.word(lo - len(s), lo - len(s))
        return s

    def path(self):
        """/dir/RANDOM.ext in at most 20 bytes, the random part kept whole"""
        rnd = self.word(3, 9, LOWER) + self.r.choice(HTTP_EXTS)
        return cut(self.r.choice(HTTP_DIRS), 20 - len(rnd)) + rnd

    def host(self):
        return "%s.%s" % (self.word(5, 12, LOWER), self.r.choice(TLDS))

    def dns_name(self):
        labels = [self.word(4, 10, LOWER)]
        if self.r.random() < 0.3:
            labels.insert(0, self.r.choice(["www", "api", "cdn", "update", "mail", "ns1", "login"]))
        labels.append(self.r.choice(TLDS))
        out = ""
        for lab in labels:
            out += "|%02x|%s" % (len(lab), lab)
        return out + "|00|"

    @staticmethod
    def esc_pcre(s):
        out = ""
        for ch in s:
            out += "\\" + ch if ch in "\\/.^$|?*+()[]{}" else ch
        return out

    # ---- rule kinds: each returns (header, [options before msg-less trailer], msg) -------
    def http_request(self):
        ports = self.r.choice(["$HTTP_PORTS"] * 6 + ["[80,8080,8000:8081]", "any"])
        opts = ["flow:to_server,established"]
        k = self.r.random()
        meth = self.r.choice(HTTP_METHODS[:3] if k < 0.8 else HTTP_METHODS)
        nocase = self.r.random() < 0.4
        if k < 0.35:  # method, then path
            p = self.path()
            opts += ['content:"%s"' % meth, "depth:%d" % len(meth), 'content:"%s"' % p, "distance:0"]
            if nocase:
                opts.append("nocase")
            if self.r.random() < 0.4:
                opts += ['content:"%s"' % (self.r.choice(HTTP_PARAMS) + self.word(1, 8)), "distance:0"]
            what = "Request for " + p
        elif k < 0.55:  # a parameter with an attack token
            t = self.r.choice(ATTACK_TOKENS)
            par = self.r.choice(HTTP_PARAMS)
            opts += ['content:"%s"' % meth, "depth:%d" % len(meth),
                     'content:"%s"' % (cut(self.r.choice(HTTP_DIRS), 12) + self.word(3, 8, LOWER)), "distance:0",
                     'content:"%s"' % (par + t)[:20], "distance:0", "nocase"]
            what = "Possible %s in %s" % (t.strip(), par.rstrip("="))
        elif k < 0.75:  # user agent
            rnd = self.word(4, 10, MIXED)
            ua = cut(self.r.choice(UA_BODIES), 20 - len(rnd)) + rnd
            opts += ['content:"%s%s"' % (self.r.choice(UA_PREFIX), ua)]
            if self.r.random() < 0.3:
                opts.append("nocase")
            what = "Suspicious User-Agent (%s)" % ua.replace("|3b|", ";")
        elif k < 0.88:  # a header value
            h = self.r.choice(HTTP_HEADERS)
            opts += ['content:"%s"' % meth, "depth:%d" % len(meth),
                     'content:"%s%s"' % (h, self.token(4, 12)), "distance:0"]
            what = "Suspicious %s header" % h.split("|")[0]
        else:  # method + pcre on the request line
            d = self.r.choice(HTTP_DIRS)
            pre = self.word(3, 8, LOWER)
            opts += ['content:"%s"' % meth, "depth:%d" % len(meth), 'content:"%s%s"' % (d, pre), "distance:0",
                     'pcre:"/%s%s[a-z0-9]{%d,%d}%s\\?%s[0-9a-f]{%d,}/i"' % (
                         self.esc_pcre(d), pre, self.r.randint(2, 4), self.r.randint(5, 9),
                         self.esc_pcre(self.r.choice(HTTP_EXTS)), self.r.choice(HTTP_PARAMS),
                         self.r.randint(4, 16))]
            what = "Exploit attempt %s%s" % (d, pre)
        return "tcp any any -> any %s" % ports, opts, "ET WEB " + what

    def http_response(self):
        opts = ["flow:to_client,established"]
        st = self.r.choice(RESP_STATUS)
        opts += ['content:"%s"' % st, "depth:%d" % len(st)]
        t = self.r.choice(RESP_TOKENS)
        opts += ['content:"%s%s"' % (t, self.token(4, 10)), "distance:0"]
        if self.r.random() < 0.3:
            opts.append("nocase")
        if self.r.random() < 0.2:
            opts += ['pcre:"/%s[A-Za-z0-9+\\/]{%d,}={0,2}/"' % (self.word(4, 8, MIXED), self.r.randint(16, 64))]
        return "tcp any $HTTP_PORTS -> any any", opts, "ET INFO Suspicious HTTP response (%s)" % t.split("|")[0]

    def dns(self):
        opts = []
        if self.r.random() < 0.7:
            opts += ['content:"|01 00 00 01|"', "offset:2", "depth:4"]
            opts += ['content:"%s"' % self.dns_name(), "distance:0", "nocase"]
        else:
            opts += ['content:"%s"' % self.dns_name(), "nocase"]
            if self.r.random() < 0.3:
                opts += ["offset:12"]
        return "udp any any -> any 53", opts, "ET DNS Query to a suspicious domain (%s)" % self.family()

    def tls(self):
        port = self.r.choice(["443"] * 5 + ["[443,8443]", "any"])
        if self.r.random() < 0.7:  # ClientHello SNI
            opts = ["flow:to_server,established", 'content:"|16 03|"', "depth:2", 'content:"|01|"',
                    "distance:3", "within:1", 'content:"%s"' % self.host(), "distance:0"]
            if self.r.random() < 0.5:
                opts.append("nocase")
            return "tcp any any -> any %s" % port, opts, "ET TLS SNI of %s C2" % self.family()
        name = self.host()
        opts = ["flow:to_client,established", 'content:"|16 03|"', "depth:2", 'content:"|55 04 03|"',
                'content:"|%02x|%s"' % (len(name), name), "distance:1", "within:%d" % (len(name) + 2)]
        return "tcp any %s -> any any" % port, opts, "ET TLS certificate subject of %s" % self.family()

    def service(self):
        proto, ports, flow, head, depth = self.r.choice(SERVICES)
        opts = ["flow:%s,established" % flow, 'content:"%s"' % head, "depth:%d" % max(depth, 1)]
        if self.r.random() < 0.25:
            opts += ['content:"%s"' % self.hexbytes(4, 10), "distance:0"]
        else:
            opts += ['content:"%s"' % self.token(4, 16), "distance:0"]
            if self.r.random() < 0.3:
                opts.append("nocase")
        if self.r.random() < 0.1:
            opts += ['pcre:"/%s\\s+[^\\r\\n]{%d,}/i"' % (self.word(4, 8, LOWER), self.r.randint(32, 256))]
        if flow == "to_client":
            hdr = "%s any %s -> any any" % (proto, ports)
        else:
            hdr = "%s any any -> any %s" % (proto, ports)
        return hdr, opts, "ET %s service attempt %s" % (ports.strip("[]$"), self.word(3, 6, LOWER))

    def udp_service(self):
        ports, head, off, depth = self.r.choice(UDP_SERVICES)
        opts = ['content:"%s"' % head]
        if off:
            opts.append("offset:%d" % off)
        opts.append("depth:%d" % depth)
        opts += ['content:"%s"' % (self.token(4, 14) if self.r.random() < 0.6 else self.hexbytes(4, 8)),
                 "distance:0"]
        return "udp any any -> any %s" % ports, opts, "ET UDP %s anomaly %s" % (ports.strip("[]"), self.word(3, 6))

    def binary(self):
        proto = self.r.choice(["tcp", "tcp", "udp", "ip"])
        opts = []
        if proto == "tcp":
            opts.append("flow:established")
        opts.append('content:"%s"' % self.hexbytes(6, 16))
        if self.r.random() < 0.3:
            opts += ['content:"%s"' % self.hexbytes(4, 8), "distance:%d" % self.r.randint(0, 16),
                     "within:%d" % self.r.randint(16, 64)]
        if self.r.random() < 0.15:
            opts.append('content:!"%s"' % self.word(4, 8))
        ports = "any" if proto == "ip" else self.r.choice(["any", "any", "$SHELLCODE_PORTS", "1024:"])
        return "%s any any -> any %s" % (proto, ports), opts, "ET SHELLCODE %s payload" % self.family()

    def icmp(self):
        opts = ['content:"%s"' % (self.token(6, 16) if self.r.random() < 0.5 else self.hexbytes(6, 12))]
        return "icmp any any -> any any", opts, "ET ICMP tunnel %s" % self.family()

    def common(self):
        hdr, opts = COMMON[self.n_common % len(COMMON)]
        self.n_common += 1
        what = re.sub(r"\|[^|]*\|", " ", opts.split('content:"')[1].split('"')[0].replace("|3a 20|", ": ")).strip()
        return hdr, [opts], "ET INFO Observed %s (policy)" % (what or "binary marker")

    def family(self):
        return "%s.%s" % (self.r.choice(FAMILIES), self.word(1, 3, string.ascii_uppercase))

    KINDS = [("http_request", 40), ("http_response", 10), ("dns", 12), ("tls", 10),
             ("service", 14), ("udp_service", 6), ("binary", 6), ("icmp", 2), ("common", 0.5)]

    def rule(self, sid):
        total = sum(w for _, w in self.KINDS)
        x = self.r.uniform(0, total)
        for name, w in self.KINDS:
            x -= w
            if x <= 0:
                break
        hdr, opts, msg = getattr(self, name)()
        msg = msg.replace('"', "'").replace(";", ",").replace("\\", "")
        action = "alert"
        out = ['msg:"%s"' % msg] + opts
        if self.r.random() < 0.3:
            out.append("reference:url,example.org/%s" % self.word(6, 12))
        out.append("classtype:%s" % self.r.choice(CLASSTYPES))
        out.append("sid:%d" % sid)
        out.append("rev:%d" % self.r.randint(1, 5))
        if self.r.random() < 0.5:
            out.append("metadata:created_at 20%02d_%02d_%02d, signature_severity %s" % (
                self.r.randint(15, 25), self.r.randint(1, 12), self.r.randint(1, 28),
                self.r.choice(["Major", "Minor", "Informational"])))
        return "%s %s (%s;)" % (action, hdr, "; ".join(out))


def main():
    ap = argparse.ArgumentParser(description="Generate a realistic weir rule file (Suricata subset).")
    ap.add_argument("--count", type=int, default=10000, help="rules (default 10000)")
    ap.add_argument("--sid-base", type=int, default=3000000, help="first sid (default 3000000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--out", default="-", help="output file (default - = stdout)")
    a = ap.parse_args()
    if a.count < 0 or a.sid_base < 1 or a.sid_base + a.count - 1 > 4294967295:
        ap.error("--count/--sid-base out of range (sids 1..4294967295)")
    g = Gen(a.seed)
    lines = ["# generated by perf/gen-rules.py --count %d --sid-base %d --seed %d (deterministic)"
             % (a.count, a.sid_base, a.seed)]
    for i in range(a.count):
        lines.append(g.rule(a.sid_base + i))
    text = "\n".join(lines) + "\n"
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
