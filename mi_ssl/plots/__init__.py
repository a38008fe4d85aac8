"""The book's figures (matplotlib + seaborn). Each function draws one figure and returns it.

Functions take the tables produced by :mod:`mi_ssl.theory`, :mod:`mi_ssl.toy`, :mod:`mi_ssl.probing` and the other
modules that compute, and never compute anything expensive themselves. Nothing in the package imports this
module; the book does. One module per part of the book:

* :mod:`~mi_ssl.plots.theory` — the theory chapters (01, 02);
* :mod:`~mi_ssl.plots.paradigms` — the two paradigms and EMI (03, 06);
* :mod:`~mi_ssl.plots.toy` — the toy Gaussian experiment and MI tracking (04, 05);
* :mod:`~mi_ssl.plots.probe` — the linear-probe chapters (07, 08);
* :mod:`~mi_ssl.plots.bench` — the performance appendix (09);
* :mod:`~mi_ssl.plots.seeds` — per-seed points and curves for any chapter;
* :mod:`~mi_ssl.plots.glue` — figures and numbers handed to the book (``myst_nb.glue``).

Every name is importable from here (``plots.plot_seed_points``), as the chapters call them.
"""

from . import bench, glue, paradigms, probe, seeds, theory, toy
from .bench import *  # noqa: F403
from .glue import *  # noqa: F403
from .paradigms import *  # noqa: F403
from .probe import *  # noqa: F403
from .seeds import *  # noqa: F403
from .theory import *  # noqa: F403
from .toy import *  # noqa: F403

__all__ = [*theory.__all__, *paradigms.__all__, *toy.__all__, *probe.__all__, *bench.__all__, *seeds.__all__,
           *glue.__all__]
