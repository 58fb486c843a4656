"""Operator credentials, the failed-attempt limiter and the bind rule of the operator API.

* A credential has a name and a role (patient, clinician or service), created at
  ``itdose run --init``. Only a salted scrypt hash of its secret is stored
  (``<journal>.credentials.json``, mode 0600); the token ``name.secret`` is written once to
  ``<journal>.tokens/<name>`` (mode 0600) for its holder. A presented token is hashed and compared
  with :func:`hmac.compare_digest`; an unknown name costs the same hash (REQ-OPS-001).
* :class:`FailureLimiter` refuses an address after too many failed authentications (REQ-OPS-002).
* :func:`check_bind` refuses an address off loopback without TLS.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from itdose.core.errors import InvalidInput
from itdose.core.state import Role

__all__ = [
    "Credential",
    "CredentialStore",
    "FailureLimiter",
    "check_bind",
    "create_credentials",
    "credentials_path",
    "tokens_dir",
]

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
CREDENTIALS_SCHEMA = "itdose-credentials/1"
P = Role.PATIENT


# --------------------------------------------------------------------------------------------
# credentials


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)


def credentials_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".credentials.json")


def tokens_dir(journal: Path) -> Path:
    return journal.with_name(journal.name + ".tokens")


@dataclass(frozen=True)
class Credential:
    name: str
    role: Role
    salt: bytes
    digest: bytes
    n: int
    r: int
    p: int


class CredentialStore:
    """The operator credentials: names, roles and salted scrypt hashes (never the secrets)."""

    def __init__(self, credentials: list[Credential]) -> None:
        self._by_name = {cr.name: cr for cr in credentials}
        self._dummy = Credential(
            "", P, b"\0" * 16, b"\0" * 32, SCRYPT["n"], SCRYPT["r"], SCRYPT["p"]
        )

    @classmethod
    def load(cls, journal: Path) -> CredentialStore:
        path = credentials_path(journal)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("schema") != CREDENTIALS_SCHEMA:
                raise ValueError("unsupported schema")
            creds = [
                Credential(
                    d["name"],
                    Role(d["role"]),
                    bytes.fromhex(d["salt"]),
                    bytes.fromhex(d["scrypt"]),
                    int(d["n"]),
                    int(d["r"]),
                    int(d["p"]),
                )
                for d in doc["credentials"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput("credentials", f"cannot read {path}: {exc}") from None
        return cls(creds)

    def verify(self, token: str) -> Credential | None:
        """The credential whose secret ``token`` carries (``name.secret``), else None; the same
        hash work is done for an unknown name, and the comparison is constant-time."""
        name, _, secret = token.partition(".")
        cred = self._by_name.get(name)
        ref = cred if cred is not None else self._dummy
        digest = _scrypt(secret, ref.salt, ref.n, ref.r, ref.p)
        ok = hmac.compare_digest(digest, ref.digest)
        return cred if ok and cred is not None and secret else None


def create_credentials(journal: Path, wanted: tuple[tuple[str, Role], ...]) -> dict[str, Path]:
    """Create the credentials: hashes into ``<journal>.credentials.json``, each secret once into
    ``<journal>.tokens/<name>`` (mode 0600, for its holder). Returns name -> token file."""
    folder = tokens_dir(journal)
    folder.mkdir(mode=0o700, exist_ok=False)
    entries = []
    out: dict[str, Path] = {}
    for name, role in wanted:
        secret = secrets.token_urlsafe(24)
        salt = secrets.token_bytes(16)
        digest = _scrypt(secret, salt, **SCRYPT)
        entries.append(
            {"name": name, "role": role.value, "salt": salt.hex(), "scrypt": digest.hex(), **SCRYPT}
        )
        path = folder / name
        partial = folder / f".{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{name}.{secret}\n")
        os.rename(partial, path)  # a reader never sees half a token
        out[name] = path
    cpath = credentials_path(journal)
    fd = os.open(cpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"schema": CREDENTIALS_SCHEMA, "credentials": entries}, f, indent=1)
    return out


class FailureLimiter:
    """At most ``max_failures`` failed authentications per client address in ``window_s``;
    beyond that the address is refused (429) until the window has passed."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._now = now
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}
        self._refused: dict[str, int] = {}

    def _recent(self, client: str) -> list[float]:
        cutoff = self._now() - self.window_s
        kept = [t for t in self._failures.get(client, []) if t > cutoff]
        if kept:
            self._failures[client] = kept
        else:
            self._failures.pop(client, None)
        return kept

    def blocked_for(self, client: str) -> float:
        """Seconds the client must wait (0: may try)."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, recent[0] + self.window_s - self._now())

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client)
            self._failures.setdefault(client, []).append(self._now())

    def refused(self, client: str) -> bool:
        """Count a request refused while the client is blocked; True for the first of them (to
        audit on its own: the rest are audited as one count, so a flood cannot make the
        controller's thread write a journal record per request)."""
        with self._lock:
            n = self._refused.get(client, 0)
            self._refused[client] = n + 1
            return n == 0

    def take_refused(self, client: str) -> int:
        """How many requests beyond the first were refused while blocked (and reset)."""
        with self._lock:
            return max(0, self._refused.pop(client, 0) - 1)


def check_bind(host: str, cert: str | None, key: str | None) -> None:
    """Refuse an API address off loopback without TLS (and half a TLS configuration)."""
    if (cert is None) != (key is None):
        raise InvalidInput("--tls-cert/--tls-key", "give both or neither")
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise InvalidInput("--host", "expected an IP address", value=host) from None
    if not loopback and cert is None:
        raise InvalidInput(
            "--host",
            "the operator API listens off loopback only with --tls-cert and --tls-key",
            value=host,
        )
