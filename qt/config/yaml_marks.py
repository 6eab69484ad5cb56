"""Line and column of every key in a YAML file, so spec errors can say where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from qt.config.problems import Path as KeyPath


@dataclass(frozen=True)
class Mark:
    """1-based line and column in ``file``."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class YamlMarks:
    r"""Marks of each key (where the key starts) and each scalar value, by path.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "s.yaml")
    >>> _ = open(f, "w").write("a:\n  b: 5\n")
    >>> str(YamlMarks.load(f).find(("a", "b"), key=False)).endswith("s.yaml:2:6")
    True
    """

    keys: dict[KeyPath, Mark]
    values: dict[KeyPath, Mark]

    @classmethod
    def load(cls, path: str | Path) -> YamlMarks:
        """Parse ``path`` keeping marks (values are not constructed, so tags and ``${}`` are harmless)."""
        from qt.config.safe_yaml import compose_file

        name = str(path)
        root = compose_file(path)  # bounded: size, alias expansion, duplicate keys
        keys: dict[KeyPath, Mark] = {}
        values: dict[KeyPath, Mark] = {}

        def mark(node: yaml.Node) -> Mark:
            return Mark(name, node.start_mark.line + 1, node.start_mark.column + 1)

        def walk(node: yaml.Node | None, path: KeyPath) -> None:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    child = (*path, str(k.value))
                    keys[child] = mark(k)
                    values[child] = mark(v)
                    walk(v, child)
            elif isinstance(node, yaml.SequenceNode):
                for i, v in enumerate(node.value):
                    keys[(*path, i)] = values[(*path, i)] = mark(v)
                    walk(v, (*path, i))

        walk(root, ())
        return cls(keys, values)

    def find(self, path: KeyPath, *, key: bool = False) -> Mark | None:
        """The mark of ``path`` (its key, or its value), else of its nearest ancestor present in the file."""
        for n in range(len(path), 0, -1):
            sub = tuple(path[:n])
            table = self.keys if key or n < len(path) else self.values
            if sub in table:
                return table[sub]
        return None
