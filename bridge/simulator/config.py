"""The simulator's configuration: one frozen msgspec Struct, loaded from TOML or built in code.

Defaults are what `smpp-bridge simulate` does with no options: any system_id and password bind in any
mode, every submit_sm is accepted with a unique decimal message id, and a DELIVRD
receipt (text and TLVs) follows at once when registered_delivery asks for one.
Every fault is off until configured. Validation happens here, once, at the edge
(DESIGN.md house rule 7); the server trusts these values.

TOML: the file holds these keys at top level, or under a ``[simulator]`` table
(so one file can carry a whole demo set-up)::

    message_id_format = "hex"
    receipt_delay = [0.1, 2.0]
    throttle_tps = 500
    [accounts]
    bridge = "secret"
    [[outcomes]]
    stat = "DELIVRD"
    weight = 0.9
    [[outcomes]]
    stat = "UNDELIV"
    weight = 0.1
    err = 1
    [[destination_rules]]
    suffix = "0000"
    stat = "UNDELIV"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

# The last four break SMPP 3.4 section 4.4.2 as some SMSCs do (bridge/simulator/ids.py):
# 70 and 255 characters (more than its 64), empty, and octets that are not UTF-8.
IdFormat = Literal["decimal", "hex", "uuid", "hex64", "hex70", "hex255", "empty", "latin1"]

#: The Appendix B ``stat:`` words (SMPP 3.4 Appendix B, table B-2) a receipt may carry.
Stat = Literal["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "ACCEPTD"]

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
Positive = Annotated[float, msgspec.Meta(gt=0.0)]
ErrCode = Annotated[int, msgspec.Meta(ge=0, le=999)]  # Appendix B "err:" has 3 digits
CommandStatusValue = Annotated[int, msgspec.Meta(ge=0, le=0xFFFFFFFF)]
# SMPP 3.4 section 4.4.1: source_addr and destination_addr are C-octet strings of 21.
Address = Annotated[str, msgspec.Meta(max_length=20)]


class _Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Outcome(_Base, frozen=True):
    """One entry of the outcome mix: the receipt's final state, its weight, its err code."""

    stat: Stat = "DELIVRD"
    weight: NonNegative = 1.0
    err: ErrCode = 0


class DestinationRule(_Base, frozen=True):
    """Destinations matching ``prefix`` and ``suffix`` (both optional, both must match)
    get this outcome instead of the mix. With ``submit_status`` non-zero the submit_sm
    itself is refused with that command_status (e.g. 0x0B ESME_RINVDSTADR) and no
    receipt follows."""

    prefix: str = ""
    suffix: str = ""
    stat: Stat = "UNDELIV"
    err: ErrCode = 1
    submit_status: CommandStatusValue = 0

    def __post_init__(self) -> None:
        if not self.prefix and not self.suffix:
            raise ValueError("a destination rule needs a prefix or a suffix")

    def matches(self, destination: str) -> bool:
        return destination.startswith(self.prefix) and destination.endswith(self.suffix)


class SenderRewrite(_Base, frozen=True):
    """The network replaces the sender id for destinations starting with ``dest_prefix``
    (what a sender-integrity probe detects). By default only alphanumeric senders
    (source_addr_ton 5, SMPP 3.4 section 5.2.5) are rewritten, as networks do."""

    dest_prefix: str
    sender: Address
    alphanumeric_only: bool = True


class MoConfig(_Base, frozen=True):
    """Mobile-originated messages: deliver_sm with esm_class 0 (SMPP 3.4 section 4.6.1)
    at ``rate`` per second, ``count`` in all (0: until stopped), to receiver and
    transceiver binds of ``system_ids`` (empty: every account), round robin.
    ``{n}`` in ``text`` becomes the MO's number (1, 2, ...)."""

    rate: NonNegative = 0.0
    count: Annotated[int, msgspec.Meta(ge=0)] = 0
    text: str = "MO {n}"
    source: Address = "447700900000"
    destination: Address = "12345"
    system_ids: tuple[str, ...] = ()


class ProbeNetwork(_Base, frozen=True):
    """A network the simulator plays for SMS Preflight (docs/preflight.md): a submit_sm
    to one of ``numbers`` comes back as an MO (deliver_sm from the sender to that
    number, SMPP 3.4 section 4.6.1) on the receiver binds of ``system_id`` (empty:
    the submitting system_id), after ``delay`` seconds, as the network would show it:

    - ``behaviour`` "intact": the sender as sent; "rewrite": the sender replaced by
      ``rewrite_sender`` (numeric: TON international, else alphanumeric); "drop":
      no MO at all;
    - ``parts`` > 1: the text split into that many parts, concatenated with an
      8-bit or 16-bit UDH reference or the SAR TLVs (``concat``)."""

    numbers: Annotated[tuple[Address, ...], msgspec.Meta(min_length=1)]
    behaviour: Literal["intact", "rewrite", "drop"] = "intact"
    rewrite_sender: Address = ""
    delay: NonNegative = 0.0
    parts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    concat: Literal["udh8", "udh16", "sar"] = "udh8"
    system_id: str = ""

    def __post_init__(self) -> None:
        if self.behaviour == "rewrite" and not self.rewrite_sender:
            raise ValueError("behaviour rewrite needs rewrite_sender")


class SimulatorConfig(_Base, frozen=True):
    """Everything the simulator can be told. See docs/simulator.md for each knob."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 2775
    # system_id in our bind responses (SMPP 3.4 section 4.1.2: the SMSC's id).
    system_id: Annotated[str, msgspec.Meta(max_length=15)] = "bridgesim"
    # {system_id: password}; empty accepts anyone. A known system_id with another
    # password is ESME_RINVPASWD, an unknown one ESME_RINVSYSID (section 5.1.3).
    accounts: dict[str, str] = msgspec.field(default_factory=dict)
    # Binds per system_id at once (0: no limit); more is ESME_RBINDFAIL.
    max_binds: Annotated[int, msgspec.Meta(ge=0)] = 0

    message_id_format: IdFormat = "decimal"

    # Seconds between the submit_sm and its receipt, uniform in [min, max].
    receipt_delay: tuple[NonNegative, NonNegative] = (0.0, 0.0)
    outcomes: tuple[Outcome, ...] = (Outcome(),)
    destination_rules: tuple[DestinationRule, ...] = ()
    # receipted_message_id, message_state and network_error_code TLVs (section 5.3.2)
    # besides the Appendix B text.
    receipt_tlvs: bool = True
    # Probability that a receipt is written before its submit_sm_resp (a race real
    # SMSCs produce; the daemon must park such receipts).
    receipt_before_resp: Probability = 0.0
    # Send receipts on transmitter binds too when no receiver is bound (a deviation
    # some carriers have, see bridge/smpp/state.py).
    receipts_on_transmitter: bool = False
    # When the submit_sm asks for it (registered_delivery bit 0x10, section 5.2.17),
    # an intermediate notification (esm_class 0x20, stat ENROUTE) follows the resp
    # at once, before the final receipt.
    intermediate_notifications: bool = False
    # deliver_sm we keep outstanding per bind (our own window). Large by default so
    # the simulator is never the bottleneck: the daemon acknowledges a receipt only
    # after its database commit, so window / commit latency bounds receipts per bind
    # (1024 / 20 ms = 51k/s). Real SMSCs use 10-100: set that to reproduce them.
    receipt_window: Annotated[int, msgspec.Meta(ge=1)] = 1024
    # Receipts waiting for a receiver bind, per system_id, and deliveries waiting for
    # window room on one bind; the oldest are dropped beyond. At least 1: every queue
    # is bounded (DESIGN.md "Performance rules"), so there is no "0 = unbounded".
    receipt_queue_limit: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    # A deliver_sm answered with an error (e.g. ESME_RX_T_APPN) or not at all is sent
    # again after this delay, at most receipt_max_attempts times in all.
    receipt_retry_delay: NonNegative = 1.0
    receipt_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 5
    response_timeout: Positive = 30.0
    enquire_link_interval: Positive | None = None
    # Strict about the ESME's responses, as SMPPSim 2.6.11 is: a malformed one (a
    # deliver_sm_resp without its NULL message_id, SMPP 3.4 section 4.6.2; a
    # response that does not decode) drops the connection instead of being
    # tolerated. Use it to prove an ESME writes what the spec says.
    strict: bool = False

    # Faults. throttle_tps: submits per second per system_id before ESME_RTHROTTLED.
    throttle_tps: Positive | None = None
    # "account": one limit shared by every bind of a system_id (most carriers);
    # "bind": each bind has its own.
    throttle_scope: Literal["account", "bind"] = "account"
    # The status a submit_sm over throttle_tps gets: ESME_RTHROTTLED 0x58, or
    # ESME_RMSGQFUL 0x14 as SMPPSim answers when its queue is full under load.
    throttle_status: Literal[0x58, 0x14] = 0x58
    queue_full: Probability = 0.0  # ESME_RMSGQFUL per submit_sm
    disconnect: Probability = 0.0  # drop the TCP connection instead of answering
    # Responses that come late: with probability late_resp a submit_sm_resp is written
    # after a delay uniform in late_resp_delay (seconds); with probability no_resp it
    # is never written (the message is still accepted: its receipt may come).
    late_resp: Probability = 0.0
    late_resp_delay: tuple[NonNegative, NonNegative] = (1.0, 5.0)
    no_resp: Probability = 0.0
    # Receipts lost (an SMSC restart that loses its outgoing queue): this fraction of
    # the final receipts is never sent, while the message's state stays queryable.
    lose_receipts: Probability = 0.0
    # Messages remembered for query_sm (SMPP 3.4 section 4.8): id, source, final
    # state; the oldest are forgotten beyond (0: none, every query_sm fails 0x67).
    message_store: Annotated[int, msgspec.Meta(ge=0)] = 100_000
    sender_rewrites: tuple[SenderRewrite, ...] = ()
    mo: MoConfig = MoConfig()
    # SMS Preflight probe numbers and how each network treats a message to them.
    probe_networks: tuple[ProbeNetwork, ...] = ()

    # Seed of the one random generator (ids, outcomes, delays, faults); None: random.
    seed: int | None = None
    # How many deliveries (destination, sender seen) ``Simulator.handsets`` keeps.
    handset_log: Annotated[int, msgspec.Meta(ge=0)] = 1000

    def __post_init__(self) -> None:
        for name in ("receipt_delay", "late_resp_delay"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: min {low} is above max {high}")
        if not self.outcomes:
            raise ValueError("outcomes: at least one outcome is needed")
        if sum(o.weight for o in self.outcomes) <= 0:
            raise ValueError("outcomes: the weights add up to zero")


class ConfigError(ValueError):
    """A simulator configuration that cannot be used, with where it came from."""


def config_from_mapping(data: dict[str, Any], *, source: str = "configuration") -> SimulatorConfig:
    """Validate a parsed mapping (a TOML document, or its ``[simulator]`` table)."""
    if set(data) == {"simulator"} and isinstance(data["simulator"], dict):
        data = data["simulator"]
    try:
        return msgspec.convert(data, SimulatorConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> SimulatorConfig:
    """Read and validate a TOML file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_mapping(data, source=str(path))


def with_overrides(config: SimulatorConfig, **changes: Any) -> SimulatorConfig:
    """A copy with ``changes`` applied and validated again (flags over a file)."""
    merged = msgspec.to_builtins(config)
    merged.update(msgspec.to_builtins(changes))
    return config_from_mapping(merged, source="options")
