"""okrsync: link OKRs to the real work in Jira and GitHub."""

__version__ = "0.1.0"
