"""Message envelope, Ed25519 signatures, the receiver's checks (Inbox) and deliberate channel faults."""

import json

import pytest

from cosim.exchange.keys import new_key_ring
from cosim.exchange.messages import (
    ENVELOPE,
    ChannelFaults,
    Inbox,
    MessageChannel,
    canonical,
    payload_size,
    sign,
    verify,
    wrap,
)

KEYS = new_key_ring(["DSO", "PL1", "PL2"])


def send(owner="PL1", faults=ChannelFaults(), seed=0, receiver="DSO", payload=None, hour=3):
    channel = MessageChannel(owner, faults, seed, KEYS[owner])
    return channel, channel.send(hour, "offer", receiver, payload or {"lot_id": owner, "x": [1.0, 2.0]})


def test_signed_message_verifies_and_forgeries_do_not():
    _, [msg] = send()
    assert set(msg) == {*ENVELOPE, "sig"} and len(msg["sig"]) == 128
    assert verify(msg, "DSO", KEYS["DSO"]) is None
    assert "not 'PL2'" in verify(msg, "PL2", KEYS["PL2"])
    forged = dict(msg, sender="PL2")  # PL1 pretending to be PL2
    assert "bad signature from 'PL2'" in verify(forged, "DSO", KEYS["DSO"])
    assert "unknown sender" in verify(dict(msg, sender="X"), "DSO", KEYS["DSO"])
    assert verify({"kind": "offer"}, "DSO", KEYS["DSO"]).startswith("malformed message")
    edited = dict(msg, payload={"lot_id": "PL1", "x": [9.0]})
    assert "bad signature" in verify(edited, "DSO", KEYS["DSO"])


@pytest.mark.parametrize("field, value", [
    ("hour", 4), ("round", 1), ("nonce", "0" * 32), ("delayed", True), ("kind", "signal"), ("receiver", "PL2"),
])
def test_every_envelope_field_is_inside_the_signature(field, value):
    _, [msg] = send(receiver="DSO")
    changed = dict(msg, **{field: value})
    receiver = changed["receiver"]
    assert "bad signature" in verify(changed, receiver, KEYS[receiver])


@pytest.mark.parametrize("change, why", [
    (lambda m: {**m, "hour": -1}, "hour"), (lambda m: {**m, "round": True}, "round"),
    (lambda m: {**m, "nonce": "xyz"}, "nonce"), (lambda m: {**m, "delayed": "yes"}, "delayed"),
    (lambda m: {**m, "payload": [1, 2]}, "payload"), (lambda m: {**m, "kind": "no such"}, "kind"),
    (lambda m: {**m, "extra": 1}, "unexpected field"), (lambda m: [m], "not an envelope"),
])
def test_malformed_envelopes_are_named(change, why):
    _, [msg] = send()
    problem = verify(change(msg), "DSO", KEYS["DSO"])
    assert problem.startswith("malformed message") and why in problem


def test_a_plo_cannot_sign_as_the_dso():
    """PL1 holds only its own private key: whatever it signs "from the DSO" fails with the DSO's public key."""
    forged = sign(wrap("schedule", "DSO", "PL2", {"setpoints_kw": [9999.0] * 24, "bus": None}), KEYS["PL1"])
    assert verify(forged, "PL2", KEYS["PL2"].hearing(["DSO"])) == "bad signature from 'DSO'"


def test_unsigned_messages_pass_only_without_keys():
    msg = wrap("offer", "PL1", "DSO", {"lot_id": "PL1"})
    assert verify(msg, "DSO", None) is None
    assert "missing sig" in verify(msg, "DSO", KEYS["DSO"])


def test_nonces_are_fresh_and_canonical_form_is_stable():
    a, b = wrap("offer", "PL1", "DSO", {"x": 1}), wrap("offer", "PL1", "DSO", {"x": 1})
    assert a["nonce"] != b["nonce"]
    assert canonical(a) == canonical(json.loads(json.dumps(a)))  # survives a JSON round trip


@pytest.mark.parametrize("payload", [
    {"lot_id": "PL1", "x": [1.0, -0.0, 1e300, None], "nested": {"b": 2, "a": "é"}, "flag": True},
    {}, {"zzz": [[1, 2], [3]], "aaa": "\u2028\"quoted\""},
])
def test_the_sender_encodes_each_payload_once_and_signs_the_same_bytes(payload):
    """`send` reuses the payload's canonical JSON for the signature and the logged size: the signed bytes are those
    of the whole envelope encoded at once, and the size is the payload's compact JSON length."""
    channel = MessageChannel("PL1", ChannelFaults(), 0, KEYS["PL1"])
    [msg] = channel.send(5, "offer", "DSO", payload, round_=2)
    [record] = channel.drain()
    assert record["size_bytes"] == len(json.dumps(payload, separators=(",", ":"))) == payload_size(payload)
    whole = json.dumps({k: msg[k] for k in ENVELOPE}, sort_keys=True, separators=(",", ":")).encode()
    spliced = canonical(msg, json.dumps(msg["payload"], sort_keys=True, separators=(",", ":")))
    assert canonical(msg) == spliced == whole
    assert verify(msg, "DSO", KEYS["DSO"]) is None


def test_a_tampered_message_is_logged_at_the_size_of_what_travelled():
    channel = MessageChannel("PL1", ChannelFaults(tamper=1.0), 0, KEYS["PL1"])
    [msg] = channel.send(0, "offer", "DSO", {"lot_id": "PL1", "x": [1.0, 1e300], "n": 3})
    [record] = channel.drain()
    assert msg["payload"]["n"] == 6 and record["size_bytes"] == payload_size(msg["payload"])


def test_inbox_rejects_duplicates_replays_and_stale_messages():
    inbox = Inbox("DSO", KEYS["DSO"])
    _, [msg] = send(hour=0)
    assert inbox.check(msg, 0) is None
    assert inbox.check(msg, 0)[0] == "duplicate message"
    event, detail = inbox.check(msg, 24)
    assert event == "replayed message" and "already received at hour 0" in detail
    _, [old] = send(hour=0)  # never seen: held back and delivered a day later
    event, detail = inbox.check(old, 24)
    assert event == "stale message" and "arrived at hour 24" in detail
    _, [future] = send(hour=30)
    assert inbox.check(future, 24)[0] == "stale message"


def test_inbox_checks_rounds():
    inbox = Inbox("DSO", KEYS["DSO"])
    channel = MessageChannel("PL1", 0.0, 0, KEYS["PL1"])
    [r1] = channel.send(0, "offer", "DSO", {"lot_id": "PL1"}, round_=1)
    [r3] = channel.send(0, "offer", "DSO", {"lot_id": "PL1"}, round_=3)
    event, detail = inbox.check(r1, 0, min_round=2, max_round=2)
    assert event == "stale message" and "round 2" in detail
    assert inbox.check(r3, 0, min_round=2, max_round=2)[0] == "rejected message"


def test_inbox_without_keys_still_catches_duplicates_and_forgets_old_nonces():
    inbox = Inbox("DSO", None)
    msgs = [wrap("offer", "PL1", "DSO", {"lot_id": "PL1"}, 0, h) for h in range(0, 24 * 6, 24)]
    for m in msgs:
        assert inbox.check(m, m["hour"]) is None
        assert inbox.check(m, m["hour"])[0] == "duplicate message"
    assert len(inbox._nonces) <= 3  # two days' worth, not the whole run
    assert inbox.check(msgs[0], 24 * 6)[0] == "stale message"  # forgotten, but stale by its hour


@pytest.mark.parametrize("fault, check", [
    ("loss", lambda out, rec: out == [] and not rec["delivered"]),
    ("duplicate", lambda out, rec: len(out) == 2 and out[0] == out[1]),
    ("delay", lambda out, rec: out[0]["delayed"] and verify(out[0], "DSO", KEYS["DSO"]) is None
     and "[delayed]" in rec["summary"]),
    ("tamper",
     lambda out, rec: "bad signature" in verify(out[0], "DSO", KEYS["DSO"]) and out[0]["payload"]["x"] == [2.0, 4.0]),
])
def test_faults_happen_and_are_logged(fault, check):
    channel, out = send(faults=ChannelFaults(**{fault: 1.0}))
    [record] = channel.drain()
    assert check(out, record)
    assert record["size_bytes"] == payload_size({"lot_id": "PL1", "x": [1.0, 2.0]}) or fault == "tamper"


def test_faults_are_seeded():
    def fates(seed):
        channel = MessageChannel("PL1", ChannelFaults(loss=0.5), seed, KEYS["PL1"])
        return [bool(channel.send(h, "offer", "DSO", {"lot_id": "PL1"})) for h in range(40)]

    assert fates(1) == fates(1)
    assert fates(1) != fates(2)


def test_bad_probability_is_rejected():
    with pytest.raises(ValueError, match="loss must be in"):
        ChannelFaults(loss=1.5)


def test_a_channel_signs_only_with_its_owners_keys():
    with pytest.raises(ValueError, match="given the keys of 'PL1'"):
        MessageChannel("DSO", 0.0, 0, KEYS["PL1"])
