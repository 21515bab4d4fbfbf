"""Config messages as stored in the account's own swarm.

``store.data`` of a config message is ``b"SCCF" || version (1) || domain id (1) || ciphertext``,
the ciphertext being the padded, signed message encrypted as in
:mod:`~session_core.protocol.config.sealing`.  Production Session keeps each config domain in
its own swarm *namespace* (2, 3, 4, 5); session_core's storage has one namespace, so the same
numbers travel in this small clear header instead.  Either way the swarm learns that a blob is
a config of a given kind, and nothing of its content.

Reading checks the cheap things first, so hostile input costs little: the size (at most
:data:`MAX_CONFIG_BYTES`, the storage server's limit libsession-util also uses), the header,
then decryption with the account's key, then the account's signature, then the strict format.
"""

from __future__ import annotations

from session_core.errors import ConfigFormatError, ConfigTooLargeError
from session_core.identity import Identity
from session_core.protocol.config import sealing
from session_core.protocol.config.message import ConfigMessage

__all__ = ["DOMAINS", "MAX_CONFIG_BYTES", "is_config", "open_config", "seal_config"]

MAX_CONFIG_BYTES = 76_800
_MAGIC = b"SCCF\x01"
#: Config domain (libsession-util's encryption domain name) -> its id (production's namespace).
DOMAINS: dict[bytes, int] = {b"UserProfile": 2, b"Contacts": 3, b"ConvoInfoVolatile": 4, b"UserGroups": 5}
_BY_ID = {v: k for k, v in DOMAINS.items()}


def is_config(data: bytes) -> bool:
    """Whether ``data`` (a stored message) claims to be a config message."""
    return data.startswith(_MAGIC)


def seal_config(identity: Identity, message: ConfigMessage) -> bytes:
    if message.domain not in DOMAINS:
        raise ConfigFormatError(f"unknown config domain {message.domain!r}")
    data = _MAGIC + bytes([DOMAINS[message.domain]]) + sealing.encrypt(
        sealing.pad(message.encoded), identity.ed25519_seed, message.domain)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigTooLargeError(f"config {message.domain.decode()} is {len(data)} bytes, over {MAX_CONFIG_BYTES}")
    return data


def open_config(identity: Identity, data: bytes) -> ConfigMessage:
    """The verified message in ``data``; a :class:`ConfigError` subclass says what is wrong."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigTooLargeError(f"config message of {len(data)} bytes, over {MAX_CONFIG_BYTES}")
    if not is_config(data) or len(data) < len(_MAGIC) + 1:
        raise ConfigFormatError("not a config message (header)")
    domain = _BY_ID.get(data[len(_MAGIC)])
    if domain is None:
        raise ConfigFormatError(f"unknown config domain id {data[len(_MAGIC)]}")
    plaintext = sealing.decrypt(data[len(_MAGIC) + 1:], identity.ed25519_seed, domain)
    return ConfigMessage.verify(sealing.unpad(plaintext), domain, identity.ed25519_public_key)
