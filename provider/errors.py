"""The error hierarchy: every failure the library reports is a ``ProviderError``."""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

__all__ = [
    "KEY_SHAPE",
    "AuthenticationError",
    "NetworkError",
    "OverloadedError",
    "ProviderError",
    "RateLimitError",
    "TokenLimitError",
    "error_for",
    "mask",
    "redact",
    "secret_values",
]

# Defence in depth: messages are built without secrets, but text quoted from a server
# or an exception could still carry a key, so anything shaped like one is masked.
# The pattern is shared with the recorder, which masks bytes.
KEY_SHAPE = r"sk-ant-[A-Za-z0-9_\-]+"
_SECRET = re.compile(KEY_SHAPE)
_SCHEMES = ("bearer", "basic")
_SHORTEST_SECRET = 8  # shorter values (a beta flag, "1") are not secrets; masking them mangles text


def redact(text: str) -> str:
    """Mask anything that looks like an Anthropic key."""
    return _SECRET.sub("sk-ant-***", text)


def secret_values(values: Iterable[str]) -> tuple[str, ...]:
    """The exact values to mask, from credentials and header values: each value and, for
    ``Bearer X`` / ``Basic X`` (the scheme in any case, any whitespace after it), ``X`` alone;
    each also as JSON escapes it. Longest first, so that a token is masked before a part of it
    could be."""
    found: set[str] = set()
    for value in values:
        value = value.strip()
        found.add(value)
        parts = value.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in _SCHEMES:
            found.add(parts[1].strip())
    # Also as a JSON string spells them (a quote or backslash escaped): an excerpt of an error
    # body, or a recorded one, quotes the JSON text.
    found |= {msgspec.json.encode(value)[1:-1].decode() for value in found}
    return tuple(sorted((v for v in found if len(v) >= _SHORTEST_SECRET), key=len, reverse=True))


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` (from :func:`secret_values`) and anything shaped like an
    Anthropic key replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return redact(text)


def _masked_args(args: tuple[object, ...], secrets: tuple[str, ...]) -> tuple[object, ...]:
    return tuple(mask(a, secrets) if isinstance(a, str) else a for a in args)


def _leaks(error: BaseException, secrets: tuple[str, ...]) -> bool:
    try:
        shown = f"{error}\n{error!r}"
    except Exception:  # a broken __str__ is not worth keeping either
        return True
    return mask(shown, secrets) != shown


class _Masked(Exception):
    """Stands in, in an error's chain, for an exception whose text held a secret and could not be
    masked in place (its ``__str__`` reads attributes, not ``args``)."""


def _mask_chain(error: BaseException, secrets: tuple[str, ...]) -> None:
    """Mask the exceptions chained to ``error`` (``__cause__`` and ``__context__``, all the way
    down): a ProviderError in every field, any other exception in its ``args``; one that still
    shows a secret is replaced by a :class:`_Masked` stand-in with the masked text."""
    seen = {id(error)}
    todo = [error]
    while todo:
        current = todo.pop()
        for link in ("__cause__", "__context__"):
            linked: BaseException | None = getattr(current, link)
            if linked is None or id(linked) in seen:
                continue
            seen.add(id(linked))
            if isinstance(linked, ProviderError):
                linked._mask_fields(secrets)
            else:
                linked.args = _masked_args(linked.args, secrets)
                if _leaks(linked, secrets):
                    stand_in = _Masked(f"{type(linked).__name__}: {mask(_text(linked), secrets)}")
                    stand_in.__cause__ = linked.__cause__
                    stand_in.__context__ = linked.__context__
                    stand_in.__suppress_context__ = linked.__suppress_context__
                    setattr(current, link, stand_in)
                    linked = stand_in
            todo.append(linked)


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return type(error).__name__


class ProviderError(Exception):
    """Base of every error raised by provider.

    ``status`` is the HTTP status when one was received, ``error_type`` the API's
    ``error.type`` (e.g. ``"invalid_request_error"``), ``request_id`` the API's request id
    for support tickets, ``retry_after`` the server's hint in seconds when it sent one.
    The cause, when given, is chained as ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        cause: BaseException | None = None,
        *,
        status: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = None if error_type is None else redact(error_type)
        self.request_id = None if request_id is None else redact(request_id)
        self.retry_after = retry_after
        if cause is not None:
            self.__cause__ = cause

    def hide(self, secrets: tuple[str, ...]) -> None:
        """Mask these exact values (from :func:`secret_values`) in every text field of this error
        and of every exception chained to it: a server may quote a credential back anywhere, in
        a message, a ``request-id`` header or an ``error.type``."""
        self._mask_fields(secrets)
        _mask_chain(self, secrets)

    def _mask_fields(self, secrets: tuple[str, ...]) -> None:
        self.message = mask(self.message, secrets)
        if self.error_type is not None:
            self.error_type = mask(self.error_type, secrets)
        if self.request_id is not None:
            self.request_id = mask(self.request_id, secrets)
        self.args = _masked_args(self.args, secrets)

    def __str__(self) -> str:
        extras = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status),
                ("type", self.error_type),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(extras)})" if extras else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class TokenLimitError(ProviderError):
    """The request is too large: 413, or a prompt over the model's context window."""


class RateLimitError(ProviderError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        cause: BaseException | None = None,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        error_type: str | None = "rate_limit_error",
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            cause,
            status=status,
            error_type=error_type,
            request_id=request_id,
            retry_after=retry_after,
        )


class NetworkError(ProviderError):
    """The connection failed, timed out, or the stream ended before ``message_stop``."""


class AuthenticationError(ProviderError):
    """401 or 403: the key is missing, wrong, or lacks permission."""


class OverloadedError(ProviderError):
    """529 ``overloaded_error``, before the stream or in the middle of it."""


def error_for(
    message: str,
    *,
    status: int | None = None,
    error_type: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    cause: BaseException | None = None,
) -> ProviderError:
    """The error class for an API error, by HTTP status and/or the body's ``error.type``.

    One mapping serves HTTP error responses and mid-stream ``event: error`` (no status there).
    """
    cls: type[ProviderError] = ProviderError
    too_long = "prompt is too long" in message.lower()
    if status == 429 or error_type == "rate_limit_error":
        cls = RateLimitError
    elif status == 413 or error_type == "request_too_large" or too_long:
        cls = TokenLimitError
    elif status in (401, 403) or error_type in ("authentication_error", "permission_error"):
        cls = AuthenticationError
    elif status == 529 or error_type == "overloaded_error":
        cls = OverloadedError
    return cls(
        message,
        cause,
        status=status,
        error_type=error_type,
        request_id=request_id,
        retry_after=retry_after,
    )
