"""The SSE conformance vectors, on every backend, in every chunking.

The suite reads its own copy, ``tests/conformance/sse_vectors.json``, so it runs wherever
the tests do (a wheel build included); FASTSSE_CONFORMANCE_DIR points elsewhere. When the
shared copy sits beside the checkout (``../shared/conformance``), the two must be
identical. A missing file fails the run: a suite that quietly skips its conformance
check would pass for a decoder that was never checked.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from _chunking import chunkings, decode_all
from oracle import parse_sse

VECTORS_FILE_NAME = "sse_vectors.json"
PROJECT_COPY_DIR = Path(__file__).resolve().parent / "conformance"
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def conformance_dir() -> Path:
    override = os.environ.get("FASTSSE_CONFORMANCE_DIR")
    if override:
        return Path(override)
    return PROJECT_COPY_DIR


def test_project_copy_matches_shared_vectors():
    shared = SHARED_DIR / VECTORS_FILE_NAME
    if not shared.exists():
        pytest.skip(f"no shared copy beside the checkout ({shared})")
    project = PROJECT_COPY_DIR / VECTORS_FILE_NAME
    assert json.loads(project.read_bytes()) == json.loads(shared.read_bytes()), (
        f"{project} differs from {shared}: copy the shared vectors into the project"
    )


def load_vector_params() -> List[Any]:
    path = conformance_dir() / VECTORS_FILE_NAME
    try:
        vectors = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # One failing case instead of an empty parameter set, which pytest would skip.
        return [pytest.param({"missing": str(path)}, id="conformance-vectors-missing")]
    return [pytest.param(vector, id=vector["name"]) for vector in vectors]


VECTOR_PARAMS = load_vector_params()


def require_vector(vector: Dict[str, Any]) -> None:
    if "missing" in vector:
        pytest.fail(
            f"conformance vectors not found at {vector['missing']}; "
            "set FASTSSE_CONFORMANCE_DIR to the directory holding sse_vectors.json"
        )


def vector_chunkings(vector: Dict[str, Any]) -> List[Tuple[str, List[bytes]]]:
    stream = base64.b64decode(vector["input_b64"])
    # A seed per vector keeps the random splits different between vectors, yet stable.
    named = list(chunkings(stream, seed=zlib.crc32(vector["name"].encode())))
    if "chunks_b64" in vector:
        original = [base64.b64decode(chunk) for chunk in vector["chunks_b64"]]
        assert b"".join(original) == stream, "the vector's chunks_b64 do not add up to its input"
        named.append(("original-chunks", original))
    return named


def expected_outcome(vector: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "events": [
            {"type": ev["type"], "data": ev["data"], "id": ev["id"], "retry": ev["retry"]}
            for ev in vector["events"]
        ],
        "last_event_id": vector["final_last_event_id"],
        "retry": vector["final_reconnection_time"],
    }


@pytest.mark.parametrize("vector", VECTOR_PARAMS)
def test_vector(impl, vector):
    require_vector(vector)
    expected = expected_outcome(vector)
    mismatches = []
    for chunking_name, chunks in vector_chunkings(vector):
        decoder = impl.SSEDecoder()
        events = decode_all(decoder, chunks)
        actual = {
            "events": [
                {"type": ev.event, "data": ev.data, "id": ev.id, "retry": ev.retry} for ev in events
            ],
            "last_event_id": decoder.last_event_id,
            "retry": decoder.retry,
        }
        if actual != expected:
            mismatches.append(
                f"{chunking_name} ({len(chunks)} chunks):\n  got      {actual}\n  expected {expected}"
            )
    assert not mismatches, f"vector {vector['name']!r} fails in these chunkings:\n" + "\n".join(
        mismatches
    )


@pytest.mark.parametrize("vector", VECTOR_PARAMS)
def test_oracle_passes_vector(vector):
    """The reference parser the differential tests trust must itself pass every vector."""
    require_vector(vector)
    outcome = parse_sse(base64.b64decode(vector["input_b64"]))
    actual = {
        "events": [
            {"type": type_, "data": data, "id": id_, "retry": retry}
            for type_, data, id_, retry in outcome.events
        ],
        "last_event_id": outcome.last_event_id,
        "retry": outcome.reconnection_time,
    }
    assert actual == expected_outcome(vector)
