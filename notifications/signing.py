"""Webhook signatures: how Changeflow signs a delivery and how a receiver verifies it (docs/notifications.md).

Each request carries ``Changeflow-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256(secret, f"{t}." + body) over the exact bytes of the body. A receiver recomputes it, compares in
constant time, and refuses a timestamp older than its tolerance (replays). This module has no dependencies but
the standard library, so a receiver may copy ``verify`` as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Changeflow-Signature"
TOLERANCE = 300  # seconds a receiver accepts between the signature's time and its own clock


class SignatureInvalid(Exception):
    """The request's signature does not match its body and the shared secret."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: int = TOLERANCE) -> int:
    """Check a delivery's signature header against its raw body; return its timestamp or raise
    ``SignatureInvalid``. ``body`` must be the bytes received, before any JSON parsing."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (KeyError, ValueError) as error:
        raise SignatureInvalid("the signature header lacks t= or v1=") from error
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, received):
        raise SignatureInvalid("the signature does not match the body")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureInvalid(f"the signature is {int(current - timestamp)} s old; over {tolerance} s is refused")
    return timestamp
