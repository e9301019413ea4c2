"""Changing a node: plans (plan.py), the scripts that carry them out (script.py), applying
them through the node's transport Shell (apply.py), and what a quarantine holds."""
