"""Write-back (SPEC §10): engineers see, in their tracker, the KRs their work feeds and how they stand.

Opt-in per source (`[sources.<name>.writeback] enabled = true`). After each successful poll
and roll-up, and on `okrsync writeback [--dry-run]`:

- GitHub: one `OKR dashboard` issue per repo (label `okrsync`) with a table of every KR the
  repo's milestones and `kr:` labels feed, and a section at the end of each linked milestone's
  description (writeback.github);
- Jira: a dashboard issue per project, and on each linked epic an `okrsync` issue property
  and one comment edited in place (writeback.jira).

The modules, in the order a pass runs them: `render` (the text, pure), `plan` (targets and
their hashes: unchanged renderings cost no request), `markers` (okrsync writes only between
its markers), `pacing` (writes spaced, rate limits waited out), the writers, and `runner`
(one pass per source, recorded in the store, never raising).
"""

from __future__ import annotations

from okrsync.writeback.runner import SourceWriteback, WritebackReport, enabled, leading, run_writeback

__all__ = ["SourceWriteback", "WritebackReport", "enabled", "leading", "run_writeback"]
