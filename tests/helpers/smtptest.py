"""smtptest.py -- shared Python pieces of the proxyd_* scenarios.

Imported by the scenarios' inline Python (PYTHONPATH=tests/helpers), run
with /usr/bin/python3:

    make_message()        a message that is hard to relay unchanged
    sized_message(n)      a plain message of exactly n octets
    captures(dir)         what smtpd_capture.py stored, in arrival order
    wait_captures(dir, n) ... once n messages are there
    Raw(host, port)       a byte-level SMTP client for exchanges smtplib
                          refuses to produce (pipelined writes, bare LF,
                          NUL bytes, over-long lines, half-sent DATA)
    check(cond, what)     print "ok: what" or exit 1 with "FAIL: what"
                          (with KEEP_GOING: record it, finish() exits 1)
    case(title, fn)       run one case, exceptions count as failures
"""

import glob
import json
import os
import socket
import sys
import time


KEEP_GOING = False      # set True: check() records failures, finish() exits
FAILURES = []


def check(cond, what):
    if not cond:
        print("FAIL: " + what, flush=True)
        if not KEEP_GOING:
            sys.exit(1)
        FAILURES.append(what)
        return False
    print("ok: " + what, flush=True)
    return True


def finish():
    """End a KEEP_GOING script: exit 1 if any check failed."""
    if FAILURES:
        print("%d check(s) failed:" % len(FAILURES))
        for f in FAILURES:
            print("  - " + f)
        sys.exit(1)
    sys.exit(0)


def case(title, fn, *args):
    """Run one scenario case; an exception counts as its failure."""
    print("== " + title, flush=True)
    try:
        fn(*args)
    except SystemExit:
        raise
    except Exception as e:
        check(False, "%s: unexpected %s: %s" % (title, type(e).__name__, e))


def make_message(tag="relay", nheaders=120, body_kb=64):
    """A message whose bytes a careless relay would change.

    Many headers (one folded), lines of exactly 998 octets, lines that start
    with "." (including a lone "." and ".."), 8-bit octets that are neither
    ASCII nor valid UTF-8, a NUL-free binary-ish line, tabs, trailing
    spaces, an empty line near the end.  CRLF line ends throughout, ends with
    CRLF (what smtplib and swaks put on the wire before the final dot).
    """
    lines = [b"From: Sender <sender@example.org>",
             b"To: a@example.net, b@example.net, c@example.net",
             b"Subject: warp " + tag.encode() + b" \xe2\x9c\x93 test",
             b"Message-ID: <" + tag.encode() + b"@warp.test>",
             b"MIME-Version: 1.0",
             b"Content-Type: text/plain; charset=iso-8859-1",
             b"Content-Transfer-Encoding: 8bit",
             b"X-Folded: first part",
             b"\tsecond part after a tab",
             b"  third part after spaces  "]
    for i in range(nheaders):
        lines.append(b"X-Header-%03d: value %d %s" % (i, i * 7919, b"z" * (i % 60)))
    lines.append(b"")
    lines.append(b"." )                          # lone dot: must be stuffed
    lines.append(b"..two dots")
    lines.append(b".leading dot")
    lines.append(b"x" * 998)                     # the longest legal line
    lines.append(b"." + b"y" * 997)              # longest legal, dot-started
    lines.append(bytes(range(0x80, 0x100)))      # every high octet
    lines.append(b"caf\xe9 na\xefve r\xe9sum\xe9 \xff\xfe\xfd")
    lines.append(b"tab\there and trailing spaces   ")
    lines.append(b"MAIL FROM:<not-a-command@example.org>")
    lines.append(b"")
    n = 0
    size = sum(len(l) + 2 for l in lines)
    while size < body_kb * 1024:
        l = b"%06d " % n + b"abcdefghijklmnopqrstuvwxyz0123456789" * (1 + n % 20)
        if n % 13 == 0:
            l = b"." + l
        lines.append(l)
        size += len(l) + 2
        n += 1
    lines.append(b"")
    lines.append(b"-- last line")
    return b"\r\n".join(lines) + b"\r\n"


def sized_message(n, tag=b"sized"):
    """A message of exactly n octets (CRLF line ends, lines under 80
    octets, none starting with a dot), as the destination should store it."""
    if isinstance(tag, str):
        tag = tag.encode()
    body = bytearray(b"Subject: " + tag + b"\r\n\r\n")
    while len(body) < n:
        room = n - len(body)
        if room >= 80:
            body += b"s" * 78 + b"\r\n"
        elif room >= 3:
            body += b"t" * (room - 2) + b"\r\n"
        else:                       # 1-2 octets left: widen the last line
            body[-2:-2] = b"u" * room
    assert len(body) == n and body.endswith(b"\r\n")
    return bytes(body)


def captures(d):
    out = []
    for j in sorted(glob.glob(os.path.join(d, "[0-9]*.json"))):
        base = j[:-5]
        with open(j) as f:
            info = json.load(f)
        with open(base + ".eml", "rb") as f:
            info["content"] = f.read()
        with open(base + ".wire", "rb") as f:
            info["wire"] = f.read()
        out.append(info)
    return out


def wait_captures(d, n, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        c = captures(d)
        if len(c) >= n:
            return c
        time.sleep(0.05)
    return captures(d)


def events(d):
    try:
        with open(os.path.join(d, "events.log")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


class Raw:
    """Byte-level SMTP client.  reply() returns (code, [lines]) or
    (None, reason) on timeout / close, so hostile exchanges can be checked
    without exceptions."""

    def __init__(self, host, port, timeout=10.0):
        self.s = socket.create_connection((host, port), timeout)
        self.s.settimeout(timeout)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        self.s.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                return None, "timeout"
            except ConnectionResetError:
                return None, "reset"
            if not chunk:
                return None, "closed"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r"), None

    def reply(self, timeout=None):
        if timeout is not None:
            self.s.settimeout(timeout)
        lines = []
        try:
            while True:
                line, err = self._line()
                if line is None:
                    if lines:
                        return None, lines + [err.encode()]
                    return None, err
                lines.append(line)
                if len(line) < 4 or line[3:4] != b"-":
                    try:
                        return int(line[:3]), lines
                    except ValueError:
                        return None, lines
        finally:
            self.s.settimeout(self.timeout)

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def closed(self, timeout=5.0):
        """True when the peer closes (EOF or reset) within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def smtp_port_open(host, port, timeout=2.0):
    try:
        socket.create_connection((host, port), timeout).close()
        return True
    except OSError:
        return False


def serve_forever(host, port, handler, ready=None, backlog=128):
    """Accept TCP connections on host:port for ever, each handled by
    handler(sock) in its own thread.  When ready is given, that file is
    created (atomically) once the socket listens, for wait_file."""
    import threading
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    if ready:
        with open(ready + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(ready + ".tmp", ready)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()
