"""The threshold gate ``dvclab check``: rules, result readers, evaluation, baselines, live abort rules
and reports.

It reads result files only, never the code that wrote them (no import of dvclab.sim, dvclab.load or
dvclab.portal).
"""
