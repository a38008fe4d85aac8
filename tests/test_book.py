"""The book's notebooks follow the conventions nbval and papermill rely on, and nbval catches a broken claim."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 6


#: Pages that only render what other chapters computed (no training, no sampling, so no seeds).
RENDER_ONLY = {"10_verdicts.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters' (papermill)"
    for line in params[0].source.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"parameter without a comment: {line!r}"
    if path.name not in RENDER_ONLY:      # a page that trains or samples says which seeds
        assert "seed" in params[0].source or "n_threads" in params[0].source
    assert any("assert " in c.source for c in code), "a chapter asserts its claims"
    for c in code:
        assert not any(o.get("output_type") == "error" for o in c.outputs), "stored error output"
        if c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT"):
            assert c.outputs, "a checked cell needs its reference output stored"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


#: Issue 13: a chapter is narrative over short calls into the package. Every line of every code cell counts
#: (blank lines, comments, the install cell and hidden cells included), as a reader who opens the notebook sees them.
MAX_CODE_LINES = 120


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_code_stays_thin(path):
    nb = nbformat.read(path, as_version=4)
    lines = sum(len(c.source.splitlines()) for c in nb.cells if c.cell_type == "code")
    assert lines <= MAX_CODE_LINES, f"{path.name}: {lines} code lines (at most {MAX_CODE_LINES}); move code into mi_ssl"


def test_nbval_fails_when_an_asserted_claim_stops_holding(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("gap = 88.0  # a measured number")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("assert gap > 85, 'the claim'")]
    good = tmp_path / "good.ipynb"
    nbformat.write(nb, good)
    nb.cells[0].source = "gap = 50.0  # the claim no longer holds"
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax"]
    assert subprocess.run([*run, str(good)], capture_output=True, cwd=tmp_path).returncode == 0
    failed = subprocess.run([*run, str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert failed.returncode == 1 and "the claim" in failed.stdout
