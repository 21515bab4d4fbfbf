"""Attachment transfers: upload a file to a file server and download what a pointer names.

Theory of operation
-------------------
A :class:`~session_core.client.server_link.ServerLink` carries one request to a file server
and returns ``(code, body)``: ``OnionLink`` (what the client uses) or ``DirectLink`` (plain
HTTP: operators, and the benchmarks' same-run baseline).  :class:`FileTransfer` does the rest with the pure functions of
:mod:`session_core.attachments`:

* a file up to ``MAX_SINGLE_PLAINTEXT`` goes as one padded, encrypted blob (Session's format);
* a larger one as 4 MiB chunks, ``concurrency`` in flight (each read, encrypted and sent, so
  memory holds a few chunks, never the file), then its manifest; the upload state is saved
  after every chunk (``<state_dir>/<sha256 of path>.json``), so a new call for the same,
  unchanged file resumes where the last one stopped;
* a download checks every blob (length, MAC, digest) before writing a byte of it; chunks are
  written at their offset in ``<dest>/.partial/<digest>.part`` with the finished indexes beside
  it, so an interrupted download resumes too; the file gets its final name (made safe, never
  overwriting) only once complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from session_core.attachments import (
    CHUNK_PLAINTEXT,
    FLAG_CHUNKED,
    MAX_FILE_SIZE,
    MAX_SINGLE_PLAINTEXT,
    ChunkRef,
    Encrypted,
    FileServerRef,
    Manifest,
    Pointer,
    UploadState,
    check_file_id,
    chunk_count,
    decrypt,
    decrypt_chunk,
    encrypt,
    encrypt_chunk,
    new_key,
    safe_file_name,
    unpad,
    zero_fill,
)
from session_core.errors import (
    AttachmentDecryptError,
    AttachmentInputError,
    AttachmentTooLargeError,
    FileNotOnServerError,
    FileServerError,
)
from session_core.client.server_link import DirectLink, OnionLink, ServerLink, UnreadableAnswerError

__all__ = ["DirectLink", "FileTransfer", "OnionLink", "ServerLink"]


def _raise_for(code: int, body: bytes, what: str) -> None:
    text = body[:200].decode("utf-8", "replace")
    if code == 413:
        raise AttachmentTooLargeError(f"{what}: the file server refused it as too large ({text})")
    if code == 404:
        raise FileNotOnServerError(code, f"{what}: {text} (never uploaded, or expired)")
    raise FileServerError(code, f"{what}: {text}")


class FileTransfer:
    def __init__(self, link_for: Callable[[FileServerRef], ServerLink], *, concurrency: int = 2) -> None:
        self.link_for = link_for
        self.concurrency = max(1, concurrency)
        self._links: dict[FileServerRef, ServerLink] = {}

    def link(self, server: FileServerRef) -> ServerLink:
        link = self._links.get(server)
        if link is None:
            link = self._links[server] = self.link_for(server)
        return link

    # -- blobs --------------------------------------------------------------------------------

    async def _call(self, server: FileServerRef, method: str, endpoint: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            return await self.link(server).call(method, endpoint, body)
        except UnreadableAnswerError as exc:
            raise FileServerError(502, str(exc)) from None

    async def upload_blob(self, server: FileServerRef, blob: bytes) -> str:
        code, body = await self._call(server, "POST", "/file", blob)
        if code != 200:
            _raise_for(code, body, "upload")
        try:
            return check_file_id(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError):
            raise FileServerError(502, f"upload answered without a valid id: {body[:100]!r}") from None

    async def download_blob(self, server: FileServerRef, file_id: str) -> bytes:
        code, body = await self._call(server, "GET", f"/file/{check_file_id(file_id)}")
        if code != 200:
            _raise_for(code, body, f"download of {file_id}")
        return body

    # -- uploading ----------------------------------------------------------------------------

    async def upload_file(self, path: Path, server: FileServerRef, *, state_dir: Path | None = None,
                          content_type: str | None = None) -> Pointer:
        st = path.stat()
        if st.st_size > MAX_FILE_SIZE:
            raise AttachmentTooLargeError(f"{path} is larger than 4 GiB, the attachment size limit")
        ctype = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        name = safe_file_name(path.name)
        if st.st_size <= MAX_SINGLE_PLAINTEXT:
            data = await asyncio.to_thread(path.read_bytes)
            enc = await asyncio.to_thread(encrypt, data, zero_fill=zero_fill(len(data)))
            file_id = await self.upload_blob(server, enc.blob)
            return Pointer(server.url_for(file_id), enc.key, enc.digest, len(data), ctype, name)
        state_file = None if state_dir is None else state_dir / (hashlib.sha256(str(path.resolve()).encode()).hexdigest() + ".json")
        state = _load_state(state_file, st.st_size, st.st_mtime_ns)
        await self._upload_chunks(path, server, state, state_file)
        manifest = state.manifest().to_bytes()
        enc = encrypt(manifest, state.key, zero_fill=zero_fill(len(manifest)))
        file_id = await self.upload_blob(server, enc.blob)
        if state_file is not None:
            state_file.unlink(missing_ok=True)
        return Pointer(server.url_for(file_id), state.key, enc.digest, st.st_size, ctype, name, FLAG_CHUNKED)

    async def _upload_chunks(self, path: Path, server: FileServerRef, state: UploadState, state_file: Path | None) -> None:
        queue = list(state.missing())

        def read_and_encrypt(index: int) -> Encrypted:
            with open(path, "rb") as f:
                f.seek(index * CHUNK_PLAINTEXT)
                data = f.read(CHUNK_PLAINTEXT)
            if len(data) != min(CHUNK_PLAINTEXT, state.size - index * CHUNK_PLAINTEXT):
                raise AttachmentInputError(f"{path} changed while it was being sent")
            return encrypt_chunk(state.key, index, data)

        async def worker() -> None:
            while queue:
                index = queue.pop(0)
                enc = await asyncio.to_thread(read_and_encrypt, index)
                digest, size = enc.digest, len(enc.blob)
                file_id = await self.upload_blob(server, enc.blob)
                del enc
                state.done[index] = ChunkRef(file_id, digest, size)
                if state_file is not None:
                    _save_json(state_file, state.to_json())

        await _gather_all(worker() for _ in range(min(self.concurrency, len(queue))))

    # -- downloading --------------------------------------------------------------------------

    async def download(self, pointer: Pointer, dest_dir: Path) -> Path:
        """Fetch, check and save the file; returns where it was saved (``dest_dir``/its name)."""
        pointer.check()
        server, file_id = pointer.location()
        dest_dir.mkdir(parents=True, exist_ok=True)
        if not pointer.chunked:
            blob = await self.download_blob(server, file_id)
            data = await asyncio.to_thread(lambda: unpad(decrypt(blob, pointer.key, pointer.digest), pointer.size))
            del blob
            return await asyncio.to_thread(_save_new, dest_dir, pointer.file_name, data)
        blob = await self.download_blob(server, file_id)
        manifest = _open_manifest(blob, pointer)
        partial = dest_dir / ".partial"
        partial.mkdir(exist_ok=True)
        part = partial / (pointer.digest.hex() + ".part")
        progress = part.with_suffix(".json")
        done: set[int] = set()
        if part.exists() and progress.exists():
            with contextlib.suppress(ValueError, TypeError, OSError):
                done = {int(i) for i in json.loads(progress.read_text())["done"]}
        else:
            with open(part, "wb") as f:
                f.truncate(manifest.size)
        queue = [i for i in range(chunk_count(manifest.size)) if i not in done]

        async def worker() -> None:
            while queue:
                index = queue.pop(0)
                ref = manifest.chunks[index]
                chunk_blob = await self.download_blob(server, ref.file_id)
                data = await asyncio.to_thread(
                    decrypt_chunk, pointer.key, index, ref, chunk_blob, manifest.plaintext_size(index))
                del chunk_blob
                await asyncio.to_thread(_write_at, part, index * CHUNK_PLAINTEXT, data)
                done.add(index)
                _save_json(progress, {"done": sorted(done)})

        await _gather_all(worker() for _ in range(min(self.concurrency, len(queue))))
        final = await asyncio.to_thread(_move_new, dest_dir, pointer.file_name, part)
        progress.unlink(missing_ok=True)
        return final


def _open_manifest(blob: bytes, pointer: Pointer) -> Manifest:
    # The manifest is JSON (it ends with "}"), zero-filled to its bucket.
    manifest = Manifest.from_bytes(decrypt(blob, pointer.key, pointer.digest).rstrip(b"\0"))
    if manifest.size != pointer.size:
        raise AttachmentDecryptError(f"the manifest is for {manifest.size} bytes, the message says {pointer.size}")
    return manifest


async def _gather_all(coros: Iterable[Any]) -> None:
    """Run the workers; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _load_state(state_file: Path | None, size: int, mtime_ns: int) -> UploadState:
    if state_file is not None and state_file.exists():
        with contextlib.suppress(AttachmentInputError, ValueError, OSError):
            state = UploadState.from_json(json.loads(state_file.read_text()))
            if state.size == size and state.mtime_ns == mtime_ns:
                return state
    return UploadState(new_key(), size, mtime_ns)


def _save_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(obj))
    tmp.replace(path)


def _write_at(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def _unique(dest_dir: Path, name: str) -> Path:
    base = safe_file_name(name)
    stem, dot, ext = base.rpartition(".") if "." in base else (base, "", "")
    candidate = dest_dir / base
    n = 1
    while candidate.exists():
        candidate = dest_dir / (f"{stem} ({n}).{ext}" if dot else f"{base} ({n})")
        n += 1
    return candidate


def _save_new(dest_dir: Path, name: str, data: bytes) -> Path:
    while True:
        target = _unique(dest_dir, name)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return target


def _move_new(dest_dir: Path, name: str, part: Path) -> Path:
    while True:
        target = _unique(dest_dir, name)
        try:
            os.link(part, target)  # fails if the name was taken meanwhile: never overwrites
        except FileExistsError:
            continue
        part.unlink()
        return target
