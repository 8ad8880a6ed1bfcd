from __future__ import annotations

from pathlib import Path

import pytest

from service.migrations import load_migrations


def test_shipped_migrations_are_ordered_without_gaps() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert "PARTITION BY HASH (tenant_id)" in migrations[0].sql
    assert "(tenant_id, status, created_at)" in migrations[0].sql
    assert any("CREATE TABLE audit_log" in m.sql for m in migrations)


def test_a_gap_in_versions_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("select 1;")
    (tmp_path / "0003_c.sql").write_text("select 1;")
    with pytest.raises(ValueError, match="expected 0002, found 0003_c"):
        load_migrations(tmp_path)


def test_a_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_a.sql").write_text("select 1;")
    with pytest.raises(ValueError, match="NNNN_name.sql"):
        load_migrations(tmp_path)
