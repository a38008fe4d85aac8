"""Chapter parameters: one check (mi_ssl.params.check), one-line errors, lists as Python or as JSON/YAML text."""

import ast
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import nbformat
import pytest

from mi_ssl import params
from mi_ssl.methods import METHODS

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("0*.ipynb") if not p.name.startswith("09"))


def ns(**values):
    """A notebook namespace: values plus their annotations (as a parameters cell leaves them)."""
    types = {"seed": int, "seeds": list[int], "epochs": int | None, "device": str, "lr": float, "tau": float,
             "methods": list[str], "dataset": str, "progress": bool, "batch_sizes": list[int], "n": int,
             "data_dir": str | None, "profile": str, "rates": list[float]}
    return {**values, "__annotations__": {k: types[k] for k in values}}


# ------------------------------------------------------------------------------------ valid input
@pytest.mark.parametrize("given, expected", [
    (["jmi", "sdmi"], ["jmi", "sdmi"]),            # papermill -y 'methods: [jmi, sdmi]'
    ('["jmi", "sdmi"]', ["jmi", "sdmi"]),          # papermill -p methods '["jmi", "sdmi"]' (JSON text)
    ("[jmi, sdmi]", ["jmi", "sdmi"]),              # YAML flow list
    ("jmi, sdmi", ["jmi", "sdmi"]),                # comma-separated
    ("jmi", ["jmi"]),                              # one name: a one-item list
    (("byol",), ["byol"]),
])
def test_methods_accept_lists_and_text(given, expected):
    space = ns(methods=given)
    assert params.check(space) == {"methods": expected}
    assert space["methods"] == expected                       # converted in place


def test_scalars_are_converted_from_text():
    space = ns(seed="3", epochs="12", lr="1e-3", tau=0.5, progress="true", dataset="CIFAR-10",
               seeds="[1, 2]", device="cpu", batch_sizes=[4, 8], rates="0.5, 2")
    space["__annotations__"]["rates"] = list[float]
    out = params.check(space)
    assert out == {"seed": 3, "epochs": 12, "lr": 0.001, "tau": 0.5, "progress": True, "dataset": "cifar10",
                   "seeds": [1, 2], "device": "cpu", "batch_sizes": [4, 8], "rates": [0.5, 2.0]}
    assert type(out["lr"]) is float and type(out["seed"]) is int


def test_optional_parameters_take_none_in_any_spelling():
    for none in (None, "None", "null"):
        assert params.check(ns(epochs=none, data_dir=none)) == {"epochs": None, "data_dir": None}


def test_chapter_specific_spec_takes_precedence():
    assert params.check(ns(n=5), n=params.Int(2)) == {"n": 5}
    with pytest.raises(params.ParameterError, match=r"^parameter n=1: not allowed; expected an integer >= 2$"):
        params.check(ns(n=1), n=params.Int(2))


# ---------------------------------------------------------------------------------- invalid input
@pytest.mark.parametrize("values, message", [
    ({"methods": '["nope"]'}, "parameter methods='[\"nope\"]': item 'nope' is not allowed; expected a list of "
                              "method names (each one of sdmi, jmi"),
    ({"methods": []}, "parameter methods=[]: the list is empty; expected a list of method names"),
    ({"methods": ["jmi", "jmi"]}, "parameter methods=['jmi', 'jmi']: repeated item 'jmi'"),
    ({"epochs": "abc"}, "parameter epochs='abc': not allowed; expected an integer >= 1, or None"),
    ({"epochs": 0}, "parameter epochs=0: not allowed; expected an integer >= 1, or None"),
    ({"epochs": 2.5}, "parameter epochs=2.5: not allowed; expected an integer >= 1"),
    ({"epochs": True}, "parameter epochs=True: not allowed; expected an integer >= 1"),
    ({"seed": -1}, "parameter seed=-1: not allowed; expected an integer >= 0"),
    ({"seeds": "[1, -2]"}, "parameter seeds='[1, -2]': item -2 is not allowed; expected a list of integers >= 0"),
    ({"lr": "inf"}, "parameter lr='inf': not allowed; expected a finite number > 0"),
    ({"lr": -0.1}, "parameter lr=-0.1: not allowed; expected a finite number > 0"),
    ({"tau": 0}, "parameter tau=0: not allowed; expected a finite number > 0"),
    ({"device": "foo"}, "parameter device='foo': not allowed; expected a device here: auto, cpu, cuda or cuda:N"),
    ({"dataset": "mnist"}, "parameter dataset='mnist': not allowed; expected a data set name (one of gaussian,"),
    ({"profile": "fast"}, "parameter profile='fast': not allowed; expected a profile (one of cpu, paper)"),
    ({"progress": 3}, "parameter progress=3: not allowed; expected True or False"),
    ({"batch_sizes": "[1, 8]"}, "parameter batch_sizes='[1, 8]': item 1 is not allowed; expected a list of "
                                "integers >= 2"),
    ({"seed": None}, "parameter seed=None: not allowed; expected an integer >= 0"),
])
def test_bad_values_raise_one_line_naming_parameter_value_and_allowed(values, message):
    with pytest.raises(params.ParameterError) as err:
        params.check(ns(**values))
    text = str(err.value)
    assert text.startswith(message)
    assert "\n" not in text
    name = next(iter(values))
    assert f"parameter {name}=" in text and "expected" in text


def test_cuda_without_cuda_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device exists here")
    with pytest.raises(params.ParameterError, match="device='cuda': no CUDA device is available here"):
        params.check(ns(device="cuda"))


def test_error_renders_as_one_line_in_ipython():
    """IPython shows ``_render_traceback_()`` instead of a traceback: exactly one line."""
    with pytest.raises(params.ParameterError) as err:
        params.check(ns(seed="x"))
    assert err.value._render_traceback_() == ["ParameterError: parameter seed='x': not allowed; "
                                              "expected an integer >= 0"]
    assert isinstance(err.value, ValueError)


def test_nothing_changes_when_a_value_is_refused():
    space = ns(seed="3", epochs="abc")
    with pytest.raises(params.ParameterError):
        params.check(space)
    assert space["seed"] == "3"


# --------------------------------------------------------------------------- chapter consistency bugs
def test_chapter_bugs_are_type_errors_not_parameter_errors():
    with pytest.raises(TypeError, match="no annotated parameters"):
        params.check({"seed": 0})
    with pytest.raises(TypeError, match=r"'seed' is annotated 'str' but mi_ssl.params expects 'int'"):
        params.check({"seed": "0", "__annotations__": {"seed": "str"}})
    with pytest.raises(TypeError, match="not understood"):
        params.check({"x": {}, "__annotations__": {"x": dict}})
    with pytest.raises(TypeError, match="'y' has no annotation"):
        params.check(ns(seed=0), names=["seed", "y"])


@pytest.mark.parametrize("annotation, type_name, optional", [
    (int, "int", False), ("float", "float", False), (list[str], "list[str]", False),
    ("Optional[int]", "int", True), ("Optional[list[int]]", "list[int]", True),
    (list[float] | None, "list[float]", True), ("int | None", "int", True),
    (typing.Optional[str], "str", True),  # noqa: UP045 - what a parameters cell's annotation is at run time
])
def test_annotations_read(annotation, type_name, optional):
    spec, opt = params.spec_from_annotation(annotation)
    assert (spec.type_name, opt) == (type_name, optional)


def test_method_names_are_the_registry():
    assert params.COMMON["methods"].item.values == tuple(METHODS)


# ------------------------------------------------------------------------------------- the chapters
def _parameters_and_check(path: Path) -> tuple[str, str]:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    i = next(k for k, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    tree = ast.parse(code[i + 1].source)
    check_src = "\n".join(ast.get_source_segment(code[i + 1].source, s) for s in tree.body[:3])
    return code[i].source, check_src


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_annotates_and_checks_its_parameters(path):
    source, check_src = _parameters_and_check(path)
    assert "from mi_ssl import params" in check_src and "params.check(globals()" in check_src, \
        "the first statements after the parameters cell check them"
    assigned = {t.id for s in ast.parse(source).body if isinstance(s, (ast.Assign, ast.AnnAssign))
                for t in ([s.target] if isinstance(s, ast.AnnAssign) else s.targets)}
    annotated = {s.target.id for s in ast.parse(source).body if isinstance(s, ast.AnnAssign)}
    assert assigned == annotated, f"parameters without a type: {sorted(assigned - annotated)}"
    for line in source.splitlines():
        if ":" in line and "=" in line and not line.lstrip().startswith("#"):
            code, _, help_text = line.partition("  # ")
            assert help_text and "=" not in help_text, f"papermill skips a help text with '=': {line!r}"
    space: dict = {}
    exec(source, space)          # noqa: S102 - the chapter's own parameters cell
    exec(check_src, space)       # noqa: S102 - and its own check call: the defaults pass
    assert set(annotated) <= set(space)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_papermill_help_shows_every_type(path):
    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Unknown type" not in out
    assert re.search(r"\bseeds?: (int|list\[int\]) \(default", out), "the seed(s) parameter shows its type"


def test_bad_chapter_parameter_through_papermill_is_one_line(tmp_path):
    """The cheapest chapter's check through papermill: the cell's error is the one line, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "book" / "03_two_paradigms.ipynb"), str(tmp_path / "out.ipynb"),
         "-p", "batch_size", "abc", "--cwd", str(ROOT / "book")],
        capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode != 0
    tail = run.stderr[run.stderr.index("Exception encountered"):].strip().splitlines()
    assert tail[1:] == ["ParameterError: parameter batch_size='abc': not allowed; expected an integer >= 2"]
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.traceback for e in errors] == [[tail[1]]]
