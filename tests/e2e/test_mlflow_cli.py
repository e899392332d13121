"""The console script with tracker=mlflow and vcs=mlflow against a real ``mlflow server``
that the module starts on loopback (SQLite backend store, local artifact root).

One study runs for the module with secrets planted in the config, the overrides, the run
tags and the environment; the tests read its runs, metrics and registry version back
through ``MlflowClient``, list it with ``hyperplug models``, load and update it from the
registry, and search the server's database and artifacts for the secrets. A server that
is not there, or does not answer, is a one-line error within seconds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hyperplug
from hyperplug.config import configure
from hyperplug.errors import StorageError
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.plugins.mlflow.local_server import LocalServer, free_port, local_server
from hyperplug.plugins.mlflow.session import PROBE_TIMEOUT_S

mlflow = pytest.importorskip(
    "mlflow", reason="MLflow is the optional extra [mlflow]: pip install 'hyperplug[mlflow]'"
)

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
SECRETS = {
    "env token": "hf_planted_env_token_31337",
    "mlflow token": "mlflow_planted_bearer_token_2718",
    "url password": "hunter2-planted",
    "config token": "tok_planted_in_config_4242",
}
OVERRIDES = [
    "trainer.epochs=2",
    "trainer.hidden_layers=[16]",
    "trainer.threads=1",
    "+training_params.mlp.lr=[0.05,0.01]",
    "model_name=digits",
    f"+tracker.tags.note={SECRETS['env token']}",
    "+tracker.tags.team=ci",
    f"+source=https://reader:{SECRETS['url password']}@data.example.com/digits.csv",
    f"+upload_token={SECRETS['config token']}",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with local_server(tmp_path_factory.mktemp("mlflow-server")) as started:
        yield started


def mlflow_client(server: LocalServer) -> Any:
    return mlflow.MlflowClient(server.url)


Study = tuple[Path, subprocess.CompletedProcess[str]]


def run(cwd: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYDRA_", "MLFLOW_"))}
    env.update(
        COLUMNS="200",
        HF_TOKEN=SECRETS["env token"],
        MLFLOW_TRACKING_TOKEN=SECRETS["mlflow token"],
        **environ,
    )
    return subprocess.run(
        [str(BIN / "hyperplug"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def study(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Study:
    cwd = tmp_path_factory.mktemp("mlflow-cli")
    uris = [f"tracker.uri={server.url}", f"vcs.uri={server.url}"]
    return cwd, run(cwd, "tracker=mlflow", "vcs=mlflow", *uris, *OVERRIDES)


def registry(server: LocalServer) -> Any:
    component, config = configure(
        "vcs", {"name": "mlflow", "uri": server.url}, get_plugin_manager()
    )
    return component.build(config)


def test_the_study_is_in_the_server_as_nested_runs(server: LocalServer, study: Study) -> None:
    _, result = study
    assert result.returncode == 0, result.stderr
    assert "View run" not in result.stdout + result.stderr  # MLflow's line per run: off
    client = mlflow_client(server)
    experiment = client.get_experiment_by_name("hyperplug").experiment_id
    runs = client.search_runs([experiment])
    [parent] = [r for r in runs if r.data.tags["hyperplug.role"] == "study"]
    trials = [r for r in runs if r.data.tags["hyperplug.role"] == "trial"]
    assert parent.info.status == "FINISHED" and len(trials) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parent.info.run_id}
    assert {r.data.params["lr"] for r in trials} == {"0.05", "0.01"}
    assert {r.info.status for r in trials} == {"FINISHED"}
    for trial in trials:
        history = client.get_metric_history(trial.info.run_id, "val_accuracy")
        assert [point.step for point in history] == [1, 2]
        assert trial.data.tags["team"] == "ci"
    [winner] = [r for r in trials if r.data.tags.get("hyperplug.winner") == "true"]
    assert winner.data.tags["hyperplug.model_version"] == "digits:v1"
    assert parent.data.tags["hyperplug.winner_run_id"] == winner.info.run_id


def test_the_winner_is_registered_and_listed(server: LocalServer, study: Study) -> None:
    cwd, result = study
    assert result.returncode == 0, result.stderr
    client = mlflow_client(server)
    [version] = client.search_model_versions("name = 'digits'")
    assert int(version.version) == 1 and version.source.startswith("mlflow-artifacts:")
    aliases = client.get_registered_model("digits").aliases
    assert {a: int(v) for a, v in aliases.items()} == {"best": 1, "hp-latest": 1, "hp-v1": 1}
    assert version.tags["hyperplug.study"].startswith("digits-")
    assert version.tags["hyperplug.params"] in ('{"lr": 0.05}', '{"lr": 0.01}')
    stored = list((server.artifacts).rglob("*.safetensors"))
    assert [p.name for p in stored] == ["weights.safetensors"]
    models = run(cwd, "models", "vcs=mlflow", f"vcs.uri={server.url}")
    assert models.returncode == 0, models.stderr
    assert "digits:v1" in models.stdout and "best, latest" in models.stdout


def test_best_loads_from_the_registry_as_a_working_model(
    server: LocalServer, study: Study, digits_splits: Any
) -> None:
    assert study[1].returncode == 0, study[1].stderr
    version = registry(server).get("digits:best")
    model = hyperplug.load_model("digits:best", vcs=registry(server))
    test = digits_splits.test
    accuracy = float(np.mean(model.predict(test.x) == test.y))
    assert accuracy == pytest.approx(version.meta.metrics["test_accuracy"])


def test_an_update_through_the_server_names_its_parent(
    server: LocalServer, study: Study, digits_splits: Any, tmp_path: Path
) -> None:
    assert study[1].returncode == 0, study[1].stderr
    update = hyperplug.update(
        digits_splits,
        model="digits:best",
        updater="er",
        trainer={"threads": 1},
        vcs=registry(server),
        home=tmp_path,
    )
    assert (update.winner.ref, update.winner.meta.parent) == ("digits:v2", "digits:v1")
    tags = mlflow_client(server).get_model_version("digits", "2").tags
    assert (tags["hyperplug.parent"], tags["hyperplug.updater"]) == ("digits:v1", "er")
    arrays, _ = registry(server).load("digits:v2")
    assert any(key.startswith("__update__/updater/") for key in arrays)


def test_no_secret_reaches_the_server_or_any_file(server: LocalServer, study: Study) -> None:
    cwd, result = study
    assert result.returncode == 0, result.stderr
    stored = [server.database, *server.artifacts.rglob("*"), *cwd.rglob("*")]
    files = [p for p in stored if p.is_file()]
    assert len(files) > 10
    leaks = [
        (str(path), what)
        for path in files
        for what, secret in SECRETS.items()
        if secret.encode() in path.read_bytes()
    ]
    assert not leaks
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS.values())
    # the planted values reached MLflow, masked: the search above looked where they would be
    runs = mlflow_client(server).search_runs(
        [mlflow_client(server).get_experiment_by_name("hyperplug").experiment_id]
    )
    assert {r.data.tags.get("note") for r in runs if "note" in r.data.tags} == {"***"}


@pytest.mark.parametrize("key", ["tracker.uri", "vcs.uri"])
def test_no_server_is_a_one_line_error_before_any_trial(tmp_path: Path, key: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    kind = key.split(".")[0]
    started = time.monotonic()
    result = run(tmp_path, f"{kind}=mlflow", f"{key}={url}", "trainer.epochs=1")
    assert time.monotonic() - started < 60  # the process's own start included
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"hyperplug: error: {key}: the MLflow tracking server {url} did not")
    assert not (tmp_path / ".hyperplug" / "hyperplug.db").exists()


def test_a_server_that_never_answers_is_given_up_within_seconds(tmp_path: Path) -> None:
    node = {"name": "mlflow", "path": str(tmp_path / "hp.db")}
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        node["uri"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
        component, config = configure("tracker", node, get_plugin_manager())
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"tracker\.uri: .* did not answer within 5 s"):
            component.build(config)
        assert time.monotonic() - started < PROBE_TIMEOUT_S + 2
    assert not list(tmp_path.iterdir())
