"""A YAML loader that remembers where every value came from.

Validation errors are only useful when they point at the line a person has to
edit, so loading returns, next to the plain Python data, a map from each
value's path (a tuple of keys and indexes) to its span in the file. Duplicate
keys, which PyYAML silently collapses, are reported as errors here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaosgate.exceptions import ScenarioError, SourceSpan

PathKey = tuple[str | int, ...]
"""The location of a value inside a document: mapping keys and list indexes."""


@dataclass(frozen=True)
class Mark:
    """Start and end of a node; 0-based as PyYAML counts, converted on output."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass
class MarkedDocument:
    """One YAML document: its data, its source text and the marks of its values."""

    file: str
    text: str
    data: Any
    index: int
    values: dict[PathKey, Mark] = field(default_factory=dict)
    keys: dict[PathKey, Mark] = field(default_factory=dict)

    def mark_for(self, path: PathKey, *, key: bool = False) -> Mark | None:
        """The mark of the value at `path`, or of its closest marked ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]

    def span_for(self, path: PathKey, *, key: bool = False, brief: bool = False) -> SourceSpan:
        """Where the value at `path` stands; `brief` keeps only its first line."""
        mark = self.mark_for(path, key=key)
        if mark is None:
            return SourceSpan(self.file, 1, 1)
        last = None if brief else _last_line(self.text, mark) + 1
        return SourceSpan(self.file, mark.line + 1, mark.column + 1, last)

    def excerpt(self, path: PathKey, *, key: bool = False, brief: bool = False) -> str:
        """The numbered source lines of the value at `path` (its first line when `brief`)."""
        mark = self.mark_for(path, key=key)
        if mark is None:
            return ""
        return excerpt(self.text, mark.line, mark.line if brief else _last_line(self.text, mark))


def _last_line(text: str, mark: Mark) -> int:
    """The last line a node really occupies: PyYAML ends block nodes on the next line."""
    end = mark.end_line
    if end > mark.line and mark.end_column == 0:
        end -= 1
    lines = text.splitlines()
    while end > mark.line and end < len(lines) and not lines[end].strip():
        end -= 1
    return end


def excerpt(text: str, first: int, last: int, *, context: int = 1, limit: int = 8) -> str:
    """The offending lines (0-based first..last) with a margin, numbered and marked."""
    lines = text.splitlines()
    if not lines:
        return ""
    last = min(max(last, first), first + limit - 1, len(lines) - 1)
    first = min(first, len(lines) - 1)
    start = max(first - context, 0)
    stop = min(last + context, len(lines) - 1)
    width = len(str(stop + 1))
    out = []
    for number in range(start, stop + 1):
        pointer = ">" if first <= number <= last else " "
        out.append(f"  {pointer} {number + 1:>{width}} | {lines[number]}")
    return "\n".join(out)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)


class _Walker:
    """Records the marks of a composed node tree, keyed like the constructed data."""

    def __init__(self, doc: MarkedDocument, constructor: yaml.constructor.SafeConstructor) -> None:
        self.doc = doc
        self.constructor = constructor
        self.seen: set[int] = set()

    def walk(self, node: yaml.Node, path: PathKey) -> None:
        self.doc.values[path] = _mark(node)
        if id(node) in self.seen:  # an alias: its marks are recorded once
            return
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._walk_mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))

    def _walk_mapping(self, node: yaml.MappingNode, path: PathKey) -> None:
        self.constructor.flatten_mapping(node)
        first_seen: dict[object, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ScenarioError(
                    "a mapping key must be a plain value, not a list or a mapping",
                    span=_span(self.doc, key_node),
                    excerpt=_excerpt(self.doc, key_node),
                ) from None
            if key in first_seen:
                raise ScenarioError(
                    f"duplicate key `{key}` (first given on line {first_seen[key].start_mark.line + 1})",
                    span=_span(self.doc, key_node),
                    expected="each key once per mapping",
                    excerpt=_excerpt(self.doc, key_node),
                )
            first_seen[key] = key_node
            child: PathKey = (*path, key if isinstance(key, str | int) else str(key))
            self.doc.keys[child] = _mark(key_node)
            self.walk(value_node, child)


def _span(doc: MarkedDocument, node: yaml.Node) -> SourceSpan:
    return SourceSpan(doc.file, node.start_mark.line + 1, node.start_mark.column + 1)


def _excerpt(doc: MarkedDocument, node: yaml.Node) -> str:
    return excerpt(doc.text, node.start_mark.line, node.end_mark.line)


def _syntax_error(file: str, text: str, error: yaml.YAMLError) -> ScenarioError:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = error.problem or "invalid YAML"
        context = f" {error.context}" if error.context else ""
        return ScenarioError(
            f"YAML syntax error: {problem}{context}",
            span=SourceSpan(file, mark.line + 1, mark.column + 1),
            expected="well-formed YAML",
            excerpt=excerpt(text, mark.line, mark.line),
        )
    return ScenarioError(f"YAML syntax error: {error}", span=SourceSpan(file, 1, 1))


def iter_documents(file: str, text: str) -> Iterator[MarkedDocument]:
    """Every non-empty document of `text`, with marks; syntax errors become ScenarioError."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters right here
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None or _is_empty(node):
                continue
            doc = MarkedDocument(file=file, text=text, data=None, index=index)
            _Walker(doc, loader).walk(node, ())
            doc.data = loader.construct_document(node)
            index += 1
            yield doc
    except yaml.YAMLError as error:
        raise _syntax_error(file, text, error) from None
    except RecursionError:
        raise ScenarioError("YAML nesting is too deep", span=SourceSpan(file, 1, 1)) from None
    finally:
        if loader is not None:
            loader.dispose()


def _is_empty(node: yaml.Node) -> bool:
    """A document with nothing in it (a stray `---`), which is no scenario at all."""
    is_null = isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
    return is_null and node.value in ("", "~")


def load_file(path: Path) -> list[MarkedDocument]:
    """All documents of a file; unreadable files are reported like any other input error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(f"not UTF-8 text: {error.reason}", span=SourceSpan(str(path), 1, 1)) from None
    except OSError as error:
        raise ScenarioError(f"cannot read file: {error.strerror}", span=SourceSpan(str(path), 1, 1)) from None
    return list(iter_documents(str(path), text))
