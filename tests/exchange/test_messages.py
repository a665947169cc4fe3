"""Message envelope, HMAC authentication and deliberate channel faults."""

import pytest

from cosim.exchange.messages import ChannelFaults, MessageChannel, agent_keys, payload_size, verify

KEYS = agent_keys(["DSO", "PL1", "PL2"], seed=0)


def send(owner="PL1", faults=ChannelFaults(), seed=0, receiver="DSO", payload=None):
    channel = MessageChannel(owner, faults, seed, KEYS[owner])
    return channel, channel.send(3, "offer", receiver, payload or {"lot_id": owner, "x": [1.0, 2.0]})


def test_signed_message_verifies_and_forgeries_do_not():
    _, [msg] = send()
    assert verify(msg, "DSO", KEYS) is None
    assert "not 'PL2'" in verify(msg, "PL2", KEYS)
    forged = dict(msg, sender="PL2")  # PL1 pretending to be PL2
    assert "bad signature" in verify(forged, "DSO", KEYS)
    assert "unknown sender" in verify(dict(msg, sender="X"), "DSO", KEYS)
    assert verify({"kind": "offer"}, "DSO", KEYS) == "malformed message"
    edited = dict(msg, payload={"lot_id": "PL1", "x": [9.0]})
    assert "bad signature" in verify(edited, "DSO", KEYS)


def test_keys_differ_per_agent_and_follow_the_secret():
    assert len(set(KEYS.values())) == 3
    assert agent_keys(["PL1"], 0, "s")["PL1"] != agent_keys(["PL1"], 0)["PL1"]
    assert agent_keys(["PL1"], 1) != agent_keys(["PL1"], 0)


@pytest.mark.parametrize("fault, check", [
    ("loss", lambda out, rec: out == [] and not rec["delivered"]),
    ("duplicate", lambda out, rec: len(out) == 2 and out[0] == out[1]),
    ("delay", lambda out, rec: out[0]["delayed"] and "[delayed]" in rec["summary"]),
    ("tamper",
     lambda out, rec: "bad signature" in verify(out[0], "DSO", KEYS) and out[0]["payload"]["x"] == [2.0, 4.0]),
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
