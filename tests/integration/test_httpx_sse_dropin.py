"""fastsse.integrations.httpx_sse against the real httpx-sse, over a real server on 127.0.0.1.

The same requests go through httpx-sse and through the drop-in, sync and async, on both
backends. Streams where httpx-sse follows the WHATWG standard must give equal events;
each stream where it departs from the standard is pinned: what httpx-sse gives, and what
the drop-in gives instead (the list in docs/integrations/httpx-sse.md).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx_sse
import pytest

import fastsse
from fastsse.integrations import httpx_sse as dropin

Row = Tuple[str, str, str, Optional[int]]


def _payload(k: int) -> bytes:
    return json.dumps(
        {"object": "chat.completion.chunk", "choices": [{"delta": {"content": f" wörld {k}"}}]},
        ensure_ascii=False,
    ).encode()


# Streams whose events httpx-sse gets right: the drop-in must give the same.
SAME: Dict[str, List[bytes]] = {
    "openai": [b"data: " + _payload(k) + b"\n\n" for k in range(20)] + [b"data: [DONE]\n\n"],
    "named_ids": [
        b"event: a\nid: 1\ndata: x\n\n",
        b"event: b\ndata: y\ndata: z\n\n",
        b"id: 2\nevent: c\ndata: w\n\n",
    ],
    "comments_before_any_id": [b": ping\n\ndata: a\n\n: keep-alive\n", b"\ndata: b\n\n"],
    "crlf_split": [b"data: a\r", b"\n\r\ndata: b\r\n", b"id: 7\r\n\r\n"],
    "cr_only": [b"data: a\r\r", b"data: b\r", b"\rdata: c\r\r"],
    "mixed_line_ends": [b"data: a\n\r\ndata: b\r\n\ndata: c\r\rdata: d\n\n"],
    "unicode_split": [
        b"data: w\xc3",
        b"\xb6rld \xe2\x80\xa8 \xf0\x9f",
        b"\xa6\x80\ndata: \xc2\x85x\n\n",
    ],
    "invalid_utf8": [b"data: \xff\xfe ok\n\n", b"data: \xe2\x82", b"\xac\n\n"],
    "fields": [
        b"data\n\n",
        b"data:no-space\n\n",
        b"data:  two spaces\n\n",
        b"unknown: x\ndata: y\n\n",
        b"event:\ndata: z\n\n",
        b"Data: ignored\ndata: case\n\n",
    ],
    "retry_valid": [b"retry: 1500\ndata: a\n\n", b"data: b\n\n"],
    "id_with_nul": [b"id: a\x00b\ndata: x\n\n"],
    "unterminated_end": [b"data: a\n\n", b"data: never ends"],
    "bytewise": [bytes([b]) for b in b"event: e\ndata: one\ndata: two\n\ndata: three\n\n"],
    "large_event": [b"data: " + b"x" * 200_000 + b"\n\n"],
}

# Streams where httpx-sse departs from the standard: (httpx-sse's events, the drop-in's).
DIFFERENT: Dict[str, Tuple[List[bytes], List[Row], List[Row]]] = {
    # A blank line dispatches only when a data line was seen; httpx-sse also dispatches
    # event-only, id-only and retry-only blocks, and any block once an id was seen.
    "dataless_blocks": (
        [b"event: x\n\n", b"id: 1\n\n", b"data: a\n\n", b": ping\n\n", b"retry: 5\n\n"],
        [
            ("x", "", "", None),
            ("message", "", "1", None),
            ("message", "a", "1", None),
            ("message", "", "1", None),
            ("message", "", "1", 5),
        ],
        [("message", "a", "1", None)],
    ),
    # One UTF-8 BOM at the start is stripped; httpx-sse reads it into the first field
    # name, and loses the first event.
    "bom": (
        [b"\xef\xbb", b"\xbfdata: first\n\n", b"data: second\n\n"],
        [("message", "second", "", None)],
        [("message", "first", "", None), ("message", "second", "", None)],
    ),
    # retry counts only as ASCII digits alone; httpx-sse takes whatever int() takes.
    "retry_forms": (
        [
            b"retry: +5\ndata: a\n\n",
            b"retry:  6\ndata: b\n\n",
            b"retry: 1_0\ndata: c\n\n",
            "retry: ５\ndata: d\n\n".encode(),
            b"retry: -1\ndata: e\n\n",
            b"retry: 18446744073709551616\ndata: f\n\n",
        ],
        [
            ("message", "a", "", 5),
            ("message", "b", "", 6),
            ("message", "c", "", 10),
            ("message", "d", "", 5),
            ("message", "e", "", -1),
            ("message", "f", "", 18446744073709551616),
        ],
        [("message", k, "", None) for k in "abcdef"],
    ),
}


def _rows(events: Any) -> List[Row]:
    rows = []
    for sse in events:
        assert type(sse.event) is str and type(sse.data) is str and type(sse.id) is str
        assert sse.retry is None or type(sse.retry) is int
        rows.append((sse.event, sse.data, sse.id, sse.retry))
    return rows


# ----------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        name = parts.path.rsplit("/", 1)[-1]
        if name in ("dropped", "short_body"):
            return self._lose_connection(name)
        token = query.get("token")
        if token:
            self.server.requests[token] = dict(self.headers.items())
        writes = SAME.get(name) or DIFFERENT.get(name, ([b"data: x\n\n"],))[0]
        if name == "charset":
            writes = ["data: é\n\n".encode()]
        self.send_response(int(query.get("status", "200")))
        content_type = query.get("ct", "text/event-stream")
        if content_type != "none":
            self.send_header("Content-Type", content_type)
        if query.get("gzip"):
            compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
            writes = [compressor.compress(w) + compressor.flush(zlib.Z_SYNC_FLUSH) for w in writes]
            writes = [w for w in writes + [compressor.flush()] if w]
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for write in writes:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(write), write))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _lose_connection(self, name: str) -> None:
        events = b"data: a\n\ndata: b\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if name == "dropped":  # a chunked body cut inside its third chunk
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(events), events) + b"ff\r\ndata: c")
        else:  # a body short of its Content-Length
            self.send_header("Content-Length", str(len(events) + 100))
            self.end_headers()
            self.wfile.write(events + b"data: c")
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: Dict[str, Dict[str, str]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client leaving mid-stream is part of the tests


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests = {}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _url(server: _Server, name: str, **query: str) -> str:
    host, port = server.server_address[:2]
    encoded = "&".join(f"{k}={v}" for k, v in query.items())
    return f"http://{host}:{port}/{name}" + (f"?{encoded}" if encoded else "")


# ------------------------------------------------------------------------ drive both libs


def _sync_rows(module: Any, url: str, **options: Any) -> List[Row]:
    with httpx.Client(timeout=10) as client:
        with module.connect_sse(client, "GET", url, **options) as source:
            return _rows(source.iter_sse())


def _async_rows(module: Any, url: str, **options: Any) -> List[Row]:
    async def run() -> List[Row]:
        async with httpx.AsyncClient(timeout=10) as client:
            async with module.aconnect_sse(client, "GET", url, **options) as source:
                return _rows([sse async for sse in source.aiter_sse()])

    return asyncio.run(run())


MODES = {"sync": _sync_rows, "async": _async_rows}


@pytest.fixture(params=list(MODES))
def rows_of(request: Any) -> Any:
    return MODES[request.param]


@pytest.mark.parametrize("name", list(SAME))
def test_same_events_as_httpx_sse(server: _Server, rows_of: Any, backend: str, name: str) -> None:
    url = _url(server, name)
    expected = rows_of(httpx_sse, url)
    assert expected, "every stream of the corpus has events"
    assert rows_of(dropin, url, decoder=backend) == expected


@pytest.mark.parametrize("name", list(DIFFERENT))
def test_departures_from_the_standard(
    server: _Server, rows_of: Any, backend: str, name: str
) -> None:
    _, theirs, ours = DIFFERENT[name]
    url = _url(server, name)
    assert rows_of(httpx_sse, url) == theirs
    assert rows_of(dropin, url, decoder=backend) == ours


def test_charset_parameter_does_not_change_the_decoding(
    server: _Server, rows_of: Any, backend: str
) -> None:
    url = _url(server, "charset", ct="text/event-stream;%20charset=latin-1")
    assert rows_of(httpx_sse, url) == [("message", "Ã©", "", None)]
    assert rows_of(dropin, url, decoder=backend) == [("message", "é", "", None)]


@pytest.mark.parametrize("name", ["openai", "unicode_split", "cr_only"])
def test_gzip_bodies_are_decoded(server: _Server, rows_of: Any, backend: str, name: str) -> None:
    url = _url(server, name, gzip="1")
    expected = rows_of(httpx_sse, _url(server, name))
    assert rows_of(httpx_sse, url) == expected
    assert rows_of(dropin, url, decoder=backend) == expected


def test_error_status_with_an_event_stream_is_decoded(
    server: _Server, rows_of: Any, backend: str
) -> None:
    url = _url(server, "named_ids", status="500")
    expected = rows_of(httpx_sse, url)
    assert len(expected) == 3
    assert rows_of(dropin, url, decoder=backend) == expected


CONTENT_TYPES = [
    "text/event-stream",
    "text/event-stream;%20charset=utf-8",
    "text/event-streams",
    "application/text/event-stream",
    "TEXT/EVENT-STREAM",
    "Text/Event-Stream",
    "text/plain",
    "text/html;%20x=text/event-stream",
    "application/json",
    "none",
]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_content_types_accepted_and_refused_alike(
    server: _Server, rows_of: Any, backend: str, content_type: str
) -> None:
    url = _url(server, "named_ids", ct=content_type)
    try:
        expected: Any = rows_of(httpx_sse, url)
    except httpx_sse.SSEError as exc:
        expected = ("SSEError", str(exc))
    try:
        got: Any = rows_of(dropin, url, decoder=backend)
    except dropin.SSEError as exc:
        assert isinstance(exc, httpx.TransportError)
        assert isinstance(exc, fastsse.StreamError)
        got = ("SSEError", str(exc))
    assert got == expected


def test_request_headers_as_httpx_sse_sends_them(server: _Server, backend: str) -> None:
    sent: Dict[str, Dict[str, Any]] = {}
    for module in (httpx_sse, dropin):
        token = f"headers-{module.__name__}-{backend}"
        headers = {"X-Custom": "1"}
        options = {"decoder": backend} if module is dropin else {}
        _sync_rows(module, _url(server, "named_ids", token=token), headers=headers, **options)
        sent[module.__name__] = {
            "request": {
                k.lower(): v
                for k, v in server.requests[token].items()
                if k.lower() in ("accept", "cache-control", "x-custom")
            },
            "caller's dict": headers,
        }
    assert sent["fastsse.integrations.httpx_sse"] == sent["httpx_sse"]
    assert sent["httpx_sse"]["request"] == {
        "accept": "text/event-stream",
        "cache-control": "no-store",
        "x-custom": "1",
    }


def test_content_type_is_checked_at_the_first_iteration(server: _Server, backend: str) -> None:
    for module, options in ((httpx_sse, {}), (dropin, {"decoder": backend})):
        with httpx.Client(timeout=10) as client:
            url = _url(server, "named_ids", ct="text/plain")
            with module.connect_sse(client, "GET", url, **options) as source:
                events = source.iter_sse()  # nothing checked yet
                with pytest.raises(module.SSEError):
                    next(events)


def test_a_second_iteration_fails_as_with_httpx_sse(server: _Server, backend: str) -> None:
    failures = []
    for module, options in ((httpx_sse, {}), (dropin, {"decoder": backend})):
        with httpx.Client(timeout=10) as client:
            with module.connect_sse(client, "GET", _url(server, "openai"), **options) as source:
                assert len(list(source.iter_sse())) == 21
                with pytest.raises(httpx.StreamError) as caught:
                    list(source.iter_sse())
                failures.append(type(caught.value))
    assert failures[0] is failures[1]


def test_leaving_the_loop_early_closes_the_response(server: _Server, backend: str) -> None:
    # Declared difference: httpx-sse leaves the response open until the with block ends.
    closed_at_break = {}
    for module, options in ((httpx_sse, {}), (dropin, {"decoder": backend})):
        with httpx.Client(timeout=10) as client:
            with module.connect_sse(client, "GET", _url(server, "openai"), **options) as source:
                for _ in source.iter_sse():
                    break
                closed_at_break[module] = source.response.is_closed
            assert source.response.is_closed
    assert closed_at_break == {httpx_sse: False, dropin: True}


def test_async_loop_left_early_closes_the_response(server: _Server, backend: str) -> None:
    async def run() -> bool:
        async with httpx.AsyncClient(timeout=10) as client:
            url = _url(server, "openai")
            async with dropin.aconnect_sse(client, "GET", url, decoder=backend) as source:
                events = source.aiter_sse()
                async for _ in events:
                    break
                await events.aclose()
                return source.response.is_closed

    assert asyncio.run(run())


def _until_error(module: Any, url: str, mode: str, **options: Any) -> Tuple[List[Row], Any]:
    """The events read before the stream failed, and the error's type (None if none)."""
    rows: List[Row] = []

    def note(sse: Any) -> None:
        rows.append((sse.event, sse.data, sse.id, sse.retry))

    async def run_async() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            async with module.aconnect_sse(client, "GET", url, **options) as source:
                async for sse in source.aiter_sse():
                    note(sse)

    try:
        if mode == "sync":
            with httpx.Client(timeout=10) as client:
                with module.connect_sse(client, "GET", url, **options) as source:
                    for sse in source.iter_sse():
                        note(sse)
        else:
            asyncio.run(run_async())
    except Exception as exc:
        return rows, type(exc)
    return rows, None


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", ["dropped", "short_body"])
def test_lost_connections_raise_as_with_httpx_sse(
    server: _Server, backend: str, name: str, mode: str
) -> None:
    url = _url(server, name)
    theirs, their_error = _until_error(httpx_sse, url, mode)
    ours, our_error = _until_error(dropin, url, mode, decoder=backend)
    assert theirs == ours == [("message", "a", "", None), ("message", "b", "", None)]
    if their_error is None:
        # Declared difference: httpx lets this body end quietly; fastsse reports it.
        assert our_error is fastsse.ConnectionLost
    else:
        assert issubclass(their_error, httpx.TransportError)
        assert our_error is their_error


def test_limits_bound_a_hostile_stream(server: _Server, backend: str) -> None:
    # Declared difference: httpx-sse buffers a line of any length.
    decoder = fastsse.SSEDecoder(backend, max_line_size=4096)
    with httpx.Client(timeout=10) as client:
        url = _url(server, "large_event")
        with dropin.connect_sse(client, "GET", url, decoder=decoder) as source:
            with pytest.raises(fastsse.LineTooLong):
                list(source.iter_sse())
            assert source.response.is_closed


def test_event_source_on_a_response_from_client_send(server: _Server, backend: str) -> None:
    with httpx.Client(timeout=10) as client:
        request = client.build_request("GET", _url(server, "named_ids"))
        response = client.send(request, stream=True)
        try:
            rows = _rows(dropin.EventSource(response, decoder=backend).iter_sse())
        finally:
            response.close()
    assert rows == [("a", "x", "1", None), ("b", "y\nz", "1", None), ("c", "w", "2", None)]


# ---------------------------------------------------------------- events and errors, no I/O


def test_cr_ended_event_is_not_held_back(backend: str) -> None:
    # Declared difference: httpx-sse keeps a chunk's final CR for the next chunk, so a
    # server ending its lines in CR has each event arrive one chunk late.
    chunks = [b"data: a\r\r", b"data: b\r\r"]

    def seen_before_second_chunk(module: Any, **options: Any) -> List[str]:
        got: List[str] = []
        seen: List[str] = []

        def body() -> Iterator[bytes]:
            yield chunks[0]
            seen.extend(got)
            yield chunks[1]

        response = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=body()
        )
        for sse in module.EventSource(response, **options).iter_sse():
            got.append(sse.data)
        assert got == ["a", "b"]
        return seen

    assert seen_before_second_chunk(httpx_sse) == []
    assert seen_before_second_chunk(dropin, decoder=backend) == ["a"]


def test_server_sent_event_signature_and_defaults() -> None:
    for module in (httpx_sse, dropin):
        cls = module.ServerSentEvent
        assert _rows([cls()]) == [("message", "", "", None)]
        assert _rows([cls("ping", "x", "7", 5)]) == [("ping", "x", "7", 5)]
        assert _rows([cls(event="", data=None, id=None)]) == [("message", "", "", None)]
        assert _rows([cls(data='{"a": [1, 2]}')]) == [("message", '{"a": [1, 2]}', "", None)]
        assert cls(data='{"a": [1, 2]}').json() == {"a": [1, 2]}
        with pytest.raises(json.JSONDecodeError):
            cls(data="not json").json()


def test_events_compare_by_value_and_are_instances(backend: str) -> None:
    # Declared difference: httpx-sse's events compare by identity.
    decoded = fastsse.SSEDecoder(backend).feed(b"event: ping\nid: 7\ndata: x\n\n")[0]
    built = dropin.ServerSentEvent("ping", "x", "7")
    assert isinstance(decoded, dropin.ServerSentEvent)
    assert issubclass(fastsse.ServerSentEvent, dropin.ServerSentEvent)
    assert not isinstance("x", dropin.ServerSentEvent)
    assert decoded == built and built == decoded and not (built != decoded)
    assert hash(decoded) == hash(built)
    assert built != dropin.ServerSentEvent("ping", "x", "8")
    assert httpx_sse.ServerSentEvent("ping", "x") != httpx_sse.ServerSentEvent("ping", "x")


def test_repr_names_every_field() -> None:
    # Declared difference: httpx-sse's repr leaves out empty fields.
    assert repr(httpx_sse.ServerSentEvent(data="x")) == "ServerSentEvent(event='message', data='x')"
    assert (
        repr(dropin.ServerSentEvent(data="x"))
        == "ServerSentEvent(data='x', event='message', id='', retry=None)"
    )


def test_event_pickles_to_its_own_class() -> None:
    import pickle

    event = dropin.ServerSentEvent("ping", "x", "7", 5)
    copy = pickle.loads(pickle.dumps(event))
    assert type(copy) is dropin.ServerSentEvent and copy == event


@pytest.mark.parametrize(
    ("data", "stdlib"),
    [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")],
)
def test_json_is_strict(data: str, stdlib: str) -> None:
    # Declared difference: json.loads accepts NaN and Infinity; orjson follows RFC 8259.
    assert repr(httpx_sse.ServerSentEvent(data=data).json()) == stdlib
    with pytest.raises(json.JSONDecodeError):
        dropin.ServerSentEvent(data=data).json()


def test_json_integers_beyond_64_bits_become_floats() -> None:
    # Declared difference: orjson reads integers beyond 64 bits as floats.
    big = "123456789012345678901234567890"
    assert httpx_sse.ServerSentEvent(data=big).json() == int(big)
    assert dropin.ServerSentEvent(data=big).json() == float(big)


def test_sse_error_types() -> None:
    assert issubclass(dropin.SSEError, httpx.TransportError)
    assert issubclass(dropin.SSEError, fastsse.StreamError)
    response = httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>")
    with pytest.raises(dropin.SSEError, match="got 'text/html'"):
        list(dropin.EventSource(response).iter_sse())


def test_gzip_body_in_process(backend: str) -> None:
    body = b"".join(SAME["openai"])
    response = httpx.Response(
        200,
        headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        content=gzip.compress(body),
    )
    rows = _rows(dropin.EventSource(response, decoder=backend).iter_sse())
    assert len(rows) == 21 and rows[-1] == ("message", "[DONE]", "", None)


@pytest.mark.parametrize("options", [{"retry": "5"}, {"id": 5}, {"event": 5}])
def test_field_types_are_checked(options: Dict[str, Any]) -> None:
    # Declared difference: httpx-sse stores whatever it is given.
    assert httpx_sse.ServerSentEvent(**options)
    with pytest.raises(TypeError):
        dropin.ServerSentEvent(**options)
