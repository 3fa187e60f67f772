"""The documentation agrees with itself and with the code: links and anchors resolve, docs/cli.md lists
exactly the options of each ``attrivae`` subcommand, docs/python.md names every public name, and CONTRIBUTING.md
shows the README's test command. Fast: nothing is trained."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from AttriVAELib import __all__ as PUBLIC_NAMES
from AttriVAELib.apps.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
CLI_DOC = ROOT / "docs" / "cli.md"
PYTHON_DOC = ROOT / "docs" / "python.md"

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`]*`")  # GitHub code spans may cross a line break
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and HTML comments (their brackets are not links)."""
    return _HTML_COMMENT.sub("", _FENCE.sub("", text))


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, markup and punctuation other than '-' and '_' dropped, spaces
    turned into '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 ... for repeated headings."""
    seen: dict[str, int] = {}
    result = set()
    for _, heading in _HEADING.findall(_prose(path.read_text())):
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def links(path: Path) -> list[str]:
    """The targets of the Markdown links and images in ``path``'s prose (not in code)."""
    return _LINK.findall(_INLINE_CODE.sub("", _prose(path.read_text())))


def test_the_documents_exist():
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "CONTRIBUTING.md", "docs/cli.md", "docs/python.md"} <= names


def test_anchors_follow_githubs_rule():
    assert github_anchor("Evaluation report, ablations and cross-validation") == \
        "evaluation-report-ablations-and-cross-validation"
    assert github_anchor("`attrivae train`") == "attrivae-train"
    assert github_anchor("How the demo's settings were chosen") == "how-the-demos-settings-were-chosen"
    assert github_anchor("AttriVAELib.apps.samples") == "attrivaelibappssamples"
    assert github_anchor("snake_case and dashes-kept") == "snake_case-and-dashes-kept"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(document):
    broken = []
    for target in links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.relative_to(ROOT)}")
        elif anchor and linked.suffix != ".md":
            broken.append(f"{target}: an anchor into a file that is not Markdown")
    assert not broken, "\n".join(broken)


def test_links_are_found():
    readme_links = links(ROOT / "README.md")
    assert "docs/cli.md" in readme_links and "Resources/Screenshots/attention-slice.png" in readme_links
    assert not any(" " in target for target in readme_links)


# --------------------------------------------------------------------------------------------- the CLI
def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _parser_options(command: argparse.ArgumentParser) -> set[str]:
    return {option for action in command._actions for option in action.option_strings
            if option.startswith("--") and option != "--help"}


def _documented_options() -> dict[str, set[str]]:
    """Per ``## attrivae COMMAND`` section of docs/cli.md: the options in the first cell of its table rows."""
    sections = re.split(r"^## ", _FENCE.sub("", CLI_DOC.read_text()), flags=re.M)
    documented = {}
    for section in sections[1:]:
        title, _, body = section.partition("\n")
        match = re.fullmatch(r"attrivae ([a-z-]+)", title.strip())
        if match:
            documented[match.group(1)] = set(re.findall(r"^\|\s*`(--[a-z0-9-]+)[^`]*`\s*\|", body, re.M))
    return documented


def test_every_subcommand_has_a_section_in_cli_md():
    assert set(_documented_options()) == set(_subcommands())


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_cli_md_documents_exactly_the_options_of_each_subcommand(name):
    documented, actual = _documented_options().get(name, set()), _parser_options(_subcommands()[name])
    assert not documented - actual, f"docs/cli.md documents options that attrivae {name} lacks"
    assert not actual - documented, f"attrivae {name} has options that docs/cli.md does not document"


# ------------------------------------------------------------------------------------------ the Python API
def _all_of(module: str) -> list[str]:
    """``__all__`` of ``AttriVAELib.<module>``, read from its source without importing it."""
    tree = ast.parse((ROOT / "AttriVAELib" / f"{module}.py").read_text())  # module: a path, e.g. modelfile/card
    return next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets))


@pytest.mark.parametrize("module", ["AttriVAELib", "modelfile/card", "apps/samples"])
def test_python_md_names_every_public_name(module):
    names = PUBLIC_NAMES if module == "AttriVAELib" else _all_of(module)
    text = PYTHON_DOC.read_text()
    missing = [name for name in names if not re.search(rf"`{re.escape(name)}\b", text)]
    assert not missing, f"docs/python.md does not name {missing}"


# ------------------------------------------------------------------------------------------- commands
def _bash_lines(path: Path) -> list[str]:
    blocks = re.findall(r"^```bash\n(.*?)^```", path.read_text(), re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_contributing_shows_the_readmes_test_command():
    readme_test = next(line for line in _bash_lines(ROOT / "README.md") if "pytest" in line)
    assert readme_test in _bash_lines(ROOT / "CONTRIBUTING.md")
    assert 'python -m pytest Testing -m "not slow" -q' in (ROOT / "CONTRIBUTING.md").read_text()


def test_the_tables_made_from_the_code_are_current():
    """Blocks that scripts/render_docs.py makes from the code's registries (the attention methods' table)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_docs", ROOT / "scripts" / "render_docs.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    for name, (path, _, _) in render.BLOCKS.items():
        text = path.read_text()
        assert render.rendered(name, text) == text, (
            f"{name} in {path.name} is out of date; run python scripts/render_docs.py")
