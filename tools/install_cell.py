"""Put (or refresh) the install cell at the top of every chapter, from the repository URL in ``_config.yml``.

    python tools/install_cell.py          # write: insert the cell, or update it when the URL changed
    python tools/install_cell.py --check  # exit 1 when a chapter lacks the cell or names another URL

The cell makes a chapter runnable where it is launched alone (Colab, Binder): when ``mi_ssl`` is importable it does
nothing; otherwise it pip-installs the package from the repository. It is tagged ``remove-input`` (the book shows
nothing of it) and ``nbval-skip`` (nbval does not run it; a ``# NBVAL_SKIP`` comment besides would make nbval warn of
overlapping options on every chapter). Only the first cell is touched; every other cell, output and metadata is kept
byte for byte (the notebook's JSON layout is preserved).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "install-mi-ssl"
TAGS = ["remove-input", "nbval-skip"]


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """The one repository URL of the book (``repository.url`` in ``_config.yml``)."""
    url = (yaml.safe_load(config.read_text()).get("repository") or {}).get("url")
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(f"repository.url in {config} must be an https:// URL, got {url!r}")
    return url.rstrip("/")


def cell_source(url: str) -> str:
    """The install cell's code for the repository at ``url``."""
    return (
        "# Launched alone (Colab, Binder): install mi_ssl from the repository; a no-op where it is installed.\n"
        "import importlib.util, subprocess, sys  # noqa: E401\n"
        "if importlib.util.find_spec(\"mi_ssl\") is None:\n"
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"mi-ssl @ git+{url}\"],"
        " check=True)"
    )


def _cell(url: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": CELL_ID, "metadata": {"tags": list(TAGS)},
            "outputs": [], "source": cell_source(url).splitlines(keepends=True)}


def _dumps(nb: dict, indent: int | None) -> str:
    return json.dumps(nb, indent=indent, ensure_ascii=False) + "\n"


def _layout(text: str) -> int:
    """The JSON indent of a notebook file (Jupyter writes 1), checked to round-trip exactly."""
    nb = json.loads(text)
    for indent in (1, 2, 4):
        if _dumps(nb, indent) == text:
            return indent
    raise ValueError("notebook JSON layout not recognised (would rewrite the whole file); "
                     "save it once with Jupyter or nbformat and retry")


def has_current_cell(nb: dict, url: str) -> bool:
    """True when the first cell is the install cell for ``url``."""
    cells = nb.get("cells", [])
    return bool(cells) and cells[0].get("id") == CELL_ID and "".join(cells[0]["source"]) == cell_source(url) and (
        cells[0].get("metadata", {}).get("tags") == TAGS)


def apply(path: Path, url: str) -> bool:
    """Insert or refresh the install cell of one notebook; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    indent = _layout(text)
    nb = json.loads(text)
    if has_current_cell(nb, url):
        return False
    cells = nb["cells"]
    if cells and cells[0].get("id") == CELL_ID:
        cells[0] = _cell(url)
    else:
        cells.insert(0, _cell(url))
    path.write_text(_dumps(nb, indent), encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report chapters whose cell is missing or stale")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/*.ipynb")
    args = parser.parse_args(argv)
    url = repository_url()
    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    stale = [p for p in notebooks if not has_current_cell(json.loads(p.read_text(encoding="utf-8")), url)]
    if args.check:
        for p in stale:
            print(f"{p}: first cell is not the install cell for {url} (run python tools/install_cell.py)")
        return 1 if stale else 0
    for p in stale:
        apply(p, url)
        print(f"{p}: install cell written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
