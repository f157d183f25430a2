"""A pytest plugin that replays (or records) the Messages API traffic of the application under test.

Installed with the package (a ``pytest11`` entry point); it does nothing until a test asks for
the ``provider_cassette`` fixture::

    def test_summary(provider_cassette):
        assert "sky" in my_app.summarize("Why is the sky blue?")

For the test's duration the fixture serves a loopback Messages endpoint in a thread of its own and
points ``ANTHROPIC_BASE_URL`` at it, so every client the application builds (this package's
providers, sync or async, the official SDK, plain httpx) talks to it, in sync, asyncio and trio
tests alike. It replays the test's cassette: the folder
``cassettes/<test module>/<test name>/`` beside the test file (with the parameter ids, less the
anyio backend's), one recording per request in order (``001.sse`` + ``001.meta.json``,
``002.sse`` …, the fixture format of :mod:`provider.fixtures`).

- Each request is compared with the one recorded (its JSON body: model, system, messages, tools,
  options; not headers). A difference fails the test with a diff and the command that re-records
  it; so does a request past the cassette's end, one recording left unused, or a missing cassette.
- ``pytest --provider-record`` (or ``PROVIDER_RECORD=1``) records instead: requests go to the real
  API (or to ``ANTHROPIC_BASE_URL`` as it was) and each exchange is written with every credential
  masked, replacing the cassette's recordings.
- ``@pytest.mark.provider_cassette("name")`` picks another cassette (a folder name, resolved
  beside the default ones, or an absolute path), e.g. one shared by a test's parametrisations.

The fixture's value is a :class:`Cassette`: its folder, whether it records, the endpoint's URL
and the requests it answered.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .serve import RecordedRequest, ReplayServer, Sequence

__all__ = ["PLACEHOLDER_KEY", "RECORD_ENV", "Cassette", "provider_cassette"]

#: Set to 1 to record, as ``--provider-record`` does.
RECORD_ENV = "PROVIDER_RECORD"
#: The key a replay sets when the environment has none: clients refuse to start without one.
PLACEHOLDER_KEY = "sk-ant-replay-placeholder-not-a-key"
_MARKER = "provider_cassette"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


class Cassette:
    """The ``provider_cassette`` fixture's value, for the test to inspect."""

    def __init__(
        self, path: Path, recording: bool, server: ReplayServer, sequence: Sequence | None
    ) -> None:
        #: The cassette folder.
        self.path = path
        #: True under ``--provider-record``.
        self.recording = recording
        #: The loopback endpoint ``ANTHROPIC_BASE_URL`` points at.
        self.url = server.url
        self._server = server
        self._sequence = sequence
        #: Set once its problems have failed the test.
        self.reported = False

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests answered so far, credentials redacted."""
        return list(self._server.requests)

    def problems(self) -> list[str]:
        """What went wrong: requests that differ, go past the end, recordings left unused."""
        found = list(self._server.problems)
        sequence = self._sequence
        if sequence is not None and not found and sequence.unused:
            found.append(
                f"the test made {sequence.served} request(s) but {self.path} holds "
                f"{len(sequence.steps)} recording(s)\n{sequence.hint}"
            )
        return found

    def __repr__(self) -> str:
        mode = "recording" if self.recording else "replaying"
        return f"<Cassette {mode} {self.path} at {self.url}>"


_CASSETTE = pytest.StashKey[Cassette]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("provider", "provider: record and replay Messages API traffic")
    group.addoption(
        "--provider-record",
        action="store_true",
        default=False,
        help=(
            "provider_cassette: record the tests' Messages API traffic instead of replaying it "
            f"(also {RECORD_ENV}=1)"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(name): the cassette the provider_cassette fixture replays: a folder name "
        "beside the default ones (cassettes/<module>/), or an absolute path",
    )


def _recording(config: pytest.Config) -> bool:
    return bool(config.getoption("provider_record")) or os.environ.get(RECORD_ENV, "") not in (
        "",
        "0",
    )


def _cassette_path(item: pytest.Item) -> Path:
    module = Path(item.path)
    base = module.parent / "cassettes" / module.stem
    marker = item.get_closest_marker(_MARKER)
    if marker is not None and marker.args:
        return base / str(marker.args[0])  # an absolute path stays as it is
    return base / _test_name(item)


def _test_name(item: pytest.Item) -> str:
    """The test's name and parameter ids, less the anyio backend's: asyncio and trio runs of a
    test send the same requests, so they share a cassette."""
    name = getattr(item, "originalname", None) or item.name
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        ids = callspec.id.split("-")
        backend = callspec.params.get("anyio_backend")
        if isinstance(backend, str) and backend in ids:
            ids.remove(backend)
        name = "-".join([name, *ids])
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "test"


def _record_hint(item: pytest.Item) -> str:
    return (
        f"Record it again with: pytest --provider-record {shlex.quote(item.nodeid)} "
        f"(or {RECORD_ENV}=1), with ANTHROPIC_API_KEY set"
    )


@pytest.fixture
def provider_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """Replay the test's cassette to every client the application builds (see the module)."""
    from .errors import ProviderError
    from .serve import Catalog, ReplayServer, Sequence
    from .serve.background import BackgroundServer
    from .serve.record import CassetteRecorder, clear_recordings

    item = request.node
    path = _cassette_path(item)
    hint = _record_hint(item)
    recording = _recording(request.config)
    sequence: Sequence | None = None
    if recording:
        upstream = os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        clear_recordings(path)
        path.mkdir(parents=True, exist_ok=True)
        server = ReplayServer(CassetteRecorder(path, upstream))
    else:
        if not path.is_dir():
            pytest.fail(
                f"No cassette for {item.nodeid} at {path}.\n"
                + hint.replace("Record it again", "Record it"),
                pytrace=False,
            )
        try:
            sequence = Sequence.load(path, hint=hint)
        except ProviderError as exc:
            pytest.fail(f"Cassette {path} cannot be read: {exc}\n{hint}", pytrace=False)
        server = ReplayServer(Catalog(sequences={"cassette": sequence}, default="cassette"))
    # Its own MonkeyPatch, not the test's: the environment is restored before the server stops.
    with BackgroundServer(server), pytest.MonkeyPatch.context() as env:
        env.setenv("ANTHROPIC_BASE_URL", server.url)
        if not recording and not (
            os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")
        ):
            env.setenv("ANTHROPIC_API_KEY", PLACEHOLDER_KEY)  # clients refuse to start without
        _bypass_proxies(env)
        cassette = Cassette(path, recording, server, sequence)
        item.stash[_CASSETTE] = cassette
        try:
            yield cassette
        finally:
            del item.stash[_CASSETTE]
    # Requests made after the test's call (by other fixtures' teardown), or a pytest too old
    # for the call wrapper below: reported here, as an error of the teardown.
    if not cassette.reported:
        _fail_on_problems(cassette)


def _bypass_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment must not carry the loopback requests."""
    if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name)
        monkeypatch.setenv(name, f"127.0.0.1,{current}" if current else "127.0.0.1")


def _fail_on_problems(cassette: Cassette) -> None:
    problems = cassette.problems()
    if problems:
        cassette.reported = True
        pytest.fail(f"provider_cassette {cassette.path}:\n" + "\n".join(problems), pytrace=False)


def _check_after_call(item: pytest.Item) -> None:
    cassette = item.stash.get(_CASSETTE, None)
    if cassette is not None:
        _fail_on_problems(cassette)


if pytest.version_tuple >= (8,):  # new-style hook wrappers (pluggy 1.2)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
        """Fail a test whose requests did not match its cassette, with the reason rather than
        the error the application raised on the refusing reply."""
        try:
            result = yield
        except BaseException:
            _check_after_call(item)
            raise
        _check_after_call(item)
        return result
