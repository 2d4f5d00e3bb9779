"""Machine states of DESIGN.md 4.1, shared by machines, bridges, the ingest and the web app."""

from enum import StrEnum


class MachineState(StrEnum):
    OFFLINE = "offline"
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    FAULT = "fault"
    MAINTENANCE = "maintenance"

    @property
    def available(self) -> bool:
        """Whether the planner may put work on a machine in this state."""
        return self in (MachineState.IDLE, MachineState.RUNNING, MachineState.PAUSED)
