"""The documentation: the README is a short front door, docs/blueprints.md is what the archive says now,
and every relative link in README.md and docs/*.md points to a file (and a heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from tracer.agents.api.catalog import blueprint_details
from tracer.agents.docs_blueprints import REGENERATE, blueprints_markdown, main
from tracer.blueprints import registry

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` (outside code blocks) whose file or heading does not exist."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no file {linked})")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.name})")
    return broken


def test_every_relative_link_resolves() -> None:
    assert len(PAGES) > 5, "the README and the docs pages"
    problems = {page.name: broken_links(page) for page in PAGES}
    assert {name: links for name, links in problems.items() if links} == {}


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading\n\n## `code`: and more\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading) [ok](there.md#code-and-more) [ok](https://x.org/y)\n"
        "[gone](missing.md) [no heading](there.md#nowhere)\n```\n[in code](ignored.md)\n```\n"
    )
    assert broken_links(page) == [
        f"missing.md (no file {tmp_path / 'missing.md'})",
        "there.md#nowhere (no heading #nowhere in there.md)",
    ]


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 180, "the README stays short: long sections belong in docs/"
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    assert {f"docs/{page.name}" for page in DOCS.glob("*.md")} <= linked, "every docs page is linked"
    for command in ("make demo", "make test"):
        assert command in readme and command.split()[1] + ":" in (ROOT / "Makefile").read_text()
    counted = re.search(r"archive has (\d+) blueprints", readme)
    assert counted and int(counted.group(1)) == len(registry.list()), "the README counts the archive right"


def test_the_blueprints_page_is_current() -> None:
    page = DOCS / "blueprints.md"
    assert page.exists() and page.read_text() == blueprints_markdown(), (
        f"docs/blueprints.md is not what the archive says now; regenerate it: {REGENERATE}"
    )


def test_the_page_shows_every_blueprint_with_its_inputs_outputs_and_figures() -> None:
    page = blueprints_markdown()
    sections = re.split(r'^<a id="', page, flags=re.M)[1:]
    assert [section.split('"')[0] for section in sections] == [bp.id for bp in registry.list()]
    for section in sections:
        details = blueprint_details(section.split('"')[0])
        for spec in details.inputs:
            assert f"| `{spec.name}` |" in section and all(f"`{name}`" in section for name in spec.synonyms)
        for field in details.output.json_schema["properties"]:
            assert f"| `{field}` |" in section
        for figure in details.performance:
            assert f"| {figure.dataset} | {figure.data} |" in section and f"| {figure.value:.3f} |" in section
        assert details.label.description in section


def test_the_command_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "blueprints.md"
    result = CliRunner().invoke(main, ["--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == blueprints_markdown()
