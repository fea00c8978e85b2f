"""A count read from the input is never trusted: a rosbag2 ``metadata.yaml`` that promises 99 999 999
messages converts in bounded time and memory, and the report says what was promised and never found."""

from __future__ import annotations

import json
import re
from pathlib import Path

import fusion
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store.validate import validate_store
from fusion.testing.synth import SynthConfig, generate

PROMISED = 99_999_999


def test_inflated_metadata_counts_are_one_report_entry(tmp_path: Path) -> None:
    out = generate(SynthConfig(duration_s=1.0, lidar_beams=8, lidar_columns=256, image_width=64, image_height=48),
                   tmp_path / "log", formats=("db3",))
    meta = out.bags["db3"] / "metadata.yaml"
    text = meta.read_text()
    lidar_count = out.counts["/lidar/points"]
    # the topic's count and the bag's total: what a hostile or stale metadata.yaml can claim
    text = re.sub(rf"(message_count: ){lidar_count}(\n    topic_metadata:\n      name: /lidar/points)",
                  rf"\g<1>{PROMISED}\2", text)
    meta.write_text(text)
    store = tmp_path / "s.zarr"
    res = convert([out.bags["db3"]], str(store), ConvertConfig())
    missing = PROMISED - lidar_count
    assert res.skipped == missing
    report = fusion.open(str(store)).report
    assert report["skipped_total"] == missing
    assert len(report["skipped"]) < 10  # one range entry, not 10^8 dicts (the old code took 5 GB and minutes)
    entry = next(e for e in report["skipped"] if e.get("count"))
    assert (entry["topic"], entry["index"], entry["count"]) == ("/lidar/points", lidar_count, missing)
    assert report["topics"]["/lidar/points"]["skipped"] == {"bag_truncated": missing}
    problems = [str(p) for p in validate_store(str(store)).problems]
    assert any("lidar_top" in p and f"{missing} of {PROMISED}" in p for p in problems), problems
    assert json.dumps(report)  # the report stays small and serializable
