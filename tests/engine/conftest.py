"""Fixtures of the engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from helpers_engine import TEST_THREADS


@pytest.fixture(autouse=True)
def torch_test_threads() -> Iterator[None]:
    """Run every engine test with :data:`TEST_THREADS` torch threads, restored afterwards
    (the engine sets the thread count when training starts)."""
    before = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)
