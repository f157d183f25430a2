"""The Markdown report: targets met or not, then every figure as median (min-max) of the runs."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from . import sockets
from .breakdown import Breakdown
from .concurrency import ConcurrencyResult
from .latency import LatencyResult
from .memory import MemoryResult
from .startup import StartupResult
from .stats import NOISY_SPREAD, Stat
from .throughput import ThroughputResult

__all__ = ["Check", "Report", "render"]

NAMES = {
    "provider": "provider",
    "provider_fast": "provider[fast] (its own client, provider.fasthttp)",
    "sdk_raw": "SDK raw events",
    "sdk_helper": "SDK messages.stream() text_stream",
    "floor": "floor (split + msgspec, no HTTP)",
}

SDK_RATIO_TARGET = 12.0
FLOOR_RATIO_TARGET = 0.6
GROWTH_TARGET = 4.4
IMPORT_RATIO_TARGET = 12.0
FLAT_TOLERANCE = 0.05  # peak RSS at 4x the stream may be at most 5% higher


class Check(msgspec.Struct):
    what: str
    target: str
    got: str
    met: bool | None  # None: no target, reported for comparison


class Report(msgspec.Struct):
    machine: dict[str, str]
    seconds: float = 0.0
    throughput: ThroughputResult | None = None
    breakdown: Breakdown | None = None
    latency: LatencyResult | None = None
    startup: StartupResult | None = None
    memory: MemoryResult | None = None
    concurrency: ConcurrencyResult | None = None
    errors: dict[str, str] = msgspec.field(default_factory=dict)


def _ratio_range(num: Stat, den: Stat) -> str:
    """Ratio of medians, with the most pessimistic and optimistic pairing of the runs."""
    return f"{num.median / den.median:.2f}x ({num.min / den.max:.2f}-{num.max / den.min:.2f})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _mark(met: bool | None) -> str:
    return {True: "met", False: "**NOT met**", None: "(no target)"}[met]


def checks(report: Report) -> list[Check]:
    out: list[Check] = []
    t = report.throughput
    if t is not None:
        sizes = sorted({s.deltas for s in t.series})
        for n in sizes:
            p, raw, floor = t.get("provider", n), t.get("sdk_raw", n), t.get("floor", n)
            if p and raw:
                ratio = p.events_per_s.median / raw.events_per_s.median
                out.append(
                    Check(
                        f"throughput provider / SDK raw, N={n:,}",
                        f">= {SDK_RATIO_TARGET:g}x",
                        _ratio_range(p.events_per_s, raw.events_per_s),
                        ratio >= SDK_RATIO_TARGET and p.correct and raw.correct,
                    )
                )
            helper = t.get("sdk_helper", n)
            if p and helper:
                out.append(
                    Check(
                        f"throughput provider / SDK messages.stream(), N={n:,}",
                        "-",
                        _ratio_range(p.events_per_s, helper.events_per_s),
                        None,
                    )
                )
            if p and floor:
                ratio = p.events_per_s.median / floor.events_per_s.median
                out.append(
                    Check(
                        f"throughput provider / floor, N={n:,}",
                        f">= {FLOOR_RATIO_TARGET:g}x",
                        _ratio_range(p.events_per_s, floor.events_per_s),
                        ratio >= FLOOR_RATIO_TARGET and p.correct,
                    )
                )
        if len(sizes) >= 2:
            small, big = sizes[0], sizes[-1]
            for peer in ("provider", "sdk_raw", "sdk_helper", "floor"):
                a, b = t.get(peer, small), t.get(peer, big)
                if a and b:
                    growth = b.seconds.median / a.seconds.median
                    out.append(
                        Check(
                            f"growth cost({big // 1000}k) / cost({small // 1000}k), {NAMES[peer]}",
                            f"<= {GROWTH_TARGET:g} (linear: {b.events / a.events:.2f})",
                            f"{growth:.2f}",
                            growth <= GROWTH_TARGET,
                        )
                    )
        correct = all(s.correct for s in t.series)
        out.append(
            Check(
                "correct text (every run of every client == the text in the body)",
                "yes",
                "yes" if correct else "NO: " + ", ".join(s.peer for s in t.series if not s.correct),
                correct,
            )
        )
    s = report.startup
    if s is not None:
        mine, theirs = s.get("provider").cpu_ms, s.get("anthropic").cpu_ms
        ratio = theirs.median / mine.median
        out.append(
            Check(
                "import time (CPU): anthropic / provider",
                f">= {IMPORT_RATIO_TARGET:g}x",
                f"{ratio:.1f}x ({theirs.min / mine.max:.1f}-{theirs.max / mine.min:.1f}); "
                f"{theirs.median:.0f} vs {mine.median:.0f} ms",
                ratio >= IMPORT_RATIO_TARGET,
            )
        )
    m = report.memory
    if m is not None:
        sizes_mb = sorted({pk.megabytes for pk in m.peaks})
        for peer in ("provider", "sdk_raw"):
            lo, hi = m.peak(peer, sizes_mb[0]), m.peak(peer, sizes_mb[-1])
            ratio = hi.peak_mb.median / lo.peak_mb.median
            out.append(
                Check(
                    f"peak RSS {sizes_mb[-1]:g} MB / {sizes_mb[0]:g} MB stream, {NAMES[peer]}",
                    f"<= {1 + FLAT_TOLERANCE:.2f} (flat)",
                    f"{ratio:.3f} ({hi.peak_mb.median:.1f} / {lo.peak_mb.median:.1f} MB)",
                    ratio <= 1 + FLAT_TOLERANCE if peer == "provider" else None,
                )
            )
        per = {o.peer: o for o in m.open_streams}
        if "provider" in per and "sdk_raw" in per:
            p_kib, s_kib = per["provider"].kib_per_stream, per["sdk_raw"].kib_per_stream
            out.append(
                Check(
                    f"RSS per open stream ({per['provider'].count} open), SDK raw / provider",
                    "-",
                    f"{s_kib.median / p_kib.median:.2f}x "
                    f"({p_kib.median:.1f} vs {s_kib.median:.1f} KiB)",
                    None,
                )
            )
    lat = report.latency
    if lat is not None:
        by = {p.peer: p for p in lat.peers}
        for label, attr in (
            ("per-event latency median", "event_median_us"),
            ("per-event latency p99", "event_p99_us"),
            ("request to first chunk median", "first_median_us"),
        ):
            p_stat: Stat = getattr(by["provider"], attr)
            s_stat: Stat = getattr(by["sdk_raw"], attr)
            out.append(
                Check(
                    f"{label}, SDK raw / provider",
                    "-",
                    f"{s_stat.median / p_stat.median:.2f}x "
                    f"({p_stat.median:.0f} vs {s_stat.median:.0f} µs)",
                    None,
                )
            )
    c = report.concurrency
    if c is not None:
        pc, rc = c.get("provider"), c.get("sdk_raw")
        for label, attr in (("CPU seconds", "cpu_s"), ("wall time", "wall_s")):
            ps, ss = getattr(pc, attr), getattr(rc, attr)
            out.append(
                Check(
                    f"{c.streams} concurrent streams, {label}, SDK raw / provider",
                    "-",
                    f"{ss.median / ps.median:.2f}x ({ps.median:.2f} vs {ss.median:.2f} s)",
                    None,
                )
            )
        out.append(
            Check(
                f"{c.streams} concurrent streams, peak RSS, SDK raw / provider",
                "-",
                f"{rc.peak_rss_mb.median / pc.peak_rss_mb.median:.2f}x "
                f"({pc.peak_rss_mb.median:.0f} vs {rc.peak_rss_mb.median:.0f} MB)",
                None,
            )
        )
    return out


def render(report: Report) -> str:
    lines = [
        "# provider vs the official Anthropic SDK: benchmark results",
        "",
        "Written by `python -m bench` (`make bench`). Figures are median (min-max) over the runs;"
        f" `~noisy` marks a spread (max-min)/median above {NOISY_SPREAD:.0%}. Ratios are of"
        " medians, with the most pessimistic and optimistic pairing of runs in brackets.",
        "",
        "## Machine",
        "",
        *_table(["", ""], [[k, v] for k, v in report.machine.items()]),
        "",
        f"Whole bench: {report.seconds:.0f} s.",
        "",
        "## Targets",
        "",
        *_table(
            ["check", "target", "got", "status"],
            [[c.what, c.target, c.got, _mark(c.met)] for c in checks(report)],
        ),
    ]
    if report.errors:
        lines += ["", "## Sections that failed", ""]
        lines += [f"- **{name}**: {error}" for name, error in report.errors.items()]
    t = report.throughput
    if t is not None:
        lines += [
            "",
            "## 1. Throughput (in-memory transport, 64 KiB pieces, same bytes for every client)",
            "",
            "A stream of message_start, content_block_start, ping, N text deltas of 10-40"
            " characters, content_block_stop, message_delta and message_stop, with the real"
            " API's trailing padding. provider through `httpx.MockTransport`, the SDK through"
            " `httpx2.MockTransport`; each caller joins the text and it is compared with the"
            " body's."
            " Costs are CPU seconds of the (single-threaded) bench process: on an idle machine the"
            " same as wall time, on a shared one free of other processes' preemption; wall time"
            " is shown too. Runs are interleaved, client by client. The SDK helper is quadratic"
            " in the text length (its snapshot's text grows by `+=`), so it runs 3 times at 20k"
            " and once at 80k, after the others.",
            "",
            *_table(
                [
                    "client",
                    "N deltas",
                    "MB",
                    "events per CPU s",
                    "CPU s per stream",
                    "wall s per stream",
                    "correct",
                ],
                [
                    [
                        NAMES[s.peer],
                        f"{s.deltas:,}",
                        f"{s.megabytes:.1f}",
                        s.events_per_s.fmt(".3g"),
                        s.seconds.fmt(".3g"),
                        s.wall_seconds.fmt(".3g"),
                        "yes" if s.correct else "**NO**",
                    ]
                    for s in t.series
                ],
            ),
        ]
    b = report.breakdown
    if b is not None:
        lines += [
            "",
            f"### Where provider's time goes (N={b.deltas:,}, ns per event)",
            "",
            "Each layer timed alone on the same pieces (CPU time, best of the runs, no profiler)."
            " The state machine's share is the core minus the framer and the decoding; the shell's"
            " (httpx streaming, the `create_message` async generator, the caller's loop) is the"
            " whole minus the core.",
            "",
            *_table(["layer", "ns per event"], [[name, f"{ns:.0f}"] for name, ns in b.layers]),
            "",
            "cProfile of one `create_message` run (own time per event; the profiler inflates"
            " calls, so compare rows with each other, not with the table above):",
            "",
            *_table(
                ["function", "ns per event", "calls per event"],
                [
                    [f"`{h.function}`", f"{h.ns_per_event:.0f}", f"{h.calls_per_event:.3g}"]
                    for h in b.hotspots
                ],
            ),
        ]
    lat = report.latency
    if lat is not None:
        lines += [
            "",
            "## 2. Latency over a loopback socket (µs)",
            "",
            f"Per event: the server writes one text delta and waits until the caller holds it;"
            f" {lat.events_per_run:,} events per run. Request to first chunk: a kept-alive"
            f" connection, a 50-delta reply written at once; {lat.requests_per_run} requests per"
            f" run. {lat.runs} runs; each cell is median (min-max) of the per-run figure. Server"
            " and client share one process and event loop, so the server's own cost is in every"
            " figure alike.",
            "",
            *_table(
                ["client", "event median", "event p99", "first chunk median", "first chunk p99"],
                [
                    [
                        NAMES[p.peer],
                        p.event_median_us.fmt(".3g"),
                        p.event_p99_us.fmt(".3g"),
                        p.first_median_us.fmt(".3g"),
                        p.first_p99_us.fmt(".3g"),
                    ]
                    for p in lat.peers
                ],
            ),
        ]
    s = report.startup
    if s is not None:
        lines += [
            "",
            "## 3. Start-up (fresh interpreter per sample)",
            "",
            *_table(
                ["import", "CPU ms", "wall ms", "RSS added (MB)", "modules", "whole process ms"],
                [
                    [
                        f"`import {c.module}`",
                        c.cpu_ms.fmt(".3g"),
                        c.ms.fmt(".3g"),
                        c.rss_mb.fmt(".3g"),
                        str(c.modules_loaded),
                        c.process_ms.fmt(".3g"),
                    ]
                    for c in s.costs
                ],
            ),
            "",
            "Where `import provider` spends its time (one `-X importtime` run, which inflates"
            " every figure a little):",
            "",
            *_table(["package", "ms"], [[name, f"{ms:.1f}"] for name, ms in s.breakdown]),
            "",
            "The single modules with the most own (self) time in that run:",
            "",
            *_table(["module", "self ms"], [[f"`{n}`", f"{ms:.1f}"] for n, ms in s.slowest]),
        ]
    m = report.memory
    if m is not None:
        lines += [
            "",
            "## 4. Memory",
            "",
            "Streaming: a fresh process streams that many MB of text-delta events from memory"
            " (made on the fly; the caller keeps only a character count); RSS is sampled during"
            " the stream. Growth is the peak minus the RSS just before the stream.",
            "",
            *_table(
                ["client", "stream MB", "peak RSS MB", "growth MB"],
                [
                    [
                        NAMES[pk.peer],
                        f"{pk.megabytes:g}",
                        pk.peak_mb.fmt(".4g"),
                        pk.growth_mb.fmt(".2g"),
                    ]
                    for pk in m.peaks
                ],
            ),
            "",
            "Open streams: a fresh process takes that many streams to their first text chunk"
            " against a loopback server (another process) and holds them all open.",
            "",
            *_table(
                ["client", "streams open", "KiB per open stream"],
                [
                    [NAMES[o.peer], str(o.count), o.kib_per_stream.fmt(".3g")]
                    for o in m.open_streams
                ],
            ),
        ]
    c = report.concurrency
    if c is not None:
        lines += [
            "",
            f"## 5. Concurrency: {c.streams} streams at once from one process",
            "",
            f"Each stream: {c.deltas} text deltas, written {c.burst} at a time every"
            f" {c.interval * 1000:g} ms by a loopback server in its own process (so at least"
            f" {c.deltas / c.burst * c.interval:g} s per stream). Each client in its own process;"
            " CPU is that process's user+system time during the streams, the figure to compare;"
            " wall time also holds the server's pacing and, on this 2-core machine, the server's"
            " own CPU.",
            "",
            *_table(
                ["client", "wall s", "CPU s", "peak RSS MB"],
                [
                    [
                        NAMES[p.peer],
                        p.wall_s.fmt(".3g"),
                        p.cpu_s.fmt(".3g"),
                        p.peak_rss_mb.fmt(".3g"),
                    ]
                    for p in c.peers
                ],
            ),
        ]
        if c.profiles:
            by_peer = {pr.peer: pr for pr in c.profiles}
            packages: list[str] = []
            for pr in c.profiles:
                packages += [name for name, _ in pr.packages if name not in packages]

            def share(peer: str, package: str) -> str:
                pr = by_peer[peer]
                secs = dict(pr.packages).get(package, 0.0)
                total = sum(v for _, v in pr.packages)
                return f"{secs / total:.0%} ({secs * 1e6 / pr.events:.1f} µs)" if secs else "-"

            lines += [
                "",
                "Where each client's CPU goes in that run, by library (one more run of each under"
                " cProfile, which slows everything down and inflates functions called often;"
                " time blocked in `epoll` waiting for the server is left out; built-ins such as"
                " `recv` and msgspec's `decode` are charged to the library that called them)."
                " Share of the profiled time, and µs per event:",
                "",
                *_table(
                    ["library", *(NAMES[pr.peer] for pr in c.profiles)],
                    [
                        [name, *(share(pr.peer, name) for pr in c.profiles)]
                        for name in packages
                        if any(share(pr.peer, name) != "-" for pr in c.profiles)
                    ][:14],
                ),
            ]
            if "provider" in by_peer:
                pr = by_peer["provider"]
                lines += [
                    "",
                    "provider's functions with the most own time in that run:",
                    "",
                    *_table(
                        ["function", "µs per event", "calls per event"],
                        [
                            [f"`{name}`", f"{secs * 1e6 / pr.events:.2f}", f"{n / pr.events:.3g}"]
                            for name, secs, n in pr.top
                        ],
                    ),
                ]
    lines += _companions()
    return "\n".join(lines) + "\n"


def _companions() -> list[str]:
    """The benchmarks run on their own, as they last ran: the largest stream count of
    ``bench/sockets.json`` (``python -m bench.sockets``) and the sync twin's table."""
    lines: list[str] = []
    if sockets.JSON_PATH.exists():
        data = msgspec.json.decode(sockets.JSON_PATH.read_bytes())
        if data.get("by_streams"):
            largest = max(data["by_streams"], key=int)
            lines += [
                "",
                "## 6. Client CPU per event over real sockets (`python -m bench.sockets`, run"
                " on its own)",
                "",
                "The server in its own process on the other CPU, every event in its own HTTP chunk;"
                " the client process's CPU per event. Every stream count, the parts apart (HTTP"
                " alone, parser alone) and the method: `bench/sockets.md`; the choice of transport:"
                " `bench/TRANSPORTS.md`.",
                "",
                *sockets.stream_count_section(data, largest, "###"),
            ]
    sync = sockets.JSON_PATH.with_name("sync.md")
    if sync.exists():
        lines += ["", *sync.read_text(encoding="utf-8").strip().splitlines()]
    return lines
