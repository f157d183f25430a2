"""Against the real Anthropic API: skipped unless ANTHROPIC_API_KEY is set.

They cost a few hundred tokens of the cheapest model per run. The official SDK reads the same
prompt as an independent oracle of the usage the API reports.
"""

from __future__ import annotations

import os

import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    AuthenticationError,
    Message,
    MessageStreamChunk,
    ProviderConfig,
    StopChunk,
    TextChunk,
    UsageChunk,
)

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(
        not os.environ.get("ANTHROPIC_API_KEY"), reason="live API tests need ANTHROPIC_API_KEY"
    ),
]

MODEL = "claude-haiku-4-5"
PROMPT = "Reply with exactly the words: streaming works"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # one backend is enough against the real API


def config(**fields: object) -> ProviderConfig:
    return ProviderConfig(
        model_id=MODEL,
        model_info=MODELS[MODEL],
        base_url=os.environ.get("ANTHROPIC_BASE_URL"),
        **fields,  # type: ignore[arg-type]
    )


async def test_a_real_reply_streams_with_exact_usage() -> None:
    chunks: list[MessageStreamChunk] = []
    async with AnthropicProvider(config()) as p:
        async for chunk in p.create_message("Be terse.", [Message(role="user", content=PROMPT)]):
            chunks.append(chunk)
    text = "".join(c.text for c in chunks if isinstance(c, TextChunk))
    assert "streaming works" in text.lower()
    usage = [c for c in chunks if isinstance(c, UsageChunk)]
    input_tokens = sum(u.input_tokens for u in usage)
    output_tokens = sum(u.output_tokens for u in usage)
    assert input_tokens > 0 and output_tokens > 0
    assert isinstance(chunks[-1], StopChunk)
    assert chunks[-1].stop_reason == "end_turn"

    # The SDK's own count of the same prompt's input tokens (the oracle).
    import anthropic

    async with anthropic.AsyncAnthropic(base_url=os.environ.get("ANTHROPIC_BASE_URL")) as sdk:
        counted = await sdk.messages.count_tokens(
            model=MODEL, system="Be terse.", messages=[{"role": "user", "content": PROMPT}]
        )
    assert input_tokens == counted.input_tokens


async def test_a_wrong_key_is_an_authentication_error_without_the_key() -> None:
    wrong = "sk-ant-api03-live-test-wrong-key-000"
    async with AnthropicProvider(config(api_key=wrong), max_retries=0) as p:
        with pytest.raises(AuthenticationError) as info:
            async for _ in p.create_message("", [Message(role="user", content="hi")]):
                pass
    assert info.value.status == 401
    assert info.value.request_id
    assert wrong not in str(info.value) and wrong not in repr(info.value)
