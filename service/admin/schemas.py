from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class AuditEntry(BaseModel):
    id: int
    at: datetime
    tenant_id: str | None
    actor: str | None
    action: str
    outcome: str
    request_id: str | None
    document_id: UUID | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before: int | None  # pass as ?before= for the next (older) page; null: the last


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_days: int | None = Field(ge=1, le=36500)  # null: keep forever


class RetentionOut(BaseModel):
    tenant: str
    retention_days: int | None
    source: str  # "tenant" (set here) or "default" (SERVICE_RETENTION_DEFAULT_DAYS)


class RetentionRun(BaseModel):
    tenant: str
    skipped: bool  # another worker's round held the lock
    retention_days: int | None
    postgres_deleted: int
    opensearch_deleted: int
