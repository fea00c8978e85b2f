"""Numba kernel decoding Velodyne packets (1206 bytes: 12 blocks of 32 returns + 6 status bytes)."""

from __future__ import annotations

import numpy as np
from numba import njit

from fusion.lidar_packets.kernels_common import crossed_cut, first_sweep

# model families
VLP16, V32, VLS128 = 0, 1, 2
RET_STRONGEST, RET_LAST, RET_DUAL = 55, 56, 57


@njit(cache=True)
def _u16(p: np.ndarray, i: int) -> int:
    return int(p[i]) | (int(p[i + 1]) << 8)


@njit(cache=True)
def _bank(header: int, family: int) -> int:
    """First laser of a block from its header, -1 when the header is not valid for the family."""
    if header == 0xEEFF:
        return 0
    if family == VLP16:
        return -1
    if header == 0xDDFF:
        return 32
    if family == VLS128:
        if header == 0xCCFF:
            return 64
        if header == 0xBBFF:
            return 96
    return -1


@njit(cache=True)
def decode_velodyne(  # type: ignore[no-untyped-def]
        pk, stamps, use_packet_time, want, family, n_lasers, unit, frac, toff, cos_t, sin_t, rot_cd, vcos, vsin,
        dist_c, voff, hoff, min_r, max_r, cut_cd, last_az, sweep_of,
        out_xyz, out_i, out_ch, out_ret, out_t, out_sw, counters):
    """Decode ``pk`` (n, 1206) uint8 packets stamped ``stamps`` (int64 ns) into ``out_*``.

    Args:
        family: VLP16, V32 (HDL-32E, VLP-32C, HDL-64E banks) or VLS128.
        frac: (L,) float32 fraction of the block-to-block azimuth step at which laser slot fires
            (VLP-16: slot = firing*16 + laser).
        toff: (2, 12, slots) int64 firing time (ns) of (dual?, block, slot) after the packet stamp.
        cos_t, sin_t: (36000,) float32 tables of the quantized azimuth (0.01 deg).
        rot_cd: (L,) float64 azimuth correction, centidegrees.
    Output frame (ROS, REP-103): x forward, y left, z up:
    x = xy·cos(az), y = −xy·sin(az), z = r·sin(el) with az the clockwise packet azimuth.
    Returns the number of points written.
    """
    k = 0
    for p in range(pk.shape[0]):
        pkt = pk[p]
        mode = int(pkt[1204])
        dual = 1 if mode == RET_DUAL else 0
        n_blk = 12 - 4 * dual if family == VLS128 else 12
        last_blk = n_blk - 1 - (dual if family != VLS128 else 0)
        last_diff = np.float32(0.0)
        az_next = 0
        bad = False
        for blk in range(n_blk):
            b0 = blk * 100
            bank = _bank(_u16(pkt, b0), family)
            if bank < 0 or _u16(pkt, b0 + 2) >= 36000:
                bad = True
                break
        if bad:
            counters[1] += 1
            continue
        if want != 0 and not dual and not ((want == 2 and mode == RET_LAST) or (want == 3 and mode == RET_STRONGEST)):
            counters[5] += 1  # a single-return packet of another kind
            continue
        if want == 1 and dual:
            counters[5] += 1  # dual = last + strongest: no first return
            continue
        counters[0] += 1
        t0 = stamps[p]
        if use_packet_time:  # µs past the hour (sensor clock), the hour taken from the stamp
            us = int(pkt[1200]) | (int(pkt[1201]) << 8) | (int(pkt[1202]) << 16) | (int(pkt[1203]) << 24)
            hour = 3_600_000_000_000
            t0 = (stamps[p] // hour) * hour + us * 1000
            if t0 - stamps[p] > hour // 2:
                t0 -= hour
            elif stamps[p] - t0 > hour // 2:
                t0 += hour
        for blk in range(n_blk):
            b0 = blk * 100
            bank = _bank(_u16(pkt, b0), family)
            az = _u16(pkt, b0 + 2) if blk == 0 else az_next
            if blk < 12 - (1 + dual):
                az_next = _u16(pkt, (blk + 1 + dual) * 100 + 2)
                diff = np.float32((36000 + az_next - az) % 36000)
                last_diff = diff
            else:
                diff = np.float32(0.0) if blk == last_blk else last_diff
            ob = b0 - 100 if blk % 2 else b0 + 100
            for j in range(32):
                laser = j + bank if family != VLP16 else j % 16
                slot = j if family == VLP16 else laser
                if laser >= n_lasers:
                    continue
                azf = np.float32(az + diff * frac[slot] - rot_cd[laser])
                if azf < 0.0:
                    azf += np.float32(36000.0)
                azi = int(float(azf) + 0.5)  # azf >= 0: truncation is floor
                if azi >= 36000:
                    azi -= 36000
                if np.isnan(last_az[laser]):
                    sweep_of[laser] = first_sweep(float(az), float(azi), cut_cd, 36000.0)
                elif crossed_cut(last_az[laser], float(azi), cut_cd, 36000.0):
                    sweep_of[laser] += 1
                last_az[laser] = azi
                o = b0 + 4 + 3 * j
                raw = _u16(pkt, o)
                if raw == 0:
                    counters[2] += 1
                    continue
                if dual and want == 2 and blk % 2:  # last: the even block of each pair
                    continue
                if dual and want == 3:  # strongest: the even (last) one when it is the strongest
                    even_i = pkt[o + 2] if blk % 2 == 0 else pkt[ob + 4 + 3 * j + 2]
                    odd_i = pkt[ob + 4 + 3 * j + 2] if blk % 2 == 0 else pkt[o + 2]
                    if (blk % 2 == 0) != (even_i >= odd_i):
                        continue
                elif dual and blk % 2 and raw == _u16(pkt, ob + 4 + 3 * j):
                    counters[4] += 1
                    continue
                dist = np.float32(raw * unit)
                if dist > 1e-6:
                    dist += dist_c[laser]
                if not (dist > min_r and dist < max_r):
                    counters[3] += 1
                    continue
                xy = dist * vcos[laser] - voff[laser] * vsin[laser]
                c = cos_t[azi]
                s = sin_t[azi]
                if family == V32:
                    xv = xy * s - hoff[laser] * c
                    yv = xy * c + hoff[laser] * s
                    out_xyz[k, 0] = yv
                    out_xyz[k, 1] = -xv
                    out_xyz[k, 2] = dist * vsin[laser] + voff[laser] * vcos[laser]
                else:
                    out_xyz[k, 0] = xy * c
                    out_xyz[k, 1] = -(xy * s)
                    out_xyz[k, 2] = dist * vsin[laser]
                out_i[k] = pkt[o + 2]
                out_ch[k] = laser
                out_ret[k] = blk % 2 if dual else 0
                out_t[k] = t0 + toff[dual, blk, slot]
                out_sw[k] = sweep_of[laser]
                k += 1
    return k
