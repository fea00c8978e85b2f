"""Pandar128E3X, OT128 and AT128 packets: decode(encode(points)) with an independent encoder.

No recorded packets of these sensors are available (../shared/data has none), so the tests encode
known ranges at known angles with ``hesai128_encode`` (written from the published layouts, struct +
numpy) and a synthetic calibration, and check geometry, per-point time, return modes, masking,
the sweep cut and auto-detection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hesai128_encode import at128_dat, at128_packet, epoch, p128_calibration, p128_packet, write_angle_csv, xyz
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.errors import ConfigError
from fusion.lidar_packets.hesai import AT128Decoder, HesaiDecoder, make_hesai
from fusion.lidar_packets.hesai_correction import load_at128_dat, parse_at128_dat
from fusion.lidar_packets.hesai_models import MODELS, find_model, sniff_model
from fusion.lidar_packets.payload import PacketBatch

T0 = epoch(2024, 5, 17, 8, 30, 12)


def batch(pkts: list[bytes]) -> PacketBatch:
    data = np.zeros((len(pkts), 1500), np.uint8)
    for i, p in enumerate(pkts):
        data[i, : len(p)] = np.frombuffer(p, np.uint8)
    sizes = np.array([len(p) for p in pkts], np.int64)
    return PacketBatch(data, sizes, np.full(len(pkts), T0 * 10**9, np.int64), T0 * 10**9, "hesai")


@pytest.fixture(scope="module")
def p128_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    el, az = p128_calibration()
    return write_angle_csv(tmp_path_factory.mktemp("cal") / "Pandar128E3X.csv", el, az)


@pytest.fixture(scope="module")
def at128_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cal") / "AT128.dat"
    path.write_bytes(at128_dat().to_bytes())
    return path


def _p128(model: str, csv: Path, **kw: object) -> HesaiDecoder:
    dec = make_hesai(model, csv, min_range_m=0.0, max_range_m=1000.0, **kw)  # type: ignore[arg-type]
    assert isinstance(dec, HesaiDecoder)
    return dec


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), az0=st.integers(0, 35999), model=st.sampled_from(["Pandar128E3X", "Pandar128E4X"]))
def test_p128_roundtrip(p128_csv: Path, seed: int, az0: int, model: str) -> None:
    """Every encoded return comes back at its angle and range: measured max error 3.1e-5 m over
    ranges up to 230 m (float32 rounding); distance is quantised to the 4 mm unit, azimuth to 0.01°."""
    rng = np.random.default_rng(seed)
    el, az_off = p128_calibration()
    n_pk = 20
    raw = rng.integers(0, 57_500, (n_pk, 2, 128)).astype(np.uint16)  # up to 230 m at 4 mm
    raw[rng.random(raw.shape) < 0.1] = 0
    refl = rng.integers(0, 256, raw.shape).astype(np.uint8)
    block_az = [[(az0 + 20 * (2 * p + b)) % 36000 for b in range(2)] for p in range(n_pk)]
    pkts = [p128_packet(block_az[p], raw[p], refl[p], secs=T0, usec=1000 * p) for p in range(n_pk)]
    dec = _p128(model, p128_csv)
    out = dec.decode(batch(pkts))
    min_raw = 4 if model == "Pandar128E4X" else 1
    keep = (raw >= min_raw) & (raw * 0.004 >= 0.1)  # the sensor's own 0.1 m minimum
    d = raw * 0.004
    truth = xyz(d, np.array(block_az)[:, :, None] / 100.0 + az_off, np.broadcast_to(el, raw.shape))[keep]
    assert len(out) == int(keep.sum())
    err = np.abs(out.xyz.astype(np.float64) - truth).max()
    assert err < 1e-4  # measured ≤ 3.1e-5 m (float32 at 230 m)
    np.testing.assert_array_equal(out.channel, np.broadcast_to(np.arange(128), raw.shape)[keep])
    np.testing.assert_array_equal(out.intensity, refl[keep])
    assert dec.counts()["empty_returns"] + dec.counts()["out_of_range"] == int((~keep).sum())


# (model, operational state, azimuth states, channel, range m, published firing offset of the channel, ns)
FIRING = [
    ("Pandar128E3X", 2, 0x0000, 0, 50.0, 4436),  # standard, azimuth state 0, far
    ("Pandar128E3X", 2, 0x0000, 1, 50.0, 28554),
    ("Pandar128E3X", 2, 0x0000, 0, 2.0, 5201),  # near field (≤ 2.85 m)
    ("Pandar128E3X", 0, 0x4000, 1, 50.0, 776),  # high resolution, block 0 in azimuth state 1
    ("Pandar128E4X", 1, 0x0000, 0, 50.0, 49758),  # standard
    ("Pandar128E4X", 0, 0x0000, 4, 50.0, 21980),  # high resolution, azimuth state 0
    ("Pandar128E4X", 0, 0x4000, 0, 50.0, 21980),  # azimuth state 1
]


@pytest.mark.parametrize(("model", "opstate", "states", "ch", "rng_m", "offset"), FIRING)
def test_p128_point_time(p128_csv: Path, model: str, opstate: int, states: int, ch: int, rng_m: float,
                         offset: int) -> None:
    """Point time = packet date + µs + block offset + the channel's firing offset (single return:
    E3X 3148 − 55556·(1 − block) ns, high resolution 3148 − 27778·(1 − block) ns (the manual);
    OT128 43346 − 55556·(1 − block) ns)."""
    raw = np.zeros((2, 128), np.uint16)
    raw[:, ch] = round(rng_m / 0.004)
    pkt = p128_packet([1000, 1020], raw, np.full((2, 128), 9, np.uint8), secs=T0, usec=123_456,
                      opstate=opstate, az_states=states)
    out = _p128(model, p128_csv).decode(batch([pkt]))
    assert len(out) == 2
    base = T0 * 10**9 + 123_456_000
    step = 27778 if opstate == 0 else 55556  # E3X block 1 starts half as early in high resolution
    blk = [3148 - step, 3148] if model == "Pandar128E3X" else [43346 - 55556, 43346]
    assert out.time_ns[0] - base == blk[0] + offset
    if states == 0:  # block 1 in the same state
        assert out.time_ns[1] - base == blk[1] + offset


def test_p128_dual_return_and_masking(p128_csv: Path) -> None:
    """0x39 (last, strongest): both returns kept when apart, one when they coincide (counted);
    ``return_mode: last`` keeps block 0; range 0 and OT128's no-return codes 1–3 are masked."""
    raw = np.zeros((2, 128), np.uint16)
    raw[0, :4] = [2500, 2500, 0, 3]  # last return: 10 m, 10 m, none, code 3
    raw[1, :4] = [5000, 2500, 2500, 3]  # strongest: 20 m, same as last, 10 m, code 3
    refl = np.full((2, 128), 50, np.uint8)
    pkt = p128_packet([500, 500], raw, refl, secs=T0, usec=0, mode=0x39)
    dec = _p128("Pandar128E3X", p128_csv)
    out = dec.decode(batch([pkt]))
    r = np.linalg.norm(out.xyz, axis=1)
    assert out.channel.tolist() == [0, 0, 1, 2] and out.return_index.tolist() == [0, 1, 1, 1]
    np.testing.assert_allclose(r, [10, 20, 10, 10], atol=1e-4)
    c = dec.counts()  # (124 silent channels × 2 blocks of range 0; code 3 = 12 mm: below 0.1 m)
    assert c["multi_return_duplicates"] == 1 and c["empty_returns"] == 1 + 248 and c["out_of_range"] == 2
    # dual: both blocks start at t0 + 3.148 µs (two returns of one firing share its time)
    base = T0 * 10**9
    assert (out.time_ns[:2] - base).tolist() == [3148 + 4436, 3148 + 4436]
    last = _p128("Pandar128E3X", p128_csv, return_mode="last").decode(batch([pkt]))
    assert set(last.return_index.tolist()) == {0} and last.channel.tolist() == [0, 1]
    # 0x3B (first, last) is stored last, first: ``first`` takes block 1
    fl = p128_packet([500, 500], raw, refl, secs=T0, usec=0, mode=0x3B)
    first = _p128("Pandar128E3X", p128_csv, return_mode="first").decode(batch([fl]))
    assert set(first.return_index.tolist()) == {1} and first.channel.tolist() == [0, 1, 2]
    e4 = _p128("Pandar128E4X", p128_csv)
    e4.decode(batch([pkt]))
    assert e4.counts()["empty_returns"] == 1 + 248 + 2 and e4.counts()["out_of_range"] == 0  # code 3: no return


def test_sniff_models() -> None:
    z = np.zeros((2, 128), np.uint16)
    p = np.frombuffer(p128_packet([0, 10], z, z.astype(np.uint8), secs=T0, usec=0), np.uint8)
    a = np.frombuffer(at128_packet([0, 10], z, z.astype(np.uint8), secs=T0, usec=0), np.uint8)
    assert sniff_model(p, p.size).name == "Pandar128E3X"  # type: ignore[union-attr]
    assert sniff_model(a, a.size).name == "AT128"  # type: ignore[union-attr]
    q = p.copy()
    q[2], q[3] = 3, 2  # protocol 3.2: QT128
    assert sniff_model(q, q.size).name == "PandarQT128"  # type: ignore[union-attr]
    assert find_model("OT128").name == "Pandar128E4X" and find_model("at128").name == "AT128"  # type: ignore[union-attr]


def _at128_frames(n_frames: int, step_deg: float = 0.5, mode: int = 0x37, seed: int = 1, cal_seed: int = 0):
    """Packets sweeping the visible 15°–75° of each mirror frame (motor), with the truth per point."""
    rng = np.random.default_rng(seed)
    cal = at128_dat(cal_seed)
    pkts, truth, times = [], [], []
    usec = 0
    for f in range(n_frames):
        s = cal.frames()[f % 3][0]
        blocks = np.arange(15.0, 75.0, step_deg) * 25600 + s
        for i in range(0, len(blocks), 2):
            a = [int(blocks[i]) % (360 * 25600), int(blocks[i + 1]) % (360 * 25600)]
            raw = rng.integers(300, 40_000, (2, 128)).astype(np.uint16)
            if mode >= 0x39:
                a = [a[0], a[0]]
            pkts.append(at128_packet(a, raw, np.full((2, 128), 7, np.uint8), secs=T0, usec=usec, mode=mode))
            for b in range(2):
                az, el = cal.angles(a[b])
                truth.append(xyz(raw[b] * 0.004, az, el))
            times.append(usec)
            usec += 500
    return pkts, np.stack(truth), times


def test_at128_roundtrip_and_frames(at128_file: Path) -> None:
    """Mirror-frame model: azimuth 2·(a − start) − azimuth[c] + fine adjustment, elevation +
    adjustment; measured max error 2.5e-5 m (≤ 2.8e-5 m over other seeds) at up to 160 m. One sweep per
    mirror frame."""
    pkts, truth, times = _at128_frames(3)
    dec = make_hesai("AT128", at128_file, min_range_m=0.0, max_range_m=1000.0)
    assert isinstance(dec, AT128Decoder)
    out = dec.decode(batch(pkts))
    assert len(out) == truth.shape[0] * 128
    err = np.abs(out.xyz.astype(np.float64) - truth.reshape(-1, 3)).max()
    assert err < 1e-4  # measured 2.5e-5 m (2.8e-5 m over 6 seeds)
    az = np.degrees(np.arctan2(out.xyz[:, 0], out.xyz[:, 1])) % 360
    assert az.min() > 20 and az.max() < 160  # the 120° field of view
    sweeps = np.unique(out.sweep)
    assert len(sweeps) == 3  # one per mirror frame (cut at 0°, outside the field of view)
    per = [np.unique(out.time_ns[out.sweep == s] // 10**6).size for s in sweeps]
    assert all(p > 10 for p in per)
    # time: packet + block (single: −9249 − 41666·(2 − block)) + channel (ch 0: 0, ch 2: 8240 ns)
    t = out.time_ns.reshape(-1, 128)
    base = T0 * 10**9 + times[0] * 1000
    assert t[0, 0] - base == -9249 - 2 * 41666 and t[1, 0] - base == -9249 - 41666
    assert t[0, 2] - base == -9249 - 2 * 41666 + 8240


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), cal_seed=st.integers(0, 2**31), step=st.sampled_from([0.1, 0.35, 1.0]))
def test_at128_roundtrip_property(seed: int, cal_seed: int, step: float) -> None:
    """Any correction (random fine adjustments) and any ranges: within float32 rounding of the truth."""
    pkts, truth, _ = _at128_frames(1, step_deg=step, seed=seed, cal_seed=cal_seed)
    dec = AT128Decoder(MODELS["AT128"], parse_at128_dat(at128_dat(cal_seed).to_bytes()), min_range_m=0.0,
                       max_range_m=1000.0)
    out = dec.decode(batch(pkts))
    assert len(out) == truth.shape[0] * 128
    assert np.abs(out.xyz.astype(np.float64) - truth.reshape(-1, 3)).max() < 1e-4  # measured ≤ 2.8e-5 m


def test_at128_dual_and_return_mode(at128_file: Path) -> None:
    pkts, _, _ = _at128_frames(1, mode=0x39)
    both = make_hesai("AT128", at128_file, min_range_m=0.0, max_range_m=1000.0).decode(batch(pkts))
    assert set(both.return_index.tolist()) == {0, 1}
    last = make_hesai("AT128", at128_file, min_range_m=0.0, max_range_m=1000.0,
                      return_mode="last").decode(batch(pkts))
    assert set(last.return_index.tolist()) == {0} and len(last) == len(pkts) * 128
    t = both.time_ns[both.return_index == 1] - T0 * 10**9
    assert t[0] == -9249 - 41666  # both returns of a firing share its time


def test_at128_correction_file(at128_file: Path, tmp_path: Path) -> None:
    cal = at128_dat()
    cor = load_at128_dat(at128_file)
    assert cor.frame_start.tolist() == [25 * 25600, 145 * 25600, 265 * 25600]
    np.testing.assert_array_equal(cor.azimuth_adjust[:, :180], cal.az_adj.astype(np.int64) * 2)
    bad = tmp_path / "bad.dat"
    buf = bytearray(at128_file.read_bytes())
    buf[100] ^= 0xFF
    bad.write_bytes(bytes(buf))
    with pytest.raises(ConfigError, match="SHA-256"):
        load_at128_dat(bad)
    buf = bytearray(at128_file.read_bytes())
    buf[3] = 3
    bad.write_bytes(bytes(buf))
    with pytest.raises(ConfigError, match=r"format 1\.3"):
        load_at128_dat(bad)
    with pytest.raises(ConfigError, match="CSV lacks"):
        load_at128_dat(tmp_path / "AT128.csv")
    with pytest.raises(ConfigError, match="does not exist"):
        load_at128_dat(tmp_path / "none.dat")


@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.integers(1, 479), max_size=8))
def test_at128_sweeps_do_not_depend_on_message_boundaries(at128_file: Path, cuts: list[int]) -> None:
    """4 mirror frames split into messages anywhere: the same complete sweeps (one per frame), each
    holding exactly the points of its frame."""
    import itertools

    from fusion.lidar_packets.sweep import SweepAssembler

    pkts, _, _ = _at128_frames(4, step_deg=0.25)  # 120 packets per frame
    full = batch(pkts)
    dec = make_hesai("AT128", at128_file, min_range_m=0.0, max_range_m=1000.0)
    asm = SweepAssembler(dec)
    out: dict[int, np.ndarray] = {}
    bounds = [0, *sorted(set(cuts)), len(pkts)]
    for a, b in itertools.pairwise(bounds):
        part = PacketBatch(full.data[a:b], full.size[a:b], full.stamp_ns[a:b], 0, "")
        for s in asm.feed(part):
            out[s.sweep_id] = np.sort(s.points.time_ns)
    for s in asm.flush():
        out[s.sweep_id] = np.sort(s.points.time_ns)
    assert len(out) == 4
    for i, t in enumerate(sorted(out)):  # frame i: packets 120·i … 120·i + 119 (500 µs apart)
        assert len(out[t]) == 120 * 2 * 128
        frame = (out[t] - T0 * 10**9 + 200_000) // 1000 // 60_000  # (+200 µs: block offsets ≥ −93 µs)
        assert set(frame.tolist()) == {i}
