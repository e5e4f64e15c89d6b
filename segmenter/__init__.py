"""GSM-7 / UCS-2 segmentation of SMS text (pure: no I/O).

``segment(text)`` chooses the encoding and splits the text into the fewest
parts that never cut an escape sequence or a surrogate pair;
``Segmentation.payloads(ref, profile)`` gives each part's submit_sm fields for
a carrier's ``Profile``; ``price`` bills the segments in exact Decimal;
``check_body`` is the rule for which characters a message may hold.
See docs/segmenter.md.
"""

from segmenter.body import ForbiddenCharacter, check_body
from segmenter.core import Encoding, MessageTooLong, Segmentation, capacity, price, segment
from segmenter.payload import (
    MESSAGE_PAYLOAD,
    SAR_MSG_REF_NUM,
    SAR_SEGMENT_SEQNUM,
    SAR_TOTAL_SEGMENTS,
    PartPayload,
    decode_payload,
)
from segmenter.profile import Concat, Profile, segment_for

__all__ = [
    "MESSAGE_PAYLOAD",
    "SAR_MSG_REF_NUM",
    "SAR_SEGMENT_SEQNUM",
    "SAR_TOTAL_SEGMENTS",
    "Concat",
    "Encoding",
    "ForbiddenCharacter",
    "MessageTooLong",
    "PartPayload",
    "Profile",
    "Segmentation",
    "capacity",
    "check_body",
    "decode_payload",
    "price",
    "segment",
    "segment_for",
]
