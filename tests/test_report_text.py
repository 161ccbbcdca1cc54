"""The report's visible text does not change when its HTML is rebuilt (issue 9).

``tests/reference/report_text_fr.txt`` and ``report_text_en.txt`` hold the visible text of
``index.html`` and ``index.en.html`` as the hand-built HTML of ``analysis/snapshot.py`` wrote
them before the templates (commit "Reference visible text of the published report"), on the
fixed data set of :func:`reference_responses`. The templates may change the bytes, never the
text a reader sees. Regenerate (only for a deliberate change of wording) with
``.venv/bin/python -m tests.test_report_text``.
"""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis import snapshot
from survey.demo import generate_frame
from tests.conftest import TODAY

REFERENCE = Path(__file__).resolve().parent / "reference"
REPORTS = {"fr": "index.html", "en": "index.en.html"}
# Versions printed in the report; fixed so the reference does not depend on the environment.
SOFTWARE = {
    "clientroi": "0.0.0",
    "python": "3.0.0",
    "numpy": "1.0.0",
    "pandas": "1.0.0",
    "scipy": "1.0.0",
    "pyarrow": "1.0.0",
    "altair": "1.0.0",
    "vl-convert-python": "1.0.0",
    "duckdb": "1.0.0",
}
# Elements that start a new line of text (block boxes, table cells, chart labels).
BREAKS = {
    "html", "head", "title", "body", "header", "nav", "main", "section", "h1", "h2", "h3",
    "p", "ol", "ul", "li", "div", "table", "caption", "thead", "tbody", "tr", "th", "td",
    "figure", "figcaption", "dl", "dt", "dd", "svg", "text", "g",
}  # fmt: skip
HIDDEN = {"script", "style"}


class _VisibleText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self.hidden += 1
        if tag in BREAKS:
            self.lines.append("")

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self.hidden -= 1
        if tag in BREAKS:
            self.lines.append("")

    def handle_data(self, data):
        if not self.hidden:
            self.lines[-1] += data


def visible_text(document: str) -> str:
    """The text nodes outside ``<script>`` and ``<style>``, a line per block element, runs of
    whitespace (no-break and narrow no-break spaces included) collapsed to one space."""
    parser = _VisibleText()
    parser.feed(document)
    parser.close()
    lines = (re.sub(r"[\s\u00a0\u202f]+", " ", line).strip() for line in parser.lines)
    return "".join(f"{line}\n" for line in lines if line)


def reference_responses() -> pd.DataFrame:
    """3,000 seeded demo rows made publishable (source 'web', unflagged), with Starlink cut to
    9 responses (suppressed) and 12 responses about a company outside the list."""
    frame = generate_frame(3_000, seed=42, today=TODAY).assign(source="web")
    flags = frame[["flag_honeypot", "flag_too_fast", "flag_duplicate"]].any(axis=1)
    frame = frame[~flags & frame["consent_research"]]
    starlink = frame.index[frame["company"] == "starlink"]
    frame = frame.drop(starlink[9:])
    other = frame.index[frame["company"] == "orange"][:12]
    frame.loc[other, ["company", "company_name", "sector", "origin"]] = ["other", None, None, None]
    frame.loc[other, "company_other"] = "<b>Évil & Co</b>"
    return frame.reset_index(drop=True)


def reference_reports() -> dict[str, str]:
    """The two reports of the reference data set, as of the tests' fixed day."""
    snap = snapshot.build_snapshot(reference_responses(), as_of=TODAY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot.describe, "software_versions", lambda: dict(SOFTWARE))
        files = snapshot.render(snap)
    return {locale: files[name].decode("utf-8") for locale, name in REPORTS.items()}


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    return reference_reports()


@pytest.mark.parametrize("locale", sorted(REPORTS))
def test_the_visible_text_is_the_one_of_the_hand_built_report(reports, locale):
    expected = (REFERENCE / f"report_text_{locale}.txt").read_text(encoding="utf-8")
    assert visible_text(reports[locale]) == expected


def test_visible_text_skips_styles_and_decodes_entities():
    document = (
        "<html><head><style>p { color: red; }</style><title>A &amp; B</title></head>"
        "<body><p>n &lt; 10\u202f%<span> x</span></p><td>1</td><td>2\u00a0000</td></body></html>"
    )
    assert visible_text(document) == "A & B\nn < 10 % x\n1\n2 000\n"


if __name__ == "__main__":
    for locale, document in reference_reports().items():
        path = REFERENCE / f"report_text_{locale}.txt"
        path.write_text(visible_text(document), encoding="utf-8")
        print(f"wrote {path}")


def test_only_checked_svg_is_trusted_markup():
    from analysis.snapshot import report

    svg = '<svg xmlns="http://www.w3.org/2000/svg"><g id="a"><text>B&amp;You</text></g></svg>'
    out = report.trusted_svg(svg, "fig", 'Délais "x" <y>')
    assert out.startswith('<svg role="img" aria-label="Délais &#34;x&#34; &lt;y&gt;">')
    assert 'id="fig-0"' in out and "B&amp;You" in out and "xmlns" not in out
    for unsafe in (
        '<svg width="1"><script>alert(1)</script></svg>',
        '<svg width="1"><rect onload="alert(1)"/></svg>',
        '<svg width="1"><foreignObject><p>x</p></foreignObject></svg>',
        '<svg width="1"><a href="javascript:alert(1)">x</a></svg>',
        "<p>not an svg</p>",
    ):
        with pytest.raises(ValueError, match="`svg`"):
            report.trusted_svg(unsafe, "fig", "label")


def test_no_hand_escaping_left_in_the_snapshot():
    folder = Path(snapshot.__file__).parent
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "html.escape" not in text and "import html" not in text, path.name
        if path.name != "report.py":
            assert "Markup" not in text, path.name


def test_user_text_is_escaped_in_the_report(reports):
    """A company outside the list brings free text; it never reaches the page, and the names
    that do (B&You) are escaped by the templates."""
    for document in reports.values():
        assert "Évil" not in document and "<b>" not in document
        assert "B&amp;You" in document and "B&You<" not in document
