import json

import pytest

from podaudit.cluster.inventory import InventoryEntry, from_nodes_option, load_inventory
from podaudit.cluster.source import InputError


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
    ("[w]\nn1 ansible_port=abc\n", "ansible_port 'abc' is not a number"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert message in str(info.value) and path in str(info.value)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match="No such file"):
        load_inventory(str(tmp_path / "nope"))
