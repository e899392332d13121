"""``backend=sagemaker``'s config, checked before anything is written or created.

What needs no network is checked here (attrs validators run when the config is made);
what needs AWS (credentials, region, a writable S3 prefix) when the backend is built
(``hyperplug.plugins.sagemaker.aws.preflight``).
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from typing import Any

import attrs

from hyperplug.secrets import is_secret_name, redact_text
from hyperplug.validators import positive, positive_int

#: what SageMaker accepts as a training job name (CreateTrainingJob's TrainingJobName)
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")
#: the prefix every job name gets; job names are ``<prefix>-<study>-<trial>-<stamp>``
JOB_PREFIX_MAX = 20
#: the account that publishes the AWS Deep Learning Containers in most regions
DLC_ACCOUNT = "763104351884"
#: torch of the default image when this process has no torch installed (the pin in
#: constraints.txt)
PINNED_TORCH = "2.14.1"


def _instance_type(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"ml\.[a-z0-9-]+\.[a-z0-9]+", value):
        raise ValueError(
            f"{attribute.name} must be a SageMaker training instance type such as "
            f"ml.m5.xlarge or ml.g5.xlarge, got {value!r}"
        )


def _role(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value and not ROLE_ARN.match(value):
        raise ValueError(
            f"{attribute.name} must be an IAM role ARN such as "
            f"arn:aws:iam::123456789012:role/Training, got {value!r}"
        )


def _s3_prefix(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value and not S3_URI.match(value):
        raise ValueError(
            f"{attribute.name} must be s3://bucket or s3://bucket/prefix, got {value!r}"
        )


def _job_prefix(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if len(value) > JOB_PREFIX_MAX or not JOB_NAME.match(value):
        raise ValueError(
            f"{attribute.name} must be 1 to {JOB_PREFIX_MAX} letters, digits and '-' "
            f"(SageMaker job names), got {value!r}"
        )


def _no_secrets(instance: Any, attribute: attrs.Attribute, value: dict[str, str]) -> None:
    """SageMaker shows a job's environment and tags to anyone who may describe the job."""
    for key, item in value.items():
        if is_secret_name(str(key)) or redact_text(str(item)) != str(item):
            raise ValueError(
                f"{attribute.name} key {key} holds a secret: SageMaker shows a job's "
                f"{attribute.name} to anyone who may describe it; give the job's role "
                "access to the secret instead (AWS Secrets Manager)"
            )


def _max_wait(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < instance.max_run_s:
        raise ValueError(
            f"{attribute.name} must be an integer >= max_run_s ({instance.max_run_s}): "
            f"it counts the wait for spot capacity and the run, got {value!r}"
        )


@attrs.define
class SageMakerBackendConfig:
    """One SageMaker training job per trial; see docs/backends.md#sagemaker."""

    name: str = "sagemaker"
    #: the IAM role ARN the jobs run as (required)
    role: str = attrs.field(default="", validator=_role)
    #: where the study's data, each job's task and metrics, checkpoints and outputs go
    #: (required): s3://bucket/prefix
    s3_prefix: str = attrs.field(default="", validator=_s3_prefix)
    instance_type: str = attrs.field(default="ml.m5.xlarge", validator=_instance_type)
    #: instances per job; the trial runs on the first (the built-in trainers use one)
    instance_count: int = attrs.field(default=1, validator=positive_int)
    #: training jobs at once
    n_workers: int = attrs.field(default=1, validator=positive_int)
    #: null: the region of the AWS chain (AWS_REGION, the profile)
    region: str | None = None
    #: null: the AWS Deep Learning Container for this process's torch (default_image_uri)
    image_uri: str | None = None
    #: StoppingCondition.MaxRuntimeInSeconds of each job
    max_run_s: int = attrs.field(default=86400, validator=positive_int)
    #: managed spot instances; ``max_wait_s`` (null: twice ``max_run_s``) counts the wait
    #: for capacity and the run
    spot: bool = False
    max_wait_s: int | None = attrs.field(default=None, validator=_max_wait)
    volume_size_gb: int = attrs.field(default=30, validator=positive_int)
    #: the jobs' environment variables (never secrets: SageMaker shows them)
    environment: dict[str, str] = attrs.field(factory=dict, validator=_no_secrets)
    #: tags on every job, besides hyperplug's own (hyperplug:study, hyperplug:trial)
    tags: dict[str, str] = attrs.field(factory=dict, validator=_no_secrets)
    #: pip requirements installed in the job before the trial (a trainer's libraries)
    requirements: list[str] = attrs.Factory(list)
    #: send this process's hyperplug to the job (so the image needs only its libraries)
    ship_code: bool = True
    #: a retried or resumed trial (or a spot restart) continues from its checkpoint, kept
    #: in S3 (CheckpointConfig)
    checkpoints: bool = True
    #: seconds between two looks at the running jobs (status and metrics)
    poll_interval_s: float = attrs.field(default=10.0, validator=positive)
    #: attempts of an API call that AWS throttles or that fails in transit (backoff)
    max_attempts: int = attrs.field(default=10, validator=positive_int)
    job_prefix: str = attrs.field(default="hyperplug", validator=_job_prefix)
    #: null: AWS's endpoints; set for a private endpoint or an emulator
    endpoint_url: str | None = None
    s3_endpoint_url: str | None = None


def is_gpu_instance(instance_type: str) -> bool:
    """ml.p* and ml.g* instances have NVIDIA GPUs."""
    return re.match(r"ml\.[pg]\d", instance_type) is not None


def default_image_uri(region: str, instance_type: str) -> str:
    """The AWS Deep Learning Container for PyTorch training of this process's torch
    (major.minor), CPU or GPU by instance type, for this process's Python: e.g.
    ``763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.14-gpu-py311``."""
    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = PINNED_TORCH
    major_minor = ".".join(torch.split("+")[0].split(".")[:2])
    processor = "gpu" if is_gpu_instance(instance_type) else "cpu"
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return (
        f"{DLC_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/pytorch-training:"
        f"{major_minor}-{processor}-{python}"
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix without a trailing '/') of ``s3://bucket/prefix``."""
    match = S3_URI.match(uri)
    if match is None:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return match["bucket"], (match["key"] or "").strip("/")
