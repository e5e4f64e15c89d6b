"""The ``session.complete`` delivery policy (seed 004 "Webhooks"), for the one webhook sender.

- headers: ``Content-Type: application/json``, ``User-Agent: SMSProbe-Webhook/1.0``,
  ``X-SMSProbe-Event: session.complete``, ``X-SMSProbe-Signature: sha256=<hex>``
  (HMAC-SHA256 of the raw body with the account's signing secret),
  ``X-SMSProbe-Delivery: <id>`` (the same in every attempt);
- three attempts: at once, 30 s after the first failure, 5 minutes after the second;
- retried on connection errors, timeouts (10 s) and 5xx only: a 3xx or 4xx is
  final (dead), a 2xx delivered;
- the body: the outbox row's payload (outcomes.session_payload) in the seed's
  field order (jsonb keeps its own order, so the order is restored here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from bridge.preflight.outcomes import SESSION_COMPLETE
from bridge.preflight.views import ResultView
from bridge.webhooks.policy import DeliveryPolicy

__all__ = ["SESSION_COMPLETE_POLICY"]

_encoder = msgspec.json.Encoder()


_SESSION_ORDER = ("id", "status", "sender_id", "client_ref", "test_code", "expected_body", "created_at",
                  "expires_at", "results")  # fmt: skip
_RESULT_ORDER = tuple(ResultView.__struct_fields__)


def _ordered(data: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: data[k] for k in order if k in data}
    out.update((k, v) for k, v in data.items() if k not in out)
    return out


def _body(payload: Mapping[str, Any], _attempt: int) -> bytes:
    session = _ordered(payload.get("session") or {}, _SESSION_ORDER)
    session["results"] = [_ordered(r, _RESULT_ORDER) for r in session.get("results") or []]
    return _encoder.encode({"event": payload["event"], "session": session})


def _server_error(status: int) -> bool:
    return status >= 500


SESSION_COMPLETE_POLICY = DeliveryPolicy(
    event=SESSION_COMPLETE,
    body=_body,
    delays=(30.0, 300.0),
    timeout=10.0,
    user_agent="SMSProbe-Webhook/1.0",
    event_header="X-SMSProbe-Event",
    signature_header="X-SMSProbe-Signature",
    signature_prefix="sha256=",
    attempt_header=None,
    delivery_header="X-SMSProbe-Delivery",
    retry=_server_error,
)
