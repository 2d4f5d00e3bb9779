"""The factory's Mosquitto broker: password hashes, config/ACL/password files, and running it.

Pure text and file work on plain data (no Flask, no ORM objects), so the CLI, tests and benchmarks all
build the broker the same way.
"""
