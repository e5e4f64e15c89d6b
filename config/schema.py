"""The configuration file's schema: msgspec Structs, validated once at the edge.

Every Struct forbids unknown fields, so a typo (``prot = 2775``) is an error
naming the key instead of a silently ignored setting. Cross-field rules that a
single Struct can check live in its ``__post_init__`` (msgspec turns the
ValueError into a ValidationError carrying the path); rules that need the whole
file (a route naming an unknown carrier) live in ``config.load``.

Secrets are never values in this file: a carrier names ``password_env`` or
``password_file`` and ``config.load`` resolves them into ``Secret`` objects
that do not print.
"""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, field

from dlr import IdForm, MessageState, ReceiptDetect, Status, StatusTable
from segmenter import Profile

__all__ = [
    "MAX_BINDS",
    "Api",
    "BindGroup",
    "BindMode",
    "Carrier",
    "Classify",
    "Config",
    "Daemon",
    "Database",
    "Duration",
    "Logging",
    "Preflight",
    "ProbeNetwork",
    "Rates",
    "Route",
    "RouteTarget",
    "SegmentationProfile",
    "Senders",
    "SourceRules",
    "Webhooks",
]


class _Base(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


# --- durations -------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Duration:
    """A length of time written ``"72h"``, ``"1h30m"``, ``"500ms"`` or as seconds.

    Decoded by ``config.load``'s dec_hook (msgspec calls it for this type).
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a duration cannot be negative")
        self.seconds = float(seconds)

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, bool):
            raise ValueError("expected a duration such as \"30s\", \"10m\" or \"72h\"")
        if isinstance(value, int | float):
            return cls(float(value))
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            pos, total = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != pos:
                    break
                total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if text and pos == len(text):
                return cls(total)
        raise ValueError(
            f"invalid duration {value!r}: write a number of seconds or e.g. \"30s\", \"10m\", \"72h\", \"1h30m\""
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)

    def __repr__(self) -> str:
        return f"Duration({self.seconds:g}s)"


# --- database --------------------------------------------------------------


class Database(_Base, frozen=True, kw_only=True):
    """Where the store lives: a server (``dsn`` / ``dsn_env`` / ``dsn_file``) or embedded.

    ``run`` and ``migrate`` refuse to start when none is given; only ``demo``
    and the tests fall back to the embedded server on their own.
    """

    dsn: str | None = None
    dsn_env: str | None = None
    dsn_file: str | None = None
    embedded: bool = False
    data_dir: str = "/var/lib/smpp-bridge/pgdata"
    pool_min: Annotated[int, Meta(ge=1, le=100)] = 2
    pool_max: Annotated[int, Meta(ge=1, le=200)] = 10

    def __post_init__(self) -> None:
        given = [n for n in ("dsn", "dsn_env", "dsn_file") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of dsn, dsn_env, dsn_file (got {', '.join(given)})")
        if given and self.embedded:
            raise ValueError(f"embedded = true cannot be combined with {given[0]}")
        if self.pool_min > self.pool_max:
            raise ValueError("pool_min is larger than pool_max")

    @property
    def configured(self) -> bool:
        return self.embedded or any(
            v is not None for v in (self.dsn, self.dsn_env, self.dsn_file)
        )


# --- carriers --------------------------------------------------------------


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


# SMPP 3.4 section 5.2.5: 0 unknown, 1 international, 3 network specific, 5 alphanumeric.
Ton = Annotated[int, Meta(ge=0, le=6)]
# SMPP 3.4 section 5.2.6 (0 unknown, 1 ISDN E.163/E.164, ... 18 WAP).
Npi = Annotated[int, Meta(ge=0, le=18)]


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


Port = Annotated[int, Meta(ge=1, le=65535)]
Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]


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
    # (docs/pipeline.md "Unknown outcome"); then on_unknown_outcome applies. "0s":
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
            if _command_status(key) is None:
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


def _command_status(key: str) -> int | None:
    """A status_actions key as a command_status number, None when it is neither a
    32-bit number nor a known ESME_* name (SMPP 3.4 section 5.1.3)."""
    from bridge.smpp.constants import CommandStatus

    text = key.strip()
    if text.upper().startswith("ESME_"):
        member = CommandStatus.__members__.get(text.upper())
        return None if member is None or int(member) == 0 else int(member)
    try:
        value = int(text, 0)
    except ValueError:
        return None
    # 0 is ESME_ROK: a success has no retry action.
    return value if 0 < value <= 0xFFFFFFFF else None


# --- routes and rates ------------------------------------------------------


class RouteTarget(_Base, frozen=True, kw_only=True):
    carrier: Name
    weight: Annotated[int, Meta(ge=0, le=1000)] = 1


Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
Money = Annotated[str, Meta(pattern=r"^\d{1,8}(\.\d{1,4})?$")]


class Route(_Base, frozen=True, kw_only=True):
    """Destination prefix (E.164 digits) or country -> weighted carriers, then failover.

    Lookup order: longest matching prefix, then country, then the default route.
    """

    name: Name | None = None
    prefix: Annotated[str, Meta(pattern=r"^\+?\d{1,15}$")] | None = None
    country: Country | None = None
    default: bool = False
    carriers: Annotated[list[RouteTarget], Meta(min_length=1)]
    failover: list[Name] = field(default_factory=list)

    def __post_init__(self) -> None:
        chosen = [k for k in ("prefix", "country") if getattr(self, k) is not None]
        if self.default:
            chosen.append("default")
        if len(chosen) != 1:
            raise ValueError("a route needs exactly one of prefix, country or default = true")
        if not any(t.weight > 0 for t in self.carriers):
            raise ValueError("a route needs at least one carrier with weight > 0")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.prefix is not None:
            return "prefix:" + self.prefix.lstrip("+")
        return f"country:{self.country}" if self.country else "default"

    @property
    def carrier_names(self) -> tuple[str, ...]:
        """Every carrier this route may use, primaries first, then failover order."""
        seen: dict[str, None] = {t.carrier: None for t in self.carriers}
        for name in self.failover:
            seen.setdefault(name, None)
        return tuple(seen)


class Rates(_Base, frozen=True, kw_only=True):
    """Price of one SMS segment by destination country (ISO 3166-1 alpha-2).

    Written as strings ("0.0500") so no binary float ever touches money.
    ``default`` unset means countries without a rate are not routable.
    """

    currency: Literal["MYR"] = "MYR"
    default: Money | None = None
    countries: dict[Country, Money] = field(default_factory=dict)

    def rate_for(self, country: str | None) -> Decimal | None:
        value = self.countries.get(country) if country else None
        if value is None:
            value = self.default
        return None if value is None else Decimal(value)


# --- the rest --------------------------------------------------------------


class Senders(_Base, frozen=True, kw_only=True):
    """Sender id used when neither the request, the account nor the carrier names one."""

    default: str | None = None


class Classify(_Base, frozen=True, kw_only=True):
    """Seed 000 auto-classification of an omitted ``type``."""

    otp_max_length: Annotated[int, Meta(ge=1, le=1600)] = 160
    otp_code_digits: tuple[Annotated[int, Meta(ge=1, le=20)], Annotated[int, Meta(ge=1, le=20)]] = (4, 8)
    promotional_words: tuple[str, ...] = (
        "sale", "promo", "promotion", "discount", "offer", "deal", "free", "win", "voucher",
        "coupon", "cashback", "% off", "limited time", "subscribe", "unsubscribe",
    )  # fmt: skip


class Logging(_Base, frozen=True, kw_only=True):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    # Message bodies carry OTP codes (DESIGN.md security rules): off by default.
    log_bodies: bool = False
    mask_numbers: bool = True


class Webhooks(_Base, frozen=True, kw_only=True):
    """Seed 000 delivery webhook: signed POST, retries 1 s -> 5 s -> 30 s (docs/webhooks.md).

    URLs and secrets live on the account (and the API key), never here; the
    secrets are sealed under the master key named by ``master_key_env`` or
    ``master_key_file``, which only the commands that sign or set secrets read.
    """

    enabled: bool = True
    run_in_daemon: bool = True  # false: only `smpp-bridge webhooks run` sends
    master_key_env: str | None = None
    master_key_file: str | None = None
    default_url: str | None = None  # gone: refused below, kept so the error can say why
    timeout: Duration = field(default_factory=lambda: Duration(10))
    retry_delays: tuple[Duration, ...] = field(
        default_factory=lambda: (Duration(1), Duration(5), Duration(30))
    )
    require_https: bool = True
    allow_networks: tuple[str, ...] = ()  # CIDRs the SSRF guard lets through, e.g. "127.0.0.1/32"
    user_agent: str = "ProSignals/1.0"
    concurrency: Annotated[int, Meta(ge=1, le=1000)] = 8  # requests at once to one endpoint
    retention: Duration = field(default_factory=lambda: Duration(7 * 86400))

    def __post_init__(self) -> None:
        import ipaddress

        if self.master_key_env is not None and self.master_key_file is not None:
            raise ValueError("give master_key_env or master_key_file, not both")
        if self.default_url is not None:
            raise ValueError(
                "default_url is gone: a webhook URL belongs to an account or an API key"
                " (smpp-bridge webhooks set --account NAME URL)"
            )
        if not (self.user_agent.isascii() and self.user_agent.isprintable()):
            raise ValueError("user_agent must be printable ASCII (it is an HTTP header value)")
        for net in self.allow_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"allow_networks: {net!r} is not an address or a CIDR") from None


class Daemon(_Base, frozen=True, kw_only=True):
    """Daemon tuning; the defaults are the ones DESIGN.md measured."""

    instance_name: str | None = None
    heartbeat_interval: Duration = field(default_factory=lambda: Duration(5))
    lease: Duration = field(default_factory=lambda: Duration(30))
    claim_batch: Annotated[int, Meta(ge=1, le=10000)] = 500
    poll_interval: Duration = field(default_factory=lambda: Duration(1))
    writer_batch: Annotated[int, Meta(ge=1, le=10000)] = 500
    writer_delay: Duration = field(default_factory=lambda: Duration(0.02))
    drain_timeout: Duration = field(default_factory=lambda: Duration(30))
    parked_receipt_ttl: Duration = field(default_factory=lambda: Duration(7 * 86400))
    metrics_listen: str | None = None

    def __post_init__(self) -> None:
        if self.lease.seconds <= self.heartbeat_interval.seconds:
            raise ValueError("lease must be longer than heartbeat_interval")


class Api(_Base, frozen=True, kw_only=True):
    """The REST API process, `smpp-bridge api` (docs/api.md)."""

    # host:port; plain HTTP only on loopback unless allow_plain_http (behind a
    # TLS-terminating reverse proxy) or with tls_certificate + tls_key.
    listen: str = "127.0.0.1:8080"
    tls_certificate: str | None = None
    tls_key: str | None = None
    allow_plain_http: bool = False
    # Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed.
    trusted_proxies: tuple[str, ...] = ()
    max_body: Annotated[int, Meta(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024
    pool_size: Annotated[int, Meta(ge=1, le=200)] = 10
    # A cached key row older than this is read again (revocation within it).
    key_cache_ttl: Duration = field(default_factory=lambda: Duration(0.5))
    # Failed authentications allowed per client address and minute.
    auth_failures_per_minute: Annotated[int, Meta(ge=1, le=100000)] = 20
    # The route (by name) every send of a psk_test_ key takes.
    test_route: str | None = None
    # One JSON line per request (at info level); off: errors only.
    access_log: bool = True
    # Processes serving the listening socket (`smpp-bridge api --workers`).
    workers: Annotated[int, Meta(ge=1, le=64)] = 1

    def __post_init__(self) -> None:
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ValueError("give both tls_certificate and tls_key, or neither")


class ProbeNetwork(_Base, frozen=True, kw_only=True):
    """One network SMS Preflight tests (seed 004, docs/preflight.md): its probe
    numbers (handsets on that network whose MO reaches ``carrier``), and for the
    self-test the ``route`` the probe is sent through (default: the destination's)."""

    slug: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    numbers: Annotated[list[Annotated[str, Meta(pattern=r"^\+?[1-9]\d{2,14}$")]], Meta(min_length=1)]
    carrier: Name | None = None
    route: Name | None = None
    is_active: bool = True

    @property
    def digits(self) -> tuple[str, ...]:
        return tuple(n.lstrip("+") for n in self.numbers)


class Preflight(_Base, frozen=True, kw_only=True):
    """SMS Preflight (docs/preflight.md): probe networks, sessions, the self-test."""

    networks: list[ProbeNetwork] = field(default_factory=list)
    # Seed 004: "Sessions expire after 5 minutes".
    session_ttl: Duration = field(default_factory=lambda: Duration(300))
    # The account the self-test's probes are charged to (and its sessions belong to).
    account: str | None = None
    # The periodic self-test in the daemon: off unless asked for.
    self_test: bool = False
    self_test_interval: Duration = field(default_factory=lambda: Duration(900))
    self_test_sender_id: str | None = None
    # The probe's text; {code} is the session's test code.
    self_test_body: Annotated[str, Meta(min_length=1, max_length=160)] = "Preflight test {code}"

    def __post_init__(self) -> None:
        slugs: set[str] = set()
        numbers: set[str] = set()
        for network in self.networks:
            if network.slug in slugs:
                raise ValueError(f"networks: duplicate slug {network.slug!r}")
            slugs.add(network.slug)
            for digits in network.digits:
                if digits in numbers:
                    raise ValueError(f"networks: probe number +{digits} is listed twice")
                numbers.add(digits)
        if self.session_ttl.seconds <= 0:
            raise ValueError("session_ttl must be above zero")
        if self.self_test and (self.account is None or self.self_test_sender_id is None):
            raise ValueError("self_test = true needs account and self_test_sender_id")
        if self.self_test and self.self_test_interval.seconds < 60:
            raise ValueError("self_test_interval: at least 1m")


class Config(_Base, frozen=True, kw_only=True):
    database: Database = field(default_factory=Database)
    carriers: list[Carrier] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    rates: Rates = field(default_factory=Rates)
    senders: Senders = field(default_factory=Senders)
    classify: Classify = field(default_factory=Classify)
    logging: Logging = field(default_factory=Logging)
    webhooks: Webhooks = field(default_factory=Webhooks)
    daemon: Daemon = field(default_factory=Daemon)
    api: Api = field(default_factory=Api)
    preflight: Preflight = field(default_factory=Preflight)

    def carrier(self, name: str) -> Carrier:
        for carrier in self.carriers:
            if carrier.name == name:
                return carrier
        raise KeyError(name)
