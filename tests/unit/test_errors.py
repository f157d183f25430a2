"""The error hierarchy: attributes, chaining, text without secrets, and the status/type mapping."""

from __future__ import annotations

import pytest

from provider import (
    AuthenticationError,
    NetworkError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    TokenLimitError,
)
from provider.errors import error_for

# Shaped like a real key so that a leak is recognisable; it is not one.
FAKE_KEY = "sk-ant-api03-TESTONLY0123456789abcdefXYZ_-AA"

ALL_CLASSES = [
    ProviderError,
    TokenLimitError,
    RateLimitError,
    NetworkError,
    AuthenticationError,
    OverloadedError,
]

# ---------------------------------------------------------------------------------------------
# Attributes and text


def test_attributes_are_kept() -> None:
    error = ProviderError(
        "boom", status=500, error_type="api_error", request_id="req_011CSHoEeqs5C35K2UUqR7Fy"
    )
    assert error.status == 500
    assert error.error_type == "api_error"
    assert error.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    assert error.message == "boom"


@pytest.mark.parametrize("cls", [c for c in ALL_CLASSES if c is not RateLimitError])
def test_attributes_default_to_none(cls: type[ProviderError]) -> None:
    error = cls("boom")
    assert (error.status, error.error_type, error.request_id) == (None, None, None)
    assert error.retry_after is None
    assert error.__cause__ is None
    assert str(error) == "boom"


def test_rate_limit_error_defaults() -> None:
    error = RateLimitError("slow down")
    assert error.status == 429
    assert error.error_type == "rate_limit_error"
    assert error.retry_after is None
    assert RateLimitError("slow down", retry_after=2.5).retry_after == 2.5


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_cause_is_chained(cls: type[ProviderError]) -> None:
    cause = ConnectionResetError("peer reset")
    error = cls("failed", cause)
    assert error.__cause__ is cause
    # And survives a real raise, which is how callers see it.
    with pytest.raises(cls) as info:
        raise error
    assert info.value.__cause__ is cause


def test_cause_is_keyword_usable_too() -> None:
    cause = TimeoutError("read timed out")
    assert ProviderError("x", cause=cause).__cause__ is cause


def test_str_includes_status_type_and_request_id() -> None:
    error = ProviderError(
        "Overloaded", status=529, error_type="overloaded_error", request_id="req_abc123"
    )
    text = str(error)
    assert text.startswith("Overloaded")
    assert "529" in text
    assert "overloaded_error" in text
    assert "req_abc123" in text


def test_str_with_only_a_request_id() -> None:
    text = str(ProviderError("Stream error", request_id="req_only"))
    assert "req_only" in text
    assert "None" not in text  # unknown fields are left out, not printed as None


def test_repr_names_the_class_and_status() -> None:
    text = repr(OverloadedError("Overloaded", status=529))
    assert text.startswith("OverloadedError(")
    assert "529" in text


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_a_key_in_the_message_is_redacted(cls: type[ProviderError]) -> None:
    error = cls(f"invalid x-api-key: {FAKE_KEY} was rejected", status=401, request_id="req_1")
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert "TESTONLY" not in text
        assert "sk-ant-" in text  # marks where a key was, so the message still makes sense
        assert "was rejected" in text


def test_every_key_in_the_message_is_redacted() -> None:
    other = "sk-ant-admin01-ANOTHERFAKE_key-value"
    text = str(ProviderError(f"{FAKE_KEY} and {other}"))
    assert "TESTONLY" not in text
    assert "ANOTHERFAKE" not in text


def test_a_redacted_error_formats_in_a_traceback_without_the_key() -> None:
    import traceback

    try:
        raise AuthenticationError(f"bad key {FAKE_KEY}", status=401)
    except AuthenticationError as error:
        formatted = "".join(traceback.format_exception(error))
    assert "TESTONLY" not in formatted


def test_text_without_a_key_is_untouched() -> None:
    message = "prompt is too long: 219898 tokens > 200000 maximum; see sk-ant docs"
    assert ProviderError(message).message == message


# ---------------------------------------------------------------------------------------------
# error_for: the mapping table

RL, TL, AUTH, OVER = RateLimitError, TokenLimitError, AuthenticationError, OverloadedError


@pytest.mark.parametrize(
    ("status", "error_type", "message", "expected"),
    [
        (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", RL),
        (429, None, "Too Many Requests", RL),
        (None, "rate_limit_error", "rate limited mid-stream", RL),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes", TL),
        (413, None, "<html>413 Request Entity Too Large</html>", TL),
        (None, "request_too_large", "Request too large", TL),
        (400, "invalid_request_error", "prompt is too long: 219898 tokens > 200000 maximum", TL),
        (400, "invalid_request_error", "Prompt is too long: 219898 tokens > 200000 maximum", TL),
        (401, "authentication_error", "invalid x-api-key", AUTH),
        (401, None, "Unauthorized", AUTH),
        (403, "permission_error", "Your API key does not have permission", AUTH),
        (403, None, "Forbidden", AUTH),
        (None, "authentication_error", "invalid x-api-key", AUTH),
        (529, "overloaded_error", "Overloaded", OVER),
        (529, None, "Overloaded", OVER),
        (None, "overloaded_error", "Overloaded", OVER),  # mid-stream event: error after a 200
    ],
)
def test_error_for_picks_the_class(
    status: int | None, error_type: str | None, message: str, expected: type[ProviderError]
) -> None:
    error = error_for(message, status=status, error_type=error_type, request_id="req_42")
    assert type(error) is expected
    assert error.status == status
    assert error.error_type == error_type
    assert error.request_id == "req_42"
    assert message in str(error)


def test_rate_limit_keeps_retry_after() -> None:
    error = error_for("rate limited", status=429, error_type="rate_limit_error", retry_after=17.0)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 17.0
    assert error.status == 429


def test_rate_limit_without_retry_after() -> None:
    # A spend-cap 429 has no retry-after header.
    error = error_for("spend cap reached", status=429, error_type="rate_limit_error")
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("status", "error_type"), [(529, "overloaded_error"), (503, None), (429, "rate_limit_error")]
)
def test_retry_after_is_kept_on_every_retryable_error(status: int, error_type: str | None) -> None:
    # The retry loop honours the server's hint for 529 and 5xx too, not only for 429.
    error = error_for("try later", status=status, error_type=error_type, retry_after=3.0)
    assert error.retry_after == 3.0


def test_mid_stream_overloaded_has_no_status() -> None:
    error = error_for("Overloaded", error_type="overloaded_error")
    assert isinstance(error, OverloadedError)
    assert error.status is None
    assert error.error_type == "overloaded_error"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (500, "api_error"),
        (500, None),
        (404, "not_found_error"),
        (502, None),  # a gateway's HTML page
        (504, "timeout_error"),
        (400, "invalid_request_error"),
        (402, "billing_error"),
        (409, "conflict_error"),
    ],
)
def test_other_errors_are_plain_provider_errors_with_status(
    status: int, error_type: str | None
) -> None:
    error = error_for("something went wrong", status=status, error_type=error_type)
    assert type(error) is ProviderError
    assert error.status == status
    assert str(status) in str(error)


def test_unknown_error_type_without_status_is_plain() -> None:
    error = error_for("new kind of failure", error_type="some_future_error")
    assert type(error) is ProviderError
    assert error.error_type == "some_future_error"


@pytest.mark.parametrize("status", [None, 400, 429, 500, 529])
def test_error_for_chains_the_cause(status: int | None) -> None:
    cause = ValueError("upstream")
    error = error_for("failed", status=status, cause=cause)
    assert error.__cause__ is cause


def test_error_for_redacts_too() -> None:
    error = error_for(f"key {FAKE_KEY} rejected", status=401, error_type="authentication_error")
    assert isinstance(error, AuthenticationError)
    assert "TESTONLY" not in str(error)


def test_every_error_is_caught_as_provider_error() -> None:
    for status in (400, 401, 403, 404, 413, 429, 500, 529):
        with pytest.raises(ProviderError):
            raise error_for("x", status=status)
