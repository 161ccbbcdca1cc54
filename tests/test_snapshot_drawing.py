"""The reports' charts drawn by a helper process (``analysis.drawing``, issue 14): a
publication that draws them there writes the same bytes as one that draws them here, with an
earlier release present too; a drawing the helper cannot give is drawn here; a wrong spec
fails as it does here."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from analysis import drawing, snapshot
from analysis.snapshot import report, write
from analysis.snapshot.build import build_snapshot, input_sha256
from survey import store as storage
from tests.conftest import TODAY
from tests.test_snapshot import web_frame

EARLIER = TODAY - timedelta(days=45)
SPEC = {
    "mark": "point",
    "data": {"values": [{"x": 1.5, "y": "é"}, {"x": float("nan"), "y": "b"}, {"x": 3, "y": "c"}]},
    "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y"}},
}


@pytest.fixture(scope="module")
def web_store(tmp_path_factory):
    store = storage.connect(tmp_path_factory.mktemp("drawing") / "web.duckdb")
    store.insert_frame(web_frame(900, seed=21))
    return store


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def publish_twice(store, out: Path) -> dict[str, bytes]:
    """An earlier release, then one that holds back against it, into the same folder."""
    snapshot.publish(store, out=out, as_of=EARLIER)
    later = snapshot.publish(store, out=out, as_of=TODAY)
    assert later.created and later.snapshot.release_control["earlier_releases"]
    return tree(out)


def test_charts_drawn_by_the_helper_give_the_same_files_as_drawn_here(
    web_store, tmp_path, monkeypatch
):
    here_draws = []
    draw = drawing.draw

    def counted(spec, format_locale):
        here_draws.append(format_locale)
        return draw(spec, format_locale)

    monkeypatch.setattr(drawing, "draw", counted)
    helped = publish_twice(web_store, tmp_path / "helped")
    assert here_draws == []  # every chart came from the helper
    assert drawing.running() is None  # and publish let it end
    monkeypatch.setattr(drawing, "start", lambda: None)  # no helper: every chart drawn here
    here = publish_twice(web_store, tmp_path / "here")
    assert len(here_draws) > 10 and set(here_draws) == {"fr-FR", "en-US"}
    assert sorted(helped) == sorted(here)
    for name, data in here.items():
        assert helped[name] == data, name
    assert any(b"<svg" in data for name, data in here.items() if name.endswith(".html"))


def test_a_drawing_the_helper_cannot_give_is_drawn_here():
    expected = drawing.draw(SPEC, "fr-FR")
    drawer = drawing.Drawer()
    try:
        first = drawing.Drawing(SPEC, "fr-FR", drawer)
        assert first.future is not None and first.future.result(timeout=60) == expected
        assert drawing.Drawing(SPEC, "en-US", drawer).result() == drawing.draw(SPEC, "en-US")
        drawer.process.kill()
        drawer.process.wait()
        gone = drawing.Drawing(SPEC, "fr-FR", drawer)
        assert gone.result() == expected
    finally:
        drawer.close()
    assert not drawer.alive()
    assert drawing.Drawing(SPEC, "fr-FR", drawer).result() == expected
    # what JSON cannot carry is drawn here (vl-convert reads the dict itself)
    odd = {**SPEC, "description": {1, 2}}
    assert drawing.Drawing(odd, "fr-FR", drawer).future.exception() is not None


def test_a_wrong_spec_fails_as_it_does_here():
    wrong = {"mark": "nothing-such"}
    with pytest.raises(ValueError) as here:
        drawing.draw(wrong, "fr-FR")
    drawer = drawing.Drawer()
    try:
        with pytest.raises(ValueError) as helped:
            drawing.Drawing(wrong, "fr-FR", drawer).result()
        assert str(helped.value) == str(here.value)
        # the helper still draws after a refusal
        assert drawing.Drawing(SPEC, "fr-FR", drawer).future.result(timeout=60) == (
            drawing.draw(SPEC, "fr-FR")
        )
    finally:
        drawer.close()


def test_the_charts_sent_before_the_input_hash_are_those_of_the_snapshot():
    frame = web_frame(700, seed=8)
    seen = []

    def ahead(built):
        seen.append(built)
        return {locale: report.figures(built, locale) for locale in write.REPORTS}

    built, early = build_snapshot(frame, as_of=TODAY, ahead=ahead)
    assert seen[0].input_sha256 == "" and built.input_sha256 == input_sha256(frame)
    assert seen[0].kpis is built.kpis and seen[0].curves is built.curves
    plain = build_snapshot(frame, as_of=TODAY)
    expected = write.render(plain)
    assert write.render(built, figures=early) == expected
    assert write.render(built) == expected


def test_specs_larger_than_the_pipe_are_drawn_while_replies_come_back():
    """A survival chart's spec at 1M responses is about 380 KB, more than a pipe holds: the
    specs are written while the replies are read (a publication waited forever otherwise)."""
    import threading

    values = [{"x": i, "y": (i * 7) % 101, "label": f"point {i}"} for i in range(12_000)]
    big = {**SPEC, "data": {"values": values}}
    specs = [dict(big, description=f"chart {k}") for k in range(6)]
    drawer = drawing.Drawer()
    drawings = []
    try:
        sender = threading.Thread(
            target=lambda: drawings.extend(drawing.Drawing(s, "fr-FR", drawer) for s in specs)
        )
        sender.start()
        sender.join(timeout=240)
        assert not sender.is_alive(), "the specs could not all be sent"
        svgs = [d.future.result(timeout=240) for d in drawings]
    finally:
        drawer.close()
    assert svgs[0] == drawing.draw(specs[0], "fr-FR")
    assert all(svg.startswith("<svg") for svg in svgs)


def test_a_preview_leaves_no_helper_behind(web_store):
    """The app's publish page previews with ``prepare_snapshot``: it draws in its own process,
    so no idle helper outlives the page; ``publish`` starts one and ends it."""
    drawing.stop()
    previewed = write.prepare_snapshot(web_store, as_of=TODAY)
    assert drawing.running() is None
    assert b"<svg" in write.render(previewed)["index.html"]
    assert drawing.running() is None
