#!/usr/bin/python3
"""
idle_conns.py -- hold N idle SMTP connections open, for bench/run.

    idle_conns.py HOST PORT COUNT

Opens COUNT connections to HOST:PORT (at most 100 connecting at a time),
reads each one's complete 220 banner, then prints "READY <n>" on stdout
and holds every connection, idle, until its standard input is closed.
Then it closes them all and exits.  A connection that fails is reported as
"FAILED <n> <reason>" and the exit status is 1.

The benchmark uses it to measure the resident memory a relay needs per
idle proxied connection (before/after VmRSS of the relay).
"""
import asyncio
import sys


async def open_one(host, port, sem, held):
    async with sem:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), 30)
        # A multi-line banner ends with "220 " (space) on its last line.
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                raise ConnectionError("closed before the banner")
            if not line.startswith(b"220"):
                raise ConnectionError("banner: %r" % line[:80])
            if line[3:4] != b"-":
                break
        held.append((reader, writer))


async def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sem = asyncio.Semaphore(100)
    held = []
    results = await asyncio.gather(
        *(open_one(host, port, sem, held) for _ in range(count)),
        return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print("FAILED %d %s" % (len(errors), errors[0]), flush=True)
    else:
        print("READY %d" % len(held), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.1)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
