"""Tooling around OKRs as code: the JSON Schemas of the files and `okrsync diff`.

The files themselves are read by `okrsync.settings` and `okrsync.mappings`; this package only
publishes their shape (`schema`) and compares two versions of the mappings (`diff`).
"""
