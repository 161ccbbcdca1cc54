"""The form's steps while another process holds the DuckDB file: what a person waits for on
"Suivant", and when the step's draft reaches the file (the real form page in AppTest, the
app's own store, as `streamlit run` serves it).

Run from a tree's root (the figures are in docs/benchmarks.md):

    nice .venv/bin/python bench/form_steps_held.py held     # a process holds the file (as the
        # final copy of `clientroi import` does) while "Suivant" is pressed on step 3, then
        # lets it go
    nice .venv/bin/python bench/form_steps_held.py free     # the same, the file free
    nice .venv/bin/python bench/form_steps_held.py import   # `clientroi import` of
        # /tmp/imp/m1web.csv into a copy of /tmp/b/m1.duckdb while the form goes from step 3
        # to 4 and back, a value typed before each "Suivant", until the import ends

Prints one JSON line: for held/free, the seconds "Suivant" took and the draft's step in the
file once the file is free; for import, the reruns' (typing or a button) median, p99 and
longest time, the draft saves' p99 and longest time, and the last step and value on screen
against those of the draft in the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path.cwd()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
MODE = sys.argv[1] if len(sys.argv) > 1 else "held"
WORK = Path(tempfile.mkdtemp(prefix="form-steps-held-"))
DB = WORK / "clientroi.duckdb"
if MODE == "import":
    shutil.copy("/tmp/b/m1.duckdb", DB)
os.environ["CLIENTROI_DB"] = str(DB)

import duckdb  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from survey import store as storage  # noqa: E402
from tests.test_form_page import click, fill_first_two_steps, typed  # noqa: E402
from tests.test_spool import Holder  # noqa: E402


def draft_in_file(draft_id: str) -> tuple[int, dict] | None:
    with duckdb.connect(str(DB), read_only=True) as con:
        row = con.execute(
            "SELECT step, answers FROM drafts WHERE draft_hash = ?", [storage.hash_token(draft_id)]
        ).fetchone()
    return (row[0], json.loads(row[1])["answers"]) if row else None


def settled(store) -> None:
    """Until the drafts the store kept are written (a store without them has none)."""
    while getattr(store, "drafts_kept", lambda: 0)():
        time.sleep(0.01)
    store.close()


at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
fill_first_two_steps(at)
click(at, "form_next")  # step 3, the contacts
store = storage.app_store(str(DB))
draft_id = at.session_state["form_draft_id"]
saves: list[float] = []
save = store.save_draft


def timed_save(*args, **kwargs):
    started = time.monotonic()
    try:
        return save(*args, **kwargs)
    finally:
        saves.append(time.monotonic() - started)


store.save_draft = timed_save  # (how much of a rerun is the draft's save)
load = Path("/proc/loadavg").read_text().split()[:3]

if MODE in ("held", "free"):
    typed(at, "q_wasted_trips", "2")
    store.close()
    holder = Holder(DB) if MODE == "held" else None
    try:
        started = time.monotonic()
        click(at, "form_next")
        suivant = time.monotonic() - started
    finally:
        if holder is not None:
            holder.release()
    freed = time.monotonic()
    settled(store)
    after_free = time.monotonic() - freed
    kept = draft_in_file(draft_id)
    result = {
        "suivant_s": round(suivant, 3),
        "step_on_screen": at.session_state["form_step"],
        "draft_step_in_file": kept[0] if kept else None,
        "in_file_after_free_s": round(after_free, 3),
    }
else:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "cli.py"), "import", "/tmp/imp/m1web.csv"]
    importer = subprocess.Popen(
        [*command, "--db", str(DB)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    began = time.monotonic()
    reruns, i = [], 0
    while importer.poll() is None:
        i += 1
        started = time.monotonic()
        if at.session_state["form_step"] == 2:
            typed(at, "q_wasted_km", str(i))
            reruns.append(time.monotonic() - started)
            started = time.monotonic()
            click(at, "form_next")
        else:
            click(at, "form_back")
        reruns.append(time.monotonic() - started)
    ended = time.monotonic()
    on_screen = [at.session_state["form_step"], at.session_state.get("q_wasted_km")]
    settled(store)
    kept = draft_in_file(draft_id)
    ms = np.array(reruns) * 1000
    saved = np.array(saves) * 1000
    result = {
        "import_exit": importer.returncode,
        "import_s": round(ended - began, 1),
        "reruns": len(reruns),
        "rerun_median_ms": round(float(np.median(ms)), 1),
        "rerun_p99_ms": round(float(np.percentile(ms, 99)), 1),
        "rerun_max_ms": round(float(ms.max()), 1),
        "save_p99_ms": round(float(np.percentile(saved, 99)), 1),
        "save_max_ms": round(float(saved.max()), 1),
        "on_screen": on_screen,
        "in_file": [kept[0], kept[1].get("q_wasted_km")] if kept else None,
        "in_file_after_import_s": round(time.monotonic() - ended, 2),
    }
print(json.dumps({"mode": MODE, **result, "load": load}))
shutil.rmtree(WORK, ignore_errors=True)
