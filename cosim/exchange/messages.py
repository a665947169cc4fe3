"""Messages between the DSO and the PLOs, and the message log that lets runs be compared on information volume.

Messages travel through mosaik as plain JSON-able dicts: an envelope (kind, sender, receiver, hour, round, a
random nonce, the `delayed` flag, the payload) and, with authentication on, `sig`: the sender's Ed25519
signature of everything else in the envelope (`cosim.exchange.keys`). `MessageChannel` signs and sends, with
deliberate data-quality faults (loss, delay, duplication, tampering) drawn reproducibly, so the value of
information and the cost of bad data can be studied. `Inbox` is the receiving side: it checks the envelope,
the addressee, the signature, the hour and round (stale messages) and the nonce (duplicates and replays).

A delayed message is one its sender sent after the day-ahead gate: the sender's channel decides it and marks
it *before* signing, so the flag is inside the signature. Someone on the path can neither mark a genuine
message late to have it set aside (the signature breaks: "bad signature", logged as an attack) nor unmark a
late one; holding a message back for real makes it arrive in a later hour, where it is stale.

"hour" (the envelope's field, a record's, an `HourLog`'s) is the simulation's step index, the mosaik time: the hour
itself at 60-minute steps, a quarter hour at 15 (the recorder writes the step's start in hours).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosim.errors import InputError
from cosim.exchange.keys import AgentKeys, load_key_file, new_key_ring
from cosim.textio import to_jsonable

MESSAGE_KINDS = ("offer", "schedule", "signal")
"""Kinds the built-in modes send; a user's mode may add its own (any Python identifier)."""


@dataclass(frozen=True)
class MessageRecord:
    """One logged message: its step (mosaik time), who to whom, what kind, and its payload size in bytes (JSON)."""

    hour: int
    sender: str
    receiver: str
    kind: str
    round: int
    size_bytes: int
    delivered: bool
    summary: str = ""

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def payload_size(payload: Any) -> int:
    """Size of a payload in bytes as compact JSON: the volume a real link would carry."""
    return len(_compact_json(to_jsonable(payload)))


def _compact_json(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) of a JSON-able value; its length is the compact size whatever the
    key order, so one encoding serves both the signature and the message log."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


ENVELOPE = ("kind", "sender", "receiver", "hour", "round", "nonce", "delayed", "payload")
"""The fields of every message; with authentication, `sig` signs all of them."""
NONCE_HEX = 32  # 16 random bytes
_BEFORE_PAYLOAD = tuple(k for k in sorted(ENVELOPE) if k < "payload")
_AFTER_PAYLOAD = tuple(k for k in sorted(ENVELOPE) if k > "payload")


def wrap(kind: str, sender: str, receiver: str, payload: dict[str, Any], round_: int = 0, hour: int = 0,
         delayed: bool = False) -> dict[str, Any]:
    """A message envelope with a fresh nonce (unsigned)."""
    if not isinstance(kind, str) or not kind.isidentifier():
        raise InputError(f"message kind must be an identifier such as {', '.join(MESSAGE_KINDS)}; got {kind!r}")
    return {"kind": kind, "sender": sender, "receiver": receiver, "hour": int(hour), "round": int(round_),
            "nonce": secrets.token_hex(NONCE_HEX // 2), "delayed": bool(delayed), "payload": to_jsonable(payload)}


@dataclass(frozen=True)
class ChannelFaults:
    """Deliberate data-quality faults of the DSO<->PLO link, each a probability per message.

    loss: the message never arrives; duplicate: it arrives twice; tamper: its payload is altered in transit
    (after signing, so authentication rejects it; without authentication the receiver's payload checks are
    all that stands); delay: it is sent after the day-ahead gate, marked so inside the signature (the
    receiver works with what it had before).
    """

    loss: float = 0.0
    duplicate: float = 0.0
    tamper: float = 0.0
    delay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "tamper", "delay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"exchange fault probability {name} must be in [0, 1], got {value}")


class HourLog:
    """Rows (messages, events) of the current hour, each with a sequence number.

    mosaik may step a recorder once per hour while an agent steps several times in that hour (negotiation
    rounds); emitting the hour's rows so far each time, with `seq`, lets the recorder keep each row once.
    """

    def __init__(self) -> None:
        self.hour: int | None = None
        self.rows: list[dict[str, Any]] = []
        self._seq = 0

    def add(self, hour: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if hour != self.hour:
            self.hour, self.rows = hour, []
        for row in rows:
            self._seq += 1
            self.rows.append({**row, "seq": self._seq})
        return list(self.rows)


def canonical(message: dict[str, Any], payload_json: str | None = None) -> bytes:
    """The signed part of a message, every envelope field but `sig`, as canonical JSON (sorted keys, no spaces).

    `payload_json`: the payload's canonical JSON when the sender has it already (`MessageChannel.send` encodes each
    payload once, for the signature and the logged size); the bytes are the same either way."""
    if payload_json is None:
        return _compact_json({k: message[k] for k in ENVELOPE}).encode()
    before = _compact_json({k: message[k] for k in _BEFORE_PAYLOAD})  # the fields that sort before "payload"
    after = _compact_json({k: message[k] for k in _AFTER_PAYLOAD})
    return f'{before[:-1]},"payload":{payload_json},{after[1:]}'.encode()


def sign(message: dict[str, Any], keys: AgentKeys, payload_json: str | None = None) -> dict[str, Any]:
    """Add `sig`: the Ed25519 signature of the envelope by `keys`' owner (`payload_json`: see `canonical`)."""
    message["sig"] = keys.sign(canonical(message, payload_json))
    return message


def check_envelope(message: Any, signed: bool) -> str | None:
    """None when `message` has exactly the envelope's fields (and `sig` when `signed`) with the right types."""
    if not isinstance(message, dict):
        return f"malformed message: a {type(message).__name__}, not an envelope"
    fields = set(ENVELOPE) | ({"sig"} if signed else set())
    missing, extra = sorted(fields - set(message), key=str), sorted(set(message) - fields - {"sig"}, key=str)
    if missing or extra:
        return "malformed message: " + "; ".join(
            ([f"missing {', '.join(map(str, missing))}"] if missing else [])
            + ([f"unexpected field(s) {', '.join(map(repr, extra))}"] if extra else []))
    if not isinstance(message["kind"], str) or not message["kind"].isidentifier():
        return f"malformed message: kind {message['kind']!r}"
    for name in ("sender", "receiver"):
        if not isinstance(message[name], str) or not message[name]:
            return f"malformed message: {name} {message[name]!r}"
    for name in ("hour", "round"):
        value = message[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"malformed message: {name} {value!r}"
    nonce = message["nonce"]
    if not isinstance(nonce, str) or len(nonce) != NONCE_HEX or any(c not in "0123456789abcdef" for c in nonce):
        return "malformed message: nonce"
    if not isinstance(message["delayed"], bool):
        return f"malformed message: delayed {message['delayed']!r}"
    if not isinstance(message["payload"], dict):
        return f"malformed message: payload is a {type(message['payload']).__name__}, not a table"
    return None


def verify(message: Any, receiver: str, keys: AgentKeys | None) -> str | None:
    """None when `message` is a well-formed message for `receiver` (signed by its sender when `keys` are given:
    the receiver's own `AgentKeys`, holding the public keys of those it hears); else why not."""
    problem = check_envelope(message, signed=keys is not None)
    if problem is not None:
        return problem
    if message["receiver"] != receiver:
        return f"addressed to {message['receiver']!r}, not {receiver!r}"
    if keys is None:
        return None
    if message["sender"] not in keys.public:
        return f"unknown sender {message['sender']!r}"
    try:
        body = canonical(message)
    except (TypeError, ValueError):  # a payload JSON cannot carry (objects, bad keys): nobody signed this
        return f"bad signature from {message['sender']!r}"
    return keys.verify(message["sender"], body, message["sig"])


class Inbox:
    """The receiving side of one agent: every arriving message is checked, in this order, and the first problem
    is the verdict (an event name and a detail; None = admitted):

    1. "rejected message": malformed envelope, another addressee, unknown sender, bad signature;
    2. "duplicate message": a nonce already admitted in the same hour (the channel's duplicate, or a copy
       replayed within the hour); "replayed message": a nonce admitted in an earlier hour;
    3. "stale message": an hour other than the receiver's current one, or a round before the one the receiver
       is at (an old message held back or replayed after its nonce was forgotten); a round ahead of the
       negotiation is "rejected message".

    "hour" is the simulation's step index (the mosaik time: one step of `step_minutes`). Nonces are remembered for
    two to four days (`REMEMBER_HOURS` x `steps_per_hour` steps, the same wall time at any step); older messages are
    stale by their step anyway. The payload is checked by the agent afterwards (`cosim.exchange.payloads`), as it
    knows the schema of each kind.
    """

    REMEMBER_HOURS = 48

    def __init__(self, owner: str, keys: AgentKeys | None, steps_per_hour: int = 1) -> None:
        self.owner = owner
        self.keys = keys
        self.remember_steps = self.REMEMBER_HOURS * int(steps_per_hour)  # the replay window, in steps
        self._nonces: dict[str, int] = {}  # nonce -> step it was first admitted
        self._pruned_hour = 0

    def check(self, message: Any, hour: int, min_round: int = 0, max_round: int | None = None) -> \
            tuple[str, str] | None:
        problem = verify(message, self.owner, self.keys)
        if problem is not None:
            return "rejected message", problem
        sender, kind, nonce = message["sender"], message["kind"], message["nonce"]
        what = f"{kind} from {sender!r} (hour {message['hour']}, round {message['round']})"
        self._forget(hour)
        first = self._nonces.get(nonce)
        if first is not None:
            if first == hour:
                return "duplicate message", f"{what}: already received this hour; dropped"
            return "replayed message", f"{what}: already received at hour {first}; replay dropped"
        self._nonces[nonce] = hour
        if message["hour"] != hour:
            return "stale message", f"{what} arrived at hour {hour}; dropped"
        if message["round"] < min_round:
            return "stale message", f"{what}: the negotiation is at round {min_round}; dropped"
        if max_round is not None and message["round"] > max_round:
            return "rejected message", f"{what}: ahead of the negotiation (round {max_round})"
        return None

    def _forget(self, hour: int) -> None:
        if hour - self._pruned_hour >= self.remember_steps:
            self._nonces = {n: h for n, h in self._nonces.items() if h > hour - self.remember_steps}
            self._pruned_hour = hour


def agent_key_ring(names: list[str], key_file: str | Path | None = None) -> dict[str, AgentKeys]:
    """One `AgentKeys` per agent: fresh from the OS's randomness, or loaded from the user's `key_file`."""
    return load_key_file(key_file, names) if key_file is not None else new_key_ring(names)


class MessageChannel:
    """Signs, sends (with the configured faults) and logs one agent's messages. Seeded: same seed, same faults."""

    def __init__(self, owner: str, faults: ChannelFaults | float = 0.0, seed: int = 0,
                 keys: AgentKeys | None = None) -> None:
        if keys is not None and keys.owner != owner:
            raise ValueError(f"channel of {owner!r} given the keys of {keys.owner!r}")
        self.owner = owner
        self.faults = faults if isinstance(faults, ChannelFaults) else ChannelFaults(loss=float(faults))
        self.keys = keys
        self._rng = np.random.default_rng([seed, sum(map(ord, owner))])
        self.records: list[MessageRecord] = []

    def _happens(self, probability: float) -> bool:
        return probability > 0 and self._rng.random() < probability

    def send(self, hour: int, kind: str, receiver: str, payload: dict[str, Any], round_: int = 0,
             summary: str = "") -> list[dict[str, Any]]:
        """Log the message and return what reaches the receiver: [], [message] or [message, message].

        The fate is drawn first, so that a message sent after the gate is marked `delayed` before it is signed."""
        fate = "delivered"
        if self._happens(self.faults.loss):
            fate = "lost"
        elif self._happens(self.faults.delay):
            fate = "delayed"
        elif self._happens(self.faults.tamper):
            fate = "tampered"
        message = wrap(kind, self.owner, receiver, payload, round_, hour, delayed=fate == "delayed")
        payload_json = _compact_json(message["payload"])  # once: the signature's bytes and the logged size
        if self.keys is not None:
            sign(message, self.keys, payload_json)
        if fate == "tampered":
            message = json.loads(json.dumps(message))
            message["payload"] = _tamper(message["payload"])
            size = payload_size(message["payload"])  # the logged size: what travelled
        else:
            size = len(payload_json)
        copies = 2 if fate != "lost" and self._happens(self.faults.duplicate) else 1
        self.records.append(MessageRecord(hour, self.owner, receiver, kind, round_, size,
                                          fate != "lost", summary if fate == "delivered" else f"{summary} [{fate}]"))
        if fate == "lost":
            return []
        return [message] * copies

    def drain(self) -> list[dict[str, Any]]:
        """Return and forget the records logged since the last drain (as plain rows)."""
        rows = [r.as_row() for r in self.records]
        self.records.clear()
        return rows


def _tamper(payload: Any) -> Any:
    """Double every number in a payload (an attacker inflating what a PLO offers or the DSO asks)."""
    if isinstance(payload, dict):
        return {k: _tamper(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_tamper(v) for v in payload]
    if isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return payload * 2
    return payload
