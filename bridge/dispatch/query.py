"""query_sm for parts whose final receipt never came (SMPP 3.4 section 4.8).

An SMSC that restarts may lose the receipts it had not delivered yet; their parts
would wait ``receipt_timeout`` (72 h by default) and then be settled blindly. With
``query_sm = true`` a carrier's :class:`Querier` asks the SMSC instead:

- Candidates (off the hot path, a periodic task per carrier): parts ``submitted``
  on this carrier for longer than ``query_after`` with a carrier message id and a
  key (``id_key``: a part stored without one can match no answer), no final receipt
  and no ACCEPTED one (``accepted_at``), read in bounded batches in (submitted_at, message_id, seq) order
  with a cursor, so a pass walks all of them however many are left unanswered.
  Parts claimed by this daemon are its own; parts of instances that are gone
  (stopped, lease expired) are queried by every live daemon (harmless: the answer
  is applied once, the others are duplicates).
- The query: message_id exactly as the SMSC returned it (``carrier_message_id``)
  and the source address of the submit_sm (section 4.8.1), on a bind that can
  transmit, with a token of the carrier's TPS bucket (Carrier.query) and at most
  ``query_rate`` per second.
- The answer (section 4.8.2): a final message_state (section 5.2.28) becomes a
  receipt row for the writer, mapped by the carrier's status table, so the same
  SQL applies it as a deliver_sm receipt (and money and webhooks follow).
  ACCEPTED is applied the same way, as an ACCEPTD receipt: pending by default
  (recorded on the part, its ``accepted_timeout`` starts; counted not final), and
  the part is not asked about again (``accepted_at`` takes it out of the
  candidates: the timeout settles it). ENROUTE and UNKNOWN are not final: asked
  again later. ESME_RQUERYFAIL (0x67) and
  ESME_RINVMSGID (0x0C): the SMSC does not know the id; never asked again. Any
  other error, a timeout or a lost bind: asked again later.
- Bounds: at most MAX_QUERIES per carrier message id, the (n+1)-th no sooner
  than ``query_after * 2**(n-1)`` after the n-th; then the part is left to
  ``receipt_timeout``. At most half a bind's window of queries in flight. The
  marks are kept in memory (a restart forgets them: a part may then be asked up
  to MAX_QUERIES times more), at most MAX_MARKS of them; a pass forgets the ids
  it did not see (final, or past their timeout).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
import trio

import dlr
from bridge.carrier import Carrier, CarrierClosed, Throttle
from bridge.dispatch.inbound import ReceiptRow
from bridge.dispatch.instances import LiveInstances
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.stats import DaemonStats
from bridge.smpp import CommandStatus, GenericNack, Pdu, QuerySm, QuerySmResp
from bridge.smpp.errors import LocalProtocolError
from bridge.store.columns import int4
from bridge.store.db import Database, db_errors
from config.schema import Carrier as CarrierConfig

__all__ = ["APPLIED_STATES", "FINAL_STATES", "MAX_QUERIES", "Candidate", "Querier", "answer_row", "build_query_sm"]

log = structlog.get_logger("bridge.dispatch.query")

MAX_QUERIES = 3
MAX_MARKS = 200_000
# SMPP 3.4 section 5.1.3: the SMSC does not know the message: asking again is useless.
NO_MORE = frozenset({int(CommandStatus.ESME_RQUERYFAIL), int(CommandStatus.ESME_RINVMSGID)})
# SMPP 3.4 section 5.2.28: the states that end a message. ENROUTE (1) and UNKNOWN (7)
# do not: the SMSC still has it, or cannot tell. ACCEPTED (6) is not delivery
# (docs/outcomes.md "ACCEPTED"): applied as a receipt but not final (APPLIED_STATES).
FINAL_STATES = frozenset({
    dlr.MessageState.DELIVERED, dlr.MessageState.EXPIRED, dlr.MessageState.DELETED,
    dlr.MessageState.UNDELIVERABLE, dlr.MessageState.REJECTED,
})  # fmt: skip
APPLIED_STATES = FINAL_STATES | {dlr.MessageState.ACCEPTED}

_CANDIDATES = """
SELECT p.message_id, p.seq, p.carrier_message_id, p.id_key, p.submitted_at,
       m.sender_id, m.sender_ton, m.sender_npi
FROM message_parts p JOIN messages m ON m.id = p.message_id
WHERE p.state = 'submitted' AND p.carrier = $1
  AND p.submitted_at < now() - make_interval(secs => $2)
  AND p.submitted_at >= coalesce($3::timestamptz, '-infinity')
  AND ($3::timestamptz IS NULL OR (p.submitted_at, p.message_id, p.seq) > ($3, $4::bigint, $5::int))
  AND p.carrier_message_id IS NOT NULL AND p.id_key IS NOT NULL AND p.accepted_at IS NULL
  AND (p.owner_instance = ANY($6::bigint[]) OR NOT EXISTS (
        SELECT 1 FROM daemon_instances d WHERE d.id = p.owner_instance
        AND d.stopped_at IS NULL AND d.lease_until >= now()))
ORDER BY p.submitted_at, p.message_id, p.seq
LIMIT $7
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A part to ask about, with what its query_sm needs."""

    message_id: int
    seq: int
    carrier_message_id: str
    id_key: str | None  # never None from the candidates' query (a row without one matches nothing)
    submitted_at: datetime
    sender_id: str | None
    sender_ton: int | None
    sender_npi: int | None


def build_query_sm(c: Candidate, cfg: CarrierConfig) -> QuerySm:
    """SMPP 3.4 section 4.8.1: the id as the SMSC gave it, and the submit's source
    address, TON and NPI exactly as build_submit_sm (submit.py) wrote them."""
    source = cfg.source
    return QuerySm(
        message_id=c.carrier_message_id,
        source_addr_ton=source.force_ton if source.force_ton is not None else (c.sender_ton or 0),
        source_addr_npi=source.force_npi if source.force_npi is not None else (c.sender_npi or 0),
        source_addr=c.sender_id or "",
    )


def answer_row(carrier: str, c: Candidate, resp: QuerySmResp, table: dlr.StatusTable) -> ReceiptRow | None:
    """The receipt row a query_sm_resp ESME_ROK stands for; None when its state is neither
    final nor ACCEPTED, or the part has no key to match it by."""
    if c.id_key is None:
        return None
    try:
        state = dlr.MessageState(resp.message_state or 0)
    except ValueError:
        return None  # not a section 5.2.28 value: nothing we can apply
    if state not in APPLIED_STATES:
        return None
    word = dlr.STAT_WORD_OF[state]
    # final_date is an absolute time (section 7.1.1, "YYMMDDhhmmsstnnp"): its first
    # 12 digits are the receipt's done date.
    done = (resp.final_date or "")[:12] or None
    err = resp.error_code
    receipt = dlr.Receipt(
        id=c.carrier_message_id, state=state, stat=word,
        err=None if err is None else f"{err:03d}", done_date_text=done,
    )  # fmt: skip
    raw = (
        f"query_sm_resp id:{c.carrier_message_id} message_state:{int(state)}"
        f" error_code:{err} final_date:{resp.final_date or ''}"
    ).encode("latin-1", "replace")
    return ReceiptRow(
        carrier=carrier, id_key=c.id_key, status=dlr.status_for(state, table), stat=word,
        error_code=int4(err), receipt=receipt, raw=raw,
    )  # fmt: skip


@dataclass(slots=True)
class _Mark:
    queries: int = 0
    next_at: float = float("-inf")
    done: bool = False  # the SMSC said it does not know the id


class Querier:
    """One carrier's query_sm task (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        rules: CarrierRules,
        carrier: Carrier,
        stats: DaemonStats,
        put_receipt: Callable[[ReceiptRow, Callable[[int], None]], Awaitable[None]],
        instances: LiveInstances,
        db_timeout: float,
    ) -> None:
        cfg = rules.config
        self._db = db
        self._rules = rules
        self._carrier = carrier
        self._stats = stats
        self._put = put_receipt
        self._instances = instances
        self.db_timeout = db_timeout
        self.after = cfg.query_after.seconds
        rate = cfg.query_rate_effective
        # One query at a time at most at ``rate`` (burst 1), then a token of the carrier's bucket.
        self._rate = Throttle(rate, burst=1.0, min_rate=rate)
        self.batch = max(10, min(1000, int(rate * 10)))
        self.interval = max(0.05, min(30.0, self.after / 4))
        # Queries in flight at once: at most half of one bind's window, so submits keep room.
        self._in_flight = trio.Semaphore(max(1, cfg.window // 2))
        self._marks: dict[str, _Mark] = {}  # by carrier_message_id
        self._seen: set[str] = set()
        self._cursor: tuple[datetime, int, int] | None = None
        self._full_logged = False
        self._asked = 0  # queries started in this pass (logged at its end)

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        async with trio.open_nursery() as queries:
            while True:
                try:
                    more = await self.round(queries)
                except db_errors() as exc:
                    log.warning("query_sm candidates unavailable", carrier=self._carrier.name, error=repr(exc))
                    more = False
                except Exception:  # housekeeping must not stop the carrier; the next round retries
                    log.exception("query_sm round failed", carrier=self._carrier.name)
                    more = False
                if not more:
                    await trio.sleep(self.interval)

    async def round(self, nursery: trio.Nursery) -> bool:
        """Read one batch after the cursor and start the queries that are due; True when
        the pass has more (go on at once), False at its end (the next pass starts over)."""
        cursor = self._cursor
        with trio.fail_after(self.db_timeout):
            rows = await self._db.fetch(
                _CANDIDATES, self._carrier.name, self.after, *(cursor or (None, 0, 0)),
                sorted(self._instances.live_ids), self.batch,
            )  # fmt: skip
        candidates = [Candidate(**dict(r)) for r in rows]
        more = len(candidates) == self.batch
        if more:
            last = candidates[-1]
            self._cursor = (last.submitted_at, last.message_id, last.seq)
        for c in candidates:
            # Marks are per carrier id: a payload message's riders share part 1's id,
            # and one answer settles them all (apply_flush matches every part of the key).
            key = c.carrier_message_id
            self._seen.add(key)
            mark = self._mark(key)
            if mark is None or mark.done or mark.queries >= MAX_QUERIES or mark.next_at > trio.current_time():
                continue
            await self._in_flight.acquire()
            try:
                await self._rate.acquire()
            except BaseException:
                self._in_flight.release()
                raise
            mark.queries += 1
            mark.next_at = trio.current_time() + self.after * 2 ** (mark.queries - 1)
            self._asked += 1
            nursery.start_soon(self._ask, c, mark)
        if not more:
            self._end_pass()
        return more

    def _mark(self, key: str) -> _Mark | None:
        mark = self._marks.get(key)
        if mark is None:
            if len(self._marks) >= MAX_MARKS:
                if not self._full_logged:
                    self._full_logged = True
                    log.warning("query_sm marks full; more parts wait for the next pass",
                                carrier=self._carrier.name, marks=MAX_MARKS)  # fmt: skip
                return None
            mark = self._marks[key] = _Mark()
        return mark

    def _end_pass(self) -> None:
        if self._asked:
            log.info("query_sm pass", carrier=self._carrier.name, asked=self._asked,
                     awaiting=len(self._seen))  # fmt: skip
            self._asked = 0
        # Parts not seen in a whole pass are final (or past their timeout): forget them.
        self._marks = {k: m for k, m in self._marks.items() if k in self._seen}
        self._seen = set()
        self._cursor = None
        self._full_logged = False

    # --- one query -----------------------------------------------------------------------

    async def _ask(self, c: Candidate, mark: _Mark) -> None:
        stats = self._stats
        try:
            pdu = build_query_sm(c, self._rules.config)
            try:
                result = await self._carrier.query(pdu)
            except CarrierClosed:
                mark.queries -= 1  # not written: not an attempt
                mark.next_at = float("-inf")
                return
            except LocalProtocolError as exc:  # does not encode (an id too long): never will
                log.warning("query_sm not sent", carrier=self._carrier.name, error=str(exc))
                mark.done = True
                return
            stats.queries += 1
            await self._answered(c, mark, result)
        except Exception:  # one odd answer must not stop the carrier's task group
            log.exception("query_sm failed", carrier=self._carrier.name)
        finally:
            self._in_flight.release()

    async def _answered(self, c: Candidate, mark: _Mark, result: object) -> None:
        stats = self._stats
        if not isinstance(result, Pdu):  # UnknownReason or TimedOut: ask again later
            stats.queries_unanswered += 1
            return
        status = result.command_status
        if isinstance(result, GenericNack) and status == 0:
            status = CommandStatus.ESME_RSYSERR
        if status != 0 or not isinstance(result, QuerySmResp):
            stats.queries_failed += 1
            if status in NO_MORE:
                mark.done = True
            log.info("query_sm refused", carrier=self._carrier.name, status=f"0x{status:02X}",
                     queries=mark.queries)  # fmt: skip
            return
        row = answer_row(self._carrier.name, c, result, self._rules.status_table)
        if row is None:
            stats.queries_not_final += 1
            return
        pending = row.status is dlr.Status.PENDING  # ACCEPTED, pending by the status table
        if pending:
            stats.queries_not_final += 1
        else:
            stats.queries_final += 1

        def committed(ack: int) -> None:
            if ack != 0:  # not stored (database down): this query does not count
                mark.queries -= 1
                mark.next_at = float("-inf")
            elif pending:  # recorded: its accepted_timeout settles it, not another query
                mark.done = True

        await self._put(row, committed)
