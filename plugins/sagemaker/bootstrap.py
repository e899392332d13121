"""The first thing a training job runs: ``python3 <code channel>/bootstrap.py``.

It runs in the training image before hyperplug is importable, so it uses the standard
library only: it puts the hyperplug the study process sent (``hyperplug.zip`` in the
``code`` channel, when there is one) first on the import path, installs the task's
``requirements`` that the image does not have at that version, and runs
``hyperplug.plugins.sagemaker.entry``. What fails here is the job's FailureReason.

``HYPERPLUG_ML_ROOT`` stands for ``/opt/ml`` where that folder cannot be used (the
test emulator); a real job leaves it unset.
"""

import importlib
import json
import os
import runpy
import subprocess
import sys
import zipfile

ROOT = os.environ.get("HYPERPLUG_ML_ROOT", "/opt/ml")


def fail(reason):
    os.makedirs(os.path.join(ROOT, "output"), exist_ok=True)
    with open(os.path.join(ROOT, "output", "failure"), "w") as failure:
        failure.write(reason[:1000])
    print(reason, file=sys.stderr)
    sys.exit(1)


def ship_code():
    archive = os.path.join(ROOT, "input", "data", "code", "hyperplug.zip")
    if not os.path.exists(archive):
        return
    target = os.path.join(ROOT, "code", "hyperplug")
    with zipfile.ZipFile(archive) as code:
        code.extractall(target)
    sys.path.insert(0, target)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = target + (os.pathsep + path if path else "")


def missing(requirements):
    """The requirements the image lacks: a ``name==version`` pin is met by that version
    installed; anything else goes to pip, which knows whether it is met."""
    from importlib import metadata

    wanted = []
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        try:
            met = bool(version) and metadata.version(name.strip()) == version.strip()
        except metadata.PackageNotFoundError:
            met = False
        if not met:
            wanted.append(requirement)
    return wanted


def main():
    with open(os.path.join(ROOT, "input", "data", "task", "task.json")) as task:
        requirements = json.load(task).get("requirements", [])
    ship_code()
    wanted = missing(requirements)
    if wanted:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-input", *wanted]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            fail(
                f"pip install {' '.join(wanted)} failed: {lines[-1] if lines else done.returncode}"
            )
    importlib.invalidate_caches()
    runpy.run_module("hyperplug.plugins.sagemaker.entry", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
