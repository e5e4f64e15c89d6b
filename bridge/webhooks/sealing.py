"""Webhook secrets: made printable, shown once, sealed at rest under a master key.

- A secret is ``whsec_`` and 43 URL-safe characters: 256 random bits, ASCII
  only, so the HMAC key is its ASCII bytes and the seed's
  ``openssl dgst -sha256 -hmac "$WEBHOOK_SECRET"`` verifies with it as printed.
- At rest it is sealed with AES-256-GCM (the ``cryptography`` package) under
  the operator's master key: ``nonce (12 bytes) || ciphertext || tag``, with
  ``webhook-endpoint:<id>`` as associated data, so a sealed secret moved onto
  another endpoint row does not open. A database dump alone cannot sign.
- The master key is 32 random bytes written as base64 or hex (make one with
  ``openssl rand -base64 32``), given by ``[webhooks] master_key_env`` or
  ``master_key_file`` (config.load resolves it). Its fingerprint is stored
  beside each sealed secret, so a wrong key is named as such instead of
  failing as "corrupt data".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKey", "SealError", "new_secret", "secret_hint"]

_PREFIX = "whsec_"
_NONCE = 12


class SealError(Exception):
    """A master key that is not one, or a sealed secret this key cannot open."""


def new_secret() -> str:
    """A fresh webhook secret: 256 bits of entropy, printable ASCII."""
    return _PREFIX + secrets.token_urlsafe(32)


def secret_hint(secret: str) -> str:
    """What `webhooks show` prints: enough to tell two secrets apart, not to use one."""
    return secret[: len(_PREFIX)] + "..." + secret[-4:]


def _aad(endpoint_id: int) -> bytes:
    return f"webhook-endpoint:{endpoint_id}".encode("ascii")


class MasterKey:
    """The operator's key that seals webhook secrets (never printed)."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise SealError("the webhook master key must be 32 bytes (base64 or hex of `openssl rand 32`)")
        self._aead = AESGCM(raw)
        self.key_id = hashlib.sha256(b"smpp-bridge webhook master key\x00" + raw).hexdigest()[:16]

    @classmethod
    def parse(cls, text: str) -> MasterKey:
        """From the text of the environment variable or the file: base64 or hex of 32 bytes."""
        text = text.strip()
        raw: bytes | None = None
        if len(text) == 64:
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raw = None
        if raw is None:
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise SealError("the webhook master key is neither base64 nor hex") from None
        return cls(raw)

    @classmethod
    def generate(cls) -> tuple[MasterKey, str]:
        raw = os.urandom(32)
        return cls(raw), base64.b64encode(raw).decode("ascii")

    def seal(self, endpoint_id: int, secret: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret.encode("ascii"), _aad(endpoint_id))

    def open(self, endpoint_id: int, sealed: bytes, key_id: str | None) -> str:
        if key_id is not None and key_id != self.key_id:
            raise SealError(
                f"the secret of webhook endpoint {endpoint_id} was sealed with another master key "
                f"({key_id}, this one is {self.key_id})"
            )
        try:
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(endpoint_id))
        except InvalidTag:
            raise SealError(f"the secret of webhook endpoint {endpoint_id} does not open with this master key") from None
        return plain.decode("ascii")

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"
