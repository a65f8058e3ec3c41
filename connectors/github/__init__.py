"""The GitHub connector: milestones and issues through PyGithub, incremental and conditional."""

from connectors.github.client import GitHubAuth, make_github
from connectors.github.poller import GitHubPoller
from connectors.records import KnownIssues, PollRun

__all__ = ["GitHubAuth", "GitHubPoller", "KnownIssues", "PollRun", "make_github"]
