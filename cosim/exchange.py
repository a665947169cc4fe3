"""Messages between the DSO and the PLOs, and the message log that lets runs be compared on information volume.

Messages travel through mosaik as plain JSON-able dicts; `wrap`/`unwrap` add and check an envelope
(kind, sender, receiver, round). `MessageChannel` applies deliberate data-quality faults (loss, corruption)
reproducibly, so the value of information can be studied.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MESSAGE_KINDS = ("offer", "schedule", "signal", "topology", "ack")


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


def to_jsonable(value: Any) -> Any:
    """numpy arrays/scalars -> lists/floats, recursively (mosaik needs plain JSON types)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else (1e300 if value > 0 else -1e300)
    return value


def payload_size(payload: Any) -> int:
    """Size of a payload in bytes as compact JSON: the volume a real link would carry."""
    return len(json.dumps(to_jsonable(payload), separators=(",", ":")))


def wrap(kind: str, sender: str, receiver: str, payload: dict[str, Any], round_: int = 0) -> dict[str, Any]:
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"unknown message kind {kind!r}; allowed: {', '.join(MESSAGE_KINDS)}")
    return {"kind": kind, "sender": sender, "receiver": receiver, "round": round_, "payload": to_jsonable(payload)}


class MessageChannel:
    """Delivers messages with optional loss, logging every attempt. Seeded: same seed, same losses."""

    def __init__(self, owner: str, loss_probability: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= loss_probability <= 1.0:
            raise ValueError(f"loss_probability must be in [0, 1], got {loss_probability}")
        self.owner = owner
        self.loss_probability = loss_probability
        self._rng = np.random.default_rng([seed, sum(map(ord, owner))])
        self.records: list[MessageRecord] = []

    def send(self, hour: int, kind: str, receiver: str, payload: dict[str, Any], round_: int = 0,
             summary: str = "") -> dict[str, Any] | None:
        """Log and return the wrapped message, or None when the channel drops it."""
        message = wrap(kind, self.owner, receiver, payload, round_)
        lost = self.loss_probability > 0 and self._rng.random() < self.loss_probability
        self.records.append(MessageRecord(hour, self.owner, receiver, kind, round_, payload_size(message["payload"]),
                                          not lost, summary))
        return None if lost else message

    def drain(self) -> list[dict[str, Any]]:
        """Return and forget the records logged since the last drain (as plain rows)."""
        rows = [r.as_row() for r in self.records]
        self.records.clear()
        return rows
