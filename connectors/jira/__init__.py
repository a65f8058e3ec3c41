"""The Jira connector: Cloud and Data Center through the `jira` client, incremental by `updated`.

Fix versions, epics and JQL sets become milestones; issues are classified per SPEC §2. See
`poller.py` for how one poll works and `client.py` for rate limits and errors.
"""

from connectors.jira.client import make_jira, retry_after_seconds
from connectors.jira.poller import JiraPoller
from connectors.jira.records import JqlSet, SiteFields

__all__ = ["JiraPoller", "JqlSet", "SiteFields", "make_jira", "retry_after_seconds"]
