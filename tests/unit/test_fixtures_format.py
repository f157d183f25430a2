"""The fixture format: a body file alone, a sidecar, and the loader's errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provider.errors import ProviderError
from provider.fixtures import (
    Expect,
    ExpectUsage,
    Fixture,
    FixtureMeta,
    ToolCall,
    encode_meta,
    fixture_paths,
    load_fixture,
    load_meta,
    meta_path,
)

SSE = b'event: ping\r\ndata: {"type": "ping"}\r\n\r\n'


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def sidecar(path: Path, meta: dict[str, Any]) -> Path:
    return write(meta_path(path), json.dumps(meta))


def test_plain_sse_file_is_a_complete_fixture(tmp_path: Path) -> None:
    body = write(tmp_path / "capture.sse", SSE)
    fixture = load_fixture(body)
    assert fixture.name == "capture"
    assert fixture.body == SSE  # byte for byte: CRLF kept, nothing decoded
    assert fixture.status == 200
    assert fixture.headers == {"content-type": "text/event-stream"}
    assert fixture.expect is None


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("e.json", "application/json"), ("e.html", "text/html"), ("e.txt", "text/plain")],
)
def test_content_type_follows_the_extension(
    tmp_path: Path, filename: str, content_type: str
) -> None:
    fixture = load_fixture(write(tmp_path / filename, b"x"))
    assert fixture.headers == {"content-type": content_type}
    assert fixture.name == "e"


def test_struct_default_headers_are_an_event_stream() -> None:
    fixture = Fixture(name="x", body=b"")
    assert fixture.headers == {"content-type": "text/event-stream"}
    assert fixture.status == 200
    # Each fixture gets its own dict.
    fixture.headers["x"] = "y"
    assert Fixture(name="y", body=b"").headers == {"content-type": "text/event-stream"}


def test_sidecar_adds_status_headers_and_expect(tmp_path: Path) -> None:
    body = write(tmp_path / "err.json", b'{"type":"error"}')
    sidecar(
        body,
        {
            "description": "a 429",
            "status": 429,
            "headers": {"Retry-After": "7", "Request-Id": "req_011CABC"},
            "expect": {
                "text": "hi",
                "thinking": "hmm",
                "tool_calls": [{"id": "toolu_01", "name": "f", "input": {"a": [1, 2]}}],
                "usage": {"input_tokens": 3, "cache_write_1h_tokens": 2},
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "error": "RateLimitError",
                "error_status": 429,
                "retry_after": 7,
                "text_before_error": "",
            },
        },
    )
    fixture = load_fixture(body)
    assert fixture.status == 429
    assert fixture.description == "a 429"
    # Names are lower-cased, and merged over the extension's content type.
    assert fixture.headers == {
        "content-type": "application/json",
        "retry-after": "7",
        "request-id": "req_011CABC",
    }
    expect = fixture.expect
    assert expect is not None
    assert expect.tool_calls == [ToolCall(id="toolu_01", name="f", input={"a": [1, 2]})]
    assert expect.usage == ExpectUsage(input_tokens=3, cache_write_1h_tokens=2)
    assert expect.usage.output_tokens == 0
    assert (expect.text, expect.thinking, expect.stop_reason) == ("hi", "hmm", "tool_use")
    assert expect.error == "RateLimitError"
    assert expect.error_status == 429
    assert expect.retry_after == 7.0
    assert expect.text_before_error == ""


def test_sidecar_content_type_overrides_the_extension(tmp_path: Path) -> None:
    body = write(tmp_path / "odd.sse", b"{}")
    sidecar(body, {"headers": {"content-type": "application/json"}})
    fixture = load_fixture(body)
    assert fixture.headers == {"content-type": "application/json"}
    assert fixture.status == 200
    assert fixture.expect is None


def test_empty_sidecar_is_fine(tmp_path: Path) -> None:
    body = write(tmp_path / "a.sse", SSE)
    sidecar(body, {})
    assert load_fixture(body) == load_fixture(body)
    assert load_fixture(body).headers == {"content-type": "text/event-stream"}


@pytest.mark.parametrize(
    ("meta", "names"),
    [
        ({"statuz": 200}, ["statuz"]),
        ({"expect": {"txt": "hi"}}, ["txt"]),
        ({"expect": {"usage": {"input": 1}}}, ["input"]),
        ({"expect": {"tool_calls": [{"id": "t", "name": "f"}]}}, ["input", "tool_calls"]),
        ({"status": "429"}, ["status"]),
        ({"headers": {"retry-after": 7}}, ["headers"]),
        ({"expect": {"usage": {"input_tokens": "3"}}}, ["input_tokens"]),
        ({"status": 42}, ["status"]),
        ({"headers": {"X-Api-Key": "abc"}}, ["X-Api-Key"]),
        ({"headers": {"Set-Cookie": "session=1"}}, ["Set-Cookie"]),
        ({"headers": {"authorization": "Bearer x"}}, ["authorization"]),
    ],
)
def test_bad_sidecar_names_the_file_and_the_key(
    tmp_path: Path, meta: dict[str, Any], names: list[str]
) -> None:
    body = write(tmp_path / "bad.sse", SSE)
    side = sidecar(body, meta)
    with pytest.raises(ProviderError) as info:
        load_fixture(body)
    message = str(info.value)
    assert str(side) in message
    for name in names:
        assert name in message


def test_secret_in_a_header_value_is_refused_and_not_echoed(tmp_path: Path) -> None:
    body = write(tmp_path / "leak.sse", SSE)
    sidecar(body, {"headers": {"x-debug": "key=sk-ant-api03-REALLYSECRET"}})
    with pytest.raises(ProviderError) as info:
        load_fixture(body)
    assert "x-debug" in str(info.value)
    assert "REALLYSECRET" not in str(info.value)
    assert "REALLYSECRET" not in repr(info.value)


def test_sidecar_that_is_not_json(tmp_path: Path) -> None:
    body = write(tmp_path / "b.sse", SSE)
    write(meta_path(body), b"{status: 200")
    with pytest.raises(ProviderError, match="not valid JSON") as info:
        load_fixture(body)
    assert "b.meta.json" in str(info.value)


def test_missing_body_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match=r"nothere\.sse"):
        load_fixture(tmp_path / "nothere.sse")


def test_passing_the_sidecar_instead_of_the_body_is_an_error(tmp_path: Path) -> None:
    body = write(tmp_path / "a.sse", SSE)
    side = sidecar(body, {})
    with pytest.raises(ProviderError, match="sidecar"):
        load_fixture(side)


def test_meta_path_beside_the_body() -> None:
    assert meta_path("fixtures/haiku.sse") == Path("fixtures/haiku.meta.json")
    assert meta_path(Path("x/rate.limit.json")) == Path("x/rate.limit.meta.json")
    assert meta_path("page.html") == Path("page.meta.json")


def test_fixture_paths_lists_body_files_only_sorted(tmp_path: Path) -> None:
    for name in ["b.sse", "a.json", "c.html", "d.txt", "a.meta.json", "README.md", "gen.py"]:
        write(tmp_path / name, b"x")
    write(tmp_path / ".hidden.sse", b"x")
    (tmp_path / "sub.sse").mkdir()
    assert [p.name for p in fixture_paths(tmp_path)] == ["a.json", "b.sse", "c.html", "d.txt"]
    assert fixture_paths(str(tmp_path))[0] == tmp_path / "a.json"


def test_fixture_paths_of_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="not found"):
        fixture_paths(tmp_path / "nope")


def test_encode_meta_round_trips_and_omits_unset_fields(tmp_path: Path) -> None:
    meta = FixtureMeta(
        status=529,
        headers={"content-type": "application/json"},
        expect=Expect(error="OverloadedError", error_status=529),
    )
    raw = encode_meta(meta)
    assert raw.endswith(b"\n")
    decoded = json.loads(raw)
    assert decoded["expect"] == {"error": "OverloadedError", "error_status": 529}
    path = write(tmp_path / "x.meta.json", raw)
    assert load_meta(path) == meta


def test_sidecar_request_is_kept_as_the_json_body(tmp_path: Path) -> None:
    body = write(tmp_path / "turn.sse", SSE)
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stream": True,
    }
    sidecar(body, {"request": request})
    fixture = load_fixture(body)
    assert fixture.request == request
    assert load_meta(meta_path(body)).request == request
    assert load_fixture(write(tmp_path / "bare.sse", SSE)).request is None


@pytest.mark.parametrize("request_value", [["not", "an", "object"], "text", 3])
def test_sidecar_request_must_be_an_object(tmp_path: Path, request_value: Any) -> None:
    body = write(tmp_path / "r.sse", SSE)
    side = sidecar(body, {"request": request_value})
    with pytest.raises(ProviderError) as info:
        load_fixture(body)
    assert str(side) in str(info.value)
    assert "request" in str(info.value)


def test_secret_in_the_request_is_refused_and_not_echoed(tmp_path: Path) -> None:
    body = write(tmp_path / "leak.sse", SSE)
    request = {"messages": [{"role": "user", "content": "my key is sk-ant-api03-REALLYSECRET"}]}
    sidecar(body, {"request": request})
    with pytest.raises(ProviderError) as info:
        load_fixture(body)
    assert "'request'" in str(info.value)
    assert "REALLYSECRET" not in str(info.value)
    assert "REALLYSECRET" not in repr(info.value)
