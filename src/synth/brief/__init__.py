"""Briefs: from hits (or a basket of chunk ids) to themes, key messages and verified quotes,
rendered through Jinja2 templates and exported as Markdown, HTML, PDF, DOCX or JSON.

In: hits from `synth.search` and the `Index` they came from. Out: `BriefContent` and files.
Must not import: synth.toolkit, synth.ui, synth.cli.
"""
