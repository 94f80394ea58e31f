"""The Streamlit pages of synth; app.py only lays them out with st.navigation.

Each page is a script (`search.py`, `gap_map.py`, `corpus.py`) whose `main()` runs when
Streamlit executes it; shared helpers (query-string state, cached resources, the basket, result
cards) are plain modules so tests can import them without starting a page.
"""
