"""What nodes, the devnet and clients share about the chain the service-node list comes
from: the list's entries (``service_nodes``), signed registrations (``registration``) and
storage-test reports (``reports``), and the JSON-RPC client (``client``)."""

from session_core.chain.client import ChainClient
from session_core.chain.registration import Registration
from session_core.chain.reports import sign_report
from session_core.chain.service_nodes import SnodeInfo, parse_service_nodes_result, service_nodes_result

__all__ = [
    "ChainClient",
    "Registration",
    "SnodeInfo",
    "parse_service_nodes_result",
    "service_nodes_result",
    "sign_report",
]
