"""Generator and Iceberg append throughput of the demo, as a Markdown table.

Run: ``.venv/bin/python benchmarks/bench_generator.py [--orders 100000] [--repeat 5]``.
The goal (issue 4) is >= 250,000 order_items rows/s on one core for the generator.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    """Median seconds over ``repeat`` runs of ``fn`` (which returns the rows it made)."""
    times, rows = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000, help="orders per batch")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from floe_demo.generators import BatchSpec, EcommerceConfig, generate_batch, plan_batch
    from floe_demo.iceberg_loader import IcebergLoader
    from floe_demo.settings import DemoSettings

    config = EcommerceConfig(seed=1)
    generate_batch(config, plan_batch(1, 0, batch_orders=100))  # warm caches (Faker, numpy)
    rows: list[tuple[str, int, float, float]] = []

    for orders in (1_000, args.orders):
        spec = plan_batch(1, 1, batch_orders=orders)

        def generate(spec: BatchSpec = spec) -> int:
            return int(generate_batch(config, spec).order_items.num_rows)

        seconds, items = best_of(args.repeat, generate)
        rows.append((f"generate batch ({orders:,} orders)", items, seconds, items / seconds))

    batch = generate_batch(config, plan_batch(1, 1, batch_orders=args.orders))
    with tempfile.TemporaryDirectory() as home:
        loader = IcebergLoader.from_settings(DemoSettings.from_env({"FLOE_DEMO_HOME": home}))
        loader.ensure_tables()
        counter = iter(range(1_000_000))

        def append(name: str) -> int:
            index = next(counter)
            table = batch.tables()[name]
            loader.append(name, table, batch_id=f"bench-{index}", batch_index=index, seed=1)
            return int(table.num_rows)

        for name in ("order_items", "orders"):
            seconds, n = best_of(args.repeat, functools.partial(append, name))
            rows.append((f"Iceberg append {name} (SQL catalog, file)", n, seconds, n / seconds))

    print("| step | rows | seconds (median) | rows/s |")
    print("|---|---:|---:|---:|")
    for step, n, seconds, rate in rows:
        print(f"| {step} | {n:,} | {seconds:.3f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
