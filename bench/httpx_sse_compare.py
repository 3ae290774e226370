"""Client CPU per event over loopback: httpx-sse, fastsse's httpx-sse drop-in, fastsse.Stream.

A server in a separate process sends OpenAI-style ``chat.completion.chunk`` events, one
per HTTP chunk (``Transfer-Encoding: chunked``), to one ``httpx.Client`` that reads every
stream through each contender in turn: the contenders alternate within each repeat, each
repeat starting with the next one, so drifts in machine load hit all of them alike. Each
figure is the client process's CPU time (``time.process_time``) for a whole stream divided
by its events; the table gives the median over the repeats, and each contender's ratio to
httpx-sse is the median of the per-repeat ratios. Every contender reads each event's
``data`` (``--json``: parses it too). The last row is the floor every contender stands on:
httpx's transport alone, each chunk read (as fastsse reads an identity body, below
``iter_bytes()``) and dropped. The server only talks to 127.0.0.1.

    python bench/httpx_sse_compare.py          # 2,000-event streams x 31 repeats
    python bench/httpx_sse_compare.py --json   # --gzip: a gzip-encoded body

Many short interleaved repeats: on a loaded machine, long ones let the load drift
between contenders.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import sys
import time
import zlib
from typing import Callable, Dict, List

import httpx
import httpx_sse

import fastsse
from fastsse.integrations import httpx_sse as dropin

HOST = "127.0.0.1"


def event_bytes(k: int) -> bytes:
    payload = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": {"content": f" token {k}"}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _chunked(piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def serve(listener: socket.socket, events: int, use_gzip: bool) -> None:
    """The server process: every request gets the same stream, one event per HTTP chunk."""
    pieces = [event_bytes(k) for k in range(events)]
    if use_gzip:
        # One gzip stream, flushed after every event, so each chunk still holds one event.
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        pieces = [compressor.compress(p) + compressor.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
        pieces.append(compressor.flush())
    body = [_chunked(p) for p in pieces if p] + [b"0\r\n\r\n"]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    if use_gzip:
        head += b"Content-Encoding: gzip\r\n"
    head += b"\r\n"
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        break
                    buffer += data
                if b"\r\n\r\n" not in buffer:
                    break
                buffer = buffer.partition(b"\r\n\r\n")[2]
                conn.sendall(head)
                for frame in body:
                    conn.sendall(frame)


def run_httpx_sse(client: httpx.Client, url: str, parse: bool) -> int:
    count = 0
    with httpx_sse.connect_sse(client, "GET", url) as source:
        for sse in source.iter_sse():
            sse.json() if parse else sse.data
            count += 1
    return count


def run_dropin(client: httpx.Client, url: str, parse: bool) -> int:
    count = 0
    with dropin.connect_sse(client, "GET", url) as source:
        for sse in source.iter_sse():
            sse.json() if parse else sse.data
            count += 1
    return count


def run_stream(client: httpx.Client, url: str, parse: bool) -> int:
    count = 0
    with client.stream("GET", url) as response:
        for sse in fastsse.Stream(response):
            sse.json() if parse else sse.data
            count += 1
    return count


def run_transport(client: httpx.Client, url: str, parse: bool) -> int:
    # The floor: httpx's transport alone, the body read and dropped; it counts bytes (a
    # chunk may be split between reads), so its check is on the body's length.
    size = 0
    with client.stream("GET", url) as response:
        encoded = bool(response.headers.get("content-encoding"))
        for chunk in response.iter_bytes() if encoded else response.stream:
            size += len(chunk)
    return size


CONTENDERS: Dict[str, Callable[[httpx.Client, str, bool], int]] = {
    "httpx-sse": run_httpx_sse,
    "fastsse drop-in": run_dropin,
    "fastsse.Stream": run_stream,
    "httpx alone (floor)": run_transport,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--json", action="store_true", help="parse each event's JSON too")
    parser.add_argument("--gzip", action="store_true", help="a gzip-encoded body")
    args = parser.parse_args()

    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(8)
    url = f"http://{HOST}:{listener.getsockname()[1]}/sse"
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(listener, args.events, args.gzip), daemon=True
    )
    server.start()
    listener.close()
    per_event: Dict[str, List[float]] = {name: [] for name in CONTENDERS}
    body_size = sum(len(event_bytes(k)) for k in range(args.events))
    try:
        with httpx.Client(timeout=60) as client:
            for run in CONTENDERS.values():  # warm-up: imports, connection, caches
                run(client, url, args.json)
            names = list(CONTENDERS)
            for repeat in range(args.repeats):
                # Each repeat starts with the next contender, so none always runs right
                # after another's garbage.
                for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                    run = CONTENDERS[name]
                    start = time.process_time()
                    count = run(client, url, args.json)
                    elapsed = time.process_time() - start
                    expected = body_size if run is run_transport else args.events
                    if count != expected:
                        raise SystemExit(f"{name} read {count}, not {expected}")
                    per_event[name].append(elapsed / args.events)
    finally:
        server.terminate()
        server.join(5)

    base = per_event["httpx-sse"]
    mode = "parse + JSON" if args.json else "parse (data read)"
    encoding = "gzip" if args.gzip else "identity"
    print(
        f"{args.events} events per stream, {args.repeats} repeats, one event per HTTP chunk, "
        f"{mode}, {encoding} body; Python {sys.version.split()[0]}, httpx {httpx.__version__}, "
        f"httpx-sse {httpx_sse.__version__}, fastsse {fastsse.IMPLEMENTATION}"
    )
    print(f"{'contender':<18} {'client CPU µs/event':>20} {'httpx-sse CPU / its CPU':>24}")
    for name, values in per_event.items():
        ratio = statistics.median(b / v for b, v in zip(base, values))
        print(f"{name:<18} {statistics.median(values) * 1e6:>20.2f} {ratio:>23.2f}x")


if __name__ == "__main__":
    main()
