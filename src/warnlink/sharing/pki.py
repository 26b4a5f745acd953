"""TLS material for the sharing fabric: one CA, server certificates and per-nation client certificates.

Generated with ``cryptography`` (ECDSA P-256, SHA-256) into a state directory: certificates as PEM
(mode 0644), private keys as unencrypted PKCS#8 PEM with mode 0600. The CA signs

- one server certificate per ``nats-server`` (serverAuth and clientAuth, SAN = its host names and
  IP addresses; ``127.0.0.1`` and ``localhost`` by default), used on the leaf-node listener of the hub
  and as the client certificate a leaf presents when it dials the hub;
- one client certificate per nation (clientAuth, CN = ``<NATION> node``), for node connections that
  want mutual TLS.

The material is for the embedded, NOTIONAL fabric on one machine; a deployment brings its own PKI and
points the configuration at those files instead.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPaths", "PKIError", "ensure_ca", "issue_cert", "load_ca"]

_ORG = "warnlink (NOTIONAL test PKI)"


class PKIError(ValueError):
    """TLS material that cannot be generated or read; the message names the file."""


class CertPaths(msgspec.Struct, frozen=True):
    """Where one certificate, its key and the CA that signed it are (absolute paths)."""

    cert: str
    key: str
    ca: str


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def ensure_ca(directory: str | Path, days: int = 3650) -> CertPaths:
    """Create the CA (``ca.pem``, ``ca.key``) in ``directory`` unless both already exist; return its paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cert_p, key_p = d / "ca.pem", d / "ca.key"
    if cert_p.exists() and key_p.exists():
        load_ca(d)  # fail early on damaged files
        return CertPaths(str(cert_p.resolve()), str(key_p.resolve()), str(cert_p.resolve()))
    if days <= 0:
        raise PKIError(f"CA validity must be positive, got {days} days")
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("warnlink fabric CA")
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_p, key)
    _write_cert(cert_p, cert)
    return CertPaths(str(cert_p.resolve()), str(key_p.resolve()), str(cert_p.resolve()))


def load_ca(directory: str | Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Read the CA certificate and key from ``directory`` (``PKIError`` naming the file if unusable)."""
    d = Path(directory)
    cert_p, key_p = d / "ca.pem", d / "ca.key"
    try:
        cert = x509.load_pem_x509_certificate(cert_p.read_bytes())
    except (OSError, ValueError) as exc:
        raise PKIError(f"{cert_p}: cannot read the CA certificate: {exc}") from None
    try:
        key = serialization.load_pem_private_key(key_p.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PKIError(f"{key_p}: cannot read the CA key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError(f"{key_p}: the CA key is not an EC key")
    return cert, key


def _split_sans(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        if not n or not isinstance(n, str):
            raise PKIError(f"bad subject alternative name {n!r}")
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def issue_cert(
    directory: str | Path,
    name: str,
    common_name: str,
    *,
    server: bool = False,
    client: bool = True,
    sans: Iterable[str] = ("127.0.0.1", "localhost"),
    unit: str | None = None,
    days: int = 825,
) -> CertPaths:
    """Issue ``<name>.pem`` / ``<name>.key`` signed by the CA in ``directory`` (created if missing).

    ``server`` adds serverAuth and the SANs; ``client`` adds clientAuth. An existing pair signed by the
    same CA is kept (so a restart reuses it).
    """
    if not name or "/" in name or name.startswith("."):
        raise PKIError(f"bad certificate file name {name!r}")
    if not (server or client):
        raise PKIError(f"certificate {name!r} must be for a server, a client or both")
    d = Path(directory)
    ca_paths = ensure_ca(d)
    ca_cert, ca_key = load_ca(d)
    cert_p, key_p = d / f"{name}.pem", d / f"{name}.key"
    if cert_p.exists() and key_p.exists():
        try:
            old = x509.load_pem_x509_certificate(cert_p.read_bytes())
            if old.issuer == ca_cert.subject and old.not_valid_after_utc > _now():
                return CertPaths(str(cert_p.resolve()), str(key_p.resolve()), ca_paths.ca)
        except ValueError:
            pass
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, unit))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(_split_sans(sans)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(key_p, key)
    _write_cert(cert_p, cert)
    return CertPaths(str(cert_p.resolve()), str(key_p.resolve()), ca_paths.ca)
