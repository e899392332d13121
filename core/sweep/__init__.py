"""hyperplug's engine as a Hydra sweeper for any Hydra app (``hydra/sweeper=hyperplug``)."""
