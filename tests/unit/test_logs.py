"""talentmap.logs: JSON records, stray output turned into JSON lines without ANSI codes,
step timing, the third-party warning filter, and everything put back after the block."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings

from talentmap import logs


def test_structured_output_turns_every_line_into_json_and_restores_the_streams() -> None:
    err, out = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    root_handlers = list(logging.getLogger().handlers)
    try:
        with logs.structured_output("retrain", json_lines=True) as structured:
            assert structured
            print("\x1b[1m\x1b[32mprofile\x1b[0m: done")  # what Feast prints
            sys.stderr.write("10%|#   \r50%|#####  \r100%|##########\n")  # a progress bar
            clock = logs.StepClock(logging.getLogger("talentmap.retrain"))
            clock.begin("ingest")
            clock.note(rows=12)
            clock.begin("build")
            clock.fail("boom\n  on two lines")
            logging.getLogger("alembic.noise").info("hidden: libraries log warnings only")
        assert sys.stdout is out and sys.stderr is err
    finally:
        sys.stdout, sys.stderr = saved
    assert logging.getLogger().handlers == root_handlers
    assert out.getvalue() == ""
    text = err.getvalue()
    assert "\x1b[" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["message"] for r in records[:2]] == ["profile: done", "100%|##########"]
    ingest, build = records[2], records[3]
    assert ingest["step"] == "ingest" and ingest["rows"] == 12 and ingest["outcome"] == "ok"
    assert ingest["command"] == "retrain" and ingest["duration_s"] >= 0
    assert build["outcome"] == "failed" and build["reason"] == "boom on two lines"
    assert build["level"] == "error"
    assert len(records) == 4


def test_terminal_mode_changes_nothing(monkeypatch) -> None:
    monkeypatch.setenv(logs.JSON_ENV, "text")
    saved = sys.stdout
    with logs.structured_output("retrain") as structured:
        assert not structured and sys.stdout is saved
    monkeypatch.setenv(logs.JSON_ENV, "json")
    assert logs.wants_json()


def test_third_party_deprecations_are_hidden_ours_are_kept() -> None:
    shown: list[str] = []
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.showwarning = lambda message, *args, **kw: shown.append(str(message))
        logs.quiet_third_party_warnings()
        warnings.warn_explicit("lib old", DeprecationWarning, "/x/site-packages/lib/m.py", 1, "lib")
        warnings.warn_explicit("lib future", FutureWarning, "/x/site-packages/lib/m.py", 2, "lib")
        warnings.warn_explicit("ours", DeprecationWarning, "/x/talentmap/m.py", 3, "talentmap.m")
        warnings.warn_explicit("real", UserWarning, "/x/site-packages/lib/m.py", 4, "lib")
        # A library that turns every warning on again is still quietened by the hook.
        warnings.simplefilter("always")
        warnings.warn_explicit("lib again", DeprecationWarning, "/x/site-packages/l/m.py", 5, "l")
    assert shown == ["ours", "real"]


def test_ansi_codes_are_stripped() -> None:
    assert logs.strip_ansi("\x1b[1m\x1b[32mgreen\x1b[0m \x1b[2Kline") == "green line"
