"""synth in the browser: a shell of pages; every page lives in synth.ui, all logic in synth.

Run with `synth serve` (or `streamlit run app.py`). SYNTH_INDEX picks the index directory,
SYNTH_CORPUS the folder uploads are saved to, SYNTH_TOOLKIT the toolkit store (baskets are
kept beside it, or at SYNTH_BASKETS).
"""

from __future__ import annotations

import streamlit as st

from synth.ui import basket, nav, resources, shell

st.set_page_config(
    page_title="synth: evidence search",
    page_icon="📚",
    layout="wide",
    initial_sidebar_state="auto",
)
shell.style()
page = st.navigation(nav.pages())
index = resources.open_index()
resources.damage_warning(index)
if opened := basket.open_shared(index):
    st.toast(opened)
basket.sidebar()
shell.run_page(page)
shell.page_script(page)
