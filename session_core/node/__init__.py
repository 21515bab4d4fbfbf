"""The service node: storage RPC, message store, replication, onion relaying, storage tests."""
