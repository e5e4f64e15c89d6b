"""smpp-bridge: signed delivery webhooks (seed 000), see docs/webhooks.md.

For receivers: ``bridge.webhooks.verify(secrets, raw_body, header) -> bool``.
"""

from bridge.webhooks.policy import POLICIES, SMS_STATUS, DeliveryPolicy, sign, verify

__all__ = ["POLICIES", "SMS_STATUS", "DeliveryPolicy", "sign", "verify"]
