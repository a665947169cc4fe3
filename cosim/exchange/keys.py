"""Per-agent Ed25519 keys: each agent signs with its own private key and checks the others' public keys.

A run's keys are made fresh from the operating system's randomness (`new_key_ring`), or loaded from a key file
the user names in the scenario (`[exchange] key_file`, `load_key_file`). Each agent is handed one `AgentKeys`:
its own private key and the public keys of the agents it listens to, nothing more, so a PLO can sign only as
itself (it cannot sign "as the DSO" or as another lot). Private keys never leave memory: `AgentKeys` prints
without them, and nothing here writes them anywhere except `write_key_file`, which a user calls on purpose.

Key file (TOML, readable by its owner only: chmod 600), one private key per agent, PEM (as
`openssl genpkey -algorithm ed25519` writes it) or 64 hex digits (the raw 32-byte key)::

    [keys]
    DSO = '''
    -----BEGIN PRIVATE KEY-----
    MC4CAQAwBQYDK2VwBCIEI...
    -----END PRIVATE KEY-----
    '''
    PL1 = "9f2c...64 hex digits..."
"""

from __future__ import annotations

import os
import secrets
import stat
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cosim.errors import InputError

__all__ = ["MADE_HERE", "AgentKeys", "KeyFileError", "load_key_file", "new_key_ring", "write_key_file"]

MADE_HERE = "made here"
"""`AgentKeys.params()["private_key"]` asking the receiving process to make the agent's private key itself."""


class KeyFileError(InputError):
    """A key file that cannot be used (missing, readable by others, malformed, keys missing); never shows a key."""


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


class AgentKeys:
    """One agent's keys: its own private key (to sign) and the public keys of the agents it hears (to check).

    `params()` / `from_params()` carry them as plain strings to the agent's simulator (mosaik entity
    parameters, so a simulator may run in its own process); the repr never shows the private key."""

    def __init__(self, owner: str, private: Ed25519PrivateKey, public: Mapping[str, Ed25519PublicKey]) -> None:
        self.owner = owner
        self._private = private
        self.public = dict(public)
        self.public[owner] = private.public_key()

    def __repr__(self) -> str:
        return f"AgentKeys(owner={self.owner!r}, private=<hidden>, public={sorted(self.public)})"

    def sign(self, data: bytes) -> str:
        """Ed25519 signature of `data` by this agent (128 hex digits)."""
        return self._private.sign(data).hex()

    def verify(self, sender: str, data: bytes, signature: Any) -> str | None:
        """None when `signature` is `sender`'s signature of `data`; else why not."""
        key = self.public.get(sender)
        if key is None:
            return f"unknown sender {sender!r}"
        try:
            key.verify(bytes.fromhex(signature), data)
        except (InvalidSignature, ValueError, TypeError):
            return f"bad signature from {sender!r}"
        return None

    def hearing(self, senders: Iterable[str]) -> "AgentKeys":
        """The same private key, with the public keys of `senders` only (what a PLO needs: the DSO's)."""
        names = set(senders) | {self.owner}
        return AgentKeys(self.owner, self._private, {k: v for k, v in self.public.items() if k in names})

    def params(self) -> dict[str, Any]:
        """As plain strings, for the agent's own simulator only (never for a file or a log)."""
        return {"owner": self.owner, "private_key": _raw_private(self._private).hex(),
                "public_keys": {name: _raw_public(key).hex() for name, key in sorted(self.public.items())}}

    def with_public(self, public_hex: Mapping[str, str]) -> "AgentKeys":
        """The same private key, hearing also the agents whose public keys (64 hex digits each) are given."""
        try:
            extra = {str(name): Ed25519PublicKey.from_public_bytes(bytes.fromhex(hexkey))
                     for name, hexkey in public_hex.items()}
        except (TypeError, ValueError, AttributeError):
            raise InputError("agent keys: public keys must be 64 hex digits each") from None
        return AgentKeys(self.owner, self._private, {**self.public, **extra})

    def public_key_hex(self) -> str:
        """This agent's own public key (64 hex digits): what it may tell the others."""
        return _raw_public(self.public[self.owner]).hex()

    @classmethod
    def from_params(cls, params: "AgentKeys | Mapping[str, Any]") -> "AgentKeys":
        """Inverse of `params()` (an `AgentKeys` is returned as it is). `private_key = MADE_HERE` makes a fresh
        private key in the calling process from the OS's randomness: a key that no other process ever holds (a
        PLO in its own process, `[exchange] separate_processes`); its public key is `public_key_hex()`."""
        if isinstance(params, AgentKeys):
            return params
        try:
            if params["private_key"] == MADE_HERE:
                private = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
            else:
                private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(params["private_key"]))
            public = {str(name): Ed25519PublicKey.from_public_bytes(bytes.fromhex(hexkey))
                      for name, hexkey in params["public_keys"].items()}
            owner = str(params["owner"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InputError("agent keys: expected {owner, private_key, public_keys} as made by "
                             "AgentKeys.params()") from None
        if owner in public and _raw_public(public[owner]) != _raw_public(private.public_key()):
            raise InputError(f"agent keys of {owner!r}: the public key does not match the private key")
        return cls(owner, private, public)


def _ring(private: Mapping[str, Ed25519PrivateKey]) -> dict[str, AgentKeys]:
    public = {name: key.public_key() for name, key in private.items()}
    return {name: AgentKeys(name, key, public) for name, key in private.items()}


def new_key_ring(names: Iterable[str]) -> dict[str, AgentKeys]:
    """Fresh keys for each agent from the operating system's randomness; every agent knows all public keys."""
    return _ring({name: Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32)) for name in names})


def _parse_private(text: Any, name: str, where: str) -> Ed25519PrivateKey:
    if not isinstance(text, str):
        raise KeyFileError(f"{where}: keys.{name}: must be a PEM private key or 64 hex digits")
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        elif len(text) == 64:
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
        else:
            raise ValueError
    except (ValueError, TypeError):
        raise KeyFileError(f"{where}: keys.{name}: not a readable unencrypted Ed25519 private key "
                           "(PEM or 64 hex digits)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{where}: keys.{name}: is a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_key_file(path: str | Path, names: Iterable[str]) -> dict[str, AgentKeys]:
    """The agents' keys from a key file (see the module's doc). Refused when group or others may read or write
    it, when an agent has no key or two agents share one, or when it names agents that are not in the run."""
    path = Path(path)
    where = f"key file {path}"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{where}: is not a regular file")
        if info.st_mode & 0o077:
            raise KeyFileError(f"{where}: can be read or written by others (mode {stat.S_IMODE(info.st_mode):o}); "
                               f"make it private: chmod 600 {path}")
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{where}: does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{where}: cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})") \
            from None
    except tomllib.TOMLDecodeError:
        raise KeyFileError(f"{where}: not valid TOML (a [keys] table of agent = private key)") from None
    table = raw.get("keys") if isinstance(raw, dict) else None
    if not isinstance(table, dict) or set(raw) != {"keys"}:
        raise KeyFileError(f"{where}: must hold one [keys] table of agent = private key, and nothing else")
    names = list(dict.fromkeys(names))
    missing = [n for n in names if n not in table]
    if missing:
        raise KeyFileError(f"{where}: no key for agent(s) {missing}")
    extra = sorted(set(table) - set(names))
    if extra:
        raise KeyFileError(f"{where}: key(s) for agent(s) {extra} that are not in this run ({names})")
    private = {name: _parse_private(table[name], name, where) for name in names}
    publics = [_raw_public(k.public_key()) for k in private.values()]
    if len(set(publics)) != len(publics):
        raise KeyFileError(f"{where}: two agents share a key; each agent needs its own")
    return _ring(private)


def write_key_file(path: str | Path, names: Iterable[str]) -> Path:
    """Write fresh keys for `names` to a new key file readable by its owner only (refuses to overwrite)."""
    path = Path(path)
    lines = ["# cosim Ed25519 agent keys: private, keep this file to yourself (chmod 600)", "[keys]"]
    for name, keys in new_key_ring(names).items():
        lines.append(f'"{name}" = "{_raw_private(keys._private).hex()}"')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return path
