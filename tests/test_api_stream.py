"""A snapshot's api/ lists read item by item (api/liststream.py) give exactly what reading the
whole file gives: the same nodes and pods, the same problem lines, also for broken files."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podaudit.api import liststream
from podaudit.api.liststream import load_parsed
from podaudit.api.view import MAX_BYTES, load_api_dir, load_list, parse_int, parse_node, parse_pod


def whole_file(path: Path, parse: Any) -> tuple[list[Any], list[str]]:
    """What podaudit did before: json.loads of the whole file, then each item."""
    problems: list[str] = []
    return [p for i in load_list(str(path), problems) if (p := parse(i)) is not None], problems


def streamed(path: Path, parse: Any) -> tuple[list[Any], list[str]]:
    problems: list[str] = []
    return load_parsed(str(path), problems, parse, load_list, MAX_BYTES, parse_int), problems


def pod(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"web-{i}", "namespace": "shop", "annotations": {"kubernetes.io/config.mirror": "h"},
                         "creationTimestamp": "2024-05-01T09:00:00Z"},
            "spec": {"nodeName": f"node-{i}", "containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 12345678901234}]}}


def node(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"node-{i}", "labels": {"a": "b"}},
            "status": {"addresses": [{"type": "InternalIP", "address": f"10.0.{i // 250}.{i % 250}"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.1"}}}


TEXTS = {
    "plain": json.dumps({"apiVersion": "v1", "items": [pod(i) for i in range(40)], "kind": "List"}),
    "indented, items last": json.dumps({"kind": "List", "metadata": {"x": [1, 2.5, None, True]},
                                        "items": [pod(i) for i in range(40)]}, indent=4),
    "byte order mark": "\ufeff" + json.dumps({"items": [pod(1)]}),
    "not objects among items": json.dumps({"items": [pod(1), 3, "x", [pod(2)], None, pod(3)]}),
    "empty items": '{"items": []}',
    "items twice": json.dumps({"items": [pod(1)]})[:-1] + ', "items": [' + json.dumps(pod(2)) + "]}",
    "broken near the end": json.dumps({"items": [pod(i) for i in range(40)]})[:-30] + "}",
    "extra data": json.dumps({"items": [pod(1)]}) + " {}",
    "not a list": '{"items": {"a": 1}}',
    "top level list": json.dumps([pod(1)]),
    "no items": '{"kind": "List"}',
    "empty object": "{}",
    "empty file": "",
    "huge number": '{"items": [{"metadata": {"name": "a"}, "status": {"containerStatuses": [{"restartCount": '
                   + "9" * 5000 + "}]}}]}",
    "deeply nested": '{"items": [' + "[" * 100_000 + "]" * 100_000 + "]}",
    "a number last": '{"items": [], "n": 123456789}',
    "lone surrogate": '{"items": [{"metadata": {"name": "a\\ud800"}}]}',
}


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_streamed_list_equals_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                         chunk: int) -> None:
    # Tiny chunks cut every token somewhere: a number, a string escape, a multi-byte character.
    monkeypatch.setattr(liststream, "CHUNK", chunk)
    path = tmp_path / "pods.json"
    path.write_text(TEXTS[name], encoding="utf-8", errors="surrogatepass")
    for parse in (parse_pod, parse_node):
        assert streamed(path, parse) == whole_file(path, parse)


def test_not_utf8_and_multibyte_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liststream, "CHUNK", 5)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"items": [{"metadata": {"name": "nœud-été-€-𝄞"}}]}, ensure_ascii=False))
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"items": [{"metadata": {"name": "a\xff"}}]}')
    for path in (good, bad):
        assert streamed(path, parse_pod) == whole_file(path, parse_pod)
    assert streamed(good, parse_pod)[0][0].name == "nœud-été-€-𝄞"


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                               max_size=4), max_leaves=20),
       st.integers(1, 40))
def test_any_json_items_read_alike(tmp_path_factory: pytest.TempPathFactory, value: Any, chunk: int) -> None:
    path = tmp_path_factory.mktemp("h") / "pods.json"
    path.write_text(json.dumps({"items": [value, {"metadata": {"name": "p"}, "spec": value}], "x": value}))
    old = liststream.CHUNK
    liststream.CHUNK = chunk
    try:
        assert streamed(path, parse_pod) == whole_file(path, parse_pod)
    finally:
        liststream.CHUNK = old


def transient(read: Any) -> tuple[Any, int]:
    """What ``read()`` returns and the memory it held at its peak beyond what it returns."""
    tracemalloc.start()
    try:
        got = read()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return got, peak - kept


def test_a_large_api_folder_is_read_without_holding_its_json(tmp_path: Path) -> None:
    """8,000 pods (about 3 MB of JSON): reading them holds the parsed pods and a window of the
    file, not every decoded dict of the file at once as json.loads does."""
    api_dir = tmp_path / "api"
    api_dir.mkdir()
    (api_dir / "pods.json").write_text(json.dumps({"items": [pod(i) for i in range(8000)]}))
    (api_dir / "nodes.json").write_text(json.dumps({"items": [node(i) for i in range(1000)]}))
    view, held = transient(lambda: load_api_dir(str(api_dir)))
    assert (len(view.pods), len(view.nodes), view.loaded, view.problems) == (8000, 1000, {"nodes", "pods"}, [])
    (pods, _), held_whole = transient(lambda: whole_file(api_dir / "pods.json", parse_pod))
    assert pods == view.pods
    assert held * 4 < held_whole
