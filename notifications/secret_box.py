"""Webhook secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the app's
secret key with HKDF. The secret must be read back to sign each delivery, so it cannot be hashed like a token;
encrypting it means a copy of the database (a backup, a replica) does not give the secrets away without the
app's key. Changing ``CHANGEFLOW_SECRET_KEY`` makes stored secrets unreadable: deliveries to those
subscriptions fail (and dead-letter) until an admin sets a new secret.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"changeflow webhook secrets v1"


class SecretUnreadable(Exception):
    """The webhook secret cannot be decrypted: the app's secret key changed since it was stored."""


class SecretBox:
    def __init__(self, app_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(app_secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as error:
            raise SecretUnreadable(str(SecretUnreadable.__doc__)) from error
