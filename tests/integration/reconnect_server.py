"""A socket-level HTTP/1.1 server on 127.0.0.1 for reconnection tests.

Each test scripts what the server answers to each request of its token (``/stream?token=t``):
a list of :class:`Reply`, the n-th request getting the n-th reply (the last one repeats), or
a function of the :class:`Seen` request. It records every request (method, headers, body),
so a test checks the ``Last-Event-ID``, ``Accept`` and ``Cache-Control`` each reconnection
sent. A reply's body ends cleanly (the last chunk sent), or by dropping the connection
mid-body (no last chunk, so every client sees a truncated body), optionally with a TCP
reset. :meth:`ReconnectServer.stop` and :meth:`ReconnectServer.start` restart it on the
same port, so a client meets refused connections while it is down.

Every socket operation has a timeout, and the server answers only 127.0.0.1.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"

_REASONS = {200: "OK", 204: "No Content", 404: "Not Found", 429: "Too Many Requests"}


class Reply:
    """One response. ``end``: ``"close"`` (the body ends cleanly), ``"drop"`` (the
    connection is closed mid-body), ``"reset"`` (closed with a TCP RST). ``writes`` are sent
    one HTTP chunk each, ``pause`` seconds apart. Non-2xx and 204 replies send ``body``
    with a Content-Length instead."""

    def __init__(
        self,
        writes: Sequence[bytes] = (),
        *,
        status: int = 200,
        content_type: Optional[str] = "text/event-stream",
        headers: Sequence[Tuple[str, str]] = (),
        end: str = "close",
        body: bytes = b"",
        pause: float = 0.0,
    ) -> None:
        if end not in ("close", "drop", "reset"):
            raise ValueError(end)
        self.writes = list(writes)
        self.status = status
        self.content_type = content_type
        self.headers = list(headers)
        self.end = end
        self.body = body
        self.pause = pause


class Seen:
    """A request as the server read it: ``headers`` keyed by lower-case name."""

    def __init__(self, method: str, target: str, headers: Dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body

    @property
    def last_event_id(self) -> Optional[str]:
        raw = self.headers.get("last-event-id")
        return None if raw is None else raw.encode("latin-1").decode("utf-8")


Script = Union[Sequence[Reply], Callable[[Seen, int], Reply]]


def events(ids: Sequence[int], line_end: bytes = b"\n") -> List[bytes]:
    """One write per event: ``id: k`` and ``data: {"n": k}``."""
    return [b'id: %d%sdata: {"n": %d}%s%s' % (k, line_end, k, line_end, line_end) for k in ids]


class ReconnectServer:
    IO_TIMEOUT = 5.0

    def __init__(self) -> None:
        self.port = 0
        self._scripts: Dict[str, Script] = {}
        self._seen: Dict[str, List[Seen]] = {}
        self._lock = threading.Lock()
        self._listener: Optional[socket.socket] = None
        self._accept_thread: Optional[threading.Thread] = None
        self._connections: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._stopping = False
        self._counter = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def script(self, script: Script) -> str:
        """Register what to answer; returns the URL of the stream (its token is fresh)."""
        with self._lock:
            self._counter += 1
            token = f"t{self._counter}"
            self._scripts[token] = script
            self._seen[token] = []
        return f"{self.url}/stream?token={token}"

    def seen(self, url: str) -> List[Seen]:
        """The requests made to ``url`` so far."""
        token = parse_qs(urlsplit(url).query)["token"][0]
        with self._lock:
            return list(self._seen[token])

    def start(self, port: int = 0) -> "ReconnectServer":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port or self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stopping = False
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="reconnect-test-server", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and drop every open connection (keeps the port for start())."""
        self._stopping = True
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._connections.append(conn)
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        try:
            conn.settimeout(self.IO_TIMEOUT)
            while not self._stopping:
                request = self._read_request(conn, buffer)
                if request is None or not self._respond(conn, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _read_request(self, conn: socket.socket, buffer: bytearray) -> Optional[Seen]:
        deadline = time.monotonic() + self.IO_TIMEOUT
        while b"\r\n\r\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping or len(buffer) > 65536:
                return None
            ready, _, _ = select.select([conn], [], [], min(remaining, 0.05))
            if not ready:
                continue
            data = conn.recv(65536)
            if not data:
                return None
            buffer += data
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        buffer[:] = rest
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(buffer) < length:
            data = conn.recv(65536)
            if not data:
                return None
            buffer += data
        body = bytes(buffer[:length])
        del buffer[:length]
        return Seen(method, target, headers, body)

    def _respond(self, conn: socket.socket, request: Seen) -> bool:
        token = parse_qs(urlsplit(request.target).query).get("token", [""])[0]
        with self._lock:
            script = self._scripts.get(token)
            seen = self._seen.get(token)
            if seen is not None:
                seen.append(request)
            index = len(seen or ()) - 1
        if script is None:
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return False
        if callable(script):
            reply = script(request, index)
        else:
            reply = script[min(index, len(script) - 1)]
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Error')}"]
        if reply.content_type is not None:
            head.append(f"Content-Type: {reply.content_type}")
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.status != 200 or not (reply.writes or reply.end != "close"):
            if reply.status != 204:
                head.append(f"Content-Length: {len(reply.body)}")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            return True
        head.append("Transfer-Encoding: chunked")
        head.append("Cache-Control: no-store")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for k, data in enumerate(reply.writes):
            if k and reply.pause:
                time.sleep(reply.pause)
            if self._stopping:
                return False
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        if reply.end == "close":
            conn.sendall(b"0\r\n\r\n")
            return True
        if reply.end == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # the connection is closed with the body unfinished
