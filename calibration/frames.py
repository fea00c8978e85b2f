"""A tf2-like frame tree of static and time-varying edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from calibration.errors import FrameTreeError
from calibration.rotation import F64, quat_conjugate_xyzw, quat_multiply_xyzw, quat_xyzw_to_matrix
from calibration.se3 import SE3
from calibration.trajectory import Trajectory


@dataclass(frozen=True)
class _Edge:
    parent: str
    static: SE3 | None
    dynamic: Trajectory | None


class FrameTree:
    """Frames linked by parent→child edges, one parent per frame (like tf2).

    Each edge holds ``T_parent_child``: a static :class:`SE3` or a :class:`Trajectory`.
    ``lookup(target, source, time_ns)`` returns ``T_target_source`` by walking both frames
    up to their common ancestor. Adding an edge that would give a frame a second parent or
    close a cycle raises :class:`FrameTreeError` immediately.
    """

    def __init__(self) -> None:
        self._edges: dict[str, _Edge] = {}
        self._frames: set[str] = set()

    @property
    def frames(self) -> frozenset[str]:
        """All frame ids seen."""
        return frozenset(self._frames)

    def parent(self, frame: str) -> str | None:
        """Parent of ``frame`` (None for a root)."""
        self._require(frame)
        edge = self._edges.get(frame)
        return None if edge is None else edge.parent

    def roots(self) -> list[str]:
        """Frames without a parent, sorted."""
        return sorted(f for f in self._frames if f not in self._edges)

    def add_static(self, parent: str, child: str, T_parent_child: SE3) -> None:
        """Add (or replace, with the same parent) a static edge ``T_parent_child``."""
        self._add(parent, child, _Edge(parent, T_parent_child, None))

    def add_dynamic(self, parent: str, child: str, trajectory: Trajectory) -> None:
        """Add (or replace, with the same parent) a time-varying edge ``T_parent_child(t)``."""
        self._add(parent, child, _Edge(parent, None, trajectory))

    def _add(self, parent: str, child: str, edge: _Edge) -> None:
        if not parent or not child:
            raise FrameTreeError(f"edge {parent!r}->{child!r}: frame ids must be non-empty")
        if parent == child:
            raise FrameTreeError(f"edge {parent!r}->{child!r}: a frame cannot be its own parent (cycle)")
        old = self._edges.get(child)
        if old is not None and old.parent != parent:
            raise FrameTreeError(
                f"frame {child!r} already has parent {old.parent!r}; cannot also attach it to {parent!r} "
                "(a frame tree allows one parent per frame)"
            )
        # A cycle appears if the child is already an ancestor of the parent.
        node: str | None = parent
        while node is not None:
            if node == child:
                raise FrameTreeError(
                    f"edge {parent!r}->{child!r} closes a cycle ({child!r} is already an ancestor of "
                    f"{parent!r}); remove one of the transforms"
                )
            e = self._edges.get(node)
            node = None if e is None else e.parent
        self._edges[child] = edge
        self._frames.update((parent, child))

    def _require(self, frame: str) -> None:
        if frame not in self._frames:
            raise FrameTreeError(f"unknown frame {frame!r}; known frames: {sorted(self._frames)}")

    def _chain(self, frame: str) -> list[str]:
        """``[frame, parent, grandparent, ..., root]``."""
        chain = [frame]
        edge = self._edges.get(frame)
        while edge is not None:
            chain.append(edge.parent)
            edge = self._edges.get(edge.parent)
        return chain

    def _edge_transform(self, child: str, time_ns: int | None, allow_extrapolation: bool) -> SE3:
        edge = self._edges[child]
        if edge.static is not None:
            return edge.static
        assert edge.dynamic is not None
        if time_ns is None:
            raise FrameTreeError(f"edge {edge.parent!r}->{child!r} is time-varying; pass time_ns to lookup")
        return edge.dynamic.at(time_ns, allow_extrapolation)

    def _to_ancestor(self, chain: list[str], stop: int, time_ns: int | None, extrap: bool) -> SE3:
        """``T_ancestor_frame`` for ``chain[0]`` up to ``chain[stop]``."""
        T = SE3.identity()
        for child in chain[:stop]:
            T = self._edge_transform(child, time_ns, extrap) @ T
        return T

    def _paths(self, target: str, source: str) -> tuple[list[str], list[str]]:
        """Children on the way up from ``source`` and from ``target`` to their lowest common ancestor."""
        self._require(target)
        self._require(source)
        up_s, up_t = self._chain(source), self._chain(target)
        common = set(up_s) & set(up_t)
        if not common:
            raise FrameTreeError(
                f"frames {target!r} and {source!r} are not connected (roots {up_t[-1]!r} and "
                f"{up_s[-1]!r}); add the transform linking the two trees"
            )
        lca = next(f for f in up_s if f in common)
        return up_s[: up_s.index(lca)], up_t[: up_t.index(lca)]

    def lookup(self, target: str, source: str, time_ns: int | None = None, allow_extrapolation: bool = False) -> SE3:
        """``T_target_source``: maps points in ``source`` into ``target`` at ``time_ns``.

        Args:
            target: frame the result maps into.
            source: frame the result maps from.
            time_ns: common-clock time (ns); required when the path crosses a dynamic edge.
            allow_extrapolation: forwarded to the trajectories (hold end poses instead of raising).

        Raises:
            FrameTreeError: unknown frame, frames not connected, or missing ``time_ns``.
            ExtrapolationError: ``time_ns`` outside a trajectory on the path.
        """
        path_s, path_t = self._paths(target, source)
        T_lca_source = self._to_ancestor(path_s, len(path_s), time_ns, allow_extrapolation)
        T_lca_target = self._to_ancestor(path_t, len(path_t), time_ns, allow_extrapolation)
        return T_lca_target.inverse() @ T_lca_source

    def lookup_batch(
        self, target: str, source: str, times_ns: ArrayLike, allow_extrapolation: bool = False
    ) -> tuple[F64, F64]:
        """Vectorized :meth:`lookup` at many times.

        Args:
            target: frame the result maps into.
            source: frame the result maps from.
            times_ns: (M,) int64 common-clock times (ns).
            allow_extrapolation: forwarded to the trajectories.

        Returns:
            ``(translations_m (M, 3), rotations_xyzw (M, 4))`` of ``T_target_source(t)``, quaternions x, y, z, w.
        """
        times = np.atleast_1d(np.asarray(times_ns)).astype(np.int64)
        m = times.size
        path_s, path_t = self._paths(target, source)

        def up(path: list[str]) -> tuple[F64, F64]:
            t = np.zeros((m, 3))
            q = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (m, 1))
            for child in path:
                edge = self._edges[child]
                if edge.static is not None:
                    tE, qE = np.broadcast_to(edge.static.translation, (m, 3)), edge.static.quat_xyzw
                else:
                    assert edge.dynamic is not None
                    tE, qE = edge.dynamic.interpolate(times, allow_extrapolation)
                t = np.einsum("...ij,...j->...i", quat_xyzw_to_matrix(qE), t) + tE
                q = quat_multiply_xyzw(qE, q)
            return t, q

        t_s, q_s = up(path_s)
        t_t, q_t = up(path_t)
        q_t_inv = quat_conjugate_xyzw(q_t)
        q = quat_multiply_xyzw(q_t_inv, q_s)
        t = np.einsum("...ij,...j->...i", quat_xyzw_to_matrix(q_t_inv), t_s - t_t)
        return t, q / np.linalg.norm(q, axis=1, keepdims=True)

    def is_static_path(self, target: str, source: str) -> bool:
        """True when every edge between the two frames is static (False when not connected)."""
        try:
            path_s, path_t = self._paths(target, source)
        except FrameTreeError:
            if target in self._frames and source in self._frames:
                return False
            raise
        return all(self._edges[c].static is not None for c in path_s + path_t)

    def validate_connected(self, root: str | None = None) -> None:
        """Raise :class:`FrameTreeError` unless all frames form one tree (rooted at ``root`` if given)."""
        roots = self.roots()
        if root is not None:
            self._require(root)
        if len(roots) > 1 or (root is not None and roots != [root]):
            stray = sorted(f for f in self._frames if self._chain(f)[-1] != (root or roots[0]))
            raise FrameTreeError(
                f"frame tree is disconnected: roots {roots}; frames not connected to "
                f"{root or roots[0]!r}: {stray}; add the missing transforms"
            )
