"""Real Ouster panoramas as ``image`` streams beside the same sensor's packets (real data).

``../shared/data`` has no bag with a LiDAR panorama topic, so one is made from real data: the
Ouster OS-0-128 pcap's packets as ``ouster_ros/PacketMsg`` (3 sweeps) plus, per sweep, the range
and reflectivity panoramas ouster-sdk decodes from the same packets (destaggered 128 × 1024, as
ouster-ros publishes them on ``/ouster/range_image`` / ``/ouster/reflec_image``: range as
``16UC1`` in 4 mm units here, reflectivity ``mono8``). The conversion stores the packets as a
LiDAR and both panoramas as full-rate image streams equal to the SDK's fields.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ouster.sdk.core", reason="ouster-sdk not installed (pip install --no-deps ouster-sdk)")

from ouster_packets import OUSTER_JSON, OUSTER_PCAP, PERIOD_NS, write_packet_bag

import fusion
from fusion.readers import open_bags
from fusion.store.validate import validate_store
from fusion.testing.kinds import header

pytestmark = [pytest.mark.shared, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
SWEEPS = 3


def sdk_panoramas() -> tuple[np.ndarray, np.ndarray, int]:
    """(range (128, 1024) uint16 in 4 mm units, reflectivity (128, 1024) uint8, first column time ns)."""
    import ouster.sdk.core as core
    import ouster.sdk.pcap as pcap

    src = pcap.PcapFrameSetSource(str(OUSTER_PCAP), meta=[str(OUSTER_JSON)])
    frame = next(iter(src))[0]
    info = src.sensor_info[0]
    rng = core.destagger(info, frame.field("RANGE")).astype(np.int64)
    refl = core.destagger(info, frame.field("REFLECTIVITY"))
    ts = frame.timestamp[frame.timestamp > 0]
    return np.minimum(rng // 4, 65535).astype(np.uint16), np.asarray(refl, np.uint8), int(ts.min())


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("ouster_images")
    rng, refl, t_first = sdk_panoramas()

    def images(store: Any, k: int, t0: int) -> list[tuple[str, str, int, Any]]:
        stamp = t_first + k * PERIOD_NS
        out = []
        for topic, img, enc in (("/ouster/range_image", rng, "16UC1"), ("/ouster/reflec_image", refl, "mono8")):
            msg = store.types["sensor_msgs/msg/Image"](
                header=header(store, stamp, "os_lidar"), height=img.shape[0], width=img.shape[1], encoding=enc,
                is_bigendian=0, step=img.strides[0], data=np.ascontiguousarray(img).view(np.uint8).ravel())
            out.append((topic, "sensor_msgs/msg/Image", t0 + k * PERIOD_NS + 120_000_000, msg))
        return out

    bag = write_packet_bag(tmp / "ouster", sweeps=SWEEPS, ros1=False, extra=images)
    out = tmp / "out.zarr"
    r = subprocess.run([sys.executable, "-m", "fusion", "convert", str(bag), "-o", str(out), "--deskew", "off"],
                       capture_output=True, text=True, timeout=600,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return {"bag": bag, "store": out, "range": rng, "refl": refl}


def test_panoramas_detected_as_images(converted: dict[str, Any]) -> None:
    with open_bags(converted["bag"]) as src:
        kinds = {t: str(getattr(i.kind, "value", i.kind)) for t, i in src.topics.items()}
    assert kinds["/ouster/range_image"] == "image" and kinds["/ouster/reflec_image"] == "image"
    assert kinds["/ouster/lidar_packets"] == "lidar"


def test_stored_equal_to_the_sdk_reading(converted: dict[str, Any]) -> None:
    assert validate_store(str(converted["store"])).ok
    ds = fusion.open(str(converted["store"]))
    kinds = {n: s.kind for n, s in ds.sensors.items()}
    assert kinds["os_sensor"] == "lidar"
    images = {s.topic: n for n, s in ds.sensors.items() if s.kind == "image"}
    assert set(images) == {"/ouster/range_image", "/ouster/reflec_image"}
    assert len(ds) == SWEEPS  # frames from the LiDAR; the images are not matched
    assert all(set(f.valid) == {"os_sensor"} for f in ds)
    for topic, want in (("/ouster/range_image", converted["range"]), ("/ouster/reflec_image", converted["refl"])):
        stream = ds.stream(images[topic])
        assert len(stream) == SWEEPS
        for k in range(SWEEPS):
            np.testing.assert_array_equal(stream[k].image, want)
        assert np.diff(stream.stamp_ns).tolist() == [PERIOD_NS] * (SWEEPS - 1)
    assert int((converted["range"] == 0).sum()) == 33773  # the pcap's no-return pixels stay 0 in the panorama
