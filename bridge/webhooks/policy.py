"""Delivery policies: how one kind of event is sent, signed and retried.

A policy is a value per event kind (the outbox row's ``event``). Seed 000's
``sms.status`` is the first; seed 004's ``session.complete`` reuses the
sender with a policy of its own (bridge/preflight/webhook.py). A policy says:

- the headers of every request (seed 000 "Delivery webhook": ``Content-Type``,
  ``User-Agent``, ``X-ProSignals-Event``, ``X-ProSignals-Signature``,
  ``X-ProSignals-Attempt``) plus a delivery id that stays the same in every
  attempt, so a receiver can drop duplicates (Standard Webhooks' ``webhook-id``);
- the signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the
  secret's ASCII bytes (what the seed's ``openssl dgst -sha256 -hmac`` does);
- the body: the fields of the event in the seed's order, with ``attempt`` last;
- the schedule: the first attempt, then a retry after each delay (1 s, 5 s,
  30 s: attempts 1-4), then ``dead``;
- the timeout (a 2xx later than 10 s is a failure) and which answers count
  as delivered and which are worth a retry.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

__all__ = [
    "POLICIES",
    "SMS_STATUS",
    "DeliveryPolicy",
    "Signer",
    "SmsStatusBody",
    "policy_for",
    "sign",
    "verify",
]


def sign(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``body`` keyed with the ASCII bytes of ``secret``."""
    return hmac.new(secret.encode("ascii"), body, hashlib.sha256).hexdigest()


class Signer:
    """``sign(secret, body)`` with the key prepared once (the HMAC's inner and outer
    pads hashed once per secret, not once per request)."""

    __slots__ = ("_mac",)

    def __init__(self, secret: str) -> None:
        self._mac = hmac.new(secret.encode("ascii"), digestmod=hashlib.sha256)

    def sign(self, body: bytes) -> bytes:
        """The lowercase hex signature, as ASCII bytes."""
        mac = self._mac.copy()
        mac.update(body)
        return mac.hexdigest().encode("ascii")


def verify(secrets: Iterable[str] | str, raw_body: bytes, header: str | None) -> bool:
    """For receivers: does ``header`` (X-ProSignals-Signature) sign ``raw_body``?

    ``secrets`` may list several, the new one and the old one during a rotation:
    any of them verifies. Every comparison takes constant time
    (``hmac.compare_digest``), and every secret is tried, so the time does not
    tell which one matched.
    """
    if header is None:
        return False
    wanted = header.strip().lower().encode("ascii", "replace")
    if isinstance(secrets, str):
        secrets = [secrets]
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(sign(secret, raw_body).encode("ascii"), wanted)
    return ok


class SmsStatusBody(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 000 payload, in the seed's field order (``attempt`` is added per attempt)."""

    event: str
    id: str
    campaignId: str
    to: str
    status: str
    reference: str | None
    timestamp: str
    attempt: int


_encoder = msgspec.json.Encoder()


def _sms_status_body(payload: Mapping[str, Any], attempt: int) -> bytes:
    return _encoder.encode(SmsStatusBody(
        event=payload["event"], id=payload["id"], campaignId=payload["campaignId"],
        to=payload["to"], status=payload["status"], reference=payload.get("reference"),
        timestamp=payload["timestamp"], attempt=attempt,
    ))  # fmt: skip


def _is_2xx(status: int) -> bool:
    return 200 <= status < 300


def _always(_status: int) -> bool:
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryPolicy:
    """How one event kind is delivered (see the module docstring)."""

    event: str
    body: Callable[[Mapping[str, Any], int], bytes]
    delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    timeout: float = 10.0
    user_agent: str = "ProSignals/1.0"
    event_header: str = "X-ProSignals-Event"
    signature_header: str = "X-ProSignals-Signature"
    attempt_header: str | None = "X-ProSignals-Attempt"  # None: no attempt header
    delivery_header: str = "X-ProSignals-Delivery"
    signature_prefix: str = ""  # before the hex digest, e.g. "sha256=" (seed 004)
    delivered: Callable[[int], bool] = _is_2xx
    # Of the answers that are not ``delivered``: worth another attempt?
    retry: Callable[[int], bool] = _always
    max_response_body: int = 4096
    # The header lines that are the same in every request, written once (__post_init__).
    _fixed: bytes = field(init=False, repr=False, compare=False, default=b"")
    _signature_prefix: bytes = field(init=False, repr=False, compare=False, default=b"")

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and one per delay."""
        return 1 + len(self.delays)

    def next_delay(self, attempt: int) -> float | None:
        """After attempt ``attempt`` (1-based) failed: wait this long, or None (dead)."""
        return self.delays[attempt - 1] if attempt <= len(self.delays) else None

    def request(
        self, *, delivery_id: str, secret: Signer | str, payload: Mapping[str, Any], attempt: int
    ) -> tuple[bytes, bytes]:
        """The header lines (without Host and Content-Length, each ending in CRLF) and the
        raw body of one attempt."""
        signer = Signer(secret) if isinstance(secret, str) else secret
        body = self.body(payload, attempt)
        attempt_line = (
            b"" if self.attempt_header is None
            else self.attempt_header.encode("ascii") + b": " + str(attempt).encode("ascii") + b"\r\n"
        )
        head = b"".join((
            self._fixed, self.signature_header.encode("ascii"), b": ", self._signature_prefix,
            signer.sign(body), b"\r\n", attempt_line,
            self.delivery_header.encode("ascii"), b": ", delivery_id.encode("ascii"), b"\r\n",
        ))  # fmt: skip
        return head, body

    def __post_init__(self) -> None:
        from bridge.webhooks.client import check_header_value

        for value in (self.user_agent, self.event, self.event_header, self.signature_header,
                      self.attempt_header or "", self.delivery_header, self.signature_prefix):  # fmt: skip
            check_header_value(value)
        fixed = (
            f"Content-Type: application/json\r\nUser-Agent: {self.user_agent}\r\n"
            f"{self.event_header}: {self.event}\r\n"
        )
        object.__setattr__(self, "_fixed", fixed.encode("ascii"))
        object.__setattr__(self, "_signature_prefix", self.signature_prefix.encode("ascii"))

    def tuned(self, *, delays: tuple[float, ...] | None = None, timeout: float | None = None,
              user_agent: str | None = None) -> DeliveryPolicy:
        """This policy with the operator's settings ([webhooks] in the configuration)."""
        return replace(
            self,
            delays=self.delays if delays is None else delays,
            timeout=self.timeout if timeout is None else timeout,
            user_agent=self.user_agent if user_agent is None else user_agent,
        )


SMS_STATUS = DeliveryPolicy(event="sms.status", body=_sms_status_body)

POLICIES: dict[str, DeliveryPolicy] = {SMS_STATUS.event: SMS_STATUS}


def policy_for(event: str, policies: Mapping[str, DeliveryPolicy] = POLICIES) -> DeliveryPolicy | None:
    return policies.get(event)
