"""Closed forms and numerical checks behind the theory chapters (book chapters 01, 02 and 06).

Everything here is small, exact where it can be, and in **nats**; tensors are ``float64`` by default,
since these functions check the paper's equations. Module map, in the order the chapters use them:

* :mod:`.gaussians` — correlated Gaussians (true MI, sampler, optimal critic, MI from covariances) and the
  Gaussian channel of paper Eq. 29.
* :mod:`.sweeps` — every estimator of :mod:`mi_ssl.bounds` against those closed forms, over MI, batch
  size and critic.
* :mod:`.ascent` — alternating (SDMI) vs joint (JMI) gradient ascent on exact DV objectives of two
  linear encoders (Section 3.1, Proposition, A.1; Eqs. 2, 4-5, 15-18).
* :mod:`.cumulants` — ``K(s) = log E e^{sT}``, its second-order expansion and remainder (Eqs. 21-23).
* :mod:`.batch` — statistics of one batch of view pairs: standardisation, cross-correlation, marginal
  pairs by derangement, covariance of the products ``z_i^A z_i^B``, excess kurtosis.
* :mod:`.dot_critic` — the Barlow Twins dot critic (Eq. 12): moments, Gaussian ``K(s)`` and DV value,
  and their batch measurements (Eqs. 13, 25-28).
* :mod:`.families` — view pairs with fixed second moments but other correlation structure or laws, and
  the studies of the DV -> Barlow Twins steps on them (the paper's open question 3).
* :mod:`.derivation` — the steps S1-S4 of the DV -> Barlow Twins derivation on views drawn from one seed.
* :mod:`.logdet` — EMI's Gaussian (log-det) MI against the true MI: bias, ridge, invariances, and the true
  MI of mixtures by Monte Carlo (:func:`mc_mi`), the toy views' data-processing ceiling among them.
* :mod:`.replicate` — one study repeated over a list of seeds, as one table with a ``seed`` column.

Bad input raises ``ValueError`` (``TypeError`` for a wrong type) naming the argument, its value and what
is allowed (:mod:`mi_ssl.checks`).
"""

# Each module's ``__all__`` is its public API; the package re-exports all of them.
from . import ascent, batch, cumulants, derivation, dot_critic, families, gaussians, logdet, replicate, sweeps
from .ascent import *  # noqa: F403
from .batch import *  # noqa: F403
from .cumulants import *  # noqa: F403
from .derivation import *  # noqa: F403
from .dot_critic import *  # noqa: F403
from .families import *  # noqa: F403
from .gaussians import *  # noqa: F403
from .logdet import *  # noqa: F403
from .replicate import *  # noqa: F403
from .sweeps import *  # noqa: F403

__all__ = [
    *gaussians.__all__,
    *sweeps.__all__,
    *ascent.__all__,
    *cumulants.__all__,
    *batch.__all__,
    *dot_critic.__all__,
    *families.__all__,
    *derivation.__all__,
    *logdet.__all__,
    *replicate.__all__,
]
