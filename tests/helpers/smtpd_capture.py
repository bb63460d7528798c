#!/usr/bin/python3
"""smtpd_capture.py -- a real SMTP server (aiosmtpd) that keeps every message.

Used by the proxyd_* integration scenarios as the destination behind
warp-proxyd.  Run with Debian's own interpreter:

    /usr/bin/python3 smtpd_capture.py --dir DIR --listen 127.0.0.1:2525 \
        [--listen [::1]:2525] [--cert server.pem --key server.key] \
        [--ehlo-extra CHUNKING] [--reject-rcpt ADDR] [--split-replies S]
        [--ready FILE]

For every accepted message it writes, in DIR:

    NNNN.json   envelope and session facts: peer address, HELO name,
                MAIL FROM and its parameters, RCPT TO list, whether TLS
                was active (version, cipher), sizes and sha256 of the data
    NNNN.eml    the message content (dot-unstuffed), byte for byte
    NNNN.wire   the DATA bytes exactly as they came over the wire
                (still dot-stuffed, without the final ".")

and appends a line to DIR/events.log for each connection, DATA command
and stored message, so a scenario can tell "nothing arrived" from
"nothing connected".  Files are written under a temporary name and renamed,
so a reader never sees half a message.

End of DATA is recognised the way Debian's stock Postfix 3.7 does it
(smtpd_forbid_bare_newline = no): input is split into lines at LF, a
trailing CR is dropped, and a line that is then exactly "." ends the data.
So "<LF>.<CR><LF>" ends the message here, as it would at a real MX: if a
relay in front passes a bare-LF terminator through, the smuggled
commands that follow show up as a second transaction in DIR.

With --cert/--key STARTTLS is offered.  Listening on "::" is IPv6-only
under asyncio, so give 0.0.0.0 as well when IPv4 is wanted.
"""

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, syntax

COUNTER = itertools.count(1)


def split_hostport(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    return host, int(port)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Recorder:
    """aiosmtpd handler: store the message and its facts in a directory."""

    def __init__(self, outdir, ehlo_extra, ehlo_drop, data_reply, reject_rcpt):
        self.outdir = outdir
        self.reject_rcpt = [r.lower() for r in reject_rcpt]
        self.ehlo_extra = ehlo_extra
        self.ehlo_drop = [k.upper() for k in ehlo_drop]
        self.data_reply = data_reply

    def event(self, line):
        with open(os.path.join(self.outdir, "events.log"), "a") as f:
            f.write(line + "\n")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        out = []
        for r in responses:
            kw = r[4:].split(" ")[0].upper()
            if kw in self.ehlo_drop:
                continue
            out.append(r)
        # responses are "250-..." lines; keep the last one "250 ..."
        for kw in self.ehlo_extra:
            out.insert(len(out) - 1, "250-" + kw)
        fixed = [("250-" + r[4:]) for r in out[:-1]] + ["250 " + out[-1][4:]]
        return fixed

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.lower() in self.reject_rcpt:
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        n = next(COUNTER)
        base = os.path.join(self.outdir, "%04d" % n)
        content = envelope.original_content
        wire = getattr(envelope, "wire_bytes", b"")
        tls = server._tls_protocol is not None
        info = {
            "n": n,
            "peer": session.peer[0],
            "peer_port": session.peer[1],
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "tls": tls,
            "tls_version": server.transport.get_extra_info("ssl_object").version()
            if tls else None,
            "tls_cipher": (server.transport.get_extra_info("cipher") or [None])[0]
            if tls else None,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "wire_size": len(wire),
            "wire_sha256": hashlib.sha256(wire).hexdigest(),
        }
        write_atomic(base + ".eml", content)
        write_atomic(base + ".wire", wire)
        write_atomic(base + ".json", json.dumps(info, indent=1).encode())
        self.event("message %d from %s" % (n, session.peer[0]))
        return self.data_reply % n


class CaptureSMTP(SMTP):
    """aiosmtpd's server with a Postfix-like reading of DATA."""

    split_replies = 0.0

    async def push(self, status):
        # --split-replies: every reply line goes out in two TCP writes with
        # a pause between them, so a multi-line reply (EHLO) reaches the
        # proxy in many pieces -- legal, and what tripped the original warp
        # after STARTTLS.  No pause after the last piece: "220 Ready to
        # start TLS" must be followed at once by the switch to TLS.
        if not self.split_replies:
            return await super().push(status)
        if isinstance(status, str):
            status = status.encode("utf-8")
        line = status + b"\r\n"
        half = max(1, len(line) // 2)
        self._writer.write(line[:half])
        await self._writer.drain()
        await asyncio.sleep(self.split_replies)
        self._writer.write(line[half:])
        await self._writer.drain()

    def connection_made(self, transport):
        super().connection_made(transport)
        # called again on the TLS transport after STARTTLS
        if self._tls_protocol is None:
            peer = transport.get_extra_info("peername")
            self.event_handler.event("connect %s" % (peer[0] if peer else "?"))
        else:
            self.event_handler.event("tls")

    def connection_lost(self, exc):
        self.event_handler.event("disconnect")
        super().connection_lost(exc)

    @syntax("DATA")
    async def smtp_DATA(self, arg):
        if await self.check_helo_needed():
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        self.event_handler.event("DATA")
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        wire = bytearray()
        lines = []
        while self.transport is not None:
            line = b""
            try:
                while True:
                    try:
                        line += await self._reader.readuntil(b"\n")
                        break
                    except asyncio.LimitOverrunError as e:
                        # longer than the reader's limit: keep it whole,
                        # it is test data (e.consumed bytes hold no LF)
                        line += await self._reader.read(e.consumed)
            except asyncio.IncompleteReadError:
                self.event_handler.event("eof in DATA")
                return
            text = line[:-1]
            if text.endswith(b"\r"):
                text = text[:-1]
            if text == b".":
                break
            wire += line
            lines.append(line)
        else:
            return
        content = bytearray()
        for line in lines:
            content += line[1:] if line.startswith(b".") else line
        self.envelope.wire_bytes = bytes(wire)
        self.envelope.original_content = bytes(content)
        self.envelope.content = bytes(content)
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--listen", action="append", required=True,
                    help="host:port or [v6]:port, repeatable")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--hostname", default="capture.test")
    ap.add_argument("--ehlo-extra", action="append", default=[],
                    help="extra EHLO keyword to announce (e.g. CHUNKING)")
    ap.add_argument("--ehlo-drop", action="append", default=[])
    ap.add_argument("--reject-rcpt", action="append", default=[],
                    help="answer RCPT TO:<this address> with 550 5.1.1")
    ap.add_argument("--size-limit", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--data-reply", default="250 2.0.0 Ok: queued as CAP%d")
    ap.add_argument("--split-replies", type=float, default=0.0, metavar="SECONDS",
                    help="write each reply line in two pieces, pausing SECONDS")
    ap.add_argument("--ready", help="file to create once listening")
    a = ap.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    tls = None
    if a.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)
    handler = Recorder(a.dir, a.ehlo_extra, a.ehlo_drop, a.data_reply,
                       a.reject_rcpt)
    loop = asyncio.get_running_loop()

    CaptureSMTP.split_replies = a.split_replies

    def factory():
        return CaptureSMTP(handler, hostname=a.hostname, tls_context=tls,
                           data_size_limit=a.size_limit, decode_data=False,
                           enable_SMTPUTF8=True, loop=loop, timeout=120)

    servers = []
    for spec in a.listen:
        host, port = split_hostport(spec)
        servers.append(await loop.create_server(factory, host, port,
                                                reuse_address=True))
    if a.ready:
        write_atomic(a.ready, b"ready\n")
    print("smtpd_capture: listening on %s" % ", ".join(a.listen), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
