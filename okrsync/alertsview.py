"""`okrsync alerts`: the outbox as a table for people and as a stable JSON document for scripts.

The JSON document (README, "Alerts as JSON") is a stable interface like `status --json`:
fields are added, never renamed or removed. Each alert carries, besides its outbox facts,
the `payload` exactly as the webhook channel POSTs it (SPEC §5), so a script reads the same
machine-readable fields a webhook receiver does — `payload.milestone.due_before` and
`payload.milestone.due` (ISO days) of a `milestone.rescheduled`, `payload.stale` of a
`kr.stale` — and nothing is built twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from okrsync.store import Delivery, Event

# The longest alert type (`kr.confidence_drop`, `milestone.rescheduled`): its column never
# wraps, so the type stays one readable word at 80 columns while the text wraps instead.
TYPE_WIDTH = max(len(t) for t in ("milestone.rescheduled", "kr.confidence_drop", "milestone.overdue"))

Rows = Sequence[tuple[Event, Sequence[Delivery]]]


def _utc_text(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def alerts_document(rows: Rows) -> list[dict[str, Any]]:
    """Build the `alerts --json` document: one object per alert, newest day first."""
    return [
        {
            "id": event.id,
            "type": event.type,
            "day": event.day.isoformat(),
            "detected_at": _utc_text(event.detected_at),
            "kr": event.kr_id,
            "milestone": event.milestone_key,
            "owner": event.owner,
            "backlog": event.backlog,
            "text": event.payload.get("text"),
            "deliveries": [
                {
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "delivered_at": _utc_text(d.delivered_at),
                    "error": d.last_error,
                }
                for d in deliveries
            ],
            "payload": event.payload,
        }
        for event, deliveries in rows
    ]


def alerts_table(rows: Rows) -> Table:
    """Draw the alerts as a table that stays readable at 80 columns: only the text wraps."""
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("day", no_wrap=True)
    table.add_column("type", no_wrap=True, min_width=TYPE_WIDTH)
    table.add_column("kr", no_wrap=True)
    table.add_column("text", ratio=3)
    table.add_column("deliveries", ratio=1)
    for event, deliveries in rows:
        states = ", ".join(
            f"{d.channel}: {d.status}" + (f" ({d.last_error})" if d.last_error else "") for d in deliveries
        )
        table.add_row(
            event.day.isoformat(),
            event.type,
            event.kr_id or "",
            Text(str(event.payload.get("text", ""))),
            states or ("backlog" if event.backlog else "—"),
        )
    return table
