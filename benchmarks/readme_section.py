"""Write one benchmark's figures into its own marked section of benchmarks/README.md.

Each benchmark script owns the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
and rewrites only that, so scripts can run in any order.
"""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).with_name("README.md")


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` of benchmarks/README.md with ``markdown``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    block = f"{start}\n{markdown.strip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)
