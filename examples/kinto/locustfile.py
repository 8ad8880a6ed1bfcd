"""Load for Kinto: ordinary Locust user classes that create, read and list records
through Kinto's HTTP API. Every record Kinto acknowledges (201) goes to gameday's
write ledger, so a chaos run can reconcile it afterwards (RPO).

Under `gameday run --profile examples/kinto/profile.yaml` the plugin adds the profile's
Authorization header to every request; in a plain `locust` run this file reads it from
KINTO_TOKEN itself (base64 of user:password, `kintoctl.py token`), and the ledger call
does nothing.

    locust -f examples/kinto/locustfile.py --host http://127.0.0.1:28888 \\
        --headless -u 5 -r 5 -t 20s
"""

from __future__ import annotations

import os
import random
import threading
from collections import deque
from typing import Any

from locust import HttpUser, between, task

from gameday import ledger

BUCKET = "gameday-load"
COLLECTION = "items"
RECORDS = f"/v1/buckets/{BUCKET}/collections/{COLLECTION}/records"

# Request names: the report (and the SLO file's endpoints) calls each "METHOD name",
# e.g. "POST /records", "GET /records/{id}".
CREATE = "/records"
READ = "/records/{id}"
LIST = "/records"

# Ids of acknowledged records, shared by the users of one Locust process (bounded).
_known_ids: deque[str] = deque(maxlen=2000)
_collection_ready = threading.Event()
_collection_lock = threading.Lock()  # gevent's under Locust: one user sets it up


class _KintoUser(HttpUser):
    abstract = True
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        token = os.environ.get("KINTO_TOKEN")
        if token and "Authorization" not in self.client.headers:
            self.client.headers["Authorization"] = f"Basic {token}"
        if not _collection_ready.is_set():
            self._ensure_collection()

    def _ensure_collection(self) -> None:
        # PUT is idempotent: the bucket and its collection exist after the first user.
        # Then one read, before any other user's: Kinto makes a collection's timestamp on
        # its first access, and two first accesses at once raced (a 500, TypeError in
        # _add_timestamp_header: the timestamp was None) in CI.
        with _collection_lock:
            if _collection_ready.is_set():
                return
            bucket = self.client.put(f"/v1/buckets/{BUCKET}", json={"data": {}}, name="/bucket")
            collection = self.client.put(
                f"/v1/buckets/{BUCKET}/collections/{COLLECTION}",
                json={"data": {}},
                name="/collection",
            )
            if bucket.ok and collection.ok and self.list_records().ok:
                _collection_ready.set()

    def read_one(self) -> None:
        if not _known_ids:
            self.list_records()
            return
        record_id = random.choice(_known_ids)
        self.client.get(f"{RECORDS}/{record_id}", name=READ)

    def list_records(self) -> Any:
        response = self.client.get(
            RECORDS, params={"_limit": 20, "_sort": "-last_modified"}, name=LIST
        )
        if response.ok:
            _known_ids.extend(r["id"] for r in response.json().get("data", []))
        return response


class RecordWriter(_KintoUser):
    """Creates records (each acknowledged one goes to the ledger) and reads them back."""

    @task(3)
    def create_record(self) -> None:
        if not _collection_ready.is_set():
            self._ensure_collection()
        payload = {"data": {"title": f"item {random.randrange(10**9)}", "size": random.random()}}
        response = self.client.post(RECORDS, json=payload, name=CREATE)
        if response.status_code == 201:
            record = response.json()["data"]
            # Kinto's version of a record is its last_modified timestamp (ms).
            ledger.acknowledged(
                id=record["id"],
                version=int(record["last_modified"]),
                tenant=BUCKET,
                op="create",
            )
            _known_ids.append(record["id"])

    @task(1)
    def read_record(self) -> None:
        self.read_one()


class RecordBrowser(_KintoUser):
    """Lists the newest records and reads single ones."""

    @task(2)
    def list_newest(self) -> None:
        self.list_records()

    @task(3)
    def read_record(self) -> None:
        self.read_one()
