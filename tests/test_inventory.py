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


# --- Ansible's own semantics (issue 15). Where ansible-core is installed, ansible-inventory
# is the oracle: what podaudit reads must be what Ansible resolves.

CHILDREN_INI = """
[all:vars]
ansible_user=everyone
ansible_port=2200

[k8s:children]
control_plane
workers

[k8s:vars]
ansible_user=kube

[control_plane]
cp-1 ansible_host=10.0.0.10

[workers:children]
gpu
arm

[workers]
node01

[gpu]
gpu-1

[gpu:vars]
ansible_user=gpu-admin
ansible_port=2201

[arm]
arm-1 ansible_user=pi

[arm:vars]
ansible_port=2202

[bastions]
jump-1 ansible_become=yes ansible_ssh_private_key_file=/keys/jump
"""


def _ansible_hostvars(path):
    """``ansible-inventory -i PATH --list``'s _meta.hostvars, or None without ansible-core."""
    import os
    import subprocess
    import sys

    tool = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    if not os.path.exists(tool):
        return None
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(os.path.dirname(path)), "ANSIBLE_LOCAL_TEMP": path + ".tmp",
           "ANSIBLE_HOME": path + ".home", "LC_ALL": "C.UTF-8"}
    out = subprocess.run([tool, "-i", path, "--list"], capture_output=True, check=True, env=env, timeout=120).stdout
    return json.loads(out)


def test_ini_group_vars_reach_hosts_through_children_at_any_depth(tmp_path):
    """ansible/inventory/helpers.py sort_groups (depth, priority, name) and get_group_vars: a
    [parent:vars] value reaches hosts of its children's children; the deeper group wins; the
    host's own vars beat every group; [all:vars] is the weakest (depth 0)."""
    path = write(tmp_path, CHILDREN_INI)
    entries = {e.name: e for e in load_inventory(path)}
    assert entries["cp-1"] == InventoryEntry("cp-1", "10.0.0.10", "kube", 2200)  # k8s beats all
    assert entries["node01"] == InventoryEntry("node01", None, "kube", 2200)
    assert entries["gpu-1"] == InventoryEntry("gpu-1", None, "gpu-admin", 2201)  # depth 3 beats k8s (1)
    assert entries["arm-1"] == InventoryEntry("arm-1", None, "pi", 2202)  # host var beats every group
    assert entries["jump-1"] == InventoryEntry("jump-1", None, "everyone", 2200, identity="/keys/jump", sudo=True)
    oracle = _ansible_hostvars(path)
    if oracle is not None:
        for name, entry in entries.items():
            theirs = oracle["_meta"]["hostvars"][name]
            assert (entry.user, entry.port) == (theirs["ansible_user"], theirs["ansible_port"]), name


def test_same_depth_groups_resolve_by_priority_then_name(tmp_path):
    """helpers.py sort_groups: at one depth, the group sorted last wins: by
    ansible_group_priority (group.py set_priority), then by name."""
    path = write(tmp_path, """
[alpha]
n1
[beta]
n1
[gamma]
n2
[delta]
n2
[alpha:vars]
ansible_user=from-alpha
[beta:vars]
ansible_user=from-beta
[gamma:vars]
ansible_user=from-gamma
ansible_group_priority=10
[delta:vars]
ansible_user=from-delta
""")
    entries = {e.name: e.user for e in load_inventory(path)}
    assert entries == {"n1": "from-beta", "n2": "from-gamma"}
    oracle = _ansible_hostvars(path)
    if oracle is not None:
        assert {n: oracle["_meta"]["hostvars"][n]["ansible_user"] for n in entries} == entries


def test_yaml_group_vars_reach_hosts_defined_elsewhere_in_the_tree(tmp_path):
    """plugins/inventory/yaml.py _parse_group: a group named again under children is the same
    group; its parent's vars reach the hosts it got where it was first written."""
    path = write(tmp_path, """
all:
  vars: {ansible_user: everyone}
  children:
    workers:
      hosts:
        w1:
        w2: {ansible_user: admin}
    k8s:
      vars: {ansible_user: kube, ansible_port: 2222}
      children:
        workers:
""", "hosts.yaml")
    entries = {e.name: e for e in load_inventory(path)}
    assert entries["w1"] == InventoryEntry("w1", None, "kube", 2222)
    assert entries["w2"] == InventoryEntry("w2", None, "admin", 2222)


def test_ansible_inventory_list_json_is_an_inventory(tmp_path):
    """``ansible-inventory -i X --list``: groups with hosts/children lists, _meta.hostvars
    (cli/inventory.py json_inventory). Read as is: the same hosts and connection vars."""
    ini = write(tmp_path, CHILDREN_INI)
    listed = _ansible_hostvars(ini) or {  # ansible-core 2.19's output for CHILDREN_INI, trimmed
        "_meta": {"hostvars": {"cp-1": {"ansible_host": "10.0.0.10", "ansible_user": "kube", "ansible_port": 2200},
                               "gpu-1": {"ansible_user": "gpu-admin", "ansible_port": 2201}}},
        "all": {"children": ["ungrouped", "k8s"]}, "k8s": {"children": ["control_plane", "workers"]},
        "control_plane": {"hosts": ["cp-1"]}, "workers": {"children": ["gpu"]}, "gpu": {"hosts": ["gpu-1"]}}
    path = write(tmp_path, json.dumps(listed, indent=1), "inventory.json")
    from_json = {e.name: e for e in load_inventory(path)}
    from_ini = {e.name: e for e in load_inventory(ini)}
    assert from_json["cp-1"] == InventoryEntry("cp-1", "10.0.0.10", "kube", 2200)
    assert from_json["gpu-1"] == from_ini["gpu-1"]
    assert {e.name for e in load_inventory(path, limit="workers")} >= {"gpu-1"}


def test_ini_vars_for_an_undefined_group_is_one_line_naming_it(tmp_path):
    """plugins/inventory/ini.py _parse: 'Section [g:vars] not valid for undefined group'."""
    path = write(tmp_path, "[web]\nw1\n[db:vars]\nansible_user=x\n")
    with pytest.raises(InputError, match=r"hosts:3: group 'db' is never defined"):
        load_inventory(path)


def test_a_loop_of_children_is_one_line(tmp_path):
    path = write(tmp_path, "[a:children]\nb\n[b:children]\na\n[b]\nh1\n")
    with pytest.raises(InputError, match="its own ancestor"):
        load_inventory(path)


@pytest.mark.parametrize(("pattern", "hosts"), [
    ("workers", ["node01", "gpu-1", "arm-1"]),  # a group: its children's hosts too
    ("cp-1", ["cp-1"]),
    ("control_plane,bastions", ["cp-1", "jump-1"]),
    ("control_plane:bastions", ["cp-1", "jump-1"]),
    ("k8s:!gpu", ["cp-1", "node01", "arm-1"]),
    ("workers:&arm", ["arm-1"]),
    ("!k8s", ["jump-1"]),  # only exclusions start from all (manager.py order_patterns)
    ("*-1", ["cp-1", "gpu-1", "arm-1", "jump-1"]),
    ("all", ["cp-1", "node01", "gpu-1", "arm-1", "jump-1"]),
    ("~^(node|arm)", ["node01", "arm-1"]),
])
def test_limit_is_ansible_host_patterns(tmp_path, pattern, hosts):
    """lib/ansible/inventory/manager.py split_host_pattern, order_patterns,
    _evaluate_patterns and _enumerate_matches; results in inventory order."""
    path = write(tmp_path, CHILDREN_INI)
    assert sorted(e.name for e in load_inventory(path, limit=pattern)) == sorted(hosts)


@pytest.mark.parametrize("pattern", ["nope", "workers:!nope", "web*"])
def test_a_limit_matching_nothing_is_a_usage_error_naming_it(tmp_path, pattern):
    path = write(tmp_path, CHILDREN_INI)
    with pytest.raises(InputError) as info:
        load_inventory(path, limit=pattern)
    message = str(info.value)
    assert "\n" not in message and "matches no host or group" in message and path in message


def test_limit_on_plain_lists_matches_names(tmp_path):
    path = write(tmp_path, "cp-1\nnode01\nnode02:2200\n")
    assert [e.name for e in load_inventory(path, limit="node*:!node02")] == ["node01"]


def test_hostile_group_trees_are_one_line(tmp_path):
    """Thousands of nested [gN:children] levels, or a range of a million hosts: one line, no traceback."""
    deep = "".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(5000)) + "[g5000]\nh1\n"
    with pytest.raises(InputError, match="nested too deep"):
        load_inventory(write(tmp_path, deep))
    with pytest.raises(InputError, match="names more than 100000 hosts"):
        load_inventory(write(tmp_path, "[w]\nnode[0:999999]\n", "big"))
