#!/usr/bin/python3
"""edge_peers.py -- a destination SMTP server with scripted misbehaviour.

    /usr/bin/python3 edge_peers.py HOST PORT [--ready FILE]

One listener serves every mode: the mode of a connection is the HELO/EHLO
name the client gives ("EHLO <mode>.example"), so one peer covers all the
cases of a scenario.  Until then the peer behaves as a plain SMTP server
(banner, PIPELINING, SIZE).  Modes:

  normal       a well-behaved server; messages are counted, not stored
  flood        after the EHLO reply, sends unsolicited 1 KB "250 flood" replies
               as fast as the proxy reads them, and never reads again
  tls-garbage  offers STARTTLS, answers it 220, then sends non-TLS bytes
  tls-plain    offers STARTTLS; "220" and a plaintext "250" in one write
  tls-454      offers STARTTLS and refuses it: 454 4.7.0
  long-line    answers MAIL with a reply line that never ends
  many-lines   answers EHLO with a 1,000-line reply
  mismatch     answers MAIL with "250-a" then "550 b" (codes differ)
  mid-421      answers MAIL with 421 and closes
  extra        answers NOOP with two replies (one unsolicited)
  eof-data     answers DATA 354, reads a little, then closes

Each connection prints "accept", "mode M" and "closed", flushed, so a
scenario can tell that the proxy hung up on it.
"""
import argparse
import threading
import time

from smtptest import serve_forever

EHLO_BASE = [b"edge.example", b"PIPELINING", b"SIZE 10240000", b"8BITMIME"]
COUNT = {"messages": 0}
LOCK = threading.Lock()


def ehlo_reply(lines):
    out = b""
    for i, l in enumerate(lines):
        sep = b" " if i == len(lines) - 1 else b"-"
        out += b"250" + sep + l + b"\r\n"
    return out


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.mode = "normal"

    def line(self):
        while b"\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                return None
            self.buf += b
        l, _, self.buf = self.buf.partition(b"\n")
        return l.rstrip(b"\r")

    def send(self, b):
        self.s.sendall(b)

    def data(self):
        self.send(b"354 go ahead\r\n")
        while True:
            l = self.line()
            if l is None:
                return False
            if l == b".":
                with LOCK:
                    COUNT["messages"] += 1
                self.send(b"250 2.0.0 queued\r\n")
                return True

    def run(self):
        self.send(b"220 edge.example ESMTP\r\n")
        while True:
            l = self.line()
            if l is None:
                return
            verb = l[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                arg = l[5:].strip().decode("latin-1")
                self.mode = arg.split(".")[0] if arg else "normal"
                print("mode", self.mode, flush=True)
                if self.greet(verb) == "stop":
                    return
            elif verb == b"STAR":
                if self.starttls() == "stop":
                    return
            elif verb == b"MAIL":
                if self.mail() == "stop":
                    return
            elif verb == b"RCPT":
                self.send(b"250 2.1.5 ok\r\n")
            elif verb == b"DATA":
                if self.mode == "eof-data":
                    self.send(b"354 go ahead\r\n")
                    self.s.recv(100)
                    return
                if not self.data():
                    return
            elif verb == b"NOOP":
                self.send(b"250 2.0.0 ok\r\n")
                if self.mode == "extra":
                    self.send(b"250 2.0.0 unsolicited\r\n")
            elif verb == b"RSET":
                self.send(b"250 2.0.0 reset\r\n")
            elif verb == b"QUIT":
                self.send(b"221 2.0.0 bye\r\n")
                return
            else:
                self.send(b"502 5.5.2 what\r\n")

    def greet(self, verb):
        m = self.mode
        if verb == b"HELO":
            self.send(b"250 edge.example\r\n")
            return None
        if m == "many-lines":
            self.send(ehlo_reply(EHLO_BASE + [b"X-PAD%d" % i
                                              for i in range(1000)]))
            return None
        if m in ("tls-garbage", "tls-plain", "tls-454"):
            self.send(ehlo_reply(EHLO_BASE + [b"STARTTLS"]))
            return None
        self.send(ehlo_reply(EHLO_BASE))
        if m == "flood":
            chunk = (b"250 flood " + b"f" * 1000 + b"\r\n") * 64
            self.s.settimeout(30)
            try:
                while True:
                    self.send(chunk)
            except OSError:
                pass
            return "stop"
        return None

    def starttls(self):
        m = self.mode
        if m == "tls-454":
            self.send(b"454 4.7.0 TLS not available now\r\n")
            return None
        if m == "tls-plain":
            self.send(b"220 2.0.0 ready\r\n250 injected\r\n")
            time.sleep(2)
            return "stop"
        if m == "tls-garbage":
            self.send(b"220 2.0.0 ready\r\n")
            time.sleep(0.2)
            self.send(b"this is not a TLS server hello\r\n" * 20)
            time.sleep(2)
            return "stop"
        self.send(b"454 4.7.0 no TLS here\r\n")
        return None

    def mail(self):
        m = self.mode
        if m == "long-line":
            self.send(b"250 ")
            try:
                self.s.settimeout(10)
                while True:
                    self.send(b"x" * 65536)
            except OSError:
                pass
            return "stop"
        if m == "mismatch":
            self.send(b"250-first line\r\n550 second line\r\n")
            return None
        if m == "mid-421":
            self.send(b"421 4.3.2 going down\r\n")
            return "stop"
        self.send(b"250 2.1.0 ok\r\n")
        return None


def serve(sock):
    print("accept", flush=True)
    c = Conn(sock)
    try:
        c.run()
    except OSError:
        pass
    print("closed", c.mode, flush=True)
    try:
        sock.close()
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--ready")
    a = ap.parse_args()
    serve_forever(a.host, a.port, serve, a.ready)


if __name__ == "__main__":
    main()
