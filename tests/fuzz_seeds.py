"""Regression corpus for ``test_fuzz.py``: streams replayed under every chunking on every
run, compared across the backends and with the oracle.

Two kinds of entry: the corners of the decoder's fast paths, written down by hand (runs
of blank lines skipped in one pass, a CR ending a chunk, a BOM split over chunks or
repeated, retry at its 64-bit bound), and any input the fuzzer ever reports: paste the
falsifying example here, with a comment naming what it found.
"""

SSE_SEEDS = [
    # Runs of blank lines of every kind; an id committed by the run's first blank line.
    b"id: 1\ndata: a\n\n\n\r\n\r\r\n" + b"id: 2\n\r\r\r\r" + b"data: b\r\r\n\n\r\ndata: c\n\n",
    # CR-only streams: each event must come without waiting for the next byte.
    b"data: a\r\rdata: b\r\r\r\rid: 3\rdata: c\r\r",
    # A run of blank lines that ends the stream on CR, then more data after an LF.
    b"data: x\n\n\r\r\r\n\rdata: y\n\n",
    # A BOM, a split BOM, a second BOM (data), a BOM-like prefix that is not one.
    b"\xef\xbb\xbfdata: a\n\n",
    b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n",
    b"\xef\xbbdata: a\n\n",
    b"\xefdata:\n\n",
    b"\xef\xbb\xbf",
    # id with NUL is ignored; an empty id resets; retry at and above 2**64 - 1.
    b"id: a\x00b\ndata: x\n\nid\ndata: y\n\n",
    b"retry: 18446744073709551615\ndata: x\n\nretry: 18446744073709551616\ndata: y\n\n",
    # Characters other splitters take for line ends, and invalid or split UTF-8.
    b"data: a\xe2\x80\xa8b\x0b\x0c\x1c\x85c\n\ndata: \xff\xc3\n\n",
    # Fields without a colon, an empty name, a value that is only a space.
    b"data\n\n:\n\n: \ndata:  \n\nevent\ndata\n\n",
]

JSONL_SEEDS = [
    b"\n\n\n1\r\n\r\n2\r\r\n3",
    b"\xef\xbb\xbf\n\n{}\n",
    b"\xef\xbb",
    b" \t\r\n\r\n \n{}",
    b'{"a": 1}\r\n\r\r\n\n\n\n"\xff"\n',
    b"1\r",
]

LIMIT_SEEDS = [
    # (stream, max_line_size, max_event_size)
    (b"data: 12345\n\ndata: 1\n\n", 8, 4),
    (b"data: 1\n\ndata: 2\ndata: 3\n\n", 16, 3),
    (b"\n\n\n\r\r\rdata: 123456789\n\n", 8, 100),
    (b":" + b"c" * 20 + b"\r\ndata: x\n\n", 20, 100),
]
