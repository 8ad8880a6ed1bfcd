-- Audit rows say which request they belong to and how it ended.
ALTER TABLE audit_log
    ADD COLUMN request_id text,
    ADD COLUMN outcome    text NOT NULL DEFAULT 'ok';
CREATE INDEX audit_log_tenant_id_desc ON audit_log (tenant_id, id DESC);

-- No personal data in the audit trail: erasure rows written before this migration kept
-- the subject id in clear; keep only its SHA-256 (the trigger below comes after).
UPDATE audit_log
   SET detail = (detail - 'subject')
       || jsonb_build_object('subject_sha256', encode(sha256(convert_to(detail->>'subject', 'UTF8')), 'hex'))
 WHERE detail ? 'subject';

-- Append-only for real: UPDATE, DELETE and TRUNCATE are refused whoever asks
-- (dropping the whole schema, as the tests' namespaces do, still works).
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- A tenant's retention period: documents created longer ago are deleted by the
-- retention job (service.retention). No row: SERVICE_RETENTION_DEFAULT_DAYS applies.
CREATE TABLE tenant_retention (
    tenant_id      text        PRIMARY KEY,
    retention_days integer     CHECK (retention_days IS NULL OR retention_days > 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_created_at ON documents (created_at);

-- API key rotation: the old key keeps working until expires_at, beside the new one.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
