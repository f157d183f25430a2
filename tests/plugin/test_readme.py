"""README's "Testing your application": its app, its test and its two commands, run as written
(the record command against a fake upstream on 127.0.0.1 instead of the real API)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import anthropic  # noqa: F401  imported once here, not again by every inner session
import pytest

from .support import API_KEY, assert_no_secret, upstream

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def section() -> str:
    text = README.read_text()
    start = text.index("\n## Testing your application\n")
    return text[start : text.find("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(section()) if lang == language]


def commands() -> list[tuple[dict[str, str], list[str]]]:
    """Each command line of the sh block: its environment assignments and pytest's arguments."""
    [sh] = blocks("sh")
    parsed = []
    for line in sh.splitlines():
        words = shlex.split(line, comments=True)
        env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
        rest = [w for w in words if not ("=" in w and not w.startswith("-"))]
        assert rest[0] == "pytest", line
        parsed.append((env, rest[1:]))
    return parsed


def test_the_readme_example_records_then_replays_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PROVIDER_RECORD", raising=False)
    files = {}
    for code in blocks("python"):
        first, _, body = code.partition("\n")
        files[first.removeprefix("# ").removesuffix(".py")] = body
    assert sorted(files) == ["app", "test_app"]
    pytester.makepyfile(**files)
    (record_env, record_args), (replay_env, replay_args) = commands()
    assert record_args == ["--provider-record", "test_app.py"] and not replay_env
    assert record_env == {"ANTHROPIC_API_KEY": "sk-ant-..."}

    with upstream() as server, monkeypatch.context() as env:
        env.setenv("ANTHROPIC_API_KEY", API_KEY)  # a key that must not reach the cassette
        env.setenv("ANTHROPIC_BASE_URL", server.url)  # the fake upstream instead of the API
        # anyio runs the test under asyncio and trio (a dev dependency): one cassette for both.
        pytester.runpytest("-p", "no:hypothesispytest", *record_args).assert_outcomes(passed=2)
        assert len(server.requests) == 2
    cassette = pytester.path / "cassettes" / "test_app" / "test_haiku"
    assert "cassettes/test_app/test_haiku/" in blocks("sh")[0]
    assert sorted(p.name for p in cassette.iterdir()) == ["001.meta.json", "001.sse"]
    assert_no_secret(cassette)

    # Replay: no upstream any more, no key.
    pytester.runpytest("-p", "no:hypothesispytest", *replay_args).assert_outcomes(passed=2)
    # The app changes its question: the test fails, saying how.
    app = pytester.path / "app.py"
    app.write_text(app.read_text().replace("Write a haiku", "Write a limerick"))
    result = pytester.runpytest("-p", "no:hypothesispytest", *replay_args)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*differs from the one recorded*", "*Write a limerick*"])
