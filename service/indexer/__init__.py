"""The indexer: RabbitMQ -> OpenSearch bulk, idempotent by (id, version)."""
