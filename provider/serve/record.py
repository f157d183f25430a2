"""A responder that forwards each request upstream and records the exchange: a cassette.

The request goes to ``upstream`` (the real API, or the gateway the application used) and the reply
streams back to the client as it arrives, while :class:`~provider.replay.RecordingTransport` writes
it to the cassette folder: ``001.sse`` (or ``.json`` for a JSON reply …) with its sidecar, then
``002.sse`` …, the fixture format of :mod:`provider.fixtures`. Each sidecar also gets the request
it answered (its JSON body, never headers), so a replay can check it is asked the same. Every
credential the request carried is masked in both files, by the recorder's own masking.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import msgspec

from ..endpoint import secrets_of
from ..errors import mask, redact
from ..fixtures import (
    BODY_SUFFIXES,
    META_SUFFIX,
    encode_meta,
    fixture_paths,
    load_meta,
    meta_path,
)
from ..replay import RecordingTransport
from .replies import Reply, error_reply
from .routing import Incoming

__all__ = ["CassetteRecorder", "clear_recordings", "upstream_url"]

# Not forwarded: the connection's own framing and routing, and the encoding (asked as identity,
# so recordings are readable text that masking can see into).
_REQUEST_DROP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "te",
        "upgrade",
        "accept-encoding",
        "proxy-authorization",
    }
)
_RESPONSE_DROP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te"}
)
_TIMEOUT = httpx.Timeout(600.0, connect=30.0)  # a long reply with thinking takes minutes


def upstream_url(base: str, path: str, query: str = "") -> httpx.URL:
    """``path`` (``/v1/messages``) under the upstream base URL, keeping its prefix; a base that
    ends in ``/v1`` does not double it."""
    url = httpx.URL(base)
    prefix = url.path.rstrip("/")
    if prefix.endswith("/v1") and path.startswith("/v1/"):
        prefix = prefix[: -len("/v1")]
    return url.copy_with(path=prefix + path, query=query.encode() or None)


def clear_recordings(folder: Path) -> None:
    """Remove the recordings of ``folder`` (body files and sidecars), nothing else."""
    if not folder.is_dir():
        return
    for body in fixture_paths(folder):
        meta_path(body).unlink(missing_ok=True)
        body.unlink()
    for stray in folder.glob("*" + META_SUFFIX):
        stray.unlink()


def _suffix_for(content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    for suffix, implied in BODY_SUFFIXES.items():
        if media == implied:
            return suffix
    return ".txt"


class _ClientTransport(httpx.AsyncBaseTransport):
    """Sends through a whole client, so the environment's proxies and certificates apply."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.client.send(request, stream=True)


class CassetteRecorder:
    """Forward each request to ``upstream`` and record the exchanges in ``folder``, in order.

    A responder for :class:`~provider.serve.ReplayServer`; call :meth:`aclose` when done (the
    server does, on exit). ``paths`` lists the body files written.
    """

    def __init__(self, folder: str | os.PathLike[str], upstream: str) -> None:
        self.folder = Path(folder)
        self.upstream = upstream
        self.paths: list[Path] = []
        self._client: httpx.AsyncClient | None = None

    async def respond(self, incoming: Incoming) -> Reply:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT)
        target = self.folder / f"{len(self.paths) + 1:03d}.sse"
        self.paths.append(target)
        headers = [
            (name, value)
            for name, value in incoming.raw_headers
            if name.decode("latin-1").lower() not in _REQUEST_DROP
        ]
        headers.append((b"accept-encoding", b"identity"))
        request = self._client.build_request(
            incoming.method,
            upstream_url(self.upstream, incoming.path, incoming.query),
            headers=headers,
            content=incoming.body,
        )
        recorder = RecordingTransport(_ClientTransport(self._client), target)
        try:
            response = await recorder.handle_async_request(request)
        except httpx.HTTPError as exc:
            self.paths.pop()
            problem = redact(f"recording: the request to {self.upstream} failed: {exc!r}")
            reply = error_reply(502, problem, incoming.request_id)
            reply.problem = problem
            return reply

        async def close() -> None:
            await response.aclose()  # the recorder closes and masks the body file
            self.paths[self.paths.index(target)] = _finish(target, incoming, request)

        return Reply(
            status=response.status_code,
            headers=[
                (name, value)
                for name, value in response.headers.multi_items()
                if name not in _RESPONSE_DROP
            ],
            stream=response.aiter_raw(),
            close=close,
            fixture=target.name,
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _finish(target: Path, incoming: Incoming, request: httpx.Request) -> Path:
    """Name the body by its content type and add the request to the sidecar, masked."""
    side = meta_path(target)
    meta = load_meta(side)
    # The request body, masked by the recorder's rule (the secrets as JSON spells them too).
    text = mask(msgspec.json.encode(incoming.json).decode(), secrets_of(request.headers))
    meta.request = msgspec.json.decode(text)
    side.write_bytes(encode_meta(meta))
    suffix = _suffix_for(meta.headers.get("content-type", ""))
    if suffix == target.suffix:
        return target
    renamed = target.with_suffix(suffix)
    target.rename(renamed)
    return renamed
