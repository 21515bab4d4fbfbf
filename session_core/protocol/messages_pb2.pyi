# mypy: ignore-errors
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebSocketRequestMessage(_message.Message):
    __slots__ = ("verb", "path", "body", "headers", "id")
    VERB_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    verb: str
    path: str
    body: bytes
    headers: _containers.RepeatedScalarFieldContainer[str]
    id: int
    def __init__(self, verb: _Optional[str] = ..., path: _Optional[str] = ..., body: _Optional[bytes] = ..., headers: _Optional[_Iterable[str]] = ..., id: _Optional[int] = ...) -> None: ...

class WebSocketResponseMessage(_message.Message):
    __slots__ = ("id", "status", "message", "headers", "body")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    id: int
    status: int
    message: str
    headers: _containers.RepeatedScalarFieldContainer[str]
    body: bytes
    def __init__(self, id: _Optional[int] = ..., status: _Optional[int] = ..., message: _Optional[str] = ..., headers: _Optional[_Iterable[str]] = ..., body: _Optional[bytes] = ...) -> None: ...

class WebSocketMessage(_message.Message):
    __slots__ = ("type", "request", "response")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[WebSocketMessage.Type]
        REQUEST: _ClassVar[WebSocketMessage.Type]
        RESPONSE: _ClassVar[WebSocketMessage.Type]
    UNKNOWN: WebSocketMessage.Type
    REQUEST: WebSocketMessage.Type
    RESPONSE: WebSocketMessage.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    type: WebSocketMessage.Type
    request: WebSocketRequestMessage
    response: WebSocketResponseMessage
    def __init__(self, type: _Optional[_Union[WebSocketMessage.Type, str]] = ..., request: _Optional[_Union[WebSocketRequestMessage, _Mapping]] = ..., response: _Optional[_Union[WebSocketResponseMessage, _Mapping]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("type", "source", "sourceDevice", "relay", "timestamp", "legacyMessage", "content", "serverGuid", "serverTimestamp", "proSig")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[Envelope.Type]
        CIPHERTEXT: _ClassVar[Envelope.Type]
        KEY_EXCHANGE: _ClassVar[Envelope.Type]
        PREKEY_BUNDLE: _ClassVar[Envelope.Type]
        RECEIPT: _ClassVar[Envelope.Type]
        UNIDENTIFIED_SENDER: _ClassVar[Envelope.Type]
        SESSION_MESSAGE: _ClassVar[Envelope.Type]
        CLOSED_GROUP_MESSAGE: _ClassVar[Envelope.Type]
        FRIEND_REQUEST: _ClassVar[Envelope.Type]
    UNKNOWN: Envelope.Type
    CIPHERTEXT: Envelope.Type
    KEY_EXCHANGE: Envelope.Type
    PREKEY_BUNDLE: Envelope.Type
    RECEIPT: Envelope.Type
    UNIDENTIFIED_SENDER: Envelope.Type
    SESSION_MESSAGE: Envelope.Type
    CLOSED_GROUP_MESSAGE: Envelope.Type
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
    PROSIG_FIELD_NUMBER: _ClassVar[int]
    type: Envelope.Type
    source: str
    sourceDevice: int
    relay: str
    timestamp: int
    legacyMessage: bytes
    content: bytes
    serverGuid: str
    serverTimestamp: int
    proSig: bytes
    def __init__(self, type: _Optional[_Union[Envelope.Type, str]] = ..., source: _Optional[str] = ..., sourceDevice: _Optional[int] = ..., relay: _Optional[str] = ..., timestamp: _Optional[int] = ..., legacyMessage: _Optional[bytes] = ..., content: _Optional[bytes] = ..., serverGuid: _Optional[str] = ..., serverTimestamp: _Optional[int] = ..., proSig: _Optional[bytes] = ...) -> None: ...

class Content(_message.Message):
    __slots__ = ("dataMessage", "callMessage", "nullMessage", "receiptMessage", "typingMessage", "dataExtractionNotification", "unsendRequest", "messageRequestResponse", "expirationType", "expirationTimer", "sigTimestamp", "proMessage", "proSigForCommunityMessageOnly", "preKeyBundleMessage", "lokiAddressMessage")
    class ExpirationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[Content.ExpirationType]
        DELETE_AFTER_READ: _ClassVar[Content.ExpirationType]
        DELETE_AFTER_SEND: _ClassVar[Content.ExpirationType]
    UNKNOWN: Content.ExpirationType
    DELETE_AFTER_READ: Content.ExpirationType
    DELETE_AFTER_SEND: Content.ExpirationType
    DATAMESSAGE_FIELD_NUMBER: _ClassVar[int]
    CALLMESSAGE_FIELD_NUMBER: _ClassVar[int]
    NULLMESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECEIPTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPINGMESSAGE_FIELD_NUMBER: _ClassVar[int]
    DATAEXTRACTIONNOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    UNSENDREQUEST_FIELD_NUMBER: _ClassVar[int]
    MESSAGEREQUESTRESPONSE_FIELD_NUMBER: _ClassVar[int]
    EXPIRATIONTYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRATIONTIMER_FIELD_NUMBER: _ClassVar[int]
    SIGTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROMESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROSIGFORCOMMUNITYMESSAGEONLY_FIELD_NUMBER: _ClassVar[int]
    PREKEYBUNDLEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOKIADDRESSMESSAGE_FIELD_NUMBER: _ClassVar[int]
    dataMessage: DataMessage
    callMessage: CallMessage
    nullMessage: NullMessage
    receiptMessage: ReceiptMessage
    typingMessage: TypingMessage
    dataExtractionNotification: DataExtractionNotification
    unsendRequest: UnsendRequest
    messageRequestResponse: MessageRequestResponse
    expirationType: Content.ExpirationType
    expirationTimer: int
    sigTimestamp: int
    proMessage: ProMessage
    proSigForCommunityMessageOnly: bytes
    preKeyBundleMessage: PreKeyBundleMessage
    lokiAddressMessage: LokiAddressMessage
    def __init__(self, dataMessage: _Optional[_Union[DataMessage, _Mapping]] = ..., callMessage: _Optional[_Union[CallMessage, _Mapping]] = ..., nullMessage: _Optional[_Union[NullMessage, _Mapping]] = ..., receiptMessage: _Optional[_Union[ReceiptMessage, _Mapping]] = ..., typingMessage: _Optional[_Union[TypingMessage, _Mapping]] = ..., dataExtractionNotification: _Optional[_Union[DataExtractionNotification, _Mapping]] = ..., unsendRequest: _Optional[_Union[UnsendRequest, _Mapping]] = ..., messageRequestResponse: _Optional[_Union[MessageRequestResponse, _Mapping]] = ..., expirationType: _Optional[_Union[Content.ExpirationType, str]] = ..., expirationTimer: _Optional[int] = ..., sigTimestamp: _Optional[int] = ..., proMessage: _Optional[_Union[ProMessage, _Mapping]] = ..., proSigForCommunityMessageOnly: _Optional[bytes] = ..., preKeyBundleMessage: _Optional[_Union[PreKeyBundleMessage, _Mapping]] = ..., lokiAddressMessage: _Optional[_Union[LokiAddressMessage, _Mapping]] = ...) -> None: ...

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

class CallMessage(_message.Message):
    __slots__ = ("type", "sdps", "sdpMLineIndexes", "sdpMids", "uuid")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PRE_OFFER: _ClassVar[CallMessage.Type]
        OFFER: _ClassVar[CallMessage.Type]
        ANSWER: _ClassVar[CallMessage.Type]
        PROVISIONAL_ANSWER: _ClassVar[CallMessage.Type]
        ICE_CANDIDATES: _ClassVar[CallMessage.Type]
        END_CALL: _ClassVar[CallMessage.Type]
    PRE_OFFER: CallMessage.Type
    OFFER: CallMessage.Type
    ANSWER: CallMessage.Type
    PROVISIONAL_ANSWER: CallMessage.Type
    ICE_CANDIDATES: CallMessage.Type
    END_CALL: CallMessage.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SDPS_FIELD_NUMBER: _ClassVar[int]
    SDPMLINEINDEXES_FIELD_NUMBER: _ClassVar[int]
    SDPMIDS_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    type: CallMessage.Type
    sdps: _containers.RepeatedScalarFieldContainer[str]
    sdpMLineIndexes: _containers.RepeatedScalarFieldContainer[int]
    sdpMids: _containers.RepeatedScalarFieldContainer[str]
    uuid: str
    def __init__(self, type: _Optional[_Union[CallMessage.Type, str]] = ..., sdps: _Optional[_Iterable[str]] = ..., sdpMLineIndexes: _Optional[_Iterable[int]] = ..., sdpMids: _Optional[_Iterable[str]] = ..., uuid: _Optional[str] = ...) -> None: ...

class DataExtractionNotification(_message.Message):
    __slots__ = ("type", "timestamp")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SCREENSHOT: _ClassVar[DataExtractionNotification.Type]
        MEDIA_SAVED: _ClassVar[DataExtractionNotification.Type]
    SCREENSHOT: DataExtractionNotification.Type
    MEDIA_SAVED: DataExtractionNotification.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    type: DataExtractionNotification.Type
    timestamp: int
    def __init__(self, type: _Optional[_Union[DataExtractionNotification.Type, str]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class UnsendRequest(_message.Message):
    __slots__ = ("timestamp", "author")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    author: str
    def __init__(self, timestamp: _Optional[int] = ..., author: _Optional[str] = ...) -> None: ...

class MessageRequestResponse(_message.Message):
    __slots__ = ("isApproved", "profileKey", "profile")
    ISAPPROVED_FIELD_NUMBER: _ClassVar[int]
    PROFILEKEY_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    isApproved: bool
    profileKey: bytes
    profile: LokiProfile
    def __init__(self, isApproved: _Optional[bool] = ..., profileKey: _Optional[bytes] = ..., profile: _Optional[_Union[LokiProfile, _Mapping]] = ...) -> None: ...

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

class LokiProfile(_message.Message):
    __slots__ = ("displayName", "profilePicture", "lastProfileUpdateSeconds")
    DISPLAYNAME_FIELD_NUMBER: _ClassVar[int]
    PROFILEPICTURE_FIELD_NUMBER: _ClassVar[int]
    LASTPROFILEUPDATESECONDS_FIELD_NUMBER: _ClassVar[int]
    displayName: str
    profilePicture: str
    lastProfileUpdateSeconds: int
    def __init__(self, displayName: _Optional[str] = ..., profilePicture: _Optional[str] = ..., lastProfileUpdateSeconds: _Optional[int] = ...) -> None: ...

class DataMessage(_message.Message):
    __slots__ = ("body", "attachments", "flags", "expireTimer", "profileKey", "timestamp", "quote", "preview", "reaction", "profile", "communityInvitation", "syncTarget", "blocksCommunityMessageRequests", "groupUpdateMessage")
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
    class Quote(_message.Message):
        __slots__ = ("id", "author")
        ID_FIELD_NUMBER: _ClassVar[int]
        AUTHOR_FIELD_NUMBER: _ClassVar[int]
        id: int
        author: str
        def __init__(self, id: _Optional[int] = ..., author: _Optional[str] = ...) -> None: ...
    class Preview(_message.Message):
        __slots__ = ("url", "title", "image")
        URL_FIELD_NUMBER: _ClassVar[int]
        TITLE_FIELD_NUMBER: _ClassVar[int]
        IMAGE_FIELD_NUMBER: _ClassVar[int]
        url: str
        title: str
        image: AttachmentPointer
        def __init__(self, url: _Optional[str] = ..., title: _Optional[str] = ..., image: _Optional[_Union[AttachmentPointer, _Mapping]] = ...) -> None: ...
    class Reaction(_message.Message):
        __slots__ = ("id", "author", "emoji", "action")
        class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            REACT: _ClassVar[DataMessage.Reaction.Action]
            REMOVE: _ClassVar[DataMessage.Reaction.Action]
        REACT: DataMessage.Reaction.Action
        REMOVE: DataMessage.Reaction.Action
        ID_FIELD_NUMBER: _ClassVar[int]
        AUTHOR_FIELD_NUMBER: _ClassVar[int]
        EMOJI_FIELD_NUMBER: _ClassVar[int]
        ACTION_FIELD_NUMBER: _ClassVar[int]
        id: int
        author: str
        emoji: str
        action: DataMessage.Reaction.Action
        def __init__(self, id: _Optional[int] = ..., author: _Optional[str] = ..., emoji: _Optional[str] = ..., action: _Optional[_Union[DataMessage.Reaction.Action, str]] = ...) -> None: ...
    class CommunityInvitation(_message.Message):
        __slots__ = ("url", "name")
        URL_FIELD_NUMBER: _ClassVar[int]
        NAME_FIELD_NUMBER: _ClassVar[int]
        url: str
        name: str
        def __init__(self, url: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...
    BODY_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    EXPIRETIMER_FIELD_NUMBER: _ClassVar[int]
    PROFILEKEY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    COMMUNITYINVITATION_FIELD_NUMBER: _ClassVar[int]
    SYNCTARGET_FIELD_NUMBER: _ClassVar[int]
    BLOCKSCOMMUNITYMESSAGEREQUESTS_FIELD_NUMBER: _ClassVar[int]
    GROUPUPDATEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    body: str
    attachments: _containers.RepeatedCompositeFieldContainer[AttachmentPointer]
    flags: int
    expireTimer: int
    profileKey: bytes
    timestamp: int
    quote: DataMessage.Quote
    preview: _containers.RepeatedCompositeFieldContainer[DataMessage.Preview]
    reaction: DataMessage.Reaction
    profile: LokiProfile
    communityInvitation: DataMessage.CommunityInvitation
    syncTarget: str
    blocksCommunityMessageRequests: bool
    groupUpdateMessage: GroupUpdateMessage
    def __init__(self, body: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[AttachmentPointer, _Mapping]]] = ..., flags: _Optional[int] = ..., expireTimer: _Optional[int] = ..., profileKey: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., quote: _Optional[_Union[DataMessage.Quote, _Mapping]] = ..., preview: _Optional[_Iterable[_Union[DataMessage.Preview, _Mapping]]] = ..., reaction: _Optional[_Union[DataMessage.Reaction, _Mapping]] = ..., profile: _Optional[_Union[LokiProfile, _Mapping]] = ..., communityInvitation: _Optional[_Union[DataMessage.CommunityInvitation, _Mapping]] = ..., syncTarget: _Optional[str] = ..., blocksCommunityMessageRequests: _Optional[bool] = ..., groupUpdateMessage: _Optional[_Union[GroupUpdateMessage, _Mapping]] = ...) -> None: ...

class GroupUpdateMessage(_message.Message):
    __slots__ = ("inviteMessage", "inviteResponse")
    INVITEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    INVITERESPONSE_FIELD_NUMBER: _ClassVar[int]
    inviteMessage: GroupUpdateInviteMessage
    inviteResponse: GroupUpdateInviteResponseMessage
    def __init__(self, inviteMessage: _Optional[_Union[GroupUpdateInviteMessage, _Mapping]] = ..., inviteResponse: _Optional[_Union[GroupUpdateInviteResponseMessage, _Mapping]] = ...) -> None: ...

class GroupUpdateInviteMessage(_message.Message):
    __slots__ = ("groupSessionId", "name", "memberAuthData", "adminSignature")
    GROUPSESSIONID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERAUTHDATA_FIELD_NUMBER: _ClassVar[int]
    ADMINSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    groupSessionId: str
    name: str
    memberAuthData: bytes
    adminSignature: bytes
    def __init__(self, groupSessionId: _Optional[str] = ..., name: _Optional[str] = ..., memberAuthData: _Optional[bytes] = ..., adminSignature: _Optional[bytes] = ...) -> None: ...

class GroupUpdateInviteResponseMessage(_message.Message):
    __slots__ = ("isApproved",)
    ISAPPROVED_FIELD_NUMBER: _ClassVar[int]
    isApproved: bool
    def __init__(self, isApproved: _Optional[bool] = ...) -> None: ...

class AttachmentPointer(_message.Message):
    __slots__ = ("deprecated_id", "contentType", "key", "size", "digest", "fileName", "flags", "width", "height", "caption", "url")
    class Flags(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        VOICE_MESSAGE: _ClassVar[AttachmentPointer.Flags]
    VOICE_MESSAGE: AttachmentPointer.Flags
    DEPRECATED_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENTTYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    deprecated_id: int
    contentType: str
    key: bytes
    size: int
    digest: bytes
    fileName: str
    flags: int
    width: int
    height: int
    caption: str
    url: str
    def __init__(self, deprecated_id: _Optional[int] = ..., contentType: _Optional[str] = ..., key: _Optional[bytes] = ..., size: _Optional[int] = ..., digest: _Optional[bytes] = ..., fileName: _Optional[str] = ..., flags: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., caption: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class ProProof(_message.Message):
    __slots__ = ("version", "genIndexHash", "rotatingPublicKey", "expireAtMs", "sig")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GENINDEXHASH_FIELD_NUMBER: _ClassVar[int]
    ROTATINGPUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    EXPIREATMS_FIELD_NUMBER: _ClassVar[int]
    SIG_FIELD_NUMBER: _ClassVar[int]
    version: int
    genIndexHash: bytes
    rotatingPublicKey: bytes
    expireAtMs: int
    sig: bytes
    def __init__(self, version: _Optional[int] = ..., genIndexHash: _Optional[bytes] = ..., rotatingPublicKey: _Optional[bytes] = ..., expireAtMs: _Optional[int] = ..., sig: _Optional[bytes] = ...) -> None: ...

class ProMessage(_message.Message):
    __slots__ = ("proof", "profileBitset", "messageBitset")
    PROOF_FIELD_NUMBER: _ClassVar[int]
    PROFILEBITSET_FIELD_NUMBER: _ClassVar[int]
    MESSAGEBITSET_FIELD_NUMBER: _ClassVar[int]
    proof: ProProof
    profileBitset: int
    messageBitset: int
    def __init__(self, proof: _Optional[_Union[ProProof, _Mapping]] = ..., profileBitset: _Optional[int] = ..., messageBitset: _Optional[int] = ...) -> None: ...

class SealedMessage(_message.Message):
    __slots__ = ("kind", "source", "sourceEd25519", "signature", "payload", "timestamp", "modes")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNKNOWN: _ClassVar[SealedMessage.Kind]
        FRIEND_REQUEST: _ClassVar[SealedMessage.Kind]
        SIGNAL: _ClassVar[SealedMessage.Kind]
    KIND_UNKNOWN: SealedMessage.Kind
    FRIEND_REQUEST: SealedMessage.Kind
    SIGNAL: SealedMessage.Kind
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MODE_UNKNOWN: _ClassVar[SealedMessage.Mode]
        MODE_RATCHET: _ClassVar[SealedMessage.Mode]
        MODE_SESSION_PROTOCOL: _ClassVar[SealedMessage.Mode]
    MODE_UNKNOWN: SealedMessage.Mode
    MODE_RATCHET: SealedMessage.Mode
    MODE_SESSION_PROTOCOL: SealedMessage.Mode
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCEED25519_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MODES_FIELD_NUMBER: _ClassVar[int]
    kind: SealedMessage.Kind
    source: str
    sourceEd25519: bytes
    signature: bytes
    payload: bytes
    timestamp: int
    modes: _containers.RepeatedScalarFieldContainer[SealedMessage.Mode]
    def __init__(self, kind: _Optional[_Union[SealedMessage.Kind, str]] = ..., source: _Optional[str] = ..., sourceEd25519: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., modes: _Optional[_Iterable[_Union[SealedMessage.Mode, str]]] = ...) -> None: ...

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
