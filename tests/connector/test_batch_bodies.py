"""$batch items are built as Graph expects them (the SDK's BatchRequestContent gets these wrong)."""
from __future__ import annotations

from connector.batch import BatchRequest


def test_depends_on_is_spelled_as_graph_expects_and_limited_to_ids_still_sent() -> None:
    item = BatchRequest(id="2", method="DELETE", url="/x/2", depends_on=("1", "0"))
    assert item.to_json({"1", "2"}) == {"id": "2", "method": "DELETE", "url": "/x/2", "dependsOn": ["1"]}
    assert "dependsOn" not in item.to_json({"2"})


def test_an_item_with_a_body_carries_its_content_type() -> None:
    item = BatchRequest(id="1", method="PATCH", url="/x/1", body={"a": 1})
    assert item.to_json({"1"}) == {"id": "1", "method": "PATCH", "url": "/x/1", "body": {"a": 1},
                                   "headers": {"Content-Type": "application/json"}}
    assert "headers" not in BatchRequest(id="1", method="GET", url="/x/1").to_json({"1"})
