"""Real HTTP servers for the integration tests, started in background threads on 127.0.0.1.

Two servers share one way of observing what happened on the wire (:class:`Tracker`):

* :class:`AsgiServer`: a plain ASGI app served by a real uvicorn server. Each event is sent in
  its own ``http.response.body`` message (``more_body=True``), so uvicorn flushes one HTTP
  chunk per event.
* :class:`RawServer`: a socket-and-thread HTTP/1.1 server with no HTTP library, for hostile
  framing. It serves :class:`Plan` objects (a list of writes) either with
  ``Transfer-Encoding: chunked`` (one HTTP chunk per write) or close-delimited (an
  ``HTTP/1.0`` response with neither Content-Length nor Transfer-Encoding, ended by closing
  the connection, as Python's ``http.server`` does).

Both bind to 127.0.0.1 on an ephemeral port, and every wait has a timeout. Pytest fixtures
``asgi_server`` and ``raw_server`` (session-scoped, in ``conftest.py`` beside this file) start
them once per session and stop them at the end.

Tokens
------
Every request may carry ``token=<str>`` in its query string (the ASGI server also takes an
``x-test-token`` request header, handy for SDKs that build the URL themselves). The servers record, per token, what they did;
the test asks with the same token. ``server.new_token()`` gives a fresh one; any unique string
works. A request without a token is served but not recorded.

Observation API (both servers)
------------------------------
``server.url`` -- ``"http://127.0.0.1:<port>"``; ``asgi.url_for("/sse", n=3, token=t)`` builds
    a URL with a query string (None values are left out).
``server.new_token() -> str``.
``server.sent(token) -> int`` -- how many events (ASGI) or writes (raw) have been sent so far
    (counted just before each is handed to the socket).
``server.body(token) -> bytes`` -- the response body bytes sent so far (without HTTP framing).
``server.ack(token, k)`` -- lockstep: the consumer has received event/write ``k`` (0-based);
    the server may now send ``k + 1``. Safe to call from any thread or event loop; acks may
    be given in any order, and acking an index more than once is harmless.
``server.failures(token) -> list[str]`` -- lockstep faults: an ack that did not come within
    ``ack_timeout`` seconds (the server then stops waiting for acks on that request and sends
    the rest at once, so a buffering client costs one timeout, not one per event).
``server.disconnected(token, timeout=5.0) -> bool`` -- wait up to ``timeout`` seconds for the
    server to notice the client went away before the response was complete (the ASGI app got
    ``http.disconnect``; the raw server saw EOF or a failing write). Returns False on timeout.
``server.disconnect_delay(token) -> float | None`` -- seconds from the last body bytes sent
    to the moment the disconnect was noticed, None if not disconnected. (To time how long the
    server took after the client left, note ``time.monotonic()`` when leaving and measure
    the wait in ``disconnected``.)
``server.completed(token, timeout=0.0) -> bool`` -- the response was sent to its end.
``server.requests(token) -> int`` -- requests seen with this token.
``server.peers(token) -> list[tuple[str, int]]`` -- client address of each such request: the
    same port twice means a pooled connection was reused.
``server.stop()`` -- stop serving; waits (bounded) for the thread to end.

Lockstep: with ``lockstep=1`` (ASGI query) or ``Plan(lockstep=True)`` the server sends event
(write) ``k + 1`` only after ``ack(token, k)``. A consumer that receives event ``k`` while
``server.sent(token) == k + 1`` got it before the server sent the next one: proof that the
client delivered it as soon as its bytes arrived. Acking the last event is allowed and unused.

ASGI endpoints (``AsgiServer``; GET unless said otherwise)
----------------------------------------------------------
Common query parameters: ``token``, ``delay`` (seconds to sleep before each event after the
first, default 0), ``lockstep`` (``1`` to wait for acks), ``ack_timeout`` (seconds, default
the server's ``ack_timeout``).

``/sse?n=5`` -- ``text/event-stream``: ``n`` OpenAI-style ``chat.completion.chunk`` events
    (``data: {...}``; see :func:`openai_chunk`) then ``data: [DONE]``, each in its own body
    message. ``content_type=<value>`` overrides the header (e.g. with ``; charset=utf-8``).
    ``after_done=endless`` keeps sending keep-alive comments after ``[DONE]`` until the client
    goes away or ``max_seconds`` (default 60) pass (so a test can check that stopping at the
    terminal event disconnects).
    The bytes are ``b"".join(sse_chunks(n))``.
``/jsonl?n=5`` -- ``n`` JSON records, one per line and per body message, Content-Type
    ``application/x-ndjson`` (``content_type=application/jsonl`` or any other to override).
    The bytes are ``b"".join(jsonl_chunks(n))``.
``/named`` -- named SSE events for handler tests: :data:`NAMED_CHUNKS` (``event:
    user.message``, ``event: user.typing``, a ``: ping`` comment, ``event: error``,
    ``event: message_stop``...), one per body message. ``n=<int>`` sends only the first n.
``/endless?interval=0.01&max_seconds=60`` -- ``text/event-stream`` events (``id: k``, JSON
    data ``{"n": k}``) every ``interval`` seconds until the client disconnects or
    ``max_seconds`` pass (then the response ends normally). For early-break tests.
``/status/<code>`` -- a response with that status. ``kind=json`` (default) sends
    ``application/json`` ``{"error": {"code": <code>, "message": ...}}``; ``kind=text`` sends
    ``text/plain``; ``size=<int>`` pads the body to that many bytes (for body-excerpt tests).
    The body is ``status_body(code, kind, size)``.
``/unknown-type`` -- 200, ``Content-Type: text/html; charset=utf-8``, a small SSE-looking body.
``/no-type`` -- 200 with no Content-Type header, an SSE body.
``POST /v1/chat/completions`` -- what the openai SDK calls: reads the JSON request body and
    answers like ``/sse`` (``n`` from the query, default 5, or from the request's
    ``"n_events"`` field), with the request's ``model`` in each chunk. Takes the token from
    the query or an ``x-test-token`` header, and ``lockstep``/``delay`` from the query.
Any other path: 404 ``text/plain`` ``not found: <path>``.

Interleaving server (``InterleavingServer``)
--------------------------------------------
Many concurrent streams from one asyncio server, their events interleaved on the wire.
``server.url_for(group, stream, n, streams, idle=0.0)``: the URL of stream ``stream``
(0-based) of a group of ``streams``; once all of them are connected (or after
``GROUP_WAIT`` seconds, for those that are), the server sends round after round, one event
(:func:`interleaved_event`) to every stream in a shuffled order each round, ``n`` rounds,
each event its own HTTP chunk; then ends every body. With ``idle > 0`` it sends one event,
holds every stream open that many seconds (or until the client goes away), then sends the
rest. ``server.completed(group) -> int`` is how many bodies were sent to their end;
``server.open_connections -> int`` how many connections the server still has (``GET
/status?group=`` answers both as JSON). ``python servers.py interleave`` runs one in its
own process: it prints its port, and serves until its stdin closes;
:class:`InterleavingProcess` starts one so and has the same API, so the server's work does
not compete with the clients' for this process's interpreter.

Raw server (``RawServer``)
--------------------------
``raw.register(plan) -> str`` registers a :class:`Plan` and returns its id;
``raw.url_for(plan_id, framing="chunked" | "close" | "length", token=None) -> str`` is the URL
to request;
``raw.connections_accepted`` counts TCP connections (a pooled client that reuses its
connection does not raise it).
The response is always ``<status>`` with ``Content-Type: plan.content_type``:

* ``framing="chunked"``: ``HTTP/1.1``, ``Transfer-Encoding: chunked``, one HTTP chunk per
  write; the connection stays open for further requests (keep-alive) unless the request
  said ``Connection: close`` or the plan drops the connection.
* ``framing="close"``: ``HTTP/1.0``, no length; the body ends when the server closes.
* ``framing="length"``: ``HTTP/1.1`` with ``Content-Length`` (``plan.short_by`` more than the
  body, so a positive ``short_by`` is a body cut short; the server then closes); the
  connection stays open otherwise, as with ``chunked``.

``Plan(writes, content_type="text/event-stream", status=200, delay=0.0, lockstep=False,
drop=False, endless=None, endless_interval=0.01, endless_seconds=60, stall=0.0, reset=False,
short_by=0, headers=())``: ``writes`` (non-empty bytes) are sent one by one, with ``delay``
seconds before each write after the first.
``drop=True`` closes the connection after the last write without ending the body properly
(no terminating zero chunk when chunked: the client sees a truncated body; close-delimited:
indistinguishable from a normal end). ``endless=b"..."`` sends those bytes every
``endless_interval`` seconds after the writes until the client goes away or
``endless_seconds`` pass (they go into ``body`` but are not counted by ``sent``).
``stall=<seconds>`` then sends nothing for that long (at most ``MAX_STREAM_SECONDS``), or
until the client goes away (recorded as a disconnect): what a client's read timeout meets.
``reset=True`` then aborts the connection with a TCP reset (``SO_LINGER`` 0) instead of
ending the body. ``short_by=<n>``: see ``framing="length"``. ``headers``: extra
``(name, value)`` response headers (e.g. a ``Content-Encoding`` for pre-compressed writes).
``server.disconnected(token)`` is true after a stall the client left; a plan that drops or
resets records its end as ``completed``.
``plan.body`` is ``b"".join(writes)``. Requests for an unknown plan get a 404.

:func:`hostile_plans` returns the named hostile write plans: ``bytewise`` (one byte per
write), ``cr_only`` (CR line ends, each event's final CR ending a write), ``crlf_split``
(each CRLF split between two writes), ``bom`` (a UTF-8 BOM first, itself split), ``invalid_utf8``
(bad bytes, and a multi-byte character split across writes), ``dropped_mid_event``
(``drop=True`` after half an event). :func:`lockstep_plan` gives a plan with one complete
event per write, in CR-only framing, for lockstep checks on the raw server.
"""

from __future__ import annotations

import asyncio
import http.client
import inspect
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar
from urllib.parse import parse_qs, urlencode

__all__ = [
    "Tracker",
    "AsgiServer",
    "RawServer",
    "Plan",
    "hostile_plans",
    "lockstep_plan",
    "openai_chunk",
    "sse_chunks",
    "jsonl_chunks",
    "NAMED_CHUNKS",
    "status_body",
    "DONE_CHUNK",
    "InterleavingServer",
    "InterleavingProcess",
    "interleaved_event",
]

HOST = "127.0.0.1"
DEFAULT_ACK_TIMEOUT = 2.0
# No stream runs longer than this, whatever the client does.
MAX_STREAM_SECONDS = 60.0
DONE_CHUNK = b"data: [DONE]\n\n"


# ---------------------------------------------------------------------------------------------
# Bodies


def openai_chunk(k: int, model: str = "test-model") -> bytes:
    """The JSON of the ``k``-th OpenAI-style ``chat.completion.chunk`` (no SSE framing).

    Some tokens carry characters that line splitters must not split on (U+2028, U+0085) and
    multi-byte UTF-8, so a client or decoder that splits on them shows up as a wrong event.
    """
    tokens = ["Hello", " wörld", " \u2028sep", " \u0085nel", " 🦀", " ok"]
    if k == 0:
        delta: Dict[str, Any] = {"role": "assistant", "content": ""}
    else:
        delta = {"content": f"{tokens[k % len(tokens)]} #{k}"}
    payload = {
        "id": "chatcmpl-fastsse-test",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sse_chunks(n: int, model: str = "test-model") -> List[bytes]:
    """What ``/sse?n=`` sends: one element per body message, the last one ``DONE_CHUNK``."""
    return [b"data: " + openai_chunk(k, model) + b"\n\n" for k in range(n)] + [DONE_CHUNK]


def jsonl_chunks(n: int) -> List[bytes]:
    """What ``/jsonl?n=`` sends: one JSON record per element, each ending in LF."""
    return [
        json.dumps({"n": k, "text": f"record {k} \u2028é"}, ensure_ascii=False).encode() + b"\n"
        for k in range(n)
    ]


NAMED_CHUNKS: List[bytes] = [
    b'event: session.created\nid: 1\ndata: {"type": "session.created", "session": "s1"}\n\n',
    b'event: user.message\nid: 2\ndata: {"type": "user.message", "text": "hi"}\n\n',
    b": ping\n\n",
    b'event: user.typing\ndata: {"type": "user.typing", "typing": true}\n\n',
    b'event: user.message\nid: 3\ndata: {"type": "user.message", "text": "line1"}\ndata: {"more": 1}\n\n',
    b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {"text": "x"}}\n\n',
    b'data: {"type": "unnamed"}\n\n',
    b'event: error\ndata: {"type": "error", "error": {"message": "overloaded", "code": 529}}\n\n',
    b'event: message_stop\ndata: {"type": "message_stop"}\n\n',
    b'event: after.stop\ndata: {"type": "after.stop"}\n\n',
]


def status_body(code: int, kind: str = "json", size: int = 0) -> bytes:
    """The body ``/status/<code>?kind=&size=`` sends."""
    if kind == "json":
        body = json.dumps(
            {"error": {"code": code, "message": f"status {code} from the test server"}}
        ).encode()
    else:
        body = f"status {code} from the test server\n".encode()
    if size > len(body):
        # JSON is padded inside an extra string field, so the body stays a valid document.
        if kind == "json":
            pad = size - len(body) - len(',"pad":""')
            body = body[:-1] + b',"pad":"' + b"x" * max(pad, 0) + b'"}'
        else:
            body += b"y" * (size - len(body))
    return body


# ---------------------------------------------------------------------------------------------
# What happened, per token


class _TokenState:
    def __init__(self) -> None:
        self.sent = 0
        self.body = bytearray()
        self.acked: set = set()
        self.lockstep_abandoned = False
        self.failures: List[str] = []
        self.requests = 0
        self.peers: List[Tuple[str, int]] = []
        self.last_send_at: Optional[float] = None
        self.disconnected_at: Optional[float] = None
        self.completed = False


class Tracker:
    """Per-token record of what a server sent and saw; thread-safe."""

    def __init__(self, ack_timeout: float = DEFAULT_ACK_TIMEOUT) -> None:
        self.ack_timeout = ack_timeout
        self._states: Dict[str, _TokenState] = {}
        self._cond = threading.Condition()

    # -- used by tests -------------------------------------------------------------------
    def new_token(self) -> str:
        return uuid.uuid4().hex[:16]

    def ack(self, token: str, k: int) -> None:
        with self._cond:
            self._state(token).acked.add(k)
            self._cond.notify_all()

    def sent(self, token: str) -> int:
        with self._cond:
            return self._state(token).sent

    def body(self, token: str) -> bytes:
        with self._cond:
            return bytes(self._state(token).body)

    def failures(self, token: str) -> List[str]:
        with self._cond:
            return list(self._state(token).failures)

    def requests(self, token: str) -> int:
        with self._cond:
            return self._state(token).requests

    def peers(self, token: str) -> List[Tuple[str, int]]:
        with self._cond:
            return list(self._state(token).peers)

    def disconnected(self, token: str, timeout: float = 5.0) -> bool:
        with self._cond:
            state = self._state(token)
            return self._cond.wait_for(lambda: state.disconnected_at is not None, timeout)

    def disconnect_delay(self, token: str) -> Optional[float]:
        with self._cond:
            state = self._state(token)
            if state.disconnected_at is None:
                return None
            return state.disconnected_at - (state.last_send_at or state.disconnected_at)

    def completed(self, token: str, timeout: float = 0.0) -> bool:
        with self._cond:
            state = self._state(token)
            return self._cond.wait_for(lambda: state.completed, timeout)

    # -- used by the servers -------------------------------------------------------------
    def _state(self, token: str) -> _TokenState:
        state = self._states.get(token)
        if state is None:
            state = self._states[token] = _TokenState()
        return state

    def _request(self, token: Optional[str], peer: Any) -> None:
        if token is None:
            return
        with self._cond:
            state = self._state(token)
            state.requests += 1
            if peer:
                state.peers.append((str(peer[0]), int(peer[1])))

    def _record_sent(self, token: Optional[str], data: bytes, counts: bool = True) -> None:
        if token is None:
            return
        with self._cond:
            state = self._state(token)
            state.body += data
            if counts:
                state.sent += 1
            state.last_send_at = time.monotonic()
            self._cond.notify_all()

    def _record_disconnect(self, token: Optional[str]) -> None:
        if token is None:
            return
        with self._cond:
            state = self._state(token)
            if state.disconnected_at is None and not state.completed:
                state.disconnected_at = time.monotonic()
            self._cond.notify_all()

    def _record_completed(self, token: Optional[str]) -> None:
        if token is None:
            return
        with self._cond:
            self._state(token).completed = True
            self._cond.notify_all()

    def _ack_ready(self, token: str, k: int) -> bool:
        """``k`` is acked, or lockstep was abandoned for this token."""
        with self._cond:
            state = self._state(token)
            return state.lockstep_abandoned or k in state.acked

    def _ack_missed(self, token: str, k: int, timeout: float) -> None:
        with self._cond:
            state = self._state(token)
            state.lockstep_abandoned = True
            state.failures.append(
                f"event {k} was not acknowledged within {timeout:g} s: the client did not "
                f"deliver it before more bytes arrived (server had sent {state.sent} events)"
            )
            self._cond.notify_all()

    def _wait_ack_blocking(
        self, token: str, k: int, timeout: float, give_up: Callable[[], bool]
    ) -> bool:
        """Block until ack ``k``; False when ``give_up()`` turns true. Records a miss on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            state = self._state(token)
            while not (state.lockstep_abandoned or k in state.acked):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.05))
                if give_up():
                    return False
            else:
                return True
        self._ack_missed(token, k, timeout)
        return True


class _Observed:
    """The observation API of both servers, answered by their :class:`Tracker`."""

    tracker: Tracker

    def new_token(self) -> str:
        return self.tracker.new_token()

    def ack(self, token: str, k: int) -> None:
        self.tracker.ack(token, k)

    def sent(self, token: str) -> int:
        return self.tracker.sent(token)

    def body(self, token: str) -> bytes:
        return self.tracker.body(token)

    def failures(self, token: str) -> List[str]:
        return self.tracker.failures(token)

    def requests(self, token: str) -> int:
        return self.tracker.requests(token)

    def peers(self, token: str) -> List[Tuple[str, int]]:
        return self.tracker.peers(token)

    def disconnected(self, token: str, timeout: float = 5.0) -> bool:
        return self.tracker.disconnected(token, timeout)

    def disconnect_delay(self, token: str) -> Optional[float]:
        return self.tracker.disconnect_delay(token)

    def completed(self, token: str, timeout: float = 0.0) -> bool:
        return self.tracker.completed(token, timeout)


# ---------------------------------------------------------------------------------------------
# The ASGI app and its uvicorn server


def _query(scope: Dict[str, Any]) -> Dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _max_seconds(query: Dict[str, str]) -> float:
    return min(float(query.get("max_seconds", MAX_STREAM_SECONDS)), MAX_STREAM_SECONDS)


def _header(scope: Dict[str, Any], name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class _Exchange:
    """One request: sends body messages, watches for the client going away, runs lockstep."""

    def __init__(
        self, server: "AsgiServer", scope: Dict[str, Any], receive: Any, send: Any
    ) -> None:
        self.server = server
        self.tracker = server.tracker
        self.scope = scope
        self.receive = receive
        self.send_message = send
        self.query = _query(scope)
        self.token: Optional[str] = self.query.get("token") or _header(scope, b"x-test-token")
        self.delay = float(self.query.get("delay", "0") or 0)
        self.lockstep = self.query.get("lockstep", "0") not in ("", "0", "false")
        self.ack_timeout = float(self.query.get("ack_timeout", self.tracker.ack_timeout))
        self.gone = asyncio.Event()
        self.finished = False
        self.request_body = b""
        self._watcher: Optional["asyncio.Task[None]"] = None
        self.tracker._request(self.token, scope.get("client"))

    async def read_request_body(self) -> bytes:
        parts = []
        while True:
            message = await asyncio.wait_for(self.receive(), 10)
            if message["type"] == "http.disconnect":
                self.gone.set()
                break
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.request_body = b"".join(parts)
        return self.request_body

    def watch_disconnect(self) -> None:
        # After the request body, receive() returns only when the client goes away (or the
        # response completes): it is how an ASGI app learns of a disconnect. uvicorn drops
        # sends silently after that, so the send loop checks `gone` instead.
        async def watch() -> None:
            try:
                while True:
                    message = await self.receive()
                    if message["type"] == "http.disconnect":
                        break
            except Exception:  # noqa: BLE001 - a broken receive is a disconnect too
                pass
            if not self.finished:
                self.tracker._record_disconnect(self.token)
            self.gone.set()

        self._watcher = asyncio.ensure_future(watch())

    async def start(
        self, status: int, content_type: Optional[str], extra: Sequence[Tuple[bytes, bytes]] = ()
    ) -> None:
        headers = [(b"cache-control", b"no-cache")]
        if content_type is not None:
            headers.append((b"content-type", content_type.encode("latin-1")))
        headers.extend(extra)
        await self.send_message(
            {"type": "http.response.start", "status": status, "headers": headers}
        )

    async def chunk(self, data: bytes, counts: bool = True) -> bool:
        """Send one body message; False when the client is gone."""
        if self.gone.is_set() or self.server.stopping:
            return False
        # Counted before the send: the client may read the bytes before send() returns.
        self.tracker._record_sent(self.token, data, counts)
        try:
            await self.send_message({"type": "http.response.body", "body": data, "more_body": True})
        except Exception:  # noqa: BLE001 - some servers raise on a closed connection
            self.tracker._record_disconnect(self.token)
            self.gone.set()
            return False
        return True

    async def events(self, chunks: Sequence[bytes]) -> bool:
        """Send each chunk as one event, with delay and lockstep; False when the client left."""
        for k, data in enumerate(chunks):
            if k and self.delay:
                if await self._sleep_or_gone(self.delay):
                    return False
            if k and self.lockstep and self.token is not None:
                if not await self._wait_ack(k - 1):
                    return False
            if not await self.chunk(data):
                return False
        return True

    async def finish(self) -> None:
        self.finished = True
        if not self.gone.is_set():
            # Recorded first: a client that has seen the end may ask at once.
            self.tracker._record_completed(self.token)
            await self.send_message({"type": "http.response.body", "body": b"", "more_body": False})
        if self._watcher is not None:
            self._watcher.cancel()

    async def _sleep_or_gone(self, seconds: float) -> bool:
        """Sleep; True (stop sending) when the client left or the server is stopping."""
        try:
            await asyncio.wait_for(self.gone.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return self.server.stopping

    async def _wait_ack(self, k: int) -> bool:
        assert self.token is not None
        deadline = time.monotonic() + self.ack_timeout
        # Polling keeps the event loop free for other connections; acks come from test
        # threads and other loops, so there is no loop-bound primitive to await.
        while not self.tracker._ack_ready(self.token, k):
            if self.gone.is_set() or self.server.stopping:
                return False
            if time.monotonic() >= deadline:
                self.tracker._ack_missed(self.token, k, self.ack_timeout)
                break
            await asyncio.sleep(0.002)
        return True


class AsgiServer(_Observed):
    """The ASGI test app served by uvicorn in a background thread. See the module docstring."""

    def __init__(self, ack_timeout: float = DEFAULT_ACK_TIMEOUT) -> None:
        self.tracker = Tracker(ack_timeout)
        self.stopping = False
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url_for(self, path: str, **query: Any) -> str:
        """``url + path``, with ``query`` (None values left out) as the query string."""
        params = {key: str(value) for key, value in query.items() if value is not None}
        return self.url + path + ("?" + urlencode(params) if params else "")

    def start(self, timeout: float = 10.0) -> "AsgiServer":
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        options: Dict[str, Any] = dict(
            host=HOST,
            port=self.port,
            log_level="warning",
            lifespan="off",
            loop="asyncio",
            http="h11",
            access_log=False,
            # uvicorn guesses the ASGI version from the callable's signature and takes a
            # bound method for ASGI 2: say so.
            interface="asgi3",
            proxy_headers=False,
        )
        if "timeout_graceful_shutdown" in inspect.signature(uvicorn.Config).parameters:
            options["timeout_graceful_shutdown"] = 2  # uvicorn >= 0.23; streams end on stop anyway
        config = uvicorn.Config(self.app, **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="asgi-test-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        bound = self._server.servers[0].sockets[0].getsockname()
        self.port = bound[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)

    # -- the app -------------------------------------------------------------------------
    async def app(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        exchange = _Exchange(self, scope, receive, send)
        await exchange.read_request_body()
        path = scope["path"]
        method = scope["method"]
        query = exchange.query
        if path == "/sse":
            await self._sse(exchange, sse_chunks(int(query.get("n", "5"))))
        elif path == "/v1/chat/completions" and method == "POST":
            await self._chat_completions(exchange)
        elif path == "/jsonl":
            content_type = query.get("content_type", "application/x-ndjson")
            await self._stream(exchange, jsonl_chunks(int(query.get("n", "5"))), content_type)
        elif path == "/named":
            count = int(query.get("n", str(len(NAMED_CHUNKS))))
            await self._stream(exchange, NAMED_CHUNKS[:count], "text/event-stream")
        elif path == "/endless":
            await self._endless(exchange, float(query.get("interval", "0.01")), _max_seconds(query))
        elif path.startswith("/status/"):
            code = int(path[len("/status/") :])
            kind = query.get("kind", "json")
            body = status_body(code, kind, int(query.get("size", "0")))
            ctype = "application/json" if kind == "json" else "text/plain; charset=utf-8"
            await self._whole(exchange, code, ctype, body)
        elif path == "/unknown-type":
            await self._stream(exchange, sse_chunks(2), "text/html; charset=utf-8")
        elif path == "/no-type":
            await self._stream(exchange, sse_chunks(2), None)
        else:
            await self._whole(
                exchange, 404, "text/plain; charset=utf-8", f"not found: {path}\n".encode()
            )

    async def _whole(
        self, exchange: _Exchange, status: int, content_type: str, body: bytes
    ) -> None:
        await exchange.start(status, content_type, [(b"content-length", str(len(body)).encode())])
        exchange.finished = True
        exchange.tracker._record_sent(exchange.token, body)
        exchange.tracker._record_completed(exchange.token)
        await exchange.send_message(
            {"type": "http.response.body", "body": body, "more_body": False}
        )

    async def _stream(
        self, exchange: _Exchange, chunks: Sequence[bytes], content_type: Optional[str]
    ) -> None:
        await exchange.start(200, content_type)
        exchange.watch_disconnect()
        await exchange.events(chunks)
        await exchange.finish()

    async def _sse(self, exchange: _Exchange, chunks: Sequence[bytes]) -> None:
        query = exchange.query
        await exchange.start(200, query.get("content_type", "text/event-stream"))
        exchange.watch_disconnect()
        if await exchange.events(chunks) and query.get("after_done") == "endless":
            await self._keep_alive(
                exchange, float(query.get("interval", "0.01")), _max_seconds(query)
            )
        await exchange.finish()

    async def _chat_completions(self, exchange: _Exchange) -> None:
        try:
            request = json.loads(exchange.request_body or b"{}")
        except ValueError:
            request = {}
        model = str(request.get("model", "test-model"))
        n = int(exchange.query.get("n", request.get("n_events", 5)))
        await self._sse(exchange, sse_chunks(n, model))

    async def _endless(self, exchange: _Exchange, interval: float, max_seconds: float) -> None:
        await exchange.start(200, "text/event-stream")
        exchange.watch_disconnect()
        started = time.monotonic()
        k = 0
        while time.monotonic() - started < max_seconds:
            data = b'id: %d\ndata: {"n": %d}\n\n' % (k, k)
            if not await exchange.chunk(data):
                break
            k += 1
            if await exchange._sleep_or_gone(interval):
                break
        await exchange.finish()

    async def _keep_alive(self, exchange: _Exchange, interval: float, max_seconds: float) -> None:
        started = time.monotonic()
        while time.monotonic() - started < max_seconds:
            if not await exchange.chunk(b": keep-alive after the end\n\n", counts=False):
                break
            if await exchange._sleep_or_gone(interval):
                break


# ---------------------------------------------------------------------------------------------
# The raw-socket server


class Plan:
    """A response body as a sequence of writes. See the module docstring."""

    def __init__(
        self,
        writes: Sequence[bytes],
        content_type: Optional[str] = "text/event-stream",
        status: int = 200,
        delay: float = 0.0,
        lockstep: bool = False,
        drop: bool = False,
        endless: Optional[bytes] = None,
        endless_interval: float = 0.01,
        endless_seconds: float = MAX_STREAM_SECONDS,
        stall: float = 0.0,
        reset: bool = False,
        short_by: int = 0,
        headers: Sequence[Tuple[str, str]] = (),
    ) -> None:
        if any(not w for w in writes):
            raise ValueError("every write must be non-empty: an empty chunk ends a chunked body")
        self.writes = [bytes(w) for w in writes]
        self.content_type = content_type
        self.status = status
        self.delay = delay
        self.lockstep = lockstep
        self.drop = drop
        self.endless = endless
        self.endless_interval = endless_interval
        self.endless_seconds = min(endless_seconds, MAX_STREAM_SECONDS)
        self.stall = min(stall, MAX_STREAM_SECONDS)
        self.reset = reset
        self.short_by = short_by
        self.headers = list(headers)

    @property
    def ends_abnormally(self) -> bool:
        """The server cuts the body short however it is framed (not only when chunked)."""
        return self.reset or self.short_by > 0

    @property
    def body(self) -> bytes:
        return b"".join(self.writes)

    def __repr__(self) -> str:
        ending = "reset" if self.reset else "drop" if self.drop else "end"
        return f"Plan({len(self.writes)} writes, {len(self.body)} bytes, {ending})"


def _events_body(n: int, line_end: bytes = b"\n") -> List[bytes]:
    """``n`` small OpenAI-style events with the given line end, one event per element."""
    return [
        b"id: " + str(k).encode() + line_end + b"data: " + openai_chunk(k) + line_end + line_end
        for k in range(n)
    ]


def hostile_plans() -> Dict[str, Plan]:
    """The named hostile write plans (fresh objects on each call)."""
    plans: Dict[str, Plan] = {}

    small = b': hello\n\nevent: delta\ndata: {"a": "\xc3\xa9\xe2\x80\xa8"}\n\nid: 7\ndata: line1\ndata: line2\n\n'
    plans["bytewise"] = Plan([small[i : i + 1] for i in range(len(small))], delay=0.0002)

    plans["cr_only"] = Plan(_events_body(4, b"\r"))

    crlf = b"".join(_events_body(3, b"\r\n"))
    writes: List[bytes] = []
    start = 0
    for i in range(len(crlf) - 1):
        if crlf[i : i + 2] == b"\r\n":
            writes.append(crlf[start : i + 1])  # ends with CR; the LF starts the next write
            start = i + 1
    writes.append(crlf[start:])
    plans["crlf_split"] = Plan(writes)

    bom_body = b"".join(_events_body(2))
    plans["bom"] = Plan(
        [b"\xef\xbb", b"\xbf" + bom_body[:10], bom_body[10:], b"data: \xef\xbb\xbfkept\n\n"]
    )

    euro = "€".encode()  # three bytes, split across writes below
    plans["invalid_utf8"] = Plan(
        [
            b"data: bad \xff byte\n\n",
            b"data: split " + euro[:1],
            euro[1:2],
            euro[2:] + b" done\n\n",
            b"data: truncated \xe2\x82\n\ndata: lone \xed\xa0\x80 surrogate\n\n",
        ]
    )

    events = b"".join(_events_body(3))
    cut = events.rindex(b"data: ") + 20  # half-way through the last event's data line
    plans["dropped_mid_event"] = Plan([events[:cut]], drop=True)
    return plans


def lockstep_plan(n: int = 5, line_end: bytes = b"\r") -> Plan:
    """One complete event per write (CR-only by default: the event must dispatch on its final
    CR, without waiting for a next byte), with lockstep on."""
    return Plan(_events_body(n, line_end), lockstep=True)


class Request:
    def __init__(
        self, method: str, target: str, version: str, headers: Dict[str, str], body: bytes = b""
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        path, _, query = target.partition("?")
        self.path = path
        self.query = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

    @property
    def wants_close(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" not in connection
        return "close" in connection


class _ClientGone(Exception):
    pass


_ServerT = TypeVar("_ServerT", bound="SocketServer")


class SocketServer:
    """The plumbing of a socket-and-thread HTTP/1.1 server on 127.0.0.1: one thread accepts,
    one thread a connection reads its requests and hands each to :meth:`_respond`. Every
    socket operation has a timeout; :meth:`stop` drops the open connections and keeps the
    port, so :meth:`start` can serve on it again."""

    NAME = "socket-test-server"  # the accepting thread's
    POLL = 0.2  # how soon the threads see `stopping`
    IDLE_TIMEOUT = 5.0  # a keep-alive connection waits this long for its next request
    IO_TIMEOUT = 5.0  # any single socket read or write

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listener: Optional[socket.socket] = None
        self._accept_thread: Optional[threading.Thread] = None
        self._connections: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self.stopping = False
        self.port = 0
        self.connections_accepted = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self: _ServerT, port: int = 0) -> _ServerT:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port or self.port))
        listener.listen(64)
        listener.settimeout(self.POLL)  # so the accept loop sees `stopping`
        self._listener = listener
        self.port = listener.getsockname()[1]
        self.stopping = False
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=self.NAME, daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and drop every open connection."""
        self.stopping = True
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

    def _respond(self, conn: socket.socket, peer: Tuple[str, int], request: Request) -> bool:
        """Serve one request; True when the connection may carry another."""
        raise NotImplementedError

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self.stopping:
            try:
                conn, peer = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve_connection, args=(conn, peer), daemon=True)
            with self._lock:
                self.connections_accepted += 1
                self._connections.append(conn)
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _serve_connection(self, conn: socket.socket, peer: Tuple[str, int]) -> None:
        buffer = bytearray()
        try:
            conn.settimeout(self.IO_TIMEOUT)
            while not self.stopping:
                request = self._read_request(conn, buffer)
                if request is None or not self._respond(conn, peer, request):
                    return
        except (OSError, _ClientGone, ValueError):  # ValueError: a malformed request
            return
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _read_request(self, conn: socket.socket, buffer: bytearray) -> Optional[Request]:
        deadline = time.monotonic() + self.IDLE_TIMEOUT
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > 65536:
                raise ValueError("request head too large")
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.stopping:
                return None
            ready, _, _ = select.select([conn], [], [], min(remaining, self.POLL))
            if not ready:
                continue
            data = conn.recv(65536)
            if not data:
                return None
            buffer += data
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        buffer[:] = rest
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
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
        return Request(method, target, version, headers, body)


class RawServer(SocketServer, _Observed):
    """A socket-level HTTP/1.1 server for hostile framing. See the module docstring."""

    NAME = "raw-test-server"

    def __init__(self, ack_timeout: float = DEFAULT_ACK_TIMEOUT) -> None:
        super().__init__()
        self.tracker = Tracker(ack_timeout)
        self._plans: Dict[str, Plan] = {}

    def register(self, plan: Plan) -> str:
        plan_id = uuid.uuid4().hex[:12]
        with self._lock:
            self._plans[plan_id] = plan
        return plan_id

    def url_for(self, plan_id: str, framing: str = "chunked", token: Optional[str] = None) -> str:
        if framing not in ("chunked", "close", "length"):
            raise ValueError(f"framing must be 'chunked', 'close' or 'length', not {framing!r}")
        query = {"framing": framing}
        if token is not None:
            query["token"] = token
        return f"{self.url}/plan/{plan_id}?{urlencode(query)}"

    # -- connections ---------------------------------------------------------------------
    def _respond(self, conn: socket.socket, peer: Tuple[str, int], request: Request) -> bool:
        """Serve one request; True when the connection may carry another."""
        token = request.query.get("token")
        self.tracker._request(token, peer)
        plan: Optional[Plan] = None
        if request.path.startswith("/plan/"):
            with self._lock:
                plan = self._plans.get(request.path[len("/plan/") :])
        if plan is None:
            body = f"no such plan: {request.path}\n".encode()
            head = (
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            conn.sendall(head.encode() + body)
            return False
        framing = request.query.get("framing", "chunked")
        chunked = framing == "chunked"
        http10 = framing == "close"
        reason = {
            200: "OK",
            404: "Not Found",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }.get(plan.status, "Status")
        lines = [
            f"HTTP/1.0 {plan.status} {reason}" if http10 else f"HTTP/1.1 {plan.status} {reason}"
        ]
        lines.append("Server: fastsse-raw-test-server")
        if plan.content_type is not None:
            lines.append(f"Content-Type: {plan.content_type}")
        lines.append("Cache-Control: no-cache")
        lines.extend(f"{name}: {value}" for name, value in plan.headers)
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif not http10:
            lines.append(f"Content-Length: {len(plan.body) + plan.short_by}")
        if not http10 and request.wants_close:
            lines.append("Connection: close")
        conn.settimeout(self.IO_TIMEOUT)
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

        def write(data: bytes, counts: bool = True) -> None:
            self._check_client(conn)
            framed = b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
            # Counted before the send: the client may read the bytes before sendall() returns.
            self.tracker._record_sent(token, data, counts)
            try:
                conn.sendall(framed)
            except OSError:
                raise _ClientGone() from None

        try:
            for k, data in enumerate(plan.writes):
                if k and plan.delay:
                    self._pause(conn, plan.delay)
                if k and plan.lockstep and token is not None:
                    if not self.tracker._wait_ack_blocking(
                        token, k - 1, self.tracker.ack_timeout, lambda: self._gone(conn)
                    ):
                        raise _ClientGone()
                write(data)
            if plan.endless is not None:
                started = time.monotonic()
                while time.monotonic() - started < plan.endless_seconds and not self.stopping:
                    self._pause(conn, plan.endless_interval)
                    write(plan.endless, counts=False)
            if plan.stall:
                self._pause(conn, plan.stall)
            if plan.reset:
                self.tracker._record_completed(token)
                # Linger 0: close() sends RST at once instead of a FIN after the data.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False
            if plan.drop or plan.short_by > 0:
                self.tracker._record_completed(token)
                conn.shutdown(socket.SHUT_RDWR)
                return False
            # Recorded first: a client that has seen the end may ask at once.
            self.tracker._record_completed(token)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        except (_ClientGone, socket.timeout, OSError):
            self.tracker._record_disconnect(token)
            return False
        if http10:
            # Close-delimited: closing is the end of the body. Shut down writing first so the
            # client reads every byte before it sees the end.
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        return not request.wants_close

    def _gone(self, conn: socket.socket) -> bool:
        try:
            self._check_client(conn)
        except (_ClientGone, OSError):
            return True
        return self.stopping

    def _check_client(self, conn: socket.socket) -> None:
        # Mid-response the client sends nothing, so a readable socket means EOF or a reset:
        # the client closed its end. A write alone would notice only after a second send.
        ready, _, _ = select.select([conn], [], [], 0)
        if ready:
            try:
                data = conn.recv(4096, socket.MSG_PEEK)
            except OSError:
                raise _ClientGone() from None
            if not data:
                raise _ClientGone()

    def _pause(self, conn: socket.socket, seconds: float) -> None:
        """Sleep ``seconds``, waking early (and raising) if the client goes away."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.stopping:
                raise _ClientGone()
            ready, _, _ = select.select([conn], [], [], min(remaining, 0.05))
            if ready:
                self._check_client(conn)
                # Data from the client mid-response (a pipelined request) is left for later.
                time.sleep(min(remaining, 0.005))


# ---------------------------------------------------------------------------------------------
# Many streams at once


def interleaved_event(stream: int, k: int) -> bytes:
    """Event ``k`` of stream ``stream``, as the interleaving server sends it."""
    return b'id: %d-%d\ndata: {"stream": %d, "k": %d}\n\n' % (stream, k, stream, k)


class _Group:
    def __init__(self, size: int, rounds: int, idle: float) -> None:
        self.size = size
        self.rounds = rounds
        self.idle = idle
        self.writers: Dict[int, asyncio.StreamWriter] = {}
        self.full = asyncio.Event()
        self.started = False
        self.completed = 0


class InterleavingServer:
    """Many streams, interleaved: see the module docstring."""

    GROUP_WAIT = 30.0

    def __init__(self) -> None:
        self.port = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._groups: Dict[str, _Group] = {}
        self._lock = threading.Lock()
        self._open = 0
        self._senders: List["asyncio.Task[None]"] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url_for(self, group: str, stream: int, n: int, streams: int, idle: float = 0.0) -> str:
        query = urlencode(
            {"group": group, "stream": stream, "n": n, "streams": streams, "idle": idle}
        )
        return f"{self.url}/interleave?{query}"

    def completed(self, group: str) -> int:
        with self._lock:
            found = self._groups.get(group)
            return found.completed if found is not None else 0

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._open

    def start(self, timeout: float = 10.0) -> "InterleavingServer":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._connection, HOST, 0, backlog=4096)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="interleaving-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the interleaving server did not start")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            for sender in self._senders:
                sender.cancel()
            for group in list(self._groups.values()):
                for writer in group.writers.values():
                    writer.close()
            await asyncio.sleep(0)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shut(), loop)
        self._thread.join(timeout)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._open += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            target = head.split(b" ", 2)[1].decode("latin-1")
            query = {k: v[-1] for k, v in parse_qs(target.partition("?")[2]).items()}
            group_id = query["group"]
            if target.startswith("/status"):
                body = json.dumps(
                    # This request's own connection is not counted.
                    {"completed": self.completed(group_id), "open": self.open_connections - 1}
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                return
            with self._lock:
                group = self._groups.get(group_id)
                if group is None:
                    group = self._groups[group_id] = _Group(
                        int(query["streams"]), int(query["n"]), float(query.get("idle", 0))
                    )
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n"
            )
            group.writers[int(query["stream"])] = writer
            if len(group.writers) >= group.size:
                group.full.set()
            if not group.started:
                group.started = True
                self._senders = [task for task in self._senders if not task.done()]
                self._senders.append(asyncio.ensure_future(self._send(group)))
            # The connection ends when the client leaves or the sender closes it.
            await reader.read()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, KeyError):
            pass
        finally:
            writer.close()
            with self._lock:
                self._open -= 1

    async def _send(self, group: _Group) -> None:
        try:
            await asyncio.wait_for(group.full.wait(), self.GROUP_WAIT)
        except asyncio.TimeoutError:
            pass
        rng = random.Random(group.size * 7919 + group.rounds)
        order = sorted(group.writers)
        for k in range(group.rounds):
            rng.shuffle(order)
            for stream in order:
                writer = group.writers[stream]
                if not writer.is_closing():
                    data = interleaved_event(stream, k)
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            if k == 0 and group.idle > 0:
                await asyncio.sleep(group.idle)
            # Let the loop hand this round to the sockets before the next.
            for writer in group.writers.values():
                if not writer.is_closing():
                    await writer.drain()
        for writer in group.writers.values():
            if not writer.is_closing():
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                with self._lock:
                    group.completed += 1
                writer.close()


class InterleavingProcess:
    """An :class:`InterleavingServer` in a child process, observed over HTTP."""

    def __init__(self) -> None:
        self._process: Optional[subprocess.Popen] = None  # type: ignore[type-arg]
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url_for(self, group: str, stream: int, n: int, streams: int, idle: float = 0.0) -> str:
        query = urlencode(
            {"group": group, "stream": stream, "n": n, "streams": streams, "idle": idle}
        )
        return f"{self.url}/interleave?{query}"

    def start(self, timeout: float = 20.0) -> "InterleavingProcess":
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "interleave"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        if not ready:
            self.stop()
            raise RuntimeError("the interleaving server did not start")
        self.port = int(self._process.stdout.readline())
        return self

    def _status(self, group: str) -> Dict[str, int]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            connection.request("GET", "/status?" + urlencode({"group": group}))
            return json.loads(connection.getresponse().read())  # type: ignore[no-any-return]
        finally:
            connection.close()

    def completed(self, group: str) -> int:
        return self._status(group)["completed"]

    @property
    def open_connections(self) -> int:
        return self._status("-")["open"]

    def stop(self, timeout: float = 10.0) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        if process.stdout is not None:
            process.stdout.close()


def _serve_interleaving() -> None:
    server = InterleavingServer().start()
    print(server.port, flush=True)
    sys.stdin.read()  # the parent closes it to stop us
    server.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["interleave"]:
        _serve_interleaving()
    else:
        raise SystemExit("usage: python servers.py interleave")
