"""The Hydra config tree shipped with hyperplug."""
