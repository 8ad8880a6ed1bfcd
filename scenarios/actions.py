"""One request each: what the reference service's users do, in either model (the
plugin runs one per arrival in the open model and counts its latency from the
arrival's intended start).

Every call sends a request id (X-Request-ID, and the request context's `request_id`,
which the plugin's exemplars name). Acknowledged writes go to the write ledger
(`gameday.ledger`); updates and deletes are tracked from send to answer.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import gameday.ledger
from gameday.corpus import Vocabulary

# Request names; the capture plugin prefixes the method: "GET /v1/search".
SEARCH = "/v1/search"
AUTOCOMPLETE = "/v1/autocomplete"
GET_DOC = "/v1/documents/{id}"
CREATE = "/v1/documents"
UPDATE = "/v1/documents/{id}"
DELETE = "/v1/documents/{id}"
BULK = "/v1/documents/_bulk"
ABUSE_SEARCH = "abuse:/v1/search"  # the noisy neighbour's searches, kept apart in the stats
STATUSES = ("published", "published", "published", "draft", "archived")
# The noisy_neighbour mix's abusive tenant: only the Abuser sends as it, and the stack
# gives it a small quota (the service's settings name it too).
NOISY_TENANT = "tenant-noisy"
ZERO_HIT_SHARE = 0.05  # searches for a word no document has
VOCABULARY_SIZE = 5000  # as `gameday seed` writes


@dataclass
class Actor:
    """Per-user (or per-arrival stream) state: tenant, token, known ids, rng."""

    vocabulary: Vocabulary
    rng: random.Random
    tenant: str
    token: str
    noisy_token: str | None = None  # the abusive tenant's, when the run has one
    known_ids: list[str] = field(default_factory=list)

    def headers(self, request_id: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Request-ID": request_id,
            "X-Synthetic": "gameday",
        }

    def remember(self, doc_id: str) -> None:
        if doc_id in self.known_ids:  # an update: once only, or a delete leaves a copy behind
            return
        self.known_ids.append(doc_id)
        if len(self.known_ids) > 500:
            del self.known_ids[: len(self.known_ids) - 500]

    def forget(self, doc_id: str) -> None:
        if doc_id in self.known_ids:
            self.known_ids.remove(doc_id)


def _context() -> tuple[str, dict[str, Any]]:
    request_id = uuid.uuid4().hex
    return request_id, {"request_id": request_id}


def search(client: Any, actor: Actor) -> None:
    rng = actor.rng
    if rng.random() < ZERO_HIT_SHARE:
        words = [actor.vocabulary.unknown_word(rng)]
    else:
        words = actor.vocabulary.sample(rng, k=rng.choice((1, 1, 2)))
    params = [f"q={'+'.join(words)}"]
    if rng.random() < 0.2:
        params.append(f"status={rng.choice(STATUSES)}")
    if rng.random() < 0.15:
        params.append(f"page={rng.randint(2, 4)}")
    request_id, context = _context()
    with client.get(
        f"/v1/search?{'&'.join(params)}",
        name=SEARCH,
        headers=actor.headers(request_id),
        context=context,
        catch_response=True,
    ) as response:
        if response.status_code == 200:
            for hit in (response.json().get("hits") or [])[:3]:
                actor.remember(str(hit["id"]))
            response.success()
        else:
            response.failure(f"HTTP {response.status_code}")


def autocomplete(client: Any, actor: Actor, typed: int = 0) -> None:
    word = actor.vocabulary.sample(actor.rng)[0]
    prefix = word[: max(2, typed or actor.rng.randint(2, len(word)))]
    request_id, context = _context()
    client.get(
        f"/v1/autocomplete?prefix={prefix}",
        name=AUTOCOMPLETE,
        headers=actor.headers(request_id),
        context=context,
    )


def get_document(client: Any, actor: Actor) -> None:
    if not actor.known_ids:
        search(client, actor)
        return
    doc_id = actor.rng.choice(actor.known_ids)
    request_id, context = _context()
    with client.get(
        f"/v1/documents/{doc_id}",
        name=GET_DOC,
        headers=actor.headers(request_id),
        context=context,
        catch_response=True,
    ) as response:
        if response.status_code == 404:
            actor.forget(doc_id)  # deleted meanwhile: stop asking for it
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code}")


def make_document(actor: Actor) -> dict[str, Any]:
    rng = actor.rng
    vocab = actor.vocabulary
    return {
        "title": " ".join(vocab.sample(rng, k=rng.randint(3, 7))).capitalize(),
        "body": " ".join(vocab.sample(rng, k=rng.randint(40, 120))),
        "tags": vocab.sample(rng, k=rng.randint(0, 3)),
        "status": rng.choice(STATUSES),
        "metadata": {"source": "gameday-load"},
    }


def _write(
    client: Any,
    actor: Actor,
    method: str,
    path: str,
    name: str,
    op: str,
    body: dict[str, Any] | None,
) -> None:
    request_id, context = _context()
    if op in ("update", "delete"):  # until answered, its outcome is unknown
        gameday.ledger.sent(
            id=path.rsplit("/", 1)[1], op=op, tenant=actor.tenant, request_id=request_id
        )
    with client.request(
        method,
        path,
        name=name,
        json=body,
        headers=actor.headers(request_id),
        context=context,
        catch_response=True,
    ) as response:
        # Answered: a user stopped mid-request never gets here, and its write stays unconfirmed
        gameday.ledger.answered(request_id)
        if response.status_code in (200, 201, 202):
            accepted = response.json()
            items = accepted.get("items") if op == "bulk_create" else [accepted]
            for item in items or []:
                gameday.ledger.acknowledged(
                    id=str(item["id"]),
                    version=int(item["version"]),
                    tenant=actor.tenant,
                    op=op,
                    request_id=request_id,
                )
                if op != "delete":
                    actor.remember(str(item["id"]))
            if op == "delete":
                actor.forget(path.rsplit("/", 1)[1])
            response.success()
        else:
            if response.status_code == 404 and op in ("update", "delete"):
                actor.forget(path.rsplit("/", 1)[1])  # deleted by a concurrent arrival
            # Any non-2xx is a failure of its kind (a 404 from a raced delete is a
            # 4xx): the ledger then holds exactly the successful writes.
            response.failure(f"HTTP {response.status_code}")


def write(client: Any, actor: Actor) -> None:
    """Creates most of the time; updates, deletes and bulk writes otherwise."""
    roll = actor.rng.random()
    if roll < 0.6 or not actor.known_ids:
        _write(client, actor, "POST", "/v1/documents", CREATE, "create", make_document(actor))
    elif roll < 0.85:
        doc_id = actor.rng.choice(actor.known_ids)
        _write(
            client,
            actor,
            "PUT",
            f"/v1/documents/{doc_id}",
            UPDATE,
            "update",
            make_document(actor),
        )
    elif roll < 0.95:
        doc_id = actor.rng.choice(actor.known_ids)
        _write(client, actor, "DELETE", f"/v1/documents/{doc_id}", DELETE, "delete", None)
    else:
        docs = [make_document(actor) for _ in range(20)]
        _write(
            client,
            actor,
            "POST",
            "/v1/documents/_bulk",
            BULK,
            "bulk_create",
            {"documents": docs},
        )


def abuse_search(client: Any, actor: Actor) -> None:
    """A search as the abusive tenant (whoever the actor is): its 429s are the point,
    recorded as 4xx failures under their own name, never mixed into the others'."""
    token = actor.noisy_token
    if token is None:
        raise RuntimeError(f"no token for {NOISY_TENANT}: run the noisy_neighbour scenario")
    request_id, context = _context()
    word = actor.vocabulary.sample(actor.rng)[0]
    with client.get(
        f"/v1/search?q={word}",
        name=ABUSE_SEARCH,
        headers={**actor.headers(request_id), "Authorization": f"Bearer {token}"},
        context=context,
        catch_response=True,
    ) as response:
        if response.status_code == 200:
            response.success()
        else:
            response.failure(f"HTTP {response.status_code}")
