"""The ``fastsse`` command, run as a user runs it: ``python -m fastsse`` in a subprocess.

The subprocess gets this process's ``sys.path`` as PYTHONPATH, so it imports the same
fastsse the rest of the suite tests. URLs are served by an ``http.server`` this module
starts on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import importlib.resources
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

NO_EXTENSIONS_ENV = bool(os.environ.get("FASTSSE_NO_EXTENSIONS"))
TIMEOUT = 60  # seconds; a hung command fails its test instead of the whole run
REPO = Path(__file__).resolve().parent.parent

# A BOM, a comment, CRLF, CR and LF line ends, a field with no colon (resetting the ID),
# data with no space after the colon, UTF-8 text, and an unterminated final event, which
# the standard discards (fastsse prints every other event, then says so in an error).
SSE_INPUT = (
    b"\xef\xbb\xbf: keep-alive\r\n"
    b"retry: 2500\r\n"
    b"id: 1\r\n"
    b"event: delta\r\n"
    b"data: caf\xc3\xa9 \xf0\x9f\x9a\x80\r\n"
    b"\r\n"
    b"data: first\rdata: second\r\r"
    b'id\ndata:{"n": 2}\n\n'
    b"data: never dispatched"
)
SSE_OUTPUT = (
    '{"event":"delta","data":"café 🚀","id":"1","retry":2500}\n'
    '{"event":"message","data":"first\\nsecond","id":"1","retry":null}\n'
    '{"event":"message","data":"{\\"n\\": 2}","id":"","retry":null}\n'
).encode("utf-8")
SSE_PRETTY = (
    '[1] delta id="1" retry=2500\n'
    "café 🚀\n"
    "\n"
    '[2] message id="1"\n'
    "first\n"
    "second\n"
    "\n"
    "[3] message\n"
    '{"n": 2}\n'
    "\n"
).encode("utf-8")

# CRLF, a blank and a whitespace-only line (skipped, but counted), and a last record
# without LF.


def cut_short(name: str) -> Tuple[int, bytes]:
    """The exit status and error for SSE_INPUT's unterminated last event, read from ``name``."""
    return 1, (
        f"fastsse: error: {name} ended inside an event: its 22 bytes, without the blank line "
        "that ends an event, were lost (the SSE standard discards such an event)\n"
    ).encode("utf-8")


JSONL_INPUT = b'{"a": 1}\r\n\n   \n[1, "\xc3\xa9"]\n{"last": true}'
JSONL_OUTPUT = (
    '{"line":1,"offset":0,"data":"{\\"a\\": 1}"}\n'
    '{"line":4,"offset":15,"data":"[1, \\"é\\"]"}\n'
    '{"line":5,"offset":25,"data":"{\\"last\\": true}"}\n'
).encode("utf-8")
JSONL_JSON_OUTPUT = (
    '{"line":1,"offset":0,"json":{"a":1}}\n'
    '{"line":4,"offset":15,"json":[1,"é"]}\n'
    '{"line":5,"offset":25,"json":{"last":true}}\n'
).encode("utf-8")

CHAT_STREAM = (
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
    b": ping\n\n"
    b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
    b"data: [DONE]\n\n"
)
CHAT_JSON_OUTPUT = (
    b'{"event":"message","json":{"choices":[{"delta":{"content":"Hel"}}]},"id":"","retry":null}\n'
    b'{"event":"message","json":{"choices":[{"delta":{"content":"lo"}}]},"id":"","retry":null}\n'
)


def child_env(**overrides: Optional[str]) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    # Requests to the test server must not go through a proxy from the environment.
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env.pop("PYTHONWARNINGS", None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(
    *args: str,
    stdin: Optional[bytes] = None,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
):
    """``fastsse *args``; standard input is ``stdin`` through a pipe, else the null device."""
    return subprocess.run(
        [sys.executable, "-m", "fastsse", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env or child_env(),
        cwd=cwd,
        timeout=TIMEOUT,
    )


def assert_one_line_error(result, *fragments: str, status: int = 1) -> str:
    stderr = result.stderr.decode("utf-8")
    assert result.returncode == status, (result.returncode, stderr)
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert stderr.startswith("fastsse: error: "), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)
    return stderr


def sample_bytes() -> bytes:
    return (importlib.resources.files("fastsse") / "samples" / "openai_chat.sse").read_bytes()


def sample_text() -> str:
    """The assistant text of the bundled sample, read without fastsse."""
    text = []
    for block in sample_bytes().decode("utf-8").split("\n\n"):
        if not block or block == "data: [DONE]":
            continue
        chunk = json.loads(block[len("data: ") :])
        if chunk["choices"]:
            text.append(chunk["choices"][0]["delta"].get("content") or "")
    return "".join(text)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "events.sse").write_bytes(SSE_INPUT)
    (tmp_path / "records.jsonl").write_bytes(JSONL_INPUT)
    (tmp_path / "records.ndjson").write_bytes(JSONL_INPUT)
    (tmp_path / "chat.sse").write_bytes(CHAT_STREAM)
    (tmp_path / "notes.txt").write_bytes(SSE_INPUT)
    (tmp_path / "bad.jsonl").write_bytes(b'{"ok": 1}\n{"ok": nope}\n')
    (tmp_path / "latin1.jsonl").write_bytes(b'"caf\xe9"\n')
    return tmp_path


# --- the demo -----------------------------------------------------------------------

RATE = r"[\d,]+ events/s +[\d,.]+ MB/s"


@pytest.fixture(scope="module")
def demo():
    return run()


def test_demo_runs_and_prints_the_reassembled_text(demo):
    assert demo.returncode == 0, demo.stderr
    assert demo.stderr == b""
    out = demo.stdout.decode("utf-8")
    # The demo wraps the text to the terminal; words and their order are what count.
    assert " ".join(sample_text().split()) in " ".join(out.split())
    assert "🚀" in out and "naïve" in out


def test_demo_prints_a_rate_line_per_backend(demo):
    out = demo.stdout.decode("utf-8")
    assert re.search(rf"^  python +{RATE} +{RATE}$", out, re.M), out
    if NO_EXTENSIONS_ENV:
        assert re.search(r"^  cython +unavailable: FASTSSE_NO_EXTENSIONS is set", out, re.M), out
    else:
        assert re.search(rf"^  cython +{RATE} +{RATE}$", out, re.M), out
        assert re.search(
            r"^cython / python: [\d.]+x for parse only, [\d.]+x for parse \+ ev\.json\(\)\.$",
            out,
            re.M,
        )


def test_demo_without_the_compiled_decoder_says_so_in_one_line():
    result = run(env=child_env(FASTSSE_NO_EXTENSIONS="1"))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert len(re.findall(r"^  cython .*$", out, re.M)) == 1
    assert re.search(r"^  cython +unavailable: FASTSSE_NO_EXTENSIONS is set", out, re.M), out
    assert re.search(rf"^  python +{RATE} +{RATE}$", out, re.M), out
    assert "cython / python" not in out
    assert "python decoder" in out  # the text was decoded by the pure twin


def test_bundled_sample_is_an_openai_style_stream():
    data = sample_bytes()
    assert len(data) < 200 * 1024
    blocks = data.decode("utf-8").split("\n\n")
    assert blocks[-1] == "" and blocks[-2] == "data: [DONE]"
    chunks = [json.loads(block[len("data: ") :]) for block in blocks[:-2]]
    assert 300 <= len(chunks) + 1 <= 600
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finish = [chunk["choices"][0]["finish_reason"] for chunk in chunks if chunk["choices"]]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    assert any(ord(char) > 0xFFFF for char in sample_text())  # an emoji: 4-byte UTF-8


def test_bundled_sample_is_what_the_generator_writes(tmp_path):
    script = REPO / "bench" / "make_demo_sample.py"
    if not script.exists():
        pytest.skip("bench/ is not part of this tree (an sdist or wheel build)")
    output = tmp_path / "openai_chat.sse"
    subprocess.run(
        [sys.executable, str(script), str(output)], check=True, capture_output=True, timeout=TIMEOUT
    )
    assert output.read_bytes() == sample_bytes()


# --- files and standard input -------------------------------------------------------------


def test_sse_file(files):
    result = run(str(files / "events.sse"))
    assert (result.returncode, result.stderr) == cut_short(str(files / "events.sse"))
    assert result.stdout == SSE_OUTPUT


@pytest.mark.parametrize("name", ["records.jsonl", "records.ndjson"])
def test_jsonl_file(files, name):
    result = run(str(files / name))
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == JSONL_OUTPUT


def test_jsonl_file_with_json(files):
    result = run(str(files / "records.jsonl"), "--json")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == JSONL_JSON_OUTPUT


def test_format_option_overrides_the_extension(files):
    result = run(str(files / "notes.txt"), "--format", "sse")
    assert (result.returncode, result.stderr) == cut_short(str(files / "notes.txt"))
    assert result.stdout == SSE_OUTPUT


def test_json_with_terminal_event(files):
    result = run(str(files / "chat.sse"), "--json", "--terminal-event", "[DONE]")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == CHAT_JSON_OUTPUT


@pytest.mark.parametrize(
    "fmt, data, expected, outcome",
    [
        ("sse", SSE_INPUT, SSE_OUTPUT, cut_short("standard input")),
        ("jsonl", JSONL_INPUT, JSONL_OUTPUT, (0, b"")),
    ],
)
def test_stdin(fmt, data, expected, outcome):
    result = run("-", "--format", fmt, stdin=data)
    assert (result.returncode, result.stderr) == outcome
    assert result.stdout == expected


def test_pretty_sse(files):
    result = run(str(files / "events.sse"), "--pretty")
    assert (result.returncode, result.stderr) == cut_short(str(files / "events.sse"))
    assert result.stdout == SSE_PRETTY


def test_pretty_jsonl_with_json(files):
    result = run(str(files / "records.jsonl"), "--pretty", "--json")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode("utf-8") == (
        '[line 1, byte 0]\n{\n  "a": 1\n}\n\n'
        '[line 4, byte 15]\n[\n  1,\n  "é"\n]\n\n'
        '[line 5, byte 25]\n{\n  "last": true\n}\n\n'
    )


@pytest.mark.parametrize("backend", ["python", "fast"])
def test_backend_option(tmp_path, backend):
    if backend == "fast" and NO_EXTENSIONS_ENV:
        pytest.skip("compiled backend deselected (FASTSSE_NO_EXTENSIONS)")
    path = tmp_path / "chat.sse"
    path.write_bytes(sample_bytes())
    result = run(str(path), "--backend", backend)
    assert (result.returncode, result.stderr) == (0, b"")
    lines = result.stdout.splitlines()
    assert len(lines) == sample_bytes().count(b"\n\n")
    assert json.loads(lines[-1]) == {"event": "message", "data": "[DONE]", "id": "", "retry": None}
    texts = [json.loads(json.loads(line)["data"]) for line in lines[:-1]]
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in texts if c["choices"])
        == sample_text()
    )


def test_fast_backend_unavailable_is_one_line():
    result = run(
        "-", "--format", "sse", "--backend", "fast", env=child_env(FASTSSE_NO_EXTENSIONS="1")
    )
    assert_one_line_error(result, "FASTSSE_NO_EXTENSIONS")


def test_version_and_help():
    version = run("--version")
    assert version.returncode == 0
    assert re.match(
        rb"fastsse \d+\.\d+\.\d+ \((cython|python) decoder, Python 3\.\d+", version.stdout
    )
    usage = run("--help")
    assert usage.returncode == 0
    for option in (
        b"usage: fastsse",
        b"--format",
        b"--backend",
        b"--pretty",
        b"--json",
        b"--terminal-event",
    ):
        assert option in usage.stdout


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments, status",
    [
        (["missing.sse"], ["cannot open missing.sse"], 1),
        (["."], ["cannot open ."], 1),
        (["notes.txt"], ["cannot tell the format of notes.txt", "--format"], 1),
        (["--format", "xml", "events.sse"], ["invalid choice: 'xml'"], 2),
        (["--backend", "turbo", "events.sse"], ["invalid choice: 'turbo'"], 2),
        (["--no-such-option"], ["unrecognized arguments"], 2),
        (["--pretty"], ["need a SOURCE"], 2),
        (["bad.jsonl", "--json"], ["line 2"], 1),
        (["latin1.jsonl"], ["line 1", "UTF-8"], 1),
        (["chat.sse", "--json"], ["event 3", "--terminal-event '[DONE]'"], 1),
        (["ftp://example.com/stream"], ["unsupported URL scheme 'ftp'"], 1),
        (["http://"], ["no host given"], 1),
        (["http://[::1/stream"], ["cannot request", "IPv6"], 1),
        (["http://127.0.0.1:notaport/"], ["cannot request", "port"], 1),
    ],
)
def test_errors_are_one_line(files, args, fragments, status):
    result = run(*args, cwd=files)
    assert_one_line_error(result, *fragments, status=status)


def test_error_after_events_keeps_the_events(files):
    result = run("bad.jsonl", "--json", cwd=files)
    assert result.stdout == b'{"line":1,"offset":0,"json":{"ok":1}}\n'
    assert_one_line_error(result, "line 2")


# --- URLs ---------------------------------------------------------------------------------

LIVE_FIRST = b"data: first\n\n"
LIVE_SECOND = b"data: second\n\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass

    def _send(self, content_type: Optional[str], body: bytes, length: Optional[int] = None) -> None:
        self.send_response(200)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def do_GET(self) -> None:
        self.server.requests.append(dict(self.headers))
        if self.path == "/events":
            self._send("text/event-stream; charset=utf-8", SSE_INPUT)
        elif self.path == "/records":
            self._send("application/x-ndjson", JSONL_INPUT)
        elif self.path == "/page":
            self._send("text/html; charset=utf-8", b"<!doctype html><p>not a stream</p>")
        elif self.path == "/untyped":
            self._send(None, SSE_INPUT)
        elif self.path == "/short":
            self._send("text/event-stream", LIVE_FIRST, length=1000)
        elif self.path in ("/live", "/cut"):
            # A chunked HTTP/1.1 response, as real servers stream, held open after the
            # first event until the test has seen it printed.
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self._send_chunk(LIVE_FIRST)
            if self.path == "/cut":
                return  # the connection closes in the middle of the chunked body
            self.server.release.wait(TIMEOUT)
            self.server.second_sent.set()
            self._send_chunk(LIVE_SECOND)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_error(404, "Not Found")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests: List[Dict[str, str]]
    release: threading.Event
    second_sent: threading.Event


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.release = threading.Event()
    httpd.second_sent = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT)


def url(server: _Server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_url_sse_by_content_type(server):
    result = run(url(server, "/events"))
    assert (result.returncode, result.stderr) == cut_short(url(server, "/events"))
    assert result.stdout == SSE_OUTPUT
    headers = {name.lower(): value for name, value in server.requests[-1].items()}
    assert "text/event-stream" in headers["accept"]


def test_url_jsonl_by_content_type(server):
    result = run(url(server, "/records"))
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == JSONL_OUTPUT


def test_url_format_option_overrides_content_type(server):
    result = run(url(server, "/untyped"), "--format", "sse")
    assert (result.returncode, result.stderr) == cut_short(url(server, "/untyped"))
    assert result.stdout == SSE_OUTPUT


def test_url_events_are_printed_as_they_arrive(server):
    server.release.clear()
    server.second_sent.clear()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastsse", url(server, "/live")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        first = proc.stdout.readline()
        # Printed while the server still holds the second event back.
        assert not server.second_sent.is_set()
        assert first == b'{"event":"message","data":"first","id":"","retry":null}\n'
        server.release.set()
        rest, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        server.release.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, stderr) == (0, b"")
    assert rest == b'{"event":"message","data":"second","id":"","retry":null}\n'


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on leaving: nothing listens there


@pytest.mark.parametrize(
    "path, fragments",
    [
        ("/missing", ["HTTP 404 Not Found"]),
        ("/page", ["text/html", "--format"]),
        ("/untyped", ["no Content-Type", "--format"]),
        ("/short", ["was lost after 1 event: it closed 987 bytes before the end"]),
        ("/cut", ["was lost after 1 event: "]),
    ],
)
def test_url_errors_are_one_line(server, path, fragments):
    result = run(url(server, path))
    assert_one_line_error(result, url(server, path), *fragments)


def test_url_short_body_prints_the_events_that_came(server):
    result = run(url(server, "/short"))
    assert result.stdout == b'{"event":"message","data":"first","id":"","retry":null}\n'


def test_connection_refused_is_one_line():
    target = f"http://127.0.0.1:{refused_port()}/stream"
    assert_one_line_error(run(target), "cannot connect to " + target)


# --- interrupts and closed pipes ---------------------------------------------------------


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_quietly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastsse", "-", "--format", "sse"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        # Ctrl-C's default disposition, as a terminal gives it: an ignored SIGINT would be
        # inherited from whatever started the test run, and Python keeps it ignored.
        preexec_fn=_default_sigint,
    )
    try:
        proc.stdin.write(b"data: x\n\n")
        proc.stdin.flush()
        # Once an event is out, the command is in its read loop, waiting for more.
        assert proc.stdout.readline() == b'{"event":"message","data":"x","id":"","retry":null}\n'
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, out, err) == (130, b"", b"")


def test_closed_output_pipe_exits_quietly(tmp_path):
    path = tmp_path / "long.sse"
    path.write_bytes(b"".join(b"data: %d\n\n" % n for n in range(200_000)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastsse", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        assert proc.stdout.readline() == b'{"event":"message","data":"0","id":"","retry":null}\n'
        proc.stdout.close()  # as `| head -1` does after its line
        stderr = proc.stderr.read()
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stderr == b""
    assert proc.returncode == 141
