"""Reading nodes: what a node holds, as a NodeSnapshot, here or under --root (local.py,
rootfs.py), from a snapshot or bundle (bundle.py), or by the gather script over a transport
Shell (remote.py, passes.py). Each way is a NodeSource (source.py) whose ``load()`` gives the
kubelet model's NodeView of the node."""
