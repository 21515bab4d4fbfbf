"""Counters a node reports on ``/status`` (each part of the node counts its own)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NodeStats:
    stored: int = 0  # client stores committed here
    replicated_in: int = 0  # records taken from peers (replication, pushes, catch-up)
    tests_passed: int = 0  # storage tests this node ran ...
    tests_failed: int = 0
    tests_answered: int = 0  # ... and answered
    onion_requests: int = 0  # handled by Python (the relay engine counts its own)
