"""The one exception hierarchy of session_core.

Every error the package raises on purpose derives from :class:`SessionCoreError`.
Errors caused by bad input also derive from :class:`ValueError`, so code that
already catches ``ValueError`` keeps working; timeouts also derive from
:class:`TimeoutError`.  Each module adds its own subclasses in its section below.
"""

from __future__ import annotations


class SessionCoreError(Exception):
    """Base class of every error raised by session_core."""


class InvalidInputError(SessionCoreError, ValueError):
    """Input that is malformed, the wrong length, out of range or otherwise unusable."""


class ExtensionUnavailableError(SessionCoreError, RuntimeError):
    """A C extension or kernel was asked for by name but is not available here."""


# --- proof of work (session_core.pow) ------------------------------------------------------


class PowInputError(InvalidInputError):
    """Base class for bad proof-of-work parameters."""


class InvalidNonceError(PowInputError):
    """The nonce is not padded standard base64 of exactly 8 bytes."""


class InvalidTTLError(PowInputError):
    """The TTL is negative, not an integer or out of the allowed range."""


class InvalidTimestampError(PowInputError):
    """The timestamp is negative or not an integer."""


class InvalidDifficultyError(PowInputError):
    """The difficulty is not an integer of at least 1."""


class InvalidPubkeyError(PowInputError):
    """The recipient public key is not an ASCII hex string."""


class InvalidDataError(PowInputError):
    """The message data is not an ASCII (base64) string."""


class SolveCancelledError(SessionCoreError):
    """A proof-of-work search was cancelled through its cancel token."""


class SolveTimeoutError(SolveCancelledError, TimeoutError):
    """A proof-of-work search ran out of its time budget."""


class NonceSpaceExhaustedError(SessionCoreError):
    """No valid nonce exists in the (limited) range that was searched."""


# --- service node and devnet (session_core.node, session_core.devnet) ----------------------


class NodeError(SessionCoreError):
    """Base class for errors of the service node."""


class RpcRejectedError(NodeError, ValueError):
    """A client request was refused; carries the HTTP status and the body to send back.

    The body is the exact text (or JSON) of docs/interop.md §1.6 / §4.2, so drivers only
    have to copy ``status`` and ``body`` into their reply.
    """

    def __init__(self, status: int, body: str, content_type: str = "text/plain") -> None:
        super().__init__(f"{status}: {body.strip()}")
        self.status = status
        self.body = body
        self.content_type = content_type


class ReplicationBatchError(NodeError, ValueError):
    """A replication batch from a peer is truncated or malformed."""


class PeerRequestError(NodeError):
    """A node-to-node request failed (the peer answered with an error)."""


class PeerTimeoutError(PeerRequestError, TimeoutError):
    """A node-to-node request got no reply in time (also what a wrong CURVE key looks like)."""


class ChainError(SessionCoreError):
    """Base class for errors of the chain (the devnet's or a real one) and its node list."""


class ChainRequestError(ChainError, ValueError):
    """A chain JSON-RPC request is malformed or refers to an unknown node."""


class ServiceNodeEntryError(ChainError, ValueError):
    """An entry of the service-node list (``get_n_service_nodes``) is malformed."""


class PeerFrameError(NodeError, InvalidInputError):
    """A node-to-node ZMQ frame is malformed (truncated, oversized, garbage); ``req_id`` is its
    request id when that much could be read, else None."""

    def __init__(self, message: str, req_id: int | None = None) -> None:
        super().__init__(message)
        self.req_id = req_id


class DevnetError(SessionCoreError):
    """The devnet could not be started, queried or stopped."""


# --- swarm space (session_core.swarm) -------------------------------------------------------


class SwarmInputError(InvalidInputError):
    """Base class for bad input to the swarm-space functions."""


class InvalidSwarmKeyError(SwarmInputError):
    """A public key is not 66 hex chars, 33 or 32 raw bytes (or an array of the wrong shape)."""


class InvalidSwarmIdError(SwarmInputError):
    """A swarm id is not an integer in [0, 2^64-2], is duplicated, or is the unassigned sentinel."""


class EmptySwarmMapError(SwarmInputError):
    """A lookup was asked of a swarm map that holds no swarm."""


class InvalidBlockHashError(SwarmInputError):
    """A block hash is not 32 raw bytes / 64 hex chars (lowercase hex where the seed reads ASCII)."""


class SwarmMembershipError(SwarmInputError):
    """A node set is inconsistent: duplicate node, new node already placed, removed node unknown."""


class SwarmTooSmallError(SwarmInputError):
    """A storage test needs at least two swarm members."""


# --- onion requests (session_core.onion) ---------------------------------------------------
# Each class carries the HTTP/OMQ status and the response body a Session storage server
# returns for that situation (docs/interop.md §3.4), so a node can answer with
# ``(exc.status, exc.body)`` without knowing which check failed inside the parser.


class OnionError(SessionCoreError):
    """Base class of onion-request errors; ``status`` and ``body`` are the §3.4 answer."""

    status: int = 400
    body: str = "Invalid ciphertext"
    #: True when the §3.4 answer is encrypted for the layer's ephemeral key (see ``reply``).
    encrypted: bool = False

    def __init__(self, message: str | None = None, *, reply: object | None = None) -> None:
        super().__init__(message if message is not None else self.body)
        #: For errors raised after a layer was decrypted: the ``onion.Reply`` to wrap the
        #: answer with (``exc.reply.encrypt(...)``); None otherwise.
        self.reply = reply


class OnionInputError(OnionError, InvalidInputError):
    """A malformed, hostile or undecryptable onion request (always also a ValueError)."""


class OnionFrameError(OnionInputError):
    """The ``[u32 LE N][blob][JSON]`` frame or its outer JSON is malformed.

    Truncated header, N larger than the buffer, unparsable JSON, a missing or malformed
    ``ephemeral_key``.
    """

    body = "Error parsing outer JSON in onion request"

    def __init__(self, what: str, *, reply: object | None = None) -> None:
        super().__init__(f"{self.body}: {what}", reply=reply)
        self.body = f"{OnionFrameError.body}: {what}"


class OnionEncTypeError(OnionFrameError):
    """The ``enc_type`` is not one of aes-gcm/gcm/xchacha20/xchacha20-poly1305."""


class OnionTooLargeError(OnionFrameError):
    """A layer or payload exceeds ``onion.MAX_BODY_SIZE``."""


class OnionDecryptError(OnionInputError):
    """A layer does not decrypt: wrong key, tampered nonce/ciphertext/tag, bad ephemeral key.

    Deliberately one class with one message, whatever the cause.
    """

    body = "Invalid ciphertext"


class OnionJsonError(OnionInputError):
    """A decrypted layer has an invalid inner frame or JSON, or misses required fields."""

    body = "Invalid json"
    encrypted = True


class OnionUrlError(OnionInputError):
    """An exit layer names a target outside ``/loki/…/lsrpc`` or ``/oxen/…/lsrpc``, or a bad port/protocol."""

    body = "Invalid url"
    encrypted = True


class OnionPathTooLongError(OnionInputError):
    """More than ``onion.MAX_ONION_HOPS`` relays (in ``build`` or as seen by ``peel``)."""

    body = "onion request max path length exceeded"


class OnionHopError(OnionInputError):
    """The hop counter beside a node-to-node onion request is not ASCII decimal digits."""

    body = "Invalid onion hop number"


class OnionArgumentError(OnionInputError):
    """An argument from the caller, not from the wire, is of the wrong type, length or encoding
    (a 31-byte secret, a Node with a non-hex key, a str body...)."""

    status = 500
    body = "Internal server error"


# --- identity and profiles (session_core.identity, session_core.identity_store) -------------


class InvalidSeedError(InvalidInputError):
    """An identity seed that is not exactly 16 bytes."""


class InvalidSessionIdError(InvalidInputError):
    """A Session ID that is not "05" followed by 64 hex digits of an X25519 key."""


class MnemonicError(InvalidInputError):
    """Base class for a recovery phrase that cannot be turned back into a seed."""


class MnemonicWordCountError(MnemonicError):
    """The recovery phrase has the wrong number of words (13, or 12 without the checksum)."""


class MnemonicUnknownWordError(MnemonicError):
    """A word of the recovery phrase is in no word list it could be from (likely mistyped)."""


class MnemonicChecksumError(MnemonicError):
    """All words are valid but their checksum fails: a word is wrong or two are swapped."""


class MnemonicInvalidWordsError(MnemonicError):
    """Every word is known but a group of three encodes no 32-bit value (a word is wrong)."""


class WordListIntegrityError(SessionCoreError, RuntimeError):
    """The vendored recovery-phrase word list does not match its pinned SHA-256."""


class ProfileError(SessionCoreError):
    """Base class for problems with a stored identity profile."""


class InvalidProfileNameError(ProfileError, InvalidInputError):
    """A profile name with characters outside [A-Za-z0-9_.-], or empty, or too long."""


class ProfileExistsError(ProfileError, FileExistsError):
    """A profile of that name already exists (profiles are never overwritten)."""


class ProfileNotFoundError(ProfileError, LookupError):
    """No profile of that name exists under the session_core home."""


class WrongPassphraseError(ProfileError, ValueError):
    """The passphrase does not unlock the profile's secret."""


class CorruptProfileError(ProfileError, ValueError):
    """A profile file that is not in the expected format or whose keys do not match."""


# --- messaging protocol (session_core.protocol) --------------------------------------------


class ProtocolError(SessionCoreError):
    """Base class for errors of the sans-IO messaging protocol."""


class MalformedMessageError(ProtocolError, InvalidInputError):
    """Bytes that do not parse as the expected protobuf/structure or have wrong field sizes."""


class PaddingError(MalformedMessageError):
    """Decrypted plaintext whose message padding (docs/interop.md §6.2) is not valid."""


class DecryptionError(ProtocolError, ValueError):
    """A message that does not authenticate or decrypt (tampered, wrong key, not for us)."""


class DuplicateMessageError(DecryptionError):
    """A message whose key was already used: a duplicate or a replay."""


class TooManySkippedMessagesError(DecryptionError):
    """A message claiming more skipped messages than the ratchet will derive (DoS protection)."""


class KeyAgreementError(ProtocolError, ValueError):
    """X3DH failed: bad prekey signature, unknown or used prekey, identity mismatch."""


class FriendRequestError(ProtocolError, ValueError):
    """A friend request whose signature, sender identity or prekey bundle does not check out."""


class UnknownPeerError(ProtocolError, LookupError):
    """An operation names a peer with no pending request or session."""


class NoSessionError(ProtocolError):
    """Sending to a peer before a Signal session with them exists (send a friend request)."""


class StateDecryptionError(ProtocolError, ValueError):
    """Saved protocol state that does not decrypt with this identity's key or is corrupt."""


# --- multi-device: config sync and device linking (session_core.protocol.config, .link) ------


class ConfigError(ProtocolError):
    """Base class for config messages an account's devices share (profile, contacts, ...)."""


class ConfigFormatError(ConfigError, MalformedMessageError):
    """A config message (or a key or value put in one) that is not in the strict format."""


class ConfigTooLargeError(ConfigError, InvalidInputError):
    """A config message over the size limit (refused before any decryption)."""


class ConfigSignatureError(ConfigError, DecryptionError):
    """A config message that does not decrypt with the account's key or is not signed by it."""


class ConfigReplayError(ConfigError, ValueError):
    """A config message already merged, or an older one that brings nothing new (a replay)."""


class LinkCodeError(ProtocolError, InvalidInputError):
    """A device-link code that is malformed, or a link record it does not open."""


class LinkExpiredError(LinkCodeError):
    """A device-link record past its expiry: ask the existing device for a new code."""



# --- closed groups (session_core.protocol.groups) --------------------------------------------


class GroupError(ProtocolError):
    """Base class for errors of the closed-group state machine."""


class InvalidGroupIdError(GroupError, InvalidInputError):
    """A group ID that is not ``03`` + 64 hex digits (a group Ed25519 public key)."""


class GroupFormatError(GroupError, MalformedMessageError):
    """A group record (key message, roster, group message) that is truncated or malformed."""


class AdminSignatureError(GroupError, ValueError):
    """An admin action (rekey, kick, roster) not signed by the group key: forged or unsigned."""


class NotGroupAdminError(GroupError, PermissionError):
    """An admin-only operation (add, kick, rekey) asked of a member who holds no group key."""


class NotGroupMemberError(GroupError, PermissionError):
    """A message whose sender is not in the signed member list, or an operation on a group we
    are not (or no longer) a member of."""


class StaleGenerationError(GroupError, ValueError):
    """A key message or roster of a generation at or before the one we hold: a replay."""


class GroupKeyUnavailableError(GroupError, DecryptionError):
    """A group message of a generation whose key we do not hold (kicked, left, or never given)."""


class GroupOperationError(GroupError, ValueError):
    """An operation the group's state does not allow: adding a member twice, removing one who
    is not there, the admin leaving, sending before holding a key."""


class GroupTooLargeError(GroupError, ValueError):
    """A member list longer than :data:`~session_core.protocol.groups.roster.MAX_MEMBERS`."""


class GroupInviteError(GroupError, ValueError):
    """A group invitation that is malformed, names another invitee or time, or is not signed by
    the group's key: forged or tampered."""


# -- client (session_core.client) ---------------------------------------------------------------


class ClientError(SessionCoreError):
    """The messaging client could not do what was asked."""


class NodeListError(ClientError):
    """No usable service-node list: seeds unreachable, no cache, or nodes that do not agree."""


class PathError(ClientError):
    """Not enough usable nodes to build a 3-hop onion path."""


class DeliveryError(ClientError):
    """A message could not be stored in any node of the recipient's swarm (all retries spent)."""


class StoreRefusedError(DeliveryError):
    """Every swarm member asked refused to store this message for what it is (401: a group
    record the swarm does not admit, e.g. of a generation older than the group's newest):
    sending the same bytes again cannot help."""


class ClientStateError(ClientError, ValueError):
    """The client database does not open with this identity, or is corrupt."""


class NodeUnreachableError(ClientError):
    """A service node (the guard of a path) could not be reached or timed out."""


class AnswerTooLargeError(ClientError, ValueError):
    """A node's HTTP answer is longer than the client agrees to read (a guard flooding it)."""


class OnionRequestFailedError(ClientError):
    """An onion request got no usable answer through its path (the client retries elsewhere)."""


# --- names (session_core.names, the devnet chain's name service, the resolver) --------------


class NamesError(SessionCoreError):
    """Base class for errors of the name service (whitepaper 6.5, oxen-core ONS)."""


class InvalidNameError(NamesError, InvalidInputError):
    """A name that is empty, longer than 64 characters or outside ``[a-z0-9_-]`` (no leading or
    trailing hyphen)."""


class NameValueError(NamesError, ValueError):
    """An encrypted name value that is malformed or does not decrypt under the name's key."""


class NameProofError(NamesError, ValueError):
    """A node's answer whose Merkle proof does not check out against the synced block header
    (forged, stale, or proven against a header the chain does not have)."""


class NameNotFoundError(NamesError, LookupError):
    """The name is not registered (or its registration expired)."""


class NameDisagreementError(NamesError):
    """The nodes asked to resolve a name did not all give the same proven answer; ``culprits``
    names the nodes whose answers failed verification."""

    def __init__(self, message: str, culprits: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.culprits = culprits


class NameOperationError(NamesError, ChainRequestError):
    """A name registration, renewal or transfer the chain refuses (taken, expired, not the
    owner, fee too low, bad signature, replayed)."""

# -- attachments and the file server (session_core.attachments, session_core.fileserver) ---------


class AttachmentError(SessionCoreError):
    """Base class for errors of attachments: their format, crypto, chunks and transfer."""


class AttachmentInputError(AttachmentError, InvalidInputError):
    """Bad input to the attachment functions: wrong key length, a size out of range, a
    malformed pointer, manifest or file-server URL."""


class InvalidFileIdError(AttachmentInputError):
    """A file-server id that is not one the server could have issued (e.g. ``../x``)."""


class AttachmentDecryptError(AttachmentError, ValueError):
    """An attachment (or one chunk of it) that does not authenticate: wrong key, tampered,
    truncated, or a chunk that is not the one expected at its place."""


class AttachmentDigestError(AttachmentDecryptError):
    """The SHA-256 of the downloaded ciphertext is not the digest the sender gave."""


class AttachmentTooLargeError(AttachmentInputError):
    """A file larger than the attachment size limit (or a server's upload limit: ``status`` 413)."""

    status = 413


class FileServerError(AttachmentError):
    """A file server answered with an error; ``status`` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"file server answered {status}: {message}")
        self.status = status


class FileNotOnServerError(FileServerError, LookupError):
    """The file server has no such file (never uploaded, or expired)."""


class ServerPayloadError(OnionInputError):
    """A request or answer in the v4 server framing (``l<n>:<json><n>:<body>e``) is malformed."""


class UnreadableAnswerError(SessionCoreError, ValueError):
    """A server's answer came back through an onion path but is not a v4 response."""


# --- open groups (session_core.blinding, session_core.rooms, session_core.opengroup) -------


class OpenGroupError(SessionCoreError):
    """Base class of open group (room server) errors."""


class BlindingError(OpenGroupError, InvalidInputError):
    """A key, Session ID or blinded ID given to the blinding functions is malformed."""


class RoomInputError(OpenGroupError, InvalidInputError):
    """A room URL, token, request or answer of the room protocol is malformed."""


class RoomAuthError(RoomInputError):
    """X-SOGS-* request authentication is missing, malformed, forged, stale or replayed."""


class RoomServerError(OpenGroupError):
    """A room server answered an error; ``status`` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- client protections (whitepaper 5.4: disappearing messages, wipe, PIN, remote wipe, backups) --


class ProtectionError(SessionCoreError):
    """Base class of the client-protection errors (docs/protections.md)."""


class InvalidExpirationError(ProtectionError, InvalidInputError):
    """A disappearing-message setting that is not one we accept (mode or timer out of range)."""


class WrongPinError(ProtectionError, ValueError):
    """The PIN opens nothing (neither the profile nor the duress slot)."""


class PinSetupError(ProtectionError, InvalidInputError):
    """A PIN (or duress PIN) that may not be set: too short, not digits, or both the same."""


class PinAttemptsError(ProtectionError, PermissionError):
    """The PIN may not be tried now: too many wrong PINs (client/pin_attempts.py)."""


class PinDelayError(PinAttemptsError):
    """Too many wrong PINs in a row: the next try is allowed after ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PinLockedOutError(PinAttemptsError):
    """The PIN is locked for good (attempt limit reached, or the attempt counter was altered):
    only the passphrase opens the profile."""


class RemoteWipeSetupError(ProtectionError, InvalidInputError):
    """A remote-wipe arrangement that cannot be made (not a contact, bad secret, ...)."""


class BackupError(ProtectionError, ValueError):
    """A backup that cannot be read: not a backup, wrong version, or not ours."""


class BackupTamperedError(BackupError):
    """The backup does not authenticate under this identity's backup key (changed or not ours)."""


class WipedError(ProtectionError, RuntimeError):
    """The profile was wiped (duress PIN, remote wipe, or `wipe`): nothing is left to use."""
