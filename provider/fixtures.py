"""Recorded fixtures: a response body on disk, plus an optional sidecar with its metadata.

A fixture is a body file, ``NAME.sse`` (an event stream), ``NAME.json`` (a JSON error body) or
``NAME.html`` / ``NAME.txt`` (a gateway page). A body file alone is a complete fixture: status 200
and the content type its extension implies, so a capture made with ``curl -N … > NAME.sse`` can be
dropped in as is.

The optional sidecar ``NAME.meta.json`` beside it adds what the body cannot say::

    {
      "description": "429 from the API, with a retry-after hint",
      "status": 429,
      "headers": {"content-type": "application/json", "retry-after": "7"},
      "expect": {"error": "RateLimitError", "error_status": 429, "retry_after": 7.0}
    }

``expect`` is what a correct client yields for this body (see :class:`Expect`); tests compare
against it. ``request`` is optional: the Messages API JSON body that produces this response (for
multi-turn tests, which send it, and for examples), never its headers. Nothing in a sidecar may
hold a secret: the loader refuses unknown keys, request-only headers such as ``x-api-key`` and
anything shaped like a key, and the error names the file and the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

from .errors import ProviderError, redact

__all__ = [
    "BODY_SUFFIXES",
    "FORBIDDEN_HEADERS",
    "META_SUFFIX",
    "Expect",
    "ExpectUsage",
    "Fixture",
    "FixtureMeta",
    "ToolCall",
    "encode_meta",
    "fixture_paths",
    "load_fixture",
    "load_meta",
    "meta_path",
]

#: Body file extensions and the content type each implies when no sidecar says otherwise.
BODY_SUFFIXES: dict[str, str] = {
    ".sse": "text/event-stream",
    ".json": "application/json",
    ".html": "text/html",
    ".txt": "text/plain",
}
META_SUFFIX = ".meta.json"

# Headers that belong to a request or a session, never to a recorded response's metadata.
FORBIDDEN_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)


class ToolCall(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One complete tool call, as a ToolUseChunk carries it."""

    id: str
    name: str
    input: dict[str, Any]


class ExpectUsage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The message's final usage: the sums of every UsageChunk field over the stream."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_1h_tokens: int = 0


class Expect(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """What a correct client yields for a fixture. Every field is optional: None means unchecked.

    ``text`` / ``thinking`` are the joined TextChunk / ThinkingChunk pieces, ``tool_calls`` the
    ToolUseChunks in order, ``usage`` the summed UsageChunks, ``stop_reason`` / ``stop_sequence``
    the StopChunk. For a failing fixture, ``error`` is the class name raised
    (``"OverloadedError"``), with its ``error_status`` and ``retry_after``, and
    ``text_before_error`` the text yielded before it.
    """

    text: str | None = None
    thinking: str | None = None
    tool_calls: list[ToolCall] | None = None
    usage: ExpectUsage | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    error: str | None = None
    error_status: int | None = None
    retry_after: float | None = None
    text_before_error: str | None = None


class FixtureMeta(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The sidecar file ``NAME.meta.json``: response metadata and, optionally, the request body
    that produces the response (``request``, the Messages API JSON; never headers or keys)."""

    description: str | None = None
    status: int = 200
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    expect: Expect | None = None
    request: dict[str, Any] | None = None


def _default_headers() -> dict[str, str]:
    return {"content-type": "text/event-stream"}


class Fixture(msgspec.Struct, kw_only=True):
    """A recorded response: its body bytes, status, headers (lower-case names), expectations,
    and the request body that produces it when the sidecar gives one."""

    name: str
    body: bytes
    status: int = 200
    headers: dict[str, str] = msgspec.field(default_factory=_default_headers)
    expect: Expect | None = None
    description: str | None = None
    request: dict[str, Any] | None = None


_meta_decoder = msgspec.json.Decoder(FixtureMeta)
_meta_encoder = msgspec.json.Encoder()


def meta_path(body: str | os.PathLike[str]) -> Path:
    """The sidecar path of a body file: ``haiku.sse`` -> ``haiku.meta.json``."""
    path = Path(body)
    return path.with_name(_stem(path) + META_SUFFIX)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in BODY_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _is_body(path: Path) -> bool:
    return (
        path.is_file()
        and not path.name.endswith(META_SUFFIX)
        and not path.name.startswith(".")
        and path.suffix in BODY_SUFFIXES
    )


def fixture_paths(directory: str | os.PathLike[str]) -> list[Path]:
    """The body files of ``directory``, sorted by name (sidecars and other files left out)."""
    root = Path(directory)
    if not root.is_dir():
        raise ProviderError(f"Fixture directory not found: {root}")
    return sorted((p for p in root.iterdir() if _is_body(p)), key=lambda p: p.name)


def _check_headers(where: Path, headers: dict[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        if name in FORBIDDEN_HEADERS:
            raise ProviderError(
                f"{where}: header {key!r} is request or session data and must not be in a fixture"
            )
        if redact(value) != value:
            raise ProviderError(f"{where}: header {key!r} looks like it holds an API key")
        lowered[name] = value
    return lowered


def load_meta(path: str | os.PathLike[str]) -> FixtureMeta:
    """Read and validate one sidecar file."""
    where = Path(path)
    try:
        raw = where.read_bytes()
    except OSError as exc:
        raise ProviderError(f"Cannot read fixture sidecar {where}: {exc.strerror}", exc) from exc
    try:
        meta = _meta_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # msgspec names the key: "Object contains unknown field `statuz`", "... - at `$.status`".
        raise ProviderError(f"{where}: invalid fixture sidecar: {exc}", exc) from exc
    except msgspec.DecodeError as exc:
        raise ProviderError(f"{where}: fixture sidecar is not valid JSON: {exc}", exc) from exc
    if not 100 <= meta.status <= 599:
        raise ProviderError(f"{where}: key 'status' must be an HTTP status, got {meta.status}")
    meta.headers = _check_headers(where, meta.headers)
    if meta.request is not None:
        text = _meta_encoder.encode(meta.request).decode()
        if redact(text) != text:
            raise ProviderError(f"{where}: key 'request' looks like it holds an API key")
    return meta


def load_fixture(path: str | os.PathLike[str]) -> Fixture:
    """Load the body file ``path`` and, when it exists, its ``NAME.meta.json`` sidecar.

    Without a sidecar the fixture is a 200 with the content type of the extension
    (``.sse``: ``text/event-stream``). Errors are ProviderError naming the file.
    """
    body_path = Path(path)
    if body_path.name.endswith(META_SUFFIX):
        raise ProviderError(f"{body_path} is a fixture sidecar: pass the body file beside it")
    try:
        body = body_path.read_bytes()
    except OSError as exc:
        raise ProviderError(f"Cannot read fixture {body_path}: {exc.strerror}", exc) from exc
    content_type = BODY_SUFFIXES.get(body_path.suffix, "text/event-stream")
    headers = {"content-type": content_type}
    side = meta_path(body_path)
    if side.exists():
        meta = load_meta(side)
        headers.update(meta.headers)
        return Fixture(
            name=_stem(body_path),
            body=body,
            status=meta.status,
            headers=headers,
            expect=meta.expect,
            description=meta.description,
            request=meta.request,
        )
    return Fixture(name=_stem(body_path), body=body, headers=headers)


def encode_meta(meta: FixtureMeta) -> bytes:
    """A sidecar's bytes: indented JSON with a final newline, stable for diffs."""
    return msgspec.json.format(_meta_encoder.encode(meta), indent=2) + b"\n"
