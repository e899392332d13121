"""The ``sagemaker`` backend against the loopback AWS (``emulator.py``): the backend
conformance suite on real training jobs, the checks made before any job, the data sent
once and without pickle, and nothing secret sent at all."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from aws_cloud import HERE, REGION, ROLE, Cloud, aws_env, bucket, cloud  # noqa: F401 (fixtures)
from paced import PacedTrainer

from hyperplug.config import configure
from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import ConfigError, HyperplugError, StorageError
from hyperplug.interfaces import DataRecipe, TrialTask, UpdateState
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.plugins.sagemaker.config import default_image_uri
from hyperplug.plugins.sagemaker.wire import data_key, read_data, write_data
from hyperplug.testing import BackendConformance
from hyperplug.testing.backend import RecordingDriver, task
from hyperplug.testing.data import blobs_splits
from hyperplug.update_state import UpdateBase, UpdateData


def build_backend(node: dict[str, Any]) -> Any:
    component, config = configure("backend", node, get_plugin_manager())
    return component.build(config)


class TestSageMakerBackend(BackendConformance):
    component = "sagemaker"
    asynchronous = True
    timeout_s = 240.0
    invalid_config = {
        "instance_type": "m5.xlarge",
        "role": "Training",
        "s3_prefix": "my-bucket/hyperplug",
        "poll_interval_s": 0,
        "max_wait_s": 60,
        "environment": {"WANDB_API_KEY": "abc"},
        "tags": {"owner": "https://me:hunter22@example.com/"},
        "job_prefix": "has space",
    }

    @pytest.fixture(autouse=True)
    def _aws(self, cloud: Cloud, aws_env: None, bucket: str) -> None:
        self.node = cloud.backend(bucket, n_workers=3)

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {k: v for k, v in self.node.items() if k != "name"}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "error", "names"),
    [
        ({"role": ""}, ConfigError, "backend.role is not set"),
        ({"instance_type": "m5.large"}, ConfigError, "backend.instance_type must be"),
        ({"credentials": None}, ConfigError, "no AWS credentials"),
        ({"s3_prefix": "s3://no-such-bucket/hp"}, StorageError, "backend.s3_prefix="),
    ],
)
def test_bad_input_is_one_line_before_any_job(
    cloud: Cloud,
    aws_env: None,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    error: type[Exception],
    names: str,
) -> None:
    node = cloud.backend(bucket)
    if "credentials" in change:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    else:
        node.update(change)
    before = cloud.stats()["calls"]
    with pytest.raises(error) as raised:
        build_backend(node)
    message = str(raised.value)
    assert names in message and "\n" not in message, message
    assert cloud.stats()["calls"] == before  # not one SageMaker call
    objects = cloud.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    assert objects == 0  # the probe of a writable prefix leaves nothing


# --------------------------------------------------------------------------- the job


def test_every_setting_reaches_the_training_job_request(
    cloud: Cloud, aws_env: None, bucket: str, tmp_path: Path
) -> None:
    numpy = f"numpy=={np.__version__}"  # installed already: the job's pip is not run
    environment = {"PYTHONPATH": str(HERE), "MY_FLAG": "on"}
    node = cloud.backend(
        bucket,
        instance_type="ml.g5.xlarge",
        instance_count=2,
        spot=True,
        max_run_s=600,
        max_wait_s=1200,
        volume_size_gb=50,
        environment=environment,
        tags={"team": "vision"},
        requirements=[numpy],
    )
    backend = build_backend(node)
    driver = RecordingDriver()
    data = blobs_splits()
    stage = tmp_path / "studies" / "s" / "trials" / "0"
    try:
        backend.start(DataRecipe(data.fingerprint, data=data), driver)
        config = {"name": "paced", "epochs": 1}
        backend.submit(TrialTask(0, PacedTrainer, {}, config, "val_loss", "min", str(stage)))
        while not driver.ends:
            backend.poll(0.5)
    finally:
        backend.shutdown()
    [end] = driver.ends[0]
    assert end.error is None and end.staged
    [request] = [r for r in cloud.requests() if f"s3://{bucket}/" in str(r["InputDataConfig"])]
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.g5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
    }
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 600,
        "MaxWaitTimeInSeconds": 1200,
    }
    assert request["EnableManagedSpotTraining"] is True
    assert request["Environment"] == environment
    assert "HyperParameters" not in request
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags == {"team": "vision", "hyperplug:study": "s", "hyperplug:trial": "0"}
    # the default image: the Deep Learning Container of this torch, GPU for ml.g5
    image = request["AlgorithmSpecification"]["TrainingImage"]
    assert image == default_image_uri(REGION, "ml.g5.xlarge")
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    torch = ".".join(metadata.version("torch").split(".")[:2])
    assert image == (
        f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-training:{torch}-gpu-{py}"
    )
    assert default_image_uri(REGION, "ml.m5.xlarge").endswith(f":{torch}-cpu-{py}")
    task_key = f"hp/jobs/{request['TrainingJobName']}/task/task.json"
    sent = json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=task_key)["Body"].read())
    assert sent["requirements"][-1] == numpy


# --------------------------------------------------------------------------- data


def update_data() -> UpdateData:
    data = blobs_splits()
    rng = np.random.default_rng(0)
    base = UpdateBase(
        trainer="mlp",
        trainer_config={"name": "mlp", "hidden_layers": [4]},
        parent="model:v1",
        weights={"layer.weight": rng.normal(size=(4, 2)).astype(np.float32)},
        info={"classes": ["a", "b", "c"], "input_shape": [2]},
        state=UpdateState({"buffer/x": rng.normal(size=(3, 2))}, {"seen": 3}),
        val_memory={"x": rng.normal(size=(2, 2)), "y": np.array([0, 1])},
        val_memory_info={"size": 2},
        index=1,
        lineage=("study-a",),
        fingerprint="f" * 64,
        aliases=("best",),
    )
    return UpdateData(
        data.train, data.val, data.test, data.classes, data.fingerprint, base, 3, ("c",)
    )


def test_update_data_travels_whole_without_pickle(tmp_path: Path) -> None:
    sent = update_data()
    write_data(sent, tmp_path / "data.safetensors")
    assert b"pickle" not in (tmp_path / "data.safetensors").read_bytes()[:64]
    got = read_data(tmp_path / "data.safetensors")
    assert isinstance(got, UpdateData)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(got, split).x, getattr(sent, split).x)
        np.testing.assert_array_equal(getattr(got, split).y, getattr(sent, split).y)
    assert (got.classes, got.fingerprint, got.n_new_val, got.new_classes) == (
        sent.classes,
        sent.fingerprint,
        3,
        ("c",),
    )
    base, want = got.base, sent.base
    np.testing.assert_array_equal(base.weights["layer.weight"], want.weights["layer.weight"])
    np.testing.assert_array_equal(base.state.arrays["buffer/x"], want.state.arrays["buffer/x"])
    np.testing.assert_array_equal(base.val_memory["y"], want.val_memory["y"])
    assert attrs.evolve(base, weights={}, state=UpdateState(), val_memory={}) == attrs.evolve(
        want, weights={}, state=UpdateState(), val_memory={}
    )
    assert base.state.info == want.state.info
    # the same chunk from another parent is other data
    other = attrs.evolve(sent, base=attrs.evolve(sent.base, parent="model:v2"))
    assert data_key(other) != data_key(sent) and data_key(sent) != sent.fingerprint


def test_a_second_study_on_the_same_data_uploads_nothing(
    cloud: Cloud, aws_env: None, bucket: str
) -> None:
    data = blobs_splits()
    first, second = build_backend(cloud.backend(bucket)), build_backend(cloud.backend(bucket))
    probes = second.aws.calls["s3.PutObject"]  # the writability probe
    first.start(DataRecipe(data.fingerprint, data=data), RecordingDriver())
    second.start(DataRecipe(data.fingerprint, data=data), RecordingDriver())
    assert any("/data/" in key for key in first.uploaded)
    assert any(key.endswith("hyperplug.zip") for key in first.uploaded)
    assert second.uploaded == []
    assert second.aws.calls["s3.PutObject"] == probes
    other = DataSplits(
        data.train, data.val, ArraySplit(data.test.x[:5], data.test.y[:5]), data.classes, "x" * 64
    )
    second.start(DataRecipe(other.fingerprint, data=other), RecordingDriver())
    assert [key for key in second.uploaded if "/data/" in key] == [
        f"hp/data/{'x' * 64}/data.safetensors"
    ]


# --------------------------------------------------------------------------- secrets


def test_nothing_secret_reaches_aws(
    cloud: Cloud, aws_env: None, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The study's own credentials and a secret of its environment go nowhere: a task that
    holds one is refused before it is written, and a trial that runs sends neither in its
    request, its task, its data or its code."""
    secret_key = "emulator-secret-access-key-0123456789"
    token = "tok-5f2e8c1a9d"
    api_key = "key-7d1c0b2e4f"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("SERVICE_TOKEN", token)
    backend = build_backend(cloud.backend(bucket))
    driver = RecordingDriver()
    data = blobs_splits()
    backend.start(DataRecipe(data.fingerprint, data=data), driver)
    leaky = [
        attrs.evolve(task(0), params={"note": f"uses {token}"}),
        attrs.evolve(task(1), trainer_config={**task(1).trainer_config, "api_key": api_key}),
    ]
    try:
        for item in [*leaky, task(2)]:
            while backend.free_slots() == 0:
                backend.poll(0.5)
            backend.submit(item)
        while len(driver.ends) < 3:
            backend.poll(0.5)
    finally:
        backend.shutdown()
    assert "task.params.note holds a secret" in driver.ends[0][0].error
    assert "task.trainer_config.api_key holds a secret" in driver.ends[1][0].error
    assert driver.ends[2][0].error is None
    requests = [r for r in cloud.requests() if r["RoleArn"] == ROLE]
    sent = json.dumps([r for r in requests if bucket in json.dumps(r)])
    assert len(json.loads(sent)) == 1  # the refused tasks made no job
    s3 = cloud.client("s3")
    for item in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        sent += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("latin-1")
    assert secret_key not in sent and token not in sent and api_key not in sent


def test_a_study_process_without_the_extra_gets_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what Python does for a missing package
    with pytest.raises(HyperplugError, match=r"pip install 'hyperplug\[sagemaker\]'"):
        build_backend({"name": "sagemaker", "role": ROLE, "s3_prefix": "s3://bucket/p"})


def test_the_shipped_code_has_metadata_when_hyperplug_is_found_as_an_egg_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip install -e .` leaves hyperplug.egg-info in the source folder, and a process
    run from there finds the distribution through it (PKG-INFO, no METADATA): the job
    found a nameless distribution and every trial failed."""
    import io
    import zipfile

    from hyperplug.plugins.sagemaker.shipping import hyperplug_zip

    egg = tmp_path / "hyperplug.egg-info"
    egg.mkdir()
    installed = metadata.distribution("hyperplug")
    pkg_info = installed.read_text("METADATA") or installed.read_text("PKG-INFO")
    (egg / "PKG-INFO").write_text(pkg_info or "")
    (egg / "entry_points.txt").write_text(installed.read_text("entry_points.txt") or "")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert metadata.distribution("hyperplug").read_text("METADATA") is None  # found as the egg
    with zipfile.ZipFile(io.BytesIO(hyperplug_zip())) as archive:
        names = archive.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "Name: hyperplug" in archive.read(meta).decode()
        assert any(n.endswith(".dist-info/entry_points.txt") for n in names)
