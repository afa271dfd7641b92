"""The data team's payload: one definition gives the schema, the README table and the encoder."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hub.publish import SCHEMA_VERSION, field_table, metrics_schema
from hub.publish.payload import NAMES, SCHEMA_FILE, encode, schema_text

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


def test_withheld_names_nullable_fields_with_a_known_reason() -> None:
    """`withheld` holds {field, reason}: a field that can be null and one of the documented reasons;
    anything else fails validation, so a consumer can rely on both."""
    validator = jsonschema.Draft202012Validator(metrics_schema())
    items = metrics_schema()["properties"]["withheld"]["items"]
    assert "visitors_n" in items["properties"]["field"]["enum"]
    assert "org" not in items["properties"]["field"]["enum"]
    assert items["properties"]["reason"]["enum"] == ["below_k", "complementary", "derived"]
    assert not validator.is_valid(json.loads('{"withheld": [{"field": "org", "reason": "below_k"}]}'))
    assert not validator.is_valid(json.loads('{"withheld": ["visitors_n"]}'))


def test_the_schema_file_in_the_repo_is_the_one_the_code_builds() -> None:
    """hub/publish/schema/metrics.schema.json is what the hub publishes on the schema topic: a data
    team may take it from the repo. Regenerate with `python -m hub.publish.schema`."""
    assert SCHEMA_FILE.read_text() == schema_text()
    assert json.loads(SCHEMA_FILE.read_text())["properties"]["schema"]["const"] == SCHEMA_VERSION


def test_sales_may_be_null_device_counts_never_negative() -> None:
    """Transactions and sales may be null (not imported yet); counts and the revision are >= 0."""
    props = metrics_schema()["properties"]
    assert props["transactions_n"]["type"] == ["integer", "null"]
    assert props["net_sales_cents"]["type"] == ["integer", "null"]
    assert all(props[f]["minimum"] == 0 for f in ("visits_n", "visitors_n", "passersby_n", "revision"))
