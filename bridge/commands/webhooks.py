"""`smpp-bridge webhooks run|set|show|rotate-secret|test`: the sender and the endpoints.

    webhooks run                          the sender as its own process
    webhooks set --account NAME URL       set the URL; a new endpoint's secret is printed once
    webhooks show --account NAME          the URL and which secret is in force (database only)
    webhooks rotate-secret --account NAME a new secret, printed once, in force at once
    webhooks test --account NAME          one signed test POST now; prints the answer

With ``--key PREFIX`` (an API key of the account, as `keys list` shows it)
`set`, `rotate-secret`, `show` and `test` act on that key's own endpoint: the
events of the key's sends go there, the account's other sends to the
account's endpoint. A revoked key, or another account's, is refused.

Like the other commands: ``-c FILE`` (default $SMPP_BRIDGE_CONFIG, else
/etc/smpp-bridge/smpp-bridge.toml), ``--dsn`` instead of the configuration's
database, and one ``error: ...`` line with exit status 2 for what the operator
can fix. Only `run`, `set`, `rotate-secret` and `test` read the master key
([webhooks] master_key_env or master_key_file); `show` needs the database only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bridge.commands.common import add_database_arguments

if TYPE_CHECKING:
    from bridge.store.db import Database
    from bridge.webhooks.sealing import MasterKey
    from config.schema import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="webhooks_action", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser, *, target: bool = True) -> None:
        if target:
            p.add_argument("--account", required=True, help="the account (its default endpoint)")
            p.add_argument(
                "--key", metavar="PREFIX",
                help="an API key of the account (its prefix, as `keys list` shows it): that key's own endpoint",
            )  # fmt: skip
        add_database_arguments(p)

    run = sub.add_parser("run", help="run the webhook sender as its own process")
    common(run, target=False)
    set_ = sub.add_parser("set", help="set the webhook URL (a new endpoint prints its secret once)")
    set_.add_argument("url", help="https://... (http:// only with require_https = false)")
    common(set_)
    show = sub.add_parser("show", help="show the webhook URL and which secret is in force")
    common(show)
    rotate = sub.add_parser("rotate-secret", help="make a new secret (printed once), in force at once")
    common(rotate)
    test = sub.add_parser("test", help="send one signed test event now and print the answer")
    common(test)


def run(args: argparse.Namespace) -> int:
    import contextlib

    from bridge.commands.common import CliError, load, run_database, with_database
    from bridge.store.connect import database_dsn
    from bridge.webhooks.endpoints import EndpointError
    from bridge.webhooks.sealing import MasterKey, SealError
    from config.load import Secrets, webhook_master_key

    action = args.webhooks_action
    try:
        if action == "show":
            return int(with_database(args, lambda db: _show(db, args)))
        loaded = load(
            args.config, secrets=None if args.dsn else Secrets.DATABASE,
            what=f" (`webhooks {action}` reads the master key named there)",
        )  # fmt: skip
        config = loaded.config
        secret = webhook_master_key(config)
        if secret is None and action != "run":
            raise CliError("no master key: set [webhooks] master_key_env or master_key_file in the configuration")
        key = MasterKey.parse(secret.reveal()) if secret is not None else None
        with contextlib.ExitStack() as stack:
            dsn = args.dsn or stack.enter_context(database_dsn(loaded))
            if action == "run":
                return int(run_database(dsn, lambda d: _run_sender(config, d, key)))
            assert key is not None
            return int(run_database(dsn, lambda d: _manage(action, args, config, d, key)))
    except (EndpointError, SealError) as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:  # a URL that is not one (bridge.webhooks.client.UrlError)
        from bridge.webhooks.client import UrlError

        if isinstance(exc, UrlError):
            raise CliError(str(exc)) from None
        raise


async def _run_sender(config: Config, dsn: str, key: MasterKey | None) -> int:
    import signal

    import trio

    from bridge.logs import configure_logging
    from bridge.store.db import ensure_aio_loop
    from bridge.webhooks.service import run_sender

    configure_logging(config.logging)
    async with ensure_aio_loop():
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(run_sender, config, dsn, key)

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(stop_on_signal)
    return 0


async def _show(db: Database, args: argparse.Namespace) -> int:
    from bridge.webhooks import endpoints

    if args.key:
        key_id = await endpoints.find_key(db, args.account, args.key)
        info = await endpoints.resolve_endpoint(db, account=args.account, api_key_id=key_id)
        if info is None:
            print(f"{args.account} key {key_id}: no webhook URL (its messages write no webhook rows)")
        else:
            _print_info(info)
            if info.api_key_id is None:
                print(f"  (key {key_id} has no URL of its own: its events go to the account's)")
        return 0
    found = await endpoints.endpoints_of(db, account=args.account)
    if not found:
        print(f"{args.account}: no webhook URL (messages of this account write no webhook rows)")
    for info in found:
        _print_info(info)
    return 0


async def _manage(action: str, args: argparse.Namespace, config: Config, dsn: str, key: MasterKey) -> int:
    from bridge.store.db import open_database
    from bridge.webhooks import endpoints

    hooks = config.webhooks
    async with open_database(dsn, min_size=1, max_size=1) as db:
        if action == "set":
            info, secret = await endpoints.set_endpoint(
                db, key, account=args.account, url=args.url, require_https=hooks.require_https, api_key=args.key
            )
            _print_info(info)
            if secret is not None:
                print(f"secret: {secret}")
                print("(shown once: give it to the customer now; `webhooks rotate-secret` makes a new one)")
            return 0
        if action == "rotate-secret":
            info, secret = await endpoints.rotate_secret(db, key, account=args.account, api_key=args.key)
            _print_info(info)
            print(f"secret: {secret}")
            print("(shown once; the next attempt of every pending delivery is signed with it)")
            return 0
        key_id = None if args.key is None else await endpoints.find_key(db, args.account, args.key)
        return await _test(db, args.account, key_id, config, key)


def _print_info(info: Any) -> None:
    owner = info.account if info.api_key_id is None else f"{info.account} key {info.api_key_id}"
    secret = (
        f"secret {info.secret_hint} (sealed with master key {info.secret_key_id},"
        f" since {info.secret_rotated_at:%Y-%m-%d %H:%M:%S %Z})"
        if info.secret_hint else "NO SECRET: run `smpp-bridge webhooks rotate-secret`; deliveries wait"
    )  # fmt: skip
    print(f"{owner}: {info.url}\n  {secret}")


async def _test(db: Database, account: str, key_id: int | None, config: Config, key: MasterKey) -> int:
    """One signed request of event ``webhook.test`` to the endpoint of the account (or of its key)."""
    from datetime import UTC, datetime

    from bridge.commands.common import CliError
    from bridge.webhooks.client import parse_url
    from bridge.webhooks.policy import DeliveryPolicy
    from bridge.webhooks.service import build_sender

    row = await db.fetchrow(
        "SELECT e.id, e.url, e.secret_sealed, e.secret_key_id FROM webhook_endpoints e"
        " WHERE e.id = webhook_endpoint_for((SELECT id FROM accounts WHERE name = $1), $2)", account, key_id,
    )  # fmt: skip
    if row is None:
        raise CliError(f"account {account!r} has no webhook URL: `smpp-bridge webhooks set` first")
    if row["secret_sealed"] is None:
        raise CliError("the endpoint has no secret yet: run `smpp-bridge webhooks rotate-secret`")
    secret = key.open(row["id"], bytes(row["secret_sealed"]), row["secret_key_id"])
    sender = build_sender(config, db, key)
    sms = sender.policies["sms.status"]
    policy = DeliveryPolicy(
        event="webhook.test", body=_test_body, timeout=sms.timeout, user_agent=sms.user_agent
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    headers, body = policy.request(
        delivery_id="dlv_test", secret=secret, payload={"timestamp": now}, attempt=1
    )
    origin, target = parse_url(row["url"])
    answer = await sender.client.post(origin, target, headers, body, timeout=policy.timeout)
    await sender.client.aclose()
    if answer.status is not None:
        verdict = "delivered" if policy.delivered(answer.status) else "not delivered (not a 2xx)"
        print(f"{row['url']}: HTTP {answer.status}: {verdict}")
        return 0 if policy.delivered(answer.status) else 1
    print(f"{row['url']}: {answer.error}")
    return 1


def _test_body(payload: Any, attempt: int) -> bytes:
    import msgspec

    return msgspec.json.encode({"event": "webhook.test", "timestamp": payload["timestamp"], "attempt": attempt})
