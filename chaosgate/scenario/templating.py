"""Data passed between steps: ``${setup.agent.id}`` in any string of a scenario (R1.5).

References are checked when a scenario is loaded (a step that does not exist
is an error on the line that names it) and resolved when it runs, from the
JSON responses of setup steps, the environment, the target and the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

TEMPLATE_RE = re.compile(r"\$\{([^{}]*)\}")
ROOTS = ("setup", "env", "target", "run")


class TemplateError(ValueError):
    """A reference that names nothing; the message says what could be named."""


def references(text: str) -> Iterator[tuple[str, ...]]:
    """The dotted parts of each ``${...}`` in `text`."""
    for match in TEMPLATE_RE.finditer(text):
        expression = match.group(1).strip()
        yield tuple(expression.split(".")) if expression else ()


def check_reference(parts: tuple[str, ...], setup_steps: list[str]) -> None:
    """Raise :class:`TemplateError` unless `parts` can resolve in a run."""
    if not parts or not all(parts):
        raise TemplateError("empty reference: write e.g. `${setup.agent.id}` or `${env.TOKEN}`")
    root = parts[0]
    if root not in ROOTS:
        raise TemplateError(f"`${{{'.'.join(parts)}}}` must start with one of {', '.join(ROOTS)}")
    if len(parts) < 2:
        raise TemplateError(f"`${{{root}}}` needs a name after `{root}.`")
    if root == "setup" and parts[1] not in setup_steps:
        known = ", ".join(f"`{s}`" for s in setup_steps) or "none defined"
        raise TemplateError(
            f"`${{{'.'.join(parts)}}}` names setup step `{parts[1]}`, not defined before it ({known})"
        )


def _lookup(context: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    node: Any = context
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise TemplateError(f"`${{{'.'.join(parts)}}}` has no value at `{part}`")
    return node


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every reference replaced; a string that is one reference keeps its type."""
    if isinstance(value, str):
        whole = TEMPLATE_RE.fullmatch(value)
        if whole:
            return _lookup(context, tuple(whole.group(1).strip().split(".")))
        return TEMPLATE_RE.sub(lambda m: str(_lookup(context, tuple(m.group(1).strip().split(".")))), value)
    if isinstance(value, list):
        return [render(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    return value
