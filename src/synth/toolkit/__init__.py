"""Toolkit strands in the EEF style: records and conversions, the versioned store, evidence
linked from the index, import/export and the strand card.

In: curators' edits, linked passages from an `Index`. Out: `ToolkitEntry` versions and cards.
Must not import: synth.ui, synth.cli.
"""
