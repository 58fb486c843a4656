"""The operator API over TLS: the only way it may listen off loopback (REQ-OPS-001).

A self-signed certificate for 127.0.0.1 (made with the openssl command line), ``itdose run`` on
the simulated drive with ``--tls-cert``/``--tls-key``, and ``itdose pump --cafile``: the client
verifies the certificate; plain HTTP and an unverified certificate are refused.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from itdose_runkit import ITDOSE, Server, fast_setup

OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command to make a certificate")
def test_api_over_tls_with_a_verified_certificate(tmp_path: Path) -> None:
    assert OPENSSL is not None
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    server = Server(
        tmp_path / "p.db",
        "simulated",
        fast_setup(tmp_path, prime="10 s"),  # the simulated drive moves at most 100 mL/h
        extra=("--tls-cert", str(cert), "--tls-key", str(key)),
    )
    try:
        assert server.url.startswith("https://127.0.0.1:")
        token = str(tmp_path / "p.db.tokens" / "patient")

        def pump(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*ITDOSE, "pump", "--token-file", token, *args, "status", "--json"],
                capture_output=True,
                text=True,
                timeout=30,
            )

        ok = pump("--url", server.url, "--cafile", str(cert))
        assert ok.returncode == 0, ok.stderr
        assert '"phase": "active"' in ok.stdout
        unverified = pump("--url", server.url)  # the system CAs do not know this certificate
        assert unverified.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in unverified.stderr
        plain = pump("--url", server.url.replace("https://", "http://"))
        assert plain.returncode == 3, plain.stderr
    finally:
        assert server.stop() == 0


def test_off_loopback_without_tls_is_refused_before_anything_starts(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *ITDOSE,
            "run",
            "--drive",
            "simulated",
            "--journal",
            str(tmp_path / "p.db"),
            "--init",
            str(fast_setup(tmp_path)),
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "itdose: --host: the operator API listens off loopback only with --tls-cert and "
        "--tls-key (value '0.0.0.0')"
    ]
    assert not (tmp_path / "p.db").exists()
