"""Run every chapter on seeds it has never seen, and the verdict page on what they computed.

    python tools/check_seeds.py [--seeds 101 102 103 104 105] [--chapters 04_toy_gaussian ...] [--out _build/seeds]

A claim the book asserts must be true of the method, not of the five draws the chapter was written on. This copies
the chapters into ``OUT/book`` (its own run cache and claim records: nothing in ``book/`` is touched), executes each
chapter that has a ``seeds`` parameter with papermill and ``-p seeds [...]``, then (when every such chapter ran) the
verdict page on those records, and prints one line per chapter: ``ok`` with its wall time, or the assertion that
failed and its cell. The executed notebooks stay in ``OUT/book`` to read; the exit status is 1 when any chapter
failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
VERDICTS = "10_verdicts"


def seeded_chapters() -> list[str]:
    """Chapters whose parameters cell declares ``seeds``, in book order."""
    names = []
    for path in sorted(BOOK.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        if any("parameters" in c.metadata.get("tags", []) and "\nseeds:" in "\n" + c.source for c in cells):
            names.append(path.stem)
    return names


def run(chapter: str, where: Path, parameters: dict) -> tuple[bool, float, str]:
    """Execute ``where/chapter.ipynb`` in place; ``(passed, seconds, what failed)``."""
    path = where / f"{chapter}.ipynb"
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(path), str(path), parameters=parameters, cwd=str(where), kernel_name="python3",
                            progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as e:
        return False, time.perf_counter() - start, f"cell {e.exec_count}: {e.ename}: {str(e.evalue)[:300]}"
    return True, time.perf_counter() - start, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105],
                        help="seeds passed to every chapter (default: %(default)s)")
    parser.add_argument("--chapters", nargs="+", default=None,
                        help="chapter names without .ipynb (default: every chapter with a seeds parameter)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "seeds",
                        help="work folder (default: %(default)s)")
    args = parser.parse_args(argv)
    known = seeded_chapters()
    chapters = args.chapters or known
    unknown = sorted(set(chapters) - set(known))
    if unknown:
        print(f"check_seeds: --chapters {' '.join(unknown)}: no such chapter with a seeds parameter; "
              f"allowed: {', '.join(known)}", file=sys.stderr)
        return 2
    where = args.out / "book"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    for path in BOOK.glob("*.ipynb"):
        shutil.copy(path, where / path.name)
    print(f"seeds {args.seeds}; chapters run in {where}")
    failed = 0
    # the verdict page needs every chapter's record: it runs only after all of them
    for chapter in [*chapters, VERDICTS] if set(chapters) == set(known) else chapters:
        ok, seconds, why = run(chapter, where, {} if chapter == VERDICTS else {"seeds": args.seeds})
        failed += not ok
        print(f"{chapter}: {'ok' if ok else 'FAILED'} ({seconds:.0f} s){'' if ok else ' — ' + why}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
