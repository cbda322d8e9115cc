"""floe_demo: the demo platform of floe-runtime.

Synthetic e-commerce (and SaaS) data → Iceberg → dbt medallion → marts that Cube reads,
orchestrated by Dagster. The generators, settings, Iceberg loader and Postgres publisher are
plain Python and import neither Dagster nor dbt; only :mod:`floe_demo.definitions` does.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
