"""The pieces under the plugin, without pytester: where a recording is forwarded, what a re-record
clears, how a cassette is named, and an upstream that cannot be reached."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from provider.serve import ReplayServer
from provider.serve.background import BackgroundServer
from provider.serve.record import CassetteRecorder, clear_recordings, upstream_url
from provider.testing import _test_name

REQUEST = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages?beta=true"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages?beta=true"),
        ("https://gw.example/anthropic", "https://gw.example/anthropic/v1/messages?beta=true"),
        ("https://gw.example/anthropic/v1/", "https://gw.example/anthropic/v1/messages?beta=true"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001/v1/messages?beta=true"),
    ],
)
def test_upstream_url_keeps_the_prefix_and_never_doubles_v1(base: str, expected: str) -> None:
    assert str(upstream_url(base, "/v1/messages", "beta=true")) == expected


def test_clearing_a_cassette_removes_recordings_only(tmp_path: Path) -> None:
    for name in ("001.sse", "001.meta.json", "002.json", "002.meta.json", "003.meta.json"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "notes.md").write_text("kept")
    (tmp_path / "sub").mkdir()
    clear_recordings(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md", "sub"]
    clear_recordings(tmp_path / "missing")  # nothing to clear is fine


class _Item:
    def __init__(self, name: str, original: str, ids: str, params: dict[str, object]) -> None:
        self.name, self.originalname = name, original
        self.callspec = type("CallSpec", (), {"id": ids, "params": params})()


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (_Item("test_a[asyncio]", "test_a", "asyncio", {"anyio_backend": "asyncio"}), "test_a"),
        (
            _Item("test_a[trio-en]", "test_a", "trio-en", {"anyio_backend": "trio", "lang": 0}),
            "test_a-en",
        ),
        (_Item("test_b[x/y z]", "test_b", "x/y z", {"p": 1}), "test_b-x-y-z"),
    ],
)
def test_a_cassette_is_named_after_the_test_less_the_anyio_backend(
    item: _Item, expected: str
) -> None:
    assert _test_name(item) == expected  # type: ignore[arg-type]


def test_an_unreachable_upstream_is_a_502_and_a_problem(tmp_path: Path) -> None:
    with BackgroundServer(ReplayServer(CassetteRecorder(tmp_path, "http://127.0.0.1:9"))) as server:
        response = httpx.post(server.url + "/v1/messages", json=REQUEST)
    assert response.status_code == 502
    assert "the request to http://127.0.0.1:9 failed" in response.json()["error"]["message"]
    assert len(server.problems) == 1
    assert list(tmp_path.iterdir()) == []
