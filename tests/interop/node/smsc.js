#!/usr/bin/env node
// A small SMSC on node-smpp (the npm package `smpp`, an SMPP 3.4 implementation
// nobody on smpp-bridge wrote). The interoperability tests run our carrier
// sessions against it (docs/interop.md).
//
// Protocol of the process, which tests/interop/peers.py relies on:
//   stdout line 1:  "LISTENING <port>"
//   then one JSON object per line: {"event": "connect"|"pdu"|"close"|"error"|...}.
//   A "pdu" line carries dir ("in" = from the ESME, "out" = written by us), the
//   session number, the header, the decoded fields and the raw PDU as hex.
//   stdin (optional): one JSON command per line, see handleCommand().
//
// Usage: node smsc.js [--host 127.0.0.1] [--port 0] [--system-id ID] [--password PW]
//          [--message-id-format hex|decimal] [--receipt-delay-ms N]
//          [--receipt-stat DELIVRD] [--receipt-err 000] [--receipt-on-tx]
//          [--receipt-retries N] [--receipt-retry-ms N] [--enquire-link-ms N]
//          [--reject-every N] [--reject-status 0x58]
'use strict';

const smpp = require('smpp');

// ---------------------------------------------------------------- options
const opts = {
	host: '127.0.0.1',
	port: 0,
	systemId: null,      // null: any system_id is accepted
	password: null,      // null: any password is accepted
	messageIdFormat: 'hex',
	receiptDelayMs: 0,
	receiptStat: 'DELIVRD',
	receiptErr: '000',
	receiptOnTx: false,  // some carriers send receipts on transmitter binds
	receiptRetries: 0,   // re-send a receipt answered with a non-zero status
	receiptRetryMs: 1000,
	enquireLinkMs: 0,    // 0: the SMSC never originates enquire_link
	rejectEvery: 0,      // N > 0: every Nth submit_sm is answered with rejectStatus
	rejectStatus: 0x58,  // ESME_RTHROTTLED; 0x14 ESME_RMSGQFUL, 0x08 ESME_RSYSERR, ...
};

const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const flag = argv[i];
	const value = () => {
		if (i + 1 >= argv.length) {
			fail('missing value for ' + flag);
		}
		return argv[++i];
	};
	switch (flag) {
	case '--host': opts.host = value(); break;
	case '--port': opts.port = parseInt(value(), 10); break;
	case '--system-id': opts.systemId = value(); break;
	case '--password': opts.password = value(); break;
	case '--message-id-format': opts.messageIdFormat = value(); break;
	case '--receipt-delay-ms': opts.receiptDelayMs = parseInt(value(), 10); break;
	case '--receipt-stat': opts.receiptStat = value(); break;
	case '--receipt-err': opts.receiptErr = value(); break;
	case '--receipt-on-tx': opts.receiptOnTx = true; break;
	case '--receipt-retries': opts.receiptRetries = parseInt(value(), 10); break;
	case '--receipt-retry-ms': opts.receiptRetryMs = parseInt(value(), 10); break;
	case '--enquire-link-ms': opts.enquireLinkMs = parseInt(value(), 10); break;
	case '--reject-every': opts.rejectEvery = parseInt(value(), 10); break;
	case '--reject-status': opts.rejectStatus = parseInt(value()); break;  // accepts 0x..
	default: fail('unknown option ' + flag);
	}
}
if (!(opts.rejectStatus > 0) || !(opts.rejectEvery >= 0)) {
	fail('--reject-status must be a non-zero status and --reject-every >= 0');
}
if (!['hex', 'decimal'].includes(opts.messageIdFormat)) {
	fail('--message-id-format must be hex or decimal');
}

function fail(message) {
	process.stderr.write('smsc.js: ' + message + '\n');
	process.exit(2);
}

// ---------------------------------------------------------------- logging
// Raw bytes are captured before node-smpp decodes them: its decoder replaces
// short_message by {message, udh} and applies its own idea of data_coding
// (it reads DCS 0 as GSM 03.38), so tests that check encodings need the wire.
const originalFromBuffer = smpp.PDU.prototype.fromBuffer;
smpp.PDU.prototype.fromBuffer = function(buffer) {
	Object.defineProperty(this, 'rawHex', {
		value: buffer.toString('hex'), enumerable: false, writable: true,
	});
	return originalFromBuffer.call(this, buffer);
};

function plain(value) {
	if (Buffer.isBuffer(value)) {
		return {hex: value.toString('hex')};
	}
	if (value instanceof Date) {
		// A malformed SMPP time decodes to an invalid Date; toISOString would throw.
		return isNaN(value.getTime()) ? 'invalid date' : value.toISOString();
	}
	if (Array.isArray(value)) {
		return value.map(plain);
	}
	if (value && typeof value === 'object') {
		const out = {};
		for (const key of Object.keys(value)) {
			out[key] = plain(value[key]);
		}
		return out;
	}
	return value;
}

const HEADER = new Set(['command', 'command_length', 'command_id', 'command_status', 'sequence_number']);

function emit(record) {
	record.ts = Date.now() / 1000;
	// process.stdout is synchronous for files on POSIX: lines are never torn
	// or reordered, and a crash loses none.
	process.stdout.write(JSON.stringify(record) + '\n');
}

function logPdu(dir, session, pdu, raw) {
	const fields = {};
	for (const key of Object.keys(pdu)) {
		if (!HEADER.has(key)) {
			fields[key] = plain(pdu[key]);
		}
	}
	emit({
		event: 'pdu', dir: dir, session: session.number, command: pdu.command,
		command_id: pdu.command_id, command_status: pdu.command_status,
		sequence_number: pdu.sequence_number, fields: fields,
		hex: raw === undefined ? (pdu.rawHex || null) : raw,
	});
}

// ---------------------------------------------------------------- state
const BIND_MODES = {bind_transmitter: 'tx', bind_receiver: 'rx', bind_transceiver: 'trx'};
// SMPP 3.4 section 5.2.28: message_state values.
const MESSAGE_STATE = {
	ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};
if (!(opts.receiptStat in MESSAGE_STATE)) {
	fail('--receipt-stat must be one of ' + Object.keys(MESSAGE_STATE).join(' '));
}

const sessions = new Set();
let sessionCounter = 0;
let submitCounter = 0;
// Unique per process and unlikely to repeat across restarts: tests that match
// receipts to submits must never see an id twice.
let messageCounter = Math.floor(Date.now() / 1000) % 100000 * 100000;

function nextMessageId() {
	messageCounter += 1;
	return opts.messageIdFormat === 'hex' ? messageCounter.toString(16) : String(messageCounter);
}

function send(session, pdu, callback) {
	// session.send() numbers and encodes the PDU synchronously and hands the
	// bytes to the socket; the line is logged in the same tick, so at worst
	// microseconds after the peer could read it (tests wait for "out" lines).
	const ok = session.send(pdu, undefined, callback);
	if (ok) {
		logPdu('out', session, pdu, pdu.toBuffer().toString('hex'));
	} else {
		emit({event: 'dropped', session: session.number, command: pdu.command, reason: 'socket not writable'});
	}
	return ok;
}

// ---------------------------------------------------------------- receipts
function yymmddhhmm(date) {
	const two = (n) => String(n).padStart(2, '0');
	return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
		two(date.getUTCHours()) + two(date.getUTCMinutes());
}

function receiptTarget(origin) {
	// A receipt goes to a receiver or transceiver bind of the same system_id,
	// preferring the bind the submit came in on (SMPP 3.4 section 2.3).
	if (origin.bound && (origin.mode !== 'tx' || opts.receiptOnTx)) {
		return origin;
	}
	for (const other of sessions) {
		if (other.bound && other.systemId === origin.systemId && other.mode !== 'tx') {
			return other;
		}
	}
	return null;
}

function sendReceipt(origin, submit, messageId, submitDate, attempt) {
	const target = receiptTarget(origin);
	if (!target) {
		emit({event: 'receipt_undeliverable', session: origin.number, message_id: messageId});
		return;
	}
	const text = submit.short_message && typeof submit.short_message.message === 'string'
		? submit.short_message.message : '';
	const dlvrd = opts.receiptStat === 'DELIVRD' ? '001' : '000';
	// SMPP 3.4 Appendix B: the receipt text. The "text:" field carries the first
	// 20 characters of the original message; ASCII only here.
	const body = 'id:' + messageId + ' sub:001 dlvrd:' + dlvrd +
		' submit date:' + yymmddhhmm(submitDate) + ' done date:' + yymmddhhmm(new Date()) +
		' stat:' + opts.receiptStat + ' err:' + opts.receiptErr +
		' text:' + text.slice(0, 20).replace(/[^\x20-\x7e]/g, '?');
	const pdu = new smpp.PDU('deliver_sm', {
		source_addr_ton: submit.dest_addr_ton,
		source_addr_npi: submit.dest_addr_npi,
		source_addr: submit.destination_addr,
		dest_addr_ton: submit.source_addr_ton,
		dest_addr_npi: submit.source_addr_npi,
		destination_addr: submit.source_addr,
		esm_class: 0x04,  // SMPP 3.4 section 5.2.12: SMSC delivery receipt
		// A Buffer with an explicit DCS 0: given a string, node-smpp would pick
		// DCS 1 (IA5) while encoding GSM 03.38 (see docs/interop.md).
		data_coding: 0x00,
		short_message: Buffer.from(body, 'ascii'),
		receipted_message_id: messageId,                  // SMPP 3.4 section 5.3.2.12
		message_state: MESSAGE_STATE[opts.receiptStat],   // SMPP 3.4 section 5.3.2.35
	});
	if (send(target, pdu)) {
		// session.send() numbers the PDU synchronously, before the bytes leave.
		target.pendingReceipts.set(pdu.sequence_number, {origin, submit, messageId, submitDate, attempt});
	}
}

// ---------------------------------------------------------------- sessions
function respond(session, pdu, options, callback) {
	return send(session, pdu.response(options || {}), callback);
}

function onBind(session, pdu) {
	if (session.bound) {
		return respond(session, pdu, {command_status: smpp.ESME_RALYBND});
	}
	if (opts.systemId !== null && pdu.system_id !== opts.systemId) {
		return respond(session, pdu, {command_status: smpp.ESME_RINVSYSID});
	}
	if (opts.password !== null && pdu.password !== opts.password) {
		return respond(session, pdu, {command_status: smpp.ESME_RINVPASWD});
	}
	session.bound = true;
	session.mode = BIND_MODES[pdu.command];
	session.systemId = pdu.system_id;
	emit({event: 'bound', session: session.number, mode: session.mode, system_id: pdu.system_id});
	return respond(session, pdu, {system_id: 'nodesmsc'});
}

function onSubmit(session, pdu) {
	// SMPP 3.4 section 4.4.1: submit_sm only on a transmitter or transceiver bind.
	if (!session.bound || session.mode === 'rx') {
		return respond(session, pdu, {command_status: smpp.ESME_RINVBNDSTS});
	}
	submitCounter += 1;
	if (opts.rejectEvery > 0 && submitCounter % opts.rejectEvery === 0) {
		// SMPP 3.4 section 4.4.2: an error submit_sm_resp carries no body.
		return respond(session, pdu, {command_status: opts.rejectStatus});
	}
	const messageId = nextMessageId();
	const submitDate = new Date();
	respond(session, pdu, {message_id: messageId}, function() {
		// SMPP 3.4 section 5.2.17: bits 0-1 of registered_delivery ask for a
		// receipt on success and/or failure; 1 = both, 2 = failure only.
		const wanted = pdu.registered_delivery & 0x03;
		const failed = opts.receiptStat !== 'DELIVRD';
		if (wanted === 1 || (wanted === 2 && failed)) {
			setTimeout(sendReceipt, opts.receiptDelayMs, session, pdu, messageId, submitDate, 0);
		}
	});
}

function onDeliverResp(session, pdu) {
	const pending = session.pendingReceipts.get(pdu.sequence_number);
	session.pendingReceipts.delete(pdu.sequence_number);
	if (pending && pdu.command_status !== 0 && pending.attempt < opts.receiptRetries) {
		emit({event: 'receipt_retry', session: session.number, message_id: pending.messageId,
			status: pdu.command_status});
		setTimeout(sendReceipt, opts.receiptRetryMs, pending.origin, pending.submit,
			pending.messageId, pending.submitDate, pending.attempt + 1);
	}
}

function onPdu(session, pdu) {
	logPdu('in', session, pdu);
	switch (pdu.command) {
	case 'bind_transmitter':
	case 'bind_receiver':
	case 'bind_transceiver':
		return onBind(session, pdu);
	case 'submit_sm':
		return onSubmit(session, pdu);
	case 'enquire_link':
		return respond(session, pdu);
	case 'unbind':
		session.bound = false;
		return respond(session, pdu, {}, function() { session.close(); });
	case 'deliver_sm_resp':
		return onDeliverResp(session, pdu);
	case 'unbind_resp':
		return session.close();
	default:
		if (!pdu.isResponse()) {
			// Unknown ids get generic_nack from node-smpp's response(); known but
			// unsupported requests get their own *_resp with ESME_RINVCMDID.
			return respond(session, pdu, {command_status: smpp.ESME_RINVCMDID});
		}
	}
}

const server = smpp.createServer(function(session) {
	session.number = ++sessionCounter;
	session.bound = false;
	session.mode = null;
	session.systemId = null;
	session.pendingReceipts = new Map();
	sessions.add(session);
	const remote = session.socket.remoteAddress + ':' + session.socket.remotePort;
	emit({event: 'connect', session: session.number, peer: remote});
	let timer = null;
	if (opts.enquireLinkMs > 0) {
		timer = setInterval(function() {
			if (session.bound) {
				send(session, new smpp.PDU('enquire_link'));
			}
		}, opts.enquireLinkMs);
	}
	session.on('pdu', function(pdu) {
		try {
			onPdu(session, pdu);
		} catch (err) {
			// A bug or a PDU node-smpp half-decoded must not kill the SMSC
			// under a running test: record it; tests fail on what is missing.
			emit({event: 'error', session: session.number, message: String(err && err.stack)});
		}
	});
	session.on('error', function(err) {
		// node-smpp raises here for PDUs over 16384 bytes and socket errors.
		emit({event: 'error', session: session.number, message: String(err && err.message)});
		session.destroy();
	});
	session.on('close', function() {
		if (timer) {
			clearInterval(timer);
		}
		sessions.delete(session);
		emit({event: 'close', session: session.number});
	});
});

// ---------------------------------------------------------------- control
// One JSON command per stdin line, for tests that need the SMSC to act first:
//   {"op": "deliver_sm", "session": N, "fields": {...}}   MO or a hand-made receipt
//   {"op": "unbind", "session": N}                          SMSC-initiated unbind
//   {"op": "close", "session": N}                           drop the TCP connection
// "session" may be omitted: the command then goes to every bound session.
function handleCommand(line) {
	let command;
	try {
		command = JSON.parse(line);
	} catch (err) {
		return emit({event: 'bad_command', line: line});
	}
	const targets = [...sessions].filter((s) => s.bound &&
		(command.session === undefined || s.number === command.session));
	for (const session of targets) {
		if (command.op === 'deliver_sm') {
			const fields = Object.assign({}, command.fields || {});
			if (typeof fields.short_message_hex === 'string') {
				fields.short_message = Buffer.from(fields.short_message_hex, 'hex');
				delete fields.short_message_hex;
			}
			send(session, new smpp.PDU('deliver_sm', fields));
		} else if (command.op === 'unbind') {
			send(session, new smpp.PDU('unbind'));
		} else if (command.op === 'close') {
			session.destroy();
		} else {
			return emit({event: 'bad_command', line: line});
		}
	}
	emit({event: 'command_done', op: command.op, sessions: targets.map((s) => s.number)});
}

let stdinBuffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', function(chunk) {
	stdinBuffer += chunk;
	let newline;
	while ((newline = stdinBuffer.indexOf('\n')) >= 0) {
		const line = stdinBuffer.slice(0, newline).trim();
		stdinBuffer = stdinBuffer.slice(newline + 1);
		if (line) {
			handleCommand(line);
		}
	}
});
// stdin closed (or /dev/null): keep serving; the harness stops us with SIGTERM.
process.stdin.on('error', function() {});

for (const signal of ['SIGTERM', 'SIGINT']) {
	process.on(signal, function() {
		for (const session of sessions) {
			session.destroy();
		}
		server.close();
		process.exit(0);
	});
}

server.on('error', function(err) {
	fail('cannot listen on ' + opts.host + ':' + opts.port + ': ' + err.message);
});
server.listen(opts.port, opts.host, function() {
	process.stdout.write('LISTENING ' + server.address().port + '\n');
});
