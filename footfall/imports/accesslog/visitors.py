"""The visitor columns of an access log's page views, per distinct (user agent, IP, UTC day).

A visitor's id is the live pipeline's ``visitor_hash`` of that day's salt, the site, the IP
and the user agent, and its place is the IP's country (region and city with a MaxMind
file). A log names the same visitors block after block, so :class:`VisitorColumns` keeps
every visitor it has made in Arrow arrays under a text key, and finds a block's known
visitors with one Arrow lookup (``index_in``) instead of a Python loop over the block's
distinct visitors; only visitors new to the import run Python.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from footfall.meta.salts import visitor_hash

DAY_MS = 86_400_000
_TEXT = pa.string()
Place = tuple[str, str, str]  # country, region, city


class VisitorColumns:
    """Visitor columns of blocks of page views of one site; visitors are remembered across
    blocks (at most ``limit``, then the memory starts afresh)."""

    def __init__(
        self,
        site_id: str,
        salt: Callable[[int], bytes],
        geo: Callable[[str], Place],
        limit: int,
    ) -> None:
        self.site_id, self.salt, self.geo, self.limit = site_id, salt, geo, limit
        self._forget()

    def _forget(self) -> None:
        self._keys = pa.array([], _TEXT)
        self._columns = [pa.array([], pa.uint64()), *(pa.array([], _TEXT) for _ in range(3))]

    def __call__(
        self, ip: pa.Array, ts: pa.Array, ua: pa.DictionaryArray
    ) -> tuple[dict[str, pa.Array], pa.Array]:
        """The visitor columns of each distinct (user agent, IP, UTC day) of the rows (their
        IPs, epoch-ms times and coded user agents), and each row's index in them."""
        ips = _encode(ip)
        days = _encode(pc.cast(pc.floor(pc.divide(pc.cast(ts, pa.float64()), DAY_MS)), pa.int64()))
        n_ip, n_day = len(ips.dictionary), len(days.dictionary)
        key = pc.add(
            pc.multiply(pc.add(pc.multiply(pc.cast(ua.indices, pa.int64()), n_ip),
                               pc.cast(ips.indices, pa.int64())), n_day),
            pc.cast(days.indices, pa.int64()),
        )  # fmt: skip
        coded = _encode(key)
        # Each distinct key back to its user agent, IP and day (keys are >= 0, so integer
        # division is floor division).
        rest = pc.divide(coded.dictionary, n_day)
        u = pc.divide(rest, n_ip)
        agents = pc.take(ua.dictionary, u)
        addresses = pc.take(ips.dictionary, pc.subtract(rest, pc.multiply(u, n_ip)))
        day = pc.take(days.dictionary, pc.subtract(coded.dictionary, pc.multiply(rest, n_day)))
        # The user agent's length first and digits last: no two visitors share a key, even
        # with the separator inside a user agent or IP.
        day_text = pc.cast(day, _TEXT)
        length = pc.cast(pc.utf8_length(agents), _TEXT)
        keys = pc.binary_join_element_wise(length, agents, addresses, day_text, "\n")
        at = pc.index_in(keys, value_set=self._keys)
        if at.null_count:
            if len(self._keys) + at.null_count > self.limit:
                self._forget()
                at = pa.nulls(len(keys), pa.int32())
            new = pc.is_null(at)
            # The new keys are distinct and go to the end, in their order.
            ranks = pc.cumulative_sum(pc.cast(new, pa.int32()))
            at = pc.coalesce(at, pc.add(ranks, len(self._keys) - 1))
            self._add(
                keys.filter(new),
                agents.filter(new).to_pylist(),
                addresses.filter(new).to_pylist(),
                day.filter(new).to_pylist(),
            )
        ids, country, region, city = (pc.take(c, at) for c in self._columns)
        columns = {
            "user_agent": agents,
            "visitor_id": ids,
            "country": country,
            "region": region,
            "city": city,
        }
        return columns, coded.indices

    def _add(self, keys: pa.Array, agents: list[str], ips: list[str], days: list[int]) -> None:
        salt, site_id, geo = self.salt, self.site_id, self.geo
        # The live pipeline's own definition (salts.visitor_hash).
        hashes = array("Q", [visitor_hash(salt(d), site_id, i, a) for a, i, d in zip(
            agents, ips, days, strict=True)])  # fmt: skip
        places = [geo(i) for i in ips]
        # Through a C array: Arrow converts Python ints of 2**63 and above at 8 µs each.
        new = [pa.Array.from_buffers(pa.uint64(), len(hashes), [None, pa.py_buffer(hashes)])]
        new += [pa.array([p[n] for p in places], _TEXT) for n in range(3)]
        self._keys = pa.concat_arrays([self._keys, keys])
        self._columns = [pa.concat_arrays([c, n]) for c, n in zip(self._columns, new, strict=True)]


def _encode(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.dictionary_encode(values)
