"""Shared test configuration: hypothesis profiles.

``ci`` (selected when CI=true or HYPOTHESIS_PROFILE=ci): derandomized, no
deadline, so a loaded machine cannot make a property flaky and every run tries
the same examples. ``dev`` keeps randomness so developers explore new cases.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)

_default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
