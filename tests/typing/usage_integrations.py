"""Ordinary user code for reconnection and the integrations: checked, never run (it needs
servers and SDK clients), by mypy --strict and pyright (strict) in CI."""

from __future__ import annotations

from typing import List, Optional

import anthropic
import httpx
import openai
from typing_extensions import assert_type

import fastsse
from fastsse.integrations import httpx_sse
from fastsse.integrations.anthropic import accelerate as accelerate_anthropic
from fastsse.integrations.openai import accelerate as accelerate_openai


def resuming(client: httpx.Client, url: str) -> Optional[str]:
    def reconnect(last_event_id: str) -> httpx.Response:
        request = client.build_request("GET", url, headers={"Last-Event-ID": last_event_id})
        return client.send(request, stream=True)

    policy = fastsse.ReconnectPolicy(backoff=2.0, max_delay=10.0, max_attempts=5)
    stream = fastsse.Stream(
        reconnect(""), format="sse", reconnect_callback=reconnect, reconnect=policy
    )
    with stream:
        for event in stream:
            assert_type(event, fastsse.ServerSentEvent)
    attempts: int = stream.reconnect_attempts
    assert attempts >= 0
    return stream.last_event_id


def connecting(client: httpx.Client, url: str) -> List[str]:
    try:
        with fastsse.connect(client, "POST", url, json={"q": 1}, format="sse") as stream:
            return [event.data for event in stream]
    except fastsse.ReconnectError as exc:
        raise RuntimeError("the server stayed away") from exc


async def aconnecting(client: httpx.AsyncClient, url: str) -> int:
    stream = await fastsse.aconnect(client, "GET", url, format="sse")
    count = 0
    async with stream:
        async for event in stream:
            print(event.data)
            count += 1
    return count


def drop_in(client: httpx.Client, url: str) -> List[str]:
    with httpx_sse.connect_sse(client, "GET", url) as event_source:
        return [sse.data for sse in event_source.iter_sse()]


def accelerated_sdks() -> None:
    client = accelerate_openai(openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9"))
    assert_type(client, openai.OpenAI)
    other = accelerate_anthropic(anthropic.Anthropic(api_key="unused"))
    assert_type(other, anthropic.Anthropic)
