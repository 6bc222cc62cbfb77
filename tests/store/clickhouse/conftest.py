"""The ClickHouse store's own tests run on both of its transports: chdb in process and
HTTP through clickhouse-connect against the stand-in."""

import pytest

from tests.contract.conftest import url_for


@pytest.fixture(params=["chdb", "clickhouse-http"])
def store_url(request: pytest.FixtureRequest) -> str:
    return url_for(request, request.param)
