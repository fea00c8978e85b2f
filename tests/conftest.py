"""Shared pytest fixtures.

``shared_data`` points at ``../shared/data`` (the real bags and edge-case
fixtures). When the folder is missing the tests that need it are skipped with a
clear reason, unless ``FUSION_REQUIRE_SHARED_DATA=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A real S3-compatible server (moto's server mode) on 127.0.0.1 with a bucket ``fusion``.

    Yields the storage options (endpoint_url, key, secret, region) fusion takes for ``s3://`` URLs.
    """
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    opts = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing",
            "region": "us-east-1"}
    client = boto3.client("s3", endpoint_url=opts["endpoint_url"], aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket="fusion")
    try:
        yield opts
    finally:
        server.stop()


