"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from toy_method import ToyMethod

from napari_blindspot.engine.methods import REGISTRY, Method


@pytest.fixture
def toy_method(monkeypatch) -> Iterator[type[Method]]:
    """:class:`toy_method.ToyMethod` registered for the test (the registry line a new method
    adds; removed after the test)."""
    monkeypatch.setitem(REGISTRY, ToyMethod.name, ToyMethod)
    yield ToyMethod
