"""kubediag: a live-cluster Kubernetes Service troubleshooter."""

__version__ = "0.1.0"
