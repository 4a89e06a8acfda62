"""Data passed between steps: ``${setup.agent.id}`` in any string of a scenario (R1.5).

References are checked when a scenario is loaded (a step that does not exist,
or an environment variable that is not set, is an error on the line that
names it) and resolved when it runs, from the JSON responses of setup steps,
the environment, the target and the run. ``${env.NAME:-value}`` declares a
default, as in a shell: it is used when the reference has no value or an
empty one, so a reference with a default never fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chaosgate.exceptions import ChaosgateError
from chaosgate.suggest import closest

TEMPLATE_RE = re.compile(r"\$\{([^{}]*)\}")
ROOTS = ("setup", "env", "target", "run")
DEFAULT_MARK = ":-"


class TemplateError(ChaosgateError):
    """A reference that names nothing; the message says what could be named.

    At run time it ends the scenario as `error` with this one-line reason.
    """

    def __init__(self, message: str, *, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


@dataclass(frozen=True)
class Reference:
    """One ``${...}``: its dotted parts and the default after ``:-``, if declared."""

    parts: tuple[str, ...]
    default: str | None = None

    @classmethod
    def parse(cls, expression: str) -> Reference:
        name, mark, default = expression.partition(DEFAULT_MARK)
        name = name.strip()
        return cls(tuple(name.split(".")) if name else (), default if mark else None)

    @property
    def text(self) -> str:
        default = f"{DEFAULT_MARK}{self.default}" if self.default is not None else ""
        return f"${{{'.'.join(self.parts)}{default}}}"


def references(text: str) -> Iterator[Reference]:
    """Each ``${...}`` in `text`."""
    for match in TEMPLATE_RE.finditer(text):
        yield Reference.parse(match.group(1))


def check_reference(reference: Reference, setup_steps: list[str], environ: Mapping[str, str]) -> None:
    """Raise :class:`TemplateError` unless `reference` can resolve in a run with `environ`."""
    parts = reference.parts
    if not parts or not all(parts):
        raise TemplateError("empty reference: write e.g. `${setup.agent.id}` or `${env.TOKEN}`")
    root = parts[0]
    if root not in ROOTS:
        raise TemplateError(
            f"`{reference.text}` must start with one of {', '.join(ROOTS)}", suggestion=closest(root, ROOTS)
        )
    if len(parts) < 2:
        raise TemplateError(f"`${{{root}}}` needs a name after `{root}.`")
    if root == "setup" and parts[1] not in setup_steps:
        known = ", ".join(f"`{s}`" for s in setup_steps) or "none defined"
        raise TemplateError(
            f"`{reference.text}` names setup step `{parts[1]}`, not defined before it ({known})",
            suggestion=closest(parts[1], setup_steps),
        )
    if root == "env":
        _check_env(reference, environ)


def _check_env(reference: Reference, environ: Mapping[str, str]) -> None:
    name = reference.parts[1]
    if len(reference.parts) > 2:
        raise TemplateError(f"`{reference.text}`: an environment variable is a string, it has no fields")
    if reference.default is None and name not in environ:
        raise TemplateError(
            f"environment variable `{name}` is not set: set it, or declare a default "
            f"as in `${{env.{name}:-value}}`",
            suggestion=closest(name, environ),
        )


def _lookup(context: Mapping[str, Any], reference: Reference) -> Any:
    node: Any = context
    for part in reference.parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif reference.default is not None:
            return reference.default
        else:
            raise TemplateError(f"`{reference.text}` has no value at `{part}`")
    if reference.default is not None and node in ("", None):
        return reference.default
    return node


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every reference replaced; a string that is one reference keeps its type."""
    if isinstance(value, str):
        whole = TEMPLATE_RE.fullmatch(value)
        if whole:
            return _lookup(context, Reference.parse(whole.group(1)))
        return TEMPLATE_RE.sub(lambda m: str(_lookup(context, Reference.parse(m.group(1)))), value)
    if isinstance(value, list):
        return [render(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    return value
