from podaudit.kubelet.network import network_facts, parse_default_route, parse_ip_addr
from podaudit.model import NodeSnapshot

IP_ADDR = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: ens160    inet 10.10.14.124/16 brd 10.10.255.255 scope global ens160\\       valid_lft forever
2: ens160    inet6 fe80::250:56ff:fe9a:1/64 scope link \\       valid_lft forever preferred_lft forever
4: weave    inet 10.44.0.0/12 brd 10.47.255.255 scope global weave\\       valid_lft forever
7: flannel.1    inet 10.244.1.0/32 scope global flannel.1\\       valid_lft forever
9: cali1234abcd@if3    inet6 fe80::ecee:eeff:feee:eeee/64 scope link \\       valid_lft forever
"""


def test_node_interface_and_cni_ranges():
    snap = NodeSnapshot("n", interfaces=parse_ip_addr(IP_ADDR),
                        default_route=parse_default_route("default via 10.10.0.1 dev ens160 proto dhcp\n"))
    facts = network_facts(snap)
    assert (facts.node_interface, facts.node_addresses[0]) == ("ens160", "10.10.14.124/16")
    assert facts.how == "carries the default route"
    cni = {c.name: c.ranges for c in facts.cni}
    assert [c.addresses for c in facts.cni if c.name == "weave"] == [("10.44.0.0/12",)]
    assert cni["weave"] == ("10.32.0.0/12",)  # weave's IPALLOC_RANGE
    assert cni["flannel.1"] == ("10.244.1.0/32",)
    assert "cali1234abcd" in cni


def test_the_nodes_api_address_beats_the_default_route():
    snap = NodeSnapshot("n", interfaces=parse_ip_addr(IP_ADDR), default_route="weave")
    facts = network_facts(snap, node_ip="10.10.14.124")
    assert facts.node_interface == "ens160" and "10.10.14.124" in facts.how


def test_proc_net_route_default():
    text = "Iface\tDestination\tGateway\tFlags\nens160\t00000000\t01000A0A\t0003\n"
    assert parse_default_route(text) == "ens160"
