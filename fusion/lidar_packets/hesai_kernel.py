"""Numba kernel decoding Hesai packets into points (one call per scan message): every model whose
angles are an elevation and an azimuth offset per channel (AT128: :mod:`.hesai_at128_kernel`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fusion.lidar_packets.kernels_common import crossed_cut, days_from_civil, first_sweep, hesai_pick

# counters: 0 packets ok, 1 packets bad, 2 empty returns (range 0), 3 out of range, 4 multi-return dedup,
# 5 packets without the wanted return (return_mode)
N_COUNTERS = 6
TWO_PI_F = np.float32(2.0 * math.pi)


@njit(cache=True)
def _u16(p: np.ndarray, i: int) -> int:
    return int(p[i]) | (int(p[i + 1]) << 8)


@njit(cache=True)
def _n_returns(mode: int) -> int:
    if mode == 0x33 or mode == 0x34 or mode == 0x37 or mode == 0x38:
        return 1
    if mode == 0x39 or mode == 0x3A or mode == 0x3B or mode == 0x3C or mode == 0x3E:
        return 2
    if mode == 0x3D:
        return 3
    return 0


@njit(cache=True)
def packet_ns(pkt, lay, stamp, use_stamp):  # type: ignore[no-untyped-def]
    """Absolute time of the packet, ns: its tail date + µs, or ``stamp`` with ``use_stamp``."""
    if use_stamp:
        return stamp
    tail = lay[5]
    dt = tail + lay[7]
    if lay[19] == 1:  # zero byte + 40-bit big-endian seconds since the epoch (AT128)
        secs = 0
        for i in range(1, 6):
            secs = (secs << 8) | int(pkt[dt + i])
    else:
        days = days_from_civil(int(pkt[dt]) + lay[10], int(pkt[dt + 1]), int(pkt[dt + 2]))
        secs = days * 86400 + int(pkt[dt + 3]) * 3600 + int(pkt[dt + 4]) * 60 + int(pkt[dt + 5])
    ts = tail + lay[8]
    usec = int(pkt[ts]) | (int(pkt[ts + 1]) << 8) | (int(pkt[ts + 2]) << 16) | (int(pkt[ts + 3]) << 24)
    return secs * 1_000_000_000 + usec * 1000


@njit(cache=True)
def time_row(loop_sel, opstate, az_states, block, dist):  # type: ignore[no-untyped-def]
    """Row of the channel firing table for Pandar128E3X (2) and OT128 (3) (see ``HesaiModel``)."""
    st = (int(az_states) >> (14 - 2 * block)) & 3
    if loop_sel == 2:  # rows 2·state + near: hi-res states 0-3, standard (and energy saving) 4-5
        state = st if opstate == 0 else 4 + (st & 1)
        return 2 * state + (1 if dist <= 2.85 else 0)
    return 0 if opstate != 0 else 1 + (st & 1)


@njit(cache=True)
def decode_hesai(  # type: ignore[no-untyped-def]
        pk, sizes, stamps, use_stamp, want, flipped, lay, block_rad, block_sin, block_cos, elev_cos, elev_sin,
        az_off, off_sin, off_cos, blk_t, ch_t,
        min_r, max_r, dual_thr, cut, last_az, sweep_of, out_xyz, out_i, out_ch, out_ret,
        out_t, out_sw, counters):
    """Decode ``pk`` (n, N) uint8 packets into the ``out_*`` arrays; returns the points written.

    Point time: the packet's own clock (tail date + µs), or with ``use_stamp`` the packet
    message's ``stamp`` (``stamps``, int64 ns), plus the block's and channel's firing offset
    (``blk_t`` (6, n_blocks): rows per number of returns, rows 3–5 in the high-resolution state).
    Per-channel sweep state (``last_az`` float64 rad, ``sweep_of`` int64) is carried across
    calls: a channel's sweep counter increments when its corrected azimuth crosses ``cut``.
    Output frame: x = r·cos(el)·sin(az), y = r·cos(el)·cos(az), z = r·sin(el) (the sensor's
    own frame as Hesai documents it: azimuth clockwise from +y).
    """
    n_blocks = lay[0]
    n_ch = lay[1]
    hdr = lay[2]
    prefix = lay[3]
    usz = lay[4]
    tail = lay[5]
    min_size = lay[13]
    loop_sel = lay[14]
    min_raw = lay[17]
    bsz = prefix + 2 + n_ch * usz
    k = 0
    for p in range(pk.shape[0]):
        pkt = pk[p]
        if sizes[p] < min_size:
            counters[1] += 1
            continue
        ok = (pkt[0] == 0xFF and pkt[1] == 0xEE) if hdr == 0 else (pkt[0] == 0xEE and pkt[1] == 0xFF)
        mode = int(pkt[tail + lay[6]])
        nret = _n_returns(mode)
        if not ok or nret == 0 or n_blocks % nret != 0:
            counters[1] += 1
            continue
        if want != 0 and hesai_pick(mode, want, 0, 0, flipped) < 0:
            counters[5] += 1  # the packet's return mode does not hold the wanted return
            continue
        unit = lay[11] / 1000.0 if lay[11] > 0 else pkt[lay[12]] / 1000.0
        pkt_ns = packet_ns(pkt, lay, stamps[p], use_stamp)
        opstate = int(pkt[tail + lay[15]]) if lay[15] >= 0 else 0
        az_states = _u16(pkt, tail + lay[16]) if lay[16] >= 0 else 0
        hires = 3 if (loop_sel >= 2 and opstate == 0) else 0  # blk_t rows of the high-resolution state
        loop = 0
        if loop_sel == 1 and nret > 1 and lay[9] >= 0:
            loop = 0 if (pkt[tail + lay[9]] & 1) else 1
        bad = False
        for g in range(0, n_blocks, nret):
            if _u16(pkt, hdr + g * bsz + prefix) >= 36000:
                bad = True
        if bad:
            counters[1] += 1
            continue
        counters[0] += 1
        for g in range(0, n_blocks, nret):
            b0 = hdr + g * bsz
            raw_az = _u16(pkt, b0 + prefix)
            baz = block_rad[raw_az]
            sb = block_sin[raw_az]
            cb = block_cos[raw_az]
            for c in range(n_ch):
                az = baz + az_off[c]
                if az >= TWO_PI_F:
                    az -= TWO_PI_F
                elif az < 0:
                    az += TWO_PI_F
                if np.isnan(last_az[c]):
                    sweep_of[c] = first_sweep(float(baz), float(az), cut, 2.0 * math.pi)
                elif crossed_cut(last_az[c], float(az), cut, 2.0 * math.pi):
                    sweep_of[c] += 1
                last_az[c] = az
                lp = g % 2 if (loop_sel == 1 and nret == 1) else loop
                pick = -1
                if want != 0:
                    u0 = b0 + prefix + 2 + c * usz
                    pick = hesai_pick(mode, want, int(pkt[u0 + 2]), int(pkt[u0 + bsz + 2]) if nret > 1 else 0,
                                      flipped)
                for r in range(nret):
                    if want != 0 and r != pick:
                        continue
                    u = b0 + prefix + 2 + c * usz + (r * bsz)
                    raw = _u16(pkt, u)
                    if raw < min_raw:  # 0 (and OT128's codes 1-3): no return
                        counters[2] += 1
                        continue
                    dist = np.float32(raw * unit)
                    if dist < min_r or dist > max_r:
                        counters[3] += 1
                        continue
                    if want == 0 and r != nret - 1:
                        refl = pkt[u + 2]
                        drop = False
                        for o in range(nret):
                            if o == r:
                                continue
                            uo = b0 + prefix + 2 + c * usz + (o * bsz)
                            raw_o = _u16(pkt, uo)
                            same = raw_o == raw and pkt[uo + 2] == refl
                            if same or abs(np.float32(raw_o * unit) - dist) < dual_thr:
                                drop = True
                        if drop:
                            counters[4] += 1
                            continue
                    xy = dist * elev_cos[c]
                    # sin/cos(block + offset) from the block's and the channel's tables
                    out_xyz[k, 0] = xy * np.float32(sb * off_cos[c] + cb * off_sin[c])
                    out_xyz[k, 1] = xy * np.float32(cb * off_cos[c] - sb * off_sin[c])
                    out_xyz[k, 2] = dist * elev_sin[c]
                    out_i[k] = pkt[u + 2]
                    out_ch[k] = c
                    out_ret[k] = r
                    if loop_sel >= 2:
                        lp = time_row(loop_sel, opstate, az_states, g + r, dist)
                    out_t[k] = pkt_ns + blk_t[nret - 1 + hires, g + r] + ch_t[lp, c]
                    out_sw[k] = sweep_of[c]
                    k += 1
    return k
