"""The devnet: a local chain (service-node list, blocks, swarms, storage-test reports) and a launcher."""
