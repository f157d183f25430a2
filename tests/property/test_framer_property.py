"""Property tests of the SSE framer, with httpx-sse's decoder as an independent oracle.

httpx-sse (``httpx_sse._decoders``: ``SSELineDecoder`` splits lines, ``SSEDecoder`` interprets
them) follows the same WHATWG rules line by line, with three deviations that the oracle below
adapts for, openly:

1. It does not strip a leading byte order mark (httpx decodes the body as plain "utf-8"): the
   oracle drops one leading U+FEFF before handing it the text.
2. It dispatches events that have no ``data`` line as soon as an ``event``, ``id`` or ``retry``
   field was seen (and, once any ``id`` was seen, at every blank line), with ``data == ""``.
   WHATWG drops them. The oracle tracks whether the event had a data line and discards the
   others, which keeps ``data:`` lines with an empty value (a real, empty event) apart from no
   data line at all.
3. It parses ``retry`` with ``int()``, which takes " 1", "+1", "1_0" and non-ASCII digits;
   WHATWG takes ASCII digits only. The oracle removes ``retry`` lines whose value is not
   ASCII digits before handing it the text (an ignored field has no effect either way).

Where it agrees with no adaptation: line ends. ``SSELineDecoder`` (0.4.3) splits on "\r\n",
"\r" and "\n" only, not ``str.splitlines()``'s extra separators, and keeps a "\r" at the
end of one call to pair it with a "\n" at the start of the next.

Also: httpx-sse reports ``id`` as "" where the framer says ``None`` (no id seen yet), and
gives no signal for a stream that ends in the middle of an event; the oracle's own data-line
tracking says when the framer's ``close()`` must raise (both count an unterminated last line
as a line for that purpose; ``flush()`` returns it).
"""

from __future__ import annotations

import itertools

import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider.errors import NetworkError, ProviderError
from provider.stream import SSEEvent, SSEFramer

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Oracle = tuple[list[tuple[str, str, str, int | None]], bool]


def oracle(text: str) -> Oracle:
    """httpx-sse's events for ``text`` (adapted as the module docstring says), and whether
    the stream ended in the middle of an event that had data."""
    if text.startswith("\ufeff"):
        text = text[1:]
    splitter = SSELineDecoder()
    lines = splitter.decode(text) + splitter.flush()
    decoder = SSEDecoder()
    events = []
    has_data = False
    for line in lines:
        if not line:
            sse = decoder.decode(line)
            if has_data:
                assert sse is not None
                events.append((sse.event, sse.data, sse.id, sse.retry))
            has_data = False
            continue
        name, _, value = line.partition(":")
        if name == "data":
            has_data = True
        if name == "retry":
            value = value[1:] if value.startswith(" ") else value
            if not (value.isascii() and value.isdigit()):
                continue
        decoder.decode(line)
    # The last line is always unterminated or empty: an event in progress is cut short.
    return events, has_data


def framed(pieces: list[bytes]) -> tuple[list[tuple[str, str, str, int | None]], bool]:
    """The framer's events, in the oracle's terms, and whether close() reported a cut."""
    framer = SSEFramer()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += framer.feed(piece)
    try:
        framer.close()
        cut = False
    except NetworkError:
        cut = True
    return [(e.event, e.data.decode(), e.id or "", e.retry) for e in events], cut


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(body)) for c in cuts})
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


# Text in values: anything but "\r" and "\n", with the characters str.splitlines() would
# wrongly take for line ends, NUL, colons, spaces and a stray BOM made likely.
TRICKY = "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e\x00\ufeff: é😀"
VALUE = st.text(
    alphabet=st.one_of(
        st.sampled_from(TRICKY),
        st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]),
    ),
    max_size=12,
)
FIELD = st.sampled_from(["data", "event", "id", "retry", "foo", "", "dat", "Data", "data "])
DIGITS = st.one_of(st.integers(0, 10_000).map(str), st.sampled_from(["+1", "-1", " 1", "1_0"]))


@st.composite
def lines(draw: st.DrawFn) -> list[str]:
    out = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.integers(0, 9))
        if kind <= 2:
            out.append("")  # blank: dispatch
        elif kind == 3:
            out.append(":" + draw(VALUE))  # comment
        elif kind == 4:
            out.append("retry:" + draw(st.sampled_from(["", " "])) + draw(DIGITS))
        elif kind == 5:
            out.append(draw(FIELD))  # a field with no colon
        else:
            name = draw(st.sampled_from(["data", "data", "event"])) if kind < 8 else draw(FIELD)
            space = draw(st.sampled_from(["", " ", "  "]))
            out.append(f"{name}:{space}{draw(VALUE)}")
    return out


@st.composite
def streams(draw: st.DrawFn) -> str:
    """SSE text with mixed line ends, maybe a BOM, maybe an unterminated last line."""
    body = "".join(line + draw(st.sampled_from(["\n", "\r", "\r\n"])) for line in draw(lines()))
    if draw(st.booleans()):
        body += draw(st.sampled_from(["data: cut", "event: x", ": c", "dat"]))
    if draw(st.integers(0, 3)) == 0:
        body = "\ufeff" + body
    return body


CUTS = st.lists(st.integers(0, 2_000), max_size=8)


@SETTINGS
@given(streams(), CUTS)
def test_framer_agrees_with_httpx_sse(text: str, cuts: list[int]) -> None:
    body = text.encode()
    assert framed(split(body, cuts)) == oracle(text)


@SETTINGS
@given(streams(), st.integers(1, 5))
def test_small_pieces_agree_with_httpx_sse(text: str, size: int) -> None:
    # Every split inside "\r\n", the BOM and multi-byte characters is likely here.
    body = text.encode()
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    assert framed(pieces) == oracle(text)


@SETTINGS
@given(lines(), st.booleans())
def test_crlf_cr_and_lf_give_the_same_events(body_lines: list[str], bom: bool) -> None:
    variants = [
        ("\ufeff" if bom else "") + "".join(line + eol for line in body_lines)
        for eol in ("\n", "\r", "\r\n")
    ]
    results = [framed([text.encode()]) for text in variants]
    assert results[0] == results[1] == results[2]


def raw_events(pieces: list[bytes]) -> tuple[list[SSEEvent], str | None]:
    framer = SSEFramer(max_event_size=64)
    events: list[SSEEvent] = []
    try:
        for piece in pieces:
            events += framer.feed(piece)
        framer.close()
    except ProviderError as exc:
        return events, f"{type(exc).__name__}: {exc}"
    return events, None


@SETTINGS
@given(st.binary(max_size=300), CUTS)
def test_any_bytes_any_split_same_events_as_one_feed(body: bytes, cuts: list[int]) -> None:
    # Arbitrary bytes, invalid UTF-8 included; events up to 64 bytes, so the bound is hit too.
    # An oversized event may be noticed before some events of the same piece are returned,
    # so with an error only the error has to agree.
    whole, error = raw_events([body])
    pieces, split_error = raw_events(split(body, cuts))
    assert split_error == error
    if error is None:
        assert pieces == whole


@pytest.mark.parametrize("text", ["data: a\r\n\r\n", "\ufeffdata: a\n\n", "id: 1\n\n"])
def test_the_oracle_itself(text: str) -> None:
    # Guards the adaptations above: an oracle that found no events would agree with anything.
    events, cut = oracle(text)
    assert not cut
    assert events == ([("message", "a", "", None)] if "data" in text else [])
