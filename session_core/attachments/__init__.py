"""Attachments (whitepaper 5.3): size buckets, Session's attachment encryption, chunked
files and the pointer a message carries.  Pure functions and value types, no I/O; the file
server is :mod:`session_core.fileserver`, the transfers are in the client.

Modules: ``padding`` (the bucket set), ``crypto`` (INTEROP §6.1), ``chunks`` (large files),
``pointer`` (AttachmentPointer fields, file-server URLs, safe names).
"""

from session_core.attachments.chunks import (
    CHUNK_PLAINTEXT,
    MAX_FILE_SIZE,
    ChunkRef,
    Manifest,
    UploadState,
    chunk_count,
    chunk_key,
    decrypt_chunk,
    encrypt_chunk,
)
from session_core.attachments.crypto import KEY_BYTES, Encrypted, decrypt, digest_of, encrypt, new_key
from session_core.attachments.padding import BUCKETS, CHUNK_BLOB, MAX_SINGLE_PLAINTEXT, OVERHEAD, bucket_for, pad, unpad, zero_fill
from session_core.attachments.pointer import FLAG_CHUNKED, FileServerRef, Pointer, check_file_id, safe_file_name

__all__ = [
    "BUCKETS", "CHUNK_BLOB", "CHUNK_PLAINTEXT", "FLAG_CHUNKED", "KEY_BYTES", "MAX_FILE_SIZE",
    "MAX_SINGLE_PLAINTEXT", "OVERHEAD", "ChunkRef", "Encrypted", "FileServerRef", "Manifest", "Pointer",
    "UploadState", "bucket_for", "check_file_id", "chunk_count", "chunk_key", "decrypt", "decrypt_chunk",
    "digest_of", "encrypt", "encrypt_chunk", "new_key", "pad", "safe_file_name", "unpad", "zero_fill",
]
