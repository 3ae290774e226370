"""The ``fastsse`` command: print the events of an SSE or JSON Lines stream, or run the demo.

Everything the command prints goes to stdout as UTF-8 bytes (JSON is UTF-8 by definition,
whatever the locale says); errors are one line on stderr. The decode loop is the same
sans-IO loop a client writes: read what has arrived, feed it, print the events it completes.
Requests are made with urllib, so the command needs nothing beyond fastsse's own dependencies.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shlex
import shutil
import stat
import statistics
import sys
import textwrap
import time
import urllib.error
import urllib.request
from importlib import resources
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import orjson

import fastsse

from ._backend import BACKENDS, NO_EXTENSIONS, compiled, compiled_import_error
from ._stream import FORMATS, format_from_content_type

__all__ = ["main"]

PROG = "fastsse"

# Exit statuses, as shells report them.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE: what `yes | head -1` reports for yes

_READ_SIZE = 64 * 1024
_EXTENSIONS = {
    ".sse": "sse",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
}
# Two or more letters, so a Windows drive letter is never taken for a URL scheme.
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_ACCEPT = ", ".join(list(FORMATS) + ["*/*;q=0.1"])
# RFC 9110 token: what a method and a header name may be made of.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# How much of an HTTP error's body is read to report it (it is shown shortened to one line).
_ERROR_BODY_LIMIT = fastsse.ResponseError.BODY_EXCERPT
# Leading bytes of standard input looked at to tell JSON Lines from SSE; whitespace only
# that long is decoded as SSE (blank lines) rather than buffered without bound.
_SNIFF_LIMIT = 64 * 1024
_JSONL_FIRST_BYTES = b"{["
_BLANK = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"

SAMPLE_NAME = "openai_chat.sse"
DEMO_CHUNK_SIZE = 4 * 1024
DEMO_RUN_SECONDS = 0.2
DEMO_RUNS = 3
DEMO_TERMINAL = "[DONE]"

DESCRIPTION = """\
Decode a Server-Sent Events or JSON Lines stream and print one JSON object per
event, as events arrive. Without SOURCE, run the demo: decode the LLM token
stream bundled with fastsse and measure the decode rate of each decoder."""

EPILOG = """\
output, one JSON object per line:
  SSE         {"event": "message", "data": "...", "id": "", "retry": null}
  JSON Lines  {"line": 1, "offset": 0, "data": "..."}
  "data" is the event's text; with --json it is replaced by "json", the data
  parsed as JSON. "line" is the record's 1-based line number, "offset" the
  byte offset of that line in the stream. --pretty prints a header per event
  ([1] message id="7" retry=3000, or [line 1, byte 0]), then its data (indented
  JSON with --json) and a blank line.

format: --format, else the URL's Content-Type (text/event-stream;
application/jsonl, application/x-ndjson, application/x-jsonlines), else the
file's extension (.sse; .jsonl, .ndjson, .jsonlines). Standard input is JSON
Lines when its first byte after blank space is { or [, else SSE.

standard input: read when SOURCE is -, or when there is no SOURCE and standard
input is a pipe or a file (cat events.sse | fastsse). With no SOURCE and a
terminal, /dev/null or no standard input at all, the demo runs.

requests: -X, -H, -d, --json-body and --bearer-env shape the request to a URL;
-X, -H and -d work as curl's options of those names. -d and --json-body send
DATA as given, the contents of @FILE byte for byte (as curl --data-binary), or
standard input for @-; they make the method POST unless -X says otherwise. --json-body checks that the body is JSON
and sends Content-Type: application/json. --bearer-env NAME sends
Authorization: Bearer with the token held by the environment variable NAME, so
it stays out of shell history and process lists; it is never printed.

exit status: 0 done, 1 error (one line on stderr), 2 invalid arguments,
130 interrupted (Ctrl-C), 141 output closed early (as by `| head`). An HTTP
error status is reported with the start of the body the server sent. A stream
cut short is an error, after every event that arrived was printed: an SSE
stream that ends inside an event (the standard discards that event), or a
connection lost before the end of the response.

examples:
  fastsse                                  the demo
  fastsse events.sse --pretty
  fastsse https://host/stream --json --terminal-event '[DONE]'
  cat events.sse | fastsse --stats
  fastsse https://api.example.com/v1/chat/completions --bearer-env OPENAI_API_KEY \\
      --json-body '{"model": "m", "stream": true, "messages": [...]}' --json"""


class CLIError(Exception):
    """A failure to report as one ``fastsse: error: ...`` line."""


class _UsageError(Exception):
    """Arguments that parse but do not fit together."""


class _OutputClosed(Exception):
    """Whoever reads our stdout has gone away (a closed pipe)."""


class _Stats:
    """What ``--stats`` reports: counted while decoding, printed at the end."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.events = 0
        self.bytes = 0
        self.first_event: Optional[float] = None
        self.started = False

    def event(self) -> None:
        self.events += 1
        if self.first_event is None:
            self.first_event = time.perf_counter()

    def summary(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.events / elapsed if elapsed > 0 else 0.0
        first = (
            "no event"
            if self.first_event is None
            else f"first event after {self.first_event - self.start:.3f} s"
        )
        noun = "event" if self.events == 1 else "events"
        return (
            f"{self.events:,} {noun}, {self.bytes:,} bytes in {elapsed:.3f} s, "
            f"{rate:,.1f} events/s, {first}"
        )


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other error; the usage is one --help away.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Output:
    """UTF-8 bytes to stdout; a closed pipe becomes :class:`_OutputClosed`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buffer = getattr(stream, "buffer", None)

    def write(self, data: bytes) -> None:
        try:
            if self._buffer is not None:
                self._buffer.write(data)
            else:  # a text-only stream, such as io.StringIO in place of sys.stdout
                self._stream.write(data.decode("utf-8"))
        except BrokenPipeError:
            raise _OutputClosed from None

    def line(self, text: str = "") -> None:
        self.write(text.encode("utf-8") + b"\n")

    def flush(self) -> None:
        try:
            if self._buffer is not None:
                self._buffer.flush()
            self._stream.flush()
        except BrokenPipeError:
            raise _OutputClosed from None


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = _ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="a file, - for standard input, or an http:// or https:// URL",
    )
    parser.add_argument(
        "--format",
        choices=("sse", "jsonl"),
        help="the stream's format (default: from the Content-Type or the file's extension)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="decoder: auto (compiled if built, else pure Python; the default), "
        "fast (compiled, or fail), python (pure Python)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='parse each event\'s data as JSON and print it as "json" in place of "data"',
    )
    parser.add_argument(
        "--pretty",
        action="store_true",
        help="print a readable form instead of one JSON object per line",
    )
    parser.add_argument(
        "--terminal-event",
        metavar="DATA",
        help="stop at the first event whose data is DATA (such as '[DONE]'), without printing it",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="at the end, print to stderr the events and bytes read, events/s and the time "
        "to the first event",
    )
    request = parser.add_argument_group("request options (for a URL)")
    request.add_argument(
        "-X",
        "--request",
        metavar="METHOD",
        help="the request method (default: GET, or POST with -d or --json-body)",
    )
    request.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header, replacing a default one of that name; repeatable. "
        "'NAME:' with no value removes a default header",
    )
    body = request.add_mutually_exclusive_group()
    body.add_argument(
        "-d",
        "--data",
        metavar="DATA",
        help="the request body: DATA itself, @FILE for a file's bytes, @- for standard input",
    )
    body.add_argument(
        "--json-body",
        metavar="DATA",
        help="a JSON request body, given as for --data; it must parse as JSON, and "
        "Content-Type: application/json is sent",
    )
    request.add_argument(
        "--bearer-env",
        metavar="NAME",
        help="send 'Authorization: Bearer TOKEN' with the TOKEN held by environment variable NAME",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"{PROG} {fastsse.__version__} ({fastsse.IMPLEMENTATION} decoder, "
        f"Python {platform.python_version()})",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``fastsse`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status; never raises for a failure, which it reports as one line
    on stderr.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or invalid arguments (already reported)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = _Output(sys.stdout)
    stats = _Stats()
    status = _run(out, args, stats)
    if args.stats and stats.started and status != EXIT_PIPE_CLOSED:
        _report(stats.summary(), kind="stats")
    return status


def _run(out: _Output, args: argparse.Namespace, stats: _Stats) -> int:
    try:
        try:
            if args.source is None and _stdin_is_piped():
                args.source = "-"
            if args.source is None:
                if (
                    args.format
                    or args.json
                    or args.pretty
                    or args.stats
                    or args.terminal_event is not None
                ):
                    raise _UsageError(
                        "--format, --json, --pretty, --stats and --terminal-event need a SOURCE"
                    )
                _check_request_options(args, is_url=False)
                _demo(out, args.backend)
            else:
                _print_stream(out, args, stats)
        finally:
            out.flush()
    except _UsageError as exc:
        _report(f"{exc} (see {PROG} --help)")
        return EXIT_USAGE
    except (CLIError, fastsse.StreamError) as exc:
        _report(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except _OutputClosed:
        _discard_stdout()
        return EXIT_PIPE_CLOSED
    except Exception as exc:  # a bug: still one line, but one that says so
        _report(
            f"unexpected {type(exc).__name__}: {exc} (this is a bug in fastsse, please report it)"
        )
        return EXIT_ERROR
    return EXIT_OK


def _stdin_is_piped() -> bool:
    """Whether standard input is a pipe or a file: data someone meant for us.

    A terminal, the null device (a character device) and a closed standard input are
    not, so the bare command still runs the demo where a shell or CI gives it no input.
    """
    stdin = sys.stdin
    if stdin is None:
        return False
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):  # closed, or not backed by a descriptor
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def _report(message: str, kind: str = "error") -> None:
    # Collapse newlines so that the report stays one line whatever a message holds.
    line = " ".join(message.split())
    try:
        sys.stderr.write(f"{PROG}: {kind}: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _discard_stdout() -> None:
    # Unflushed bytes would make the interpreter complain about the closed pipe at exit;
    # point stdout at the null device so that last flush goes nowhere, quietly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------
# Decoding a stream


def _print_stream(out: _Output, args: argparse.Namespace, stats: _Stats) -> None:
    source: str = args.source
    scheme = _URL_SCHEME.match(source)
    is_url = scheme is not None and scheme.group(1).lower() in ("http", "https")
    _check_request_options(args, is_url)
    if source == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise CLIError("there is no standard input to read")
        stats.started = True
        _decode(out, args, stdin, args.format, "standard input", stats)
    elif scheme is not None:
        if not is_url:
            raise CLIError(
                f"unsupported URL scheme {scheme.group(1)!r} in {source}: fastsse reads "
                "http:// and https:// URLs, files (give the path) and - for standard input"
            )
        request = _build_request(source, args)
        stats.started = True
        with _open_url(request, source) as response:
            content_type = response.headers.get("Content-Type")
            fmt = args.format or _format_from_content_type(content_type, source)
            _decode(out, args, response, fmt, source, stats)
    else:
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise CLIError(f"cannot open {source}: {exc.strerror or exc}") from None
        with stream:
            fmt = args.format or _format_from_extension(source)
            stats.started = True
            _decode(out, args, stream, fmt, source, stats)


def _check_request_options(args: argparse.Namespace, is_url: bool) -> None:
    given = [
        option
        for option, value in (
            ("-X", args.request),
            ("-H", args.header),
            ("-d", args.data),
            ("--json-body", args.json_body),
            ("--bearer-env", args.bearer_env),
        )
        if value
    ]
    if given and not is_url:
        # So standard input is never wanted as both the request body (@-) and the stream.
        raise _UsageError(f"{', '.join(given)} shape a request: they need an http(s):// SOURCE")


def _build_request(url: str, args: argparse.Namespace) -> urllib.request.Request:
    headers = {
        "Accept": _ACCEPT,
        "Cache-Control": "no-cache",  # as EventSource sends it: no cached replays
        "User-Agent": f"{PROG}/{fastsse.__version__}",
    }
    # Header names are case-insensitive: a user's header replaces a default of any case.
    names = {name.lower(): name for name in headers}
    for number, header in enumerate(args.header, 1):
        name, value = _parse_header(header, number)
        old = names.pop(name.lower(), None)
        if old is not None:
            del headers[old]
        if value:
            headers[name] = value
            names[name.lower()] = name
    data: Optional[bytes] = None
    if args.json_body is not None:
        data = _read_body(args.json_body, "--json-body")
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _UsageError(f"the --json-body data is not valid JSON: {exc}") from None
        if "content-type" not in names:
            headers["Content-Type"] = "application/json"
    elif args.data is not None:
        data = _read_body(args.data, "--data")
    if args.bearer_env is not None:
        if "authorization" in names:
            raise _UsageError("--bearer-env and an Authorization header (-H) both give one")
        headers["Authorization"] = "Bearer " + _token_from(args.bearer_env)
    method = args.request
    if method is not None and not _TOKEN.match(method):
        raise _UsageError(f"invalid method {method!r} for -X")
    try:
        # Request() parses the URL, so a malformed one fails here, not in urlopen().
        return urllib.request.Request(url, data=data, headers=headers, method=method)
    except ValueError as exc:
        raise CLIError(f"cannot request {url}: {exc}") from None


def _parse_header(header: str, number: int) -> Tuple[str, str]:
    # The value is never echoed: it may be a credential.
    name, colon, value = header.partition(":")
    name = name.strip()
    if not colon or not _TOKEN.match(name):
        raise _UsageError(f"-H number {number} is not of the form 'NAME: VALUE'")
    value = value.strip()
    if "\r" in value or "\n" in value or "\0" in value:
        raise _UsageError(f"the value of header {name} (-H number {number}) holds a line break")
    return name, value


def _read_body(spec: str, option: str) -> bytes:
    if not spec.startswith("@"):
        return spec.encode("utf-8")
    path = spec[1:]
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise CLIError(f"{option} @- reads standard input, but there is none")
        data: bytes = stdin.read()
        return data
    try:
        with open(path, "rb") as body:
            return body.read()
    except OSError as exc:
        raise CLIError(f"cannot read the {option} file {path}: {exc.strerror or exc}") from None


def _token_from(variable: str) -> str:
    token = os.environ.get(variable)
    if token is None:
        raise _UsageError(f"--bearer-env: the environment variable {variable} is not set")
    token = token.strip()
    if not token:
        raise _UsageError(f"--bearer-env: the environment variable {variable} is empty")
    if any(char in token for char in "\r\n\0") or not token.isascii():
        raise _UsageError(
            f"--bearer-env: the token in {variable} holds a line break or non-ASCII text"
        )
    return token


def _open_url(request: urllib.request.Request, url: str) -> Any:
    opener = urllib.request.build_opener()
    # urllib adds its own User-Agent unless the request has one: one removed by -H stays so.
    opener.addheaders = []
    try:
        return opener.open(request)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(_ERROR_BODY_LIMIT) or b""
        except (OSError, http.client.HTTPException):
            body = b""  # the status is the news; a body cut short is only its detail
        finally:
            exc.close()
        error = fastsse.ResponseError(exc.code, exc.reason, body)
        raise CLIError(f"{url}: {error}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = getattr(reason, "strerror", None) or str(reason)
        raise CLIError(f"cannot connect to {url}: {why}") from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise CLIError(f"cannot request {url}: {exc or type(exc).__name__}") from None


def _format_from_content_type(content_type: Optional[str], url: str) -> str:
    try:
        return format_from_content_type(content_type)
    except fastsse.FormatError as exc:
        message = (
            str(exc)
            .replace("format='sse'", "--format sse")
            .replace("format='jsonl'", "--format jsonl")
        )
        raise CLIError(f"{url}: {message}") from None


def _format_from_extension(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    fmt = _EXTENSIONS.get(extension)
    if fmt is None:
        raise CLIError(
            f"cannot tell the format of {path} from its name (known extensions: "
            f"{', '.join(_EXTENSIONS)}); pass --format sse or --format jsonl"
        )
    return fmt


def _decode(
    out: _Output,
    args: argparse.Namespace,
    reader: Any,
    fmt: Optional[str],
    name: str,
    stats: _Stats,
) -> None:
    # read1 returns what has arrived instead of waiting for a full block: a live stream's
    # events are printed when they come, not when 64 KiB have piled up.
    read = getattr(reader, "read1", None) or reader.read
    is_url = _URL_SCHEME.match(name) is not None

    def next_chunk() -> bytes:
        try:
            chunk: bytes = read(_READ_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, http.client.IncompleteRead):
                why = "the body ended before its last chunk"
            else:
                why = str(exc) or type(exc).__name__
            if is_url:
                raise _Lost(why) from None
            raise CLIError(f"reading {name} failed: {why}") from None
        stats.bytes += len(chunk)
        return chunk

    head: List[bytes] = []
    if fmt is None:
        try:
            fmt, head = _sniff_format(next_chunk)
        except _Lost as lost:
            raise CLIError(_lost_message(name, "sse", 0, 0, lost)) from None
    decoder: Any
    if fmt == "sse":
        decoder = fastsse.SSEDecoder(args.backend)
    else:
        decoder = fastsse.JSONLDecoder(args.backend)
    printer = _Printer(fmt, args.json, args.pretty)
    terminal: Optional[str] = args.terminal_event
    count = 0
    while True:
        try:
            chunk = head.pop(0) if head else next_chunk()
            if not chunk:
                # http.client ends a body cut short of its Content-Length like a complete
                # one; only the count of bytes still expected tells them apart.
                missing = getattr(reader, "length", None)
                if isinstance(missing, int) and missing > 0:
                    raise _Lost(f"it closed {missing:,} bytes before the end of the response")
        except _Lost as lost:
            unfinished = _unfinished(decoder, fmt)
            raise CLIError(_lost_message(name, fmt, count, unfinished, lost)) from None
        events = decoder.feed(chunk) if chunk else decoder.flush()
        try:
            for event in events:
                if terminal is not None and event.data == terminal:
                    return
                count += 1
                stats.event()
                out.write(printer.render(event, count))
        finally:
            # Once per read rather than per event: the events of one read arrived together,
            # so this is as live, without a system call per event on a large file.
            out.flush()
        if not chunk:
            break
    # The standard drops an event whose blank line never came. The output holds every
    # event, but the stream was cut short: an error, so that a script can tell.
    discarded = getattr(decoder, "discarded", 0)
    if discarded:
        raise CLIError(
            f"{name} ended inside an event: its {discarded:,} bytes, without the blank line "
            "that ends an event, were lost (the SSE standard discards such an event)"
        )


class _Lost(Exception):
    """The connection ended before the response did; the message says how."""


def _unfinished(decoder: Any, fmt: str) -> int:
    """Bytes of the event or record in progress when the stream was cut short."""
    try:
        records = decoder.flush()
    except fastsse.StreamError:
        return 0
    if fmt == "sse":
        return int(getattr(decoder, "discarded", 0))
    # A record without its LF may be cut anywhere: it is lost, not printed.
    return sum(len(record.data.encode("utf-8")) for record in records)


def _lost_message(name: str, fmt: str, count: int, unfinished: int, lost: _Lost) -> str:
    unit = "event" if fmt == "sse" else "record"
    after = f"after {count:,} {unit}{'' if count == 1 else 's'}"
    message = f"the connection to {name} was lost {after}: {lost}"
    if unfinished:
        message += f"; the {unit} in progress ({unfinished:,} bytes so far) was lost"
    return message


def _sniff_format(next_chunk: Callable[[], bytes]) -> Tuple[str, List[bytes]]:
    """The format of a stream that has no name or header to tell it: JSON Lines if its
    first byte after a BOM and blank space opens an object or array, else SSE (where such
    a line would be a meaningless field). Returns it and the chunks read to decide."""
    head: List[bytes] = []
    seen = 0
    while seen < _SNIFF_LIMIT:
        chunk = next_chunk()
        head.append(chunk)
        if not chunk:
            break
        seen += len(chunk)
        start = b"".join(head)
        if len(start) < len(_BOM) and _BOM.startswith(start):
            continue  # a BOM split across reads
        text = (start[len(_BOM) :] if start.startswith(_BOM) else start).lstrip(_BLANK)
        if text:
            return ("jsonl" if text[0] in _JSONL_FIRST_BYTES else "sse"), head
    return "sse", head


class _Printer:
    """Turns an event and its 1-based number into the bytes to print."""

    def __init__(self, fmt: str, parse_json: bool, pretty: bool) -> None:
        self._sse = fmt == "sse"
        self._parse_json = parse_json
        self._pretty = pretty
        self._key = "json" if parse_json else "data"

    def render(self, event: Any, number: int) -> bytes:
        value = self._payload(event, number)
        if not self._pretty:
            if self._sse:
                obj = {"event": event.event, self._key: value, "id": event.id, "retry": event.retry}
            else:
                obj = {"line": event.line, "offset": event.offset, self._key: value}
            return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
        if self._parse_json:
            body = orjson.dumps(value, option=orjson.OPT_INDENT_2)
        else:
            body = value.encode("utf-8")
        # A blank line after each event, as on the wire, keeps multi-line data apart.
        return self._header(event, number).encode("utf-8") + b"\n" + body + b"\n\n"

    def _payload(self, event: Any, number: int) -> Any:
        if not self._parse_json:
            return event.data
        try:
            return event.json()
        except fastsse.JSONDecodeError as exc:
            if not self._sse:  # the message already names the record's line
                raise
            raise CLIError(f"event {number}: {exc}{_terminal_hint(event.data)}") from None

    def _header(self, event: Any, number: int) -> str:
        if not self._sse:
            return f"[line {event.line}, byte {event.offset}]"
        parts = [f"[{number}] {event.event}"]
        if event.id:
            parts.append("id=" + orjson.dumps(event.id).decode("utf-8"))
        if event.retry is not None:
            parts.append(f"retry={event.retry}")
        return " ".join(parts)


def _terminal_hint(data: str) -> str:
    # An end marker such as [DONE] is the usual non-JSON event in an otherwise JSON stream.
    if len(data) <= 40 and "\n" not in data:
        return f"; to stop at this event instead, pass --terminal-event {shlex.quote(data)}"
    return ""


# ---------------------------------------------------------------------------------------
# The demo


def _demo(out: _Output, backend: str) -> None:
    sample = _read_sample()
    text, deltas, events = _reassemble(sample, backend)
    used = {"auto": fastsse.IMPLEMENTATION, "fast": "cython", "python": "python"}[backend]
    width = max(40, min(shutil.get_terminal_size((80, 24)).columns, 100) - 1)
    intro = (
        f"{PROG} {fastsse.__version__} demo: an OpenAI-style chat completion stream bundled with "
        f"fastsse (samples/{SAMPLE_NAME}: {events} events, {len(sample):,} bytes), decoded by "
        f'fastsse.Stream with terminal_event="{DEMO_TERMINAL}" on the {used} decoder.'
    )
    out.line(textwrap.fill(intro, width))
    out.line()
    out.line(f"Assistant text, reassembled from {deltas} content deltas:")
    out.line()
    for paragraph in text.split("\n"):
        wrapped = textwrap.fill(paragraph, width, initial_indent="  ", subsequent_indent="  ")
        out.line(wrapped if paragraph else "")
    out.line()
    out.line(
        f"Decode rate on this sample in {DEMO_CHUNK_SIZE // 1024} KiB chunks, "
        f"median of {DEMO_RUNS} runs of {DEMO_RUN_SECONDS} s each:"
    )
    out.line()
    row = "  {:<9}{:<37}{}"
    out.line(row.format("decoder", "parse only (every ev.data read)", "parse + ev.json()"))
    out.flush()

    chunks = [sample[i : i + DEMO_CHUNK_SIZE] for i in range(0, len(sample), DEMO_CHUNK_SIZE)]
    rates: Dict[str, List[float]] = {}
    unavailable = _compiled_unavailable_reason()
    for name, backend_name in (("cython", "fast"), ("python", "python")):
        if name == "cython" and unavailable is not None:
            out.line(row.format(name, f"unavailable: {unavailable}; python figures only", ""))
            out.flush()
            continue
        figures: List[float] = []
        cells: List[str] = []
        for mode in ("data", "json"):
            events_per_s, mb_per_s = _measure(backend_name, chunks, len(sample), events, mode)
            figures.append(events_per_s)
            cells.append(f"{events_per_s:>10,.0f} events/s {mb_per_s:>7,.1f} MB/s")
        rates[name] = figures
        out.line(row.format(name, *cells))
        out.flush()
    if "cython" in rates:
        parse_ratio, json_ratio = (c / p for c, p in zip(rates["cython"], rates["python"]))
        out.line()
        out.line(
            f"cython / python: {parse_ratio:.1f}x for parse only, "
            f"{json_ratio:.1f}x for parse + ev.json()."
        )
    out.line()
    out.line(f"Your own stream: {PROG} FILE | URL | -  (see {PROG} --help)")


def _read_sample() -> bytes:
    try:
        return (resources.files("fastsse") / "samples" / SAMPLE_NAME).read_bytes()
    except OSError as exc:
        raise CLIError(
            f"the bundled sample samples/{SAMPLE_NAME} cannot be read ({exc.strerror or exc}); "
            "reinstall fastsse"
        ) from None


def _reassemble(sample: bytes, backend: str) -> Tuple[str, int, int]:
    """The assistant's text, the number of content deltas and of events in the sample."""
    counts = {"events": 0, "deltas": 0}

    def delta_text(response: Any, chunk: Dict[str, Any]) -> str:
        counts["events"] += 1
        choices: List[Dict[str, Any]] = chunk.get("choices") or []
        delta: Dict[str, Any] = (choices[0].get("delta") or {}) if choices else {}
        content = delta.get("content")
        if not isinstance(content, str) or not content:
            return ""
        counts["deltas"] += 1
        return content

    chunks = [sample[i : i + DEMO_CHUNK_SIZE] for i in range(0, len(sample), DEMO_CHUNK_SIZE)]
    stream = fastsse.Stream(
        chunks,
        deserialization_callback=delta_text,
        terminal_event=DEMO_TERMINAL,
        decoder=backend,
        format="sse",
    )
    with stream:
        text = "".join(stream)
    # The terminal event ends the stream without reaching the callback; count it too.
    return text, counts["deltas"], counts["events"] + 1


def _compiled_unavailable_reason() -> Optional[str]:
    if compiled is not None:
        return None
    if os.environ.get("FASTSSE_NO_EXTENSIONS"):
        return "FASTSSE_NO_EXTENSIONS is set"
    if NO_EXTENSIONS:
        return f"{platform.python_implementation()} runs the pure-Python decoder only"
    return f"fastsse._decoder does not import ({compiled_import_error})"


def _measure(
    backend: str, chunks: List[bytes], size: int, events: int, mode: str
) -> Tuple[float, float]:
    """Median (events/s, MB/s) of decoding ``chunks`` with ``backend``.

    ``mode`` "data" reads every event's ``data``; "json" does what a client of this stream
    does (and what ``Stream`` does): compare ``data`` with the end marker, then ``json()``.
    """

    def decode_once() -> int:
        decoder = fastsse.SSEDecoder(backend)
        seen = 0
        if mode == "data":
            for chunk in chunks:
                batch = decoder.feed(chunk)
                seen += len(batch)
                for event in batch:
                    event.data  # noqa: B018 (reading it decodes the text, as every client does)
        else:
            for chunk in chunks:
                batch = decoder.feed(chunk)
                seen += len(batch)
                for event in batch:
                    if event.data != DEMO_TERMINAL:
                        event.json()
        decoder.flush()
        return seen

    # One untimed pass warms caches and checks the decoder sees every event.
    seen = decode_once()
    if seen != events:
        raise CLIError(
            f"the {backend} decoder found {seen} events in the sample, expected {events}"
        )
    passes_per_s: List[float] = []
    for _ in range(DEMO_RUNS):
        passes = 0
        start = time.perf_counter()
        while True:
            decode_once()
            passes += 1
            elapsed = time.perf_counter() - start
            if elapsed >= DEMO_RUN_SECONDS:
                break
        passes_per_s.append(passes / elapsed)
    rate = statistics.median(passes_per_s)
    return rate * events, rate * size / 1e6
