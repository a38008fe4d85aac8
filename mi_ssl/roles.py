"""What plays the DV marginal term in each method, read off its registry row (book chapter 03).

The DV bound (paper Eq. 1) needs its marginal term ``log E_{p(z_A)p(z_B)} e^T``; the joint term alone is
maximised by collapse (SDMI-NoDV, Section 4.3). The paper's reading is that every working method keeps
*something* in that role: an explicit log-partition, negatives, a predictor (SDMI, Section 3.2.1) or a
statistical regulariser (JMI, Eq. 10). :func:`marginal_term` derives that reading from a method's
:class:`~mi_ssl.methods.Method` fields (its objective and its predictor), so it cannot drift from the
registry: a new objective without an entry in :data:`OBJECTIVE_MARGINAL` is an error, not a silent blank.
"""

from __future__ import annotations

from types import MappingProxyType

import pandas as pd

from .methods import METHODS, get_method

__all__ = ["MARGINAL_KINDS", "OBJECTIVE_MARGINAL", "marginal_term", "marginal_table"]

#: The kinds of stand-in for the marginal term, from the explicit to the absent.
MARGINAL_KINDS = ("log-partition", "negatives", "Gaussian entropies", "regulariser", "predictor", "none")

#: Per objective: ``(kind, what in the loss plays the marginal term)``; ``None`` = the loss has no such term.
OBJECTIVE_MARGINAL: MappingProxyType[str, tuple[str, str] | None] = MappingProxyType({
    "cos_dv": ("log-partition", "log-mean-exp of cos/τ over the N(N−1) off-diagonal pairs (Eq. 15)"),
    "nt_xent": ("negatives", "log-sum-exp over the 2N − 2 other views (NT-Xent)"),
    "moco_infonce": ("negatives", "log-sum-exp over the batch's other momentum keys (InfoNCE, Eq. 20)"),
    "emi": ("Gaussian entropies", "log det C_A + log det C_B (spread of each view) against log det C_[A;B]"),
    "barlow_twins": ("regulariser", "redundancy term λ Σ_{i≠j} C_ij²: the Taylor-DV marginal variance (Eq. 13)"),
    "vicreg": ("regulariser", "variance hinge + covariance penalty on each branch (Eq. 10's regulariser R)"),
    "negative_cosine": None,
    "joint_only": None,
})


def marginal_term(name: str) -> tuple[str, str]:
    """``(kind, description)`` of what plays the DV marginal term in method ``name``.

    The objective decides it (:data:`OBJECTIVE_MARGINAL`); a loss without one relies on a predictor if the
    method has one (``kind="predictor"``), else nothing stands in (``kind="none"``: such methods collapse).
    """
    m = get_method(name)
    if m.objective not in OBJECTIVE_MARGINAL:
        raise ValueError(f"objective {m.objective!r} of method {name!r} has no entry in OBJECTIVE_MARGINAL; "
                         f"known objectives: {', '.join(OBJECTIVE_MARGINAL)}")
    entry = OBJECTIVE_MARGINAL[m.objective]
    if entry is not None:
        return entry
    if m.predictor == "online":
        return "predictor", "none in the loss; the online predictor stands in for it (Section 3.2.1)"
    if m.predictor == "both":
        return "predictor", "none in the loss; a trainable predictor on each step's trained branch (Section 4.3)"
    return "none", "none: only the alignment (joint) term, and no predictor (collapses, Section 4.3)"


def marginal_table(names: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per method (default: the whole registry): ``method, paradigm, update, objective, predictor,
    marginal_kind, marginal_term``."""
    rows = []
    for n in names or tuple(METHODS):
        m = get_method(n)
        kind, text = marginal_term(n)
        rows.append({"method": n, "paradigm": m.paradigm, "update": m.update, "objective": m.objective,
                     "predictor": m.predictor, "marginal_kind": kind, "marginal_term": text})
    return pd.DataFrame(rows)
