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
    # The key is "h", not "n": go-yaml reads a plain n (or y) as a boolean, key or value.
    decoded = decode_document(b"name: 2024-01-01\nport: 1:20\nh: 0x1F\nf: 1.5\nb: yes\n")
    assert decoded.value == {"name": "2024-01-01", "port": "1:20", "h": 31, "f": 1.5, "b": True}


def _laughs(levels: int, width: int = 9) -> bytes:
    text = "a0: &a0 [" + ", ".join(["lol"] * width) + "]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]\n"
    return text.encode()


def test_an_alias_bomb_is_refused_as_go_yaml_refuses_it():
    """CVE-2019-11253: go-yaml v2 stops at 'document contains excessive aliasing'; so does the
    kubelet. A few aliases, as people use them, still decode."""
    with pytest.raises(DecodeError, match="excessive aliasing"):
        decode_document(_laughs(9))
    assert decode_document(_laughs(3, 3)).value["a1"] == [["lol"] * 3] * 3


def test_an_anchor_that_contains_itself_is_refused():
    with pytest.raises(DecodeError, match="contains itself"):
        decode_document(b"spec: &r {x: [*r]}\n")


@pytest.mark.parametrize("text, value", [
    (b"x: " + b"1" * 5000, "1" * 5000),  # go-yaml resolve(): too big for any number, so a string
    (b"x: 0x" + b"f" * 40, "0x" + "f" * 40),
    (b"x: " + b"1" * 30, float("1" * 30)),  # beyond uint64, within float64
    (b"x: 1.5e+999", "1.5e+999"),  # ParseFloat fails: a string
    (b"x: 18446744073709551615", 18446744073709551615),
])
def test_numbers_beyond_64_bits_decode_as_go_yaml_decodes_them(text, value):
    # The key is "x": go-yaml reads a plain "n" key as the boolean false. An infinity (-.inf)
    # is no longer here: json.Marshal refuses it, so the document fails (test_corpus_decoding).
    assert decode_document(text).value["x"] == value


def test_a_json_number_beyond_64_bits_is_no_crash():
    decoded = decode_document(b'{"n": ' + b"7" * 5000 + b', "m": 12}')
    assert decoded.value["m"] == 12 and decoded.value["n"].digits == 5000


def test_a_quantity_exponent_of_thousands_of_digits_is_a_verdict_not_a_traceback():
    """resource.Quantity's suffix exponent is strconv.ParseInt(64 bits): 5,000 digits is
    ErrSuffix to the kubelet; Python's int() refuses more than 4,300 digits and must not leak."""
    from podaudit.kubelet.manifests import judge
    from podaudit.model import FileRecord

    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n  - name: c\n    image: i\n"
           f"    resources: {{limits: {{cpu: \"1e{'9' * 5000}\"}}}}\n").encode()
    entry = judge("/m/q.yaml", FileRecord("/m/q.yaml", "file", data=pod), "n")
    assert entry.fate == "rejected" and "unable to parse quantity's suffix" in entry.reason


def test_a_json_number_of_many_digits_survives_the_trip_to_a_worker_process():
    """A sweep of many nodes analyses them in worker processes: every decoded value pickles."""
    import pickle

    value = decode_document(b'{"a": 123456789012345678901234567890, "b": 1.50}').value
    back = pickle.loads(pickle.dumps(value))
    assert back == value and back["a"].digits == value["a"].digits == 30
    assert back["b"].literal == "1.50"
