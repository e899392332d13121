"""Amazon SageMaker: ``backend=sagemaker`` runs every trial as one SageMaker training job
(docs/backends.md#sagemaker). It needs boto3, the ``[sagemaker]`` extra: without it the
plugin registers nothing and choosing the backend names the extra; boto3 is imported only
when the backend is built."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.sagemaker.backend import SageMakerBackend
from hyperplug.plugins.sagemaker.config import SageMakerBackendConfig

HYPERPLUG_EXTRA = "sagemaker"


@hookimpl
def register_backends() -> list[Component]:
    return [
        Component(
            kind="backend",
            name="sagemaker",
            factory=SageMakerBackend,
            config_class=SageMakerBackendConfig,
            description="runs every trial as an Amazon SageMaker training job",
        )
    ]
