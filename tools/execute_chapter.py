"""Execute chapters in place on their default parameters, so that the outputs stored in ``book/`` are current.

    python tools/execute_chapter.py book/06_explicit_mi.ipynb [book/03_two_paradigms.ipynb ...]

Runs every cell in the chapter's own folder (as nbval and the book build do), with the repository's kernel, and
writes the notebook back with its outputs. The install cell stays first, runs as the no-op it is where
``mi_ssl`` is importable and is stored unexecuted; per-cell timing metadata is not written, so a re-execution
changes only outputs and
execution counts. A cell that raises stops the run and leaves the file untouched (the error is printed in one line
per cell, naming the chapter and cell).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def execute(path: Path, timeout: int = 1800) -> None:
    """Execute ``path`` in its folder and write it back with the new outputs."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    first = nb.cells[0]
    if first.get("id") == "install-mi-ssl":  # the install cell is stored as written, never as run
        first.execution_count, first.outputs = None, []
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path, help="chapter notebooks to execute in place")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    args = parser.parse_args(argv)
    for path in args.chapters:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"execute_chapter: {path}: not a notebook file", file=sys.stderr)
            return 2
        try:
            execute(path, args.timeout)
        except CellExecutionError as err:
            print(f"execute_chapter: {path}: a cell failed: {str(err).strip().splitlines()[-1]}", file=sys.stderr)
            return 1
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
