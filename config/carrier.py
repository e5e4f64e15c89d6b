"""The ``[[carriers]]`` section: one SMSC each, how to bind, how fast, and how its
ids and receipts look (docs/configuration.md, docs/carrier.md)."""

from __future__ import annotations

import zoneinfo
from enum import StrEnum
from typing import Annotated, Literal

from msgspec import Meta, field

from bridge.smpp.constants import command_status_of
from config.types import Duration, Name, Npi, Port, Ton, _Base
from dlr import IdForm, MessageState, ReceiptDetect, Status, StatusTable
from segmenter import Profile

__all__ = ["MAX_BINDS", "BindGroup", "BindMode", "Carrier", "SegmentationProfile", "SourceRules"]


class BindMode(StrEnum):
    """SMPP 3.4 section 2.2: bind_transmitter, bind_receiver, bind_transceiver."""

    TX = "tx"
    RX = "rx"
    TRX = "trx"

    @property
    def transmits(self) -> bool:
        """May submit (SMPP 3.4 section 2.2.1: transmitter and transceiver)."""
        return self is not BindMode.RX

    @property
    def receives(self) -> bool:
        """Gets deliver_sm, receipts and MO (SMPP 3.4 section 2.2.2: receiver and transceiver)."""
        return self is not BindMode.TX


# Binds of one carrier in all, whatever their modes (one session and one task each).
MAX_BINDS = 64


class BindGroup(_Base, frozen=True, kw_only=True):
    """``count`` binds of one mode: ``{ mode = "tx", count = 2 }``."""

    mode: BindMode
    count: Annotated[int, Meta(ge=1, le=MAX_BINDS)] = 1


# Receipt state names of SMPP 3.4 section 5.2.28 (dlr.MessageState), the keys of
# a carrier's status_overrides.
MESSAGE_STATES = frozenset(MessageState.__members__)


# A carrier's segmentation profile is the segmenter's own Struct:
# enqueue bills with it and the carrier sends with it, so they cannot drift.
SegmentationProfile = Profile




class SourceRules(_Base, frozen=True, kw_only=True):
    """Which sender ids a carrier takes, and its default.

    Enqueue picks TON/NPI from the sender's shape (alphanumeric 5/0,
    international 1/1, short code 3/0); ``force_ton``/``force_npi`` override it
    for carriers that insist on one value.
    """

    default_sender_id: str | None = None
    allow_alphanumeric: bool = True
    allow_international: bool = True
    allow_short_code: bool = True
    force_ton: Ton | None = None
    force_npi: Npi | None = None




class Carrier(_Base, frozen=True, kw_only=True):
    """One SMSC: how to bind, how fast, and how its ids and receipts look."""

    name: Name
    host: Annotated[str, Meta(min_length=1)]
    port: Port = 2775
    tls: bool = False
    tls_verify: bool = True
    tls_ca_file: str | None = None
    # The binds: a list of groups (``[{ mode = "tx", count = 2 }, { mode = "rx" }]``),
    # or the shorthand ``binds = N`` of ``bind_mode`` (default trx). Receipts and MO
    # of every bind belong to the carrier; submits go to tx and trx binds only.
    bind_mode: BindMode | None = None
    binds: Annotated[int, Meta(ge=1, le=MAX_BINDS)] | list[BindGroup] = 1
    window: Annotated[int, Meta(ge=1, le=1000)] = 10
    tps: Annotated[float, Meta(gt=0)] = 100.0
    # SMPP 3.4 section 4.1.1: system_id C-Octet String max 16 (15 + NUL),
    # password max 9 (8 + NUL), system_type max 13, address_range max 41.
    system_id: Annotated[str, Meta(min_length=1, max_length=15)]
    password_env: str | None = None
    password_file: str | None = None
    system_type: Annotated[str, Meta(max_length=12)] = ""
    interface_version: Literal[0x33, 0x34] = 0x34
    address_range: Annotated[str, Meta(max_length=40)] = ""
    source: SourceRules = field(default_factory=SourceRules)
    # dlr.id_key forms of the submit_sm_resp id and of the receipt id.
    response_id_form: IdForm = IdForm.NORMALIZED
    receipt_id_form: IdForm = IdForm.NORMALIZED
    receipt_detect: ReceiptDetect = ReceiptDetect.ESM_CLASS
    status_overrides: dict[str, Status] = field(default_factory=dict)
    receipt_timeout: Duration = field(default_factory=lambda: Duration(72 * 3600))
    on_receipt_timeout: Literal["failed", "sent"] = "failed"
    # What to do with a part whose submit outcome is unknown (connection lost
    # after the write, or `submitting` at start-up): resubmit risks a duplicate
    # on the handset, fail refunds it. Resolved per carrier.
    on_unknown_outcome: Literal["resubmit", "fail"] = "fail"
    # An unknown outcome first waits this long in the part state `unknown` (message
    # pending, not refunded) for a late response or a parked receipt that matches it
    # (docs/outcomes.md "Unknown outcome"); then on_unknown_outcome applies. "0s":
    # at once, as before. The SMSC's clock zone of receipt dates (Appendix B
    # "submit date"), used only for that matching.
    unknown_outcome_grace: Duration = field(default_factory=lambda: Duration(3600))
    receipt_time_zone: str = "UTC"
    # A part whose last receipt is ACCEPTED (SMPP 3.4 section 5.2.28: read by customer
    # service, not delivered) stays pending this long, then on_receipt_timeout applies.
    accepted_timeout: Duration = field(default_factory=lambda: Duration(3600))
    max_attempts: Annotated[int, Meta(ge=1, le=100)] = 5
    max_age: Duration = field(default_factory=lambda: Duration(600))
    # submit_sm_resp command_status -> what the carrier session does with it,
    # replacing the defaults of bridge/carrier/policy.py (0x58, 0x14 throttle: not
    # counted toward max_attempts; 0x08, 0x64 retry; 0x04 rebind; anything else
    # permanent). Keys are status
    # numbers ("0x58", "88") or SMPP 3.4 names ("ESME_RSYSERR").
    status_actions: dict[str, Literal["throttle", "retry", "rebind", "permanent"]] = field(
        default_factory=dict
    )
    connect_timeout: Duration = field(default_factory=lambda: Duration(10))
    validity_period: Duration | None = None
    enquire_link_interval: Duration = field(default_factory=lambda: Duration(30))
    response_timeout: Duration = field(default_factory=lambda: Duration(30))
    # Liveness and framing (docs/smpp-connection.md "Liveness"): a PDU the SMSC
    # began must be whole within frame_timeout or the bind closes ("0s": no limit);
    # after max_consecutive_timeouts submits in a row without a response (default:
    # the window) the bind stops submitting and probes the link with one
    # enquire_link; PDUs above max_pdu_size octets are answered generic_nack and
    # skipped. Its default is the largest valid SMPP 3.4 PDU (bridge/smpp/framing.py
    # computes it; a test checks the two agree).
    frame_timeout: Duration = field(default_factory=lambda: Duration(20))
    max_consecutive_timeouts: Annotated[int, Meta(ge=1, le=1000)] | None = None
    max_pdu_size: Annotated[int, Meta(ge=1024, le=16 * 1024 * 1024)] = 73_151
    segmentation: SegmentationProfile = field(default_factory=SegmentationProfile)
    # query_sm (SMPP 3.4 section 4.8) for parts whose final receipt does not come
    # (an SMSC that lost its receipts): off by default; the first query goes
    # query_after after the submit; query_rate queries/s come out of ``tps``
    # (default a tenth of it). See docs/carrier.md "Receipts that never come".
    query_sm: bool = False
    query_after: Duration = field(default_factory=lambda: Duration(600))
    query_rate: Annotated[float, Meta(gt=0)] | None = None

    def __post_init__(self) -> None:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError(f"carrier {self.name}: give password_env or password_file, not both")
        if isinstance(self.binds, list):
            if self.bind_mode is not None:
                raise ValueError(
                    f"carrier {self.name}: bind_mode is for the shorthand binds = N; with a list"
                    " of binds each group names its mode"
                )
            if not self.binds:
                raise ValueError(f"carrier {self.name}: binds is an empty list")
            if (total := sum(g.count for g in self.binds)) > MAX_BINDS:
                raise ValueError(f"carrier {self.name}: {total} binds in all, at most {MAX_BINDS}")
        unknown = sorted(set(self.status_overrides) - MESSAGE_STATES)
        if unknown:
            raise ValueError(
                f"carrier {self.name}: status_overrides has unknown state(s) {', '.join(unknown)}"
                f" (known: {', '.join(sorted(MESSAGE_STATES))})"
            )
        try:
            zoneinfo.ZoneInfo(self.receipt_time_zone)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            raise ValueError(
                f"carrier {self.name}: receipt_time_zone {self.receipt_time_zone!r} is not a time zone name"
            ) from None
        if self.tls_ca_file is not None and not self.tls:
            raise ValueError(f"carrier {self.name}: tls_ca_file given but tls = false")
        self._check_query_sm()
        for key in self.status_actions:
            if command_status_of(key) is None:
                raise ValueError(
                    f"carrier {self.name}: status_actions key {key!r} is neither a command_status"
                    " number (0x58, 88) nor an SMPP 3.4 ESME_* name"
                )

    @property
    def bind_groups(self) -> tuple[BindGroup, ...]:
        """The binds as groups, whichever form the file used."""
        if isinstance(self.binds, list):
            return tuple(self.binds)
        return (BindGroup(mode=self.bind_mode or BindMode.TRX, count=self.binds),)

    @property
    def slot_modes(self) -> tuple[BindMode, ...]:
        """The mode of each bind slot, slot i at index i (groups in file order)."""
        return tuple(g.mode for g in self.bind_groups for _ in range(g.count))

    @property
    def receives(self) -> bool:
        """Some bind gets deliver_sm (rx or trx): receipts can arrive."""
        return any(g.mode.receives for g in self.bind_groups)

    @property
    def transmits(self) -> bool:
        """Some bind may submit (tx or trx)."""
        return any(g.mode.transmits for g in self.bind_groups)
    def _check_query_sm(self) -> None:
        if self.query_rate is not None and self.query_rate > self.tps:
            raise ValueError(
                f"carrier {self.name}: query_rate {self.query_rate:g} is above tps {self.tps:g}"
                " (queries are taken out of the carrier's TPS budget)"
            )
        if not self.query_sm:
            return
        if self.query_after.seconds <= 0:
            raise ValueError(f"carrier {self.name}: query_after must be above zero")
        if self.query_after.seconds >= self.receipt_timeout.seconds:
            raise ValueError(
                f"carrier {self.name}: query_after ({self.query_after.seconds:g}s) must be shorter"
                f" than receipt_timeout ({self.receipt_timeout.seconds:g}s), or no query is ever sent"
            )
        if not self.transmits:
            raise ValueError(
                f"carrier {self.name}: query_sm needs a bind that can transmit (tx or trx);"
                " SMPP 3.4 section 2.3: a receiver bind cannot send query_sm"
            )

    @property
    def query_rate_effective(self) -> float:
        """Queries per second: ``query_rate``, or a tenth of ``tps`` when not set."""
        return self.query_rate if self.query_rate is not None else self.tps / 10

    def status_table(self) -> StatusTable:
        """dlr's state -> status table with this carrier's overrides (build once per carrier)."""
        overrides: dict[MessageState | str, Status | str] = dict(self.status_overrides.items())
        return StatusTable(overrides)
