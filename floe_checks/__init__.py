"""floe-checks: one pytest runner for floe-runtime preflight, acceptance and end-to-end checks."""

__version__ = "0.1.0"
