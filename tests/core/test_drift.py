"""Testing new data against a model version's kept sample, and an update that skips when
the data has not shifted: Python API, a real store and tracker, real training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import hyperplug
from hyperplug import build
from hyperplug.data import ArraySplit, Dataset, DataSplits, fingerprint_arrays
from hyperplug.drift import UpdateSkipped, detect_shift, kept_sample
from hyperplug.errors import ConfigError, DataError, NotFoundError
from hyperplug.interfaces import VersionMeta
from hyperplug.update_state import SAMPLE_SIZE

TINY = {"name": "mlp", "hidden_layers": [16], "epochs": 2, "batch_size": 32, "lr": 0.01}


def transformed(data: DataSplits, change: object) -> DataSplits:
    parts = [ArraySplit(change(s.x), s.y) for s in (data.train, data.val, data.test)]
    fingerprint = fingerprint_arrays(*(a for p in parts for a in (p.x, p.y)))
    return DataSplits(*parts, classes=data.classes, fingerprint=fingerprint)


def rotated(x: np.ndarray) -> np.ndarray:
    images = x.reshape(-1, 8, 8)
    turned = [ndimage.rotate(image, 20, reshape=False, order=1) for image in images]
    return np.stack(turned).reshape(x.shape).astype(x.dtype)


def recorded(home: Path) -> tuple[list[str], list[str]]:
    """(studies in the tracker, model versions in the store)."""
    studies = []
    if (home / "hyperplug.db").exists():
        tracker = build("tracker", name="sqlite", path=str(home / "hyperplug.db"))
        studies = [s.name for s in tracker.list_studies()]
        tracker.close()
    store = build("vcs", name="store", root=str(home / "models"))
    return studies, [v.ref for v in store.list_versions()]


@pytest.fixture(scope="module")
def trained(digits_splits: DataSplits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose store holds stream:v1, trained on digits."""
    home = tmp_path_factory.mktemp("drift") / "hp"
    hyperplug.update(digits_splits, trainer=TINY, model_name="stream", home=home)
    return home


def test_a_version_keeps_a_sample_of_its_training_inputs(
    trained: Path, digits_splits: DataSplits
) -> None:
    store = build("vcs", name="store", root=str(trained / "models"))
    sample, version = kept_sample(store, "stream")
    assert version.ref == "stream:v1"
    assert sample.shape == (SAMPLE_SIZE, 64)
    train_rows = {row.tobytes() for row in digits_splits.train.x}
    assert all(row.tobytes() in train_rows for row in sample)


def test_an_update_on_data_that_has_not_shifted_is_skipped_and_writes_nothing(
    trained: Path, digits_splits: DataSplits
) -> None:
    before = recorded(trained)
    result = hyperplug.update(digits_splits, model="stream", detector="mmd", home=trained)
    assert isinstance(result, UpdateSkipped)
    assert result.model.ref == "stream:v1" and not result.drift.shift
    assert result.drift.p_value >= 0.05
    assert result.message.startswith("no shift: mmd statistic ")
    assert "update skipped (nothing trained, no version saved)" in result.message
    assert recorded(trained) == before


def test_an_update_on_shifted_data_runs_and_its_version_records_the_test(
    trained: Path, digits_splits: DataSplits, tmp_path: Path
) -> None:
    import shutil

    home = tmp_path / "hp"
    shutil.copytree(trained, home)
    chunk = transformed(digits_splits, rotated)
    result = hyperplug.update(chunk, model="stream", detector={"name": "ks"}, home=home)
    drift = result.winner.meta.update["drift"]
    assert result.winner.ref == "stream:v2"
    assert drift["detector"] == "ks" and drift["shift"] is True
    assert drift["reference"] == "stream:v1" and drift["p_value"] < 0.05
    assert drift["n_reference"] == SAMPLE_SIZE and drift["n_new"] == 1797
    assert drift["details"]["moved"] > 0
    # the same test, run alone, gives the same numbers
    alone = hyperplug.check_drift(chunk, model="stream:v1", detector="ks", home=home)
    assert (alone.statistic, alone.p_value) == (drift["statistic"], drift["p_value"])


def test_a_chunk_tested_whole_or_split_gives_the_same_result(
    trained: Path, digits_splits: DataSplits
) -> None:
    store = build("vcs", name="store", root=str(trained / "models"))
    dataset = build("dataset", name="digits").load()
    detector = build("detector", name="mmd")
    whole, _ = detect_shift(detector, store, "stream", dataset)
    split, _ = detect_shift(detector, store, "stream", digits_splits)
    assert whole == split


def test_a_version_without_a_sample_cannot_be_tested(tmp_path: Path) -> None:
    store = build("vcs", name="store", root=str(tmp_path / "models"))
    store.save("old", {"w": np.zeros(3, np.float32)}, VersionMeta(trainer="mlp", trainer_config={}))
    with pytest.raises(DataError, match=r"^model=old: version old:v1 keeps no sample"):
        hyperplug.check_drift(np.zeros((10, 3)), model="old", vcs=store)


def test_bad_input_is_one_line_and_writes_nothing(trained: Path, digits_splits: DataSplits) -> None:
    before = recorded(trained)
    wide = Dataset.from_arrays("wide", np.zeros((20, 128), np.float32), np.arange(20) % 2)
    with pytest.raises(DataError, match=r"shaped \(n, 128\) but model stream:v1 takes \(n, 64\)"):
        hyperplug.check_drift(wide, model="stream", home=trained)
    with pytest.raises(NotFoundError, match="model 'strem' not found"):
        hyperplug.update(digits_splits, model="strem", detector="mmd", home=trained)
    with pytest.raises(ConfigError, match="detector: there is no model"):
        hyperplug.update(digits_splits, trainer=TINY, detector="mmd", home=trained)
    with pytest.raises(ConfigError, match=r"detector.alpha must be in \(0, 1\)"):
        hyperplug.update(
            digits_splits, model="stream", detector={"name": "mmd", "alpha": 0}, home=trained
        )
    assert recorded(trained) == before


def test_a_detector_tests_an_update_of_a_model_not_a_multirun_or_a_stream(
    tmp_path: Path,
) -> None:
    from hyperplug.commands import compose
    from hyperplug.stream import run_stream
    from hyperplug.study import run_study, run_sweep_job

    where = tmp_path / "hp"
    home = [f"home={where}", f"tracker.path={where}/hp.db", f"vcs.root={where}/models"]
    with pytest.raises(ConfigError, match=r"^detector=mmd tests an update's data against"):
        run_study(compose(["detector=mmd", *home]))
    with pytest.raises(ConfigError, match=r"^detector=ks tests an update's data against"):
        run_study(compose(["updater=er", "detector=ks", *home]))
    sweep_job = compose(["updater=er", "model=stream", "detector=mmd", *home])
    with pytest.raises(ConfigError, match=r"^detector: a --multirun update does not test"):
        run_sweep_job(sweep_job, tmp_path / "sweep")
    stream = compose(["scenario=iid", "updater=er", "detector=mmd", *home])
    with pytest.raises(ConfigError, match=r"^detector=mmd: a simulated stream updates on every"):
        run_stream(stream)
    assert list(tmp_path.iterdir()) == []
