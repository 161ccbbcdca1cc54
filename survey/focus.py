"""Where the keyboard focus goes after a page changes under the person (WCAG 2.4.3): the script
a page renders (``st.html(focus.script(...), unsafe_allow_javascript=True)``) to move it to the
element that now matters, instead of leaving it on a button that vanished or on the page's top.
No Streamlit here: the pages render it."""

from __future__ import annotations

import json


def script(selector: str, text: str, move: int) -> str:
    """A script that focuses the first element matching ``selector`` whose text is ``text``
    (made focusable with ``tabindex=-1``: a screen reader reads it, the next Tab goes on from
    there), trying for up to 5 s while the page is drawn. ``move`` counts the page's moves: a
    new value makes the script new, so the browser runs it again, and each move focuses once.

    >>> "heading.focus()" in script(".st-key-x h3", "Title", 1)
    True
    """
    values = ", ".join(json.dumps(v) for v in (selector, text, move))
    return (
        "<script>(() => {const [selector, text, move] = ["
        + values
        + """];
if ((window.clientroiFocused || {})[selector] === move) return;
const started = Date.now();
const tryFocus = () => {
  const heading = [...document.querySelectorAll(selector)].find(
    (element) => element.textContent.trim() === text.trim());
  if (heading) {
    window.clientroiFocused = {...(window.clientroiFocused || {}), [selector]: move};
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  } else if (Date.now() - started < 5000) {
    setTimeout(tryFocus, 50);
  }
};
tryFocus();})();</script>"""
    )
