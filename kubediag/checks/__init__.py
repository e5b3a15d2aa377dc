"""The checks. Importing this package registers every check module in the one table (base.REGISTRY)."""

from kubediag.checks import (  # noqa: F401
    consumers,
    controllers,
    endpoints,
    existence,
    exposure,
    netpol,
    pods,
    ports,
    selection,
    traffic,
)
