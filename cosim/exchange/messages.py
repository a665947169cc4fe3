"""Messages between the DSO and the PLOs, and the message log that lets runs be compared on information volume.

Messages travel through mosaik as plain JSON-able dicts; `wrap`/`sign`/`verify` add and check an envelope
(kind, sender, receiver, round, hour) authenticated by HMAC-SHA256 with per-agent keys. `MessageChannel`
applies deliberate data-quality faults (loss, delay, duplication, tampering) reproducibly, so the value of
information and the cost of bad data can be studied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cosim.errors import InputError
from cosim.textio import to_jsonable

MESSAGE_KINDS = ("offer", "schedule", "signal")
"""Kinds the built-in modes send; a user's mode may add its own (any Python identifier)."""


@dataclass(frozen=True)
class MessageRecord:
    """One logged message: simulated hour, who to whom, what kind, and its payload size in bytes (JSON)."""

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
    return len(json.dumps(to_jsonable(payload), separators=(",", ":")))


def wrap(kind: str, sender: str, receiver: str, payload: dict[str, Any], round_: int = 0) -> dict[str, Any]:
    if not isinstance(kind, str) or not kind.isidentifier():
        raise InputError(f"message kind must be an identifier such as {', '.join(MESSAGE_KINDS)}; got {kind!r}")
    return {"kind": kind, "sender": sender, "receiver": receiver, "round": round_, "payload": to_jsonable(payload)}


@dataclass(frozen=True)
class ChannelFaults:
    """Deliberate data-quality faults of the DSO<->PLO link, each a probability per message.

    loss: the message never arrives; duplicate: it arrives twice; tamper: its payload is altered in transit
    (after signing, so authentication rejects it); delay: it misses the day-ahead gate (the receiver works
    with what it had before).
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


def canonical(message: dict[str, Any]) -> bytes:
    """The signed part of a message as canonical JSON (sorted keys, no spaces)."""
    body = {k: message[k] for k in ("kind", "sender", "receiver", "round", "hour", "payload")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(message: dict[str, Any], key: str) -> dict[str, Any]:
    """Add an HMAC-SHA256 of the message under the sender's key."""
    message["mac"] = hmac.new(key.encode(), canonical(message), hashlib.sha256).hexdigest()
    return message


def verify(message: Any, receiver: str, keys: dict[str, str]) -> str | None:
    """None when `message` is a well-formed message for `receiver`, signed by its sender's key; else why not."""
    if not isinstance(message, dict) or not {"kind", "sender", "receiver", "round", "hour", "payload"} <= set(message):
        return "malformed message"
    if message["receiver"] != receiver:
        return f"addressed to {message['receiver']!r}, not {receiver!r}"
    key = keys.get(message["sender"])
    if key is None:
        return f"unknown sender {message['sender']!r}"
    expected = hmac.new(key.encode(), canonical(message), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(message.get("mac", ""))):
        return f"bad signature from {message['sender']!r}"
    return None


def agent_keys(names: list[str], seed: int, secret: str | None = None) -> dict[str, str]:
    """One key per agent. With `secret` (from the scenario) keys are derived from it; else from the seed."""
    root = (secret or f"cosim-seed-{seed}").encode()
    return {name: hmac.new(root, name.encode(), hashlib.sha256).hexdigest() for name in names}


class MessageChannel:
    """Signs, sends (with the configured faults) and logs one agent's messages. Seeded: same seed, same faults."""

    def __init__(self, owner: str, faults: ChannelFaults | float = 0.0, seed: int = 0, key: str | None = None) -> None:
        self.owner = owner
        self.faults = faults if isinstance(faults, ChannelFaults) else ChannelFaults(loss=float(faults))
        self.key = key
        self._rng = np.random.default_rng([seed, sum(map(ord, owner))])
        self.records: list[MessageRecord] = []

    def _happens(self, probability: float) -> bool:
        return probability > 0 and self._rng.random() < probability

    def send(self, hour: int, kind: str, receiver: str, payload: dict[str, Any], round_: int = 0,
             summary: str = "") -> list[dict[str, Any]]:
        """Log the message and return what reaches the receiver: [], [message] or [message, message]."""
        message = wrap(kind, self.owner, receiver, payload, round_)
        message["hour"] = int(hour)
        if self.key is not None:
            sign(message, self.key)
        fate = "delivered"
        if self._happens(self.faults.loss):
            fate = "lost"
        elif self._happens(self.faults.delay):
            fate = "delayed"
        elif self._happens(self.faults.tamper):
            fate = "tampered"
            message = json.loads(json.dumps(message))
            message["payload"] = _tamper(message["payload"])
        copies = 2 if fate != "lost" and self._happens(self.faults.duplicate) else 1
        self.records.append(MessageRecord(hour, self.owner, receiver, kind, round_, payload_size(message["payload"]),
                                          fate != "lost", summary if fate == "delivered" else f"{summary} [{fate}]"))
        if fate == "lost":
            return []
        if fate == "delayed":
            message["delayed"] = True
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
