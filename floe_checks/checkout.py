"""Where the repository's own assets are: ``charts/``, ``demo/``, ``docker/``, ``examples/``.

They ship with a checkout of the floe-checks repository, not with the wheel: the wheel holds the
plugin, the probes and the CLI. Code that needs an asset asks :func:`require`, which names the
missing path and what to do (:class:`~floe_checks.errors.CheckoutRequired`) instead of failing
later on a file that is not there. ``FLOE_CHECKOUT`` points an installed wheel at a clone.
"""

from __future__ import annotations

import os
from pathlib import Path

from floe_checks.errors import CheckoutRequired

# floe_checks/ sits at the root of a checkout; in a wheel it sits in site-packages.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def checkout_root() -> Path:
    """The repository root: ``$FLOE_CHECKOUT`` when set, else the folder holding ``floe_checks``."""
    env = os.environ.get("FLOE_CHECKOUT")
    return Path(env).expanduser().resolve() if env else SOURCE_ROOT


def is_checkout(root: Path | None = None) -> bool:
    """Whether ``root`` (default :func:`checkout_root`) is a floe-checks checkout."""
    root = root or checkout_root()
    return (root / "pyproject.toml").is_file() and (root / "charts").is_dir()


def require(*parts: str, what: str) -> Path:
    """The path ``parts`` under the checkout, or :class:`CheckoutRequired` naming it.

    Args:
        parts: the path inside the repository, e.g. ``("charts", "floe-cube")``.
        what: what needs it, for the message (e.g. ``"the local stack"``).
    """
    path = checkout_root().joinpath(*parts)
    if not path.exists():
        raise CheckoutRequired(
            f"{what} needs {'/'.join(parts)}/ from a checkout of floe-checks, and there is none "
            f"at {path}"
        )
    return path
