"""Synthetic data generators (no Dagster, no dbt): e-commerce and SaaS batches as Arrow tables."""

from __future__ import annotations

from floe_demo.generators.batches import DEFAULT_ANCHOR, BatchSpec, Rate, batch_id, plan_batch
from floe_demo.generators.defects import DefectRates
from floe_demo.generators.ecommerce import (
    EcommerceBatch,
    EcommerceConfig,
    generate_batch,
)
from floe_demo.generators.saas import SaasBatch, SaasConfig, generate_saas_batch

__all__ = [
    "DEFAULT_ANCHOR",
    "BatchSpec",
    "DefectRates",
    "EcommerceBatch",
    "EcommerceConfig",
    "Rate",
    "SaasBatch",
    "SaasConfig",
    "batch_id",
    "generate_batch",
    "generate_saas_batch",
    "plan_batch",
]
