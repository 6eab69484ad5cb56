"""Reading user YAML with limits: size and alias expansion bounded, every parser error one located line.

Strategy specs come from users and from the internet; a few lines of nested anchors
("billion laughs") expand to billions of nodes once OmegaConf copies them. Every spec is
composed here first (linear in the file's size, aliases not expanded), its expanded size
counted, duplicate keys refused, and only then handed to OmegaConf or Hydra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

from qt.errors import ConfigError

MAX_BYTES = 1_000_000  # a strategy spec is a few kB; refuse anything over 1 MB unread
MAX_NODES = 100_000  # nodes after expanding every alias
MAX_ALIASES = 1_000  # alias uses (``*name``) in one file


def where(path: str | os.PathLike[str], mark: Any) -> str:
    """``file:line:col`` (1-based) of a PyYAML mark."""
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


def compose_file(path: str | os.PathLike[str]) -> yaml.Node | None:
    r"""The YAML node tree of ``path`` after the size, alias and duplicate-key checks; ConfigError names file:line:col.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "s.yaml")
    >>> _ = open(f, "w").write("a: 1\na: 2\n")
    >>> try:
    ...     compose_file(f)
    ... except ConfigError as exc:
    ...     print(str(exc).split(":", 3)[-1].strip())
    duplicate key 'a' (first at line 1); keep one
    """
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if size > MAX_BYTES:
        raise ConfigError(
            str(path), f"{size:,} bytes is over the {MAX_BYTES:,}-byte limit for a YAML spec; is it the right file?"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _located(path, exc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"invalid YAML: {exc}") from None
    if root is not None:
        _check_expansion(path, root)
        _check_duplicates(path, root)
    return root


def load_file(path: str | os.PathLike[str]) -> DictConfig | ListConfig:
    """``OmegaConf.load(path)`` after ``compose_file``'s checks; parser errors as one located ConfigError."""
    compose_file(path)
    try:
        return OmegaConf.load(Path(path))
    except yaml.MarkedYAMLError as exc:
        raise _located(path, exc) from None
    except Exception as exc:
        raise ConfigError(str(path), f"not readable as a config: {exc}") from None


def _located(path: str | os.PathLike[str], exc: yaml.MarkedYAMLError) -> ConfigError:
    """One line: the problem where the parser stopped, and the construct it was reading."""
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc.context or "invalid YAML").strip()
    if "'\\t'" in problem:
        problem = "a tab character; YAML indents with spaces only"
    context = str(exc.context or "").strip()
    if context and exc.problem and exc.context_mark is not None and exc.context_mark is not mark:
        problem += f" ({context} at line {exc.context_mark.line + 1})"
    return ConfigError(where(path, mark) if mark is not None else str(path), f"invalid YAML: {problem}")


def _check_expansion(path: str | os.PathLike[str], root: yaml.Node) -> None:
    """Refuse recursive aliases and documents whose aliases expand past MAX_NODES / MAX_ALIASES."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    uses = 0

    def size(node: yaml.Node) -> int:
        nonlocal uses
        key = id(node)
        if key in sizes:
            uses += 1
            if uses > MAX_ALIASES:
                raise ConfigError(where(path, node.start_mark), f"more than {MAX_ALIASES} alias uses; refused")
            return sizes[key]
        if key in open_nodes:
            raise ConfigError(where(path, node.start_mark), "an alias refers to the node that contains it; refused")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        open_nodes.discard(key)
        if total > MAX_NODES:
            raise ConfigError(
                where(path, node.start_mark),
                f"anchors and aliases expand to more than {MAX_NODES:,} nodes; refused (write the values out)",
            )
        sizes[key] = total
        return total

    size(root)


def _check_duplicates(path: str | os.PathLike[str], root: yaml.Node) -> None:
    """A key written twice in one mapping (YAML keeps the last silently in many tools; qt refuses)."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, Any] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in first:
                        raise ConfigError(
                            where(path, k.start_mark),
                            f"duplicate key '{k.value}' (first at line {first[k.value].line + 1}); keep one",
                        )
                    first[k.value] = k.start_mark
                stack.extend((k, v))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
