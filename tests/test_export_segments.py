"""`segments_sequence.json` of `fusion export package` validated with Segments.ai's own published
typing models (``segments.typing`` of the segments-ai package, pydantic): every frame parses, and
parsing drops or changes nothing (the models ignore unknown keys, so the dump is compared too)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from exportcheck import run_export

from calibration import CameraModel
from fusion.export.formats.package import _segments_image

st = pytest.importorskip("segments.typing", reason="segments-ai is not installed (pip install 'fusion[test]')")


def same(doc: object, parsed: object) -> None:
    """``parsed`` (the model's dump of what was set) equals ``doc`` key for key, value for value."""
    assert json.loads(json.dumps(parsed)) == doc


@pytest.mark.slow
@pytest.mark.parametrize("in_frame", ["world", "ego"])
def test_segments_sequence_parses_with_segments_models(annotated_store: Path, tmp_path: Path, in_frame: str) -> None:
    out = tmp_path / "pkg"
    res = run_export("package", str(annotated_store), "-o", str(out), "--frames", "1:", "--in", in_frame)
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "segments_sequence.json").read_text())
    seq = st.PointcloudSequenceSampleAttributes.model_validate(doc)
    same(doc, seq.model_dump(mode="json", exclude_unset=True))
    assert len(seq.frames) == 19
    for frame in seq.frames:
        assert frame.pcd.type == "pcd" and (out / frame.pcd.url).is_file()
        assert [im.name for im in frame.images] == ["camera_front", "camera_left"]
        for im in frame.images:
            assert (out / im.url).is_file() and im.camera_convention == "OpenCV"
            assert im.distortion is not None and im.distortion.model == "brown-conrady"
        assert frame.ego_pose is not None
    if in_frame == "world":  # the cloud is in the sequence's world: identity ego pose
        for frame in seq.frames:
            p, h = frame.ego_pose.position, frame.ego_pose.heading
            np.testing.assert_allclose([p.x, p.y, p.z, h.qx, h.qy, h.qz, h.qw], [0, 0, 0, 0, 0, 0, 1],
                                       atol=1e-12)  # measured 2.2e-16


K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
T = np.eye(4)


@pytest.mark.parametrize(("model", "D", "segments_model", "names"), [
    ("plumb_bob", [-0.1, 0.01, 1e-3, -1e-3, 2e-4], "brown-conrady", ["k1", "k2", "p1", "p2", "k3"]),
    ("rational_polynomial", [-0.1, 0.01, 1e-3, -1e-3, 2e-4, 0.05, 0.002, 1e-4], "brown-conrady",
     ["k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"]),
    ("equidistant", [0.05, -0.01, 0.002, -1e-4], "fisheye", ["k1", "k2", "k3", "k4"]),
])
def test_every_distortion_model_is_a_segments_distortion(model: str, D: list[float], segments_model: str,
                                                         names: list[str]) -> None:
    cam = CameraModel(640, 480, K, model, np.array(D))
    img = _segments_image("cam", "frames/000000/cam.jpg", 0, T, cam)
    parsed = st.CalibratedImage.model_validate(img)
    same(img, parsed.model_dump(mode="json", exclude_unset=True))
    assert parsed.distortion is not None and parsed.distortion.model == segments_model
    assert parsed.distortion.coefficients.model_dump(exclude_none=True) == dict(zip(names, D, strict=True))
    assert parsed.intrinsics is not None and parsed.intrinsics.intrinsic_matrix == K.tolist()


def test_a_camera_without_distortion_has_no_segments_distortion() -> None:
    img = _segments_image("cam", "x.jpg", 1, T, CameraModel(640, 480, K, "none", np.zeros(0)))
    parsed = st.CalibratedImage.model_validate(img)
    assert parsed.distortion is None and parsed.col == 1
    same(img, parsed.model_dump(mode="json", exclude_unset=True))
