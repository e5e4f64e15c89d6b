"""The answers a connection writes on its own, without the application.

Three kinds, header-only PDUs (SMPP 3.4 section 4.4.2 and real SMSCs: a response
with a non-zero command_status carries no body) except deliver_sm_resp and
data_sm_resp, which always carry their NULL message_id (sections 4.6.2, 4.7.2; see
codec.ALWAYS_BODY), so 17 octets:

- the automatic replies: enquire_link_resp (section 4.11.2) and unbind_resp (4.2.2);
- refusals: a well-formed request the state table does not allow here gets its own
  ``*_resp`` with ESME_RINVBNDSTS or ESME_RALYBND (state.refusal_status);
- answers to frames that failed to decode: generic_nack (section 4.3) ONLY
  for an unknown command_id (ESME_RINVCMDID) or a command_length that cannot be
  trusted (ESME_RINVCMDLEN, after which the stream is lost); a known request with a
  bad body gets its own ``*_resp`` carrying the status the decoder chose; a broken
  response, outbind or alert_notification cannot be answered at all (they have no
  response PDU, and answering an answer would loop).

The header is packed directly: this runs for every inbound enquire_link and costs
one struct call, not a PDU object plus the generic encoder.
"""

from __future__ import annotations

import struct

from bridge.smpp.constants import RESPONSE_BIT, CommandId
from bridge.smpp.errors import RemoteProtocolError
from bridge.smpp.pdus import PDU_TYPES
from bridge.smpp.state import NO_RESPONSE, Role, State, refusal_status

_HEADER = struct.Struct(">IIII")


def header_only(command_id: int, command_status: int, sequence_number: int) -> bytes:
    """A 16-octet PDU: length, command_id, command_status, sequence_number."""
    return _HEADER.pack(16, command_id, command_status, sequence_number)


# Sections 4.6.2 and 4.7.2: the body is a message_id, NULL from us, error or not.
NULL_ID = _WITH_NULL_MESSAGE_ID = frozenset({CommandId.DELIVER_SM_RESP, CommandId.DATA_SM_RESP})
NULL_ID_RESPONSE = struct.Struct(">IIIIB")  # length 17, command_id, status, sequence_number, NUL


def null_id_response(command_id: int, command_status: int, sequence_number: int) -> bytes:
    """A deliver_sm_resp / data_sm_resp with a NULL message_id: 17 octets, as ``encode``
    writes it (one struct call: one of these answers every receipt)."""
    return NULL_ID_RESPONSE.pack(17, command_id, command_status, sequence_number, 0)


def error_response(command_id: int, command_status: int, sequence_number: int) -> bytes:
    """An error ``*_resp`` (or generic_nack): header only, or header and a NULL
    message_id for deliver_sm_resp / data_sm_resp."""
    if command_id in _WITH_NULL_MESSAGE_ID:
        return _HEADER.pack(17, command_id, command_status, sequence_number) + b"\0"
    return _HEADER.pack(16, command_id, command_status, sequence_number)


def answer_command(command_id: int) -> int | None:
    """The command_id to answer a (refused or malformed) ``command_id`` with.

    The request's own response for a known request that has one; generic_nack for a
    command_id SMPP 3.4 does not define; None when nothing may be answered.
    """
    if command_id not in PDU_TYPES:
        return CommandId.GENERIC_NACK
    if command_id & RESPONSE_BIT or command_id in NO_RESPONSE:
        return None
    return command_id | RESPONSE_BIT


def answer_for(error: RemoteProtocolError) -> tuple[int | None, bytes]:
    """(answered command_id or None, bytes to send) for a frame that failed to decode."""
    seq = error.sequence_number
    if error.fatal:
        # The stream is lost: tell the peer why if we know which PDU it was, then the
        # connection closes (section 4.3: generic_nack for an invalid command_length).
        return CommandId.GENERIC_NACK, header_only(
            CommandId.GENERIC_NACK, int(error.status), 0 if seq is None else seq
        )
    cid = error.command_id
    if cid is None or seq is None:  # not produced by the decoder for a delimited frame
        return None, b""
    answer = answer_command(cid)
    if answer is None:
        return None, b""
    return answer, error_response(answer, int(error.status), seq)


def refusal(
    role: Role, state: State, command_id: int, sequence_number: int
) -> tuple[RemoteProtocolError, int | None, bytes]:
    """A well-formed request the state table refuses: the error to report, the
    command_id answered (None for outbind / alert_notification) and the bytes."""
    status = refusal_status(state, command_id)
    peer = "SMSC" if role is Role.ESME else "ESME"
    error = RemoteProtocolError(
        f"{CommandId(command_id).name} is not allowed from the {peer} in state {state.name}"
        " (SMPP 3.4 section 2.4)",
        status,
        command_id=command_id,
        sequence_number=sequence_number,
    )
    answer = answer_command(command_id)
    if answer is None:
        return error, None, b""
    return error, answer, error_response(answer, status, sequence_number)
