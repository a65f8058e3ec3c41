"""The HTML report (`okrsync report --out DIR`, and the daemon's `/` and `/kr/<KR-ID>`).

Stages, each a module: `facts` reads what the roll-up does not carry (history, check-ins,
alerts, the first open issues) in a few batch queries; `pages` shapes the status document and
the roll-up into page dicts and charts (pure); `charts` is the charts' geometry (pure);
`render` fills the Jinja2 templates of `okrsync/templates/` and writes or serves them.
"""

from __future__ import annotations

from okrsync.report.render import CONTENT_SECURITY_POLICY, LivePages, write_report

__all__ = ["CONTENT_SECURITY_POLICY", "LivePages", "write_report"]
