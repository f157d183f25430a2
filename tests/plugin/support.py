"""A fake upstream for recording: a loopback server in its own thread that streams the haiku and
quotes the request's credentials back (as a careless gateway might), so a recording that keeps
any secret is caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from provider.serve import Incoming, ReplayServer, Reply
from provider.serve.background import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
HAIKU = (ROOT / "fixtures" / "haiku.sse").read_bytes()
HAIKU_TEXT = "Bytes drift down the wire,\nwords arrive before the thought—\nstreams of tokens flow."
# The token is not shaped like an Anthropic key: only exact-value masking can catch it.
API_KEY = "sk-ant-api03-plugin-test-key-0123456789abcdef"
TOKEN = "corp-gateway-token-9f8e7d6c5b4a"


class QuotingUpstream:
    """Answers a streamed request with the haiku stream plus a ping quoting the credentials, and
    the others with a JSON message or token count quoting them."""

    async def respond(self, incoming: Incoming) -> Reply:
        quoted = [
            value.decode("latin-1")
            for name, value in incoming.raw_headers
            if name.lower() in (b"x-api-key", b"authorization")
        ]
        ping = json.dumps({"type": "ping", "quoted": quoted}).encode()
        body = b"event: ping\ndata: " + ping + b"\n\n" + HAIKU
        if not incoming.json.get("stream", False):
            counted = incoming.path.endswith("/count_tokens")
            answer = {"input_tokens": 15, "quoted": quoted} if counted else _message(quoted)
            body = json.dumps(answer).encode()
            return Reply(
                status=200,
                headers=[("content-type", "application/json"), ("request-id", "req_up")],
                pieces=[body],
            )
        return Reply(
            status=200,
            headers=[("content-type", "text/event-stream"), ("request-id", "req_up")],
            pieces=[body],
            streamed=True,
        )


def _message(quoted: list[str]) -> dict[str, object]:
    return {
        "id": "msg_01plugin",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": HAIKU_TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 15, "output_tokens": 24},
        "quoted": quoted,
    }


@contextmanager
def upstream() -> Iterator[ReplayServer]:
    with BackgroundServer(ReplayServer(QuotingUpstream())) as server:
        yield server


def assert_no_secret(folder: Path) -> None:
    """No credential in any file of ``folder``, as bytes or JSON-decoded."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        raw = path.read_bytes()
        texts = [raw.decode("utf-8", "replace")]
        for line in texts[0].splitlines():
            payload = line.removeprefix("data: ")
            with suppress(ValueError):
                texts.append(json.dumps(json.loads(payload), ensure_ascii=False))
        if path.name.endswith(".json"):
            texts.append(str(json.loads(raw)))
        for text in texts:
            for secret in (API_KEY, TOKEN, API_KEY.removeprefix("sk-ant-")):
                assert secret not in text, f"{secret} in {path}"
