"""The audit log: append-only JSON lines, whole lines even under concurrent writers."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from talentmap.serving.audit import AuditLog, read_audit


def test_appends_whole_lines_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "log.jsonl"
    path.parent.mkdir()
    path.write_text('{"event": "earlier"}\n', encoding="utf-8")  # never rewritten
    log = AuditLog(path)
    ids = [f"org-{i:07d}" for i in range(300)]  # long lines: interleaving would show

    def write(worker: int) -> None:
        for n in range(50):
            log.write("shortlist", f"key-{worker}", "staff", n=n, org_ids=ids)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 8 * 50
    records = [json.loads(line) for line in lines]
    assert records[0] == {"event": "earlier"}
    assert all(r["org_ids"] == ids for r in records[1:])
    assert {r["who"] for r in records[1:]} == {f"key-{w}" for w in range(8)}
    assert len(read_audit(path)) == len(lines)


def test_new_file_is_private_and_reopened_in_append_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    first = AuditLog(path)
    record = first.write("reload", "ada", "admin", model_version="3")
    first.close()
    assert record["who"] == "ada" and record["at"].endswith("+00:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = AuditLog(path)
    second.write("shortlist", "sam", "staff")
    second.close()
    assert [r["event"] for r in read_audit(path)] == ["reload", "shortlist"]
    assert read_audit(tmp_path / "missing.jsonl") == []
