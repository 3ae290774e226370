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

import socket
import struct
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, urlsplit

from servers import Request, SocketServer

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


class ReconnectServer(SocketServer):
    NAME = "reconnect-test-server"
    POLL = 0.05

    def __init__(self) -> None:
        super().__init__()
        self._scripts: Dict[str, Script] = {}
        self._seen: Dict[str, List[Seen]] = {}
        self._counter = 0

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

    def _respond(self, conn: socket.socket, peer: Tuple[str, int], received: Request) -> bool:
        request = Seen(received.method, received.target, received.headers, received.body)
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
            if self.stopping:
                return False
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        if reply.end == "close":
            conn.sendall(b"0\r\n\r\n")
            return True
        if reply.end == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # the connection is closed with the body unfinished
