"""`smpp-bridge config example|check FILE`: print the example or validate a file."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    sub.add_parser("example", help="print a complete, commented example configuration")
    check = sub.add_parser("check", help="validate a configuration file (exit 0 or 2)")
    check.add_argument("file", metavar="FILE", help="the configuration file to validate")
    check.add_argument(
        "--secrets",
        action="store_true",
        help="also resolve passwords, the DSN and the webhook secret from the environment/files",
    )


def run(args: argparse.Namespace) -> int:
    from config.load import ConfigError, example_text, load_config, shared_accounts

    if args.config_action == "example":
        sys.stdout.write(example_text())
        return 0
    try:
        loaded = load_config(args.file, resolve=args.secrets)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cfg = loaded.config
    print(
        f"{args.file}: ok ({len(cfg.carriers)} carrier(s), {len(cfg.routes)} route(s), "
        f"{len(cfg.rates.countries)} country rate(s))"
    )
    for names in shared_accounts(cfg):
        print(
            f"warning: carriers {', '.join(names)} bind the same SMSC account (host, port, system_id):"
            " a receipt may come on the receiver of another one than the part was sent through, and"
            " then never matches; make them one carrier with several binds"
            ' (binds = [{ mode = "tx", count = 1 }, { mode = "rx", count = 1 }])'
        )
    if not cfg.database.configured:
        print("note: no [database] dsn/dsn_env/dsn_file/embedded: `run` and `migrate` will refuse to start")
    return 0
