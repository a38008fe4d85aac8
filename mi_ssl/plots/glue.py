"""Hand figures and numbers to the book (``myst_nb.glue``): stored for ``{glue:figure}`` and ``{glue:text}``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["glue_figure", "glue_values"]


def glue_figure(name: str, fig: Figure) -> Figure:
    """Store ``fig`` for the book under ``name`` (``myst_nb.glue``, not displayed in place) and close it.

    A chapter then shows it, numbered and captioned, with a ``{glue:figure}`` directive (``:name:`` for
    ``{numref}``); closing keeps the inline backend from drawing it a second time under the code cell.
    """
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)
    return fig


def glue_values(**values: object) -> None:
    """Store numbers and text for ``{glue:text}`` (``myst_nb.glue``, not displayed): ``glue_values(gap=1.5)``.

    NumPy scalars become Python numbers first: ``{glue:text}`` reads the stored ``repr``, and ``np.float64(1.5)``
    would not take a format spec such as ``:.2f``.
    """
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value.item() if isinstance(value, np.generic) else value, display=False)
