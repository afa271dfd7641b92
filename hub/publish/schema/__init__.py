"""The metrics payload's JSON Schema as a file (`metrics.schema.json`), built from hub.publish.payload.

Regenerate after changing FIELDS: `python -m hub.publish.schema > hub/publish/schema/metrics.schema.json`
(tests/hub/publish/test_payload.py fails while the file and the code differ).
"""
