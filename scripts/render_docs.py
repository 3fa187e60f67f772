"""Write the documentation's tables that are made from the code's registries, between their markers
``<!-- made from CODE: NAME (python scripts/render_docs.py; do not edit) -->`` and ``<!-- end of NAME -->``.

    python scripts/render_docs.py          # rewrite every block
    python scripts/render_docs.py --check  # exit 1 if a block differs from what the code makes

``Testing/test_docs.py`` runs the check.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from AttriVAELib.choices import ATTRIBUTION, DEFAULT_METHOD  # noqa: E402


def attribution_methods() -> str:
    """The attention methods of :data:`AttriVAELib.choices.ATTRIBUTION`, one row each."""
    rows = ["| method | maps | explains | what it computes |", "|---|---|---|---|"]
    for name, method in ATTRIBUTION.items():
        rows.append(f"| `{name}`{' (default)' if name == DEFAULT_METHOD else ''} | "
                    f"{'signed' if method.signed else 'non-negative'} | "
                    f"{'an encoder layer (`--layer`)' if method.layered else 'the input voxels'} | {method.summary} |")
    return "\n".join(rows)


BLOCKS: dict[str, tuple[Path, str, Callable[[], str]]] = {
    "attribution methods": (ROOT / "docs" / "interpretation.md", "AttriVAELib/choices.py", attribution_methods),
}
"""Each block's name: the file it is written into, the code it is made from, and the function that makes it."""


def markers(name: str) -> tuple[str, str]:
    path, source, _ = BLOCKS[name]
    return (f"<!-- made from {source}: {name} (python scripts/render_docs.py; do not edit) -->",
            f"<!-- end of {name} -->")


def rendered(name: str, text: str) -> str:
    """``text`` (the content of the block's file) with the block made anew.

    Raises:
        ValueError: ``text`` lacks either marker of the block.
    """
    start, end = markers(name)
    if start not in text or end not in text:
        raise ValueError(f"{BLOCKS[name][0].relative_to(ROOT)} lacks the markers of {name!r}")
    before, rest = text.split(start, 1)
    return f"{before}{start}\n{BLOCKS[name][2]()}\n{end}{rest.split(end, 1)[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report blocks that differ; write nothing")
    args = parser.parse_args()
    stale = []
    for name, (path, _, _) in BLOCKS.items():
        text = path.read_text()
        new = rendered(name, text)
        if new != text:
            stale.append(f"{path.relative_to(ROOT)}: {name}")
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print("made from the code but out of date (run python scripts/render_docs.py): " + "; ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
