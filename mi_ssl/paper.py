"""Numbers the paper reports, transcribed once so chapters print them beside ours (never mixed up).

Source: *Self-Supervised Representation Learning as Mutual Information Maximization*, arXiv 2510.01345.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Table 2 (B.1.1, deterministic full-batch updates): NN angle gaps at convergence, degrees:
#: (mean, min, max, SD). Keys are (mi-ssl method name, encoder).
TABLE2: MappingProxyType[tuple[str, str], tuple[float, float, float, float]] = MappingProxyType({
    ("sdmi", "f"): (74.47, 72.78, 77.60, 1.76),
    ("sdmi", "g"): (73.77, 72.16, 75.06, 1.32),
    ("simsiam", "f"): (40.62, 28.04, 71.86, 16.19),
    ("mocov3", "f"): (49.64, 47.90, 54.07, 2.29),
    ("byol", "f"): (37.35, 31.26, 45.34, 5.42),
    ("jmi", "f"): (88.26, 85.49, 94.03, 3.36),
    ("simclr", "f"): (65.80, 61.95, 70.60, 3.38),
    ("barlow_twins", "f"): (81.62, 64.46, 102.53, 15.55),
    ("vicreg", "f"): (82.15, 69.28, 100.95, 14.54),
})

#: Table 1: linear-probe top-1 (%) as (mean, std) over 3 runs; keys (method, encoder), columns below.
TABLE1_COLUMNS = ("cifar10", "cifar100", "tinyimagenet", "imagenet100")
#: The paper's Table 1: ``(method, encoder) -> ((mean, std) per TABLE1_COLUMNS)``, linear-probe top-1 in %.
TABLE1: MappingProxyType[tuple[str, str], tuple[tuple[float, float], ...]] = MappingProxyType({
    ("sdmi", "f"): ((88.61, 0.13), (57.37, 0.38), (33.30, 0.58), (70.73, 0.57)),
    ("sdmi", "g"): ((88.59, 0.35), (57.85, 0.32), (32.94, 0.71), (70.83, 0.16)),
    ("simsiam", "f"): ((89.72, 0.18), (60.45, 0.60), (19.19, 0.69), (78.23, 0.58)),
    ("byol", "f"): ((91.28, 0.16), (63.11, 0.21), (32.77, 0.10), (81.09, 0.61)),
    ("mocov3", "f"): ((91.10, 0.16), (58.90, 0.32), (32.18, 0.55), (76.86, 0.74)),
    ("jmi", "f"): ((88.01, 0.48), (57.22, 0.56), (32.23, 0.52), (73.41, 0.36)),
    ("simclr", "f"): ((87.24, 0.37), (55.32, 0.46), (33.79, 0.31), (75.31, 0.76)),
    ("barlow_twins", "f"): ((85.56, 0.71), (51.91, 0.49), (30.26, 0.12), (78.96, 0.30)),
    ("vicreg", "f"): ((85.49, 1.03), (54.00, 0.34), (32.03, 0.32), (78.86, 0.23)),
})

#: Section 4.3, text under Fig. 4(b): linear probe of the SimSiam baseline and SimSiam-SDMI on CIFAR-10
#: (mean, std), %: the only ablation numbers the paper states in words (Fig. 4(a) is a bar chart only).
SIMSIAM_ABLATION = MappingProxyType({"simsiam": (89.68, 0.35), "simsiam_sdmi": (88.43, 0.78)})

#: C.1: GPU memory of the SDMI prototype vs the other methods (GB), and the ideal 5-point NN gap (B.1.1).
MEMORY_GB = MappingProxyType({"sdmi": 15.0, "others": 7.0})
IDEAL_NN_GAP_DEG = 90.0

#: Where :func:`table1` says its numbers come from.
TABLE1_SOURCE = "Sabby et al. 2025, Table 1 (mean ± std over 3 runs)"


def table1() -> pd.DataFrame:
    """:data:`TABLE1` as a long table: one row per ``method, encoder, dataset`` with ``top1`` (%), ``std`` and
    ``source`` (ResNet-18 on CIFAR and TinyImageNet, ResNet-50 on ImageNet-100)."""
    import pandas as pd

    rows = [{"method": m, "encoder": e, "dataset": d, "top1": mean, "std": std, "source": TABLE1_SOURCE}
            for (m, e), cells in TABLE1.items() for d, (mean, std) in zip(TABLE1_COLUMNS, cells)]
    return pd.DataFrame(rows)
