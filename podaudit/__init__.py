"""podaudit: find, explain and audit Kubernetes static pods."""

__version__ = "0.1.0"
