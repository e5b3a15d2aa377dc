"""The checks. Importing this package registers every check module in the one table (base.REGISTRY)."""

from kubediag.checks import (  # noqa: F401
    callers,
    cluster,
    cluster_consumers,
    consumers,
    controllers,
    dataplane,
    dns,
    endpoints,
    existence,
    exposure,
    initpods,
    netpol,
    pods,
    ports,
    routes,
    selection,
    traffic,
)
