"""A loopback Messages endpoint that streams recorded fixtures: ``provider serve``.

Point curl, the official SDK, a gateway or :class:`~provider.AnthropicProvider` at
:attr:`ReplayServer.url` and every ``POST …/v1/messages`` is answered with a recorded fixture,
streamed the way the API streams it: chunked transfer encoding, one SSE event per chunk, each
sent as soon as it is due, so a client sees the first event while the rest is still held.

The modules follow a request through the server:

- :mod:`.connection`: h11 over an anyio socket (asyncio or trio); reads requests, sends replies.
- :mod:`.routing`: is it a Messages request (``…/v1/messages`` or ``…/count_tokens``, POST, a
  JSON body)? Pure.
- :mod:`.choice`: which recording answers it: a fixture or the next step of a sequence, picked
  by the ``x-provider-fixture`` header, checked against the recorded request. Pure once loaded.
- :mod:`.pacing`: the pieces a body is cut into (pure) and the waits between them.
- :mod:`.replies`: the reply value and the Anthropic-style JSON errors. Pure.
- :mod:`.server`: the listener's lifecycle and what tests observe.

Test hooks: ``pause_after_events`` holds a stream until :attr:`ReplayServer.resume` is set,
:attr:`ReplayServer.requests` records what clients sent (secrets redacted),
:attr:`ReplayServer.problems` what could not be answered as recorded, and
:attr:`ReplayServer.disconnects` / :meth:`ReplayServer.wait_for_disconnects` report clients that
went away in the middle of a response.
"""

from __future__ import annotations

from .choice import (
    DEFAULT_FIXTURE,
    FIXTURE_HEADER,
    Catalog,
    Prepared,
    Sequence,
    prepare,
    request_diff,
)
from .connection import MAX_REQUEST_BODY
from .pacing import Pacer, plan_pieces, split_events
from .replies import Reply, error_reply
from .routing import Incoming
from .server import RecordedRequest, ReplayServer, Responder, serve_forever

__all__ = [
    "DEFAULT_FIXTURE",
    "FIXTURE_HEADER",
    "MAX_REQUEST_BODY",
    "Catalog",
    "Incoming",
    "Pacer",
    "Prepared",
    "RecordedRequest",
    "ReplayServer",
    "Reply",
    "Responder",
    "Sequence",
    "error_reply",
    "plan_pieces",
    "prepare",
    "request_diff",
    "serve_forever",
    "split_events",
]
