"""A config as annotated YAML: every key, its value and its one-line meaning, from the typed dataclasses.

`footfall-agent config --defaults` and `footfall-hub config --defaults` print it for the defaults,
`config --config FILE` for the effective settings of a file (the file's values, defaults for the rest).
agent/agent.example.yaml is this output for the defaults (a test keeps the two equal), so the example
cannot drift from the code. The text loads back (configfile.load_config) to the same config.

A list or mapping of sections (door sensors, stores) prints as its value, with, when it is empty, a
commented example item below it that names the item's keys, defaults and meanings.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import yaml

COMMENT_AT = 44  # the column descriptions start at, so the file reads as a table


def scalar(value: Any) -> str:
    """One YAML flow value: true, 900.0, "" or [1, 6, 11]."""
    if isinstance(value, str) and value == "":
        return '""'
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _line(indent: int, key: str, value: str, doc: str, prefix: str = "") -> str:
    head = f"{prefix}{' ' * indent}{key}:" + (f" {value}" if value else "")
    return f"{head.ljust(COMMENT_AT - 1)} # {doc}" if doc else head


def _item_type(typ: Any) -> Any:
    """The dataclass inside list[X] or dict[str, X], else None."""
    args = typing.get_args(typ)
    inner = args[-1] if args else None
    return inner if inner is not None and dataclasses.is_dataclass(inner) else None


def lines(obj: Any, indent: int = 0, prefix: str = "") -> list[str]:
    """The annotated lines of a config dataclass instance."""
    out: list[str] = []
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, doc = getattr(obj, f.name), f.metadata.get("doc", "")
        if dataclasses.is_dataclass(value):
            out.append(_line(indent, f.name, "", doc, prefix))
            out.extend(lines(value, indent + 2, prefix))
            continue
        item = _item_type(hints[f.name])
        if item is None or not value:
            out.append(_line(indent, f.name, scalar(value), doc, prefix))
        if item is None:
            continue
        if value and isinstance(value, list):
            out.append(_line(indent, f.name, "", doc, prefix))
            for element in value:
                first, *rest = lines(element, indent + 4, prefix)
                out.extend([f"{first[:indent + 2]}- {first[indent + 4:]}", *rest])
        elif value:
            out.append(_line(indent, f.name, "", doc, prefix))
            for key, element in value.items():
                out.append(_line(indent + 2, key, "", "", prefix))
                out.extend(lines(element, indent + 4, prefix))
        if value:
            continue
        each = "item of the list" if typing.get_origin(hints[f.name]) is list else "NAME: in the mapping"
        out.append(f"#{' ' * (indent + 1)} each {each} {f.name} has:")
        out.extend(lines(item(), indent + 4, prefix="#"))
    return out


def render(obj: Any, title: str) -> str:
    """The whole file: a title comment, `version: 1`, then every setting."""
    return "\n".join([f"# {title}", "version: 1", *lines(obj), ""])
