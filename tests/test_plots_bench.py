"""The benchmark figures of `mi_ssl.plots` (book chapter 09): what each draws, checked on small tables."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mi_ssl import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_throughput_bars_one_per_method_and_pipeline_on_a_log_axis():
    long = pd.DataFrame([{"method": m, "pipeline": p, "images/s": v}
                         for m, base in (("jmi", 100.0), ("sdmi", 50.0))
                         for p, v in (("(a) reference", base), ("(b) mi-ssl", 4 * base))])
    fig = plots.plot_bench_throughput(long, "H100")
    (ax,) = fig.axes
    heights = sorted(p.get_height() for p in ax.patches if p.get_height() > 0)
    assert heights == [50.0, 100.0, 200.0, 400.0]
    assert ax.get_yscale() == "log" and "H100" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["(a) reference", "(b) mi-ssl"]


def test_kernel_times_against_the_floor():
    sizes = [256, 1024, 2500]
    rows = [{"kernel": "floor", "N": n, "ms": n**2 / 1e5, "x floor": 1.0} for n in sizes]
    rows += [{"kernel": "objectives.cos_dv", "N": n, "ms": 3 * n**2 / 1e5, "x floor": 3.0} for n in sizes]
    fig = plots.plot_kernel_times(pd.DataFrame(rows), target=1.5)
    ax, bx = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and bx.get_xscale() == "log"
    floor_line, cos_line = ax.get_lines()
    assert floor_line.get_linestyle() == "--" and list(floor_line.get_xdata()) == sizes
    np.testing.assert_allclose(cos_line.get_ydata(), 3 * np.array(sizes) ** 2 / 1e5)
    ratio = [line for line in bx.get_lines() if line.get_label() == "objectives.cos_dv"][0]
    np.testing.assert_allclose(ratio.get_ydata(), 3.0)
    horizontal = sorted(line.get_ydata()[0] for line in bx.get_lines() if line.get_label() in ("floor",
                                                                                               "target 1.5x floor"))
    assert horizontal == [1.0, 1.5]
