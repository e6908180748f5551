"""The threshold gate ``dvclab check``, one concept a module.

rules (the thresholds file), metrics (what a rule may name, derived metrics, which way is better),
results (readers of every result kind), verdict (outcomes, regressions, the verdict), evaluation (rules
against results), baseline (write, read, compare), abort (the live runner's early stop), reports (JUnit,
Markdown, terminal) and cli (``dvclab check``). Imports run one way, metrics first and cli last: the
evaluation, baselines and reports share their types through verdict, never through each other.

It reads result files only, never the code that wrote them (no import of dvclab.sim, dvclab.load or
dvclab.portal; tests/test_import_graph.py holds it to that).
"""
