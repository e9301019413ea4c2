"""podaudit watch: know within seconds when a node's static pods change (docs/watch.md).

events (what is reported), feed (how a node says it changed), tracker (successive readings
as events), loop (one thread per node: read, watch, wait, read again), local and remote feeds.
"""
