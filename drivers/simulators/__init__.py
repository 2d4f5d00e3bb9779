"""Simulated firmware speaking Marlin's and GRBL's real serial protocols on pseudo-terminals.

`MarlinSimulator` and `GrblSimulator` run on a thread (start/stop/unplug/replug/reset) for tests, and as
`python -m drivers.simulators.marlin_sim --link PATH` / `... grbl_sim --link PATH` for `make demo`.
Standard library only, so the demo needs no hardware and no extra packages.
"""
