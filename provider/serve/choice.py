"""Which recording answers a request: a catalog of fixtures and sequences, chosen by name.

A source directory holds fixtures (``NAME.sse``, ``NAME.json`` … with their sidecars, see
:mod:`provider.fixtures`) and sequences, served one step per request in order, written either way:

- ``sequences/NAME.json``: a JSON list of the directory's fixture names (the fixture corpus's
  multi-turn conversations);
- any other subdirectory ``NAME/``: its recordings in the order of their names (``001.sse``,
  ``002.sse`` …). A pytest cassette (:mod:`provider.testing`) is such a folder.

The ``x-provider-fixture: NAME`` request header picks a fixture or a sequence (``NAME/STEP`` picks
one step of a sequence); without it the catalog's default answers.

A step whose sidecar holds the request it answered is served only to that request (the same JSON
body, headers aside): any other request gets a 400 with a diff, and so does a request past the
sequence's end. Both are also kept as the reply's ``problem``, for a test to report.

Everything is loaded and checked when the catalog is built, so a bad fixture fails then, not
mid-request; answering is pure (only a sequence's position changes).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import h11
import msgspec

from ..errors import ProviderError
from ..fixtures import Fixture, fixture_paths, load_fixture
from .pacing import plan_pieces
from .replies import Reply, error_reply
from .routing import Incoming

__all__ = [
    "DEFAULT_FIXTURE",
    "FIXTURE_HEADER",
    "Catalog",
    "Prepared",
    "Sequence",
    "prepare",
    "request_diff",
]

#: Request header that picks a fixture or a sequence by name (file name without extension).
FIXTURE_HEADER = "x-provider-fixture"
#: The fixture a directory serves when a request names none.
DEFAULT_FIXTURE = "haiku"
#: The subdirectory whose ``NAME.json`` files list the fixtures of a sequence.
SEQUENCE_LISTS = "sequences"

# Framing headers are h11's job; copied from a recording they would contradict the chunking.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te"}
)


class Prepared(msgspec.Struct, frozen=True):
    """A fixture with its body already cut into pieces."""

    fixture: Fixture
    pieces: list[bytes]
    pause_index: int | None
    streamed: bool


def prepare(
    fixture: Fixture, chunk_size: int | None = None, pause_after_events: int | None = None
) -> Prepared:
    """Check that ``fixture`` can be sent over HTTP/1.1 and cut its body into pieces."""
    where = f"fixture {fixture.name!r}"
    if not 200 <= fixture.status <= 599 or fixture.status in (204, 304):
        raise ProviderError(f"{where}: status {fixture.status} cannot carry a response body")
    try:
        h11.Response(status_code=fixture.status, headers=list(fixture.headers.items()))
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        raise ProviderError(f"{where}: headers cannot be sent over HTTP/1.1: {exc}", exc) from exc
    streamed = fixture.headers.get("content-type", "").startswith("text/event-stream")
    if not streamed:
        return Prepared(fixture, [fixture.body], None, False)
    pieces, pause_index = plan_pieces(
        fixture.body, chunk_size=chunk_size, pause_after_events=pause_after_events
    )
    return Prepared(fixture, pieces, pause_index, True)


def fixture_reply(prepared: Prepared, request_id: str, name: str | None = None) -> Reply:
    """The reply that sends ``prepared`` as recorded (its own request-id, else ``request_id``)."""
    fixture = prepared.fixture
    headers = [(k, v) for k, v in fixture.headers.items() if k not in _HOP_BY_HOP]
    if "request-id" not in fixture.headers:
        headers.append(("request-id", request_id))
    return Reply(
        status=fixture.status,
        headers=headers,
        pieces=prepared.pieces,
        pause_index=prepared.pause_index,
        streamed=prepared.streamed,
        fixture=name or fixture.name,
    )


def _shown(body: Any) -> list[str]:
    text = msgspec.json.format(msgspec.json.encode(body, order="sorted"), indent=2).decode()
    return [line + "\n" for line in text.splitlines()]


def request_diff(recorded: Any, incoming: Incoming) -> str | None:
    """None when ``incoming`` sends the JSON body ``recorded``; else a unified diff, recorded
    first, keys sorted (their order does not matter)."""
    if recorded == incoming.json:
        return None
    lines = difflib.unified_diff(_shown(recorded), _shown(incoming.json), "recorded", "sent")
    return "".join(lines)


class Sequence:
    """Recordings served one per request, in order: a sequence folder, or a pytest cassette.

    ``where`` names it in messages; ``hint`` (e.g. how to re-record) ends every problem message.
    """

    def __init__(self, name: str, steps: list[Prepared], *, where: str, hint: str = "") -> None:
        self.name = name
        self.steps = steps
        self.where = where
        self.hint = hint
        #: Requests answered so far (the next one gets step number ``served``).
        self.served = 0

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        hint: str = "",
        chunk_size: int | None = None,
        pause_after_events: int | None = None,
    ) -> Sequence:
        """The recordings of ``directory`` in name order (none is fine: an empty cassette)."""
        root = Path(directory)
        steps = [
            prepare(load_fixture(path), chunk_size, pause_after_events)
            for path in fixture_paths(root)
        ]
        return cls(name or root.name, steps, where=str(root), hint=hint)

    @classmethod
    def listed(cls, listing: Path, fixtures: dict[str, Prepared]) -> Sequence:
        """The sequence a ``sequences/NAME.json`` file lists: fixture names, in order."""
        try:
            names = msgspec.json.decode(listing.read_bytes(), type=list[str])
        except (OSError, msgspec.DecodeError) as exc:
            raise ProviderError(f"{listing}: not a JSON list of fixture names: {exc}", exc) from exc
        unknown = [name for name in names if name not in fixtures]
        if unknown:
            raise ProviderError(f"{listing}: no fixture named {', '.join(map(repr, unknown))}")
        return cls(listing.stem, [fixtures[name] for name in names], where=str(listing))

    def answer(self, incoming: Incoming) -> Reply:
        """The next recording, if ``incoming`` is the request it answered."""
        index = self.served
        self.served += 1
        if index >= len(self.steps):
            problem = (
                f"request {index + 1} is beyond the end of {self.where}: "
                f"it holds {len(self.steps)} recording(s)"
            )
            return self._refuse(problem, incoming)
        return self.step(index, incoming)

    def step(self, index: int, incoming: Incoming) -> Reply:
        """Recording number ``index`` (from 0), if ``incoming`` is the request it answered."""
        prepared = self.steps[index]
        recorded = prepared.fixture.request
        diff = None if recorded is None else request_diff(recorded, incoming)
        if diff is not None:
            problem = (
                f"request {index + 1} differs from the one recorded in {self.where} "
                f"({prepared.fixture.name}):\n{diff}"
            )
            return self._refuse(problem, incoming)
        return fixture_reply(prepared, incoming.request_id, f"{self.name}/{prepared.fixture.name}")

    @property
    def unused(self) -> int:
        """Recordings not served yet."""
        return max(len(self.steps) - self.served, 0)

    def _refuse(self, problem: str, incoming: Incoming) -> Reply:
        if self.hint:
            problem = f"{problem}\n{self.hint}"
        reply = error_reply(400, problem, incoming.request_id)
        reply.problem = problem
        return reply


class Catalog:
    """Named fixtures and sequences, and the one a request naming none gets.

    ``single`` serves one fixture to every request, whatever it names.
    """

    def __init__(
        self,
        fixtures: dict[str, Prepared] | None = None,
        sequences: dict[str, Sequence] | None = None,
        *,
        default: str | None = DEFAULT_FIXTURE,
        single: Prepared | None = None,
    ) -> None:
        self.fixtures = fixtures or {}
        self.sequences = sequences or {}
        self.default = default
        self.single = single

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str],
        *,
        default: str | None = DEFAULT_FIXTURE,
        chunk_size: int | None = None,
        pause_after_events: int | None = None,
    ) -> Catalog:
        """A fixture file (served for every request) or a directory of fixtures and sequences."""
        root = Path(source)
        if root.is_file():
            return cls(single=prepare(load_fixture(root), chunk_size, pause_after_events))
        if not root.is_dir():
            raise ProviderError(f"Fixture source not found: {root}")
        fixtures: dict[str, Prepared] = {}
        for path in fixture_paths(root):
            fixture = load_fixture(path)
            if fixture.name in fixtures:
                raise ProviderError(f"{root}: two fixtures are named {fixture.name!r}")
            fixtures[fixture.name] = prepare(fixture, chunk_size, pause_after_events)
        sequences: dict[str, Sequence] = {}
        for sub in sorted(root.iterdir()):
            if not sub.is_dir() or sub.name.startswith((".", "_")):
                continue
            if sub.name == SEQUENCE_LISTS:
                found = [Sequence.listed(path, fixtures) for path in sorted(sub.glob("*.json"))]
            else:
                found = [
                    Sequence.load(sub, chunk_size=chunk_size, pause_after_events=pause_after_events)
                ]
            for sequence in found:
                if sequence.name in fixtures or sequence.name in sequences:
                    raise ProviderError(
                        f"{root}: two fixtures or sequences are named {sequence.name!r}"
                    )
                sequences[sequence.name] = sequence
        if not fixtures and not sequences:
            raise ProviderError(f"No fixtures in {root}")
        # The usual default may be missing (a request must then name one); a chosen one may not.
        chosen = default not in (None, DEFAULT_FIXTURE)
        if chosen and default not in fixtures and default not in sequences:
            raise ProviderError(f"{root}: no fixture or sequence named {default!r}")
        return cls(fixtures, sequences, default=default)

    @property
    def names(self) -> list[str]:
        """The names a request can pick (empty for a single file)."""
        return sorted([*self.fixtures, *self.sequences])

    def choose(self, incoming: Incoming) -> Reply:
        """The reply for ``incoming``, by its ``x-provider-fixture`` header or the default."""
        if self.single is not None:
            return fixture_reply(self.single, incoming.request_id)
        request_id = incoming.request_id
        names = ", ".join(self.names)
        name = incoming.headers.get(FIXTURE_HEADER)
        if name is None:
            if self.default is None or self.default not in self.names:
                return error_reply(
                    400,
                    f"No {FIXTURE_HEADER} header and no default fixture {self.default!r}; "
                    f"available: {names}",
                    request_id,
                )
            name = self.default
        name = name.strip()
        if name in self.fixtures:
            return fixture_reply(self.fixtures[name], request_id)
        if name in self.sequences:
            return self.sequences[name].answer(incoming)
        sequence_name, _, step = name.partition("/")
        sequence = self.sequences.get(sequence_name)
        if sequence is not None:
            for index, prepared in enumerate(sequence.steps):
                if prepared.fixture.name == step:
                    return sequence.step(index, incoming)
        return error_reply(404, f"Unknown fixture {name!r}; available: {names}", request_id)

    async def respond(self, incoming: Incoming) -> Reply:
        """:meth:`choose`, as the server's responder."""
        return self.choose(incoming)
