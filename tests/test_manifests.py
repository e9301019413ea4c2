import json

from hypothesis import given, settings
from hypothesis import strategies as st

from podaudit.kubelet.manifests import read_static_pod_path
from tests.memnode import mem_node


def pod(name, namespace=None, image="busybox", container="c"):
    meta = f"  name: {name}\n" + (f"  namespace: {namespace}\n" if namespace else "")
    spec = f"spec:\n  containers:\n  - name: {container}\n    image: {image}\n"
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n{meta}{spec}"


def fates(entries):
    return {e.path.rsplit("/", 1)[1]: (e.fate, e.pod.mirror_name if e.pod else None) for e in entries}


def test_every_non_dot_file_is_read_whatever_its_extension():
    node = mem_node({"/m/a.yaml": pod("a"), "/m/b.txt": pod("b"), "/m/README": pod("c"), "/m/.d.yaml": pod("d")})
    entries, problem = read_static_pod_path(node, "/m", "Node-1")
    assert problem is None
    assert fates(entries) == {
        ".d.yaml": ("ignored", None), "README": ("loaded", "c-node-1"),
        "a.yaml": ("loaded", "a-node-1"), "b.txt": ("loaded", "b-node-1"),
    }


def test_lexically_last_path_wins_a_duplicate():
    node = mem_node({"/m/kube-apiserver.yaml": pod("kube-apiserver", "kube-system"),
                     "/m/kube-apiserver.yaml.bak": pod("kube-apiserver", "kube-system")})
    entries, _ = read_static_pod_path(node, "/m", "cp")
    by_name = {e.path: e for e in entries}
    assert by_name["/m/kube-apiserver.yaml"].fate == "shadowed"
    assert by_name["/m/kube-apiserver.yaml"].related == ("/m/kube-apiserver.yaml.bak",)
    assert by_name["/m/kube-apiserver.yaml.bak"].fate == "loaded"
    assert by_name["/m/kube-apiserver.yaml.bak"].related == ("/m/kube-apiserver.yaml",)


def test_same_name_in_two_namespaces_is_two_pods():
    node = mem_node({"/m/a": pod("x", "one"), "/m/b": pod("x", "two")})
    entries, _ = read_static_pod_path(node, "/m", "n")
    assert [e.fate for e in entries] == ["loaded", "loaded"]


def test_rejections_say_why():
    long_name = "a" * 250
    node = mem_node({
        "/m/upper.yaml": pod("Web-Server"),
        "/m/noname.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {}\n",
        "/m/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n",
        "/m/noimage.yaml": pod("noimg", image="''"),
        "/m/badns.yaml": pod("p", namespace="Bad_NS"),
        "/m/long.yaml": pod(long_name),
        "/m/badcontainer.yaml": pod("bc", container="Main"),
    })
    entries = {e.path.rsplit("/", 1)[1]: e for e in read_static_pod_path(node, "/m", "node-1")[0]}
    assert all(e.fate == "rejected" for e in entries.values())
    assert "RFC 1123 subdomain" in entries["upper.yaml"].reason
    assert "name is needed" in entries["noname.yaml"].reason
    # The kubelet's own error (runtime.Scheme.New), not podaudit's paraphrase.
    assert 'no kind "Deployment" is registered for version "apps/v1"' in entries["deploy.yaml"].reason
    assert "image: Required" in entries["noimage.yaml"].reason
    assert "metadata.namespace" in entries["badns.yaml"].reason
    assert "no more than 253" in entries["long.yaml"].reason  # 250 + "-node-1"
    assert "spec.containers[0].name" in entries["badcontainer.yaml"].reason


def test_json_manifest_and_multi_document_warning():
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}
    node = mem_node({"/m/j.json": json.dumps(doc), "/m/multi.yaml": pod("first") + "---\n" + pod("second")})
    entries = {e.path.rsplit("/", 1)[1]: e for e in read_static_pod_path(node, "/m", "n")[0]}
    assert entries["j.json"].pod.mirror_name == "j-n"
    assert entries["multi.yaml"].pod.name == "first"
    assert entries["multi.yaml"].warnings


def test_a_regular_file_path_is_the_one_manifest():
    node = mem_node({"/etc/pod.yaml": pod("solo")})
    entries, problem = read_static_pod_path(node, "/etc/pod.yaml", "n")
    assert problem is None and [e.pod.mirror_name for e in entries] == ["solo-n"]


def test_missing_path_is_a_problem_not_an_error():
    entries, problem = read_static_pod_path(mem_node({}), "/nope", "n")
    assert entries == [] and problem is not None and problem.path == "/nope" and "does not exist" in problem.detail


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_manifest_parser_never_raises(data):
    read_static_pod_path(mem_node({"/m/x": data}), "/m", "n")


def test_api_references_warn_that_new_kubelets_reject_the_pod():
    text = (pod("sa") + "  serviceAccountName: builder\n  volumes:\n  - name: creds\n    secret:\n"
            "      secretName: db\n  - name: tok\n    projected:\n      sources:\n"
            "      - serviceAccountToken: {path: t}\n")
    [entry] = read_static_pod_path(mem_node({"/m/sa.yaml": text}), "/m", "n")[0]
    assert entry.fate == "loaded"
    [warning] = entry.warnings
    assert "v1.34" in warning
    assert "service account builder" in warning and "secret db (volume creds)" in warning
    assert "projected serviceAccountToken (volume tok)" in warning


def test_image_with_surrounding_space_is_rejected():
    [entry] = read_static_pod_path(mem_node({"/m/a": pod("a", image="' busybox'")}), "/m", "n")[0]
    assert entry.fate == "rejected" and "whitespace" in entry.reason


BIG = "1" * 5000  # beyond CPython's int max str digits (4300): int(BIG) raises ValueError


def big_pod(fmt):
    if fmt == "json":
        return ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"}, "spec": {"containers": '
                '[{"name": "c", "image": "i", "ports": [{"containerPort": ' + BIG + '}]}]}}')
    return pod("big") + f"    ports:\n    - containerPort: {BIG}\n"


def test_a_huge_number_in_an_integer_field_rejects_only_its_file():
    """The kubelet fails to decode the pod and skips that file; the good file next to it runs.
    go-yaml keeps a number it cannot hold as a string (cannot unmarshal string), JSON quotes the
    literal (cannot unmarshal number 1111...): the kubelet's words, with the literal abridged."""
    node = mem_node({"/m/big.json": big_pod("json"), "/m/big.yaml": big_pod("yaml"), "/m/good.yaml": pod("good")})
    entries = {e.path.rsplit("/", 1)[1]: e for e in read_static_pod_path(node, "/m", "n")[0]}
    assert entries["good.yaml"].fate == "loaded"
    for name in ("big.json", "big.yaml"):
        entry = entries[name]
        assert (entry.fate, entry.code) == ("rejected", "decode"), name
        assert "into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32" in entry.reason
        assert len(entry.reason) < 300
    assert "cannot unmarshal string" in entries["big.yaml"].reason
    assert "cannot unmarshal number 11111111111111111111…(5000 digits)" in entries["big.json"].reason


def test_a_huge_number_where_the_pod_has_no_integer_is_decoded_as_go_would():
    """go-yaml v2's resolve() turns a number it cannot hold into a string (accepted in a string
    field); a JSON number in a field the Pod type lacks is skipped: both pods run."""
    text = pod("ann") + f"  nodeSelector:\n    big: {BIG}\n"
    node = mem_node({"/m/ann.yaml": text,
                     "/m/unknown.json": '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "u"}, '
                                        '"spec": {"containers": [{"name": "c", "image": "i"}], "x": ' + BIG + '}}'})
    entries = {e.path.rsplit("/", 1)[1]: e for e in read_static_pod_path(node, "/m", "n")[0]}
    assert entries["ann.yaml"].fate == "loaded"
    assert entries["unknown.json"].fate == "loaded"
