"""cryptopulse's monitoring as code: Grafana dashboards and Prometheus rules, generated.

``python -m cryptopulse_monitoring`` writes the chart's dashboards
(``charts/cryptopulse/dashboards/*.json``), its rules file
(``charts/cryptopulse/rules/cryptopulse.rules.yaml``) and the generated sections of README.md and
docs/; ``--check`` fails when any of them differs from what the code generates.
"""
