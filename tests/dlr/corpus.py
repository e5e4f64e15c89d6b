"""Receipts as SMSCs and gateways send them, each with its expected parse.

Written by us from SMPP 3.4 Appendix B and from the shapes published by
carriers and gateways (Appendix B's own example, Kannel / ksmppd logs,
Jasmin and SMPPSim-style simulators, jsmpp's hex-vs-decimal ids, provider
help pages with 12-digit dates and ``text:none``); the ids, dates and texts
are our own. ``where`` says which shape a sample stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlr import MessageState, NetworkError, NotAReceipt, Receipt, ReceiptDetect, ReceiptError

S = MessageState


@dataclass(frozen=True)
class Sample:
    name: str
    where: str
    short_message: bytes
    expected: Receipt | type[ReceiptError]
    tlvs: dict[int, bytes] = field(default_factory=dict)
    esm_class: int = 0x04
    detect: ReceiptDetect = ReceiptDetect.ESM_CLASS


def _r(id: str, state: MessageState, **kw: object) -> Receipt:
    return Receipt(id=id, state=state, **kw)  # type: ignore[arg-type]


CANONICAL = dict(sub=1, dlvrd=1, err="000")

SAMPLES: tuple[Sample, ...] = (
    # --- Appendix B and the common canonical shape --------------------------
    Sample(
        "appendix-b-10-digit",
        "SMPP 3.4 Appendix B layout, 10-digit dates, 10-digit decimal id",
        b"id:2718281828 sub:001 dlvrd:001 submit date:2403151405 done date:2403151406 "
        b"stat:DELIVRD err:000 text:Your code is 4711",
        _r("2718281828", S.DELIVERED, stat="DELIVRD", submit_date_text="2403151405",
           done_date_text="2403151406", text="Your code is 4711", **CANONICAL),
    ),
    Sample(
        "appendix-b-capital-text-space",
        "Appendix B writes 'Text:' capitalised, with a space before the text",
        b"id:2718281829 sub:001 dlvrd:001 submit date:2403151405 done date:2403151406 "
        b"stat:DELIVRD err:000 Text: Hello there",
        _r("2718281829", S.DELIVERED, stat="DELIVRD", submit_date_text="2403151405",
           done_date_text="2403151406", text="Hello there", **CANONICAL),
    ),
    Sample(
        "provider-zero-padded-text-none",
        "provider help pages: 16-digit zero-padded id, 'text:none'",
        b"id:0000000087654321 sub:001 dlvrd:001 submit date:2501020304 done date:2501020305 "
        b"stat:DELIVRD err:000 text:none",
        _r("0000000087654321", S.DELIVERED, stat="DELIVRD", submit_date_text="2501020304",
           done_date_text="2501020305", text="none", **CANONICAL),
    ),
    Sample(
        "twelve-digit-dates-20-digit-id",
        "12-digit YYMMDDhhmmss dates, 20-digit transaction id",
        b"id:31415926535897932384 sub:001 dlvrd:001 submit date:250607080910 "
        b"done date:250607080915 stat:DELIVRD err:000 text:Hi Ana",
        _r("31415926535897932384", S.DELIVERED, stat="DELIVRD",
           submit_date_text="250607080910", done_date_text="250607080915", text="Hi Ana",
           **CANONICAL),
    ),
    Sample(
        "kannel-ksmppd-30-digit-empty-text",
        "Kannel / ksmppd log shape: 30-digit id, 12-digit dates, empty 'text:'",
        b"id:202511220801123456789012345678 sub:001 dlvrd:001 submit date:251122080112 "
        b"done date:251122080119 stat:DELIVRD err:000 text:",
        _r("202511220801123456789012345678", S.DELIVERED, stat="DELIVRD",
           submit_date_text="251122080112", done_date_text="251122080119", text="",
           **CANONICAL),
    ),
    Sample(
        "jsmpp-decimal-id-of-hex-response",
        "jsmpp simulator: resp id hex 33E95179, receipt id 10-digit decimal",
        b"id:0870928761 sub:001 dlvrd:001 submit date:1610191200 done date:1610191201 "
        b"stat:DELIVRD err:000 text:test",
        _r("0870928761", S.DELIVERED, stat="DELIVRD", submit_date_text="1610191200",
           done_date_text="1610191201", text="test", **CANONICAL),
    ),
    Sample(
        "jasmin-uuid",
        "Jasmin-style UUID message id",
        b"id:5b1e0f0c-9d3e-4c51-a0f5-7e4d2a9b6c18 sub:001 dlvrd:001 submit date:2311051530 "
        b"done date:2311051531 stat:DELIVRD err:000 text:",
        _r("5b1e0f0c-9d3e-4c51-a0f5-7e4d2a9b6c18", S.DELIVERED, stat="DELIVRD",
           submit_date_text="2311051530", done_date_text="2311051531", text="", **CANONICAL),
    ),
    Sample(
        "smppsim-small-id-capital-text",
        "SMPPSim-style: small sequential id, 'Text:' with the first characters",
        b"id:42 sub:001 dlvrd:001 submit date:0901011200 done date:0901011201 "
        b"stat:DELIVRD err:000 Text:Meeting at 5",
        _r("42", S.DELIVERED, stat="DELIVRD", submit_date_text="0901011200",
           done_date_text="0901011201", text="Meeting at 5", **CANONICAL),
    ),
    Sample(
        "hex-64-uppercase",
        "64-character hexadecimal id (the SMPP 3.4 maximum), upper case",
        b"id:" + b"0F" * 32 + b" sub:001 dlvrd:001 submit date:2402290000 "
        b"done date:2402290001 stat:DELIVRD err:000 text:x",
        _r("0F" * 32, S.DELIVERED, stat="DELIVRD", submit_date_text="2402290000",
           done_date_text="2402290001", text="x", **CANONICAL),
    ),
    Sample(
        "hex-lower-leading-zeros",
        "hexadecimal id, lower case, leading zeros (what Jasmin fails to match)",
        b"id:000a1b2c3d sub:001 dlvrd:000 submit date:2402290000 done date:2402290100 "
        b"stat:EXPIRED err:000 text:",
        _r("000a1b2c3d", S.EXPIRED, stat="EXPIRED", sub=1, dlvrd=0, err="000",
           submit_date_text="2402290000", done_date_text="2402290100", text=""),
    ),
    # --- failures and error codes ------------------------------------------
    Sample(
        "undeliv-decimal-err",
        "UNDELIV with a 3-digit decimal err and a short text",
        b"id:0911897980 sub:001 dlvrd:000 submit date:1201121551 done date:1201121551 "
        b"stat:UNDELIV err:075 text:-PROFILE",
        _r("0911897980", S.UNDELIVERABLE, stat="UNDELIV", sub=1, dlvrd=0, err="075",
           submit_date_text="1201121551", done_date_text="1201121551", text="-PROFILE"),
    ),
    Sample(
        "rejected-hex-err",
        "REJECTD with a hexadecimal err",
        b"id:77001 sub:001 dlvrd:000 submit date:2406010000 done date:2406010000 "
        b"stat:REJECTD err:0B text:",
        _r("77001", S.REJECTED, stat="REJECTD", sub=1, dlvrd=0, err="0B",
           submit_date_text="2406010000", done_date_text="2406010000", text=""),
    ),
    Sample(
        "undeliv-0x-err-no-text",
        "err written as 0x.., no text field at all",
        b"id:77002 sub:001 dlvrd:000 submit date:2406010000 done date:2406010001 "
        b"stat:UNDELIV err:0x1F",
        _r("77002", S.UNDELIVERABLE, stat="UNDELIV", sub=1, dlvrd=0, err="0x1F",
           submit_date_text="2406010000", done_date_text="2406010001"),
    ),
    Sample(
        "alphanumeric-err",
        "alphanumeric err",
        b"id:77003 sub:001 dlvrd:000 submit date:2406010000 done date:2406010001 "
        b"stat:DELETED err:A3 text:",
        _r("77003", S.DELETED, stat="DELETED", sub=1, dlvrd=0, err="A3",
           submit_date_text="2406010000", done_date_text="2406010001", text=""),
    ),
    # --- missing, extra, spaced and cased fields ------------------------------
    Sample(
        "missing-counts",
        "no sub / dlvrd fields",
        b"id:123 submit date:2301011200 done date:2301011201 stat:EXPIRED err:000",
        _r("123", S.EXPIRED, stat="EXPIRED", err="000", submit_date_text="2301011200",
           done_date_text="2301011201"),
    ),
    Sample(
        "id-and-stat-only",
        "the bare minimum",
        b"id:77 stat:REJECTD",
        _r("77", S.REJECTED, stat="REJECTD"),
    ),
    Sample(
        "extra-fields",
        "vendor fields between the Appendix B ones",
        b"id:9001 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 mccmnc:26201 price:0.0125 text:ok",
        _r("9001", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="ok", **CANONICAL),
    ),
    Sample(
        "repeated-spaces-and-tabs",
        "repeated spaces, a tab, spaces inside the date keys",
        b"id:9002  sub:001   dlvrd:001 submit  date:2407070707 done   date:2407070708  "
        b"stat:DELIVRD\terr:000  text:ok",
        _r("9002", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="ok", **CANONICAL),
    ),
    Sample(
        "line-break-in-done-date",
        "a line break inside 'done date' (as a wrapped provider page shows it)",
        b"id:9003 sub:001 dlvrd:001 submit date:2407070707 done\ndate:2407070708 "
        b"stat:DELIVRD err:000 Text:ok",
        _r("9003", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="ok", **CANONICAL),
    ),
    Sample(
        "upper-case-keys",
        "every key upper case",
        b"ID:9004 SUB:001 DLVRD:001 SUBMIT DATE:2407070707 DONE DATE:2407070708 "
        b"STAT:DELIVRD ERR:000 TEXT:OK",
        _r("9004", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="OK", **CANONICAL),
    ),
    Sample(
        "underscore-keys-space-after-colon",
        "submit_date / done_date keys, a space after some colons",
        b"id: 9005 sub:001 dlvrd:001 submit_date:2407070707 done_date: 2407070708 "
        b"stat: DELIVRD err:000",
        _r("9005", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", **CANONICAL),
    ),
    Sample(
        "lower-case-stat",
        "stat word in lower case",
        b"id:9006 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:delivrd err:000 text:",
        _r("9006", S.DELIVERED, stat="delivrd", submit_date_text="2407070707",
           done_date_text="2407070708", text="", **CANONICAL),
    ),
    Sample(
        "full-state-name",
        "the section 5.2.28 name instead of the 7-letter word",
        b"id:9007 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVERED err:000 text:",
        _r("9007", S.DELIVERED, stat="DELIVERED", submit_date_text="2407070707",
           done_date_text="2407070708", text="", **CANONICAL),
    ),
    Sample(
        "unrecognised-stat",
        "a stat word we do not know: UNKNOWN, raw word kept",
        b"id:9008 sub:001 dlvrd:000 submit date:2407070707 done date:2407070708 "
        b"stat:FAILED err:001 text:",
        _r("9008", S.UNKNOWN, stat="FAILED", sub=1, dlvrd=0, err="001",
           submit_date_text="2407070707", done_date_text="2407070708", text=""),
    ),
    Sample(
        "accepted",
        "ACCEPTD (pending by default)",
        b"id:9009 sub:001 dlvrd:000 submit date:2407070707 done date:2407070707 "
        b"stat:ACCEPTD err:000 text:",
        _r("9009", S.ACCEPTED, stat="ACCEPTD", sub=1, dlvrd=0, err="000",
           submit_date_text="2407070707", done_date_text="2407070707", text=""),
    ),
    Sample(
        "text-contains-stat",
        "the free text itself contains 'stat:', 'err:' and 'id:'",
        b"id:9010 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:stat:UNDELIV err:999 id:1",
        _r("9010", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="stat:UNDELIV err:999 id:1", **CANONICAL),
    ),
    Sample(
        "text-contains-stat-odd-spacing",
        "the same, through the tolerant parser (double space)",
        b"id:9011  sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 Text:stat:REJECTD",
        _r("9011", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="stat:REJECTD", **CANONICAL),
    ),
    Sample(
        "repeated-field-first-wins",
        "a field sent twice before text: the first one counts (as in Kannel)",
        b"id:9024 stat:DELIVRD err:000 stat:UNDELIV id:9999 err:011",
        _r("9024", S.DELIVERED, stat="DELIVRD", err="000"),
    ),
    # --- bytes: NUL, Latin-1, GSM, whitespace --------------------------------
    Sample(
        "trailing-nul",
        "C-Octet-String style trailing NUL",
        b"id:9012 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:hi\x00",
        _r("9012", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="hi", **CANONICAL),
    ),
    Sample(
        "trailing-nuls-and-crlf",
        "several NULs and a CRLF at the end, a space at the start",
        b" id:9013 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000\r\n\x00\x00",
        _r("9013", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", **CANONICAL),
    ),
    Sample(
        "latin-1-text",
        "Latin-1 bytes in the text",
        b"id:9014 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:Caf\xe9 \xe0 5\xa3",
        _r("9014", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="Café à 5£", **CANONICAL),
    ),
    Sample(
        "gsm-unpacked-text",
        "unpacked GSM 7-bit text: structure is ASCII, 0x00 '@' and 0x11 '_' stay as octets",
        b"id:9015 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:me\x00home\x11x",
        _r("9015", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="me\x00home\x11x", **CANONICAL),
    ),
    Sample(
        "invalid-date",
        "month 13 and hour 25: dates None, raw text kept, receipt still good",
        b"id:9016 sub:001 dlvrd:001 submit date:2413011200 done date:2401012500 "
        b"stat:DELIVRD err:000 text:",
        _r("9016", S.DELIVERED, stat="DELIVRD", submit_date_text="2413011200",
           done_date_text="2401012500", text="", **CANONICAL),
    ),
    Sample(
        "four-digit-year",
        "14-digit YYYYMMDDhhmmss dates",
        b"id:9017 sub:001 dlvrd:001 submit date:20240707070707 done date:20240707070809 "
        b"stat:DELIVRD err:000",
        _r("9017", S.DELIVERED, stat="DELIVRD", submit_date_text="20240707070707",
           done_date_text="20240707070809", **CANONICAL),
    ),
    # --- esm_class and TLVs ---------------------------------------------------
    Sample(
        "intermediate-notification",
        "esm_class 0x20 intermediate delivery notification, ENROUTE",
        b"id:9018 sub:001 dlvrd:000 submit date:2407070707 done date:2407070710 "
        b"stat:ENROUTE err:000 text:",
        _r("9018", S.ENROUTE, stat="ENROUTE", sub=1, dlvrd=0, err="000",
           submit_date_text="2407070707", done_date_text="2407070710", text="",
           intermediate=True),
        esm_class=0x20,
    ),
    Sample(
        "receipt-with-reply-path-bit",
        "esm_class 0x84: other bits set around message type 0x04",
        b"id:9019 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:",
        _r("9019", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="", **CANONICAL),
        esm_class=0x84,
    ),
    Sample(
        "tlv-only-data-sm",
        "data_sm style: no text, receipted_message_id + message_state + network_error_code",
        b"",
        _r("ABC123", S.UNDELIVERABLE, network_error=NetworkError(type=3, code=0x0001)),
        tlvs={0x001E: b"ABC123\x00", 0x0427: b"\x05", 0x0423: b"\x03\x00\x01"},
    ),
    Sample(
        "tlvs-win-over-text",
        "TLV id (hex) and state win; the text's raw stat and err stay",
        b"id:0870928761 sub:001 dlvrd:000 submit date:1610191200 done date:1610191201 "
        b"stat:UNDELIV err:000 text:",
        _r("33E95179", S.DELIVERED, stat="UNDELIV", sub=1, dlvrd=0, err="000",
           submit_date_text="1610191200", done_date_text="1610191201", text=""),
        tlvs={0x001E: b"33E95179\x00", 0x0427: b"\x02"},
    ),
    Sample(
        "tlv-id-marks-receipt-with-esm-0",
        "esm_class 0 but receipted_message_id present: a receipt",
        b"id:1 stat:DELIVRD",
        _r("XYZ", S.DELIVERED, stat="DELIVRD"),
        tlvs={0x001E: b"XYZ\x00"},
        esm_class=0x00,
    ),
    Sample(
        "message-payload",
        "empty short_message, the receipt text in message_payload",
        b"",
        _r("9020", S.EXPIRED, stat="EXPIRED", sub=1, dlvrd=0, err="000",
           submit_date_text="2407070707", done_date_text="2407080707", text=""),
        tlvs={0x0424: b"id:9020 sub:001 dlvrd:000 submit date:2407070707 "
              b"done date:2407080707 stat:EXPIRED err:000 text:"},
    ),
    Sample(
        "out-of-range-tlv-state-uses-text",
        "message_state 9 (not in SMPP 3.4): the text's stat decides",
        b"id:9021 stat:DELIVRD",
        _r("9021", S.DELIVERED, stat="DELIVRD"),
        tlvs={0x0427: b"\x09"},
    ),
    Sample(
        "out-of-range-tlv-state-alone",
        "message_state 0 and no text stat: UNKNOWN",
        b"",
        _r("Q1", S.UNKNOWN),
        tlvs={0x001E: b"Q1\x00", 0x0427: b"\x00"},
    ),
    Sample(
        "malformed-tlvs-ignored",
        "message_state of 2 octets and network_error_code of 2 octets: ignored",
        b"id:9022 stat:UNDELIV err:012",
        _r("9022", S.UNDELIVERABLE, stat="UNDELIV", err="012"),
        tlvs={0x0427: b"\x02\x02", 0x0423: b"\x03\x01"},
    ),
    Sample(
        "text-detect-esm-0",
        "receipt_detect = text: an SMSC that sends receipts with esm_class 0",
        b"id:9023 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:",
        _r("9023", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="", **CANONICAL),
        esm_class=0x00,
        detect=ReceiptDetect.TEXT,
    ),
    # --- gateways and simulators ----------------------------------------------
    Sample(
        "jasmin-uuid-text-and-tlvs",
        "Jasmin-style: UUID id in the text and in receipted_message_id, message_state too",
        b"id:0e4c2a7b-51f3-4d2e-9b8a-6c1d0f3e5a72 sub:001 dlvrd:001 submit date:2509141210 "
        b"done date:2509141211 stat:DELIVRD err:000 text:Your parcel is on i",
        _r("0e4c2a7b-51f3-4d2e-9b8a-6c1d0f3e5a72", S.DELIVERED, stat="DELIVRD",
           submit_date_text="2509141210", done_date_text="2509141211",
           text="Your parcel is on i", **CANONICAL),
        tlvs={0x001E: b"0e4c2a7b-51f3-4d2e-9b8a-6c1d0f3e5a72\x00", 0x0427: b"\x02"},
    ),
    Sample(
        "jasmin-uuid-upper-case-undeliv",
        "UUID in upper case, UNDELIV, dlvrd 0, 12-digit dates",
        b"id:9C41E0A2-7F3B-4B6D-8E15-2A0D5C7B3F98 sub:001 dlvrd:000 submit date:250914121005 "
        b"done date:250914121107 stat:UNDELIV err:001 text:",
        _r("9C41E0A2-7F3B-4B6D-8E15-2A0D5C7B3F98", S.UNDELIVERABLE, stat="UNDELIV", sub=1,
           dlvrd=0, err="001", submit_date_text="250914121005",
           done_date_text="250914121107", text=""),
    ),
    Sample(
        "kannel-smsbox-style-12-char-text",
        "Kannel as an SMSC for its ESMEs: 10-digit dates, err as 3 digits, text cut to 12",
        b"id:1732017403 sub:001 dlvrd:001 submit date:2411191556 done date:2411191557 "
        b"stat:DELIVRD err:000 text:Dear custome",
        _r("1732017403", S.DELIVERED, stat="DELIVRD", submit_date_text="2411191556",
           done_date_text="2411191557", text="Dear custome", **CANONICAL),
    ),
    Sample(
        "kannel-fake-smsc-no-counts",
        "a gateway that writes only id, dates, stat, err (no sub / dlvrd, no text)",
        b"id:56f2a1 submit date:2411191556 done date:2411191601 stat:EXPIRED err:000",
        _r("56f2a1", S.EXPIRED, stat="EXPIRED", err="000", submit_date_text="2411191556",
           done_date_text="2411191601"),
    ),
    Sample(
        "smppsim-style-enroute-intermediate",
        "SMPPSim-style intermediate notification: ENROUTE, esm_class 0x20, 'Text:'",
        b"id:1000017 sub:001 dlvrd:000 submit date:0901011200 done date:0901011205 "
        b"stat:ENROUTE err:000 Text:Meeting moved to",
        _r("1000017", S.ENROUTE, stat="ENROUTE", sub=1, dlvrd=0, err="000",
           submit_date_text="0901011200", done_date_text="0901011205",
           text="Meeting moved to", intermediate=True),
        esm_class=0x20,
    ),
    Sample(
        "smppsim-style-random-rejectd",
        "SMPPSim-style REJECTD with a 3-digit err and the first 20 characters of the text",
        b"id:1000018 sub:001 dlvrd:000 submit date:0901011200 done date:0901011200 "
        b"stat:REJECTD err:088 Text:Your balance is MYR ",
        _r("1000018", S.REJECTED, stat="REJECTD", sub=1, dlvrd=0, err="088",
           submit_date_text="0901011200", done_date_text="0901011200",
           text="Your balance is MYR"),
    ),
    # --- more odd shapes -------------------------------------------------------
    Sample(
        "fields-reordered",
        "stat and err before the id, dates last",
        b"stat:DELIVRD err:000 id:9030 sub:001 dlvrd:001 done date:2407070708 "
        b"submit date:2407070707",
        _r("9030", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", **CANONICAL),
    ),
    Sample(
        "one-and-four-digit-counts",
        "sub / dlvrd with one and four digits",
        b"id:9031 sub:1 dlvrd:0001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:0 text:",
        _r("9031", S.DELIVERED, stat="DELIVRD", sub=1, dlvrd=1, err="0",
           submit_date_text="2407070707", done_date_text="2407070708", text=""),
    ),
    Sample(
        "hex-64-lower-tolerant",
        "64-character lower-case hex id through the tolerant parser (capitalised keys)",
        b"Id:" + b"9f" * 32 + b" Sub:001 Dlvrd:001 Submit Date:2402290000 "
        b"Done Date:2402290001 Stat:DELIVRD Err:000 Text:x",
        _r("9f" * 32, S.DELIVERED, stat="DELIVRD", submit_date_text="2402290000",
           done_date_text="2402290001", text="x", **CANONICAL),
    ),
    Sample(
        "lower-hex-err-mixed-key-case",
        "err as lower-case hex, keys in mixed case",
        b"iD:9032 SuB:001 dLvRd:000 sUbMiT DaTe:2407070707 DoNe dAtE:2407070708 "
        b"StAt:UNDELIV ErR:0b1",
        _r("9032", S.UNDELIVERABLE, stat="UNDELIV", sub=1, dlvrd=0, err="0b1",
           submit_date_text="2407070707", done_date_text="2407070708"),
    ),
    Sample(
        "space-before-colon",
        "a space between a key and its colon",
        b"id :9033 stat :DELIVRD err :000",
        _r("9033", S.DELIVERED, stat="DELIVRD", err="000"),
    ),
    Sample(
        "text-key-mid-message",
        "text: before stat: in the message: what follows it is free text",
        b"id:9034 stat:DELIVRD text:hello stat:UNDELIV err:999",
        _r("9034", S.DELIVERED, stat="DELIVRD", text="hello stat:UNDELIV err:999"),
    ),
    Sample(
        "nul-padded",
        "a C-Octet String padded with NULs after the terminator",
        b"id:9035 stat:DELIVRD err:000" + b"\x00" * 12,
        _r("9035", S.DELIVERED, stat="DELIVRD", err="000"),
    ),
    Sample(
        "latin-1-in-tolerant-path",
        "Latin-1 text through the tolerant parser, with an extra vendor field",
        b"id:9036 stat:DELIVRD err:000 net:50212 Text:Ol\xe1 Jos\xe9, \xbfqu\xe9 tal?",
        _r("9036", S.DELIVERED, stat="DELIVRD", err="000", text="Ol\xe1 Jos\xe9, \xbfqu\xe9 tal?"),
    ),
    Sample(
        "ucs2-receipt",
        "the whole receipt in UCS-2 (data_coding 8), NUL-terminated",
        ("id:9037 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
         "stat:DELIVRD err:000 text:\u0421\u043f\u0430\u0441\u0438\u0431\u043e").encode("utf-16-be")
        + b"\x00",
        _r("9037", S.DELIVERED, stat="DELIVRD", submit_date_text="2407070707",
           done_date_text="2407070708", text="\u0421\u043f\u0430\u0441\u0438\u0431\u043e",
           **CANONICAL),
    ),
    Sample(
        "tlv-network-error-with-text-err",
        "network_error_code TLV alongside the text's err: both kept",
        b"id:9038 sub:001 dlvrd:000 submit date:2407070707 done date:2407070708 "
        b"stat:UNDELIV err:034 text:",
        _r("9038", S.UNDELIVERABLE, stat="UNDELIV", sub=1, dlvrd=0, err="034",
           network_error=NetworkError(type=3, code=0x22), submit_date_text="2407070707",
           done_date_text="2407070708", text=""),
        tlvs={0x0423: b"\x03\x00\x22"},
    ),
    Sample(
        "tlv-state-wins-over-text",
        "message_state REJECTED (8) over the text's DELIVRD; the raw stat stays",
        b"id:9039 stat:DELIVRD err:000",
        _r("9039", S.REJECTED, stat="DELIVRD", err="000"),
        tlvs={0x0427: b"\x08"},
    ),
    Sample(
        "tlv-id-wins-over-text",
        "receipted_message_id (hex, leading zeros) over the text id; the text keeps nothing else",
        b"id:9040 stat:EXPIRED",
        _r("00C0FFEE", S.EXPIRED, stat="EXPIRED"),
        tlvs={0x001E: b"00C0FFEE\x00"},
    ),
    Sample(
        "tlv-id-64-characters",
        "receipted_message_id of 64 characters + NUL (65 octets, the section 5.3.2 maximum)",
        b"",
        _r("a" * 64, S.DELIVERED),
        tlvs={0x001E: b"a" * 64 + b"\x00", 0x0427: b"\x02"},
    ),
    Sample(
        "data-sm-payload-with-nul-short-message",
        "short_message is a lone NUL, the receipt is in message_payload",
        b"\x00",
        _r("9041", S.DELIVERED, stat="DELIVRD", err="000"),
        tlvs={0x0424: b"id:9041 stat:DELIVRD err:000"},
    ),
    # --- not receipts, and broken receipts -------------------------------------
    Sample("mo-plain", "MO text, esm_class 0", b"Hello, see you at 5", NotAReceipt,
           esm_class=0x00),
    Sample(
        "mo-receipt-text-without-text-detect",
        "receipt-looking text with esm_class 0 and the default detection: MO",
        b"id:9023 sub:001 dlvrd:001 submit date:2407070707 done date:2407070708 "
        b"stat:DELIVRD err:000 text:",
        NotAReceipt,
        esm_class=0x00,
    ),
    Sample("mo-colons-text-detect", "MO with colons, receipt_detect = text",
           b"id: mine stat: happy", NotAReceipt, esm_class=0x00, detect=ReceiptDetect.TEXT),
    Sample("sme-ack", "esm_class 0x08 SME delivery acknowledgement is not an SMSC receipt",
           b"id:1 stat:DELIVRD", NotAReceipt, esm_class=0x08, detect=ReceiptDetect.TEXT),
    Sample("garbage", "esm_class says receipt, text is garbage", b"\xff\xfe garbage",
           ReceiptError),
    Sample("empty", "esm_class says receipt, nothing at all", b"", ReceiptError),
    Sample("no-stat", "id but no state", b"id:123 sub:001 dlvrd:001", ReceiptError),
    Sample("no-id", "state but no id", b"sub:001 dlvrd:001 stat:DELIVRD err:000",
           ReceiptError),
    Sample("empty-id", "id: with nothing after it", b"id: stat:DELIVRD", ReceiptError),
    Sample("stat-only-in-text", "stat: only inside the free text", b"id:5 text:stat:DELIVRD",
           ReceiptError),
    Sample("tlv-state-without-id", "message_state TLV but no id anywhere", b"",
           ReceiptError, tlvs={0x0427: b"\x02"}),
    Sample("empty-tlv-id-no-text-id", "an empty receipted_message_id and no id: field",
           b"stat:DELIVRD", ReceiptError, tlvs={0x001E: b"\x00"}),
    Sample("mo-ucs2-esm-0", "UCS-2 MO text with esm_class 0 and text detection",
           "Hi, meet at 5?".encode("utf-16-be"), NotAReceipt, esm_class=0x00,
           detect=ReceiptDetect.TEXT),
    Sample("mo-unknown-stat-text-detect",
           "text detection needs a recognised stat word: 'stat:happy' is MO",
           b"id:12 stat:happy", NotAReceipt, esm_class=0x00, detect=ReceiptDetect.TEXT),
)

# (response id, response form, receipt id, receipt form): the same part.
SAME_PART_IDS: tuple[tuple[str, str, str, str], ...] = (
    ("33E95179", "hex", "0870928761", "decimal"),  # jsmpp: hex resp, decimal receipt
    ("33e95179", "hex", "870928761", "decimal"),
    ("0x33E95179", "hex", "870928761", "decimal"),
    ("000a1b2c3d", "hex", "A1B2C3D", "hex"),  # Jasmin's leading-zero hex
    ("000A1B2C3D", "normalized", "a1b2c3d", "normalized"),
    ("5B1E0F0C-9D3E-4C51-A0F5-7E4D2A9B6C18", "normalized",
     "5b1e0f0c-9d3e-4c51-a0f5-7e4d2a9b6c18", "normalized"),
    ("0000000087654321", "normalized", "87654321", "normalized"),
    ("0000", "normalized", "0", "normalized"),
    ("0000", "decimal", "0", "decimal"),
    ("0", "hex", "000", "decimal"),
    ("AbC", "exact", "AbC", "exact"),
)

# Ids that must not meet under the given forms.
DIFFERENT_PART_IDS: tuple[tuple[str, str, str, str], ...] = (
    ("AbC", "exact", "abc", "exact"),
    ("10", "hex", "10", "decimal"),  # 16 != 10
    ("ff", "hex", "ff0", "hex"),
    ("1", "normalized", "10", "normalized"),
)
