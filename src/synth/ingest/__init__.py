"""Files to documents to chunks to vectors: the ingest stages, as pure functions.

In: file paths (and library metadata records). Out: `Document`, `Chunk`, tags and vectors.
Nothing here reads or writes an index, so stages can run in this process or on workers.
Must not import: synth.index, synth.search, synth.brief, synth.toolkit, synth.ui, synth.cli.
"""
