"""What every page shares: the app's style sheet and the guard around a page's run.

The style sheet only adds what Streamlit's themes lack: a focus ring every control shows
(page links included), and colours for synth's own HTML that read in light and dark themes.
The guard turns an unexpected error into one line; the traceback goes to the server log, never
to the browser, where it would show server paths.
"""

from __future__ import annotations

import json
import logging
import os

import streamlit as st

LOG = logging.getLogger("synth.app")

# Theme-aware colours: text inherits the theme's colour; tints are translucent, so they sit on
# a light or a dark background alike; the highlight sets its own dark text.
STYLE = """
<style>
:focus-visible, a:focus-visible, button:focus-visible, [role="tab"]:focus-visible,
[data-testid="stSidebarNav"] a:focus-visible, summary:focus-visible {
  outline: 3px solid currentColor !important; outline-offset: 2px !important;
  box-shadow: 0 0 0 5px rgba(37, 99, 235, .55) !important; border-radius: 4px;
}
.synth-muted { opacity: .85; }
/* Streamlit's captions and inline code fall short of 4.5:1 contrast: keep their look, darker. */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {
  color: inherit !important; opacity: .85; }
[data-testid="stMarkdownContainer"] code, [data-testid="stCaptionContainer"] code {
  color: inherit !important; }
/* A segmented control's chosen option is primary-coloured text on a primary tint: 4.48:1 in
   the light theme. Keep the tint and the border, and write it in the theme's text colour. */
[data-testid="stButtonGroup"] button[data-selected="true"],
[data-testid="stButtonGroup"] button[data-selected="true"] p { color: inherit !important;
  font-weight: 600; }
/* The sidebar's facet pills: a long value wraps inside its pill rather than losing its count
   to an ellipsis. */
[data-testid="stSidebar"] [data-testid="stButtonGroup"] button { height: auto;
  min-height: 2rem; text-align: left; }
[data-testid="stSidebar"] [data-testid="stButtonGroup"] button * { white-space: normal;
  overflow: visible; text-overflow: clip; height: auto; }
/* A table of long unbroken values (a build id, a path) wraps them rather than scrolling
   sideways at phone width: a scrolling table is a region a keyboard cannot reach (axe). */
[data-testid="stTableStyledTable"] { table-layout: fixed; width: 100%; }
[data-testid="stTable"] td, [data-testid="stTable"] th, [data-testid="stTable"] td * {
  white-space: normal !important; overflow-wrap: anywhere !important; }
.synth-sr { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
.synth-chip { display: inline-block; margin: .15rem .25rem 0 0; padding: .05rem .5rem;
  border-radius: 999px; background: rgba(59, 130, 246, .16); color: inherit; font-size: .8rem;
  border: 1px solid rgba(59, 130, 246, .45); }
mark.synth-best { background: #fde68a; color: #111827; padding: 0 .1em; border-radius: 2px; }
.synth-status { padding: 0 .45rem; border-radius: 999px; border: 1px solid currentColor; }
.synth-status.published { background: rgba(22, 163, 74, .18); }
ins.synth-ins { background: rgba(22, 163, 74, .25); text-decoration: underline; color: inherit; }
del.synth-del { background: rgba(220, 38, 38, .22); color: inherit; }
</style>
"""


# Streamlit's backgrounds (1.67), for what must be opaque (the gap map's sticky headers); the
# page script below then copies the background the app really shows, whichever theme it is.
BACKGROUNDS = {"light": "#ffffff", "dark": "#171614"}


def _background() -> str:
    return (
        f"<style>:root {{ --synth-bg: {BACKGROUNDS['light']}; }} "
        f"@media (prefers-color-scheme: dark) {{ :root {{ --synth-bg: {BACKGROUNDS['dark']}; }} }}"
        "</style>"
    )


def style() -> None:
    st.html(STYLE + _background())


# Our own script, no data in it. On a narrow screen the open sidebar covers most of the page,
# and Streamlit keeps it open from page to page (and across reloads): close it whenever another
# page is shown; reruns of the same page (ticking filters in the open sidebar) leave it alone.
# And keep --synth-bg equal to the app's background as the theme changes.
NARROW_PX = 736
_COLLAPSE = """
<script>
(() => {
  if (!window.synthBackground) {
    window.synthBackground = setInterval(() => {
      const app = document.querySelector('[data-testid="stApp"]');
      if (app) document.documentElement.style.setProperty(
        "--synth-bg", getComputedStyle(app).backgroundColor);
    }, 400);
  }
  const page = %s;
  const seen = sessionStorage.getItem("synth-page");
  sessionStorage.setItem("synth-page", page);
  if (seen === page || window.innerWidth > %d) return;
  const close = () => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    if (!bar || bar.getBoundingClientRect().right <= 0) return;
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button')
      || document.querySelector('[data-testid="stSidebarCollapseButton"]');
    if (button) button.click();
  };
  setTimeout(close, 50);
})();
</script>
"""


def page_script(page: st.Page) -> None:
    """Close the sidebar on a narrow screen when the page changes; follow the theme's colour."""
    st.html(
        _COLLAPSE % (json.dumps(page.url_path or "home"), NARROW_PX), unsafe_allow_javascript=True
    )


def run_page(page: st.Page) -> None:
    """Run a page; an error becomes one line on the page and a traceback in the server log.

    SYNTH_APP_RAISE=1 (the test suite sets it) lets errors through, so tests see them."""
    try:
        page.run()
    except Exception as exc:
        if os.environ.get("SYNTH_APP_RAISE") == "1":
            raise
        LOG.exception("page %s failed", page.title)
        st.error(
            f"This page hit an unexpected problem and stopped ({type(exc).__name__}). "
            "Nothing was changed. Reload to try again; the details are in the server log."
        )
