"""vl-convert's drawings in a helper process, so that they overlap the rest of a publication.

vl-convert holds the GIL while it draws (2-4 s for a report's 16 charts at 1M responses): in
a thread it stops every other Python thread, the input hash's included. A :class:`Drawer` is
a second interpreter that imports vl-convert alone (no pandas, no scipy: about 0.1 s), starts
its engine at once, then draws the Vega-Lite specs it is sent, in order, and sends back the
SVG text. The specs travel as JSON (the same dict once read back: key order, floats by
``repr``), so a drawing is the same text as ``vl_convert.vegalite_to_svg`` in this process.

A drawing that the helper cannot give (it could not start, died, or vl-convert refused the
spec) is drawn again in this process by :func:`draw` (which raises vl-convert's own error
when the spec is wrong): the helper can make a publication faster, never different.

This module imports nothing heavy, so that ``clientroi publish`` starts the helper before it
imports the statistics (about a second the other core spends starting vl-convert).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future, InvalidStateError

# The helper's whole program: frames of a 4-byte big-endian length then UTF-8 JSON, both
# ways; ``{"id", "spec", "format_locale"}`` in, ``{"id", "svg"}`` or ``{"id", "error"}`` out.
# It ends when its input closes (this process ended or closed it).
HELPER = r"""
import json, struct, sys
import vl_convert
vl_convert.vegalite_to_svg({"mark": "point", "data": {"values": []}})  # the engine, started
read, write = sys.stdin.buffer.read, sys.stdout.buffer
while True:
    head = read(4)
    if len(head) < 4:
        break
    task = json.loads(read(struct.unpack(">I", head)[0]))
    try:
        reply = {"id": task["id"], "svg": vl_convert.vegalite_to_svg(
            task["spec"], format_locale=task["format_locale"])}
    except Exception as error:
        reply = {"id": task["id"], "error": f"{type(error).__name__}: {error}"}
    data = json.dumps(reply).encode("utf-8")
    write.write(struct.pack(">I", len(data)) + data)
    write.flush()
"""


class HelperFailed(RuntimeError):
    """The helper could not draw a spec (see :func:`draw`, which then draws it here)."""


def _fail(future: Future, reason: str) -> None:
    """``future`` fails with ``reason`` unless it was settled meanwhile."""
    with contextlib.suppress(InvalidStateError):
        future.set_exception(HelperFailed(reason))


class Drawer:
    """One helper process; :meth:`submit` is thread-safe and never waits for a drawing."""

    def __init__(self) -> None:
        # -I: no user site, no PYTHON* variables, not the current folder on the path
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        # _lock guards the table of pending drawings only (the reply thread takes it for each
        # reply); _writing orders the specs on the pipe. Never one held while writing under
        # the other: a spec larger than the pipe waits for the helper, which may be waiting
        # for its replies to be read.
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._pending: dict[int, Future] = {}
        self._next = 0
        self._closed = False
        # replies are read as they come (the helper would block on a full pipe otherwise)
        self._reader = threading.Thread(target=self._read, name="chart-replies", daemon=True)
        self._reader.start()

    def alive(self) -> bool:
        return not self._closed and self.process.poll() is None

    def submit(self, spec: dict, format_locale: str) -> Future:
        """The SVG text of ``spec``, drawn by the helper (a future: ``result()`` waits)."""
        future: Future = Future()
        with self._writing:
            with self._lock:
                if not self.alive():
                    future.set_exception(HelperFailed("the drawing helper is not running"))
                    return future
                self._next += 1
                task = self._next
            try:
                data = json.dumps({"id": task, "spec": spec, "format_locale": format_locale})
            except (TypeError, ValueError) as error:  # not JSON: drawn here instead
                future.set_exception(HelperFailed(str(error)))
                return future
            data = data.encode("utf-8")
            with self._lock:
                if self._closed:
                    future.set_exception(HelperFailed("the drawing helper ended"))
                    return future
                self._pending[task] = future
            try:  # (without _lock: the replies are read meanwhile)
                self.process.stdin.write(struct.pack(">I", len(data)) + data)
                self.process.stdin.flush()
            except (OSError, ValueError) as error:
                with self._lock:
                    self._pending.pop(task, None)
                _fail(future, f"the drawing helper is gone: {error}")
        return future

    def _read(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                head = stream.read(4)
                if len(head) < 4:
                    break
                reply = json.loads(stream.read(struct.unpack(">I", head)[0]))
                with self._lock:
                    future = self._pending.pop(reply["id"], None)
                if future is None:
                    continue
                if "svg" in reply:
                    future.set_result(reply["svg"])
                else:
                    future.set_exception(HelperFailed(reply.get("error", "no drawing")))
        except (OSError, ValueError):
            pass
        finally:  # whatever is still waiting is drawn here
            with self._lock:
                self._closed = True
                pending, self._pending = self._pending, {}
            for future in pending.values():
                _fail(future, "the drawing helper ended")

    def close(self) -> None:
        """Let the helper end (its input closed) and wait for it."""
        with self._lock:
            self._closed = True
        with self._writing, contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_DRAWER: list[Drawer] = []
_START = threading.Lock()


def start() -> Drawer | None:
    """The process's helper, started if it is not running (None if it cannot start)."""
    with _START:
        if _DRAWER and _DRAWER[0].alive():
            return _DRAWER[0]
        try:
            drawer = Drawer()
        except OSError:
            return None
        if not _DRAWER:
            atexit.register(stop)
        _DRAWER[:] = [drawer]
        return drawer


def running() -> Drawer | None:
    """The helper if one was started and still runs, else None (drawings made here)."""
    return _DRAWER[0] if _DRAWER and _DRAWER[0].alive() else None


def stop() -> None:
    """End the helper, if any."""
    with _START:
        drawers, _DRAWER[:] = list(_DRAWER), []
    for drawer in drawers:
        drawer.close()


def draw(spec: dict, format_locale: str) -> str:
    """``vl_convert.vegalite_to_svg(spec, format_locale=...)`` in this process."""
    import vl_convert

    return vl_convert.vegalite_to_svg(spec, format_locale=format_locale)


class Drawing:
    """One chart's SVG text, from the helper when it has one, else drawn here."""

    def __init__(self, spec: dict, format_locale: str, drawer: Drawer | None = None) -> None:
        self.spec, self.format_locale = spec, format_locale
        self.future = None if drawer is None else drawer.submit(spec, format_locale)

    def result(self) -> str:
        if self.future is not None:
            try:
                return self.future.result()
            except HelperFailed:
                pass  # drawn here: the same text, or vl-convert's own error
        return draw(self.spec, self.format_locale)
