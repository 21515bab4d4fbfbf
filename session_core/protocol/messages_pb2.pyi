# mypy: ignore-errors
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("type", "source", "sourceDevice", "relay", "timestamp", "legacyMessage", "content", "serverGuid", "serverTimestamp")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[Envelope.Type]
        CIPHERTEXT: _ClassVar[Envelope.Type]
        KEY_EXCHANGE: _ClassVar[Envelope.Type]
        PREKEY_BUNDLE: _ClassVar[Envelope.Type]
        RECEIPT: _ClassVar[Envelope.Type]
        UNIDENTIFIED_SENDER: _ClassVar[Envelope.Type]
        FRIEND_REQUEST: _ClassVar[Envelope.Type]
    UNKNOWN: Envelope.Type
    CIPHERTEXT: Envelope.Type
    KEY_EXCHANGE: Envelope.Type
    PREKEY_BUNDLE: Envelope.Type
    RECEIPT: Envelope.Type
    UNIDENTIFIED_SENDER: Envelope.Type
    FRIEND_REQUEST: Envelope.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCEDEVICE_FIELD_NUMBER: _ClassVar[int]
    RELAY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LEGACYMESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SERVERGUID_FIELD_NUMBER: _ClassVar[int]
    SERVERTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    type: Envelope.Type
    source: str
    sourceDevice: int
    relay: str
    timestamp: int
    legacyMessage: bytes
    content: bytes
    serverGuid: str
    serverTimestamp: int
    def __init__(self, type: _Optional[_Union[Envelope.Type, str]] = ..., source: _Optional[str] = ..., sourceDevice: _Optional[int] = ..., relay: _Optional[str] = ..., timestamp: _Optional[int] = ..., legacyMessage: _Optional[bytes] = ..., content: _Optional[bytes] = ..., serverGuid: _Optional[str] = ..., serverTimestamp: _Optional[int] = ...) -> None: ...

class Content(_message.Message):
    __slots__ = ("dataMessage", "nullMessage", "receiptMessage", "typingMessage", "preKeyBundleMessage", "lokiAddressMessage")
    DATAMESSAGE_FIELD_NUMBER: _ClassVar[int]
    NULLMESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECEIPTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPINGMESSAGE_FIELD_NUMBER: _ClassVar[int]
    PREKEYBUNDLEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOKIADDRESSMESSAGE_FIELD_NUMBER: _ClassVar[int]
    dataMessage: DataMessage
    nullMessage: NullMessage
    receiptMessage: ReceiptMessage
    typingMessage: TypingMessage
    preKeyBundleMessage: PreKeyBundleMessage
    lokiAddressMessage: LokiAddressMessage
    def __init__(self, dataMessage: _Optional[_Union[DataMessage, _Mapping]] = ..., nullMessage: _Optional[_Union[NullMessage, _Mapping]] = ..., receiptMessage: _Optional[_Union[ReceiptMessage, _Mapping]] = ..., typingMessage: _Optional[_Union[TypingMessage, _Mapping]] = ..., preKeyBundleMessage: _Optional[_Union[PreKeyBundleMessage, _Mapping]] = ..., lokiAddressMessage: _Optional[_Union[LokiAddressMessage, _Mapping]] = ...) -> None: ...

class PreKeyBundleMessage(_message.Message):
    __slots__ = ("identityKey", "deviceId", "preKeyId", "signedKeyId", "preKey", "signedKey", "signature")
    IDENTITYKEY_FIELD_NUMBER: _ClassVar[int]
    DEVICEID_FIELD_NUMBER: _ClassVar[int]
    PREKEYID_FIELD_NUMBER: _ClassVar[int]
    SIGNEDKEYID_FIELD_NUMBER: _ClassVar[int]
    PREKEY_FIELD_NUMBER: _ClassVar[int]
    SIGNEDKEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    identityKey: bytes
    deviceId: int
    preKeyId: int
    signedKeyId: int
    preKey: bytes
    signedKey: bytes
    signature: bytes
    def __init__(self, identityKey: _Optional[bytes] = ..., deviceId: _Optional[int] = ..., preKeyId: _Optional[int] = ..., signedKeyId: _Optional[int] = ..., preKey: _Optional[bytes] = ..., signedKey: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class LokiAddressMessage(_message.Message):
    __slots__ = ("p2pAddress", "p2pPort", "type")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        HOST_REACHABLE: _ClassVar[LokiAddressMessage.Type]
        HOST_UNREACHABLE: _ClassVar[LokiAddressMessage.Type]
    HOST_REACHABLE: LokiAddressMessage.Type
    HOST_UNREACHABLE: LokiAddressMessage.Type
    P2PADDRESS_FIELD_NUMBER: _ClassVar[int]
    P2PPORT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    p2pAddress: str
    p2pPort: int
    type: LokiAddressMessage.Type
    def __init__(self, p2pAddress: _Optional[str] = ..., p2pPort: _Optional[int] = ..., type: _Optional[_Union[LokiAddressMessage.Type, str]] = ...) -> None: ...

class NullMessage(_message.Message):
    __slots__ = ("padding",)
    PADDING_FIELD_NUMBER: _ClassVar[int]
    padding: bytes
    def __init__(self, padding: _Optional[bytes] = ...) -> None: ...

class ReceiptMessage(_message.Message):
    __slots__ = ("type", "timestamp")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DELIVERY: _ClassVar[ReceiptMessage.Type]
        READ: _ClassVar[ReceiptMessage.Type]
    DELIVERY: ReceiptMessage.Type
    READ: ReceiptMessage.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    type: ReceiptMessage.Type
    timestamp: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, type: _Optional[_Union[ReceiptMessage.Type, str]] = ..., timestamp: _Optional[_Iterable[int]] = ...) -> None: ...

class TypingMessage(_message.Message):
    __slots__ = ("timestamp", "action", "groupId")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STARTED: _ClassVar[TypingMessage.Action]
        STOPPED: _ClassVar[TypingMessage.Action]
    STARTED: TypingMessage.Action
    STOPPED: TypingMessage.Action
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    GROUPID_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    action: TypingMessage.Action
    groupId: bytes
    def __init__(self, timestamp: _Optional[int] = ..., action: _Optional[_Union[TypingMessage.Action, str]] = ..., groupId: _Optional[bytes] = ...) -> None: ...

class DataMessage(_message.Message):
    __slots__ = ("body", "flags", "expireTimer", "profileKey", "timestamp", "profile")
    class Flags(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        END_SESSION: _ClassVar[DataMessage.Flags]
        EXPIRATION_TIMER_UPDATE: _ClassVar[DataMessage.Flags]
        PROFILE_KEY_UPDATE: _ClassVar[DataMessage.Flags]
        SESSION_RESTORE: _ClassVar[DataMessage.Flags]
        UNPAIRING_REQUEST: _ClassVar[DataMessage.Flags]
        SESSION_REQUEST: _ClassVar[DataMessage.Flags]
    END_SESSION: DataMessage.Flags
    EXPIRATION_TIMER_UPDATE: DataMessage.Flags
    PROFILE_KEY_UPDATE: DataMessage.Flags
    SESSION_RESTORE: DataMessage.Flags
    UNPAIRING_REQUEST: DataMessage.Flags
    SESSION_REQUEST: DataMessage.Flags
    class LokiProfile(_message.Message):
        __slots__ = ("displayName", "avatar")
        DISPLAYNAME_FIELD_NUMBER: _ClassVar[int]
        AVATAR_FIELD_NUMBER: _ClassVar[int]
        displayName: str
        avatar: str
        def __init__(self, displayName: _Optional[str] = ..., avatar: _Optional[str] = ...) -> None: ...
    BODY_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    EXPIRETIMER_FIELD_NUMBER: _ClassVar[int]
    PROFILEKEY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    body: str
    flags: int
    expireTimer: int
    profileKey: bytes
    timestamp: int
    profile: DataMessage.LokiProfile
    def __init__(self, body: _Optional[str] = ..., flags: _Optional[int] = ..., expireTimer: _Optional[int] = ..., profileKey: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., profile: _Optional[_Union[DataMessage.LokiProfile, _Mapping]] = ...) -> None: ...

class SealedMessage(_message.Message):
    __slots__ = ("kind", "source", "sourceEd25519", "signature", "payload", "timestamp")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNKNOWN: _ClassVar[SealedMessage.Kind]
        FRIEND_REQUEST: _ClassVar[SealedMessage.Kind]
        SIGNAL: _ClassVar[SealedMessage.Kind]
    KIND_UNKNOWN: SealedMessage.Kind
    FRIEND_REQUEST: SealedMessage.Kind
    SIGNAL: SealedMessage.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCEED25519_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    kind: SealedMessage.Kind
    source: str
    sourceEd25519: bytes
    signature: bytes
    payload: bytes
    timestamp: int
    def __init__(self, kind: _Optional[_Union[SealedMessage.Kind, str]] = ..., source: _Optional[str] = ..., sourceEd25519: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., timestamp: _Optional[int] = ...) -> None: ...

class X3DHHeader(_message.Message):
    __slots__ = ("identityKey", "ephemeralKey", "signedPreKey", "preKey")
    IDENTITYKEY_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALKEY_FIELD_NUMBER: _ClassVar[int]
    SIGNEDPREKEY_FIELD_NUMBER: _ClassVar[int]
    PREKEY_FIELD_NUMBER: _ClassVar[int]
    identityKey: bytes
    ephemeralKey: bytes
    signedPreKey: bytes
    preKey: bytes
    def __init__(self, identityKey: _Optional[bytes] = ..., ephemeralKey: _Optional[bytes] = ..., signedPreKey: _Optional[bytes] = ..., preKey: _Optional[bytes] = ...) -> None: ...

class SignalMessage(_message.Message):
    __slots__ = ("x3dh", "ratchetKey", "previousCounter", "counter", "ciphertext")
    X3DH_FIELD_NUMBER: _ClassVar[int]
    RATCHETKEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUSCOUNTER_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    x3dh: X3DHHeader
    ratchetKey: bytes
    previousCounter: int
    counter: int
    ciphertext: bytes
    def __init__(self, x3dh: _Optional[_Union[X3DHHeader, _Mapping]] = ..., ratchetKey: _Optional[bytes] = ..., previousCounter: _Optional[int] = ..., counter: _Optional[int] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...
