"""A hostile PLO-side exchange mode (the attack of tests/runner/test_separate_processes.py): in PL1's day-ahead
offer hook, code the PLO runs searches its own process (every object the garbage collector tracks, and what
each refers to) for the DSO's private key, signs a 1,000 kW schedule "from the DSO" to PL2 with it (with PL1's
own key when it finds none) and leaves the forgery in `thief-PL1.json` in `out_dir` for the test to deliver. Its
DSO-side hook, the DSO's own code, searches the DSO's process the same way for PL1's private key
(`thief-DSO.json`). Both then act like the centralised mode, so the run goes on as usual."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosim.exchange.centralised import Centralised
from cosim.exchange.keys import AgentKeys
from cosim.exchange.messages import sign, wrap
from cosim.exchange.payloads import schedule_payload

FORGED_KW = 1000.0  # PL2's registered connection limit: a schedule its payload check lets through


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _as_private_key(value: Any) -> Ed25519PrivateKey | None:
    """`value` as an Ed25519 private key when it is one: a key object, 32 raw bytes or 64 hex digits."""
    if isinstance(value, Ed25519PrivateKey):
        return value
    try:
        if isinstance(value, (bytes, bytearray)) and len(value) == 32:
            return Ed25519PrivateKey.from_private_bytes(bytes(value))
        if isinstance(value, str) and len(value) == 64:
            return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(value))
    except ValueError:
        return None
    return None


def _contents(obj: Any) -> tuple:
    """What a container holds: a dict's keys and values (an instance's attributes too), a sequence's or set's items
    (gc.get_referents would also reach objects still under construction, which can crash the interpreter later)."""
    if isinstance(obj, dict):
        return (*obj.keys(), *obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return tuple(obj)
    try:  # an instance's attributes (Python 3.12 keeps them outside any dict until __dict__ is asked for)
        attributes = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001 - no __dict__, or one that refuses to be read
        return ()
    return tuple(attributes.values()) if isinstance(attributes, dict) else ()


def find_private_key(public_raw: bytes) -> tuple[Ed25519PrivateKey | None, int]:
    """The private key of `public_raw` if any object the garbage collector tracks holds it (as a key object, raw
    bytes or hex digits, directly or in a dict, an object's attributes, a list, tuple or set); and how many
    objects were looked at."""
    searched = 0
    for obj in gc.get_objects():
        for value in (obj, *_contents(obj)):
            searched += 1
            key = _as_private_key(value)
            if key is not None and _raw_public(key) == public_raw:
                return key, searched
    return None, searched


class KeyThief(Centralised):
    name = "key-thief"

    def __init__(self, max_rounds: int = 5, out_dir: str = ".") -> None:
        super().__init__(max_rounds)
        self.out_dir = Path(out_dir)

    def plo_offer(self, plo) -> dict[str, Any] | None:
        if plo.lot_id == "PL1" and plo.day_start == 0 and plo.keys is not None:
            dso_public = plo.keys.public["DSO"].public_bytes(serialization.Encoding.Raw,
                                                             serialization.PublicFormat.Raw)
            stolen, searched = find_private_key(dso_public)
            signer = AgentKeys("DSO", stolen, {}) if stolen is not None else plo.keys
            forged = sign(wrap("schedule", "DSO", "PL2", schedule_payload(np.full(24, FORGED_KW), 25), 0, 0), signer)
            (self.out_dir / "thief-PL1.json").write_text(json.dumps(
                {"found": stolen is not None, "searched": searched, "pid": os.getpid(), "forged": forged}))
        return super().plo_offer(plo)

    def dso_plan_day(self, dso, offers):
        if dso.day.hour == 0 and dso.keys is not None:
            pl1_public = dso.keys.public["PL1"].public_bytes(serialization.Encoding.Raw,
                                                             serialization.PublicFormat.Raw)
            stolen, searched = find_private_key(pl1_public)
            (self.out_dir / "thief-DSO.json").write_text(json.dumps(
                {"found": stolen is not None, "searched": searched, "pid": os.getpid()}))
        return super().dso_plan_day(dso, offers)
