-- Audit trail of writes and authentication failures.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    tenant_id   text,
    actor       text,
    action      text        NOT NULL,
    document_id uuid,
    detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

-- API keys are stored as SHA-256 of a 256-bit random secret; several may be
-- active per tenant so that they can be rotated.
CREATE TABLE api_keys (
    id         uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    role       text        NOT NULL,
    key_hash   text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
