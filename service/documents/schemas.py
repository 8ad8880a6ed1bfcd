from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from service.validation import Int64, StorableText, Timestamp

MAX_BODY_CHARS = 1024 * 1024
Status = Literal["draft", "published", "archived"]
Tag = Annotated[StorableText, Field(min_length=1, max_length=64, pattern=r"^[^\s,]+$")]
SubjectId = Annotated[
    StorableText, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
]
MetaKey = Annotated[StorableText, Field(min_length=1, max_length=64)]


def _int64_only(value: object) -> object:
    # Without this an out-of-range integer would quietly become a float and lose digits.
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError("integers must fit in 64 bits")
    return value


MetaValue = Annotated[
    Annotated[StorableText, Field(max_length=1024)] | Int64 | float | bool | None,
    BeforeValidator(_int64_only),
]
Title = Annotated[StorableText, Field(min_length=1, max_length=1000)]
Body = Annotated[StorableText, Field(max_length=MAX_BODY_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DocumentIn(_Strict):
    """A new document (POST) or a full replacement (PUT)."""

    title: Title
    body: Body = ""
    tags: Annotated[list[Tag], Field(max_length=32)] = []
    status: Status = "published"
    subject_id: SubjectId | None = None
    metadata: Annotated[dict[MetaKey, MetaValue], Field(max_length=32)] = {}
    published_at: Timestamp | None = None


class DocumentPatch(_Strict):
    """Only the fields sent change; ``subject_id`` and ``published_at`` may be set to null."""

    title: Title | None = None
    body: Body | None = None
    tags: Annotated[list[Tag], Field(max_length=32)] | None = None
    status: Status | None = None
    subject_id: SubjectId | None = None
    metadata: Annotated[dict[MetaKey, MetaValue], Field(max_length=32)] | None = None
    published_at: Timestamp | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> DocumentPatch:
        for name in ("title", "body", "tags", "status", "metadata"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self


class BulkIn(_Strict):
    documents: Annotated[list[DocumentIn], Field(min_length=1, max_length=500)]


class WriteAccepted(BaseModel):
    id: UUID
    version: int
    indexed: bool = False


class BulkAccepted(BaseModel):
    count: int
    items: list[WriteAccepted]


class DocumentOut(BaseModel):
    id: UUID
    version: int
    title: str
    body: str
    tags: list[str]
    status: Status
    subject_id: str | None
    metadata: dict[str, str | int | float | bool | None]
    published_at: datetime
    created_at: datetime
    updated_at: datetime
