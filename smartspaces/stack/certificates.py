"""A private certificate authority and the server certificates it signs, for servers that speak TLS locally.

Generated on the machine (never committed): an EC P-256 CA, and per server a certificate whose subject
alternative names are exactly the host names and addresses given, so a client that checks the server's
identity accepts it there and nowhere else.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = timedelta(days=365)
# A clock a little behind the issuer's must still accept a certificate issued just now.
BACKDATED = timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM files."""

    certificate: Path
    key: Path


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _subject_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


# The local stack's CA lives in its data folder (never in the repository): its servers' certificates chain to it.
STACK_CA_FOLDER = "ca"


def stack_authority(data_dir: Path) -> Issued:
    """The local stack's CA, created on first use."""
    return certificate_authority(data_dir / STACK_CA_FOLDER)


def certificate_authority(folder: Path, name: str = "smartspaces local CA") -> Issued:
    """The folder's CA (ca.pem, ca-key.pem), created on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    issued = Issued(folder / "ca.pem", folder / "ca-key.pem")
    if issued.certificate.exists() and issued.key.exists():
        return issued
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATED)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(key, hashes.SHA256())
    )
    _write_key(key, issued.key)
    issued.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return issued


def issue_server_certificate(ca: Issued, folder: Path, name: str, hosts: tuple[str, ...]) -> Issued:
    """A server certificate for exactly these host names and IP addresses (<name>.pem, <name>-key.pem)."""
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key} is not the EC key this module writes")
    ca_certificate = x509.load_pem_x509_certificate(ca.certificate.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATED)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(_subject_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    issued = Issued(folder / f"{name}.pem", folder / f"{name}-key.pem")
    _write_key(key, issued.key)
    issued.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return issued


def stack_server_certificate(data_dir: Path, folder: Path, name: str, hosts: tuple[str, ...]) -> Issued:
    """A server's certificate of the stack's CA (<folder>/<name>.pem and its key), issued on first use."""
    issued = Issued(folder / f"{name}.pem", folder / f"{name}-key.pem")
    if issued.certificate.exists() and issued.key.exists():
        return issued
    return issue_server_certificate(stack_authority(data_dir), folder, name, hosts)


def pkcs12_keystore(issued: Issued, path: Path, password: str) -> Path:
    """The certificate and its key as a PKCS12 key store (what a Java server loads), encrypted with password."""
    key = serialization.load_pem_private_key(issued.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{issued.key} is not the EC key this module writes")
    certificate = x509.load_pem_x509_certificate(issued.certificate.read_bytes())
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"server", key, certificate, None, serialization.BestAvailableEncryption(password.encode())
        )
    )
    path.chmod(0o600)
    return path


def java_truststore(ca_certificates: Path, path: Path) -> Path:
    """The PEM file's CA certificates as a PKCS12 trust store without a password (it holds nothing secret), which
    a Java client loads as a trust store of either type, JKS or PKCS12."""
    certificates = x509.load_pem_x509_certificates(ca_certificates.read_bytes())
    entries = [
        pkcs12.PKCS12Certificate(certificate, f"ca-{index}".encode()) for index, certificate in enumerate(certificates)
    ]
    path.write_bytes(pkcs12.serialize_java_truststore(entries, serialization.NoEncryption()))
    return path
