"""systemd's text rules: EnvironmentFile= files, Environment= values, ExecStart= words."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from podaudit.kubelet.envfile import (
    ExecLine,
    parse_environment_assignments,
    parse_environment_file,
    parse_exec_value,
    split_variable_value,
    split_words,
)

# kubeadm writes fmt.Sprintf("%s=%q\n", ...): one Go-quoted line.
KUBEADM_FLAGS = (
    'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock'
    ' --pod-infra-container-image=registry.k8s.io/pause:3.9"\n'
)
# kubespray's kubelet.env: a double-quoted value continued with backslash-newline.
KUBESPRAY_ENV = """KUBE_LOGTOSTDERR="--logtostderr=true"
KUBE_LOG_LEVEL="--v=2"

KUBELET_ARGS="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
--config=/etc/kubernetes/kubelet-config.yaml \\
--kubeconfig=/etc/kubernetes/kubelet.conf \\
 --node-labels=  "
KUBELET_CLOUDPROVIDER=""
"""


def test_kubeadm_flags_env_is_one_go_quoted_value() -> None:
    assert parse_environment_file(KUBEADM_FLAGS) == [(
        "KUBELET_KUBEADM_ARGS",
        "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock "
        "--pod-infra-container-image=registry.k8s.io/pause:3.9",
        1,
    )]


def test_unquoted_value_keeps_inner_spaces_and_drops_outer_ones() -> None:
    text = "KUBELET_EXTRA_ARGS=  --pod-manifest-path=/etc/kubernetes/manifests --v=2   \n"
    assert parse_environment_file(text) == [
        ("KUBELET_EXTRA_ARGS", "--pod-manifest-path=/etc/kubernetes/manifests --v=2", 1)]


def test_packaged_empty_assignment_sets_an_empty_value() -> None:
    assert parse_environment_file("KUBELET_EXTRA_ARGS=\n") == [("KUBELET_EXTRA_ARGS", "", 1)]


def test_kubespray_continuations_join_into_one_value_at_the_key_line() -> None:
    found = {key: (value, line) for key, value, line in parse_environment_file(KUBESPRAY_ENV)}
    value, line = found["KUBELET_ARGS"]
    assert line == 4
    assert split_variable_value(value) == [
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--config=/etc/kubernetes/kubelet-config.yaml",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--node-labels=",
    ]
    assert found["KUBELET_CLOUDPROVIDER"] == ("", 8)


def test_inline_comment_is_part_of_the_value() -> None:
    # systemd has no inline comments: the kubelet would get "#", "pinned" as arguments.
    [(_, value, _)] = parse_environment_file("KUBELET_EXTRA_ARGS=--v=2 # pinned\n")
    assert value == "--v=2 # pinned"
    assert split_variable_value(value) == ["--v=2", "#", "pinned"]


def test_comments_export_and_lines_without_equals_are_skipped() -> None:
    text = "# KUBELET_A=1\n  ; KUBELET_B=2\nexport KUBELET_C=3\n1BAD=4\nnot an assignment\nOK=5"
    assert parse_environment_file(text) == [("OK", "5", 6)]


def test_quotes_only_open_at_the_start_of_a_value() -> None:
    text = "A=--label=\"x y\"\nB='single\nline two'\nC=\"a\\\"b\\\\c\\$d\\`e\\qf\"\n"
    assert parse_environment_file(text) == [
        ("A", '--label="x y"', 1),
        ("B", "single\nline two", 2),
        ("C", 'a"b\\c$d`e\\qf', 4),  # unknown escapes keep their backslash
    ]


def test_unquoted_backslash_escapes_and_continuation() -> None:
    text = "A=one\\ two \\\n  three\nB=x\r\nC = spaced key\n"
    assert parse_environment_file(text) == [
        ("A", "one two   three", 1), ("B", "x", 3), ("C", "spaced key", 4)]


def test_environment_value_with_quoted_whole_assignment() -> None:
    value = ('"KUBELET_SYSTEM_PODS_ARGS=--pod-manifest-path=/etc/kubernetes/manifests '
             '--allow-privileged=true" KUBELET_DNS_ARGS=--cluster-dns=10.96.0.10')
    assert parse_environment_assignments(value) == [
        ("KUBELET_SYSTEM_PODS_ARGS",
         "--pod-manifest-path=/etc/kubernetes/manifests --allow-privileged=true"),
        ("KUBELET_DNS_ARGS", "--cluster-dns=10.96.0.10"),
    ]


def test_unquoted_assignment_with_spaces_loses_the_rest_and_says_so() -> None:
    errors: list[str] = []
    pairs = parse_environment_assignments("KUBELET_ARGS=--v=2 --node-ip=10.0.0.1", errors=errors)
    assert pairs == [("KUBELET_ARGS", "--v=2")]
    assert errors == ["'--node-ip=10.0.0.1' is not a NAME=value assignment: systemd ignores it"]


def test_environment_c_escapes_and_a_bad_escape_ending_the_line() -> None:
    errors: list[str] = []
    pairs = parse_environment_assignments(r'A=x\ty "B=\x41\u00e9" C=\d D=1', errors=errors)
    assert pairs == [("A", "x\ty"), ("B", "Aé")]
    assert errors == ["invalid escape \\d: systemd ignores the rest of the line"]


def test_environment_specifiers_are_expanded_per_word() -> None:
    pairs = parse_environment_assignments("NAME=%n", expand=lambda w: w.replace("%n", "k.service"))
    assert pairs == [("NAME", "k.service")]


def test_exec_words_unquote_and_unescape() -> None:
    assert split_words('/usr/bin/kubelet "--a b" --c\\x3dd \'--e\' f"g h"i \\q') == [
        "/usr/bin/kubelet", "--a b", "--c=d", "--e", "fg hi", "\\q"]


def test_variable_value_split_keeps_backslashed_characters() -> None:
    assert split_variable_value("--a='x y' --b=\\\"z --c=\\n") == ['--a=x y', '--b="z', "--c=n"]


def test_exec_value_prefixes_and_semicolons() -> None:
    lines, error = parse_exec_value("-:/usr/bin/kubelet $ARGS ; @/bin/sh sh -c \\;")
    assert error is None
    assert lines == [ExecLine("/usr/bin/kubelet", ("$ARGS",), expand_environment=False),
                     ExecLine("/bin/sh", ("-c", ";"), expand_environment=True)]


def test_exec_value_with_unbalanced_quote_is_refused() -> None:
    lines, error = parse_exec_value('/usr/bin/kubelet "--config=/x')
    assert lines == []
    assert error == "cannot be used (unbalanced quotes): systemd refuses to load the unit"


@given(st.text())
def test_environment_file_parser_never_raises(text: str) -> None:
    for key, _, line in parse_environment_file(text):
        assert key and line >= 1


@given(st.text())
def test_word_splitters_never_raise(text: str) -> None:
    parse_environment_assignments(text, errors=[])
    split_words(text)
    split_variable_value(text)
    parse_exec_value(text)
