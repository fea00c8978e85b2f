"""Shared pytest fixtures.

``shared_data`` points at ``../shared/data`` (the real bags and edge-case
fixtures). When the folder is missing the tests that need it are skipped with a
clear reason, unless ``FUSION_REQUIRE_SHARED_DATA=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data_path() -> Path:
    """Return ``../shared/data`` or skip/fail the calling test as the environment asks."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    msg = (
        f"real test bags not found at {SHARED_DATA}; clone the shared data beside the repository "
        "(CI sets FUSION_REQUIRE_SHARED_DATA=1 and fails here)"
    )
    if os.environ.get("FUSION_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data`` (skips, or fails under FUSION_REQUIRE_SHARED_DATA=1, when absent)."""
    return shared_data_path()
