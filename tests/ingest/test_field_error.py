"""A FieldError stays a FieldError (a 400 naming the field) wherever it is raised, even
inside a ``with`` block: the store's read gate and the imports' feeds are context managers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from footfall.ingest.validate import FieldError


@contextmanager
def _block() -> Iterator[None]:
    yield


def test_a_field_error_crosses_a_context_manager_unchanged() -> None:
    with pytest.raises(FieldError) as caught, _block():
        raise FieldError("date_range", "must be a list of two dates")
    assert caught.value.as_json() == {
        "field": "date_range",
        "message": "must be a list of two dates",
    }
