"""The local signing identity: created once, the key private (0600) whatever the umask, no temporary files left."""

from __future__ import annotations

import os
import stat

from deepfake_lab.provenance.keys import HOME_ENV, load_or_create_identity


def test_local_identity_is_created_once_with_a_private_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    monkeypatch.delenv("DEEPFAKE_LAB_SIGNING_CERT", raising=False)
    monkeypatch.delenv("DEEPFAKE_LAB_SIGNING_KEY", raising=False)
    old = os.umask(0o000)  # the loosest umask: the key must still be private
    try:
        first = load_or_create_identity()
    finally:
        os.umask(old)
    assert first.created and first.local
    assert stat.S_IMODE(first.key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in first.private_key and first.cert_chain.count(b"BEGIN CERTIFICATE") == 2
    assert sorted(p.name for p in first.key_path.parent.iterdir()) == [
        "local-ca.pem", "signer-chain.pem", "signer-key.pem",
    ]  # fmt: skip
    again = load_or_create_identity()
    assert not again.created and again.private_key == first.private_key
