"""A small SaaS data set: accounts, subscriptions and usage events (FR-027).

Same conventions as the e-commerce set: batch ``b`` registers accounts ``b*A … (b+1)*A-1``,
each with one subscription; usage events (about 5 per order-equivalent of the batch) follow
the intraday curve and go to any account known so far, older accounts being more active.
Defects: duplicate events and late events, at the e-commerce rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from floe_demo.generators.batches import BatchSpec
from floe_demo.generators.columns import (
    MONEY,
    TIMESTAMP,
    money,
    pick,
    random_uuids,
    stable_uuids,
    timestamps,
    with_nulls,
)
from floe_demo.generators.defects import DefectRates, bernoulli, duplicate_rows
from floe_demo.generators.ecommerce import REGION_WEIGHTS, REGIONS
from floe_demo.generators.intraday import sample_times

PLANS: tuple[str, ...] = ("free", "starter", "pro", "enterprise")
PLAN_WEIGHTS: tuple[float, ...] = (0.45, 0.30, 0.20, 0.05)
PLAN_MRR_CENTS = np.array([0, 2_900, 9_900, 49_900], dtype=np.int64)
SUBSCRIPTION_STATUSES: tuple[str, ...] = ("trialing", "active", "past_due", "cancelled")
SUBSCRIPTION_STATUS_WEIGHTS: tuple[float, ...] = (0.15, 0.70, 0.05, 0.10)
EVENT_TYPES: tuple[str, ...] = ("login", "api_call", "report_view", "export", "invite_sent")
EVENT_WEIGHTS: tuple[float, ...] = (0.30, 0.45, 0.15, 0.07, 0.03)
EVENTS_PER_ORDER = 5
COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne")
COMPANY_SUFFIXES = ("Labs", "Systems", "Analytics", "Cloud", "Works", "Data")

_STREAM_ACCOUNTS, _STREAM_EVENTS, _STREAM_EVENT_DEFECTS = 21, 22, 23
DAY_US = 86_400_000_000

_REQ = {"nullable": False}
ACCOUNTS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), **_REQ),
        pa.field("name", pa.string(), **_REQ),
        pa.field("plan", pa.string(), **_REQ),
        pa.field("region", pa.string(), **_REQ),
        pa.field("created_at", TIMESTAMP, **_REQ),
        pa.field("_batch_id", pa.string(), **_REQ),
    ]
)
SUBSCRIPTIONS_SCHEMA = pa.schema(
    [
        pa.field("subscription_id", pa.string(), **_REQ),
        pa.field("account_id", pa.string(), **_REQ),
        pa.field("plan", pa.string(), **_REQ),
        pa.field("status", pa.string(), **_REQ),
        pa.field("mrr", MONEY, **_REQ),
        pa.field("started_at", TIMESTAMP, **_REQ),
        pa.field("cancelled_at", TIMESTAMP),
        pa.field("_batch_id", pa.string(), **_REQ),
    ]
)
USAGE_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), **_REQ),
        pa.field("account_id", pa.string(), **_REQ),
        pa.field("event_type", pa.string(), **_REQ),
        pa.field("quantity", pa.int32(), **_REQ),
        pa.field("occurred_at", TIMESTAMP, **_REQ),
        pa.field("_batch_id", pa.string(), **_REQ),
    ]
)
SCHEMAS: dict[str, pa.Schema] = {
    "accounts": ACCOUNTS_SCHEMA,
    "subscriptions": SUBSCRIPTIONS_SCHEMA,
    "usage_events": USAGE_EVENTS_SCHEMA,
}


@dataclass(frozen=True)
class SaasConfig:
    """Shape of the SaaS data set."""

    seed: int = 42
    accounts_per_batch: int = 5
    window_minutes: float = 5.0
    defects: DefectRates = field(default_factory=DefectRates)


@dataclass(frozen=True)
class SaasBatch:
    spec: BatchSpec
    accounts: pa.Table
    subscriptions: pa.Table
    usage_events: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {name: getattr(self, name) for name in SCHEMAS}


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *stream]))


def generate_saas_batch(config: SaasConfig, spec: BatchSpec) -> SaasBatch:
    """Every table of one SaaS batch; deterministic for (config, spec)."""
    a = config.accounts_per_batch
    index = np.arange(spec.index * a, (spec.index + 1) * a, dtype=np.int64)
    rng = _rng(config.seed, _STREAM_ACCOUNTS, spec.index)
    words = rng.integers(0, len(COMPANY_WORDS), a)
    suffixes = rng.integers(0, len(COMPANY_SUFFIXES), a)
    names = [
        f"{COMPANY_WORDS[w]} {COMPANY_SUFFIXES[s]} {i}"
        for w, s, i in zip(words, suffixes, index, strict=True)
    ]
    plan, plan_code = pick(rng, PLANS, PLAN_WEIGHTS, a)
    region, _ = pick(rng, REGIONS, REGION_WEIGHTS, a)
    created = spec.start_us - (rng.uniform(0, 30, a) * DAY_US).astype(np.int64)
    status, status_code = pick(rng, SUBSCRIPTION_STATUSES, SUBSCRIPTION_STATUS_WEIGHTS, a)
    cancelled = status_code == SUBSCRIPTION_STATUSES.index("cancelled")
    cancelled_at = created + ((spec.start_us - created) * rng.random(a)).astype(np.int64)
    account_ids = stable_uuids(config.seed, "account", index)
    batch = pa.repeat(pa.scalar(spec.batch_id), a)
    accounts = pa.Table.from_arrays(
        [account_ids, pa.array(names, pa.string()), plan, region, timestamps(created), batch],
        schema=ACCOUNTS_SCHEMA,
    )
    subscriptions = pa.Table.from_arrays(
        [
            stable_uuids(config.seed, "subscrip", index),
            account_ids,
            plan,
            status,
            money(PLAN_MRR_CENTS[plan_code]),
            timestamps(created),
            with_nulls(timestamps(cancelled_at), ~cancelled),
            batch,
        ],
        schema=SUBSCRIPTIONS_SCHEMA,
    )

    erng = _rng(config.seed, _STREAM_EVENTS, spec.index)
    orders = spec.order_count(erng, config.window_minutes)
    n = orders * EVENTS_PER_ORDER
    known = (spec.index + 1) * a
    account_idx = np.minimum((known * erng.random(n) ** 1.4).astype(np.int64), known - 1)
    event_type, _ = pick(erng, EVENT_TYPES, EVENT_WEIGHTS, n)
    quantity = 1 + erng.poisson(2.0, n)
    occurred = sample_times(erng, n, spec.start_us, spec.end_us)
    defects = _rng(config.seed, _STREAM_EVENT_DEFECTS, spec.index)
    late = bernoulli(defects, n, config.defects.late_rate)
    late_to = spec.start_us - (defects.uniform(1e-6, config.defects.late_days, n) * DAY_US).astype(
        np.int64
    )
    occurred = np.where(late, late_to, occurred)
    dups = duplicate_rows(defects, n, config.defects.duplicate_rate)
    events = pa.Table.from_arrays(
        [
            random_uuids(erng, n),
            stable_uuids(config.seed, "account", account_idx),
            event_type,
            pa.array(quantity.astype(np.int32)),
            timestamps(occurred),
            pa.repeat(pa.scalar(spec.batch_id), n),
        ],
        schema=USAGE_EVENTS_SCHEMA,
    )
    if len(dups):
        events = pa.concat_tables([events, events.take(pa.array(dups))])
    return SaasBatch(spec, accounts, subscriptions, events)
