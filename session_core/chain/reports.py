"""Signed storage-test reports (a node tells the chain how a test it ran went)."""

from __future__ import annotations

import json
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from session_core.errors import ChainRequestError

_DOMAIN = b"session-core devnet storage test v1:"


def _bytes(reporter: str, testee: str, height: int, passed: bool) -> bytes:
    body = {"reporter": reporter, "testee": testee, "height": height, "passed": passed}
    return _DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_report(key: SigningKey, testee: str, height: int, passed: bool) -> dict[str, Any]:
    reporter = bytes(key.verify_key).hex()
    sig = key.sign(_bytes(reporter, testee, height, passed)).signature.hex()
    return {"reporter": reporter, "testee": testee, "height": height, "passed": passed, "signature": sig}


def parse_signed_report(params: Any) -> tuple[str, str, int, bool]:
    if not isinstance(params, dict):
        raise ChainRequestError("params must be an object")
    reporter, testee = params.get("reporter"), params.get("testee")
    height, passed = params.get("height"), params.get("passed")
    if not isinstance(reporter, str) or not isinstance(testee, str):
        raise ChainRequestError("`reporter` and `testee` must be hex Ed25519 keys")
    if not isinstance(height, int) or isinstance(height, bool) or not isinstance(passed, bool):
        raise ChainRequestError("`height` must be an integer and `passed` a boolean")
    try:
        VerifyKey(bytes.fromhex(reporter)).verify(
            _bytes(reporter, testee, height, passed), bytes.fromhex(str(params.get("signature")))
        )
    except (BadSignatureError, ValueError, TypeError):
        raise ChainRequestError("bad report signature") from None
    return reporter, testee, height, passed
