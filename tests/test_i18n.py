"""The one message catalogue (survey/messages/*.toml, read by survey.i18n) against the code.

Three ways a translation goes wrong, each a test: a message in one language only, a key used in
code but missing from the catalogue (the page would fail with MissingMessage), and a message no
code uses (a dead string that translators keep paying for). Uses are found by reading the
source (``ast``), across the whole tree (app.py, cli.py, survey/, analysis/ and the report
templates), so keys owned by other files of survey/messages/ are judged by the same rules.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from survey import i18n
from survey import questionnaire as qn
from survey.validation import Problem, validate_answers

ROOT = Path(__file__).resolve().parent.parent
LOOKUPS = {"t": 0, "pair": 0, "plural": 1}  # i18n function -> position of the key argument
ERROR_PREFIX = "error."
TEXT = re.compile(r"[A-Za-zÀ-ÿ]")
TEMPLATE_SUFFIXES = (".html", ".j2", ".jinja", ".txt")
TEMPLATE_LOOKUP = re.compile(r"""\b(t|pair)\(\s*["']([A-Za-z0-9_.]+)["']""")
TEMPLATE_PLURAL = re.compile(r"""\bplural\([^,()]+,\s*["']([A-Za-z0-9_.]+)["']""")
TEMPLATE_LITERAL = re.compile(r"""["']([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)["']""")


def source_files() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "cli.py"]
    for package in ("survey", "analysis"):
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if f.exists()]


def template_files() -> list[Path]:
    return sorted(
        f
        for package in ("survey", "analysis")
        for f in (ROOT / package).rglob("*")
        if f.suffix in TEMPLATE_SUFFIXES and f.is_file()
    )


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def text_of(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def argument(call: ast.Call, position: int, name: str) -> ast.AST | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), None)


class Uses:
    """What the source asks of the catalogue, and every string literal it holds."""

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {}  # key -> files asking for it by an i18n call
        self.plural_bases: set[str] = set()
        self.error_codes: set[str] = set()  # codes the validation can produce
        self.literals: set[str] = set()
        self.prefixes: set[str] = set()  # f"prefix.{name}": a family of keys chosen at run time

    def ask(self, key: str, where: Path) -> None:
        self.keys.setdefault(key, set()).add(str(where.relative_to(ROOT)))

    def read_module(self, path: Path, source: str | None = None) -> None:
        if source is None:
            source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        modules, functions = self._i18n_names(tree, path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.literals.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = text_of(node.values[0])
                if head and head.endswith(".") and len(node.values) > 1:
                    self.prefixes.add(head)
            elif isinstance(node, ast.Call):
                self._read_call(node, path, modules, functions)
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id.endswith("_CODES") for t in node.targets)
            ):
                # Tables translating another library's error types into ours (`*_CODES`).
                self.error_codes |= {text_of(v) for v in node.value.values if text_of(v)}

    @staticmethod
    def _i18n_names(tree: ast.Module, path: Path) -> tuple[set[str], dict[str, str]]:
        """Names under which this module reaches survey.i18n and its lookup functions."""
        modules, functions = set(), {}
        in_survey = path.parent == ROOT / "survey"
        if path == ROOT / "survey" / "i18n.py":
            functions = {name: name for name in LOOKUPS}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "survey.i18n":
                        modules.add(alias.asname or "survey.i18n")
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 1 and in_survey:
                    module = f"survey.{module}" if module else "survey"
                for alias in node.names:
                    if module == "survey" and alias.name == "i18n":
                        modules.add(alias.asname or "i18n")
                    elif module == "survey.i18n" and alias.name in LOOKUPS:
                        functions[alias.asname or alias.name] = alias.name
        return modules, functions

    def _read_call(self, call: ast.Call, path: Path, modules, functions) -> None:
        target = dotted(call.func) or ""
        head, _, attr = target.rpartition(".")
        function = functions.get(target) or (attr if head in modules and attr in LOOKUPS else None)
        last = target.rsplit(".", 1)[-1]
        if function is not None:
            node = argument(call, LOOKUPS[function], "key")
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                head = text_of(node.left)  # t("dashboard.tab." + name, ...)
                if head and head.endswith("."):
                    self.prefixes.add(head)
            key = text_of(node)
            if key is None:
                return
            if function == "plural":
                self.plural_bases.add(key)
                self.ask(f"{key}.one", path)
                self.ask(f"{key}.other", path)
            else:
                self.ask(key, path)
        elif last == "plural":  # a helper of the same name: its key still counts as a use
            key = text_of(argument(call, 1, "key"))
            if key:
                self.plural_bases.add(key)
        elif last == "error_message":
            code = text_of(argument(call, 0, "code"))
            if code:
                self.error_codes.add(code)
        elif last in ("Problem", "add") and len(call.args) >= 2 and text_of(call.args[1]):
            self.error_codes.add(text_of(call.args[1]))  # Problem(field, code) and its helper
        elif target.endswith("_CODES.get") and len(call.args) >= 2 and text_of(call.args[1]):
            self.error_codes.add(text_of(call.args[1]))  # the fallback code

    def read_template(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        for _, key in TEMPLATE_LOOKUP.findall(text):
            if key.endswith("."):  # t("report.file." ~ name): a family chosen at run time
                self.prefixes.add(key)
            else:
                self.ask(key, path)
        for base in TEMPLATE_PLURAL.findall(text):
            self.plural_bases.add(base)
            self.ask(f"{base}.one", path)
            self.ask(f"{base}.other", path)
        self.literals |= set(TEMPLATE_LITERAL.findall(text))

    def uses(self, key: str) -> bool:
        if key in self.literals:
            return True
        base, _, form = key.rpartition(".")
        if form in ("one", "other") and base in self.plural_bases:
            return True
        if key.startswith(ERROR_PREFIX):
            # Reached through its code (qn.error_message builds the key): judged by the codes
            # the validation can produce, not by the f-string that joins them.
            return key.removeprefix(ERROR_PREFIX) in self.error_codes
        if "." in base and base in self.literals:
            return True  # f"{stem}.{choice}" with stem = "design.interaction": a family
        return any(key.startswith(prefix) for prefix in self.prefixes if prefix != ERROR_PREFIX)


@cache
def uses() -> Uses:
    found = Uses()
    for path in source_files():
        found.read_module(path)
    for path in template_files():
        found.read_template(path)
    return found


def test_every_message_exists_in_both_languages_with_the_same_placeholders():
    assert i18n.catalogue_problems() == []


def test_the_scanner_sees_the_survey_side():
    """A guard on the guard: if the scanner stopped finding uses, the next tests would pass
    for nothing."""
    found = uses()
    assert {"form.next", "form.step", "delete.button", "app.page.form", "language"} <= set(
        found.keys
    )
    assert {"required", "too_large", "ended_before_started", "invalid"} <= found.error_codes


def test_every_key_used_in_code_is_in_the_catalogue():
    catalogue = i18n.catalogue()
    missing = {key: sorted(files) for key, files in uses().keys.items() if key not in catalogue}
    assert missing == {}


def test_every_error_code_has_a_message():
    catalogue = i18n.catalogue()
    missing = sorted(c for c in uses().error_codes if f"{ERROR_PREFIX}{c}" not in catalogue)
    assert missing == []


def test_no_message_is_dead():
    dead = sorted(key for key in i18n.catalogue() if not uses().uses(key))
    assert dead == []


def test_the_scanner_finds_a_missing_key_and_a_dead_one():
    """The checks above can fail: a made-up page (parsed, never written) asking for an
    unknown key and a plural family, and a key that nothing asks for."""
    probe = Uses()
    probe.read_module(
        ROOT / "survey" / "probe_page.py",
        "from survey import i18n\n"
        "from survey.i18n import plural as pl\n"
        "i18n.t('form.no_such_key', 'fr')\n"
        "pl(3, 'probe.items', 'fr')\n"
        "Problem('csat', 'probe_code')\n",
    )
    assert set(probe.keys) == {"form.no_such_key", "probe.items.one", "probe.items.other"}
    assert "form.no_such_key" not in i18n.catalogue()
    assert probe.error_codes == {"probe_code"}
    assert probe.uses("probe.items.one") and probe.uses("error.probe_code")
    assert not probe.uses("form.next") and not probe.uses("error.required")


def test_every_validation_code_is_worded_in_both_languages():
    """Run the rules: every problem they report reads as its own message, never the generic
    fallback, in French and in English."""
    answers = {
        "company": "other",
        "problem": "outage",
        "started_on": date(1999, 12, 31),
        "status": "resolved",
        "ended_on": date(1999, 12, 1),
        "technician_visits": 1,
        "technician_visits_useless": 2,
        "csat": 9,
        "nps": -1,
        "wasted_trips": "two",
        "contact_email": "nope",
        "narrative": "x" * (qn.NARRATIVE_MAX_CHARS + 1),
        "not_a_question": 1,
    }
    problems = validate_answers(answers, today=date(2026, 6, 15)).problems
    assert {p.code for p in problems} >= {"too_early", "too_large", "too_small", "too_long"}
    for p in problems:
        for locale in i18n.LOCALES:
            text = p.message(locale)
            assert "{" not in text, (p, text)
            if p.code != "invalid":
                assert text != qn.error_message("invalid", locale), p
    assert Problem("started_on", "too_early", {"earliest": qn.EARLIEST_DATE}).message("fr") == (
        "Date antérieure au 01/01/2000."
    )


SURVEY_PAGES = (
    "app.py",
    "survey/form_page.py",
    "survey/delete_page.py",
    "survey/update_page.py",
    "survey/resume_page.py",
    "survey/accessibility_page.py",
)
SHOWN = {
    "title",
    "header",
    "subheader",
    "write",
    "markdown",
    "caption",
    "info",
    "success",
    "warning",
    "error",
    "button",
    "text_input",
    "text_area",
    "number_input",
    "date_input",
    "selectbox",
    "radio",
    "checkbox",
    "segmented_control",
    "progress",
    "metric",
    "Page",
}
SHOWN_KEYWORDS = {"label", "placeholder", "help", "text", "title", "page_title"}


def has_text(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(TEXT.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(has_text(part) for part in node.values if isinstance(part, ast.Constant))
    return False


@pytest.mark.parametrize("page", SURVEY_PAGES)
def test_survey_pages_hand_streamlit_no_literal_text(page):
    """Everything the survey side shows comes from the catalogue or the questionnaire."""
    path = ROOT / page
    literal = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in SHOWN:
            continue
        # st.Page's first argument is the script's path, not text.
        positional = node.args[:0] if node.func.attr == "Page" else node.args[:1]
        shown = positional + [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        literal += [f"line {node.lineno}: {ast.unparse(v)}" for v in shown if has_text(v)]
    assert literal == []


METHODOLOGY = {locale: ROOT / "docs" / f"methodology.{locale}.md" for locale in i18n.LOCALES}
CODE_SPAN = re.compile(r"`[^`]+`")


def outline(text: str) -> dict:
    """What two translations of the methodology must share: headings, code, formulas, tables,
    references."""
    return {
        "headings": [len(h) for h in re.findall(r"^(#+) ", text, re.M)],
        "section_numbers": re.findall(r"^#+ (\d+(?:\.\d+)?)", text, re.M),
        "code": sorted(CODE_SPAN.findall(text)),
        "display_formulas": text.count("$$"),
        "table_rows": len(re.findall(r"^\|", text, re.M)),
        "references": len(re.findall(r"^- [A-Z]", text, re.M)),
    }


def test_the_methodology_says_the_same_thing_in_both_languages():
    texts = {locale: path.read_text(encoding="utf-8") for locale, path in METHODOLOGY.items()}
    assert texts["fr"].splitlines()[0] == "*[English version](methodology.en.md)*"
    assert texts["en"].splitlines()[0] == "*[Version française](methodology.fr.md)*"
    assert texts["fr"].splitlines()[2] == "# Méthodologie"
    assert outline(texts["fr"]) == outline(texts["en"])


def test_the_french_methodology_writes_numbers_the_french_way():
    prose = CODE_SPAN.sub("", METHODOLOGY["fr"].read_text(encoding="utf-8"))
    prose = re.sub(r"^#.*$", "", prose, flags=re.M)
    prose = re.sub(r"(section|scipy) \d+\.\d+", "", prose)
    assert re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", prose) == []
    assert re.findall(r"\d%", prose) == []  # a (narrow no-break) space before %
    for written in ("0,05", "1{,}96", "0,5", "2\u202f000", "95\u202f%", "intervalle de confiance"):
        assert written in prose
    assert "censure" in prose and "censuré" in prose
