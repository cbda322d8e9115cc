"""Data-quality defects injected on purpose (FR-027b), and the masks that place them.

Defect placement uses its own random stream per table, so changing a rate changes which
rows are damaged but never the clean data itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class DefectRates:
    """Per-row probabilities of each defect.

    Attributes:
        null_rate: customer ``email``, order ``shipped_date`` (of shipped/delivered orders)
            and item ``discount`` are nulled with this probability.
        duplicate_rate: an order / order item row is sent twice (an exact copy).
        late_rate: an order arrives late: its timestamps lie before the batch window,
            up to ``late_days`` back.
        late_days: how far back a late order can lie.
    """

    null_rate: float = 0.02
    duplicate_rate: float = 0.01
    late_rate: float = 0.05
    late_days: float = 7.0

    def __post_init__(self) -> None:
        for name in ("null_rate", "duplicate_rate", "late_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.late_days <= 0:
            raise ValueError("late_days must be > 0")


NONE = DefectRates(0.0, 0.0, 0.0)


def bernoulli(rng: np.random.Generator, n: int, rate: float) -> npt.NDArray[np.bool_]:
    """A mask with each of ``n`` entries true with probability ``rate``."""
    return np.asarray(rng.random(n) < rate, dtype=np.bool_)


def duplicate_rows(rng: np.random.Generator, n: int, rate: float) -> npt.NDArray[np.int64]:
    """Row positions to append once more (each row chosen with probability ``rate``)."""
    return np.flatnonzero(bernoulli(rng, n, rate)).astype(np.int64)
