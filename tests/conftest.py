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
from hypothesis import settings

# Property tests draw the same examples on every run (CI is reproducible: a red run replays); exploring new
# inputs is tools/fuzz.py's job and HYPOTHESIS_PROFILE=explore's.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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




@pytest.fixture(scope="session")
def annotated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A converted 2 s synthetic log (2 cameras, one JPEG and one raw; a LiDAR; a radar) with the
    generator's truth boxes imported at 5 Hz (``fusion annotate import``), for the exporters' tests.
    Frame 0 precedes the first odometry sample (no ego pose)."""
    import json

    import numpy as np
    from synthlog import make_log

    from fusion.annotations.model import Cuboid
    from fusion.annotations.openlabel_encode import encode_openlabel
    from fusion.cli.main import main
    from fusion.pipeline.config import ConvertConfig
    from fusion.pipeline.convert import convert
    from fusion.store import open_dataset

    tmp = tmp_path_factory.mktemp("annotated")
    bags, truth, rig = make_log(tmp, ("mcap",), duration_s=2.0)
    store = tmp / "s.zarr"
    convert([bags["mcap"]], str(store), ConvertConfig(rig=str(rig)))
    times = open_dataset(str(store)).times_ns
    key_times = np.arange(times[0], times[-1] + 1, 200_000_000, dtype=np.int64)
    b = truth.boxes_at(key_times)
    labels = [Cuboid.from_yaw(b.centers[i, m], b.sizes[m], b.yaws[m], "static" if b.is_static[m] else "car",
                              f"obj{int(b.ids[m])}", time_ns=int(t), frame="odom")
              for i, t in enumerate(key_times) for m in range(b.ids.size)]
    src = tmp / "labels.json"
    src.write_text(json.dumps(encode_openlabel(labels)))
    main(["annotate", "import", str(store), str(src)])
    return store
