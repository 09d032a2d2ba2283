"""The wire format: the committed JSON Schema is current, and every event type is documented."""

from __future__ import annotations

import json
from pathlib import Path

from interview_graph.api import protocol

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_committed_schema_matches_the_models() -> None:
    committed = json.loads((DOCS / "protocol.schema.json").read_text())
    assert committed == json.loads(json.dumps(protocol.schema())), (
        "regenerate: python -m interview_graph.api.protocol > docs/protocol.schema.json"
    )


def test_protocol_doc_names_every_frame_and_error_code() -> None:
    doc = (DOCS / "protocol.md").read_text()
    schema = protocol.schema()
    for direction in ("client_to_server", "server_to_client"):
        for name, definition in schema[direction]["$defs"].items():
            kind = definition.get("properties", {}).get("type", {}).get("const")
            if kind:
                assert f"`{kind}`" in doc, f"{name} ({kind}) is not documented"
    for code in protocol.Error.model_fields["code"].annotation.__args__:  # type: ignore[union-attr]
        assert f"`{code}`" in doc, code
    for close in schema["close_codes"]:
        assert close in doc
