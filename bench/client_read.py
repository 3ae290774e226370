"""Client CPU per event of ``fastsse.Stream`` over each sync HTTP client, over loopback.

    python bench/client_read.py [--events N] [--runs R] [--only NAME,...]

A server in a child process (so its CPU time is not counted) serves N small
OpenAI-style SSE events, one HTTP chunk per event, as fast as the socket takes them:
chunked, with a Content-Length, and gzip-encoded (each event compressed and flushed into
its own chunk, as a compressing proxy sends them). Each contender requests a body and
iterates its events, reading ``.data`` of each; the time is this process's CPU time
(``time.process_time``) from sending the request to the end of the body, divided by N.
Contenders run interleaved, each ``R`` times; the median is reported, in µs per event,
with the ratio of httpx-sse's figure to fastsse's over the same client (when httpx-sse is
installed).

Contenders: ``fastsse.Stream`` over requests (chunked and Content-Length bodies), urllib3
(chunked), httpx (chunked, Content-Length and gzip); httpx-sse's ``EventSource.iter_sse``
over the same httpx responses; and the client alone, reading the body without decoding
it (requests ``iter_content(None)``, httpx ``iter_raw``), which is the floor a decoder
adds to.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import zlib
from typing import Any, Callable, Dict, List, Tuple

HOST = "127.0.0.1"


def event_chunk(k: int) -> bytes:
    payload = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": {"content": f" token {k}"}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


# ------------------------------------------------------------------------------ server


def _chunked(pieces: List[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def build_responses(n: int) -> Dict[str, bytes]:
    events = [event_chunk(k) for k in range(n)]
    body = b"".join(events)
    compressor = zlib.compressobj(wbits=31)  # gzip framing
    gzipped = [compressor.compress(e) + compressor.flush(zlib.Z_SYNC_FLUSH) for e in events]
    gzipped.append(compressor.flush())
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    return {
        "/chunked": (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + _chunked(events),
        "/length": (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body,
        "/gzip": (head + "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        + _chunked([g for g in gzipped if g]),
    }


def serve(n: int) -> None:
    responses = build_responses(n)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)

    def connection(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode().partition("?")[0]
                conn.sendall(
                    responses.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                )

    # The parent's end of stdin closes when it exits: the server goes with it.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=connection, args=(conn,), daemon=True).start()


# --------------------------------------------------------------------------- contenders


def contenders(base: str) -> Dict[str, Callable[[], int]]:
    import fastsse

    found: Dict[str, Callable[[], int]] = {}

    def count_events(events: Any) -> int:
        n = 0
        for event in events:
            event.data
            n += 1
        return n

    try:
        import requests
    except ImportError:
        requests = None
    if requests is not None:
        session = requests.Session()

        def requests_stream(path: str) -> Callable[[], int]:
            return lambda: count_events(
                fastsse.Stream(session.get(base + path, stream=True), decoder="fast")
            )

        def requests_alone() -> int:
            response = session.get(base + "/chunked", stream=True)
            for _ in response.iter_content(None):
                pass
            return 0

        found["fastsse / requests chunked"] = requests_stream("/chunked")
        found["fastsse / requests length"] = requests_stream("/length")
        found["requests alone (iter_content)"] = requests_alone

    try:
        import urllib3
    except ImportError:
        urllib3 = None
    if urllib3 is not None:
        pool = urllib3.PoolManager()
        found["fastsse / urllib3 chunked"] = lambda: count_events(
            fastsse.Stream(
                pool.request("GET", base + "/chunked", preload_content=False), decoder="fast"
            )
        )

    try:
        import httpx
    except ImportError:
        httpx = None
    if httpx is not None:
        client = httpx.Client()

        def httpx_stream(path: str) -> Callable[[], int]:
            def run() -> int:
                with client.stream("GET", base + path) as response:
                    return count_events(fastsse.Stream(response, decoder="fast"))

            return run

        def httpx_alone() -> int:
            with client.stream("GET", base + "/chunked") as response:
                for _ in response.iter_raw():
                    pass
            return 0

        found["fastsse / httpx chunked"] = httpx_stream("/chunked")
        found["fastsse / httpx length"] = httpx_stream("/length")
        found["fastsse / httpx gzip"] = httpx_stream("/gzip")
        found["httpx alone (iter_raw)"] = httpx_alone
        try:
            import httpx_sse
        except ImportError:
            httpx_sse = None
        if httpx_sse is not None:

            def httpx_sse_run(path: str) -> Callable[[], int]:
                def run() -> int:
                    with httpx_sse.connect_sse(client, "GET", base + path) as source:
                        return count_events(source.iter_sse())

                return run

            found["httpx-sse / httpx chunked"] = httpx_sse_run("/chunked")
            found["httpx-sse / httpx length"] = httpx_sse_run("/length")
            found["httpx-sse / httpx gzip"] = httpx_sse_run("/gzip")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated substrings of names")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.events)
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--events", str(args.events)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = f"http://{HOST}:{server.stdout.readline().strip()}"
        runs = contenders(base)
        if args.only:
            wanted = args.only.split(",")
            runs = {name: run for name, run in runs.items() if any(w in name for w in wanted)}
        times: Dict[str, List[float]] = {name: [] for name in runs}
        for run in runs.values():  # warm up: connections, imports, caches
            run()
        for _ in range(args.runs):
            for name, run in runs.items():
                started = time.process_time()
                counted = run()
                elapsed = time.process_time() - started
                if counted not in (0, args.events + 0):
                    raise SystemExit(f"{name}: {counted} events, expected {args.events}")
                times[name].append(elapsed / args.events * 1e6)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)

    import fastsse

    print(
        f"client CPU per event, median of {args.runs} runs, {args.events} events per body "
        f"(fastsse {fastsse.__version__}, Python {sys.version.split()[0]})"
    )
    medians = {name: statistics.median(values) for name, values in times.items()}
    width = max(len(name) for name in medians)
    for name, value in medians.items():
        spread = max(times[name]) - min(times[name])
        print(f"  {name:<{width}}  {value:6.2f} µs/event  (spread {spread:.2f})")
    ratios: List[Tuple[str, float]] = []
    for framing in ("chunked", "length", "gzip"):
        ours = medians.get(f"fastsse / httpx {framing}")
        theirs = medians.get(f"httpx-sse / httpx {framing}")
        if ours and theirs:
            ratios.append((framing, theirs / ours))
    for framing, ratio in ratios:
        print(f"  httpx-sse / fastsse over httpx, {framing}: {ratio:.2f}x the CPU")


if __name__ == "__main__":
    main()
