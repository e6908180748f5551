"""Shipped data, installed as ``dvclab.scenarios``: catalog/, sim/, load/ and thresholds.yaml.

Read through :func:`dvclab.paths.shipped`; ``dvclab init DIR`` copies it into a workspace for editing.
"""
