"""A configuration for the service tests: one carrier at a given port, routes and rates."""

from __future__ import annotations

from pathlib import Path

BASE = """
[database]
dsn_env = "{dsn_env}"

[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {port}
binds = {binds}
window = {window}
tps = {tps}
system_id = "bridge"
password_env = "{password_env}"
response_id_form = "normalized"
receipt_id_form = "normalized"
enquire_link_interval = "30s"
response_timeout = "5s"
on_unknown_outcome = "fail"
unknown_outcome_grace = "{grace}"

[carriers.source]
default_sender_id = "ProSignals"

[carriers.segmentation]
concat = "udh8"
max_parts = 10

[[routes]]
default = true
carriers = [{{ carrier = "sim" }}]

[rates]
default = "0.2000"

[rates.countries]
MY = "0.0500"
SG = "0.1200"
ID = "0.1500"

[logging]
level = "{level}"
format = "json"

[daemon]
heartbeat_interval = "1s"
lease = "5s"
poll_interval = "200ms"
drain_timeout = "{drain_timeout}"
"""


def config_text(
    *,
    port: int = 2775,
    binds: int = 1,
    window: int = 50,
    tps: float = 100000,
    dsn_env: str = "TEST_BRIDGE_DSN",
    password_env: str = "TEST_BRIDGE_PASSWORD",
    drain_timeout: str = "5s",
    level: str = "info",
    grace: str = "0s",
) -> str:
    return BASE.format(
        port=port, binds=binds, window=window, tps=tps, dsn_env=dsn_env,
        password_env=password_env, drain_timeout=drain_timeout, level=level, grace=grace,
    )  # fmt: skip


def write_config(path: Path, **kw: object) -> Path:
    path.write_text(config_text(**kw))  # type: ignore[arg-type]
    return path
