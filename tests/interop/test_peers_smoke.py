"""The interop harness proves itself with clients nobody here wrote.

smpplib (an ESME) against the node-smpp SMSC and Debian's Net::SMPP smsc.pl;
Kannel (an ESME) against the node-smpp SMSC. When our carrier sessions and
simulator land, the same fixtures run them against these peers. Everything is
on 127.0.0.1 with bounded waits (each test well under 30 s).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.exceptions
import smpplib.smpp
import trio

from tests.interop import peers
from tests.interop.kannel import DLR_DELIVERED, DLR_SMSC_ACK, KannelEsme
from tests.interop.peers import NetSmppSmsc, NodeSmsc

# SMPP 3.4 section 5.1.2.1 command ids, section 5.1.3 command_status values.
SUBMIT_SM = 0x00000004
ENQUIRE_LINK = 0x00000015
BIND_TRANSMITTER = 0x00000002
ESME_RINVPASWD = 0x0000000E
# SMPP 3.4 Appendix B; "text:" is lower case here and upper case at some SMSCs.
RECEIPT = re.compile(
    rb"^id:(?P<id>\S+) sub:\d{3} dlvrd:\d{3} submit date:\d{10} done date:\d{10} "
    rb"stat:(?P<stat>[A-Z]{7}) err:(?P<err>\w{3}) [Tt]ext:(?P<text>.*)$"
)
IO_TIMEOUT = 5.0  # smpplib socket timeout: a silent peer fails the test, never hangs it


@contextlib.contextmanager
def smpp_client(host: str, port: int) -> Iterator[smpplib.client.Client]:
    client = smpplib.client.Client(host, port, timeout=IO_TIMEOUT, allow_unknown_opt_params=True)
    client.connect()
    try:
        yield client
    finally:
        client.disconnect()


def request(client: smpplib.client.Client, command: str, **fields: Any) -> Any:
    """Send one request and read the next PDU (these peers answer in order)."""
    pdu = smpplib.smpp.make_pdu(command, client=client, **fields)
    client.send_pdu(pdu)
    resp = client.read_pdu()
    assert resp.sequence == pdu.sequence, (resp.command, resp.sequence, pdu.sequence)
    return resp


def ack_receipt(client: smpplib.client.Client, deliver: Any) -> None:
    ack = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
    ack.sequence = deliver.sequence  # make_pdu ignores a sequence= keyword
    client.send_pdu(ack)


def submit(client: smpplib.client.Client, to: str, text: bytes, receipt: bool = True) -> Any:
    return request(
        client,
        "submit_sm",
        source_addr_ton=5,
        source_addr="Bridge",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=to,
        short_message=text,
        registered_delivery=1 if receipt else 0,
    )


# ------------------------------------------------------------------ node-smpp


def test_node_smsc_bind_submit_receipt_enquire_link_unbind(node_smsc: NodeSmsc) -> None:
    with smpp_client(node_smsc.host, node_smsc.port) as client:
        bound = client.bind_transceiver(system_id="bridge", password="secret")
        assert bound.status == 0

        resp = submit(client, "447700900123", b"interop hello")
        assert resp.command == "submit_sm_resp" and resp.status == 0
        message_id = resp.message_id
        assert message_id

        deliver = client.read_pdu()
        assert deliver.command == "deliver_sm"
        assert deliver.esm_class == 0x04  # SMPP 3.4 section 5.2.12: SMSC delivery receipt
        assert deliver.receipted_message_id == message_id
        assert deliver.message_state == 2  # DELIVERED, SMPP 3.4 section 5.2.28
        assert deliver.source_addr == b"447700900123" and deliver.destination_addr == b"Bridge"
        match = RECEIPT.match(deliver.short_message)
        assert match, deliver.short_message
        assert match["id"] == message_id and match["stat"] == b"DELIVRD"
        assert match["text"] == b"interop hello"
        ack_receipt(client, deliver)

        assert request(client, "enquire_link").command == "enquire_link_resp"
        unbound = client.unbind()
        assert unbound.command == "unbind_resp" and unbound.status == 0

    seen = node_smsc.wait_for_pdus("unbind")
    assert seen[0]["session"] == 1
    (submit_in,) = node_smsc.pdus("submit_sm", "in")
    assert submit_in["fields"]["destination_addr"] == "447700900123"
    assert submit_in["fields"]["short_message"]["message"] == "interop hello"
    (receipt_out,) = node_smsc.wait_for_pdus("deliver_sm", "out")
    assert receipt_out["fields"]["receipted_message_id"] == message_id.decode()
    (ack_in,) = node_smsc.wait_for_pdus("deliver_sm_resp")
    assert ack_in["command_status"] == 0
    assert ack_in["sequence_number"] == receipt_out["sequence_number"]
    assert [r["command"] for r in node_smsc.pdus("enquire_link")] == ["enquire_link"]


def test_node_smsc_rejects_a_wrong_password(node_smsc: NodeSmsc) -> None:
    with smpp_client(node_smsc.host, node_smsc.port) as client:
        with pytest.raises(smpplib.exceptions.PDUError) as failure:
            client.bind_transmitter(system_id="bridge", password="not-it")
        assert failure.value.args[1] == ESME_RINVPASWD
    (resp,) = node_smsc.wait_for_pdus("bind_transmitter_resp", "out")
    assert resp["command_status"] == ESME_RINVPASWD


def test_node_smsc_ids_are_unique_and_receipts_reach_the_receiver_bind(
    node_smsc: NodeSmsc,
) -> None:
    # A transmitter plus a receiver of the same system_id, as Kannel's tx+rx
    # mode or a carrier asking for separate binds: receipts come on the receiver.
    with (
        smpp_client(node_smsc.host, node_smsc.port) as tx,
        smpp_client(node_smsc.host, node_smsc.port) as rx,
    ):
        tx.bind_transmitter(system_id="bridge", password="secret")
        rx.bind_receiver(system_id="bridge", password="secret")
        ids = [submit(tx, f"4477009001{n:02d}", b"part %d" % n).message_id for n in range(20)]
        assert len(set(ids)) == len(ids)
        receipted = set()
        for _ in ids:
            deliver = rx.read_pdu()
            assert deliver.command == "deliver_sm" and deliver.esm_class == 0x04
            receipted.add(deliver.receipted_message_id)
            ack_receipt(rx, deliver)
        assert receipted == set(ids)
    assert not [r for r in node_smsc.records() if r["event"] == "receipt_undeliverable"]


def test_node_smsc_options_throttle_and_failed_receipts_on_a_transmitter(
    node_smsc_factory: Callable[..., NodeSmsc],
) -> None:
    # A carrier that throttles every third submit and sends receipts on the
    # transmitter bind (both happen in the field).
    options = ["--receipt-on-tx", "--receipt-stat", "UNDELIV", "--receipt-err", "001"]
    smsc = node_smsc_factory(
        system_id=None, password=None, options=[*options, "--reject-every", "3"]
    )
    with smpp_client(smsc.host, smsc.port) as client:
        client.bind_transmitter(system_id="anyone", password="x")
        sent = [
            smpplib.smpp.make_pdu(
                "submit_sm",
                client=client,
                destination_addr=f"44770090020{n}",
                short_message=b"m%d" % n,
                registered_delivery=1,
            )
            for n in range(3)
        ]
        for pdu in sent:  # pipelined: the receipts interleave with the responses
            client.send_pdu(pdu)
        got = [client.read_pdu() for _ in range(5)]
        resps = {p.sequence: p for p in got if p.command == "submit_sm_resp"}
        # Not acknowledged: smpplib refuses to send deliver_sm_resp on a
        # transmitter bind (its client state table), one more reason our
        # sessions must not copy it.
        receipts = [p for p in got if p.command == "deliver_sm"]
    assert [resps[p.sequence].status for p in sent] == [0, 0, 0x58]  # ESME_RTHROTTLED
    accepted = {resps[p.sequence].message_id for p in sent[:2]}
    assert {r.receipted_message_id for r in receipts} == accepted
    for receipt in receipts:
        match = RECEIPT.match(receipt.short_message)
        assert match and match["stat"] == b"UNDELIV" and match["err"] == b"001"
        assert receipt.message_state == 5  # UNDELIVERABLE, SMPP 3.4 section 5.2.28
    (throttled,) = smsc.wait_for_pdus("submit_sm_resp", "out", where=lambda r: r["command_status"])
    assert len(bytes.fromhex(throttled["hex"])) == 16  # header only, no message_id


async def _read_pdu(stream: trio.SocketStream, buffer: bytearray) -> tuple[int, int, int, bytes]:
    # SMPP 3.4 section 3.2: command_length counts the whole PDU, header included.
    while len(buffer) < 4 or len(buffer) < int.from_bytes(buffer[:4], "big"):
        chunk = await stream.receive_some(4096)
        assert chunk, "peer closed the connection"
        buffer += chunk
    length = int.from_bytes(buffer[:4], "big")
    pdu = bytes(buffer[:length])
    del buffer[:length]
    command_id, status, sequence = struct.unpack(">III", pdu[4:16])
    return command_id, status, sequence, pdu[16:]


async def test_node_smsc_from_trio_with_an_smsc_initiated_unbind(node_smsc: NodeSmsc) -> None:
    # The pattern our carrier-session tests follow: a trio client on a real
    # socket, the SMSC steered through control() and observed with await_pdus.
    buffer = bytearray()
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(node_smsc.host, node_smsc.port)
        async with stream:
            bind = b"bridge\0secret\0\0\x34\0\0\0"
            await stream.send_all(struct.pack(">IIII", 16 + len(bind), 0x09, 0, 1) + bind)
            assert (await _read_pdu(stream, buffer))[:3] == (0x80000009, 0, 1)
            node_smsc.control("unbind")
            command_id, _, sequence, _ = await _read_pdu(stream, buffer)
            assert command_id == 0x00000006  # unbind, SMPP 3.4 section 4.2.1
            await stream.send_all(struct.pack(">IIII", 16, 0x80000006, 0, sequence))
            assert await stream.receive_some(16) == b""  # smsc.js closes after unbind_resp
        (resp,) = await node_smsc.await_pdus("unbind_resp")
    assert resp["sequence_number"] == sequence


# ------------------------------------------------------------------ Net::SMPP


def test_netsmpp_smsc_bind_submit_enquire_link(netsmpp_smsc: NetSmppSmsc) -> None:
    with smpp_client(netsmpp_smsc.host, netsmpp_smsc.port) as client:
        # smsc.pl checks no credentials at all.
        bound = client.bind_transmitter(system_id="anyone", password="anything")
        assert bound.status == 0 and bound.system_id == netsmpp_smsc.system_id.encode()
        first = submit(client, "447700900123", b"one")
        second = submit(client, "447700900124", b"two")
        # Every submit gets the same id: never match receipts against this peer.
        assert first.message_id == second.message_id == netsmpp_smsc.message_id.encode()
        assert request(client, "enquire_link").command == "enquire_link_resp"
        assert client.unbind().command == "unbind_resp"
    netsmpp_smsc.wait_received(SUBMIT_SM, count=2)
    netsmpp_smsc.wait_received(ENQUIRE_LINK)
    commands = [c for _, c in netsmpp_smsc.received()]
    assert commands[:4] == [BIND_TRANSMITTER, SUBMIT_SM, SUBMIT_SM, ENQUIRE_LINK]


def test_netsmpp_smsc_goes_silent_without_closing_when_a_child_dies(
    netsmpp_smsc: NetSmppSmsc,
) -> None:
    # docs/interop.md: a generic_nack (any unsolicited response) kills the
    # connection's child, yet the accept loop keeps the socket open until the
    # next accept. Our sessions must rely on timeouts, not on a FIN.
    addr = (netsmpp_smsc.host, netsmpp_smsc.port)
    with socket.create_connection(addr, timeout=IO_TIMEOUT) as victim:
        victim.sendall(struct.pack(">IIII", 16, 0x80000000, 0, 1))  # generic_nack
        victim.settimeout(0.5)
        with pytest.raises(TimeoutError):
            victim.recv(16)
        with socket.create_connection(addr, timeout=IO_TIMEOUT):
            victim.settimeout(IO_TIMEOUT)
            assert victim.recv(16) == b""  # closed once the parent accepted again


def test_netsmpp_smsc_stop_reaps_forked_children(tmp_path: Path) -> None:
    smsc = peers.start_netsmpp_smsc(tmp_path)
    try:
        with smpp_client(smsc.host, smsc.port) as client:
            client.bind_transceiver(system_id="x", password="y")
            smsc.wait_received(0x00000009)  # bind_transceiver, read by a forked child
            members = _group_members(smsc.process.popen.pid)
            assert len(members) >= 2, members  # the accept loop and the child
            smsc.process.stop()
            assert not _group_members(smsc.process.popen.pid)
    finally:
        smsc.process.stop()


def test_netsmpp_smsc_reports_a_busy_port(tmp_path: Path) -> None:
    peers.netsmpp_script(tmp_path)  # skip/fail here first when the tool is missing
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((peers.HOST, peers.NETSMPP_PORT))
        squatter.listen()
        with pytest.raises(pytest.fail.Exception, match=r"9900 .* busy"):
            peers.start_netsmpp_smsc(tmp_path)


# ------------------------------------------------------------------ Kannel


def test_kannel_submits_through_node_smsc_and_gets_its_receipt(
    node_smsc: NodeSmsc, kannel_esme: Callable[..., KannelEsme]
) -> None:
    kannel = kannel_esme(node_smsc.host, node_smsc.port, "bridge", "secret")
    (bind,) = node_smsc.pdus("bind_transceiver", "in")
    assert bind["fields"]["system_id"] == "bridge"
    assert bind["fields"]["system_type"] == ""

    ref = kannel.send("447700900123", "hello from kannel")
    (sub,) = node_smsc.wait_for_pdus("submit_sm")
    assert sub["fields"]["destination_addr"] == "447700900123"
    assert sub["fields"]["source_addr"] == "Bridge"
    assert sub["fields"]["short_message"]["message"] == "hello from kannel"
    assert sub["fields"]["registered_delivery"] & 0x03 == 1
    (resp,) = node_smsc.wait_for_pdus("submit_sm_resp", "out")
    message_id = resp["fields"]["message_id"]

    ack = kannel.wait_dlr(ref, DLR_SMSC_ACK)
    delivered = kannel.wait_dlr(ref, DLR_DELIVERED)
    assert ack.params["fid"] == delivered.params["fid"] == message_id
    assert f"id:{message_id} " in delivered.params["text"]
    assert "stat:DELIVRD" in delivered.params["text"]
    (receipt_ack,) = node_smsc.wait_for_pdus("deliver_sm_resp")
    assert receipt_ack["command_status"] == 0


def test_kannel_tx_rx_binds_split_long_text_and_get_receipts_on_the_receiver(
    node_smsc: NodeSmsc, kannel_esme: Callable[..., KannelEsme]
) -> None:
    kannel = kannel_esme(node_smsc.host, node_smsc.port, "bridge", "secret", bind="tx+rx")
    assert kannel.smsc_states() == ["online", "online"]
    binds = {r["session"]: r["mode"] for r in node_smsc.records() if r["event"] == "bound"}
    assert sorted(binds.values()) == ["rx", "tx"]

    ref = kannel.send("447700900124", "x" * 200)  # 2 parts of GSM 7-bit text
    parts = node_smsc.wait_for_pdus("submit_sm", count=2)
    assert {binds[p["session"]] for p in parts} == {"tx"}
    udhs = [p["fields"]["short_message"]["udh"][0]["hex"] for p in parts]
    # TS 23.040 9.2.3.24.1: IEI 00, length 3, same reference, 2 parts, seq 1 and 2.
    # node-smpp lists the information elements without the UDHL octet.
    assert [u[:4] for u in udhs] == ["0003", "0003"] and udhs[0][4:6] == udhs[1][4:6]
    assert [u[6:] for u in udhs] == ["0201", "0202"]
    assert all(p["fields"]["esm_class"] & 0x40 for p in parts)  # UDHI, SMPP 3.4 5.2.12

    kannel.wait_dlr(ref, DLR_DELIVERED)
    receipts = node_smsc.wait_for_pdus("deliver_sm", "out")
    assert {binds[r["session"]] for r in receipts} == {"rx"}


async def test_kannel_async_helpers_keep_the_trio_loop_running(
    node_smsc: NodeSmsc, kannel_esme: Callable[..., KannelEsme]
) -> None:
    # The path tests take when the SMSC (our simulator) runs in the test's own
    # trio loop: nothing may block the loop while Kannel binds and submits.
    kannel = kannel_esme(node_smsc.host, node_smsc.port, "bridge", "secret", wait_online=False)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        with trio.fail_after(15):
            await kannel.await_online()
            ref = await kannel.asend("447700900777", "async path")
            (sub,) = await node_smsc.await_pdus("submit_sm")
            delivered = await kannel.await_dlr(ref, DLR_DELIVERED)
        nursery.cancel_scope.cancel()
    assert sub["fields"]["destination_addr"] == "447700900777"
    assert "stat:DELIVRD" in delivered.params["text"]
    assert ticks > 10


def test_kannel_passes_an_mo_from_node_smsc(
    node_smsc: NodeSmsc, kannel_esme: Callable[..., KannelEsme]
) -> None:
    kannel = kannel_esme(node_smsc.host, node_smsc.port, "bridge", "secret")
    node_smsc.deliver_sm(
        source_addr="447700900555", destination_addr="12345", short_message_hex=b"STOP".hex()
    )
    peers.wait_until(
        lambda: bool(kannel.mo()), 10.0, lambda: f"MO at Kannel\n{kannel.diagnostics()}"
    )
    (mo,) = kannel.mo()
    assert mo.params["text"] == "STOP" and mo.params["from"].endswith("447700900555")
    (ack,) = node_smsc.wait_for_pdus("deliver_sm_resp")
    assert ack["command_status"] == 0


def test_kannel_with_a_wrong_password_stays_offline(
    node_smsc: NodeSmsc, kannel_esme: Callable[..., KannelEsme]
) -> None:
    kannel = kannel_esme(node_smsc.host, node_smsc.port, "bridge", "wrong", wait_online=False)
    (resp,) = node_smsc.wait_for_pdus("bind_transceiver_resp", "out", timeout=15.0)[:1]
    assert resp["command_status"] == ESME_RINVPASWD
    assert not kannel.online()


# ------------------------------------------------------------------ harness


def test_tool_missing_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install kannel"):
        peers.tool_missing("kannel not installed: apt-get install kannel")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install kannel"):
        peers.tool_missing("kannel not installed: apt-get install kannel")


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    # A leader that ignores SIGTERM and a grandchild: both must be gone after stop().
    script = "trap '' TERM; sleep 30 & echo started; wait"
    proc = peers.PeerProcess.start("group", ["sh", "-c", script], tmp_path)
    try:
        peers.wait_until(lambda: "started" in proc.stdout(), 5.0, "the shell to fork")
        assert len(_group_members(proc.popen.pid)) == 2
        began = time.monotonic()
        proc.stop(grace=0.5)
        assert time.monotonic() - began < 3.0
        assert proc.popen.returncode == -signal.SIGKILL
        assert not _group_members(proc.popen.pid)
    finally:
        proc.stop(grace=0.5)


def _group_members(pgid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-e", "-o", "pid=,pgid=,stat="], capture_output=True, text=True, check=True
    ).stdout
    return [
        int(pid)
        for pid, group, stat in (line.split() for line in out.splitlines())
        if int(group) == pgid and not stat.startswith("Z") and int(pid) != os.getpid()
    ]
