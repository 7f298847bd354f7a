"""The README and docs/ hold no dead link: every relative link names a file that exists, and every
`#anchor` a heading of that file (GitHub's slugs); the README stays a five-minute read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    dead = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not checked offline
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            dead.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            dead.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not dead, dead


def test_every_docs_page_is_linked_from_the_readme_and_the_index():
    readme = set(links(ROOT / "README.md"))
    index = set(links(ROOT / "docs" / "README.md"))
    for page in PAGES[1:]:
        if page.name == "README.md":
            continue
        assert f"docs/{page.name}" in readme, f"{page.name} is not linked from the README"
        assert page.name in index, f"{page.name} is not linked from docs/README.md"


def test_the_readme_is_a_five_minute_read():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move the detail to docs/"


def test_the_slug_rule_on_known_headings():
    assert slug("Security: what the job promises, and how it is tested") == (
        "security-what-the-job-promises-and-how-it-is-tested"
    )
    assert slug("Loans file (CSV or JSONL)") == "loans-file-csv-or-jsonl"
    assert slug("`monitor plan` agrees") == "monitor-plan-agrees"
