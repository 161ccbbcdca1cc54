"""Vega-Lite specs drawn as SVG by vl-convert, in this process or in helper processes started
ahead of time (:class:`SvgWorkers`), so that the reports' charts are drawn two at a time.

vl-convert holds Python's lock while it draws and spends most of a second starting its
JavaScript engine on the first chart of a process: helpers started when a publication begins
pay that start while the responses are read, then draw side by side. A helper is a plain
``python -c`` process that imports vl-convert alone and answers one JSON line per JSON line
on its standard input; the drawing is the same as in this process, byte for byte.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

_HELPER = r"""
import json, sys
import vl_convert
vl_convert.vegalite_to_svg({"mark": "point"})  # start the JavaScript engine now
for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = {"svg": vl_convert.vegalite_to_svg(request["spec"], format_locale=request["locale"])}
    except Exception as error:  # the spec's own failure, reported to the caller
        answer = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"""


def draw(spec: dict, format_locale: str) -> str:
    """``spec`` as SVG, drawn in this process."""
    import vl_convert

    return vl_convert.vegalite_to_svg(spec, format_locale=format_locale)


class SvgWorkers:
    """``workers`` helper processes drawing SVG; a context manager that stops them on exit.

    >>> with SvgWorkers(1) as workers:
    ...     svg = workers.submit({"mark": "point"}, "en-US").result()
    >>> svg.startswith("<svg")
    True
    """

    def __init__(self, workers: int = 2) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError("`workers` must be a whole number of at least 1.")
        self._idle: queue.Queue = queue.Queue()
        self._processes = [
            subprocess.Popen(
                [sys.executable, "-c", _HELPER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            for _ in range(workers)
        ]
        for process in self._processes:
            self._idle.put(process)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="svg")

    def submit(self, spec: dict, format_locale: str) -> Future:
        """The SVG of ``spec``, to come (``Future.result()``); a helper that fails raises
        ``RuntimeError`` there."""
        return self._threads.submit(self._draw, json.dumps({"spec": spec, "locale": format_locale}))

    def _draw(self, request: str) -> str:
        process = self._idle.get()
        try:
            process.stdin.write(request + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError as error:
            raise RuntimeError(f"an SVG helper process stopped ({error})") from None
        if not line:
            raise RuntimeError("an SVG helper process stopped")
        self._idle.put(process)
        answer = json.loads(line)
        if "error" in answer:
            raise ValueError(f"vl-convert could not draw a chart: {answer['error']}")
        return answer["svg"]

    def close(self) -> None:
        """Stop the helpers (each ends when its input closes)."""
        self._threads.shutdown(wait=True)
        for process in self._processes:
            if process.stdin and not process.stdin.closed:
                process.stdin.close()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()

    def __enter__(self) -> SvgWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
