"""Fixtures of the safety suite (see helpers_safety.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

# the engine tests' helpers (untrained models, small configs) serve this suite too
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from helpers_engine import TEST_THREADS  # noqa: E402
from helpers_safety import Workspace, make_workspace  # noqa: E402


@pytest.fixture(autouse=True)
def torch_test_threads() -> Iterator[None]:
    """One torch thread per test (restored afterwards), as in the engine tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A folder of user files, fingerprinted by each case before and after."""
    return make_workspace(tmp_path / "user")
