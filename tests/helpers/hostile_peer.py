#!/usr/bin/python3
"""hostile_peer.py -- destinations that misbehave on purpose.

    /usr/bin/python3 hostile_peer.py MODE HOST PORT [--ready FILE]

MODE:
  silent   accept TCP connections and never send a byte (no banner); keep
           them open until the peer closes.  Each accepted connection and
           each close is printed ("accept", "closed after N bytes"), so a
           scenario can see that the proxy gave up and hung up.
"""
import argparse

from smtptest import serve_forever


def silent(conn):
    print("accept", flush=True)
    n = 0
    try:
        while True:
            b = conn.recv(4096)
            if not b:
                break
            n += len(b)
    except OSError:
        pass
    print("closed after %d bytes" % n, flush=True)
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["silent"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--ready")
    a = ap.parse_args()
    serve_forever(a.host, a.port, silent, a.ready)


if __name__ == "__main__":
    main()
