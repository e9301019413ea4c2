from hypothesis import given
from hypothesis import strategies as st

from podaudit.kubelet.config import (
    absolutize_paths,
    dropin_files,
    load_config_doc,
    merge_config,
    merge_patch,
    parse_config_doc,
)
from podaudit.model import ProblemKind
from tests.memnode import mem_node

HEAD = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"


def test_relative_static_pod_path_is_against_the_config_files_directory():
    text = HEAD + "staticPodPath: manifests\n"
    doc = absolutize_paths(parse_config_doc("/etc/kubelet/kubelet.yaml", text.encode()))
    assert doc.data["staticPodPath"] == "/etc/kubelet/manifests"
    assert doc.key_lines["staticPodPath"] == 3


def test_wrong_kind_or_empty_dropin_is_a_startup_failure():
    doc = parse_config_doc("/c.yaml", b"apiVersion: v1\nkind: Pod\n")
    assert doc.error is not None and doc.error.kind is ProblemKind.CONFIG and doc.error.path == "/c.yaml"
    assert doc.error.text() == "/c.yaml: a v1 Pod, not a kubelet.config.k8s.io/v1beta1 KubeletConfiguration"
    empty = parse_config_doc("/d/10.conf", b"")
    merged = merge_config(None, [empty])
    assert merged.problems and merged.problems[0].text().endswith("the kubelet refuses to start with this file")


def test_dropins_walk_lexically_and_recurse_and_take_only_dot_conf():
    node = mem_node({
        "/d/50-b.conf": HEAD, "/d/10-a.conf": HEAD, "/d/README": "x", "/d/a/05.conf": HEAD,
        "/d/x.conf.bak": HEAD, "/d/.hidden.conf": HEAD,
    })
    files, problems = dropin_files(node, "/d")
    # filepath.WalkDir: names sorted per directory, subdirectories at their own position.
    assert files == ["/d/.hidden.conf", "/d/10-a.conf", "/d/50-b.conf", "/d/a/05.conf"]
    assert problems == []


def test_merge_later_dropin_wins_and_null_deletes():
    base = parse_config_doc("/c.yaml", (HEAD + "staticPodPath: /base\nfeatureGates: {A: true}\n").encode())
    one = parse_config_doc("/d/10.conf", (HEAD + "staticPodPath: /one\nfeatureGates: {B: true}\n").encode())
    two = parse_config_doc("/d/20.conf", (HEAD + "staticPodPath: /two\n").encode())
    merged = merge_config(base, [one, two])
    assert merged.data["staticPodPath"] == "/two"
    assert merged.data["featureGates"] == {"A": True, "B": True}
    assert merged.origin["staticPodPath"].source == "/d/20.conf"
    assert merged.origin["staticPodPath"].line == 3
    gone = merge_config(base, [parse_config_doc("/d/30.conf", (HEAD + "staticPodPath: null\n").encode())])
    assert "staticPodPath" not in gone.data and "staticPodPath" not in gone.origin


def test_missing_config_file_is_reported():
    doc = load_config_doc(mem_node({}), "/var/lib/kubelet/config.yaml")
    assert doc.error is not None and doc.error.path == "/var/lib/kubelet/config.yaml" and not doc.unreadable
    assert doc.error.text() == "cannot read /var/lib/kubelet/config.yaml: missing"


def test_merge_patch_is_rfc7386():
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None}, "l": [3]}) == {"a": {"c": 2}, "l": [3]}


@given(st.binary())
def test_config_parser_never_raises(data):
    parse_config_doc("/c.yaml", data)
