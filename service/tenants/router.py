from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response

from service.dependencies import RuntimeDep
from service.documents.schemas import SubjectId
from service.tenants import service
from service.tenants.dependencies import AdminDep
from service.tenants.schemas import (
    TENANT_PATTERN,
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyRotated,
    ApiKeyRotateIn,
    ErasureReport,
)

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])
TenantPath = Annotated[str, Path(max_length=63, pattern=TENANT_PATTERN)]


@router.post("/{tenant}/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    tenant: TenantPath, body: ApiKeyIn, principal: AdminDep, runtime: RuntimeDep
) -> ApiKeyCreated:
    """A new key for the caller's tenant; the key is shown once, only its hash is kept."""
    service.ensure_own_tenant(principal, tenant)
    return await service.create_api_key(runtime, principal, body.role)


@router.delete("/{tenant}/api-keys/{key_id}", status_code=204)
async def revoke_api_key(
    tenant: TenantPath, key_id: UUID, principal: AdminDep, runtime: RuntimeDep
) -> Response:
    service.ensure_own_tenant(principal, tenant)
    await service.revoke_api_key(runtime, principal, key_id)
    return Response(status_code=204)


@router.post("/{tenant}/api-keys/{key_id}/rotate", status_code=201, response_model=ApiKeyRotated)
async def rotate_api_key(
    tenant: TenantPath,
    key_id: UUID,
    body: ApiKeyRotateIn,
    principal: AdminDep,
    runtime: RuntimeDep,
) -> ApiKeyRotated:
    """A new key with the same role; the old one keeps working for ``overlap_s`` seconds."""
    service.ensure_own_tenant(principal, tenant)
    return await service.rotate_api_key(runtime, principal, key_id, body.overlap_s)


@router.delete("/{tenant}/subjects/{subject}", response_model=ErasureReport)
async def erase_subject(
    tenant: TenantPath,
    subject: Annotated[SubjectId, Path()],
    principal: AdminDep,
    runtime: RuntimeDep,
) -> ErasureReport:
    """Right to erasure: the subject's documents leave PostgreSQL, OpenSearch and caches."""
    service.ensure_own_tenant(principal, tenant)
    return await service.erase_subject(runtime, principal, subject)
