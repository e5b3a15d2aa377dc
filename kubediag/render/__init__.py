"""Every output format of `svc` and `audit`, one module per format.

- `json`: the bots' contract (svc report, audit document, JSON Lines), validated against kubediag/schemas/
- `markdown`: tickets and pull-request comments
- `text`: people, in the terminal (rich Text, never markup)
- `junit`: CI test reports of an audit
- `prometheus`: the audit as Prometheus/OpenMetrics metrics (textfile collector, Pushgateway)
- `progress`: the audit's progress bar on stderr
- `common`: what every format shares: object text kept inert (control characters escaped), one-line causes

Object text is untrusted: renderers never interpret it (no markup, no terminal control sequences).
"""
