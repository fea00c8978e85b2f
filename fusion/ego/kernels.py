"""numba kernels of the inertial ego estimator: error-state EKF forward pass + RTS smoother.

State (nominal): IMU position ``p`` and velocity ``v`` in the world frame (m, m/s), attitude
``R = R_world_imu``, accelerometer bias ``ba`` (m/s²) and gyro bias ``bg`` (rad/s), both in the IMU
frame, and the wheel scale error ``k`` (wheels report ``(1 + k)`` × the forward speed; observable
with GNSS only). Error state (16): ``[δp, δv, δθ, δba, δbg, δk]`` with the attitude error on the right
(``R = R̂ Exp(δθ)``, IMU frame). The IMU drives the prediction (specific force ``f`` and rate ``ω``
linearly interpolated between samples, midpoint rule); measurements update at **nodes**:

=====  ======================  ===============================================  ==================
type   measurement             model                                            rows used
=====  ======================  ===============================================  ==================
0      base-frame velocity     ``R_bi (Rᵀ v + (ω − bg) × t_ib)``, x × (1 + k)   mask (x, y, z)
1      base-frame rate         ``R_bi (ω − bg)``                                mask (x, y, z)
2      antenna position        ``p + R t_ia`` (world)                           mask (e, n, u)
3      world velocity          ``v``                                            all
4      antenna altitude        as 2 (gated apart: GNSS altitude drifts)         mask (u)
-1     none (an output node)
=====  ======================  ===============================================  ==================

Every measurement time is a node; between two nodes only prediction happens, so the RTS
smoother runs over nodes with the composed transition ``Φ``. Per node the forward pass keeps
the nominal state after the update, the update ``δ`` itself, ``P⁻``, ``P⁺`` and ``Φ`` (from the
previous node): ≈ 6.4 KB per node.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GRAVITY = 9.80665
NS = 16
"""Error-state size: δp, δv, δθ, δba, δbg (3 each) and the wheel scale error δk."""
NX = 22
"""Nominal state size: p, v, R (9), ba, bg, k."""


@njit(cache=True)
def _skew(v: np.ndarray) -> np.ndarray:
    S = np.zeros((3, 3))
    S[0, 1], S[0, 2] = -v[2], v[1]
    S[1, 0], S[1, 2] = v[2], -v[0]
    S[2, 0], S[2, 1] = -v[1], v[0]
    return S


@njit(cache=True)
def _exp(w: np.ndarray) -> np.ndarray:
    th = np.sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2])
    K = _skew(w)
    if th < 1e-9:
        return np.eye(3) + K
    return np.eye(3) + np.sin(th) / th * K + (1.0 - np.cos(th)) / (th * th) * (K @ K)


@njit(cache=True)
def _imu_at(t: float, it: np.ndarray, gyro: np.ndarray, acc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rate and specific force at ``t`` (linear between samples; held at the ends); ``k`` = search start."""
    n = it.shape[0]
    while k + 1 < n and it[k + 1] <= t:
        k += 1
    if t <= it[0]:
        return gyro[0].copy(), acc[0].copy(), 0
    if k + 1 >= n:
        return gyro[n - 1].copy(), acc[n - 1].copy(), k
    a = (t - it[k]) / (it[k + 1] - it[k])
    return (1 - a) * gyro[k] + a * gyro[k + 1], (1 - a) * acc[k] + a * acc[k + 1], k


@njit(cache=True)
def _predict(p, v, R, ba, bg, P, Phi, w_m, f_m, dt, q):  # type: ignore[no-untyped-def]
    """One prediction step of ``dt`` s with rate ``w_m`` and specific force ``f_m`` (IMU frame)."""
    w = w_m - bg
    f = f_m - ba
    g = np.array([0.0, 0.0, -GRAVITY])
    a_w = R @ f + g
    F = np.eye(NS)
    F[0:3, 3:6] = np.eye(3) * dt
    F[3:6, 6:9] = -(R @ _skew(f)) * dt
    F[3:6, 9:12] = -R * dt
    F[6:9, 6:9] = _exp(-w * dt)
    F[6:9, 12:15] = -np.eye(3) * dt
    p += v * dt + 0.5 * a_w * dt * dt
    v += a_w * dt
    R[:, :] = R @ _exp(w * dt)
    P[:, :] = F @ P @ F.T
    for i in range(3):
        P[3 + i, 3 + i] += q[0] * dt
        P[6 + i, 6 + i] += q[1] * dt
        P[9 + i, 9 + i] += q[2] * dt
        P[12 + i, 12 + i] += q[3] * dt
    P[15, 15] += q[4] * dt
    Phi[:, :] = F @ Phi


@njit(cache=True)
def _measure(kind, z, Rm, mask, p, v, R, bg, sk, w_m, R_bi, t_ib, t_ia):  # type: ignore[no-untyped-def]
    """Residual (m,), Jacobian (m, 15) and noise (m, m) of one measurement (rows of ``mask``)."""
    h = np.zeros(3)
    H = np.zeros((3, NS))
    if kind == 0:
        vb = R.T @ v
        w = w_m - bg
        h = R_bi @ (vb + np.cross(w, t_ib))
        H[:, 3:6] = R_bi @ R.T
        H[:, 6:9] = R_bi @ _skew(vb)
        H[:, 12:15] = R_bi @ _skew(t_ib)
        # the wheels measure the forward speed scaled by (1 + k)
        H[0, 15] = h[0]
        h[0] *= 1.0 + sk
        for j in range(15):
            H[0, j] *= 1.0 + sk
    elif kind == 1:
        h = R_bi @ (w_m - bg)
        H[:, 12:15] = -R_bi
    elif kind == 2 or kind == 4:
        h = p + R @ t_ia
        H[:, 0:3] = np.eye(3)
        H[:, 6:9] = -R @ _skew(t_ia)
    else:
        h = v.copy()
        H[:, 3:6] = np.eye(3)
    rows = np.flatnonzero(mask)
    m = rows.shape[0]
    y = np.empty(m)
    Hm = np.empty((m, NS))
    Rs = np.empty((m, m))
    for a in range(m):
        y[a] = z[rows[a]] - h[rows[a]]
        Hm[a] = H[rows[a]]
        for b in range(m):
            Rs[a, b] = Rm[rows[a], rows[b]]
    return y, Hm, Rs


@njit(cache=True)
def forward(it, gyro, acc, mt, mkind, mz, mR, mmask, x0, P0, q, R_bi, t_ib, t_ia, gate, lock):  # type: ignore[no-untyped-def]
    """Forward error-state EKF over IMU samples ``it`` (s) and measurements at nodes ``mt`` (s, sorted).

    Args:
        it: (K,) IMU times, s (sorted); gyro, acc: (K, 3) rate (rad/s) and specific force (m/s²), IMU frame.
        mt: (M,) measurement times (sorted, inside ``[it[0], it[-1]]``); equal times share one node.
        mkind: (M,) measurement type (module table); mz: (M, 3) values; mR: (M, 3, 3) noise
            covariances; mmask: (M, 3) rows used.
        x0: (22,) initial ``p (3), v (3), R row-major (9), ba (3), bg (3), k``; P0: (16, 16).
        q: (5,) continuous noise: accel (m²/s³), gyro (rad²/s), accel-bias, gyro-bias and wheel-scale
            random walks.
        R_bi: (3, 3) rotation base←IMU; t_ib: (3,) base origin in the IMU frame, m;
        t_ia: (3,) antenna in the IMU frame, m.
        gate: χ² gate on the normalised innovation per measurement (≤ 0: none).
        lock: 0, or 1 when the heading is unobservable (no GNSS): updates never rotate about world
            up (a Schmidt-style consider state: the gyro integrates the heading), 2: nor change the
            gyro bias about it (no wheel yaw rate either).

    Returns:
        node_t (N,), X (N, 22) nominal after the update (p, v, R row-major, ba, bg, k), D (N, 16)
        updates, Pm, Pp (N, 16, 16) covariances before/after the update, Phi (N, 16, 16)
        transition from the previous node, rejected (M,) bool.
    """
    M = mt.shape[0]
    # nodes: unique measurement times (the first node is the start)
    nn = 1
    for i in range(1, M):
        if mt[i] > mt[i - 1]:
            nn += 1
    node_t = np.empty(nn + 1)
    X = np.zeros((nn + 1, NX))
    D = np.zeros((nn + 1, NS))
    Pm = np.zeros((nn + 1, NS, NS))
    Pp = np.zeros((nn + 1, NS, NS))
    Phis = np.zeros((nn + 1, NS, NS))
    rejected = np.zeros(M, np.bool_)
    p, v = x0[0:3].copy(), x0[3:6].copy()
    R = x0[6:15].copy().reshape(3, 3)
    ba, bg = x0[15:18].copy(), x0[18:21].copy()
    sk = x0[21]
    P = P0.copy()
    t = it[0]
    node_t[0] = t
    X[0, 0:3], X[0, 3:6], X[0, 6:15], X[0, 15:18], X[0, 18:21], X[0, 21] = p, v, R.ravel(), ba, bg, sk
    Pm[0], Pp[0], Phis[0] = P, P, np.eye(NS)
    k = 0
    i = 0
    node = 0
    while i < M:
        tn = mt[i]
        node += 1
        Phi = np.eye(NS)
        # predict to tn through the IMU sample times in between
        while t < tn:
            nxt = tn
            while k + 1 < it.shape[0] and it[k + 1] <= t:
                k += 1
            if k + 1 < it.shape[0] and it[k + 1] < tn:
                nxt = it[k + 1]
            w_m, f_m, k = _imu_at(0.5 * (t + nxt), it, gyro, acc, k)
            _predict(p, v, R, ba, bg, P, Phi, w_m, f_m, nxt - t, q)
            t = nxt
        Pm[node] = P
        Phis[node] = Phi
        delta = np.zeros(NS)
        w_m, f_m, k = _imu_at(tn, it, gyro, acc, k)
        while i < M and mt[i] == tn:
            if mkind[i] < 0:  # an output node only
                i += 1
                continue
            y, H, Rs = _measure(mkind[i], mz[i], mR[i], mmask[i], p, v, R, bg, sk, w_m, R_bi, t_ib, t_ia)
            S = H @ P @ H.T + Rs
            Sinv = np.linalg.inv(S)
            if gate > 0 and y @ Sinv @ y > gate * y.shape[0]:
                rejected[i] = True
                i += 1
                continue
            K = P @ H.T @ Sinv
            if lock > 0:  # heading unobservable: no update rotates about world up (lock 2: nor its gyro bias)
                u = R[2, :].copy()  # world z in the IMU frame
                Pr = np.eye(3) - np.outer(u, u)
                K[6:9, :] = Pr @ K[6:9, :]
                if lock > 1:
                    K[12:15, :] = Pr @ K[12:15, :]
            dx = K @ y
            IKH = np.eye(NS) - K @ H
            P = IKH @ P @ IKH.T + K @ Rs @ K.T
            p += dx[0:3]
            v += dx[3:6]
            R[:, :] = R @ _exp(dx[6:9])
            ba += dx[9:12]
            bg += dx[12:15]
            sk += dx[15]
            delta += dx
            i += 1
        P = 0.5 * (P + P.T)
        node_t[node] = tn
        X[node, 0:3], X[node, 3:6], X[node, 6:15], X[node, 15:18], X[node, 18:21] = p, v, R.ravel(), ba, bg
        X[node, 21] = sk
        D[node] = delta
        Pp[node] = P
    return node_t, X, D, Pm, Pp, Phis, rejected


@njit(cache=True)
def smooth(X, D, Pm, Pp, Phis, lock):  # type: ignore[no-untyped-def]
    """Rauch–Tung–Striebel pass over the nodes of :func:`forward`.

    The smoothed error ``e_n`` (relative to the forward nominal after the update at node n) is
    ``C_n (δ_{n+1} + e_{n+1})`` with ``C_n = P⁺_n Φᵀ_{n+1} (P⁻_{n+1})⁻¹``; the nominal gets it injected
    (``lock`` as in :func:`forward`).

    Returns:
        Xs (N, 22) smoothed nominal states, Ps (N, 16, 16) smoothed covariances.
    """
    N = X.shape[0]
    Xs = X.copy()
    Ps = Pp.copy()
    e_next = np.zeros(NS)
    for n in range(N - 2, -1, -1):
        A = Phis[n + 1] @ Pp[n]  # (16, 16) = Φ P⁺
        Ct = np.linalg.solve(Pm[n + 1] + np.eye(NS) * 1e-14, A)  # C_nᵀ
        C = Ct.T
        e = C @ (D[n + 1] + e_next)
        if lock > 0:  # as in the forward pass
            u = X[n, 12:15].copy()  # row 2 of R: world z in the IMU frame
            e[6:9] -= u * (u @ e[6:9])
            if lock > 1:
                e[12:15] -= u * (u @ e[12:15])
        Ps[n] = Pp[n] + C @ (Ps[n + 1] - Pm[n + 1]) @ Ct
        Ps[n] = 0.5 * (Ps[n] + Ps[n].T)
        Xs[n, 0:3] += e[0:3]
        Xs[n, 3:6] += e[3:6]
        R = X[n, 6:15].copy().reshape(3, 3) @ _exp(e[6:9])
        Xs[n, 6:15] = R.ravel()
        Xs[n, 15:18] += e[9:12]
        Xs[n, 18:21] += e[12:15]
        Xs[n, 21] += e[15]
        e_next = e
    # the last node: the forward posterior is the smoothed one
    return Xs, Ps


@njit(cache=True)
def integrate_gyro(it, gyro, R0, bg):  # type: ignore[no-untyped-def]
    """(K, 3, 3) ``R_world_imu`` at the IMU times ``it`` (s): ``R0`` times the bias-corrected rates
    (trapezoidal rate per interval)."""
    n = it.shape[0]
    out = np.empty((n, 3, 3))
    R = R0.copy()
    out[0] = R
    for k in range(1, n):
        w = 0.5 * (gyro[k] + gyro[k - 1]) - bg
        R = R @ _exp(w * (it[k] - it[k - 1]))
        out[k] = R
    return out
