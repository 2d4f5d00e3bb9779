"""The process that runs beside a machine and joins its firmware's serial port to MQTT (DESIGN.md 4.2)."""
