"""The local model store against real directories, including several saving processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from hyperplug.errors import ConfigError, NotFoundError, StorageError
from hyperplug.interfaces import ResourceVersionControl, VersionMeta
from hyperplug.plugins.store import LocalStore, LocalStoreConfig, register_vcs


def make(root: Path) -> LocalStore:
    return LocalStore(LocalStoreConfig(root=str(root)))


def meta(**kwargs) -> VersionMeta:
    return VersionMeta(trainer="mlp", trainer_config={"name": "mlp", "width": 8}, **kwargs)


WEIGHTS = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3, np.int64)}


@pytest.fixture
def store(tmp_path):
    return make(tmp_path / "models")


def leftovers(model_dir: Path) -> list[str]:
    """Entries a save may leave: version dirs and temporaries."""
    if not model_dir.exists():
        return []
    return sorted(p.name for p in model_dir.iterdir() if p.name not in {".lock", "aliases.json"})


def test_component_is_registered(tmp_path):
    (component,) = register_vcs()
    assert (component.kind, component.name) == ("vcs", "store")
    assert isinstance(component.build(LocalStoreConfig(root=str(tmp_path))), ResourceVersionControl)


def test_round_trip(store):
    strided = np.arange(10, dtype=np.float64)[::3]
    weights = {**WEIGHTS, "strided": strided, "scalar": np.array(2.5)}
    saved = store.save(
        "digits",
        weights,
        meta(
            params={"lr": np.float32(0.5)},
            metrics={"val_accuracy": np.float64(0.9), "val_loss": float("nan")},
            info={"input_shape": (8, 8)},
            study="s",
            trial_id=np.int64(3),
            data_fingerprint="abc",
            parent=None,
        ),
    )
    assert (saved.name, saved.version, saved.ref, saved.aliases) == (
        "digits",
        1,
        "digits:v1",
        ("latest",),
    )
    version_dir = store.root / "digits" / "v1"
    assert saved.uri == version_dir.as_uri()
    assert sorted(p.name for p in version_dir.iterdir()) == ["meta.json", "weights.safetensors"]

    loaded, version = store.load("digits:v1")
    assert sorted(loaded) == sorted(weights)
    for key, array in weights.items():
        np.testing.assert_array_equal(loaded[key], array)
        assert loaded[key].dtype == array.dtype
    np.testing.assert_array_equal(loaded["strided"], [0.0, 3.0, 6.0, 9.0])

    assert version.meta.params == {"lr": 0.5}
    assert version.meta.trial_id == 3
    assert version.meta.info == {"input_shape": [8, 8]}
    assert np.isnan(version.meta.metrics["val_loss"])
    assert version.meta.metrics["val_accuracy"] == 0.9
    assert (version.sha256, version.created_at, version.aliases) == (
        saved.sha256,
        saved.created_at,
        saved.aliases,
    )

    on_disk = json.loads((version_dir / "meta.json").read_text())
    assert "aliases" not in on_disk
    assert on_disk["sha256"] == saved.sha256
    assert on_disk["meta"]["trainer"] == "mlp"
    assert json.loads((store.root / "digits" / "aliases.json").read_text()) == {"latest": 1}


def test_omegaconf_metadata_is_stored_as_plain_json(store):
    config = OmegaConf.create({"name": "mlp", "widths": [8, 16]})
    saved = store.save("m", WEIGHTS, VersionMeta(trainer="mlp", trainer_config=config))
    assert saved.meta.trainer_config == {"name": "mlp", "widths": [8, 16]}
    assert store.get("m").meta == saved.meta


def test_get_equals_what_save_returned(store):
    saved = store.save("m", WEIGHTS, meta(metrics={"acc": 1.0}))
    assert store.get("m:v1") == saved
    assert make(store.root).get("m") == saved


def test_versions_count_up_and_aliases_move(store):
    v1 = store.save("m", WEIGHTS, meta(), aliases=("latest", "best"))
    v2 = store.save("m", WEIGHTS, meta(parent=v1.ref))
    assert (v1.version, v2.version) == (1, 2)
    assert v2.meta.parent == "m:v1"
    assert store.get("m").version == 2
    assert store.get("m:latest").version == 2
    assert store.get("m:best").version == 1
    assert store.get("m:v1").aliases == ("best",)
    assert store.get("m:v2").aliases == ("latest",)

    assert store.save("m", WEIGHTS, meta(), aliases="best").aliases == ("best",)
    store.set_alias("m:v1", "best")
    moved = store.set_alias("m:v2", "best")
    assert moved.aliases == ("best", "latest")
    assert store.get("m:v1").aliases == ()
    assert store.get("m:best").version == 2

    v4 = store.save("m", WEIGHTS, meta(), aliases=("candidate",))
    assert v4.aliases == ("candidate",)
    assert store.get("m").version == 2, "'m' follows the latest alias, not the newest version"
    store.set_alias("m:candidate", "latest")
    assert store.get("m").version == 4


def test_name_without_latest_alias_means_newest_version(store):
    store.save("m", WEIGHTS, meta(), aliases=())
    store.save("m", WEIGHTS, meta(), aliases=())
    assert store.get("m").version == 2
    assert store.get("m:latest").version == 2


def test_list_versions(store):
    store.save("zeta", WEIGHTS, meta())
    store.save("alpha", WEIGHTS, meta(), aliases=("best", "latest"))
    store.save("alpha", WEIGHTS, meta())
    assert [(v.ref, v.aliases) for v in store.list_versions()] == [
        ("alpha:v1", ("best",)),
        ("alpha:v2", ("latest",)),
        ("zeta:v1", ("latest",)),
    ]
    assert [v.ref for v in store.list_versions("alpha")] == ["alpha:v1", "alpha:v2"]
    assert store.list_versions("unknown") == []
    assert make(store.root / "empty").list_versions() == []


def test_unknown_refs(store):
    store.save("digits_mlp", WEIGHTS, meta(), aliases=("latest", "best"))
    with pytest.raises(NotFoundError, match=r"model 'digits_mpl' not found \(did you mean"):
        store.get("digits_mpl")
    with pytest.raises(NotFoundError, match="model version 'digits_mlp:v7' not found"):
        store.load("digits_mlp:v7")
    with pytest.raises(NotFoundError, match=r"alias 'bets' of model 'digits_mlp' not found \(did"):
        store.get("digits_mlp:bets")
    with pytest.raises(NotFoundError, match="model 'other' not found"):
        store.set_alias("other", "best")


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "a..b", ".hidden", "", "-x", "a b", "/abs"])
def test_bad_model_names_never_touch_the_disk(store, name):
    with pytest.raises(ConfigError, match=r"model name .* is invalid"):
        store.save(name, WEIGHTS, meta())
    with pytest.raises(ConfigError, match=r"model name .* is invalid"):
        store.get(f"{name}:v1")
    with pytest.raises(ConfigError, match=r"model name .* is invalid"):
        store.list_versions(name)
    assert not store.root.exists()  # refused names create nothing, not even the root
    assert not (store.root.parent / "x").exists()


@pytest.mark.parametrize("alias", ["../x", "a/b", "v3", ""])
def test_bad_aliases(store, alias):
    with pytest.raises(ConfigError, match=r"alias .* is invalid"):
        store.save("m", WEIGHTS, meta(), aliases=(alias,))
    assert leftovers(store.root / "m") == []
    store.save("m", WEIGHTS, meta())
    with pytest.raises(ConfigError, match=r"alias .* is invalid"):
        store.set_alias("m:v1", alias)


@pytest.mark.parametrize("ref", ["m:../x", "m:a/b", "m:"])
def test_bad_alias_refs(store, ref):
    store.save("m", WEIGHTS, meta())
    with pytest.raises(ConfigError, match=r"alias .* is invalid"):
        store.get(ref)


def test_tampered_weights_are_detected(store):
    store.save("m", WEIGHTS, meta())
    path = store.root / "m" / "v1" / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="model version 'm:v1' do not match their sha256"):
        store.load("m")


def test_damaged_metadata_is_a_storage_error(store):
    store.save("m", WEIGHTS, meta())
    (store.root / "m" / "v1" / "meta.json").write_text("{not json")
    with pytest.raises(StorageError, match="model version 'm:v1' is damaged"):
        store.get("m:v1")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"w": [1.0, 2.0]}, "weight 'w' of model 'm' must be a numpy array"),
        ({"w": np.array([object()])}, "weights of model 'm' cannot be saved"),
        ({"w": np.array(["text"])}, "weights of model 'm' cannot be saved"),
    ],
)
def test_bad_weights_leave_nothing(store, weights, message):
    store.save("m", WEIGHTS, meta())
    with pytest.raises(ConfigError, match=message):
        store.save("m", {**WEIGHTS, **weights}, meta())
    assert leftovers(store.root / "m") == ["v1"]
    assert store.get("m").version == 1


def test_non_json_metadata_leaves_nothing(store):
    with pytest.raises(ConfigError, match="metadata of model 'm' is not JSON-serialisable"):
        store.save("m", WEIGHTS, meta(info={"fn": object()}))
    assert leftovers(store.root / "m") == []


def test_failure_after_writing_weights_removes_the_temporary_version(store):
    (store.root / "m" / ".lock").mkdir(parents=True)  # the lock cannot be opened
    with pytest.raises(StorageError, match="cannot save model 'm'"):
        store.save("m", WEIGHTS, meta())
    assert leftovers(store.root / "m") == []


def test_root_under_a_file_is_not_writable(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    store = make(blocker / "models")
    with pytest.raises(
        StorageError,
        match=re.escape(f"vcs.root: model store '{blocker / 'models'}' is not writable"),
    ):
        store.check_writable()


def test_reading_a_store_that_does_not_exist_creates_nothing(tmp_path):
    store = make(tmp_path / "models")
    assert store.list_versions() == []
    with pytest.raises(NotFoundError):
        store.get("m")
    assert not (tmp_path / "models").exists()
    store.check_writable()
    assert (tmp_path / "models").is_dir() and leftovers(tmp_path / "models") == []


def _save_versions(root: str, process: int, n: int) -> None:
    store = make(Path(root))
    for i in range(n):
        store.save("shared", {"w": np.full(4, process * 100 + i)}, meta(info={"p": process}))


def test_processes_save_concurrently(tmp_path):
    root = tmp_path / "models"
    ctx = multiprocessing.get_context("spawn")
    processes = [ctx.Process(target=_save_versions, args=(str(root), p, 5)) for p in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * 4

    store = make(root)
    versions = store.list_versions("shared")
    assert [v.version for v in versions] == list(range(1, 21))
    assert store.get("shared").version == 20
    assert leftovers(root / "shared") == [f"v{n}" for n in sorted(range(1, 21), key=str)]
    written = set()
    for version in versions:
        weights, _ = store.load(version.ref)
        written.add(int(weights["w"][0]))
    assert written == {p * 100 + i for p in range(4) for i in range(5)}


def test_versions_are_directories_named_only_by_the_store(store):
    store.save("m", WEIGHTS, meta())
    os.mkdir(store.root / "m" / "notes")  # foreign entries are ignored
    assert [v.ref for v in store.list_versions()] == ["m:v1"]


def _probe_under_a_file_size_limit(root: str, limit: int) -> str:
    """check_writable in a process that may write no file larger than ``limit`` bytes
    (what a nearly full disk allows): 'ok' or the error."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        make(Path(root)).check_writable()
    except StorageError as error:
        return str(error)
    return "ok"


def test_the_writability_probe_writes_real_bytes(tmp_path):
    """An empty probe file fits where a model does not; the probe must not."""
    import concurrent.futures
    import multiprocessing

    root = tmp_path / "new" / "models"
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(_probe_under_a_file_size_limit, str(root), 1024).result(60)
    assert result.startswith(f"vcs.root: model store '{root}' is not writable"), result
    assert not (tmp_path / "new").exists()  # the directories it made are gone again
    assert leftovers(tmp_path) == []


HOLD_LOCK = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_held_lock_times_out_in_one_line_naming_the_file_and_saves_nothing(tmp_path):
    import subprocess
    import sys

    store = LocalStore(LocalStoreConfig(root=str(tmp_path / "models"), lock_timeout_s=0.5))
    (store.root / "m").mkdir(parents=True)
    lock_file = store.root / "m" / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(StorageError) as error:
            store.save("m", WEIGHTS, meta())
    finally:
        holder.kill()
        holder.wait()
    assert str(error.value).startswith(
        f"model store: lock file '{lock_file}' still held by another process after 0.5 s "
        "(vcs.lock_timeout_s)"
    )
    assert leftovers(store.root / "m") == []
    assert store.save("m", WEIGHTS, meta()).version == 1  # the holder gone, saves go on
