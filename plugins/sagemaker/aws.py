"""boto3 sessions and clients for the study process, and the checks made before any job.

boto3 is imported here, inside functions, so the plugin module imports without it (and
then registers nothing: ``hyperplug plugins`` names the ``[sagemaker]`` extra).
Credentials come from boto3's standard chain (environment, shared config and credentials
files, SSO, container or instance role); hyperplug never reads, stores or forwards them.
Throttled calls and transient network errors are retried by botocore's ``standard``
retry mode (exponential backoff with jitter), ``max_attempts`` times in all.
"""

from __future__ import annotations

import collections
import secrets
from typing import Any

import attrs

from hyperplug.errors import ConfigError, StorageError
from hyperplug.extras import install_hint
from hyperplug.plugins.sagemaker.config import SageMakerBackendConfig, split_s3_uri


def import_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise ConfigError(f"backend=sagemaker needs boto3: {install_hint('sagemaker')}") from exc
    return boto3


@attrs.define
class Aws:
    """The study process's clients, and how many calls it made of each operation
    (``"sagemaker.DescribeTrainingJob"``: count; a retried call counts once)."""

    sagemaker: Any
    s3: Any
    region: str
    calls: collections.Counter[str] = attrs.Factory(collections.Counter)


def connect(config: SageMakerBackendConfig) -> Aws:
    """Clients for ``config``: region from the config or the AWS chain; a ``ConfigError``
    when there are no credentials or no region."""
    boto3 = import_boto3()
    from botocore.config import Config

    session = boto3.session.Session(region_name=config.region)
    if session.get_credentials() is None:
        raise ConfigError(
            "backend=sagemaker: no AWS credentials found (environment, AWS_PROFILE, "
            "~/.aws/credentials, SSO or an instance role); configure them, e.g. "
            "`aws configure` or AWS_PROFILE=NAME"
        )
    region = session.region_name
    if not region:
        raise ConfigError(
            "backend.region is not set and the AWS configuration names no region: set "
            "backend.region=us-east-1 (or AWS_REGION)"
        )
    retries = Config(retries={"mode": "standard", "max_attempts": config.max_attempts})
    aws = Aws(
        session.client("sagemaker", endpoint_url=config.endpoint_url, config=retries),
        session.client("s3", endpoint_url=config.s3_endpoint_url, config=retries),
        region,
    )
    for client in (aws.sagemaker, aws.s3):
        client.meta.events.register("before-call", _counter(aws.calls))
    return aws


def _counter(calls: collections.Counter[str]) -> Any:
    def count(model: Any, **kwargs: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    return count


def preflight(config: SageMakerBackendConfig, aws: Aws) -> None:
    """What must hold before the first job: a role, and an S3 prefix this identity can
    write (a probe object is written and deleted)."""
    if not config.role:
        raise ConfigError(
            "backend.role is not set: give the IAM role the training jobs run as, e.g. "
            "backend.role=arn:aws:iam::123456789012:role/Training"
        )
    if not config.s3_prefix:
        raise ConfigError(
            "backend.s3_prefix is not set: give the S3 location for the jobs' data and "
            "outputs, e.g. backend.s3_prefix=s3://my-bucket/hyperplug"
        )
    bucket, prefix = split_s3_uri(config.s3_prefix)
    probe = join_key(prefix, f".hyperplug-probe-{secrets.token_hex(4)}")
    try:
        aws.s3.put_object(Bucket=bucket, Key=probe, Body=b"")
        aws.s3.delete_object(Bucket=bucket, Key=probe)
    except Exception as exc:
        raise StorageError(
            f"backend.s3_prefix={config.s3_prefix} cannot be written: {error_text(exc)}"
        ) from exc


def error_text(exc: BaseException) -> str:
    """One line for an AWS error: its code and message (``AccessDenied: ...``)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}".strip()
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code")) or None
    return None


def join_key(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def s3_exists(aws: Aws, bucket: str, key: str) -> bool:
    try:
        aws.s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True
