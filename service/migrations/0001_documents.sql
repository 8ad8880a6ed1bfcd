-- Documents, partitioned by tenant hash: every lookup carries tenant_id, so the
-- primary key (tenant_id, id) also enforces tenant isolation at the storage level.
CREATE TABLE documents (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    version      bigint      NOT NULL,
    title        text        NOT NULL,
    body         text        NOT NULL,
    tags         text[]      NOT NULL DEFAULT '{}',
    status       text        NOT NULL,
    subject_id   text,
    metadata     jsonb       NOT NULL DEFAULT '{}',
    published_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
) PARTITION BY HASH (tenant_id);

CREATE TABLE documents_p0 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE documents_p1 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE documents_p2 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE documents_p3 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE documents_p4 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE documents_p5 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE documents_p6 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE documents_p7 PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER 7);

CREATE INDEX documents_tenant_status_created ON documents (tenant_id, status, created_at);
CREATE INDEX documents_tenant_subject ON documents (tenant_id, subject_id)
    WHERE subject_id IS NOT NULL;
