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

Bad input raises ``ValueError`` (``TypeError`` for a wrong type) naming the argument, its value and what
is allowed (:mod:`mi_ssl.checks`).
"""

from .ascent import (
    AscentTrace,
    Terms,
    ascent_sweep,
    ascent_table,
    batch_cos_dv_instance,
    batch_cos_dv_terms,
    dv_ascent,
    gaussian_dot_dv_terms,
    gaussian_dot_instance,
    linear_gaussian_batch,
    linear_gaussian_setting,
    linear_view_covariances,
)
from .batch import (
    cross_covariance,
    derangement,
    excess_kurtosis,
    marginal_pairs,
    product_feature_covariance,
    standardise,
)
from .cumulants import cumulant_expansion, cumulant_remainder, cumulant_study, log_mgf, remainder_bound
from .dot_critic import (
    dot_critic_moments,
    dot_mgf_study,
    gaussian_dot_dv,
    gaussian_dot_marginal_log_mgf,
    variance_decomposition,
)
from .families import FAMILIES, family_study, sample_relu_views, sample_views, surrogate_landscape, view_covariance
from .gaussians import (
    ChannelMI,
    gaussian_channel_mi,
    gaussian_mi,
    gaussian_mi_from_cov,
    gaussian_optimal_critic,
    rho_for_mi,
    sample_correlated_gaussians,
    sample_gaussian_channel,
)
from .sweeps import bound_estimates, bound_sweep, channel_sweep

__all__ = [
    # gaussians
    "gaussian_mi",
    "rho_for_mi",
    "sample_correlated_gaussians",
    "gaussian_optimal_critic",
    "gaussian_mi_from_cov",
    "ChannelMI",
    "gaussian_channel_mi",
    "sample_gaussian_channel",
    # sweeps
    "bound_estimates",
    "bound_sweep",
    "channel_sweep",
    # ascent
    "Terms",
    "linear_view_covariances",
    "gaussian_dot_dv_terms",
    "batch_cos_dv_terms",
    "AscentTrace",
    "dv_ascent",
    "linear_gaussian_setting",
    "linear_gaussian_batch",
    "ascent_table",
    "gaussian_dot_instance",
    "batch_cos_dv_instance",
    "ascent_sweep",
    # cumulants
    "log_mgf",
    "cumulant_expansion",
    "cumulant_remainder",
    "remainder_bound",
    "cumulant_study",
    # batch
    "standardise",
    "cross_covariance",
    "derangement",
    "marginal_pairs",
    "product_feature_covariance",
    "excess_kurtosis",
    # dot critic
    "gaussian_dot_marginal_log_mgf",
    "dot_critic_moments",
    "gaussian_dot_dv",
    "dot_mgf_study",
    "variance_decomposition",
    # families
    "FAMILIES",
    "view_covariance",
    "sample_views",
    "sample_relu_views",
    "surrogate_landscape",
    "family_study",
]
