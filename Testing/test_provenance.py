"""The code fingerprint in model cards: what it covers and what leaves it unchanged."""

from __future__ import annotations

import textwrap

from AttriVAELib.modelfile import provenance
from AttriVAELib.modelfile.provenance import _code_only, code_fingerprint, package_closure


def test_the_closure_follows_imports_of_training_and_synthesis():
    closure = package_closure()
    assert {"training.loop", "data.synthetic", "method.model", "method.losses", "data.preprocessing",
            "method.augmentation", "method.distributed", "data.volumes", "files", "config"} <= set(closure)
    assert not {name for name in closure if name.startswith(("apps.", "slicer."))}  # they make no models


def test_comments_docstrings_and_blank_lines_do_not_count():
    code = '''
        """Module docstring."""
        X = 1  # a comment
        """An attribute docstring."""


        def f(a):
            """Doc
            on two lines."""
            # a comment line
            return a + X  # trailing comment
    '''
    documented = textwrap.dedent(code)
    bare = "X = 1\ndef f(a):\n    return a + X"
    assert _code_only(documented) == bare
    assert _code_only(documented.replace("a + X", "a - X")) != bare


def test_a_code_change_changes_the_fingerprint(tmp_path, monkeypatch):
    for folder in ("training", "data"):
        (tmp_path / folder).mkdir()
    for name, text in (("training/loop.py", "from .. import __version__\nfrom ..model import M\n"),
                       ("model.py", "M = 1  # one\n"),
                       ("data/synthetic.py", "'''doc'''\nfrom ..training import loop\n")):
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(provenance, "PACKAGE", tmp_path)
    assert package_closure() == ["data.synthetic", "model", "training.loop"]
    first = code_fingerprint()
    (tmp_path / "model.py").write_text('"""A docstring now."""\nM = 1  # another comment\n\n')
    assert code_fingerprint() == first
    (tmp_path / "model.py").write_text("M = 2\n")
    assert code_fingerprint() != first
    assert len(first) == 16 and int(first, 16) >= 0
