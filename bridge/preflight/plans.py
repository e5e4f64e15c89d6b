"""The plans of seed 004 "Plans & limits" (pure)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PLANS", "Plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    tests_per_month: int | None  # None: unlimited
    api_access: bool
    webhooks: bool
    history_days: int

    def as_json(self) -> dict[str, object]:
        """The seed's ``plan`` object of GET /auth/me."""
        return {
            "tests_per_month": self.tests_per_month,
            "api_access": self.api_access,
            "webhooks": self.webhooks,
            "history_days": self.history_days,
        }


# Seed 004: Free 5 tests / 30 days, no API (the API is "available on Pro and Team
# plans"); Pro 100 / 90 days; Team unlimited / 365 days.
PLANS: dict[str, Plan] = {
    "free": Plan("free", 5, api_access=False, webhooks=False, history_days=30),
    "pro": Plan("pro", 100, api_access=True, webhooks=True, history_days=90),
    "team": Plan("team", None, api_access=True, webhooks=True, history_days=365),
}
