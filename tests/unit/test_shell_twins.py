"""The sync shell is the async shell without ``await``: after httpcore's unasync substitutions,
the code of their I/O methods is the same (docstrings and comments aside), and so is the code of
``collect`` and ``collect_sync``, so the twins cannot drift. Every substitution must be used,
and what has no mechanical sync form is listed here."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

import pytest

from provider import turn
from provider.providers.anthropic import AnthropicProvider
from provider.providers.sync import SyncAnthropicProvider

# (async spelling, sync spelling) as regular expressions, applied in order to the async code.
SUBS = [
    (r"AsyncGenerator\[(.+?), None\]", r"Generator[\1, None, None]"),
    (r"httpx\.AsyncClient", "httpx.Client"),
    (r"async with aclosing\(", "with closing("),
    (r"async for ", "for "),
    (r"async def ", "def "),
    (r"anyio\.sleep\(", "time.sleep("),
    # No sync form: a sync caller cannot be cancelled, so its close needs no shield (as
    # httpcore's ShieldCancellation is a no-op in its sync code).
    (r"with anyio\.CancelScope\(shield=True\):\n\s+await response\.aclose\(\)", "response.close()"),
    (r"await ", ""),
    (r"\baclose\b", "close"),
    (r"__a(enter|exit)__", r"__\1__"),
    (r"\bAnthropicProvider\b", "SyncAnthropicProvider"),
    (r"\bcollect\(", "collect_sync("),
    (r"AsyncIterable\b", "Iterable"),
]
# The same in both. ``_drain`` differs by design: a grace period is a cancel scope in one and a
# clock check between reads in the other; ``_http`` builds each flavour's own client.
METHODS = [
    "_exchange",
    "_send",
    "_read_bounded",
    "create_message",
    "count_tokens",
    "complete",
    "aclose",
    "__aenter__",
    "__aexit__",
]


def code_of(owner: object, name: str) -> str:
    """The function's code, without its docstring and comments (``ast.unparse``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(owner, name))))
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        function.body = body[1:]
    return ast.unparse(tree)


def unasync(code: str, used: set[str]) -> str:
    for old, new in SUBS:
        code, count = re.subn(old, new, code)
        if count:
            used.add(old)
    return code


@pytest.mark.parametrize("name", METHODS)
def test_the_sync_method_is_the_async_one_unasynced(name: str) -> None:
    expected = unasync(code_of(AnthropicProvider, name), set())
    sync_name = unasync(name, set())
    assert code_of(SyncAnthropicProvider, sync_name) == expected


def test_the_sync_fold_is_collect_unasynced() -> None:
    expected = unasync(code_of(turn, "collect"), set())
    assert code_of(turn, "collect_sync") == expected.replace("def collect(", "def collect_sync(")


def test_every_substitution_is_used() -> None:
    used: set[str] = set()
    for name in METHODS:
        unasync(code_of(AnthropicProvider, name), used)
    unasync(code_of(turn, "collect"), used)
    assert used == {old for old, _ in SUBS}
