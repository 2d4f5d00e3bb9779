"""Use cases: one function each, taking a session and plain values, raising domain errors.

Write use cases commit their own unit of work; web views and API handlers never commit.
"""
