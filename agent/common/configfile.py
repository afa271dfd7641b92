"""Strict YAML configuration: typed dataclasses, unknown keys rejected, errors with file and line.

Shared by agent and hub. A config dataclass has a default and a one-line description for every field
(`setting(default, "why")`); nested sections are nested dataclasses. An error reads
`agent.yaml:12: mqtt.port: 'abc' is not an integer`. Validation never touches the network.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

T = TypeVar("T")
CONFIG_VERSION = 1
NUMBER_MAX = 2**53  # the largest integer a setting may have (a float, any finite value)


class ConfigError(ValueError):
    """A config file that cannot be accepted; the message names file, line, key and the problem."""


def setting(default: Any, description: str) -> Any:
    """A config field with its default and its one-line description."""
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={"doc": description})
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata={"doc": description})
    return dataclasses.field(default=default, metadata={"doc": description})


def section(cls: type[Any], description: str) -> Any:
    """A nested config section, defaulting to its own defaults."""
    return dataclasses.field(default_factory=cls, metadata={"doc": description})


def _where(source: str, node: yaml.Node) -> str:
    return f"{source}:{node.start_mark.line + 1}"


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _convert(source: str, path: str, node: yaml.Node, typ: Any) -> Any:
    origin = typing.get_origin(typ)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return None
        return _convert(source, path, node, args[0])
    if dataclasses.is_dataclass(typ):
        if not isinstance(node, yaml.MappingNode):
            raise ConfigError(f"{_where(source, node)}: {path}: must be a mapping of settings")
        return _build(source, path, node, typ)  # type: ignore[arg-type]
    if origin is list:
        (item,) = typing.get_args(typ)
        if not isinstance(node, yaml.SequenceNode):
            raise ConfigError(f"{_where(source, node)}: {path}: must be a list")
        return [_convert(source, f"{path}[{i}]", n, item) for i, n in enumerate(node.value)]
    if origin is dict:
        _, vt = typing.get_args(typ)
        if not isinstance(node, yaml.MappingNode):
            raise ConfigError(f"{_where(source, node)}: {path}: must be a mapping")
        return {k.value: _convert(source, f"{path}.{k.value}", v, vt) for k, v in node.value}
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"{_where(source, node)}: {path}: must be {_TYPE_WORDS.get(typ, typ)}")
    value = yaml.safe_load(yaml.serialize(node))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typ is str and isinstance(value, int | float) and not isinstance(value, bool):
        value = node.value
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        expected = _TYPE_WORDS.get(typ, typ)
        raise ConfigError(f"{_where(source, node)}: {path}: {node.value!r} is not {expected}")
    if (typ is int and not -NUMBER_MAX <= value <= NUMBER_MAX) or (typ is float and not math.isfinite(value)):
        # no setting needs more; 10**30 or .nan is a typo that would overflow SQLite or poison every figure
        raise ConfigError(f"{_where(source, node)}: {path}: {node.value!r} is not a finite number up to 2^53")
    return value


def _build(source: str, prefix: str, node: yaml.MappingNode, cls: type[T]) -> T:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        path = f"{prefix}.{key}" if prefix else key
        if prefix == "" and key == "version":
            continue
        if key not in known:
            choices = ", ".join(sorted(known))
            raise ConfigError(f"{_where(source, key_node)}: {path}: unknown setting (known: {choices})")
        if key in kwargs:
            raise ConfigError(f"{_where(source, key_node)}: {path}: given twice")
        kwargs[key] = _convert(source, path, value_node, hints[key])
    try:
        obj = cls(**kwargs)
        check = getattr(obj, "check", None)
        if check is not None:
            check()
    except ValueError as exc:
        # point at the setting the check is about: the first key named (as a word) in its message
        for key_node, _ in node.value:
            if re.search(rf"\b{re.escape(key_node.value)}\b", str(exc)):
                path = f"{prefix}.{key_node.value}" if prefix else key_node.value
                raise ConfigError(f"{_where(source, key_node)}: {path}: {exc}") from None
        raise ConfigError(f"{_where(source, node)}: {prefix or 'config'}: {exc}") from None
    return obj


def path_problem(exc: OSError) -> str:
    """One CLI line for an OSError about a path the user gave: the path, the system's words, the fix.
    Both CLIs' last resort, so that a file where a folder goes is never a traceback."""
    where = f"{exc.filename}: " if exc.filename else ""
    if isinstance(exc, FileExistsError | NotADirectoryError):
        return f"{where}a file is in the way where a folder is needed (move it aside or give another path)"
    return f"{where}{exc.strerror or type(exc).__name__} (check the path given)"


MAX_CONFIG_BYTES = 1 << 20  # a config is a page or two; a larger file is a wrong path


def _read_text(path: Path) -> str:
    """The file as UTF-8 text; ConfigError naming the file (and line, for bytes that are not UTF-8)."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes: not a config file")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path.name}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8 text (save the "
                          "file as UTF-8)") from None


def load_config(path: str | Path | None, cls: type[T], text: str | None = None) -> T:
    """Load and check a config file (or `text`); no file means every default."""
    source = Path(path).name if path is not None else "<defaults>"
    if text is None:
        if path is None:
            return cls()
        text = _read_text(Path(path))
    try:
        root = yaml.compose(text)
    except yaml.reader.ReaderError as exc:  # a control character: a binary file, most likely
        at = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{source}:{at}: character {exc.character!r} is not allowed in YAML "
                          "(is this a binary file?)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{source}{line}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a config") from None
    if root is None:
        return cls()
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{source}:1: the file must be a mapping of settings")
    for k, v in root.value:
        if k.value == "version" and v.value != str(CONFIG_VERSION):
            raise ConfigError(
                f"{_where(source, v)}: version: {v.value!r} is not supported (use {CONFIG_VERSION})")
    return _build(source, "", root, cls)
