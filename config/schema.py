"""The configuration file's schema: msgspec Structs, validated once at the edge.

Every Struct forbids unknown fields, so a typo (``prot = 2775``) is an error
naming the key instead of a silently ignored setting. Cross-field rules that a
single Struct can check live in its ``__post_init__`` (msgspec turns the
ValueError into a ValidationError carrying the path); rules that need the whole
file (a route naming an unknown carrier) live in ``config.load``.

Secrets are never values in this file: a carrier names ``password_env`` or
``password_file`` and ``config.load`` resolves them into ``Secret`` objects
that do not print. The sections live in this module, the carriers' in
config/carrier.py, the shared building blocks in config/types.py; every name is
importable from here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from msgspec import Meta, field

from config.carrier import (
    MAX_BINDS,
    BindGroup,
    BindMode,
    Carrier,
    SegmentationProfile,
    SourceRules,
)
from config.types import Duration, Name, _Base, split_listen

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
    # Message bodies carry OTP codes (docs/design.md "Security rules"): off by default.
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
    """Daemon tuning; the defaults follow the measurements of docs/design.md "Performance rules"."""

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
    # A diagnosis: log every trio task step (and collector pass) at least this long
    # (bridge/slow_steps.py); unset, nothing is timed.
    slow_step: Duration | None = None

    def __post_init__(self) -> None:
        if self.lease.seconds <= self.heartbeat_interval.seconds:
            raise ValueError("lease must be longer than heartbeat_interval")
        if self.metrics_listen is not None:
            try:
                split_listen(self.metrics_listen)
            except ValueError as exc:
                raise ValueError(f"metrics_listen: {exc}") from None


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
        try:
            split_listen(self.listen)
        except ValueError as exc:
            raise ValueError(f"listen: {exc}") from None


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
