"""Human-readable names for Session IDs (whitepaper 6.5; oxen-core's name service), sans-IO:
names and their hashes (``name``), the encrypted value (``value``), the Merkle tree over live
names (``merkle``), records and block headers (``records``), signed operations (``ops``) and
the checks a resolver applies to nodes' answers (``answer``, with proofs of absence in
``absence``)."""

from session_core.names.absence import absence_proof, verify_absence
from session_core.names.answer import ProvenAbsent, ProvenName, VerifiedAnswer, agree, verify_answer
from session_core.names.merkle import EMPTY_ROOT, InclusionProof, MerkleTree, merkle_root, verify_inclusion
from session_core.names.name import MAX_NAME_LENGTH, name_hash, name_hash_b64, normalize_name, parse_name_hash_b64
from session_core.names.ops import NameOp, parse_signed_op
from session_core.names.records import BlockHeader, NameRecord, check_header_chain
from session_core.names.value import decrypt_value, encrypt_value, encrypt_value_legacy, value_key

__all__ = [
    "BlockHeader", "EMPTY_ROOT", "absence_proof", "verify_absence", "InclusionProof", "MAX_NAME_LENGTH", "MerkleTree", "NameOp",
    "NameRecord", "ProvenAbsent", "ProvenName", "VerifiedAnswer", "agree", "check_header_chain", "decrypt_value", "encrypt_value",
    "encrypt_value_legacy", "merkle_root", "name_hash", "name_hash_b64", "normalize_name", "parse_name_hash_b64",
    "parse_signed_op", "value_key", "verify_answer", "verify_inclusion",
]
