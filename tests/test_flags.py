from hypothesis import given
from hypothesis import strategies as st

from podaudit.kubelet.flags import parse_args


def test_equals_and_space_forms_and_underscores():
    parsed = parse_args(["--config", "/a.yaml", "--pod_manifest_path=/m", "--v=2"])
    assert parsed.flags["config"].value == "/a.yaml"
    assert parsed.flags["pod-manifest-path"].value == "/m"
    assert parsed.flags["config"].index == 1  # argv[1] is the flag word


def test_last_occurrence_wins():
    parsed = parse_args(["--pod-manifest-path=/first", "--pod-manifest-path", "/second"])
    assert parsed.flags["pod-manifest-path"].value == "/second"
    assert parsed.flags["pod-manifest-path"].index == 2


def test_boolean_never_takes_the_next_word():
    parsed = parse_args(["--anonymous-auth", "false", "--config=/c"])
    # pflag: the flag is true and "false" is a stray argument the kubelet rejects.
    assert parsed.flags["anonymous-auth"].value == "true"
    assert parsed.strays == [2]  # argv[2], "false"
    assert parsed.flags["config"].value == "/c"


def test_short_flags_and_terminator():
    parsed = parse_args(["-v", "4", "--", "--config=/x"])
    assert parsed.flags["v"].value == "4"
    assert "config" not in parsed.flags
    assert parsed.strays == [4]  # argv[4], "--config=/x"


def test_empty_value_is_kept():
    assert parse_args(["--pod-manifest-path="]).flags["pod-manifest-path"].value == ""


@given(st.lists(st.text()))
def test_never_raises(words):
    parse_args(words)
