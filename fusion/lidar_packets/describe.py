"""What a packet topic holds, from its first message (for ``fusion inspect``): no decoding."""

from __future__ import annotations

from typing import Any

from fusion.lidar_packets import hesai_models, velodyne
from fusion.lidar_packets.options import VENDOR_OF_TYPE
from fusion.lidar_packets.payload import PacketPayloadError, split_packets
from fusion.lidar_packets.topic import detect_model
from fusion.readers.source import RawMessage

_VELODYNE_MODES = {55: "strongest", 56: "last", 57: "dual"}
_HESAI_MODES = {0x33: "first", 0x34: "second", 0x37: "strongest", 0x38: "last", 0x39: "dual (last, strongest)",
                0x3A: "dual (first, second)", 0x3B: "dual (first, last)", 0x3C: "dual (first, strongest)",
                0x3D: "triple (first, last, strongest)", 0x3E: "dual (strongest, second strongest)"}


def describe_packets(raw: RawMessage, layout: tuple[int | None, bool] | None = None) -> dict[str, Any]:
    """Vendor, model, return mode and packets per message of a packet topic, and how fusion reads it."""
    vendor = VENDOR_OF_TYPE[raw.msgtype]
    out: dict[str, Any] = {"vendor": vendor}
    try:
        batch = split_packets(raw.data, raw.msgtype, ros1=raw.ros1, layout=layout)
    except PacketPayloadError as exc:
        out["error"] = exc.reason
        return out
    out["packets_per_message"] = int(batch.data.shape[0])
    model = detect_model(vendor, batch) if batch.data.shape[0] else None
    out["model"] = model
    mode = None
    needs_calibration = True
    if batch.data.shape[0] and vendor == "velodyne":
        mode = _VELODYNE_MODES.get(int(batch.data[0, 1204]))
        vm = velodyne.find_model(model) if model else None
        needs_calibration = vm is None or velodyne.default_calibration(vm) is None
    elif batch.data.shape[0] and model:
        hm = hesai_models.MODELS[model]
        mode = _HESAI_MODES.get(int(batch.data[0, hm.tail_offset + hm.return_mode_at]))
    out["return_mode"] = mode
    what = f"{vendor} {model or '(model unknown: set packets.model)'}"
    how = "decoded by fusion's numba decoder into LiDAR sweeps with per-point time (cut at 0°), stored as lidar"
    cal = ("needs packets.calibration (the sensor's angle file)" if needs_calibration
           else "nominal angles unless packets.calibration is given")
    if model == "AT128":
        cal = "needs packets.calibration (the AT128's .dat angle-correction file)"
    elif model == "Pandar128E3X":
        cal += "; an OT128 sends the same packets: set packets.model: OT128 for one"
    out["reads_as"] = f"packets of {what}, {mode or 'unknown'} return: {how}; {cal}"
    return out
