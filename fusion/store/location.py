"""Where a store lives: local directory, ``.zip`` file, ``s3://bucket/key`` or a zarr ``Store``.

:func:`resolve` turns a URL (plus fsspec-style ``storage_options``) into a
:class:`StoreLocation` that opens zarr stores for reading or writing, tells whether a store
already exists and removes one.

Zip stores are written through a staging directory ``<file>.zip.partial/`` which is zipped
(``ZIP_STORED``: chunks are already compressed) and atomically renamed into place by
:meth:`StoreLocation.commit`; an interrupted zip conversion therefore leaves only the staging
directory, which readers report as incomplete.

S3 uses ``zarr.storage.ObjectStore`` over ``obstore`` when it is installed, else
``zarr.storage.FsspecStore`` (needs ``s3fs``). ``storage_options`` accept the s3fs names
``endpoint_url``, ``key``, ``secret``, ``region`` (or ``client_kwargs={"endpoint_url": ...}``).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zarr.abc.store import Store
from zarr.storage import LocalStore

from fusion.errors import StoreError
from fusion.store._zarr_compat import sync

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class StoreLocation:
    """A resolved store location.

    Attributes:
        url: The URL as given (for messages).
        kind: ``"local"``, ``"zip"``, ``"s3"`` or ``"store"`` (a zarr Store object passed in).
        storage_options: Remote options (s3fs names).
        store_obj: The zarr Store for kind ``"store"``.
    """

    url: str
    kind: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    store_obj: Store | None = None

    # ---- paths ---------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """Local path (local and zip kinds)."""
        return Path(self.url.removeprefix("file://"))

    @property
    def staging(self) -> Path:
        """Staging directory a zip store is written to before :meth:`commit`."""
        return self.path.with_name(self.path.name + PARTIAL_SUFFIX)

    # ---- opening -------------------------------------------------------------------------
    def open_read(self) -> Store:
        """A read-only zarr store; raises StoreError when nothing is there."""
        if self.kind == "store":
            assert self.store_obj is not None
            return self.store_obj
        if self.kind == "local":
            if not (self.path / "zarr.json").is_file():
                raise StoreError(f"no fusion store at {self.url}: {self.path / 'zarr.json'} does not exist")
            return LocalStore(self.path, read_only=True)
        if self.kind == "zip":
            if not self.path.is_file():
                if self.staging.is_dir():
                    return LocalStore(self.staging, read_only=True)
                raise StoreError(f"no fusion store at {self.url}: the file does not exist")
            from fusion.store.zipread import StoredZipStore

            return StoredZipStore(self.path)
        store = self._s3_store(read_only=True)
        if not sync(store.exists("zarr.json")):
            raise StoreError(f"no fusion store at {self.url}: zarr.json not found (check bucket, key, endpoint)")
        return store

    def open_write(self) -> Store:
        """A writable, empty-or-new zarr store (zip kinds write to :attr:`staging`)."""
        if self.kind == "store":
            assert self.store_obj is not None
            return self.store_obj
        if self.kind == "local":
            self.path.mkdir(parents=True, exist_ok=True)
            return LocalStore(self.path)
        if self.kind == "zip":
            self.staging.mkdir(parents=True, exist_ok=True)
            return LocalStore(self.staging)
        return self._s3_store(read_only=False)

    def exists(self) -> bool:
        """True when a store (complete or not) is at this location."""
        if self.kind == "local":
            return (self.path / "zarr.json").is_file()
        if self.kind == "zip":
            return self.path.is_file() or (self.staging / "zarr.json").is_file()
        store = self.store_obj if self.kind == "store" else self._s3_store(read_only=True)
        assert store is not None
        return bool(sync(store.exists("zarr.json")))

    def remove(self) -> None:
        """Delete the store at this location (refuses non-store local directories)."""
        if self.kind == "local":
            if self.path.exists():
                if not (self.path / "zarr.json").is_file() and any(self.path.iterdir()):
                    raise StoreError(
                        f"refusing to delete {self.path}: it is a non-empty directory without zarr.json "
                        "(not a fusion store); choose another output path"
                    )
                shutil.rmtree(self.path)
            return
        if self.kind == "zip":
            self.path.unlink(missing_ok=True)
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        store = self.store_obj if self.kind == "store" else self._s3_store(read_only=False)
        assert store is not None
        sync(store.delete_dir(""))

    def commit(self) -> None:
        """Make a finished store visible (zip: zip the staging dir and rename atomically)."""
        if self.kind != "zip":
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for file in sorted(p for p in self.staging.rglob("*") if p.is_file()):
                zf.write(file, file.relative_to(self.staging).as_posix())
        os.replace(tmp, self.path)
        shutil.rmtree(self.staging)

    # ---- S3 ------------------------------------------------------------------------------
    def _s3_store(self, *, read_only: bool) -> Store:
        opts = dict(self.storage_options)
        bucket, _, prefix = self.url.removeprefix("s3://").partition("/")
        try:
            from obstore.store import S3Store
            from zarr.storage import ObjectStore
        except ImportError:
            from zarr.storage import FsspecStore

            try:
                return FsspecStore.from_url(self.url, storage_options=opts, read_only=read_only)
            except ImportError as exc:
                raise StoreError(
                    f"cannot open {self.url}: install obstore or s3fs (pip install obstore)"
                ) from exc
        endpoint = opts.pop("endpoint_url", None) or opts.get("client_kwargs", {}).get("endpoint_url")
        config: dict[str, Any] = {}
        if endpoint:
            config["endpoint"] = endpoint
        if "key" in opts:
            config["access_key_id"] = opts["key"]
        if "secret" in opts:
            config["secret_access_key"] = opts["secret"]
        if "token" in opts:
            config["session_token"] = opts["token"]
        config["region"] = opts.get("region") or opts.get("client_kwargs", {}).get("region_name", "us-east-1")
        client_options: Any = {"allow_http": True} if endpoint and str(endpoint).startswith("http://") else {}
        s3 = S3Store(bucket, prefix=prefix.strip("/") or None, client_options=client_options, **config)
        return ObjectStore(s3, read_only=read_only)


def resolve(url: str | os.PathLike[str] | Store, storage_options: dict[str, Any] | None = None) -> StoreLocation:
    """Classify a store URL.

    Args:
        url: Local directory, ``*.zip`` file, ``s3://bucket/key``, ``file://`` path or a zarr Store.
        storage_options: Remote options (s3fs names; ignored for local paths).

    Raises:
        StoreError: for an unsupported URL scheme.
    """
    opts = dict(storage_options or {})
    if isinstance(url, Store):
        return StoreLocation(url=repr(url), kind="store", store_obj=url)
    text = os.fspath(url)
    if text.startswith("s3://"):
        if not text.removeprefix("s3://").strip("/"):
            raise StoreError(f"store URL {text!r} names no bucket; use s3://bucket/key")
        return StoreLocation(url=text.rstrip("/"), kind="s3", storage_options=opts)
    if "://" in text and not text.startswith("file://"):
        raise StoreError(
            f"unsupported store URL {text!r}: use a local directory, a .zip file or s3://bucket/key"
        )
    kind = "zip" if text.lower().endswith(".zip") else "local"
    return StoreLocation(url=text, kind=kind, storage_options=opts)
