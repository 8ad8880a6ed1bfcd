"""Documents: writes through the transactional outbox, reads from PostgreSQL."""
