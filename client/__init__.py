"""``tracer.client``: a Python client of Tracer's HTTP API, sync and async, on httpx.

The product documents' SDK verbs, in Python's style::

    from tracer.client import TracerClient

    with TracerClient(api_key="...", base_url="http://127.0.0.1:6066") as tracer:
        dataset = tracer.upload_data("customers.csv")
        best = tracer.analyze_data(dataset)[0]             # blueprint, compatibility, reason
        model = tracer.deploy(best.blueprint, dataset)     # trains, publishes, serves
        prediction = model.predict({"customer_id": "cust_123", ...})
        prediction["churn_probability"], prediction.model_version

:class:`AsyncTracerClient` has the same verbs as coroutines. Errors are
:class:`~tracer.client.errors.TracerError` subclasses carrying the API's ``{error, detail}``,
status, request id and, on 429/503, ``retry_after``; 429 and 503 are retried with backoff first.
Install with the ``client`` extra (``pip install 'tracer-stream[client]'``): it needs httpx only.
"""

from tracer.client.aio import AsyncCompositeModel, AsyncModel, AsyncTracerClient
from tracer.client.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    TracerConnectionError,
    TracerError,
    TracerTimeoutError,
    UnavailableError,
    UnsupportedMediaTypeError,
)
from tracer.client.models import (
    BlueprintSummary,
    Composite,
    Dataset,
    DatasetSummary,
    Deployment,
    DeploymentSummary,
    ModelVersion,
    Prediction,
    Suggestion,
)
from tracer.client.sync import CompositeModel, Model, TracerClient

__all__ = [
    "AsyncCompositeModel",
    "AsyncModel",
    "AsyncTracerClient",
    "AuthenticationError",
    "BadRequestError",
    "BlueprintSummary",
    "Composite",
    "CompositeModel",
    "ConflictError",
    "Dataset",
    "DatasetSummary",
    "Deployment",
    "DeploymentSummary",
    "InvalidRequestError",
    "Model",
    "ModelVersion",
    "NotFoundError",
    "PayloadTooLargeError",
    "Prediction",
    "RateLimitError",
    "ServerError",
    "Suggestion",
    "TracerClient",
    "TracerConnectionError",
    "TracerError",
    "TracerTimeoutError",
    "UnavailableError",
    "UnsupportedMediaTypeError",
]
