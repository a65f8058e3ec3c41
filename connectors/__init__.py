"""Tracker connectors: each turns a tracker into plain records and a cursor.

A connector knows nothing of OKRs or of the database; the engine owns state.
"""
