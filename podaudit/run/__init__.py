"""The use cases, without click: select nodes, sweep and audit them, find a pod, collect and
analyze bundles, change a node."""
