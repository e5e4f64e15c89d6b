"""Message ids the codec accepts but SMPP 3.4 does not: the daemon keeps running.

SMPP 3.4 section 4.4.2 allows 64 characters; SMSCs send 70 or 255, an empty id,
or octets that are not UTF-8. The simulator's id formats (bridge/simulator/ids.py)
produce each, on the fast path (a free window place), the queued path (window 1:
the other parts wait for a submitter) and the late path (every response after the
response timeout). The rules are docs/dlr.md "Message ids".
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import dlr
from bridge.carrier import Accepted, Carrier
from bridge.dispatch.parts import ClaimedPart, Resolution
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.submit import CarrierRunner
from bridge.simulator import SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from tests.dispatch.harness import MY_NUMBERS, daemon, make_config, simulator, wait_until

N = 12


async def _parts(db: Database) -> list[Any]:
    return list(await db.fetch(
        "SELECT message_id, seq, state::text AS state, carrier_message_id, id_key, receipt_stat"
        " FROM message_parts ORDER BY message_id, seq"))  # fmt: skip


async def _settled(db: Database, states: set[str]) -> bool:
    return all(p["state"] in states for p in await _parts(db))


async def _true(value: bool) -> bool:
    return value


def _sim(id_format: str, **kw: Any) -> SimulatorConfig:
    return SimulatorConfig(handset_log=10_000, message_id_format=id_format, seed=3, **kw)  # type: ignore[arg-type]


def _check_ids(parts: list[Any], sim_ids: set[str], id_format: str, carrier: str = "sim") -> None:
    """The id as the SMSC sent it, octet for octet; the key as dlr.response_key says."""
    assert {p["carrier_message_id"] for p in parts} == sim_ids
    for p in parts:
        cid = p["carrier_message_id"]
        assert p["id_key"] == dlr.response_key(cid, dlr.IdForm.NORMALIZED)
        if id_format == "latin1":
            assert dlr.id_octets(cid)[:2] == b"\xe9\xff" and dlr.id_octets(cid)[-1:] == b"\x80"
            with pytest.raises(UnicodeDecodeError):
                dlr.id_octets(cid).decode("utf-8")
        elif id_format == "empty":
            assert cid == "" and p["id_key"] is None
        else:
            assert len(cid) == {"hex70": 70, "hex255": 255}[id_format]


@pytest.mark.parametrize("id_format", ["hex70", "hex255", "empty", "latin1"])
async def test_fast_and_queued_paths(
    db: Database, pg_dsn: str, id_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Window 1: the first part goes the fast path, the others the queued one."""
    paths = {"fast": 0, "queued": 0}
    submit, submit_nowait = Carrier.submit, Carrier.submit_nowait

    async def queued(self: Carrier, pdu: Any) -> Any:
        paths["queued"] += 1
        return await submit(self, pdu)

    def fast(self: Carrier, pdu: Any, done: Any, now: float | None = None) -> bool:
        written = submit_nowait(self, pdu, done, now)
        paths["fast"] += written
        return written

    monkeypatch.setattr(Carrier, "submit", queued)
    monkeypatch.setattr(Carrier, "submit_nowait", fast)
    async with simulator(_sim(id_format, receipt_delay=(0.2, 0.3))) as sim:
        config = make_config(sim.port or 0, window=1, carrier='receipt_timeout = "2s"')
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:N], message="Hi"))
        final = {"delivered"} if id_format != "empty" else {"failed"}
        async with daemon(config, db, pg_dsn) as d:
            # Empty ids: the parts are submitted without a key, no receipt can match
            # them, and the receipt timeout settles them by on_receipt_timeout (failed).
            await wait_until(lambda: _settled(db, final), limit=30)
            stats = d.stats()
        parts = await _parts(db)
        _check_ids(parts, {h.message_id for h in sim.handsets}, id_format)
        assert stats.accepted == N and stats.submitted == N
        assert paths["fast"] >= 1 and paths["queued"] >= 1 and paths["fast"] + paths["queued"] == N
        if id_format == "empty":
            assert stats.ids_unusable == N and stats.by_carrier["sim"].ids_unusable == N
            assert {p["receipt_stat"] for p in parts} == {"receipt_timeout"}
        else:
            assert stats.ids_unusable == 0 and stats.receipts_applied == N
        # A restart changes nothing: nothing is left submitting to recover.
        async with daemon(config, db, pg_dsn, name="d2") as d:
            await trio.sleep(1.0)
            assert d.stats().recovered == 0
        assert await _parts(db) == parts
        assert (await reconcile(db, "acme")).ok


@pytest.mark.parametrize("id_format", ["hex70", "hex255", "empty", "latin1"])
async def test_late_path(db: Database, pg_dsn: str, id_format: str) -> None:
    """Every response comes after the 0.3 s timeout: Dispatcher.on_late -> _apply_late -> id_key."""
    sim_config = _sim(id_format, late_resp=1.0, late_resp_delay=(0.5, 0.6), receipt_delay=(1.5, 1.8))
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, response_timeout="0.3s")
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:N], message="Hi"))
        async with daemon(config, db, pg_dsn, sweep_interval=3600.0) as d:
            # on_unknown_outcome "fail": every part fails; a late id is still applied.
            await wait_until(lambda: _settled(db, {"failed"}))
            if id_format == "empty":
                # Nothing to apply (late.py): the outcome stands, the id stays unknown.
                await trio.sleep(1.0)
            else:
                await wait_until(lambda: _true(d.stats().late_applied == N))
            stats = d.stats()
        parts = await _parts(db)
        assert stats.unknown == N
        if id_format == "empty":
            assert {p["carrier_message_id"] for p in parts} == {None}
        else:
            _check_ids(parts, {h.message_id for h in sim.handsets}, id_format)
        async with daemon(config, db, pg_dsn, name="d2", sweep_interval=3600.0):
            await trio.sleep(1.0)
        assert await _parts(db) == parts
        assert (await reconcile(db, "acme")).ok


def _part() -> ClaimedPart:
    return ClaimedPart(1, 1, 1, "Hi", "MY", 1, 7, "+60123000000", "Bridge", 5, 0, None, "Hi", None)


@pytest.mark.parametrize(
    ("message_id", "form", "key"),
    [
        ("A" * 70, "normalized", "a" * 70),
        ("A" * 255, "exact", "A" * 255),
        ("", "normalized", None),
        ("   ", "normalized", "   "),  # not of the form: its own key
        ("A" * 256, "normalized", None),  # beyond any codec setting: no key
        ("\xe9\xff12\x80", "normalized", "\xe9\xff12\x80"),
        ("12G", "hex", "12G"),  # not of the form: its own key, never a number
    ],
)
async def test_resolve_never_raises(message_id: str, form: str, key: str | None) -> None:
    cfg = make_config(2775, carrier=f'response_id_form = "{form}"').carriers[0]
    send, receive = trio.open_memory_channel[Any](1)
    runner = CarrierRunner(rules=CarrierRules.of(cfg), carrier=None, slots=[], send=send,  # type: ignore[arg-type]
                           receive=receive, cancel=trio.CancelScope())  # fmt: skip
    result = runner.resolve(_part(), Accepted(message_id=message_id, attempts=1))
    assert result.resolution is Resolution.ACCEPTED
    assert result.carrier_message_id == message_id and result.id_key == key


async def test_every_octet_survives_a_text_column(db: Database) -> None:
    """message_parts.carrier_message_id is text: an id of any octets 0x01-0xFF comes back as sent."""
    octets = bytes(range(1, 256))
    message_id = octets.decode("latin-1")
    await db.execute("CREATE TABLE ids_roundtrip (id text)")
    await db.execute("INSERT INTO ids_roundtrip VALUES ($1)", message_id)
    back = await db.fetchval("SELECT id FROM ids_roundtrip")
    assert dlr.id_octets(back) == octets
