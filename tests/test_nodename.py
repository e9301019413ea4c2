from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.nodename import resolve_node_name
from podaudit.model import Arg, Step


def name_for(words, hostname="Host-A"):
    args = tuple(Arg(w, Step(w, "/proc/1/cmdline")) for w in words)
    return resolve_node_name(parse_args(words), args, hostname, "label")


def test_override_is_trimmed_and_lowercased():
    name = name_for(["--hostname-override", " Worker-7 "])
    assert (name.value, name.fatal) == ("worker-7", False)


def test_empty_override_falls_back_to_the_hostname():
    name = name_for(["--hostname-override="])
    assert (name.value, name.problems) == ("host-a", ())


def test_blank_override_stops_the_kubelet():
    name = name_for(["--hostname-override=   "])
    assert name.fatal and "refuses to start" in name.problems[0].text()


def test_unknown_hostname_uses_the_label_and_says_so():
    name = name_for([], hostname=None)
    assert name.value == "label" and name.problems
