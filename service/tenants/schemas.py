from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    READ_ONLY = "read-only"


WRITERS = frozenset({Role.ADMIN, Role.USER})
ADMINS = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant always comes from here, never from the request."""

    subject: str
    tenant: str
    role: Role
    via: str  # "jwt" or "api-key"


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Role.USER


class ApiKeyCreated(BaseModel):
    id: UUID
    tenant: str
    role: Role
    key: str  # shown once; only its hash is stored
    created_at: datetime


class ApiKeyRotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_s: int = Field(default=3600, ge=0, le=7 * 24 * 3600)  # the old key's remaining life


class ApiKeyRotated(ApiKeyCreated):
    previous_id: UUID
    previous_expires_at: datetime  # the old key is refused from then on


class ErasureReport(BaseModel):
    tenant: str
    subject: str
    postgres_deleted: int
    opensearch_deleted: int
    cache_generation: int
