"""The per-array chunk manifest (format 1.2): every stored chunk bound to its place in the store.

Format 1.1 puts a CRC32C after every inner chunk and after every shard index, so a damaged
*byte* is always caught. A whole object that is internally consistent is not: two shard files
of the same geometry swapped, a shard copied over another, or a value rewritten together with a
recomputed checksum decode cleanly. At finalize the writer therefore records, for every array
chunked along axis 0, the checksums its objects end with, in the array's attributes::

    "fusion_crc32c": {"per_object": k, "b64": "<base64 of uint32 little-endian, objects × k>"}

* a sharded array (``k = 1 + chunks per shard``): the index's CRC32C, then each inner chunk's
  CRC32C (0 where the index lists no chunk);
* an unsharded array (``k = 1``): each chunk's CRC32C (its last 4 bytes).

They are the checksums the objects already carry (the ``crc32c`` codec's trailers), so recording
costs no extra pass over the data: shards fusion encodes itself (:mod:`fusion.store.shards`)
report them as they are stored; any other object is read back once at finalize (small arrays).
A reader compares each trailer it fetches with the manifest (:mod:`fusion.store.guard`); zarr's
codec has already checked that the bytes match their trailer, so together a chunk read is the
chunk written at that place. The manifest is in the array's own ``zarr.json`` and in the
consolidated copy, whose equality ``fusion validate`` checks.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ShardingCodec
from zarr.core.buffer import default_buffer_prototype

from fusion.store._zarr_compat import sync

#: Attribute of every array that has a manifest (format ≥ 1.2).
ATTR = "fusion_crc32c"
#: Index entry of a chunk absent from its shard.
_MISSING = 2**64 - 1


def chunks_per_object(arr: zarr.Array) -> int | None:
    """Inner chunks per stored object when every chunk ends with a CRC32C: 1 for an unsharded
    array, the chunks per shard for a sharded one; ``None`` when the array has no chunk CRC."""
    codecs = tuple(getattr(arr.metadata, "codecs", ()))
    if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
        inner = tuple(codecs[0].codecs)
        if not inner or not isinstance(inner[-1], Crc32cCodec):
            return None
        shard = tuple(int(s) for s in arr.shards or ())
        chunk = tuple(int(s) for s in codecs[0].chunk_shape)
        return int(np.prod([s // c for s, c in zip(shard, chunk, strict=True)], dtype=np.int64))
    return 1 if codecs and isinstance(codecs[-1], Crc32cCodec) else None


def _u32(b: bytes | memoryview | np.ndarray) -> int:
    return int(np.frombuffer(bytes(b), dtype="<u4")[0])


def signature_of_parts(parts: Sequence[bytes | memoryview], chunks_per_shard: int) -> np.ndarray:
    """The manifest row of a shard given as :meth:`fusion.store.shards.ShardLayout.encode`'s parts
    (``chunk, crc, chunk, crc, …, index, index_crc``): shape ``(1 + chunks_per_shard,)`` uint32."""
    row = np.zeros(1 + chunks_per_shard, dtype=np.uint32)
    row[0] = _u32(parts[-1])
    crcs = parts[1:-2:2]
    for i, crc in enumerate(crcs):
        row[1 + i] = _u32(crc)
    return row


def signature_of_object(data: np.ndarray, per_object: int, sharded: bool) -> np.ndarray | None:
    """The manifest row of a stored object from its bytes (``None`` when it is too short to hold
    what its geometry says: the damage is reported by the read that follows)."""
    if not sharded:
        return np.array([_u32(data[-4:])], dtype=np.uint32) if data.size >= 4 else None
    n = 16 * per_object + 4
    if data.size < n:
        return None
    index = data[data.size - n:]
    row = np.zeros(1 + per_object, dtype=np.uint32)
    row[0] = _u32(index[-4:])
    entries = index[:-4].view("<u8").reshape(-1, 2)
    for i, (off, nb) in enumerate(entries):
        if int(off) == _MISSING or nb < 4 or int(off) + int(nb) > data.size - n:
            continue
        row[1 + i] = _u32(data[int(off) + int(nb) - 4: int(off) + int(nb)])
    return row


def encode(rows: np.ndarray) -> dict[str, Any]:
    """The attribute value for a manifest of shape ``(objects, per_object)``."""
    flat = np.ascontiguousarray(rows, dtype="<u4")
    return {"per_object": int(flat.shape[1]), "b64": base64.b64encode(flat.tobytes()).decode("ascii")}


def decode(value: Any) -> np.ndarray | None:
    """The manifest ``(objects, per_object)`` uint32 from the attribute (``None`` when malformed)."""
    if not isinstance(value, Mapping):
        return None
    k, b64 = value.get("per_object"), value.get("b64")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or not isinstance(b64, str):
        return None
    try:
        raw = base64.b64decode(b64.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) % (4 * k):
        return None
    return np.frombuffer(raw, dtype="<u4").reshape(-1, k).astype(np.uint32)


def _arrays(root: zarr.Group) -> Iterator[zarr.Array]:
    for _, node in sorted(root.members(max_depth=None), key=lambda kv: kv[0]):
        if isinstance(node, zarr.Array) and len(node.shape) >= 1:
            yield node


def _objects(arr: zarr.Array) -> int:
    """Stored objects (shards, or chunks of an unsharded array) inside the array's length."""
    return -(-int(arr.shape[0]) // int((arr.shards or arr.chunks)[0]))


def _key(arr: zarr.Array, obj: int) -> str:
    return f"{arr.path}/{arr.metadata.encode_chunk_key((obj, *([0] * (len(arr.shape) - 1))))}"


def build(root: zarr.Group, captured: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """The manifest attribute of every array of ``root`` that has chunk CRCs.

    Args:
        root: The store's root group (being finalized: every object written).
        captured: Manifest rows of objects recorded as they were stored, by store key; any other
            object is read back from the store once.

    Returns:
        ``{array path: attribute value}``.
    """
    store = root.store_path.store
    proto = default_buffer_prototype()
    plan: list[tuple[zarr.Array, int, bool, np.ndarray]] = []
    missing: list[str] = []
    for arr in _arrays(root):
        per = chunks_per_object(arr)
        if per is None:
            continue
        sharded = arr.shards is not None
        rows = np.zeros((_objects(arr), 1 + per if sharded else 1), dtype=np.uint32)
        for obj in range(rows.shape[0]):
            row = captured.get(_key(arr, obj))
            if row is None:
                missing.append(_key(arr, obj))
            else:
                rows[obj] = row
        plan.append((arr, per, sharded, rows))

    async def _fetch() -> list[Any]:
        return list(await asyncio.gather(*(store.get(k, proto) for k in missing)))

    fetched = dict(zip(missing, sync(_fetch()) if missing else [], strict=True))
    out: dict[str, dict[str, Any]] = {}
    for arr, per, sharded, rows in plan:
        for obj in range(rows.shape[0]):
            buf = fetched.get(_key(arr, obj))
            if buf is not None:  # an absent object stays zeros: the reader reports it missing
                row = signature_of_object(buf.as_numpy_array().view(np.uint8), per, sharded)
                if row is not None:
                    rows[obj] = row
        out[arr.path] = encode(rows)
    return out


def write(root: zarr.Group, captured: Mapping[str, np.ndarray]) -> int:
    """Build (:func:`build`) and store the manifest of every array of ``root``; returns how many
    arrays got one. Local directory stores get the documents written directly (as
    :mod:`fusion.store.metadata` does), other stores through zarr's attribute update."""
    from fusion.store.metadata import update_attributes

    manifests = build(root, captured)
    for path, value in manifests.items():
        arr = root[path]
        assert isinstance(arr, zarr.Array)
        update_attributes(arr, {ATTR: value})
    return len(manifests)


def problems(entries: Sequence[tuple[str, zarr.Array]], fusion_format: str) -> list[str]:
    """What is wrong with the manifests of ``(path, array)`` pairs of a store of ``fusion_format``:
    an array with chunk CRCs but no (or a malformed) manifest in a ≥ 1.2 store, a manifest whose
    shape disagrees with the array's objects."""
    try:
        minor = int(str(fusion_format).split(".")[1])
    except (IndexError, ValueError):
        minor = 0
    out: list[str] = []
    for path, arr in entries:
        per = chunks_per_object(arr)
        if per is None:
            continue
        value = arr.attrs.get(ATTR)
        if value is None:
            if minor >= 2:
                out.append(f"{path}: no chunk manifest (attribute {ATTR}; every array of a format "
                           f"{fusion_format} store has one): its metadata was replaced")
            continue
        m = decode(value)
        expected = (_objects(arr), 1 + per if arr.shards is not None else 1)
        if m is None or m.shape != expected:
            shape = "malformed" if m is None else f"of shape {m.shape}, expected {expected}"
            out.append(f"{path}: chunk manifest {shape} (attribute {ATTR}): its metadata was replaced")
    return out
