"""Shared pieces of the e2e tests: the environment run.sh hands over, a tiny test runner, and
read access to the gateway's history database.

No pytest: each test is a plain function registered with @test; `run()` calls them in order,
prints one line per test and closes with exactly `N passed, M failed`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import traceback
import uuid
from typing import Callable, Iterable

GATEWAY_URL = os.environ.get("TOLLGATE_URL", "http://127.0.0.1:4747")
KEY = os.environ.get("TOLLGATE_KEY", "")
MOCK_URL = os.environ.get("MOCK_URL", "")
DB_PATH = os.environ.get("TOLLGATE_DB", "")
VERBOSE = os.environ.get("E2E_VERBOSE", "") not in ("", "0")
# Only run tests whose name contains this (handy while debugging one test).
ONLY = os.environ.get("E2E_ONLY", "")

REPLY_PREFIX = "Hello from the mock. You said: "


class Tests:
    def __init__(self) -> None:
        self.tests: list[Callable[[], None]] = []
        self.known: set[str] = set()

    def __call__(self, fn: Callable[[], None]) -> Callable[[], None]:
        self.tests.append(fn)
        return fn

    def known_issue(self, fn: Callable[[], None]) -> Callable[[], None]:
        """A check of a known gateway discrepancy that does not break clients: it runs and
        reports ("known" while the discrepancy is there, "fixed?" once it is gone) but counts
        as neither passed nor failed. Promote it to @test once the gateway is fixed."""
        self.tests.append(fn)
        self.known.add(fn.__name__)
        return fn

    def run(self, suite: str, finish: Callable[[], None] | None = None) -> int:
        passed = failed = 0
        selected = [t for t in self.tests if ONLY in t.__name__]
        if finish is not None:
            selected.append(finish)
        for fn in selected:
            started = time.monotonic()
            if fn.__name__ in self.known:
                try:
                    fn()
                except Exception as e:  # noqa: BLE001
                    text = str(e)
                    text = text if len(text) <= 400 else text[:400] + " ..."
                    print(f"known {suite}::{fn.__name__}: {text}")
                else:
                    print(f"fixed? {suite}::{fn.__name__} passes now: promote it to @test")
                sys.stdout.flush()
                continue
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - a test runner reports everything
                failed += 1
                ms = (time.monotonic() - started) * 1000
                print(f"FAIL {suite}::{fn.__name__} ({ms:.0f} ms): {type(e).__name__}: {e}")
                tb = traceback.format_exc()
                print("     " + tb.replace("\n", "\n     ").rstrip())
            else:
                passed += 1
                ms = (time.monotonic() - started) * 1000
                print(f"ok   {suite}::{fn.__name__} ({ms:.0f} ms)")
            sys.stdout.flush()
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0


def check(cond: object, msg: str = "check failed") -> None:
    """An assertion that survives `python -O`."""
    if not cond:
        raise AssertionError(msg)


def eq(actual: object, expected: object, what: str = "value") -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def new_request_id(tag: str) -> str:
    """A client-chosen x-request-id; the gateway keeps it, so the history row can be found."""
    return f"e2e-{tag}-{uuid.uuid4().hex[:12]}"


def log(*args: object) -> None:
    if VERBOSE:
        print("     ", *args)


# ---- history database -------------------------------------------------------------------------


def db_rows(where: str = "1=1", params: Iterable[object] = ()) -> list[dict]:
    """Rows of `exchanges` (bodies left out unless asked for), oldest first."""
    con = sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    try:
        cur = con.execute(
            f"SELECT * FROM exchanges WHERE {where} ORDER BY started_at_ms, rowid", tuple(params)
        )
        return [dict(r) for r in cur.fetchall()]
    finally:
        con.close()


def wait_for_rows(
    request_ids: list[str], timeout: float = 10.0
) -> tuple[dict[str, dict], list[str]]:
    """History rows by request id, waiting for the write-behind recorder to flush."""
    deadline = time.monotonic() + timeout
    found: dict[str, dict] = {}
    while True:
        missing = [r for r in request_ids if r not in found]
        if missing:
            marks = ",".join("?" * len(missing))
            for row in db_rows(f"request_id IN ({marks})", missing):
                found[row["request_id"]] = row
        missing = [r for r in request_ids if r not in found]
        if not missing or time.monotonic() > deadline:
            return found, missing
        time.sleep(0.1)


def body_text(blob: object, limit: int = 2000) -> str:
    if blob is None:
        return "<none>"
    if isinstance(blob, bytes):
        blob = blob.decode("utf-8", "replace")
    text = str(blob)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def describe_row(row: dict) -> str:
    keep = (
        "request_id endpoint provider model_requested model_served stream status outcome "
        "error_type error_message input_tokens output_tokens stop_reason user_agent"
    ).split()
    return json.dumps({k: row.get(k) for k in keep})
