from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.validation import StorableText, Timestamp

MAX_QUERY_CHARS = 512
MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window
SOURCE_FIELDS = (
    "title",
    "body",
    "tags",
    "status",
    "subject_id",
    "metadata",
    "published_at",
    "created_at",
    "updated_at",
    "version",
)


class SearchParams(BaseModel):
    """``GET /v1/search`` query parameters; unknown ones are rejected."""

    model_config = ConfigDict(extra="forbid")

    q: Annotated[StorableText, Field(max_length=MAX_QUERY_CHARS)] = ""
    tags: list[Annotated[StorableText, Field(min_length=1, max_length=64)]] = Field(
        default=[], max_length=32
    )
    status: Literal["draft", "published", "archived"] | None = None
    from_date: Timestamp | None = None
    to_date: Timestamp | None = None
    page: int = Field(default=1, ge=1, le=1000)
    size: int = Field(default=10, ge=1, le=100)
    fields: Annotated[str, Field(max_length=512)] = ""
    highlight: bool = False

    @field_validator("tags")
    @classmethod
    def _split_commas(cls, tags: list[str]) -> list[str]:
        out = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
        if len(out) > 32:
            raise ValueError("at most 32 tags")
        return sorted(set(out))

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        names = [f.strip() for f in value.split(",") if f.strip()]
        unknown = [n for n in names if n not in SOURCE_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; expected any of {', '.join(SOURCE_FIELDS)}"
            )
        return ",".join(sorted(set(names)))

    @model_validator(mode="after")
    def _window(self) -> SearchParams:
        if self.page * self.size > MAX_RESULT_WINDOW:
            raise ValueError(f"page * size must be at most {MAX_RESULT_WINDOW}")
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError("from_date must not be after to_date")
        return self

    @property
    def field_list(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields.split(",") if f)


class AutocompleteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: Annotated[StorableText, Field(min_length=1, max_length=100)]
    size: int = Field(default=10, ge=1, le=10)


class Hit(BaseModel):
    id: str
    score: float | None
    source: dict[str, Any]
    highlight: dict[str, list[str]] | None = None


class SearchResponse(BaseModel):
    hits: list[Hit]
    total: int
    took_ms: int
    page: int
    size: int
    source: Literal["engine", "cache"]
    degraded: Literal["stale-cache"] | None = None  # OpenSearch failed: last good result
    stale_age_s: float | None = None


class AutocompleteResponse(BaseModel):
    prefix: str
    suggestions: list[str]
