"""Two models on the same items: moved to :mod:`snrstat.items` (the item model, McNemar, paired
bootstrap, clustered standard errors). The names stay importable from here."""

from snrstat.items.compare import mcnemar_exact, paired_bootstrap, paired_items
from snrstat.items.paired import PairedResult, paired_comparison, population_difference

__all__ = ["PairedResult", "mcnemar_exact", "paired_bootstrap", "paired_comparison", "paired_items",
           "population_difference"]
