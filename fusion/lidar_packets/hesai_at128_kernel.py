"""Numba kernel decoding AT128E2X packets (mirror-frame angle model of :mod:`.hesai_correction`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fusion.lidar_packets.hesai_kernel import _n_returns, _u16, packet_ns
from fusion.lidar_packets.kernels_common import crossed_cut, first_sweep, hesai_pick

FULL = 360 * 25600  # motor / output azimuth units per turn (1/25600°)
STEP = 200 * 256  # adjustment table step (2°)
RAD_PER_UNIT = 2.0 * math.pi / FULL


@njit(cache=True)
def _adjust(t, c, i, l):  # type: ignore[no-untyped-def]
    """Adjustment of channel ``c`` at ``l`` (1/25600°) past table entry ``i``: the linear interpolation
    ``((STEP − l)·t[c, i] + l·t[c, i + 1]) / STEP`` rounded half away from zero, exactly (integers)."""
    num = (STEP - l) * t[c, i] + l * t[c, i + 1]
    q = (2 * abs(num) + STEP) // (2 * STEP)
    return q if num >= 0 else -q


@njit(cache=True)
def _frame(a, start, end):  # type: ignore[no-untyped-def]
    """Index of the mirror frame holding motor azimuth ``a`` (start ≤ a < end, wrapping), -1 if none."""
    for f in range(start.size):
        s = start[f]
        e = end[f]
        if (s <= e and s <= a < e) or (s > e and (a >= s or a < e)):
            return f
    return -1


@njit(cache=True)
def decode_at128(  # type: ignore[no-untyped-def]
        pk, sizes, stamps, use_stamp, want, lay, start, end, az_ch, az_adj, el_adj, az_sin, az_cos,
        el_sin, el_cos, blk_t, ch_t, min_r, max_r, dual_thr, cut, last_az, sweep_of, out_xyz, out_i,
        out_ch, out_ret, out_t, out_sw, counters):
    """Decode ``pk`` (n, N) uint8 AT128 packets into the ``out_*`` arrays; returns the points written.

    ``az_adj``/``el_adj`` (C, 181) int64: the correction's fine adjustments (0.01°);
    ``az_sin``/``az_cos`` (C, 512) float64: sin/cos of ``−azimuth[c] + 256·(j − 256)``;
    ``el_sin``/``el_cos`` (C, 512) float32: sin/cos of ``elevation[c] + 256·(j − 256)`` (j = the
    rounded adjustment + 256). Per point: the azimuth/elevation of the module docstring of
    :mod:`.hesai_correction`, its time = packet time + block + channel firing offset, the sweep
    (= mirror frame) counter of its channel, incremented when its azimuth crosses ``cut``.
    """
    n_blocks = lay[0]
    n_ch = lay[1]
    hdr = lay[2]
    usz = lay[4]
    tail = lay[5]
    bsz = 3 + n_ch * usz
    k = 0
    for p in range(pk.shape[0]):
        pkt = pk[p]
        if sizes[p] < lay[13] or pkt[0] != 0xEE or pkt[1] != 0xFF:
            counters[1] += 1
            continue
        mode = int(pkt[tail + lay[6]])
        nret = _n_returns(mode)
        if nret == 0 or nret > 2:
            counters[1] += 1
            continue
        if want != 0 and hesai_pick(mode, want, 0, 0, False) < 0:
            counters[5] += 1
            continue
        bad = False
        for g in range(0, n_blocks, nret):
            b0 = hdr + g * bsz
            a = (_u16(pkt, b0) << 8) | int(pkt[b0 + 2])
            if a >= FULL or _frame(a, start, end) < 0:
                bad = True
        if bad:
            counters[1] += 1
            continue
        counters[0] += 1
        unit = pkt[lay[12]] / 1000.0
        pkt_ns = packet_ns(pkt, lay, stamps[p], use_stamp)
        for g in range(0, n_blocks, nret):
            b0 = hdr + g * bsz
            a = (_u16(pkt, b0) << 8) | int(pkt[b0 + 2])
            f = _frame(a, start, end)
            base = 2 * (a - start[f] if a >= start[f] else a + FULL - start[f])
            base_rad = float(base % FULL) * RAD_PER_UNIT
            sb = math.sin(base_rad)
            cb = math.cos(base_rad)
            ti = a // STEP
            tl = a - ti * STEP
            for c in range(n_ch):
                ja = min(max(_adjust(az_adj, c, ti, tl) + 256, 0), 511)
                je = min(max(_adjust(el_adj, c, ti, tl) + 256, 0), 511)
                az_units = (base - az_ch[c] + 256 * (ja - 256)) % FULL
                az = float(az_units) * RAD_PER_UNIT
                if np.isnan(last_az[c]):
                    sweep_of[c] = first_sweep(base_rad, az, cut, 2.0 * math.pi)
                elif crossed_cut(last_az[c], az, cut, 2.0 * math.pi):
                    sweep_of[c] += 1
                last_az[c] = az
                sa = np.float32(sb * az_cos[c, ja] + cb * az_sin[c, ja])
                ca = np.float32(cb * az_cos[c, ja] - sb * az_sin[c, ja])
                pick = -1
                if want != 0:
                    u0 = b0 + 3 + c * usz
                    pick = hesai_pick(mode, want, int(pkt[u0 + 2]), int(pkt[u0 + bsz + 2]) if nret > 1 else 0, False)
                for r in range(nret):
                    if want != 0 and r != pick:
                        continue
                    u = b0 + 3 + c * usz + r * bsz
                    raw = _u16(pkt, u)
                    if raw == 0:
                        counters[2] += 1
                        continue
                    dist = np.float32(raw * unit)
                    if dist < min_r or dist > max_r:
                        counters[3] += 1
                        continue
                    if want == 0 and nret == 2 and r == 0:
                        uo = u + bsz
                        raw_o = _u16(pkt, uo)
                        if (raw_o == raw and pkt[uo + 2] == pkt[u + 2]) or abs(
                                np.float32(raw_o * unit) - dist) < dual_thr:
                            counters[4] += 1
                            continue
                    xy = dist * el_cos[c, je]
                    out_xyz[k, 0] = xy * sa
                    out_xyz[k, 1] = xy * ca
                    out_xyz[k, 2] = dist * el_sin[c, je]
                    out_i[k] = pkt[u + 2]
                    out_ch[k] = c
                    out_ret[k] = r
                    out_t[k] = pkt_ns + blk_t[nret - 1, g + r] + ch_t[0, c]
                    out_sw[k] = sweep_of[c]
                    k += 1
    return k
