"""aws-embedded-metrics (AWS's Python EMF client) against the sidecar, for tests/api/emf.rs.

The environment says where to send: AWS_EMF_ENVIRONMENT=Agent and
AWS_EMF_AGENT_ENDPOINT=tcp://127.0.0.1:PORT. Two flushes, so two documents.
"""

import asyncio

from aws_embedded_metrics import metric_scope
from aws_embedded_metrics.storage_resolution import StorageResolution


@metric_scope
async def handle(metrics):
    metrics.set_namespace("EmfClient")
    metrics.put_dimensions({"Service": "cart"})
    for latency in (12, 18, 30):
        metrics.put_metric("Latency", latency, "Milliseconds")
    metrics.put_metric("Hot", 2, "Count", StorageResolution.HIGH)
    metrics.put_metric("Hot", 3, "Count", StorageResolution.HIGH)
    metrics.set_property("RequestId", "r-1")
    await metrics.flush()
    metrics.put_metric("Orders", 2)


asyncio.run(handle())
