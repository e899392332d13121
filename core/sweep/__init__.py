"""hyperplug's engine as a Hydra sweeper for any Hydra app (``hydra/sweeper=hyperplug``).

``CustomSpace`` is what a ``hydra.sweeper.search_space`` function returns (docs/sweeper.md).
"""

from hyperplug.sweep.custom import CustomSpace

__all__ = ["CustomSpace"]
