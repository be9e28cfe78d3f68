import arviz as az
import matplotlib

matplotlib.use("Agg")
import numpy as np
import xarray as xr

from snrstat.inference import diagnose
from snrstat.plots import plot_energy, plot_rank


def _idata(shift_chain: float):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 500))
    x[0] += shift_chain  # one chain off target -> bad R-hat
    energy = rng.normal(size=(4, 500))
    return az.from_dict(posterior={"x": x, "y": rng.normal(size=(4, 500))},
                        sample_stats={"diverging": np.zeros((4, 500), bool), "energy": energy})


def test_table_flags_unmixed_chain():
    good = diagnose(_idata(0.0))
    bad = diagnose(_idata(3.0))
    assert good.ok and good.table["ok"].all()
    assert not bad.ok and "R-hat" in bad.messages[0]
    assert not bad.table.loc["x", "ok"] and bad.table.loc["x", "r_hat"] > 1.01 and bad.table.loc["y", "ok"]


def test_health_and_plots_are_nonempty():
    idata = _idata(0.0)
    health = diagnose(idata)
    assert health.divergences == 0 and min(health.bfmi) > 0.3
    fig = plot_rank(idata, ["x", "y"], "rank")
    assert len(fig.axes) == 2 and fig.axes[0].has_data()
    assert plot_energy(idata).axes[0].has_data()


def test_fit_plot_methods_draw_nonempty_figures():
    """``fit.plot_components()``, ``fit.plot_snr()``, ``fit.plot_diagnostics()`` on a saved reference fit."""
    import io

    import matplotlib.pyplot as plt

    import snrstat

    fit = snrstat.load_fit("olmo-ladder/hellaswag_val/len_norm/190M")
    for fig in (fit.plot_components(), fit.plot_snr(), fit.plot_diagnostics()):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.tell() > 5000 and fig.axes
        plt.close(fig)
