"""Print the metrics JSON Schema (the text of metrics.schema.json)."""

from hub.publish.payload import schema_text

print(schema_text(), end="")
