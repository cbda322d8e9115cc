"""What one batch is: its index, id, time window and size (by count or by time window).

A batch is deterministic for (seed, index) with the default windows, which step forward from
a fixed anchor; a live pipeline passes ``window_end=now`` so the data looks current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from floe_demo.generators.intraday import expected_share

Rate = Literal["burst", "realistic"]

# A Monday: the default windows of batch 0, 1, 2 … start here (naive UTC).
DEFAULT_ANCHOR = datetime(2026, 1, 5, 0, 0)
BURST_RECORDS_PER_SECOND = 1000
# Orders plus their items and a share of new customers: records one order stands for.
RECORDS_PER_ORDER = 3.5
_EPOCH = datetime(1970, 1, 1)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of a naive-UTC (or aware) datetime."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def utc_now() -> datetime:
    """Now as a naive UTC datetime, the convention of every generated timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


def batch_id(seed: int, index: int) -> str:
    """The id written to every row of a batch and to its Iceberg snapshot summary."""
    return f"s{seed}-b{index:06d}"


@dataclass(frozen=True)
class BatchSpec:
    """One batch.

    Attributes:
        seed: the generator seed.
        index: 0, 1, 2, … — batch 0 also carries the product catalogue.
        window_start, window_end: naive-UTC window the batch's events fall in (late rows
            excepted: they fall before ``window_start``).
        orders: order count for a count-sized batch; ``None`` sizes it by the window
            (Poisson around ``mean_orders`` times the intraday curve's share of the window).
        mean_orders: orders per window of ``window_minutes`` at the day's mean demand.
    """

    seed: int
    index: int
    window_start: datetime
    window_end: datetime
    orders: int | None = None
    mean_orders: float = 200.0

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError("batch index must be >= 0")
        if self.window_end <= self.window_start:
            raise ValueError("batch window must end after it starts")

    @property
    def batch_id(self) -> str:
        return batch_id(self.seed, self.index)

    @property
    def start_us(self) -> int:
        return to_micros(self.window_start)

    @property
    def end_us(self) -> int:
        return to_micros(self.window_end)

    def order_count(self, rng: np.random.Generator, window_minutes: float) -> int:
        """The batch's order count: fixed, or drawn for the window from ``rng``."""
        if self.orders is not None:
            return self.orders
        share = expected_share(self.start_us, self.end_us) / window_minutes
        return int(rng.poisson(self.mean_orders * share))


def plan_batch(
    seed: int,
    index: int,
    *,
    rate: Rate = "burst",
    batch_orders: int = 200,
    window_minutes: float = 5.0,
    window_end: datetime | None = None,
    anchor: datetime = DEFAULT_ANCHOR,
) -> BatchSpec:
    """The batch a pipeline run generates.

    * ``burst``: ``batch_orders`` orders squeezed into the time ≈1000 records/s take
      (a 200-order batch spans ~0.7 s).
    * ``realistic``: a window of ``window_minutes`` whose size follows the intraday curve.

    Without ``window_end`` the window is the index-th step from ``anchor`` (deterministic).
    """
    if rate == "burst":
        length = timedelta(seconds=batch_orders * RECORDS_PER_ORDER / BURST_RECORDS_PER_SECOND)
        orders: int | None = batch_orders
    elif rate == "realistic":
        length = timedelta(minutes=window_minutes)
        orders = None
    else:
        raise ValueError(f"unknown rate {rate!r}: use burst or realistic")
    if window_end is None:
        step = timedelta(minutes=window_minutes)
        window_end = anchor + step * index + length
    return BatchSpec(
        seed=seed,
        index=index,
        window_start=window_end - length,
        window_end=window_end,
        orders=orders,
        mean_orders=float(batch_orders),
    )
