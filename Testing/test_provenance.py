"""The code fingerprint in model cards: what it covers and what leaves it unchanged."""

from __future__ import annotations

import textwrap

from AttriVAELib import provenance
from AttriVAELib.provenance import _code_only, code_fingerprint, package_closure


def test_the_closure_follows_imports_of_training_and_synthesis():
    closure = package_closure()
    assert {"training", "synthetic", "model", "losses", "preprocessing", "augmentation", "io"} <= set(closure)
    assert not {"cli", "mrml", "report", "benchmark", "process", "demo"} & set(closure)  # they make no models


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
    for name, text in (("training", "from .model import M\n"), ("model", "M = 1  # one\n"),
                       ("synthetic", "'''doc'''\n")):
        (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.setattr(provenance, "PACKAGE", tmp_path)
    first = code_fingerprint()
    (tmp_path / "model.py").write_text('"""A docstring now."""\nM = 1  # another comment\n\n')
    assert code_fingerprint() == first
    (tmp_path / "model.py").write_text("M = 2\n")
    assert code_fingerprint() != first
    assert len(first) == 16 and int(first, 16) >= 0
