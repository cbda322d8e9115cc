"""The intraday demand curve: quiet nights, a morning peak, a lunch dip, an evening surge.

Event times inside a batch window are drawn from this curve, and a time-window batch's
expected size is proportional to the curve's area over the window. All times are UTC.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MINUTE_US = 60_000_000
DAY_MINUTES = 24 * 60

# Relative demand at the middle of each UTC hour (index = hour of day).
# fmt: off
HOURLY_WEIGHTS: tuple[float, ...] = (
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12,  # 00-05 night
    0.30, 0.60, 0.95, 1.30, 1.45, 1.25,  # 06-11 morning peak at 10:00
    0.80, 0.75, 0.95, 1.00, 1.05, 1.15,  # 12-17 lunch dip at 13:00
    1.45, 1.80, 1.95, 1.60, 1.00, 0.50,  # 18-23 evening surge at 20:00
)
# fmt: on


def _minute_curve() -> npt.NDArray[np.float64]:
    """Demand per minute of the day, interpolated between the hourly anchors and scaled so
    the daily mean is 1 (so the area of a window in minutes is its expected share)."""
    anchors = np.arange(24) * 60 + 30
    minutes = np.arange(DAY_MINUTES) + 0.5
    curve = np.interp(minutes, anchors, HOURLY_WEIGHTS, period=DAY_MINUTES)
    return np.asarray(curve / curve.mean(), dtype=np.float64)


MINUTE_CURVE = _minute_curve()


def _segments(start_us: int, end_us: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Split [start, end) at minute boundaries: segment starts and their weighted lengths."""
    first = -(-start_us // MINUTE_US) * MINUTE_US  # first boundary at or after start
    inner = np.arange(first, end_us, MINUTE_US, dtype=np.int64)
    inner = inner[inner > start_us]
    edges = np.concatenate(([start_us], inner, [end_us])).astype(np.int64)
    starts = edges[:-1]
    minute_of_day = (starts // MINUTE_US) % DAY_MINUTES
    weights = MINUTE_CURVE[minute_of_day] * np.diff(edges)
    return edges, np.asarray(weights, dtype=np.float64)


def expected_share(start_us: int, end_us: int) -> float:
    """The window's demand in minutes at the day's mean demand: a 5-minute window at 20:00
    holds ~11 'average minutes', one at 03:00 ~0.5."""
    _, weights = _segments(start_us, end_us)
    return float(weights.sum() / MINUTE_US)


def sample_times(
    rng: np.random.Generator, n: int, start_us: int, end_us: int
) -> npt.NDArray[np.int64]:
    """``n`` event times in [start, end) (microseconds) distributed like the curve."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    edges, weights = _segments(start_us, end_us)
    cdf = np.cumsum(weights)
    u = rng.random(n) * cdf[-1]
    seg = np.searchsorted(cdf, u, side="right")
    seg = np.minimum(seg, len(weights) - 1)
    lo = edges[seg]
    width = edges[seg + 1] - lo
    return np.asarray(lo + (rng.random(n) * width).astype(np.int64), dtype=np.int64)
