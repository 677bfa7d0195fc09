"""Every relative link in README.md and docs/*.md leads somewhere: the file exists and, when the link names an
anchor, the file has a heading with that anchor (GitHub's rule: lower case, punctuation dropped, spaces to '-')."""

import re
from pathlib import Path

import pytest

from infra.paths import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target), not inside inline code; external targets are not checked (no internet).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
# An explicit anchor GitHub keeps: <a id="staff"></a> (or name=) before a heading whose own anchor is long.
HTML_ANCHOR = re.compile(r'<a (?:id|name)="([\w-]+)"></a>')


def anchor(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(document: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", document.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {anchor(heading) for heading in HEADING.findall(text)} | set(HTML_ANCHOR.findall(text))


def broken_links(document: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", re.sub(r"^```.*?^```", "", document.read_text(), flags=re.M | re.S))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        path_part, _, fragment = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(document: Path):
    assert broken_links(document) == []


def test_a_broken_link_is_caught(tmp_path: Path):
    (tmp_path / "other.md").write_text('# Other\n\n## A shop\'s own policy, step 3\n\n<a id="staff"></a>\n\n## Staff\n')
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[fine](other.md#a-shops-own-policy-step-3) [id](other.md#staff) [self](#page) `[code](nowhere.md)`\n"
        "[gone](missing.md) [no heading](other.md#nothing) [web](https://example.com/x)\n"
    )
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nothing (no such heading)"]
