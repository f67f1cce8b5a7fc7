"""The local signing identity for C2PA manifests: an ES256 key and a two-certificate chain (local CA + signer).

Created on first use under `provenance_home()`:
`$DEEPFAKE_LAB_HOME/provenance/` if that variable is set, else `$XDG_CONFIG_HOME/deepfake-lab/provenance/`,
else `~/.config/deepfake-lab/provenance/`. Users with their own credentials point to them with the
environment variables `DEEPFAKE_LAB_SIGNING_CERT` (PEM chain, signer first) and `DEEPFAKE_LAB_SIGNING_KEY`
(PEM private key) or the `signing_cert` / `signing_key` arguments.

C2PA refuses a self-signed signer certificate, so the tool makes a small CA and signs a leaf with
digitalSignature key usage and the emailProtection extended key usage (one the C2PA trust model accepts).
Nobody else trusts that CA: readers report such files as "signed by an untrusted local key", which says who
signed (this machine's deepfake-lab) but proves nothing to a third party.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from deepfake_lab.errors import BadInputError
from deepfake_lab.fsutil import atomic_write_bytes

__all__ = ["SigningIdentity", "provenance_home", "load_or_create_identity", "CERT_ENV", "KEY_ENV", "HOME_ENV"]

HOME_ENV = "DEEPFAKE_LAB_HOME"
CERT_ENV = "DEEPFAKE_LAB_SIGNING_CERT"
KEY_ENV = "DEEPFAKE_LAB_SIGNING_KEY"
CERT_NAME = "signer-chain.pem"
KEY_NAME = "signer-key.pem"
CA_NAME = "local-ca.pem"


@dataclass(frozen=True)
class SigningIdentity:
    """PEM key + certificate chain used to sign manifests.

    Attributes:
        cert_chain: PEM certificates, signer first, then its issuer(s).
        private_key: PEM (PKCS#8) private key of the signer.
        cert_path, key_path: where they were read from.
        created: True when this call created them (callers print the path once).
        local: True for the tool-made identity (as opposed to the user's own).
    """

    cert_chain: bytes
    private_key: bytes
    cert_path: Path
    key_path: Path
    created: bool = False
    local: bool = True

    def signer_serial(self) -> str:
        """Decimal serial number of the signer certificate (what C2PA readers report)."""
        from cryptography import x509

        return str(x509.load_pem_x509_certificate(self.cert_chain).serial_number)


def provenance_home() -> Path:
    """Folder of the local signing identity (see the module docstring)."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "provenance"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "deepfake-lab" / "provenance"


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "deepfake-lab")]
    )


def _create(folder: Path) -> None:
    """Write a local CA, a signer key and the signer chain into `folder` (key file mode 0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("deepfake-lab local CA (untrusted)")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("deepfake-lab local signer"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)

    def write_key(f: BinaryIO) -> None:
        os.fchmod(f.fileno(), 0o600)  # private whatever the umask, before a byte of the key is written
        f.write(key_bytes)

    (folder / CA_NAME).write_bytes(ca.public_bytes(pem))
    # Each file goes to its own temporary name (two processes creating at once never share one), then is renamed
    # into place: the key last, its presence marks a complete identity.
    atomic_write_bytes(folder / CERT_NAME, lambda f: f.write(chain))
    atomic_write_bytes(folder / KEY_NAME, write_key)


def load_or_create_identity(
    signing_cert: str | Path | None = None, signing_key: str | Path | None = None
) -> SigningIdentity:
    """The signing identity: the user's (arguments, then environment variables) or the local one.

    The local one is created on first use (see `SigningIdentity.created`).

    Raises:
        BadInputError: only one of cert/key given, or an unreadable file.
    """
    cert = signing_cert or os.environ.get(CERT_ENV) or None
    key = signing_key or os.environ.get(KEY_ENV) or None
    if bool(cert) != bool(key):
        raise BadInputError(
            f"a signing certificate needs its key and vice versa (set both {CERT_ENV} and {KEY_ENV})"
        )
    if cert and key:
        cp, kp = Path(cert).expanduser(), Path(key).expanduser()
        try:
            chain, pk = cp.read_bytes(), kp.read_bytes()
        except OSError as exc:
            raise BadInputError(f"cannot read signing credentials: {exc.strerror}: {exc.filename}") from None
        if b"BEGIN CERTIFICATE" not in chain or b"PRIVATE KEY" not in pk:
            raise BadInputError(f"{cp} must hold PEM certificates and {kp} a PEM private key")
        return SigningIdentity(chain, pk, cp, kp, created=False, local=False)
    folder = provenance_home()
    cp, kp = folder / CERT_NAME, folder / KEY_NAME
    created = False
    if not (cp.is_file() and kp.is_file()):
        try:
            _create(folder)
        except OSError as exc:
            raise BadInputError(
                f"cannot create the signing key in {folder}: {exc.strerror}; set {HOME_ENV} to a writable folder"
            ) from None
        created = True
    return SigningIdentity(cp.read_bytes(), kp.read_bytes(), cp, kp, created=created, local=True)
