"""Findings: rules with stable IDs over node reports, baselines and drift."""
