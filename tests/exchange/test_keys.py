"""Per-agent Ed25519 keys: fresh from the OS's randomness, each agent with only its own private key, key files."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosim.exchange import keys as keys_module
from cosim.exchange.keys import AgentKeys, KeyFileError, load_key_file, new_key_ring, write_key_file

NAMES = ["DSO", "PL1", "PL2"]


def private_hex(keys: AgentKeys) -> str:
    return keys.params()["private_key"]


def test_rings_are_fresh_and_every_agent_has_its_own_key():
    a, b = new_key_ring(NAMES), new_key_ring(NAMES)
    assert len({private_hex(k) for k in a.values()}) == 3
    assert all(private_hex(a[n]) != private_hex(b[n]) for n in NAMES)  # no seed, no fixed key: new each run
    assert set(a["PL1"].public) == set(NAMES)


def test_keys_come_from_the_operating_systems_randomness(monkeypatch):
    drawn = []

    def token_bytes(n):
        drawn.append(os.urandom(n))
        return drawn[-1]

    monkeypatch.setattr(keys_module.secrets, "token_bytes", token_bytes)
    ring = new_key_ring(NAMES)
    assert [bytes.fromhex(private_hex(ring[n])) for n in NAMES] == drawn


def test_an_agent_holds_only_its_own_private_key_and_prints_none():
    ring = new_key_ring(NAMES)
    plo = ring["PL1"].hearing(["DSO"])
    assert set(plo.public) == {"DSO", "PL1"}
    params = plo.params()
    assert set(params) == {"owner", "private_key", "public_keys"} and params["owner"] == "PL1"
    assert params["private_key"] == private_hex(ring["PL1"])
    assert all(private_hex(ring[n]) not in str(params) for n in ("DSO", "PL2"))  # nobody else's private key
    text = repr(plo) + str(plo)
    assert "<hidden>" in text and private_hex(ring["PL1"]) not in text


def test_params_round_trip_and_sign_the_same():
    ring = new_key_ring(NAMES)
    again = AgentKeys.from_params(ring["DSO"].params())
    signature = again.sign(b"hello")
    assert ring["PL1"].verify("DSO", b"hello", signature) is None
    assert ring["PL1"].verify("DSO", b"hello!", signature) == "bad signature from 'DSO'"
    assert ring["PL1"].verify("PL2", b"hello", signature) == "bad signature from 'PL2'"
    assert ring["PL1"].hearing(["DSO"]).verify("PL2", b"hello", signature) == "unknown sender 'PL2'"
    assert AgentKeys.from_params(again) is again


def test_params_whose_public_key_does_not_match_are_refused():
    ring = new_key_ring(NAMES)
    params = ring["PL1"].params()
    params["public_keys"]["PL1"] = params["public_keys"]["PL2"]
    with pytest.raises(ValueError, match="does not match"):
        AgentKeys.from_params(params)
    with pytest.raises(ValueError, match="expected"):
        AgentKeys.from_params({"owner": "PL1"})


# -- key files -------------------------------------------------------------------------------------------------

def test_written_key_file_is_private_and_loads(tmp_path):
    path = write_key_file(tmp_path / "keys.toml", NAMES)
    assert path.stat().st_mode & 0o777 == 0o600
    ring = load_key_file(path, NAMES)
    assert sorted(ring) == sorted(NAMES)
    assert ring["PL1"].verify("DSO", b"x", ring["DSO"].sign(b"x")) is None
    again = load_key_file(path, NAMES)  # the same keys every time: reproducible identities
    assert private_hex(again["DSO"]) == private_hex(ring["DSO"])
    with pytest.raises(FileExistsError):
        write_key_file(path, NAMES)  # never overwrites keys


def test_pem_keys_are_accepted(tmp_path):
    """Keys as `openssl genpkey -algorithm ed25519` writes them (PKCS#8 PEM) in TOML multi-line strings."""
    generated = {n: Ed25519PrivateKey.generate() for n in NAMES}
    pems = {n: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode() for n, k in generated.items()}
    path = tmp_path / "keys.toml"
    path.write_text("[keys]\n" + "".join(f"{n} = '''\n{pem}'''\n" for n, pem in pems.items()))
    path.chmod(0o600)
    ring = load_key_file(path, NAMES)
    expected = {n: k.private_bytes_raw().hex() for n, k in generated.items()}
    assert {n: private_hex(k) for n, k in ring.items()} == expected


def _file(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_a_key_file_others_can_read_is_refused(tmp_path, mode):
    path = write_key_file(tmp_path / "keys.toml", NAMES)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key_file(path, NAMES)


def test_bad_key_files_are_refused_without_showing_a_key(tmp_path):
    good = write_key_file(tmp_path / "good.toml", NAMES)
    text = good.read_text()
    secrets_in_file = [line.split('"')[3] for line in text.splitlines() if line.startswith('"')]
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    cases = {
        "no key for agent(s) ['PL3']": (text, NAMES + ["PL3"]),
        "not in this run": (text, ["DSO", "PL1"]),
        "two agents share a key": (text.replace(secrets_in_file[2], secrets_in_file[1]), NAMES),
        "not a readable unencrypted Ed25519": (text.replace(secrets_in_file[0], "00" * 31), NAMES),
        "not an Ed25519 private key": (text.replace(f'"{secrets_in_file[0]}"', f"'''\n{ec_pem}'''"), NAMES),
        "not valid TOML": ("[keys\n", NAMES),
        "one [keys] table": ("[other]\nDSO = 'x'\n", NAMES),
    }
    for why, (content, names) in cases.items():
        path = _file(tmp_path, content)
        with pytest.raises(KeyFileError) as info:
            load_key_file(path, names)
        assert why in str(info.value)
        assert all(s not in str(info.value) for s in secrets_in_file)
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key_file(tmp_path / "missing.toml", NAMES)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key_file(tmp_path, NAMES)
