"""A recording SMTP sink for the benchmarks, run as its own process so that its work does not
share the load generator's GIL (which would delay the timestamps it takes).

    python -m bench.sink --port P --out FILE

Each accepted message appends one line ``<CLOCK_MONOTONIC ns>\\t<rcpt,rcpt>\\t<Subject>`` to
FILE, stamped in ``handle_DATA`` (the moment the sink accepts the message). ``CLOCK_MONOTONIC``
is system-wide on Linux, so the load generator compares it with its own ``time.monotonic_ns()``.
Only the Subject header is decoded (RFC 2047, no full header parse: the sink shares the
machine's two cores with the system it measures); bodies are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import time
from email.header import decode_header, make_header

from services.mailsink import PipeliningAdvertised, SinkController


class Recorder(PipeliningAdvertised):
    def __init__(self, out) -> None:
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        stamp = time.monotonic_ns()
        raw = envelope.original_content or envelope.content
        subject = subject_of(raw.split(b"\r\n\r\n", 1)[0]).replace("\t", " ").replace("\n", " ")
        self.out.write(f"{stamp}\t{','.join(envelope.rcpt_tos)}\t{subject}\n")
        self.count += 1
        if self.count % 20 == 0:
            self.out.flush()
        return "250 OK"


SUBJECT_RE = re.compile(rb"^Subject:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def subject_of(head: bytes) -> str:
    """The decoded Subject of a raw header block ('' if none)."""
    m = SUBJECT_RE.search(head)
    if not m:
        return ""
    folded = re.sub(rb"\r?\n[ \t]", b" ", m.group(1)).decode("ascii", "replace")
    return str(make_header(decode_header(folded)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "a", encoding="utf-8", buffering=1 << 16) as out:
        recorder = Recorder(out)
        controller = SinkController(recorder, hostname="127.0.0.1", port=args.port)
        controller.start()
        print("ready", flush=True)

        async def wait() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            while not stop.is_set():  # flush regularly so the harness sees progress
                try:
                    await asyncio.wait_for(stop.wait(), 0.2)
                except TimeoutError:
                    pass
                out.flush()

        try:
            asyncio.run(wait())
        finally:
            controller.stop()
            out.flush()


if __name__ == "__main__":
    main()
