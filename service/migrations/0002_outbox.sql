-- Transactional outbox: written in the same transaction as the document, deleted
-- by the relay once RabbitMQ has confirmed the message.
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    tenant_id  text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
