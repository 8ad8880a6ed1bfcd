"""Indexing rate, accepted to searchable, side by side: `gameday seed --docs N
--wait-indexed 5m` of each variant against its own private service and indexer.

    .venv/bin/python bench/indexing.py --rounds 3 --docs 20000 --baseline /tmp/before-idx
    .venv/bin/python bench/indexing.py --rounds 1 --variant "big=SERVICE_INDEXER_BATCH_SIZE=2000"
    .venv/bin/python bench/indexing.py --rounds 3 --direct     # + OpenSearch alone, no service

Each run starts the variant's service (2 uvicorn workers, the stack's command line)
and indexer from the variant's checkout, in a fresh namespace (PostgreSQL schema,
queue, alias: bench/_private_service.py), on the running stack's stores; seeds with
that checkout's own `gameday seed --url`; reads the namespace index's `_stats`; stops
the processes and drops the namespace. Variants alternate within a round, so each
pair shares the box's load; the ratios are of medians.

Printed per variant: documents per second accepted (bulk API) and end to end (until
search sees them all), and OpenSearch's own index time per document
(``indexing.index_time_in_millis / index_total`` of the variant's index: wall time of
the write threads, so it grows when the box is busy). ``--direct`` adds the floor:
the same corpus sent straight to OpenSearch's ``_bulk`` (the service's mapping and
bulk actions, no service, queue or indexer), documents per second and index time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# bench/service.py would shadow the `service` package with bench/ first on sys.path.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx  # noqa: E402
import orjson  # noqa: E402
from opensearchpy import OpenSearch  # noqa: E402

from bench._private_service import free_port, start_process, stop, wait_ready  # noqa: E402
from gameday.corpus import Vocabulary  # noqa: E402
from gameday.seed import SeedPlan, generate_batches, tenant_names  # noqa: E402
from gameday.settings import PROJECT_ROOT, StackSettings  # noqa: E402
from gameday.stack.service_env import service_env  # noqa: E402
from service import namespace  # noqa: E402
from service.deps.opensearch import index_template  # noqa: E402
from service.indexer.bulk import Event, bulk_lines  # noqa: E402
from service.search.query import build_autocomplete  # noqa: E402
from service.search.schemas import AutocompleteParams  # noqa: E402
from service.settings import AuthSettings, OpenSearchSettings  # noqa: E402
from service.tenants.auth import issue_token  # noqa: E402

ACCEPTED = re.compile(r"in ([\d.]+)s: (\d+) docs/s accepted")
SEARCHABLE = re.compile(r"searchable after ([\d.]+)s: (\d+) docs/s end to end")


@dataclass
class Variant:
    label: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    accepted_docs_s: float
    searchable_docs_s: float
    index_ms_per_doc: float
    node_cpu_ms_per_doc: float
    cpu_ms_per_doc: dict[str, float] = field(default_factory=dict)
    # (tenant, prefix) -> the service's suggestions, and the engine's (score, title) list
    suggestions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    scored: dict[tuple[str, str], list[tuple[float, str]]] = field(default_factory=dict)


def autocomplete_prefixes() -> list[str]:
    """A fixed set: 1 to 3 letters of the corpus's 20 commonest words, and word pairs."""
    words = Vocabulary(seed=42).words[:20]
    prefixes = {w[:n] for w in words for n in (1, 2, 3)}
    prefixes |= {f"{a} {b[:2]}" for a, b in zip(words, words[1:], strict=False)}
    return sorted(prefixes)


def collect_autocomplete(
    url: str, search: OpenSearch, alias: str, tenants: list[str]
) -> tuple[dict[tuple[str, str], list[str]], dict[tuple[str, str], list[tuple[float, str]]]]:
    """Every prefix for every tenant: the service's answer (GET /v1/autocomplete, size
    10), and the engine's hits for the service's query body with their scores."""
    suggestions: dict[tuple[str, str], list[str]] = {}
    scored: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for tenant in tenants:
        token = issue_token(AuthSettings(), tenant=tenant, role="user", ttl_s=600)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            for prefix in autocomplete_prefixes():
                for _ in range(50):  # the tenant's rate limit
                    response = client.get("/v1/autocomplete", params={"prefix": prefix})
                    if response.status_code != 429:
                        break
                    time.sleep(0.2)
                response.raise_for_status()
                suggestions[(tenant, prefix)] = response.json()["suggestions"]
                body = build_autocomplete(tenant, AutocompleteParams(prefix=prefix, size=10))
                # Equal scores come in index order, which concurrent bulks do not fix: the
                # corpus's own dates break the ties (the ids are new every seed).
                body["sort"] = [{"_score": "desc"}, {"published_at": "asc"}]
                body["track_scores"] = True
                hits = search.search(index=alias, body=body, routing=tenant)["hits"]["hits"]
                scored[(tenant, prefix)] = [
                    (round(h["_score"], 4), h["_source"]["title"]) for h in hits
                ]
    return suggestions, scored


def compare_autocomplete(a: Result, b: Result) -> tuple[int, int, int]:
    """(answers, service answers identical, engine answers identical: the same top 10
    with the same scores, ties in date order)."""
    keys = sorted(a.suggestions)
    same_api = sum(a.suggestions[k] == b.suggestions.get(k) for k in keys)
    same_ranked = sum(a.scored[k] == b.scored.get(k) for k in keys)
    return len(keys), same_api, same_ranked


def _cpu_s(match: Callable[[int, str], bool]) -> float:
    """CPU seconds (user + system) so far of the processes ``match(pgrp, comm)`` keeps."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:  # the process ended meanwhile
            continue
        fields = rest.split()
        if match(int(fields[2]), head.partition("(")[2]):  # pgrp; utime, stime at 11, 12
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stats(search: OpenSearch, index: str) -> tuple[int, int]:
    stats = search.indices.stats(index=index, metric="indexing")
    indexing = stats["_all"]["primaries"]["indexing"]
    return int(indexing["index_total"]), int(indexing["index_time_in_millis"])


def _node_cpu_ms(search: OpenSearch) -> int:
    """The OpenSearch process's CPU so far (the whole node: other agents' work too)."""
    nodes = search.nodes.stats(metric="process")["nodes"]
    return sum(int(n["process"]["cpu"]["total_in_millis"]) for n in nodes.values())


def run_seed(
    variant: Variant, stack: StackSettings, docs: int, logs: Path, *, autocomplete: bool = False
) -> Result:
    name = f"bidx{uuid.uuid4().hex[:8]}"
    metrics_dir = logs / f"metrics-{name}"  # multiprocess metrics, as the stack runs them
    metrics_dir.mkdir()
    env = {**os.environ, **service_env(stack), **namespace.namespace_env(name), **variant.env}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    port = free_port()
    log = logs / f"{variant.label}-{name}.log"
    procs: list[subprocess.Popen[bytes]] = []
    search = OpenSearch(hosts=stack.opensearch_urls, timeout=30)
    try:
        service = start_process(
            [sys.executable, "-m", "service", "--factory", "service.main:create_app"]
            + ["--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-access-log"],
            env,
            variant.root,
            log,
        )
        procs.append(service)
        wait_ready(f"http://127.0.0.1:{port}/v1/health/ready", service)
        procs.append(
            start_process([sys.executable, "-m", "service.indexer"], env, variant.root, log)
        )
        indexer = procs[-1].pid
        groups: dict[str, Callable[[int, str], bool]] = {
            "service": lambda pgrp, _: pgrp == service.pid,
            "indexer": lambda pgrp, _: pgrp == indexer,
            "postgres": lambda _, comm: comm == "postgres",
            "rabbitmq": lambda _, comm: comm in ("beam.smp", "erl_child_setup"),
        }
        before = {name: _cpu_s(match) for name, match in groups.items()}
        seed_before = _children_cpu_s()
        cpu_before = _node_cpu_ms(search)
        for _ in range(5):  # a search can fail just after start-up: nothing sent yet then
            out = subprocess.run(
                [sys.executable, "-m", "gameday.cli", "seed", "--url", f"http://127.0.0.1:{port}"]
                + ["--docs", str(docs), "--wait-indexed", "5m"],
                capture_output=True,
                text=True,
                cwd=variant.root,
                env={**env, "PYTHONPATH": str(variant.root)},
            )
            if "does not answer" not in out.stdout + out.stderr:
                break
            time.sleep(1.0)
        cpu_ms = _node_cpu_ms(search) - cpu_before
        used = {
            name: (_cpu_s(match) - before[name]) * 1000 / docs for name, match in groups.items()
        }
        used["seed client"] = (_children_cpu_s() - seed_before) * 1000 / docs
        used["opensearch"] = cpu_ms / docs
        text = out.stdout + out.stderr
        accepted, searchable = ACCEPTED.search(text), SEARCHABLE.search(text)
        if out.returncode != 0 or accepted is None or searchable is None:
            sys.exit(f"{variant.label}: seed failed (exit {out.returncode}): {text[-600:]}")
        total, time_ms = _stats(search, f"{name}-v1")
        result = Result(
            accepted_docs_s=float(accepted.group(2)),
            searchable_docs_s=float(searchable.group(2)),
            index_ms_per_doc=time_ms / max(total, 1),
            node_cpu_ms_per_doc=cpu_ms / max(docs, 1),
            cpu_ms_per_doc=used,
        )
        if autocomplete:
            result.suggestions, result.scored = collect_autocomplete(
                f"http://127.0.0.1:{port}", search, name, tenant_names(5)
            )
            answers = [[*k, result.suggestions[k], result.scored[k]] for k in result.suggestions]
            (logs / f"{variant.label}-{name}-autocomplete.json").write_bytes(orjson.dumps(answers))
        return result
    finally:
        stop(procs)
        search.close()
        failures = namespace.drop_namespace(stack, env)
        if failures:
            print(f"  namespace {name} not fully dropped: {failures}", file=sys.stderr)


def _service_doc(tenant: str, doc: dict[str, Any], now: str) -> Event:
    doc_id = str(uuid.uuid4())
    body = {
        "id": doc_id,
        "tenant_id": tenant,
        "version": 1,
        "subject_id": None,
        **doc,
        "created_at": now,
        "updated_at": now,
    }
    return Event(op="index", tenant_id=tenant, id=doc_id, version=1, doc=body)


def run_direct(stack: StackSettings, docs: int, *, refresh: str) -> Result:
    """The same corpus straight to ``_bulk``: the service's mapping, external versions,
    routing, bulks of 500, two in flight (the indexer's), then one refresh."""
    name = f"bidx{uuid.uuid4().hex[:8]}"
    settings = OpenSearchSettings(alias=name, refresh_interval=refresh)
    search = OpenSearch(hosts=stack.opensearch_urls, timeout=60)
    now = datetime.now(UTC).isoformat()
    bodies = []
    for tenant, batch in generate_batches(SeedPlan(docs=docs, tenants=5, seed=42)):
        events = [_service_doc(tenant, d, now) for d in batch]
        lines = bulk_lines(settings.index_v1, events)
        bodies.append(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    try:
        search.indices.put_index_template(name=f"{name}-template", body=index_template(settings))
        search.indices.create(index=settings.index_v1)
        cpu_before = _node_cpu_ms(search)
        started = time.perf_counter()

        def send(body: bytes) -> None:
            response = search.bulk(body=body)
            if response.get("errors"):
                raise RuntimeError("a direct bulk had item errors")

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(send, bodies))
        search.indices.refresh(index=settings.index_v1)
        elapsed_s = time.perf_counter() - started
        cpu_ms = _node_cpu_ms(search) - cpu_before
        total, time_ms = _stats(search, settings.index_v1)
        return Result(
            accepted_docs_s=docs / elapsed_s,
            searchable_docs_s=docs / elapsed_s,
            index_ms_per_doc=time_ms / max(total, 1),
            node_cpu_ms_per_doc=cpu_ms / max(docs, 1),
        )
    finally:
        search.indices.delete(index=settings.index_v1, ignore=[404])
        search.indices.delete_index_template(name=f"{name}-template", ignore=[404])
        search.close()


def _parse_variant(spec: str) -> Variant:
    label, _, assignments = spec.partition("=")
    env = {}
    for pair in filter(None, assignments.split(",")):
        key, _, value = pair.partition("=")
        env[key.strip()] = value.strip()
    return Variant(label, PROJECT_ROOT, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--baseline", metavar="[LABEL=]DIR", action="append", default=[],
                        help="a checkout: git archive HEAD service gameday targets")  # fmt: skip
    parser.add_argument("--variant", metavar="LABEL=K=V[,K=V]", action="append", default=[],
                        help="this checkout with extra SERVICE_* variables")  # fmt: skip
    parser.add_argument("--no-current", action="store_true", help="only the other variants")
    parser.add_argument("--direct", action="store_true", help="also OpenSearch's _bulk alone")
    parser.add_argument("--autocomplete", action="store_true",
                        help="autocomplete answers compared with the first's")  # fmt: skip
    args = parser.parse_args()
    variants: list[Variant] = []
    for spec in args.baseline:
        label, _, folder = spec.rpartition("=")
        root = Path(folder).resolve()
        if not (root / "service" / "main.py").is_file():
            sys.exit(f"--baseline {spec}: no service/main.py in {root}")
        variants.append(Variant(label or "before", root))
    if not args.no_current:
        variants.append(Variant("current", PROJECT_ROOT))
    variants += [_parse_variant(spec) for spec in args.variant]
    stack = StackSettings()
    logs = Path(tempfile.mkdtemp(prefix="bench-indexing-"))
    results: dict[str, list[Result]] = {}
    autocomplete_lines: list[str] = []
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min)", file=sys.stderr)
    for round_no in range(1, args.rounds + 1):
        runs: list[tuple[str, Any]] = [(v.label, v) for v in variants]
        if args.direct:
            runs.append(("direct _bulk", None))
        for label, variant in runs:
            if variant is None:
                result = run_direct(stack, args.docs, refresh="1s")
            else:
                result = run_seed(variant, stack, args.docs, logs, autocomplete=args.autocomplete)
            results.setdefault(label, []).append(result)
            print(
                f"round {round_no} {label:<14} accepted {result.accepted_docs_s:>6,.0f} docs/s"
                f"  searchable {result.searchable_docs_s:>6,.0f} docs/s"
                f"  index {result.index_ms_per_doc:.3f} ms/doc"
                f"  node CPU {result.node_cpu_ms_per_doc:.3f} ms/doc"
                f"  load {os.getloadavg()[0]:.2f}",
                file=sys.stderr,
                flush=True,
            )
            if result.cpu_ms_per_doc:
                shares = ", ".join(f"{k} {v:.3f}" for k, v in result.cpu_ms_per_doc.items())
                print(f"  CPU ms/doc: {shares}", file=sys.stderr, flush=True)
            reference = results[variants[0].label][-1]
            if args.autocomplete and variant is not None and result is not reference:
                answers, same_api, same_ranked = compare_autocomplete(reference, result)
                line = (f"autocomplete {label} vs {variants[0].label}: {answers} answers, "
                        f"{same_api} identical from the service, {same_ranked} identical "
                        f"top 10 with scores from the engine (ties by date)")  # fmt: skip
                autocomplete_lines.append(f"round {round_no} {line}")
                print(f"  {line}", file=sys.stderr, flush=True)
    print(f"\nmedians of {args.rounds} round(s), {args.docs} documents (logs: {logs})")
    print(f"{'variant':<14} {'accepted/s':>11} {'searchable/s':>13} {'index ms/doc':>13} "
          f"{'node CPU ms/doc':>16}")  # fmt: skip
    medians: dict[str, float] = {}
    for label, runs_of in results.items():
        med = {
            key: statistics.median(getattr(r, key) for r in runs_of)
            for key in (
                "accepted_docs_s",
                "searchable_docs_s",
                "index_ms_per_doc",
                "node_cpu_ms_per_doc",
            )  # fmt: skip
        }
        medians[label] = med["searchable_docs_s"]
        print(f"{label:<14} {med['accepted_docs_s']:>11,.0f} {med['searchable_docs_s']:>13,.0f} "
              f"{med['index_ms_per_doc']:>13.3f} {med['node_cpu_ms_per_doc']:>16.3f}")  # fmt: skip
    first = next(iter(medians))
    for label, rate in medians.items():
        if label != first and medians[first]:
            # Paired too: the two runs of a round shared the box's load of the moment.
            paired = statistics.median(
                b.searchable_docs_s / a.searchable_docs_s
                for a, b in zip(results[first], results[label], strict=True)
            )
            print(f"searchable rate {label} / {first}: {rate / medians[first]:.2f} "
                  f"(medians), {paired:.2f} (median of the rounds' ratios)")  # fmt: skip
    for line in autocomplete_lines:
        print(line)
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
