"""The demo's traffic (bridge/commands/demo.py): a reproducible mix of sends.

Bodies of every kind the segmenter handles (GSM, GSM with extension characters,
Unicode and emoji, long multipart texts), recipients across five regions as
valid E.164 mobile numbers, about 4% invalid numbers riding along with valid
ones and about 4% that fail (the simulator fails destinations ending in 0000).
"""

from __future__ import annotations

import random

__all__ = ["traffic"]

# Bodies of the mix: (label, text). Long ones are multipart (TS 23.040 concatenation).
_LONG_GSM = (
    "Dear customer, your parcel {ref} has left our Kuala Lumpur hub and will be delivered "
    "tomorrow between 9am and 1pm. If nobody is home, the courier will leave a card with a "
    "number to call. You can also reschedule online at any time before 8am on the delivery "
    "day. Thank you for shopping with us - reply STOP to opt out of delivery updates."
)
_BODIES: list[tuple[str, float, str]] = [
    ("otp", 0.45, "Your verification code is {code}. It expires in 5 minutes."),
    ("gsm", 0.17, "Reminder: your appointment is tomorrow at 10:30 (ref {ref}). Reply Y to confirm."),
    ("gsm-ext", 0.06, "Flash sale: 20% off [today only] - total €{code} ~ see app {{promo}}"),
    ("unicode", 0.12, "Terima kasih! 谢谢您的订单 {ref} 🎉 Selamat datang ✅"),
    ("long", 0.14, _LONG_GSM),
    ("long-unicode", 0.06, "订单 {ref} 已发货 🚚 " * 6),
]
_INVALID = ["12345", "+6012345", "+999123456789", "not-a-number", "+60 1", "0123456789"]
_REGIONS = [("MY", 0.6), ("SG", 0.15), ("ID", 0.1), ("TH", 0.08), ("PH", 0.07)]


def _numbers(rng: random.Random, region: str, count: int, *, failing: bool) -> list[str]:
    """Valid E.164 mobile numbers of ``region``; ``failing`` ones end in 0000 (the simulator's rule)."""
    import phonenumbers

    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None, region
    base = str(example.national_number)
    out: list[str] = []
    for _ in range(count * 20):
        if len(out) == count:
            break
        tail = "0000" if failing else f"{rng.randrange(10000):04d}"
        if not failing and tail == "0000":
            continue
        candidate = f"{base[:-6]}{rng.randrange(100):02d}{tail}"
        parsed = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(parsed):
            out.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return out


def traffic(total: int, seed: int | None) -> list[tuple[str, list[str]]]:
    """(body, recipients) sends adding up to ``total`` recipients: about 4% invalid, 4% failing."""
    rng = random.Random(seed)
    recipients: list[str] = []
    n_invalid = max(1, total * 4 // 100)
    n_failing = max(1, total * 4 // 100)
    for region, share in _REGIONS:
        n = round((total - n_invalid) * share)
        failing = min(n_failing, n // 10) if region != "MY" else 0
        recipients += _numbers(rng, region, n - failing, failing=False)
        recipients += _numbers(rng, region, failing, failing=True)
    recipients += _numbers(rng, "MY", n_failing - sum(r.endswith("0000") for r in recipients), failing=True)
    recipients = (recipients + _numbers(rng, "MY", total, failing=False))[: total - n_invalid]
    rng.shuffle(recipients)
    sends: list[tuple[str, list[str]]] = []
    texts, weights = [b[2] for b in _BODIES], [b[1] for b in _BODIES]
    i = 0
    while i < len(recipients):
        size = rng.choice((1, 1, 1, 5, 10, 25))
        text = rng.choices(texts, weights=weights)[0]
        body = text.format(code=rng.randrange(100000, 999999), ref=f"#{rng.randrange(10**6):06d}")
        sends.append((body, recipients[i : i + size]))
        i += size
    # Invalid numbers ride along with valid ones: a send with none valid is
    # refused whole (seed 000 no_valid_recipients), which is not what we show.
    for _ in range(n_invalid):
        rng.choice(sends)[1].append(rng.choice(_INVALID))
    return sends
