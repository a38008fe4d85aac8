"""The repository contract: environment.yml agrees with pyproject.toml; README names the CI command."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    for extra in ("book", "test"):
        wanted |= {_norm(r) for r in project["optional-dependencies"][extra]}
    pip_lines = []
    in_pip = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.strip() == "- pip:":
            in_pip = True
            continue
        if in_pip and line.strip().startswith("- "):
            pip_lines.append(line.strip()[2:])
    listed = {_norm(r) for r in pip_lines if r != "-e ."}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"


def test_jupyter_book_is_pinned_below_2():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "jupyter-book>=1.0.4.post1,<2" in extras["book"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make book" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_toc_entry_exists():
    toc = (ROOT / "_toc.yml").read_text()
    for name in re.findall(r"(?:root|file):\s*(\S+)", toc):
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), name
