"""The SSE framer against the WHATWG event-stream rules, split at every boundary."""

from __future__ import annotations

import pytest

from provider.errors import NetworkError, ProviderError
from provider.stream import SSEEvent, SSEFramer

BOM = b"\xef\xbb\xbf"


def frame(*pieces: bytes, max_event_size: int | None = None) -> list[SSEEvent]:
    framer = SSEFramer() if max_event_size is None else SSEFramer(max_event_size=max_event_size)
    events: list[SSEEvent] = []
    for piece in pieces:
        events += framer.feed(piece)
    events += framer.close()
    return events


def every_split(body: bytes) -> list[list[SSEEvent]]:
    """The events for the body cut in two at every position, and fed one byte at a time."""
    results = [frame(body[:i], body[i:]) for i in range(len(body) + 1)]
    results.append(frame(*(body[i : i + 1] for i in range(len(body)))))
    return results


def test_a_simple_event_has_the_default_name() -> None:
    assert frame(b"data: hello\n\n") == [SSEEvent("message", b"hello", None, None)]


def test_event_name_and_multi_line_data_joined_with_newline() -> None:
    events = frame(b"event: content_block_delta\ndata: a\ndata: b\ndata: c\n\n")
    assert events == [SSEEvent("content_block_delta", b"a\nb\nc")]


def test_only_one_leading_space_is_stripped() -> None:
    assert frame(b"data:  two\n\ndata:none\n\nevent:x\ndata:\n\n") == [
        SSEEvent("message", b" two"),
        SSEEvent("message", b"none"),
        SSEEvent("x", b""),
    ]


def test_a_line_with_no_colon_is_a_field_with_an_empty_value() -> None:
    # "data" alone is an empty data line; "event" alone is an empty name, i.e. "message".
    assert frame(b"data\ndata\n\n") == [SSEEvent("message", b"\n")]
    assert frame(b"event: a\nevent\ndata: x\n\n") == [SSEEvent("message", b"x")]


def test_comments_are_ignored() -> None:
    body = b": keep-alive\n:\ndata: a\n: in the middle\ndata: b\n\n: only a comment\n\n"
    assert frame(body) == [SSEEvent("message", b"a\nb")]


def test_an_event_without_data_is_not_dispatched_and_its_name_does_not_leak() -> None:
    assert frame(b"event: lonely\n\ndata: x\n\n") == [SSEEvent("message", b"x")]
    assert frame(b"event: a\nretry: 5\n\n\n\ndata: x\n\n") == [SSEEvent("message", b"x")]


def test_unknown_fields_are_ignored() -> None:
    assert frame(b"foo: bar\ndata: x\nDATA: y\nData: z\n\n") == [SSEEvent("message", b"x")]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_each_line_ending(eol: bytes) -> None:
    body = eol.join([b"event: e", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert frame(body) == [SSEEvent("e", b"a\nb"), SSEEvent("message", b"c")]


def test_mixed_line_endings() -> None:
    body = b"data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\rdata: e\n\n"
    assert frame(body) == [
        SSEEvent("message", b"a\nb\nc"),
        SSEEvent("message", b"d"),
        SSEEvent("message", b"e"),
    ]


def test_cr_at_the_end_of_a_feed_and_lf_at_the_start_of_the_next_are_one_line_end() -> None:
    # Counted as two line ends, the "\n" would be a blank line and dispatch "a" on its own.
    assert frame(b"data: a\r", b"\ndata: b\r\n\r\n") == [SSEEvent("message", b"a\nb")]
    # An empty feed in between changes nothing.
    assert frame(b"data: a\r", b"", b"\ndata: b\n\n") == [SSEEvent("message", b"a\nb")]
    # A "\r" then "\r" is two line ends: a blank line.
    assert frame(b"data: a\r", b"\rdata: b\n\n") == [
        SSEEvent("message", b"a"),
        SSEEvent("message", b"b"),
    ]


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
)
def test_only_cr_and_lf_end_lines(char: str) -> None:
    # str.splitlines() would break the line at each of these characters.
    data = f"a{char}b{char}".encode()
    assert frame(b"data: " + data + b"\n\n") == [SSEEvent("message", data)]


def test_a_leading_bom_is_stripped_once() -> None:
    assert frame(BOM + b"data: x\n\n") == [SSEEvent("message", b"x")]
    # A second BOM is part of the first line: the field "\ufeffdata" is unknown.
    assert frame(BOM + BOM + b"data: x\n\ndata: y\n\n") == [SSEEvent("message", b"y")]
    # A BOM later in the stream is data.
    assert frame(b"data: " + BOM + b"\n\n") == [SSEEvent("message", BOM)]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_bom_split_across_feeds_is_stripped(cut: int) -> None:
    body = BOM + b"data: x\n\n"
    assert frame(body[:cut], body[cut:]) == [SSEEvent("message", b"x")]
    assert frame(*(body[i : i + 1] for i in range(len(body)))) == [SSEEvent("message", b"x")]


def test_a_stream_that_starts_like_a_bom_but_is_not_one() -> None:
    assert frame(b"\xef", b"\xbbdata: x\n\n") == []  # the field "\xef\xbbdata" is unknown
    assert frame(b"d", b"ata: x\n\n") == [SSEEvent("message", b"x")]


def test_id_persists_and_is_ignored_when_it_contains_nul() -> None:
    body = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\0\ndata: c\n\nid\ndata: d\n\n"
    assert frame(body) == [
        SSEEvent("message", b"a", "1"),
        SSEEvent("message", b"b", "1"),
        SSEEvent("message", b"c", "1"),
        SSEEvent("message", b"d", ""),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"1500", 1500),
        (b"0", 0),
        (b"", None),
        (b"1x", None),
        (b"-1", None),
        (b"+1", None),
        (b" 1", None),  # one space is stripped, the second is not a digit
        (b"1_0", None),
        ("١٢".encode(), None),  # Arabic-Indic digits: int() takes them, the spec does not
    ],
)
def test_retry_takes_ascii_digits_only(value: bytes, expected: int | None) -> None:
    assert frame(b"retry: " + value + b"\ndata: x\n\n") == [
        SSEEvent("message", b"x", None, expected)
    ]


def test_retry_belongs_to_its_event() -> None:
    assert frame(b"retry: 5\ndata: a\n\ndata: b\n\n") == [
        SSEEvent("message", b"a", None, 5),
        SSEEvent("message", b"b", None, None),
    ]


def test_fields_before_a_common_shaped_event_are_kept() -> None:
    # The framer has a fast path for "event: X\ndata: Y\n\n"; earlier fields must still count.
    assert frame(b"data: x\nevent: a\ndata: b\n\n") == [SSEEvent("a", b"x\nb")]
    assert frame(b"retry: 7\nevent: a\ndata: b\n\n") == [SSEEvent("a", b"b", None, 7)]
    assert frame(b"event: a\n", b"data: b\n\n") == [SSEEvent("a", b"b")]
    assert frame(b"event: a\ndata: b\n", b"\n") == [SSEEvent("a", b"b")]
    assert frame(b"event: a\nevent: b\ndata: c\n\n") == [SSEEvent("b", b"c")]
    assert frame(b"event: a\n\ndata: c\n\n") == [SSEEvent("message", b"c")]


STREAM = (
    BOM
    + b": hello\r\n"
    + b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    + b"id: 42\nevent: content_block_delta\ndata: h\xc3\xa9llo \xf0\x9f\x98\x80\n\n"
    + b"data: one\rdata: two\r\r"
    + b"retry: 3000\nevent: x\ndata\n\n"
    + b"event: e\ndata: \xe2\x80\xa8 line separator, not a line end\n\n"
)
STREAM_EVENTS = [
    SSEEvent("message_start", b'{"a": 1}'),
    SSEEvent("content_block_delta", "héllo 😀".encode(), "42"),
    SSEEvent("message", b"one\ntwo", "42"),
    SSEEvent("x", b"", "42", 3000),
    SSEEvent("e", "\u2028 line separator, not a line end".encode(), "42"),
]


def test_every_split_of_a_stream_gives_the_same_events() -> None:
    # Includes splits inside the BOM, inside "\r\n", and inside multi-byte UTF-8 sequences.
    assert frame(STREAM) == STREAM_EVENTS
    for events in every_split(STREAM):
        assert events == STREAM_EVENTS


def test_every_three_way_split_gives_the_same_events() -> None:
    body = STREAM[:80]
    expected = frame(body)
    assert expected == STREAM_EVENTS[:1]
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1):
            assert frame(body[:i], body[i:j], body[j:]) == expected


def test_bytearray_and_memoryview_are_accepted() -> None:
    framer = SSEFramer()
    events = framer.feed(bytearray(b"data: a\n\n")) + framer.feed(memoryview(b"data: b\n\n"))
    assert events == [SSEEvent("message", b"a"), SSEEvent("message", b"b")]
    assert all(type(event.data) is bytes for event in events)


def test_close_reports_a_partial_event() -> None:
    framer = SSEFramer()
    assert framer.feed(b'data: {"type": "message_delta"}\n') == []
    with pytest.raises(NetworkError, match=r"in the middle of an event: \{\"type\": \"message_"):
        framer.close()


def test_close_reports_an_unterminated_data_line() -> None:
    framer = SSEFramer()
    framer.feed(b"data: " + b"x" * 200)
    with pytest.raises(NetworkError) as caught:
        framer.close()
    # Quotes the start of the data, not all of it.
    assert "x" * 80 in str(caught.value)
    assert "x" * 81 not in str(caught.value)


@pytest.mark.parametrize(
    "tail",
    [b"", b"\n", b": comment", b": comment\n", b"event: x\n", b"event: x", b"\r", b"\xef\xbb"],
)
def test_close_after_complete_events_is_quiet(tail: bytes) -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: a\n\n" + tail) == [SSEEvent("message", b"a")]
    assert framer.close() == []
    assert framer.close() == []  # idempotent


def test_a_bom_prefix_alone_is_not_an_event() -> None:
    framer = SSEFramer()
    assert framer.feed(b"\xef") == []
    assert framer.close() == []


def test_feed_after_close_is_an_error() -> None:
    framer = SSEFramer()
    framer.close()
    with pytest.raises(ProviderError, match="after close"):
        framer.feed(b"data: x\n\n")


def test_an_event_of_exactly_max_event_size_passes() -> None:
    assert frame(b"data: " + b"x" * 100 + b"\n\n", max_event_size=100) == [
        SSEEvent("message", b"x" * 100)
    ]


# Exactly at the bound, N = 4: the data of one line, of two lines joined by "\n", and lines of
# N + 6 bytes (the "data: " or "event: " prefix on top of N). Each cut in two at every byte, and
# in one-byte pieces, so that both the one-piece path and the bound between pieces see them.
AT_THE_BOUND = [
    (b"data: abcd\n\n", SSEEvent("message", b"abcd")),
    (b"data: ab\ndata: c\n\n", SSEEvent("message", b"ab\nc")),
    (b"event: abc\ndata: abcd\n\n", SSEEvent("abc", b"abcd")),
]


def pieces_of(body: bytes) -> list[list[bytes]]:
    cuts = [[body[:i], body[i:]] for i in range(len(body) + 1)]
    return [*cuts, [body[i : i + 1] for i in range(len(body))]]


@pytest.mark.parametrize(("body", "event"), AT_THE_BOUND)
def test_an_event_of_exactly_max_event_size_passes_in_any_pieces(
    body: bytes, event: SSEEvent
) -> None:
    for pieces in pieces_of(body):
        assert frame(*pieces, max_event_size=4) == [event], pieces


@pytest.mark.parametrize(
    "body", [b"data: abcde\n\n", b"data: ab\ndata: cd\n\n", b"event: abcd\ndata: a\n\n"]
)
def test_one_byte_more_than_max_event_size_raises_in_any_pieces(body: bytes) -> None:
    for pieces in pieces_of(body):
        with pytest.raises(ProviderError, match=r"max_event_size \(4 bytes\)"):
            frame(*pieces, max_event_size=4)


@pytest.mark.parametrize("piece", [1, 7, 64, 10_000])
def test_an_event_over_max_event_size_raises(piece: int) -> None:
    body = b"data: " + b"y" * 5_000 + b"\n\n"
    framer = SSEFramer(max_event_size=1_000)
    with pytest.raises(ProviderError, match="max_event_size") as caught:
        for i in range(0, len(body), piece):
            framer.feed(body[i : i + piece])
    assert not isinstance(caught.value, NetworkError)


@pytest.mark.parametrize("piece", [1, 13, 10_000])
def test_many_data_lines_over_max_event_size_raise(piece: int) -> None:
    body = b"data: 0123456789\n" * 500 + b"\n"
    framer = SSEFramer(max_event_size=1_000)
    with pytest.raises(ProviderError, match="max_event_size"):
        for i in range(0, len(body), piece):
            framer.feed(body[i : i + piece])


def test_an_endless_line_is_bounded_too() -> None:
    framer = SSEFramer(max_event_size=1_000)
    with pytest.raises(ProviderError, match="max_event_size"):
        for _ in range(2_000):
            framer.feed(b": a comment that never ends ")


def test_a_large_event_in_one_byte_pieces() -> None:
    # Pieces are kept and joined once: quadratic concatenation would not finish here.
    payload = b"z" * 1_000_000
    body = b"event: big\ndata: " + payload + b"\n\n"
    framer = SSEFramer()
    events: list[SSEEvent] = []
    view = memoryview(body)
    for i in range(len(body)):
        events += framer.feed(view[i : i + 1])
    assert events == [SSEEvent("big", payload)]


def test_a_large_multi_line_event_in_small_pieces() -> None:
    line = b"data: " + b"q" * 50 + b"\n"
    body = line * 20_000 + b"\n"
    events = frame(*(body[i : i + 3] for i in range(0, len(body), 3)))
    assert len(events) == 1
    assert events[0].data == b"\n".join([b"q" * 50] * 20_000)


def test_feed_into_hands_on_earlier_events_before_an_error() -> None:
    framer = SSEFramer(max_event_size=10)
    seen: list[SSEEvent] = []
    with pytest.raises(ProviderError, match="max_event_size"):
        framer.feed_into(b"data: a\n\ndata: b\n\ndata: " + b"c" * 50 + b"\n\n", seen.append)
    assert seen == [SSEEvent("message", b"a"), SSEEvent("message", b"b")]
