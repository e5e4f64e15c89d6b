"""The `smpp-bridge` console script.

Each sub-command lives in its own module under ``bridge.commands``. Those
modules import their heavy dependencies (trio, asyncpg) inside ``run()``, so
building the parser stays cheap and `smpp-bridge segment` pays for neither.

Errors an operator can act on are reported here, once, for every command:
``error: WHAT; WHAT TO DO`` on one line and exit status 2 (see
``bridge.commands.common.explain``); only a bug shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module under bridge.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the whole loop on embedded defaults and show a status table"),
    "run": ("run", "run the daemon"),
    "migrate": ("migrate", "apply database migrations"),
    "send": ("send", "queue a message"),
    "status": ("status", "show a message's status, or the running daemon's carriers and queue"),
    "balance": ("balance", "show an account's balance"),
    "accounts": ("accounts", "create accounts and top them up"),
    "api": ("api", "run the REST API (seed 000) process"),
    "keys": ("keys", "create, list and revoke API keys"),
    "webhooks": ("webhooks", "run the webhook sender; set, show, rotate and test webhook endpoints"),
    "preflight": ("preflight", "SMS Preflight: the self-test, preflight users and sp_ keys, network health"),
    "segment": ("segment", "show how a text is split into SMS segments"),
    "simulate": ("simulate", "run the SMSC simulator"),
    "config": ("config", "print the example configuration or check a file"),
}


def _load(module: str) -> object | None:
    try:
        return importlib.import_module(f"bridge.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bridge.commands.{module}":
            return None
        raise


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object | None]]:
    parser = argparse.ArgumentParser(prog="smpp-bridge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object | None] = {}
    for name, (module_name, help_text) in COMMANDS.items():
        module = _load(module_name)
        modules[name] = module
        if module is None:
            help_text += " (not available yet)"
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if module is not None:
            module.add_arguments(command_parser)  # type: ignore[attr-defined]
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = modules[args.command]
    if module is None:
        print(
            f"smpp-bridge {args.command}: not available yet in this version "
            "(see the open issues in the project tracker)",
            file=sys.stderr,
        )
        return 2
    try:
        return int(module.run(args))  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT, as a shell reports it
    except Exception as exc:
        from bridge.commands.common import explain, report

        message = explain(exc)
        if message is None:
            raise
        return report(message)


if __name__ == "__main__":
    sys.exit(main())
