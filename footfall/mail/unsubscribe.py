"""Unsubscribe links: a signed token naming one subscription (site, address, kind).

The signing key is the instance's own secret, kept in the metadata database
(footfall/meta/rights.py ``instance_secret``), so every process of an installation makes
and accepts the same links, and a link cannot be forged for another address. Following
the link deletes the subscription (``footfall/api/mail.py``); a token does not expire, as
an old mail's link must still work.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from footfall.meta.repo import Metadata
from footfall.meta.rights import instance_secret

_SALT = "footfall-unsubscribe"


@dataclass(frozen=True, slots=True)
class Subscription:
    site_id: str
    email: str
    kind: str


def _signer(meta: Metadata) -> URLSafeSerializer:
    return URLSafeSerializer(instance_secret(meta, "unsubscribe"), salt=_SALT)


def token(meta: Metadata, sub: Subscription) -> str:
    return str(_signer(meta).dumps([sub.site_id, sub.email, sub.kind]))


def read(meta: Metadata, value: str) -> Subscription | None:
    """The subscription a token names, or None for anything not signed by this instance."""
    try:
        data = _signer(meta).loads(value)
    except BadSignature:
        return None
    if not (isinstance(data, list) and len(data) == 3 and all(isinstance(x, str) for x in data)):
        return None
    return Subscription(data[0], data[1], data[2])


def link(public_url: str, meta: Metadata, sub: Subscription) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token(meta, sub)}"
