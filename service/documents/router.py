from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from service.dependencies import RuntimeDep
from service.documents import service
from service.documents.schemas import (
    BulkAccepted,
    BulkIn,
    DocumentIn,
    DocumentOut,
    DocumentPatch,
    WriteAccepted,
)
from service.tenants.dependencies import ReaderDep, WriterDep

router = APIRouter(prefix="/v1/documents", tags=["documents"])


@router.post("", status_code=202, response_model=WriteAccepted)
async def create_document(
    doc: DocumentIn, principal: WriterDep, runtime: RuntimeDep
) -> WriteAccepted:
    """Stores the document; it becomes searchable once the indexer has it (``indexed: false``)."""
    (accepted,) = await service.create_documents(runtime, principal, [doc])
    return accepted


@router.post("/_bulk", status_code=202, response_model=BulkAccepted)
async def bulk_create(bulk: BulkIn, principal: WriterDep, runtime: RuntimeDep) -> BulkAccepted:
    """Up to 500 documents in one transaction and one confirm batch."""
    items = await service.create_documents(runtime, principal, bulk.documents)
    return BulkAccepted(count=len(items), items=items)


@router.get("/{doc_id}", response_model=DocumentOut)
async def get_document(doc_id: UUID, principal: ReaderDep, runtime: RuntimeDep) -> DocumentOut:
    return await service.get_document(runtime, principal, doc_id)


@router.put("/{doc_id}", status_code=202, response_model=WriteAccepted)
async def replace_document(
    doc_id: UUID, doc: DocumentIn, principal: WriterDep, runtime: RuntimeDep
) -> WriteAccepted:
    return await service.update_document(runtime, principal, doc_id, doc)


@router.patch("/{doc_id}", status_code=202, response_model=WriteAccepted)
async def patch_document(
    doc_id: UUID, patch: DocumentPatch, principal: WriterDep, runtime: RuntimeDep
) -> WriteAccepted:
    return await service.update_document(runtime, principal, doc_id, patch)


@router.delete("/{doc_id}", status_code=202, response_model=WriteAccepted)
async def delete_document(doc_id: UUID, principal: WriterDep, runtime: RuntimeDep) -> WriteAccepted:
    return await service.delete_document(runtime, principal, doc_id)
