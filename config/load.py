"""Loading the configuration: the only module that reads files and the environment.

``load_config(path)`` parses TOML, validates it against ``config.schema``,
checks the rules that span the whole file, and resolves secrets (bind
passwords, the DSN) from the environment or from files
that only their owner can read. Every error is a ``ConfigError`` naming the
key (``carriers[0].port``) and, where it can be found, the file line.
"""

from __future__ import annotations

import enum
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from config.locate import PathT, locate_key
from config.schema import Carrier as CarrierConfig
from config.schema import Config, Duration

__all__ = [
    "ConfigError",
    "LoadedConfig",
    "Secret",
    "Secrets",
    "example_path",
    "example_text",
    "load_config",
    "locate_key",
    "parse_config",
    "read_secret_file",
    "resolve_secrets",
    "shared_accounts",
    "webhook_master_key",
]


class ConfigError(Exception):
    """A configuration problem, with the key and the line where it was found."""

    def __init__(
        self, message: str, *, key: str | None = None, file: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class Secret:
    """A secret value that never shows up in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Secrets(enum.Flag):
    """Which secrets a command resolves: each command asks only for the ones it uses.

    `migrate`, `accounts`, `balance`, `status` and `send` talk to the database
    only (``DATABASE``); `run` needs everything. The webhook master key is not
    one of these: ``webhook_master_key`` reads it, for `run` (with the sender) and
    the `webhooks` commands that seal or sign only.
    """

    DATABASE = enum.auto()
    CARRIERS = enum.auto()
    WEBHOOKS = enum.auto()
    ALL = DATABASE | CARRIERS | WEBHOOKS


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated configuration plus its resolved secrets."""

    config: Config
    path: Path | None = None
    database_dsn: Secret | None = None
    carrier_passwords: Mapping[str, Secret] = field(default_factory=dict)


# --- parsing and validation ------------------------------------------------


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Duration:
        return Duration.parse(obj)
    raise NotImplementedError(f"cannot decode {type_!r}")


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD = re.compile(r"(?:unknown|required) field `(?P<name>[^`]+)`")
_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")



def _path_segments(path: str) -> PathT:
    return tuple(
        name if name else int(index) for name, index in _SEGMENT.findall(path)
    )


def _key_text(path: PathT) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else seg)
    return out


def parse_config(text: str, *, source: str = "<config>") -> Config:
    """Validate TOML text into a ``Config``; secrets are not touched."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts "(at line N, column M)" in the message itself.
        match = re.search(r"at line (\d+)", str(exc))
        raise ConfigError(
            f"not valid TOML: {exc}", file=source, line=int(match.group(1)) if match else None
        ) from None
    try:
        config = msgspec.convert(raw, Config, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        message = str(exc)
        at = _AT.search(message)
        path = _path_segments(at.group("path")) if at else ()
        if at:
            message = message[: at.start()]
        named = _FIELD.search(message)
        if named:
            path += (named.group("name"),)
        raise ConfigError(
            message, key=_key_text(path) or None, file=source, line=locate_key(text, path)
        ) from None
    _check_whole(config, text, source)
    return config


def _fail(text: str, source: str, path: PathT, message: str) -> ConfigError:
    return ConfigError(message, key=_key_text(path), file=source, line=locate_key(text, path))


def _check_whole(config: Config, text: str, source: str) -> None:
    """Rules that need more than one table of the file."""
    names: dict[str, int] = {}
    for i, carrier in enumerate(config.carriers):
        if carrier.name in names:
            raise _fail(text, source, ("carriers", i, "name"), f"duplicate carrier name {carrier.name!r}")
        names[carrier.name] = i
        _check_receives(carrier, i, text, source)

    seen_match: dict[tuple[str, str], int] = {}
    for r, route in enumerate(config.routes):
        for t, target in enumerate(route.carriers):
            if target.carrier not in names:
                raise _fail(
                    text, source, ("routes", r, "carriers", t, "carrier"),
                    f"route names unknown carrier {target.carrier!r}",
                )
        for f, name in enumerate(route.failover):
            if name not in names:
                raise _fail(text, source, ("routes", r, "failover", f), f"unknown carrier {name!r}")
        match = (
            ("prefix", route.prefix.lstrip("+")) if route.prefix is not None
            else ("country", route.country) if route.country is not None
            else ("default", "")
        )  # fmt: skip
        if match in seen_match:
            raise _fail(
                text, source, ("routes", r),
                f"route matches the same {match[0]} as routes[{seen_match[match]}]",
            )
        seen_match[match] = r
        # Enqueue bills the parts of the route's profile; failover may only go
        # to carriers that would send exactly those parts.
        profiles = {config.carriers[names[n]].segmentation for n in route.carrier_names}
        if len(profiles) > 1:
            raise _fail(
                text, source, ("routes", r),
                "all carriers of a route (weighted and failover) must share one segmentation "
                "profile, so the parts billed are the parts sent: "
                + ", ".join(route.carrier_names),
            )
    test_route = config.api.test_route
    if test_route is not None and all(route.name != test_route for route in config.routes):
        raise _fail(text, source, ("api", "test_route"), f"no route named {test_route!r}")
    route_names = {route.name for route in config.routes if route.name}
    for n, network in enumerate(config.preflight.networks):
        if network.carrier is not None and network.carrier not in names:
            raise _fail(text, source, ("preflight", "networks", n, "carrier"), f"unknown carrier {network.carrier!r}")
        if network.route is not None and network.route not in route_names:
            raise _fail(text, source, ("preflight", "networks", n, "route"), f"no route named {network.route!r}")


def _check_receives(carrier: CarrierConfig, i: int, text: str, source: str) -> None:
    """Every submit_sm asks for a final receipt (registered_delivery 0x01,
    bridge/dispatch/submit.py), and an SMSC sends receipts only on a receiver or
    transceiver bind (SMPP 3.4 sections 2.2.2, 2.3). A carrier that submits
    without such a bind would have every part failed and refunded at
    receipt_timeout although it was delivered."""
    if carrier.transmits and not carrier.receives:
        raise _fail(
            text, source, ("carriers", i, "binds"),
            f"carrier {carrier.name!r} asks for delivery receipts but has no rx or trx bind to"
            " receive them: use bind_mode = \"trx\", or binds = [{ mode = \"tx\", count = 1 },"
            " { mode = \"rx\", count = 1 }]",
        )  # fmt: skip


def shared_accounts(config: Config) -> list[tuple[str, ...]]:
    """Names of carriers that bind one SMSC account (host, port, system_id) and of
    which one receives: the SMSC may write a receipt on the receiver of either,
    and receipts match only the parts of the carrier they came on. Give such an
    account one carrier with several binds instead (`config check` warns)."""
    by_account: dict[tuple[str, int, str], list[CarrierConfig]] = {}
    for carrier in config.carriers:
        by_account.setdefault((carrier.host.lower(), carrier.port, carrier.system_id), []).append(carrier)
    return [
        tuple(c.name for c in group) for group in by_account.values()
        if len(group) > 1 and any(c.receives for c in group)
    ]  # fmt: skip


# --- secrets and files -------------------------------------------------------


def read_secret_file(path: str | os.PathLike[str], *, key: str = "") -> str:
    """Read a secret from a file only its owner can read (mode 0600 or 0400).

    A group- or world-accessible file is refused: the secret may already have
    leaked, and the operator should know before the daemon uses it.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {p}: {exc.strerror}", key=key or None) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"secret file {p} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {p}",
            key=key or None,
        )
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:  # e.g. mode 0600 but another user's file
        raise ConfigError(f"cannot read secret file {p}: {exc.strerror}", key=key or None) from None
    except UnicodeDecodeError:
        raise ConfigError(f"secret file {p} is not UTF-8 text", key=key or None) from None
    return text.rstrip("\r\n")


def _secret(
    env_name: str | None, file_name: str | None, environ: Mapping[str, str], key: str
) -> Secret | None:
    if env_name is not None:
        value = environ.get(env_name)
        if value is None:
            raise ConfigError(f"environment variable {env_name} is not set", key=key + "_env")
        return Secret(value)
    if file_name is not None:
        return Secret(read_secret_file(file_name, key=key + "_file"))
    return None


def resolve_secrets(
    config: Config,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
    secrets: Secrets = Secrets.ALL,
) -> LoadedConfig:
    """Resolve the ``secrets`` asked for; the others stay unset (None / empty)."""
    env = os.environ if environ is None else environ
    db = config.database
    dsn = None
    if Secrets.DATABASE in secrets:
        dsn = Secret(db.dsn) if db.dsn is not None else _secret(db.dsn_env, db.dsn_file, env, "database.dsn")
    passwords: dict[str, Secret] = {}
    for i, carrier in enumerate(config.carriers if Secrets.CARRIERS in secrets else ()):
        key = f"carriers[{i}].password"
        secret = _secret(carrier.password_env, carrier.password_file, env, key)
        if secret is None:
            secret = Secret("")
        # SMPP 3.4 section 4.1.1: password is a C-Octet String of at most 9 octets;
        # the codec writes C-Octet Strings as Latin-1 (one octet per character), so a
        # password it cannot write is refused here, not at every bind attempt.
        try:
            secret.reveal().encode("latin-1")
        except UnicodeEncodeError:
            raise ConfigError("bind password has characters outside Latin-1 (SMPP 3.4 4.1.1: octets)", key=key) from None
        if len(secret.reveal().encode("latin-1")) > 8:
            raise ConfigError("bind password longer than 8 characters (SMPP 3.4 4.1.1)", key=key)
        passwords[carrier.name] = secret
    return LoadedConfig(config=config, path=path, database_dsn=dsn, carrier_passwords=passwords)


def webhook_master_key(config: Config, *, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The master key that seals webhook secrets, for the commands that sign or set them only."""
    hooks = config.webhooks
    env = os.environ if environ is None else environ
    return _secret(hooks.master_key_env, hooks.master_key_file, env, "webhooks.master_key")


def load_config(
    path: str | os.PathLike[str],
    *,
    resolve: bool = True,
    secrets: Secrets = Secrets.ALL,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Read, validate and (unless ``resolve=False``) resolve the ``secrets`` of a config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration: {exc.strerror}", file=str(p)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(p)) from None
    config = parse_config(text, source=str(p))
    if not resolve:
        return LoadedConfig(config=config, path=p)
    try:
        return resolve_secrets(config, environ=environ, path=p, secrets=secrets)
    except ConfigError as exc:
        key_path = _path_segments("." + exc.key) if exc.key else ()
        exc.file = str(p)
        exc.line = locate_key(text, key_path)
        raise


def example_path() -> Path:
    return Path(__file__).with_name("example.toml")


def example_text() -> str:
    return example_path().read_text(encoding="utf-8")
