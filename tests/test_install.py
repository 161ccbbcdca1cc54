"""The wheel installs and works outside the repository: codebook, demo, import, publish, serve.

The wheel is built from a clean copy of the sources (``git ls-files``: no stale ``build/``)
and installed with ``--no-deps`` into a new virtual environment without system site packages,
run from a temporary folder, so the repository is not on ``sys.path``: every reference file,
message catalogue, template and migration must come from the wheel.

The dependencies: reinstalling Streamlit, pandas, pyarrow, DuckDB... into a new environment
takes minutes, so by default the new environment sees the running one's site-packages through
a ``.pth`` file. A ``.pth`` file adds a folder to ``sys.path`` without reading the ``.pth``
files inside it, so the editable install of the running environment (a ``.pth`` pointing at
the repository) stays out. ``CLIENTROI_INSTALL_DEPS=lock`` installs the dependencies from
``requirements/runtime.txt`` (hashes checked) instead: the whole install, minutes long.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from survey.validation import paris_today

TODAY_PARIS = paris_today().isoformat()
ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "runtime.txt"


def run(command: list[str], *, cwd: Path, env: dict, timeout: float = 180) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A new environment holding the wheel; returns its paths and a clean environment."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = base / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        cwd=base,
        env=os.environ.copy(),
    )
    (wheel,) = wheels.glob("clientroi-*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base, env=os.environ.copy())
    python = venv / "bin" / "python"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CLIENTROI", "VIRTUAL"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    if os.environ.get("CLIENTROI_INSTALL_DEPS") == "lock":
        run(
            [*pip, "install", "-q", "--require-hashes", "-r", str(LOCK)],
            cwd=base,
            env=env,
            timeout=1800,
        )
    else:
        purelib = run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=base,
            env=env,
        ).strip()
        ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        Path(purelib, "_clientroi_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=base, env=env)
    work = base / "elsewhere"  # not the repository
    work.mkdir()
    return {"python": python, "bin": venv / "bin", "env": env, "work": work, "wheel": wheel}


def test_the_package_comes_from_the_wheel_not_the_repository(installed):
    out = run(
        [
            str(installed["python"]),
            "-c",
            "import cli, survey.store, analysis.snapshot, sys;"
            "from importlib import resources;"
            "print(cli.__file__); print(survey.store.__file__); print(cli.APP.exists());"
            "docs = resources.files('analysis') / 'docs';"
            "print(all((docs / f'methodology.{l}.md').is_file() for l in ('fr', 'en')));"
            "print(sys.path)",
        ],
        cwd=installed["work"],
        env=installed["env"],
    )
    cli_file, store_file, app_exists, methodology, _ = out.splitlines()
    assert methodology == "True"  # the dashboard's methodology tab ships with the package
    for path in (cli_file, store_file):
        assert str(ROOT) not in path
        assert "site-packages" in path
    assert app_exists == "True"


def test_codebook_demo_import_and_publish_from_another_folder(installed):
    clientroi, env, work = str(installed["bin"] / "clientroi"), installed["env"], installed["work"]
    codebook = run([clientroi, "codebook"], cwd=work, env=env)
    assert "| `company` (required) |" in codebook
    db = work / "data" / "clientroi.duckdb"
    demo = run([clientroi, "demo", "--rows", "300", "--db", str(db)], cwd=work, env=env)
    assert "Loaded 300 synthetic responses" in demo
    # Synthetic rows never reach a snapshot: publish imported ones (French labels, ';').
    rows = ["company;problem;started_on;status;ended_on;consent_research"]
    companies = ["free", "orange", "sfr", "amazon"]
    for i in range(40):
        status = "resolved" if i % 3 else "ongoing"
        ended = f"2025-0{1 + i % 8}-20" if status == "resolved" else ""
        rows.append(
            f"{companies[i % 4]};outage;2025-0{1 + i % 8}-0{1 + i % 9};{status};{ended};oui"
        )
    responses = work / "responses.csv"
    responses.write_text("\n".join(rows) + "\n", encoding="utf-8")
    imported = run([clientroi, "import", str(responses), "--db", str(db)], cwd=work, env=env)
    assert "40 stored" in imported
    published = run(
        # --as-of today: what was just imported (the default is the end of the last full month)
        [clientroi, "publish", "--db", str(db), "--min-cell", "1", "--as-of", TODAY_PARIS],
        cwd=work,
        env=env,
        timeout=300,
    )
    assert "Published 40 responses" in published
    (folder,) = (work / "data" / "snapshots").iterdir()
    assert (folder / "index.html").stat().st_size > 10_000
    assert (folder / "manifest.json").exists()
    assert "publication" in (work / "data" / "clientroi.log").read_text(encoding="utf-8")
    export = work / "responses.sav"
    run(
        [clientroi, "export", "--format", "sav", "--out", str(export), "--db", str(db)],
        cwd=work,
        env=env,
    )
    assert export.stat().st_size > 0


def test_the_installed_app_runs_its_default_page(installed):
    """app.py and the pages it names, from site-packages, through Streamlit's AppTest."""
    db = installed["work"] / "apptest.duckdb"
    script = textwrap.dedent(
        """
        import cli
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file(str(cli.APP), default_timeout=60).run()
        assert not at.exception, [e.message for e in at.exception]
        print("ran", len(at.main.children))
        """
    )
    env = dict(installed["env"], CLIENTROI_DB=str(db))
    out = run([str(installed["python"]), "-c", script], cwd=installed["work"], env=env)
    assert out.startswith("ran")


def test_serve_answers_http_200_then_stops(installed):
    port = free_port()
    db = installed["work"] / "serve.duckdb"
    server = subprocess.Popen(
        [
            str(installed["bin"] / "clientroi"),
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--demo",
            "no",
        ],
        cwd=installed["work"],
        env=installed["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: clientroi and the Streamlit it starts
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    status = response.status
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, server.stdout.read() if server.poll() is not None else "no answer"
        assert '<div id="root">' in page or "streamlit" in page.lower()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as health:
            assert health.read().decode().strip() == "ok"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
    output = server.stdout.read()
    assert "Serving Client Roi" in output
