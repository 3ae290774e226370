"""The ``fastsse`` command's requests, errors and standard input, run in a subprocess.

The server is an ``http.server`` on 127.0.0.1 that records the method, headers and body
of every request it gets, so each test checks what actually went over the wire.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from typing import Dict, Iterator, List, NamedTuple

import pytest
from test_cli import (
    CHAT_JSON_OUTPUT,
    CHAT_STREAM,
    JSONL_INPUT,
    JSONL_OUTPUT,
    SSE_INPUT,
    SSE_OUTPUT,
    TIMEOUT,
    assert_one_line_error,
    child_env,
    cut_short,
    run,
)

TOKEN = "sk-test-0123456789abcdef"
ERROR_BODY = (
    b'{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}}'
)
FIRST_EVENT = b'data: {"n": 1}\n\n'
PARTIAL_EVENT = b"event: delta\ndata: never fini"
# What the decoder holds of it when the connection goes: the unterminated line (the
# event field, already parsed, carries no data).
PARTIAL_BYTES = len(b"data: never fini")


class Received(NamedTuple):
    method: str
    path: str
    headers: Dict[str, List[str]]  # lower-cased names: every value sent under that name
    body: bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers: Dict[str, List[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        self.server.received.append(Received(self.command, self.path, headers, body))

    def _respond(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        self._record()
        if self.path == "/chat":
            self._respond(200, "text/event-stream", CHAT_STREAM)
        elif self.path == "/quota":
            self._respond(429, "application/json", ERROR_BODY)
        elif self.path == "/crash":
            self._respond(500, "text/plain", b"x" * 10_000)
        elif self.path == "/cut-mid-event":
            # Chunked, as streaming servers send; the connection closes inside an event,
            # before the chunked body's end.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for part in (FIRST_EVENT, PARTIAL_EVENT):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
            self.close_connection = True
        else:
            self._respond(404, "text/plain", b"no such stream")

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    received: List[Received]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.received = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT)


def url(server: _Server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def last_request(server: _Server) -> Received:
    return server.received[-1]


# --- what the request carries --------------------------------------------------------


def test_json_body_and_bearer_token(server):
    body = '{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hé"}]}'
    result = run(
        url(server, "/chat"),
        "--json-body",
        body,
        "--bearer-env",
        "FASTSSE_TEST_TOKEN",
        "--json",
        "--terminal-event",
        "[DONE]",
        env=child_env(FASTSSE_TEST_TOKEN=TOKEN),
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == CHAT_JSON_OUTPUT
    got = last_request(server)
    assert got.method == "POST" and got.path == "/chat"
    assert got.body == body.encode("utf-8")
    assert got.headers["content-type"] == ["application/json"]
    assert got.headers["authorization"] == [f"Bearer {TOKEN}"]
    assert "text/event-stream" in got.headers["accept"][0]
    assert TOKEN.encode() not in result.stdout + result.stderr


def test_method_headers_and_raw_data(server):
    result = run(
        url(server, "/chat"),
        "-X",
        "PUT",
        "-H",
        "X-Trace-Id: abc 123",
        "-H",
        "accept: text/event-stream",
        "--header",
        "User-Agent:",
        "-d",
        "a=1&b=2",
    )
    assert result.returncode == 0, result.stderr
    got = last_request(server)
    assert got.method == "PUT"
    assert got.body == b"a=1&b=2"
    assert got.headers["x-trace-id"] == ["abc 123"]
    # A user's header replaces the default of that name, whatever its case ...
    assert got.headers["accept"] == ["text/event-stream"]
    # ... and a header given with no value is not sent at all.
    assert "user-agent" not in got.headers


def test_data_implies_post_and_no_data_get(server):
    run(url(server, "/chat"), "-d", "x")
    assert last_request(server).method == "POST"
    run(url(server, "/chat"), "-X", "DELETE")
    assert (last_request(server).method, last_request(server).body) == ("DELETE", b"")
    run(url(server, "/chat"))
    assert last_request(server).method == "GET"


def test_data_from_a_file_is_sent_byte_for_byte(server, tmp_path):
    payload = b'{"prompt": "line one\\nline two"}\r\n\x00\xff'
    (tmp_path / "body.bin").write_bytes(payload)
    result = run(url(server, "/chat"), "-d", "@" + str(tmp_path / "body.bin"))
    assert result.returncode == 0, result.stderr
    assert last_request(server).body == payload


def test_json_body_from_standard_input(server):
    body = b'{"stream": true}'
    result = run(url(server, "/chat"), "--json-body", "@-", stdin=body)
    assert result.returncode == 0, result.stderr
    got = last_request(server)
    assert (got.method, got.body, got.headers["content-type"]) == (
        "POST",
        body,
        ["application/json"],
    )


def test_json_body_keeps_a_content_type_the_user_gave(server):
    run(url(server, "/chat"), "--json-body", "{}", "-H", "Content-Type: application/vnd.x+json")
    assert last_request(server).headers["content-type"] == ["application/vnd.x+json"]


# --- arguments refused before any request --------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--json-body", "{not json"], ["--json-body", "not valid JSON"]),
        (["--bearer-env", "FASTSSE_TEST_UNSET"], ["FASTSSE_TEST_UNSET", "is not set"]),
        (["--bearer-env", "FASTSSE_TEST_EMPTY"], ["FASTSSE_TEST_EMPTY", "is empty"]),
        (["-H", "no colon here"], ["-H number 1", "NAME: VALUE"]),
        (["-H", "A: 1", "-H", "Bad Name: x"], ["-H number 2"]),
        (["-X", "GET /x"], ["invalid method"]),
        (["-d", "a", "--json-body", "{}"], ["not allowed with argument"]),
        (
            ["--bearer-env", "FASTSSE_TEST_TOKEN", "-H", "Authorization: Basic eA=="],
            ["--bearer-env", "Authorization"],
        ),
    ],
)
def test_invalid_request_options_are_usage_errors(server, args, fragments):
    before = len(server.received)
    env = child_env(FASTSSE_TEST_TOKEN=TOKEN, FASTSSE_TEST_EMPTY="", FASTSSE_TEST_UNSET=None)
    result = run(url(server, "/chat"), *args, env=env)
    stderr = assert_one_line_error(result, *fragments, status=2)
    assert TOKEN not in stderr and "eA==" not in stderr
    assert len(server.received) == before  # refused before connecting


def test_a_malformed_header_is_not_echoed(server):
    result = run(url(server, "/chat"), "-H", "Authorization=Bearer sk-secret")
    stderr = assert_one_line_error(result, "-H number 1", status=2)
    assert "sk-secret" not in stderr


@pytest.mark.parametrize("source", ["events.sse", "-", None])
def test_request_options_need_a_url(tmp_path, source):
    (tmp_path / "events.sse").write_bytes(SSE_INPUT)
    args = [source] if source else []
    assert_one_line_error(
        run(*args, "-H", "A: b", stdin=b"" if source == "-" else None, cwd=tmp_path),
        "need an http(s):// SOURCE",
        status=2,
    )


def test_a_missing_data_file_is_one_line(server, tmp_path):
    missing = str(tmp_path / "missing.json")
    assert_one_line_error(run(url(server, "/chat"), "-d", "@" + missing), "cannot read", missing)


# --- the answers that are not a stream -------------------------------------------------


def test_http_error_shows_its_status_and_body(server):
    result = run(url(server, "/quota"), "--json-body", "{}")
    assert result.stdout == b""
    assert_one_line_error(
        result,
        url(server, "/quota"),
        "HTTP 429 Too Many Requests",
        '{"error": {"message": "You exceeded your current quota"',
    )


def test_http_error_body_is_shortened_to_one_line(server):
    stderr = assert_one_line_error(run(url(server, "/crash")), "HTTP 500")
    assert "x" * 300 + "..." in stderr and "x" * 301 not in stderr


def test_a_connection_lost_inside_an_event(server):
    result = run(url(server, "/cut-mid-event"))
    # The event that arrived whole is printed; the one cut off is named as lost.
    assert result.stdout == b'{"event":"message","data":"{\\"n\\": 1}","id":"","retry":null}\n'
    assert_one_line_error(
        result,
        f"the connection to {url(server, '/cut-mid-event')} was lost after 1 event: "
        f"the body ended before its last chunk; the event in progress ({PARTIAL_BYTES} bytes "
        "so far) was lost",
    )


# --- --stats -------------------------------------------------------------------------------

STATS = re.compile(
    rb"^fastsse: stats: (?P<events>[\d,]+) events?, (?P<bytes>[\d,]+) bytes in [\d.]+ s, "
    rb"[\d,.]+ events/s, (first event after (?P<first>[\d.]+) s|no event)\n$"
)


def test_stats_for_a_url(server):
    result = run(url(server, "/chat"), "--terminal-event", "[DONE]", "--stats")
    assert result.returncode == 0, result.stderr
    stats = STATS.match(result.stderr)
    assert stats, result.stderr
    assert stats["events"] == b"2"
    assert int(stats["bytes"].replace(b",", b"")) == len(CHAT_STREAM)
    assert stats["first"] is not None


def test_stats_after_an_error_keep_the_error(tmp_path):
    (tmp_path / "events.sse").write_bytes(SSE_INPUT)
    result = run("events.sse", "--stats", cwd=tmp_path)
    assert result.returncode == 1
    error, stats = result.stderr.splitlines(keepends=True)
    assert (1, error) == cut_short("events.sse")
    assert STATS.match(stats) and STATS.match(stats)["events"] == b"3", stats


def test_stats_without_events(tmp_path):
    (tmp_path / "empty.sse").write_bytes(b": nothing but a comment\n\n")
    result = run("empty.sse", "--stats", cwd=tmp_path)
    assert result.returncode == 0
    assert re.match(
        rb"^fastsse: stats: 0 events, 25 bytes in [\d.]+ s, 0.0 events/s, no event\n$",
        result.stderr,
    )


# --- standard input without SOURCE ---------------------------------------------------------


def test_piped_standard_input_is_read():
    result = run(stdin=CHAT_STREAM)
    assert (result.returncode, result.stderr) == (0, b"")
    assert len(result.stdout.splitlines()) == 3  # two chunks and [DONE], not the demo


@pytest.mark.parametrize(
    "data, expected, outcome",
    [
        (SSE_INPUT, SSE_OUTPUT, cut_short("standard input")),
        (JSONL_INPUT, JSONL_OUTPUT, (0, b"")),
        (b"\xef\xbb\xbf\n \r\n" + JSONL_INPUT, None, (0, b"")),
    ],
    ids=["sse", "jsonl", "jsonl-after-bom-and-blank-lines"],
)
def test_format_of_standard_input_is_sniffed(data, expected, outcome):
    result = run(stdin=data)
    assert (result.returncode, result.stderr) == outcome
    if expected is not None:
        assert result.stdout == expected
    else:
        assert [json.loads(line)["data"] for line in result.stdout.splitlines()] == [
            '{"a": 1}',
            '[1, "é"]',
            '{"last": true}',
        ]


def test_standard_input_from_a_file_is_read(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(JSONL_INPUT)
    with open(path, "rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "fastsse"],
            stdin=stdin,
            capture_output=True,
            env=child_env(),
            timeout=TIMEOUT,
        )
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == JSONL_OUTPUT


def is_demo(stdout: bytes) -> bool:
    return b"demo: an OpenAI-style chat completion stream" in stdout


def test_null_standard_input_runs_the_demo():
    result = run()  # stdin is the null device
    assert result.returncode == 0, result.stderr
    assert is_demo(result.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
def test_closed_standard_input_runs_the_demo():
    result = subprocess.run(
        [sys.executable, "-m", "fastsse"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=child_env(),
        timeout=TIMEOUT,
        preexec_fn=lambda: os.close(0),  # after the redirections: the child has no fd 0
    )
    assert result.returncode == 0, result.stderr
    assert is_demo(result.stdout)


def test_options_that_need_a_source_are_refused_without_one():
    assert_one_line_error(run("--stats"), "need a SOURCE", status=2)


def test_demo_options_with_piped_input_decode_it():
    result = run("--json", "--terminal-event", "[DONE]", stdin=CHAT_STREAM)
    assert (result.returncode, result.stderr, result.stdout) == (0, b"", CHAT_JSON_OUTPUT)
