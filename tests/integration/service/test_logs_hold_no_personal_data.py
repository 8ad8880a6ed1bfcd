"""Personal data never reaches the logs: requests full of emails, phone numbers and
subject ids (in bodies, query strings, the token's subject, invalid input that error
messages could echo, an erasure) leave none of them raw in the service's or the
indexer's log files, while the requests themselves are logged."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, quote_plus

from service_helpers import ServiceUnderTest, eventually, make_document

from service.settings import AuthSettings
from service.tenants.auth import issue_token


def test_emails_phones_and_subject_ids_are_never_logged_raw(
    service_under_test: ServiceUnderTest,
) -> None:
    sut = service_under_test
    run = uuid.uuid4().hex[:8]
    email = f"jane.doe.{run}@example.com"
    phone = f"+44 20 7946 {int(run[:4], 16) % 10000:04d}"
    subject = f"subj-{run}"
    tenant = f"pii-{run}"
    token = issue_token(AuthSettings(), tenant=tenant, role="admin", subject=email, ttl_s=600)
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": f"pii-{run}"}
    with sut.client() as client:
        client.headers.update(headers)
        created = client.post(
            "/v1/documents",
            json=make_document(
                title=f"call {phone} or mail {email}", body=email, subject_id=subject
            ),
        )
        assert created.status_code == 202, created.text
        doc_id = created.json()["id"]
        for q in (email, phone, f"subject_id={subject}"):
            assert client.get("/v1/search", params={"q": q}).status_code == 200
        assert client.get("/v1/autocomplete", params={"prefix": phone[:8]}).status_code == 200
        # invalid input whose error message could echo the value back into a log line
        assert client.post("/v1/documents", json={"title": email, "tags": email}).status_code == 422
        assert client.get("/v1/search", params={"q": email, "size": email}).status_code == 422
        erased = client.delete(f"/v1/tenants/{tenant}/subjects/{subject}")
        assert erased.status_code == 200, erased.text
        assert client.get(f"/v1/documents/{doc_id}").status_code == 404
    logs = [sut.logs / "service.log", sut.logs / "indexer.log"]

    def our_lines() -> list[str] | None:
        text = "\n".join(path.read_text(errors="replace") for path in logs)
        lines = [line for line in text.splitlines() if f"pii-{run}" in line]
        return lines if len(lines) >= 6 else None

    lines = eventually(our_lines, timeout_s=10)  # our requests were logged, by request id
    assert all(json.loads(line)["request_id"] == f"pii-{run}" for line in lines)
    everything = "\n".join(path.read_text(errors="replace") for path in logs)
    for raw in (email, phone, subject):
        for form in {raw, quote(raw), quote_plus(raw)}:  # URLs in access lines are encoded
            assert form not in everything, f"{form!r} is in the logs ({logs})"
