"""Server key files: created private, read back the same, refused clearly when damaged."""

from __future__ import annotations

import stat
from pathlib import Path

import nacl.bindings
import pytest

from session_core.errors import InvalidInputError
from session_core.fileserver.keys import FileServerKeys
from session_core.node.keys import NodeKeys


@pytest.mark.parametrize("kind", [NodeKeys, FileServerKeys])
def test_created_private_and_read_back(tmp_path: Path, kind: type[NodeKeys] | type[FileServerKeys]) -> None:
    keys = kind.load_or_create(tmp_path / "data")
    path = tmp_path / "data" / kind.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = kind.load_or_create(tmp_path / "data")
    assert isinstance(again, kind) and again.ed25519 == keys.ed25519
    # the X25519 twin really is the key pair onion layers are opened with
    assert nacl.bindings.crypto_scalarmult_base(keys.x25519_secret) == keys.x25519_public


def test_node_and_file_server_keep_separate_files(tmp_path: Path) -> None:
    node, server = NodeKeys.load_or_create(tmp_path), FileServerKeys.load_or_create(tmp_path)
    assert NodeKeys.KEY_FILE != FileServerKeys.KEY_FILE and node.ed25519 != server.ed25519


@pytest.mark.parametrize("content", ["not hex\n", "ab" * 31 + "\n", ""])
def test_damaged_key_file_is_a_clear_error_and_left_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / NodeKeys.KEY_FILE
    path.write_text(content)
    with pytest.raises(InvalidInputError, match="must hold 64 hex characters"):
        NodeKeys.load_or_create(tmp_path)
    assert path.read_text() == content
