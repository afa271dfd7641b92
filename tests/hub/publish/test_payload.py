"""The data team's payload: one definition gives the schema, the README table and the encoder."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hub.publish import SCHEMA_VERSION, field_table, metrics_schema
from hub.publish.payload import NAMES, encode

README = (Path(__file__).resolve().parents[3] / "hub" / "README.md").read_text()


def test_schema_is_valid_and_requires_every_field() -> None:
    """The published JSON Schema is itself valid (draft 2020-12), requires every field and no other."""
    schema = metrics_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == list(NAMES)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["schema"]["const"] == SCHEMA_VERSION


def test_readme_documents_the_payload_fields_as_the_code_defines_them() -> None:
    """hub/README.md's field table is the one built from FIELDS, so docs and payload cannot drift."""
    assert field_table() in README


def test_encode_refuses_unknown_or_missing_fields() -> None:
    """A payload has exactly the documented fields: an extra or a missing one is a bug, not data."""
    with pytest.raises(KeyError, match="colour"):
        encode({"colour": "red"})
    with pytest.raises(KeyError):
        encode({"schema": 1})


def test_suppressed_may_only_name_nullable_fields() -> None:
    """`suppressed` names fields that can be null; anything else fails validation."""
    validator = jsonschema.Draft202012Validator(metrics_schema())
    items = metrics_schema()["properties"]["suppressed"]["items"]["enum"]
    assert "visitors_n" in items and "org" not in items
    assert not validator.is_valid(json.loads('{"suppressed": ["org"]}'))
