"""Ed25519 identities and key files in the TypeScript keystore's format (runtime/node keystore:
FLEET_HOME/keys/<uri-encoded agent>.key, JSON {fleet_key: 1, agent, key_id, public_key, seed} with
base64url fields, mode 0600 in a 0700 directory). A key made by `fleet keygen` loads here and the
other way round. Seeds are never printed or logged."""
from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .ed25519 import private_from_seed, public_bytes
from .errors import ErrorCode, fail
from .keyid import key_id_for


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_b64url(text: str, code: int = ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY) -> bytes:
    """Canonical base64url without padding (zero trailing bits), else `code`."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    if not isinstance(text, str) or any(c not in alphabet for c in text) or len(text) % 4 == 1:
        raise fail(code, "not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise fail(code, "not canonical base64url (trailing bits)")
    return data


@dataclass(repr=False)
class Identity:
    """An agent name and its Ed25519 key. repr() never shows the seed."""

    agent: str
    _sk: Ed25519PrivateKey
    public_key: bytes = field(init=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.public_key = public_bytes(self._sk)
        self.key_id = key_id_for(self.public_key)

    def __repr__(self) -> str:
        return f"Identity(agent={self.agent!r}, key_id={self.key_id!r})"

    def sign(self, message: bytes) -> bytes:
        return self._sk.sign(message)

    def seed(self) -> bytes:
        return self._sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def generate_identity(agent: str) -> Identity:
    return Identity(agent, Ed25519PrivateKey.generate())


def identity_from_seed(agent: str, seed: bytes) -> Identity:
    return Identity(agent, private_from_seed(seed))


def _file_name(agent: str) -> str:
    # encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is escaped; a leading "." too.
    enc = quote(agent, safe="-_.!~*'()")
    if enc.startswith("."):
        enc = "%2E" + enc[1:]
    return enc + ".key"


class FileKeystore:
    """One key file per agent in `directory` (FLEET_HOME/keys)."""

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def path_for(self, agent: str) -> str:
        return os.path.join(self.dir, _file_name(agent))

    def has(self, agent: str) -> bool:
        return os.path.exists(self.path_for(agent))

    def save(self, identity: Identity) -> str:
        """Atomically (temp file 0600, then rename); the directory is 0700."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        doc = {"fleet_key": 1, "agent": identity.agent, "key_id": identity.key_id, "public_key": b64url(identity.public_key), "seed": b64url(identity.seed())}
        path = self.path_for(identity.agent)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(doc, indent=2) + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_STORE_FAILED, f"cannot write key file for {identity.agent}: {e.strerror}") from None
        return path

    def load(self, agent: str) -> Identity:
        """503 if absent, 603 if readable by others, 606 if damaged or not matching its key id."""
        path = self.path_for(agent)
        try:
            st = os.stat(path)
        except OSError:
            raise fail(ErrorCode.ERROR_CODE_REGISTRY_AGENT_NOT_FOUND, f"no key for {agent} in {self.dir}") from None
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED, f"key file {path} is accessible by others (mode {stat.S_IMODE(st.st_mode):o}); run chmod 600 on it")
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, f"key file {path} is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("fleet_key") != 1 or doc.get("agent") != agent or not isinstance(doc.get("seed"), str):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, f"key file {path} is not a fleet key for {agent}")
        identity = identity_from_seed(agent, from_b64url(doc["seed"]))
        if doc.get("key_id") != identity.key_id:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, f"key file {path}: key_id does not match the seed")
        return identity

    def list(self) -> list[str]:
        if not os.path.isdir(self.dir):
            return []
        return sorted(unquote(f[:-4]) for f in os.listdir(self.dir) if f.endswith(".key"))


def random_bytes(n: int) -> bytes:
    return secrets.token_bytes(n)
