"""Protocol drivers: the MQTT message vocabulary (DESIGN.md 4.1) and firmware serial protocols."""
