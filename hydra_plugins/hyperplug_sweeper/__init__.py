"""hyperplug's study engine as a Hydra sweeper: ``hydra/sweeper=hyperplug``.

Hydra imports every module of this package when it scans for plugins, so nothing here
imports more than Hydra itself; the engine is imported when a sweep starts.
"""
