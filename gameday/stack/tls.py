"""A local certificate authority and the service's certificate, for ``--tls`` runs.

    files = ensure_certificates(settings.tls_dir)   # made once, reused while valid
    files.ca_cert       # give clients this bundle (GAMEDAY_CA_BUNDLE, SSL_CERT_FILE)
    files.server_cert, files.server_key             # uvicorn --ssl-certfile/--ssl-keyfile

The server certificate names ``localhost`` and ``127.0.0.1`` (every server of the stack
binds the loopback address). Keys are ECDSA P-256, written 0600. Nothing here leaves
the machine: the CA exists only to make local HTTPS verifiable, not trusted elsewhere.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=7)
HOSTS = ("localhost",)
IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def files_in(directory: Path) -> TlsFiles:
    return TlsFiles(
        ca_cert=directory / "ca.pem",
        ca_key=directory / "ca-key.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
    )


def ensure_certificates(directory: Path) -> TlsFiles:
    """The CA and server certificate in ``directory``, made (again) when missing or close
    to expiry; the CA is kept while valid so clients given it earlier still verify."""
    files = files_in(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    if not _valid(files.ca_cert, now) or not files.ca_key.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        _write_key(files.ca_key, ca_key)
        _write_cert(files.ca_cert, _ca_certificate(ca_key, now))
        files.server_cert.unlink(missing_ok=True)
    if not _valid(files.server_cert, now) or not files.server_key.exists():
        loaded = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        server_key = ec.generate_private_key(ec.SECP256R1())
        _write_key(files.server_key, server_key)
        _write_cert(files.server_cert, _server_certificate(server_key, ca_cert, loaded, now))
    return files


def _valid(path: Path, now: dt.datetime) -> bool:
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > now


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gameday local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = _name("gameday local CA")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in HOSTS]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in IPS]
    return (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
