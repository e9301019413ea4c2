"""The JSON documentation names every key the schema defines."""

import json
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"


def test_json_md_documents_every_schema_key():
    schema = json.loads((DOCS / "schema/podaudit-v1.schema.json").read_text())
    text = (DOCS / "json.md").read_text()
    for kind in ("FindResult", "NodeReport", "staticPod"):
        for key in schema["$defs"][kind]["properties"]:
            if key in {"apiVersion", "kind"}:
                continue
            assert f"`{key}" in text, f"docs/json.md does not document {kind}.{key}"


def test_json_md_documents_sweep_keys():
    schema = json.loads((DOCS / "schema/podaudit-v1.schema.json").read_text())
    text = (DOCS / "json.md").read_text()
    for key in schema["$defs"]["SweepResult"]["properties"]:
        assert key in {"apiVersion", "kind"} or f"`{key}" in text, key
