"""Item-level analysis: a benchmark as a sample of items (Madaan et al. 2024; Lord 1980 for item response theory).

Stages, one module each:

- :mod:`~snrstat.items.design`: item-level records -> respondents, items, categories, cells;
  which terms (2PL, guessing floor, model x category, run, checkpoint) the model gets;
- :mod:`~snrstat.items.model`: the PyMC graph (vectorised binomial log-likelihood per cell);
- :mod:`~snrstat.items.quantities`: numpy kernels per posterior draw (scores on this item set
  and on the population of items, variance shares, items needed, item information);
- :mod:`~snrstat.items.fit`: :func:`fit_items` -> :class:`ItemFit` (NUTS, or ADVI for large matrices);
- :mod:`~snrstat.items.compare`: McNemar, paired bootstrap, clustered SEs, all pairs with Holm;
- :mod:`~snrstat.items.paired`: :func:`paired_comparison` of two models on shared items;
- :mod:`~snrstat.items.anchors`: small anchor subsets that predict the full score, checked on
  models held out of the selection;
- :mod:`~snrstat.items.simulate`: simulated item data for calibration.
"""

from snrstat.items.compare import (clustered_se, compare_all_frequentist, holm, mcnemar_exact, paired_bootstrap,
                                   paired_items)
from snrstat.items.design import ItemDesign, ItemPriors, ItemSpec, TermDroppedWarning, item_design, item_spec
from snrstat.items.fit import ItemFit, fit_design, fit_items
from snrstat.items.paired import PairedResult, paired_comparison, population_difference

__all__ = [
    "ItemDesign", "ItemFit", "ItemPriors", "ItemSpec", "PairedResult", "TermDroppedWarning", "clustered_se",
    "compare_all_frequentist", "fit_design", "fit_items", "holm", "item_design", "item_spec", "mcnemar_exact",
    "paired_bootstrap", "paired_comparison", "paired_items", "population_difference",
]
