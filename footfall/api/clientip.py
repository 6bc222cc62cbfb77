"""The client IP: from the socket, or from X-Forwarded-For through trusted proxies only.

With ``trusted_proxies = n`` the last n hops (the socket peer and the n-1 addresses each
proxy appended) are ours, so the client is the rightmost address we do not trust. Any
address further left was written by the client and can be forged.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_ip(conn: HTTPConnection, trusted_proxies: int) -> str:
    peer = conn.client.host if conn.client else ""
    if trusted_proxies <= 0:
        return peer
    # Repeated header lines are one comma-joined list (RFC 9110): a proxy that adds its own
    # line must not let the client's forged first line pick the address.
    forwarded = ",".join(conn.headers.getlist("x-forwarded-for"))
    chain = [p.strip() for p in forwarded.split(",") if p.strip()] + [peer]
    index = len(chain) - 1 - trusted_proxies
    return chain[max(index, 0)]
