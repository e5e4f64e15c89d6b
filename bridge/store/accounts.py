"""Accounts and their money: create, top up, balance, settle, reconcile.

Model (seed 000 "billed on delivery - failed messages refund automatically"):
enqueue *reserves* each message's cost; when the message ends, the
reservation is settled once, as a *charge* (sent) or a *refund* (failed).
Three counters move in the same transaction as the ledger rows that justify
them: ``accounts.credits``, ``accounts.committed`` (open reservations plus
charges: what the account's sends hold) and ``account_charges.charged``
(migration 0028), so that

    balance = credits - committed = credits - charged - reserved
    reserved = committed - charged                  (open reservations)

A send adds to ``committed`` and a refund takes off it, both on the account
row; a charge adds to ``charged`` only, in a row of its own, so the daemon's
settlement of delivered messages does not wait for the account's sends, nor
they for it.

and the invariant checked by ``reconcile``:

    sum(reservations) = sum(charges) + sum(refunds) + sum(open reservations)

The database makes the dangerous mistakes impossible (migration 0001): one
reservation and one settlement per message (unique partial indexes), an
append-only ledger, no overdraft (CHECK on the counters).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bridge.store.executor import Executor
from bridge.store.models import Balance

__all__ = [
    "Account",
    "AccountExists",
    "AccountNotFound",
    "Outcome",
    "Reconciliation",
    "balance",
    "create_account",
    "get_account",
    "money",
    "reconcile",
    "settle",
    "top_up",
]

CENT = Decimal("0.0001")  # numeric(12,4)
MAX_AMOUNT = Decimal("99999999.9999")


class AccountNotFound(LookupError):
    pass


class AccountExists(ValueError):
    pass


def money(value: Decimal | str | int) -> Decimal:
    """An exact MYR amount with at most 4 decimal places (no float, no rounding)."""
    if isinstance(value, float):
        raise TypeError("money is never a float; pass a Decimal or a string")
    try:
        amount = Decimal(value)
    except ArithmeticError:  # decimal.InvalidOperation: "abc", ""
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise ValueError(f"invalid amount {value!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount {value!r} has more than 4 decimal places")
    return amount.quantize(CENT)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    credits: Decimal
    charged: Decimal
    reserved: Decimal
    default_sender_id: str | None

    @property
    def balance(self) -> Decimal:
        return self.credits - self.charged - self.reserved


_SELECT = (
    "SELECT a.id, a.name, a.credits, c.charged, a.committed - c.charged AS reserved, a.default_sender_id"
    " FROM accounts a JOIN account_charges c ON c.account_id = a.id"
)


def _account(row: object) -> Account:
    return Account(**dict(row))  # type: ignore[call-overload]


async def get_account(db: Executor, account: str | int) -> Account:
    """By name, or by id when given an int."""
    column = "id" if isinstance(account, int) else "name"
    row = await db.fetchrow(f"{_SELECT} WHERE a.{column} = $1", account)
    if row is None:
        raise AccountNotFound(f"no account {account!r}")
    return _account(row)


async def create_account(
    db: Executor,
    name: str,
    *,
    credits: Decimal | str | int = 0,
    default_sender_id: str | None = None,
) -> Account:
    """A new account; its webhook URL and secret: bridge.webhooks.endpoints.set_endpoint."""
    amount = money(credits)
    async with db.transaction() as tx:
        account_id = await tx.fetchval(
            "INSERT INTO accounts (name, default_sender_id) VALUES ($1, $2)"
            " ON CONFLICT (name) DO NOTHING RETURNING id",
            name, default_sender_id,
        )  # fmt: skip
        if account_id is None:
            raise AccountExists(f"account {name!r} exists")
        if amount:
            return await _credit(tx, account_id, amount, "initial credits")
        return await get_account(tx, account_id)


async def _credit(tx: Executor, account_id: int, amount: Decimal, note: str | None) -> Account:
    await tx.execute(
        "INSERT INTO ledger (account_id, kind, amount, note) VALUES ($1, 'credit', $2, $3)",
        account_id, amount, note,
    )  # fmt: skip
    await tx.execute("UPDATE accounts SET credits = credits + $2 WHERE id = $1", account_id, amount)
    return await get_account(tx, account_id)


async def top_up(
    db: Executor, account: str | int, amount: Decimal | str | int, *, note: str | None = None
) -> Account:
    value = money(amount)
    if value == 0:
        raise ValueError("a top-up must be positive")
    async with db.transaction() as tx:
        found = await get_account(tx, account)
        return await _credit(tx, found.id, value, note)


async def balance(db: Executor, account: str | int) -> Balance:
    """GET /balance: credits - charges - open reservations, in MYR."""
    found = await get_account(db, account)
    return Balance(balance=found.balance, currency="MYR")


class Outcome(StrEnum):
    CHARGE = "charge"  # the message was sent: the reservation becomes a charge
    REFUND = "refund"  # the message failed: the reservation is released


async def settle(tx: Executor, outcomes: Iterable[tuple[int, Outcome]]) -> int:
    """Charge or refund the reservations of messages (internal ids), idempotently, in one call.

    Call it inside the transaction that moves those messages to their final
    state. A message already settled, or without a reservation (invalid, no
    route), is skipped, so a duplicate receipt never bills twice. The accounts'
    ``account_charges`` rows are locked in id order first, so concurrent
    writers cannot deadlock on them.
    Returns how many messages were settled now. The rules are the SQL function
    ``settle_messages`` (``sql/functions/settle_messages.sql``), which the SQL
    function ``finalize_messages`` calls too.
    """
    pairs = sorted(dict(outcomes).items())
    if not pairs:
        return 0
    settled: int = await tx.fetchval(
        "SELECT settle_messages($1::bigint[], $2::ledger_kind[])",
        [message_id for message_id, _ in pairs], [str(kind) for _, kind in pairs],
    )  # fmt: skip
    return settled


@dataclass(frozen=True, slots=True)
class Reconciliation:
    credits: Decimal  # sum of credit rows
    reservations: Decimal
    charges: Decimal
    refunds: Decimal
    open: Decimal  # reservations without a settlement
    account_credits: Decimal  # the counters, for comparison
    account_charged: Decimal
    account_reserved: Decimal

    @property
    def ok(self) -> bool:
        return (
            self.reservations == self.charges + self.refunds + self.open
            and self.account_credits == self.credits
            and self.account_charged == self.charges
            and self.account_reserved == self.open
        )


async def reconcile(db: Executor, account: str | int) -> Reconciliation:
    """Recompute an account's money from the ledger and compare it with its counters."""
    found = await get_account(db, account)
    row = await db.fetchrow(
        """
        SELECT
            coalesce(sum(amount) FILTER (WHERE kind = 'credit'), 0) AS credits,
            coalesce(sum(amount) FILTER (WHERE kind = 'reservation'), 0) AS reservations,
            coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS charges,
            coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunds,
            coalesce(sum(amount) FILTER (
                WHERE kind = 'reservation' AND NOT EXISTS (
                    SELECT 1 FROM ledger s WHERE s.message_id = ledger.message_id
                    AND s.kind IN ('charge', 'refund'))), 0) AS open
        FROM ledger WHERE account_id = $1
        """,
        found.id,
    )
    assert row is not None
    return Reconciliation(
        credits=row["credits"], reservations=row["reservations"], charges=row["charges"],
        refunds=row["refunds"], open=row["open"], account_credits=found.credits,
        account_charged=found.charged, account_reserved=found.reserved,
    )  # fmt: skip
