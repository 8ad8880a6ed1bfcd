"""How acknowledged writes are reconciled for RPO (optional): an entry point given
the ledger that returns the missing ids, or an HTTP GET per id (2xx: present).

    ledger:
      entry_point: mypackage.reconcile:missing_ids
    # or
    ledger:
      http_get: http://127.0.0.1:8080/items/{id}
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from gameday.target._types import EntryPoint, Strict


class Ledger(Strict):
    entry_point: EntryPoint | None = None
    http_get: str | None = Field(default=None, description="URL template with {id}")

    @field_validator("http_get")
    @classmethod
    def _template(cls, url: str | None) -> str | None:
        if url is not None:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
            if "{id}" not in url:
                raise ValueError(f"{url!r} has no {{id}} to put each write's id in")
        return url

    @model_validator(mode="after")
    def _one_way(self) -> Ledger:
        if (self.entry_point is None) == (self.http_get is None):
            raise ValueError("give exactly one of entry_point or http_get")
        return self
