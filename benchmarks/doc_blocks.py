"""The generated blocks of the docs: the text between ``<!-- generated:KEY -->`` and
``<!-- /generated:KEY -->``, which the benchmarks rewrite and nobody edits by hand."""

from __future__ import annotations

from pathlib import Path

BEGIN, END = "<!-- generated:{} -->", "<!-- /generated:{} -->"


def replace_block(text: str, key: str, body: str) -> str | None:
    """``text`` with block ``key`` holding ``body``; None when ``text`` has no such block."""
    b, e = BEGIN.format(key), END.format(key)
    if b not in text or e not in text:
        return None
    head, rest = text.split(b, 1)
    return f"{head}{b}\n{body}\n{e}{rest.split(e, 1)[1]}"


def write_block(doc: Path, key: str, body: str, *, required: bool = False) -> bool:
    """Put ``body`` into block ``key`` of ``doc``; a missing block is an error when
    ``required`` (the command was asked to write it), else nothing is written."""
    text = doc.read_text() if doc.is_file() else ""
    new = replace_block(text, key, body)
    if new is None:
        if required:
            raise SystemExit(f"{doc} has no {BEGIN.format(key)} marker")
        return False
    doc.write_text(new)
    return True
