"""The README is the front door and the docs pages hold the rest: every relative link in
README.md and docs/ reaches an existing file (and, for a Markdown page, an existing
heading when it names one), the README links every page of docs/, stays short and starts
with the two commands that work on a fresh machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))  # the pages the README lists, one line each
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]  # every page, for links
README_MAX_LINES = 300
README_HEAD_LINES = 15

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks: links and headings in code are text."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2 ... as on GitHub."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, line in prose_lines(page.read_text()):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = counts.get(base, 0)
            found.add(f"{base}-{count}" if count else base)
            counts[base] = count + 1
    return found


def relative_links(page: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(page.read_text()):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                found.append((number, target))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    broken = []
    for number, target in relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(REPO)}:{number}: {target}"
        if not dest.exists():
            broken.append(f"{where}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{where}: no heading with that anchor in {dest.name}")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {
        (REPO / target.partition("#")[0]).resolve()
        for _, target in relative_links(REPO / "README.md")
    }
    missing = [p.name for p in DOCS if p.resolve() not in linked]
    assert not missing, f"README.md links no docs page for: {', '.join(missing)}"


def test_readme_is_a_front_door():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most 300)"
    head = lines[:README_HEAD_LINES]
    demo = next((i for i, line in enumerate(head) if line.startswith("make demo")), None)
    test = next((i for i, line in enumerate(head) if line.startswith("make test")), None)
    assert demo is not None and test is not None, (
        f"README.md must show `make demo` and `make test` within its first "
        f"{README_HEAD_LINES} lines"
    )
    assert demo < test


def test_slug_and_anchor_rules():
    assert slug("Configuration (`serve:`)") == "configuration-serve"
    assert slug("Cluster path: Seldon's request logger") == "cluster-path-seldons-request-logger"
    assert slug("Sweeps benchmark: `sweep_overhead.py`") == "sweeps-benchmark-sweep_overheadpy"
    assert slug("5. The hooks") == "5-the-hooks"
