"""The ``fastsse`` command: print the events of an SSE or JSON Lines stream, or run the demo.

Everything the command prints goes to stdout as UTF-8 bytes (JSON is UTF-8 by definition,
whatever the locale says); errors are one line on stderr. The decode loop is the same
sans-IO loop a client writes: read what has arrived, feed it, print the events it completes.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shlex
import shutil
import statistics
import sys
import textwrap
import time
import urllib.error
import urllib.request
from importlib import resources
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

import orjson

import fastsse

from . import _backend
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
file's extension (.sse; .jsonl, .ndjson, .jsonlines). Standard input needs
--format.

exit status: 0 done, 1 error (one line on stderr), 2 invalid arguments,
130 interrupted (Ctrl-C), 141 output closed early (as by `| head`). An SSE
stream that ends inside an event gets a warning on stderr: the standard
discards that event.

examples:
  fastsse                                  the demo
  fastsse events.sse --pretty
  fastsse https://host/stream --json --terminal-event '[DONE]'
  curl -sN https://host/stream | fastsse - --format sse"""


class CLIError(Exception):
    """A failure to report as one ``fastsse: error: ...`` line."""


class _UsageError(Exception):
    """Arguments that parse but do not fit together."""


class _OutputClosed(Exception):
    """Whoever reads our stdout has gone away (a closed pipe)."""


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
        choices=_backend.BACKENDS,
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
    try:
        try:
            if args.source is None:
                if args.format or args.json or args.pretty or args.terminal_event is not None:
                    raise _UsageError(
                        "--format, --json, --pretty and --terminal-event need a SOURCE"
                    )
                _demo(out, args.backend)
            else:
                _print_stream(out, args)
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


def _print_stream(out: _Output, args: argparse.Namespace) -> None:
    source: str = args.source
    scheme = _URL_SCHEME.match(source)
    if source == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise CLIError("there is no standard input to read")
        if args.format is None:
            raise CLIError(
                "cannot tell the format of standard input; pass --format sse or --format jsonl"
            )
        _decode(out, args, stdin, args.format, "standard input")
    elif scheme is not None:
        if scheme.group(1).lower() not in ("http", "https"):
            raise CLIError(
                f"unsupported URL scheme {scheme.group(1)!r} in {source}: fastsse reads "
                "http:// and https:// URLs, files (give the path) and - for standard input"
            )
        with _open_url(source) as response:
            content_type = response.headers.get("Content-Type")
            fmt = args.format or _format_from_content_type(content_type, source)
            _decode(out, args, response, fmt, source)
    else:
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise CLIError(f"cannot open {source}: {exc.strerror or exc}") from None
        with stream:
            fmt = args.format or _format_from_extension(source)
            _decode(out, args, stream, fmt, source)


def _open_url(url: str) -> Any:
    headers = {
        "Accept": _ACCEPT,
        "Cache-Control": "no-cache",  # as EventSource sends it: no cached replays
        "User-Agent": f"{PROG}/{fastsse.__version__}",
    }
    try:
        # Request() parses the URL, so a malformed one fails here, not in urlopen().
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers))
    except urllib.error.HTTPError as exc:
        exc.close()
        raise CLIError(f"{url}: HTTP {exc.code} {exc.reason}") from None
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


def _decode(out: _Output, args: argparse.Namespace, reader: Any, fmt: str, name: str) -> None:
    decoder: Any
    if fmt == "sse":
        decoder = fastsse.SSEDecoder(args.backend)
    else:
        decoder = fastsse.JSONLDecoder(args.backend)
    printer = _Printer(fmt, args.json, args.pretty)
    terminal: Optional[str] = args.terminal_event
    # read1 returns what has arrived instead of waiting for a full block: a live stream's
    # events are printed when they come, not when 64 KiB have piled up.
    read = getattr(reader, "read1", None) or reader.read
    count = 0
    while True:
        try:
            chunk = read(_READ_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            raise CLIError(f"reading {name} failed: {exc or type(exc).__name__}") from None
        if chunk:
            events = decoder.feed(chunk)
        else:
            # http.client ends a body cut short of its Content-Length like a complete one;
            # only the count of bytes still expected tells them apart.
            missing = getattr(reader, "length", None)
            if isinstance(missing, int) and missing > 0:
                raise CLIError(
                    f"the connection to {name} closed {missing} bytes before the end of the response"
                )
            events = decoder.flush()
        try:
            for event in events:
                if terminal is not None and event.data == terminal:
                    return
                count += 1
                out.write(printer.render(event, count))
        finally:
            # Once per read rather than per event: the events of one read arrived together,
            # so this is as live, without a system call per event on a large file.
            out.flush()
        if not chunk:
            break
    # The standard drops an event whose blank line never came; say so rather than lose
    # it in silence (the output is complete and the stream valid, so this is no error).
    discarded = getattr(decoder, "discarded", 0)
    if discarded:
        _report(
            f"{name} ended inside an event: {discarded} bytes without their terminating "
            "blank line were discarded, as the SSE standard requires",
            kind="warning",
        )


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
        figures = []
        cells = []
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

    def delta_text(response: Any, chunk: Any) -> str:
        counts["events"] += 1
        choices = chunk.get("choices") or []
        content = (choices[0].get("delta") or {}).get("content") if choices else None
        if content:
            counts["deltas"] += 1
        return content or ""

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
    if _backend.compiled is not None:
        return None
    if os.environ.get("FASTSSE_NO_EXTENSIONS"):
        return "FASTSSE_NO_EXTENSIONS is set"
    if _backend.NO_EXTENSIONS:
        return f"{platform.python_implementation()} runs the pure-Python decoder only"
    return f"fastsse._decoder does not import ({_backend.compiled_import_error})"


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
    passes_per_s = []
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
