"""A deployment at run time: live model, feature state, captured features, progressive metrics."""

from tracer.online_models.deployment import MIN_FRAME_ROWS, Captured, Deployment, ReplayReport, Scored
from tracer.online_models.metrics import BinaryMetrics, RegressionMetrics

__all__ = [
    "MIN_FRAME_ROWS",
    "BinaryMetrics",
    "Captured",
    "Deployment",
    "RegressionMetrics",
    "ReplayReport",
    "Scored",
]
