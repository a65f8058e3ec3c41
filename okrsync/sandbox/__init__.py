"""Simulated trackers on 127.0.0.1 that speak the real GitHub and Jira REST shapes.

The demo, the tests and the benchmark drive the real PyGithub and `jira` clients against them.
"""
