"""Side-by-side benchmarks of ``provider`` and the official Anthropic SDK (``python -m bench``).

Nothing here runs under ``make test``. Each section lives in its own module (throughput,
latency, startup, memory, concurrency); ``report`` turns their results into ``results.md``.
"""
