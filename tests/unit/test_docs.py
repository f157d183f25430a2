"""The documents a fresh clone holds keep their promises (issue 12): every relative link and file
path in the README resolves inside the repository, the design and price sources are in ``docs/``,
the Quick start says what ``make test`` installs, the ResourceWarning promise states its trio
limitation where it is made, and the runtime dependencies are the three the README names."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import provider
import provider.constants

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, ROOT / "docs" / "design.md", ROOT / "docs" / "pricing-sources.md"]

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A repository path in backticks: a known top-level folder, then a file or folder name.
_PATH = re.compile(r"`((?:provider|tests|fixtures|docs|bench)/[\w./-]*)`")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _slug(heading: str) -> str:
    # GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    return [m.group(1) for m in _LINK.finditer(_FENCE.sub("", path.read_text()))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves_in_the_repository(doc: Path) -> None:
    assert doc.is_file(), f"{doc.relative_to(ROOT)} is missing"
    for link in _links(doc):
        if re.match(r"^[a-z]+:", link):
            continue  # https:, mailto: …
        target, _, anchor = link.partition("#")
        file = (doc.parent / target).resolve() if target else doc
        assert file.exists(), f"{doc.name}: {link} does not exist in a clone"
        assert ROOT in file.parents or file == ROOT, f"{doc.name}: {link} leaves the repository"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{doc.name}: {link}: no such heading"


def test_every_repository_path_the_readme_names_exists() -> None:
    for path in _PATH.findall(README.read_text()):
        if "…" in path or "*" in path:
            continue
        assert (ROOT / path).exists(), f"README names {path}, which is not in the repository"


@pytest.mark.parametrize(
    "text",
    [README.read_text(), provider.__doc__ or "", provider.constants.__doc__ or ""],
    ids=["README", "provider/__init__", "provider/constants"],
)
def test_nothing_points_outside_the_repository(text: str) -> None:
    assert "shared/" not in text
    assert "DESIGN.md" not in text
    assert "claude-api-facts" not in text


def test_the_package_and_the_table_point_at_docs() -> None:
    assert "docs/design.md" in (provider.__doc__ or "")
    assert "docs/pricing-sources.md" in (provider.constants.__doc__ or "")


def test_design_doc_says_why_the_framer_is_ours_and_how_it_differs_from_httpx_sse() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    assert "## Why the SSE framer is ours" in design
    for point in ("byte order mark", "no `data` line", "ASCII digits", "max_event_size"):
        assert point in design


def test_pricing_sources_list_every_model_of_the_table() -> None:
    sources = (ROOT / "docs" / "pricing-sources.md").read_text()
    for model_id in provider.MODELS:
        assert model_id in sources, model_id
    assert "https://" in sources


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def test_quick_start_says_make_test_installs_nginx_and_tinyproxy_as_root() -> None:
    quick = _section(README.read_text(), "## Quick start")
    assert "apt-get" in quick
    assert "nginx" in quick and "tinyproxy" in quick
    assert "root" in quick


def test_the_no_resource_warning_promise_states_the_trio_limitation_where_it_is_made() -> None:
    text = README.read_text()
    promise = text.index("no `ResourceWarning` is raised")
    paragraph = text[promise : text.index("\n\n", promise)]
    assert "trio" in paragraph
    assert "encode/httpx#3686" in paragraph


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_runtime_dependencies_are_httpx_msgspec_and_anyio_only() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert names == {"httpx", "msgspec", "anyio"}
    dev = {
        re.split(r"[<>=!~ \[]", d, maxsplit=1)[0] for d in project["optional-dependencies"]["dev"]
    }
    assert "httpx-sse" in dev  # the property tests' oracle
    assert "`httpx`, `msgspec`, `anyio`" in README.read_text()


def test_the_models_json_example_passes_mypy_strict(tmp_path: Path) -> None:
    # create_provider returned a BaseProvider, which has no aclose / __aenter__ (issue 12).
    api = pytest.importorskip("mypy.api")
    text = README.read_text()
    start = text.index("Models can also come from a workspace `models.json`")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block is not None and "create_provider" in block.group(1)
    example = tmp_path / "models_json_example.py"
    example.write_text(block.group(1))
    # The cache `make lint` warms (mypy --strict provider) makes this a second or two.
    cache = ROOT / ".mypy_cache"
    out, err, status = api.run(
        ["--strict", "--follow-imports=silent", "--cache-dir", str(cache), str(example)]
    )
    assert status == 0, out + err
