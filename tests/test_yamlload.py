import pytest
from hypothesis import given
from hypothesis import strategies as st

from podaudit.kubelet.yamlload import DecodeError, decode_document


def test_first_yaml_document_only():
    decoded = decode_document(b"kind: Pod\nmetadata:\n  name: a\n---\nkind: Pod\nmetadata:\n  name: b\n")
    assert decoded.value["metadata"]["name"] == "a"
    assert decoded.documents == 2
    assert decoded.key_lines == {"kind": 1, "metadata": 2}


def test_json_when_first_non_space_is_brace():
    decoded = decode_document(b'\n  {"kind": "Pod",\n "metadata": {"name": "j"}}')
    assert decoded.value["metadata"]["name"] == "j"
    assert decoded.key_lines["metadata"] == 3


def test_byte_order_mark_takes_the_yaml_path():
    # IsJSONBuffer trims white space only; a BOM is not white space, so YAML parses it.
    decoded = decode_document('\ufeff{"kind": "Pod"}'.encode())
    assert decoded.value == {"kind": "Pod"}


@pytest.mark.parametrize("data, words", [
    (b"\x00\xff\xfe\x01binary", "UTF-8"),
    (b"a: [1\n", "invalid YAML"),
    (b'{"a": ', "invalid JSON"),
])
def test_errors_are_one_line_reasons(data, words):
    with pytest.raises(DecodeError) as info:
        decode_document(data)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


@given(st.binary())
def test_never_raises_anything_but_decode_error(data):
    try:
        decode_document(data)
    except DecodeError:
        pass


def test_go_yaml_keeps_timestamps_and_base_60_as_text():
    decoded = decode_document(b"name: 2024-01-01\nport: 1:20\nn: 0x1F\nf: 1.5\nb: yes\n")
    assert decoded.value == {"name": "2024-01-01", "port": "1:20", "n": 31, "f": 1.5, "b": True}
