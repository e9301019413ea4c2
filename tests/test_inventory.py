import json

import pytest
import yaml

from podaudit.errors import InputError
from podaudit.inventory import from_nodes_option, load_inventory
from podaudit.model import InventoryEntry


def write(tmp_path, text, name="hosts"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_nodes_option_forms():
    assert from_nodes_option("cp-1, admin@node01:2222,[::1]:22") == [
        InventoryEntry("cp-1"), InventoryEntry("node01", None, "admin", 2222), InventoryEntry("::1", None, None, 22)]


def test_plain_one_host_per_line(tmp_path):
    path = write(tmp_path, "# cluster\ncontrolplane\n\nnode01\nnode02:2200\n")
    assert [e.name for e in load_inventory(path)] == ["controlplane", "node01", "node02"]


def test_ansible_ini_with_ranges_vars_and_children(tmp_path):
    path = write(tmp_path, """
[control_plane]
cp-1 ansible_host=10.0.0.10

[workers]
node[01:03] ansible_user=ops
node02 ansible_host=10.0.0.22 ansible_port=2222

[workers:vars]
ansible_user=kube

[k8s:children]
control_plane
workers
""")
    entries = {e.name: e for e in load_inventory(path)}
    assert entries["cp-1"] == InventoryEntry("cp-1", "10.0.0.10")
    assert entries["node02"] == InventoryEntry("node02", "10.0.0.22", "ops", 2222)
    assert entries["node03"].user == "ops"  # host vars beat group vars
    assert sorted(entries) == ["cp-1", "node01", "node02", "node03"]


def test_ansible_yaml(tmp_path):
    path = write(tmp_path, """
all:
  vars: {ansible_user: ubuntu}
  children:
    kube_control_plane:
      hosts:
        cp-1: {ansible_host: 192.168.1.10}
    kube_node:
      hosts:
        worker-[1:2]:
          ansible_port: 2022
""")
    entries = {e.name: e for e in load_inventory(path)}
    assert entries["cp-1"] == InventoryEntry("cp-1", "192.168.1.10", "ubuntu")
    assert entries["worker-2"] == InventoryEntry("worker-2", None, "ubuntu", 2022)


def test_kubectl_nodes_json_keeps_name_and_address_apart(tmp_path):
    doc = {"kind": "List", "items": [{"metadata": {"name": "ip-10-0-1-5.ec2.internal"}, "status": {"addresses": [
        {"type": "InternalIP", "address": "10.0.1.5"}, {"type": "Hostname", "address": "ip-10-0-1-5"}]}}]}
    path = write(tmp_path, json.dumps(doc), "nodes.json")
    assert load_inventory(path) == [InventoryEntry("ip-10-0-1-5.ec2.internal", "10.0.1.5")]
    assert load_inventory(path, "Hostname")[0].address == "ip-10-0-1-5"


@pytest.mark.parametrize("text, message", [
    ("[workers\nnode01\n", ":1: unclosed section header"),
    ("[workers]\nnode01 ansible_host\n", ":2: expected key=value"),
    ("node01\nbad host name with spaces\n", ":2: cannot read"),
    ("[w]\nn1 ansible_port=abc\n", "ansible_port 'abc' is not a port number"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert message in str(info.value) and path in str(info.value)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match="No such file"):
        load_inventory(str(tmp_path / "nope"))


# -- hostile entries: a bad address, user or name costs only its node -------------------------

HUGE = "9" * 5000  # more digits than Python's int() converts (ValueError: int max str digits)


@pytest.mark.parametrize("text, host", [
    (f"[w]\nn1 ansible_port={HUGE}\nn2\n", "n1"),
    (f"all:\n  hosts:\n    n1: {{ansible_port: {HUGE}}}\n    n2: {{}}\n", "n1"),
    (f"n2\nn1:{HUGE}\n", "n1"),
    ("[w]\nn1 ansible_port=70000\n", "n1"),
    ("n1:0\n", "n1"),
])
def test_a_huge_or_impossible_port_is_one_short_line_naming_the_entry(tmp_path, text, host):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_inventory(path)
    message = str(info.value)
    assert path in message and host in message and "port" in message
    assert "\n" not in message and len(message) < 300  # not 5,000 digits echoed back


def test_a_huge_port_in_nodes_option_is_one_line():
    with pytest.raises(InputError) as info:
        from_nodes_option(f"ok,n1:{HUGE}")
    assert "n1" in str(info.value) and len(str(info.value)) < 300


def test_a_huge_number_elsewhere_in_a_nodes_json_hides_no_node(tmp_path):
    doc = ('{"items": [{"metadata": {"name": "n1", "generation": ' + HUGE + '}, "status": {"addresses": '
           '[{"type": "InternalIP", "address": "10.0.0.1"}]}}]}')
    assert load_inventory(write(tmp_path, doc, "nodes.json")) == [InventoryEntry("n1", "10.0.0.1")]


GOOD = [("node-1", "10.0.0.1"), ("n2", "fd00::2"), ("n3", "node-3.example.com"), ("n4", "fe80::1%eth0"),
        ("n5", "NODE5.Example.COM.")]


def test_valid_addresses_users_and_names_pass(tmp_path):
    text = "[w]\n" + "".join(f"{name} ansible_host={address} ansible_user=ops_1.x\n" for name, address in GOOD)
    text += "web_1 ansible_host=10.0.0.9\n"  # Ansible names may hold "_": only the address is connected to
    entries = load_inventory(write(tmp_path, text))
    assert [(e.name, e.address, e.user, e.problem) for e in entries] == [
        *[(name, address, "ops_1.x", None) for name, address in GOOD], ("web_1", "10.0.0.9", None, None)]
    assert from_nodes_option("root@[fd00::1]:2222,10.0.0.1")[0].problem is None


BAD_ADDRESSES = ["127.0.0.1$(touch x)", "`touch x`", "a;b", "-oProxyCommand=x", "host name", "a\nb",
                 "fe80::1%$(x)", "a..b", "-a.example", "a" * 64 + ".example", "[::1", "10.0.0.1 ", ""]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_bad_address_marks_only_its_entry(tmp_path, address):
    path = write(tmp_path, yaml.safe_dump({"all": {"hosts": {"evil": {"ansible_host": address}, "ok": None}}}))
    entries = {e.name: e for e in load_inventory(path)}
    assert entries["ok"].problem is None
    problem = entries["evil"].problem if address else None
    if not address:  # an empty ansible_host is no address: the name is connected to
        assert entries["evil"].address is None
        return
    assert problem is not None and problem.startswith("evil: ") and repr(address) in problem
    assert "\n" not in problem


@pytest.mark.parametrize("user", ["-oops", "a b", "$(id)", "ro`x`ot", "a;b", "a\nb", "ops'"])
def test_a_bad_user_marks_only_its_entry(tmp_path, user):
    path = write(tmp_path, yaml.safe_dump({"all": {"hosts": {"evil": {"ansible_user": user}, "ok": None}}}))
    entries = {e.name: e for e in load_inventory(path)}
    assert entries["ok"].problem is None
    assert entries["evil"].problem is not None and repr(user) in entries["evil"].problem


@pytest.mark.parametrize("word", ["evil;touch${IFS}x", "ev`id`il", "$(id)", "-oProxyCommand=x"])
def test_a_bad_host_word_marks_only_its_entry(tmp_path, word):
    entries = load_inventory(write(tmp_path, f"ok\n{word}\n"))
    assert [e.problem is None for e in entries] == [True, False]
    assert [e.problem is None for e in from_nodes_option(f"ok,{word}")] == [True, False]


def test_api_and_nodes_json_addresses_are_checked(tmp_path):
    from podaudit.api.view import parse_node
    from podaudit.inventory import from_api_nodes

    items = [{"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": address}]}}
             for name, address in (("ok", "10.0.0.1"), ("evil", "`touch x`"), ("semi", "10.0.0.2;id"))]
    path = write(tmp_path, json.dumps({"items": items}), "nodes.json")
    for entries in (load_inventory(path), from_api_nodes([parse_node(i) for i in items])):
        problems = {e.name: e.problem for e in entries}
        assert problems["ok"] is None
        assert "'`touch x`'" in problems["evil"] and "InternalIP" in problems["evil"]
        assert "'10.0.0.2;id'" in problems["semi"]
