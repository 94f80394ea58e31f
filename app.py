"""synth in the browser: a shell of pages; every page lives in synth.ui, all logic in synth.

Run with `synth serve` (or `streamlit run app.py`). SYNTH_INDEX picks the index directory and
SYNTH_CORPUS the folder uploads are saved to.
"""

from __future__ import annotations

import streamlit as st

from synth.ui import basket, nav, resources

st.set_page_config(page_title="synth: evidence search", page_icon="📚", layout="wide")
page = st.navigation(nav.pages())
basket.sidebar(resources.open_index())
page.run()
