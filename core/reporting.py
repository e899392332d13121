"""``hyperplug.report()``: per-epoch metrics from any training script, for early stopping.

Inside a sweep run by the hyperplug sweeper, each call reaches the study driver, which
records the metrics and may answer "stop": ``report`` then raises ``TrialStopped`` and
the job ends as a stopped trial. Outside a sweep it does nothing, so a script can call
it unconditionally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

#: (epoch, metrics) -> True to go on, False to stop; None outside a sweep
ReportSink = Callable[[int, Mapping[str, float]], bool]

_sink: ReportSink | None = None
_last_epoch = 0


class TrialStopped(Exception):
    """Raised by ``report`` when the sweep's optimizer stops this trial early.

    Let it propagate out of the task function (do not catch ``Exception`` around training);
    the sweeper records the trial as stopped, not failed.
    """


def report(epoch: int | None = None, **metrics: float) -> None:
    """Report one epoch's metrics: ``hyperplug.report(epoch=3, val_loss=0.21)``.

    ``epoch`` counts from 1 and defaults to one more than the last report. Metric values
    must be numbers.
    """
    global _last_epoch
    epoch = _last_epoch + 1 if epoch is None else int(epoch)
    values = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or (
            not isinstance(value, int | float) and not hasattr(value, "__float__")
        ):
            raise TypeError(f"hyperplug.report: metric '{name}' must be a number, got {value!r}")
        values[name] = float(value)
    _last_epoch = epoch
    if _sink is not None and not _sink(epoch, values):
        raise TrialStopped(f"stopped by the sweep's optimizer after epoch {epoch}")


def active_sink() -> ReportSink | None:
    """Where ``report`` sends epochs now: the hyperplug sweep this code runs in, or None."""
    return _sink


@contextlib.contextmanager
def reporting_to(sink: ReportSink) -> Iterator[None]:
    """Route ``report`` calls of the code run inside this block to ``sink``."""
    global _sink, _last_epoch
    previous = _sink, _last_epoch
    _sink, _last_epoch = sink, 0
    try:
        yield
    finally:
        _sink, _last_epoch = previous
