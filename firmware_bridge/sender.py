"""Moves spooled messages to the broker, oldest first, removing each only after the broker's PUBACK.

Runs on its own thread. While the broker is away nothing is sent and the spool grows; when it returns the
backlog goes out in order, in small windows so a long backlog does not flood the broker's queues. A
message the broker refuses (ACL: reason 135) is logged, counted and removed, since resending it cannot help.
"""

from __future__ import annotations

import logging
import threading

from drivers.mqtt import MqttClient
from firmware_bridge.spool import Spool

log = logging.getLogger(__name__)

WINDOW = 100
ACK_TIMEOUT_S = 10.0


class Sender:
    def __init__(self, spool: Spool, client: MqttClient, *, window: int = WINDOW):
        self.spool = spool
        self.client = client
        self.window = window
        self.sent = 0
        self.refused = 0
        self.wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name="spool-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Send one last window if connected, then stop; what is left stays on disk for next time."""
        self._stop.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(2 * ACK_TIMEOUT_S)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.client.connected.wait(0.5):
                continue
            if not self.send_window():
                self.wakeup.wait(0.5)
                self.wakeup.clear()
        if self.client.connected.is_set():
            self.send_window()

    def send_window(self) -> bool:
        """Send up to `window` spooled messages and wait for their answers; False when nothing was sent."""
        batch = self.spool.peek(self.window)
        if not batch:
            return False
        results = [(item, self.client.publish(item.topic, item.payload, retain=item.retain)) for item in batch]
        answered = None
        for item, result in results:
            if not result.wait(ACK_TIMEOUT_S):
                break  # connection lost: keep this one and the rest; they go again after reconnecting
            if result.refused_for_good:
                self.refused += 1
                log.error("broker refused %s (%s); message dropped from the spool", item.topic, result.reason)
            elif not result.ok:
                if result.refused:
                    log.warning("broker put off %s (%s); it stays in the spool", item.topic, result.reason)
                break
            else:
                self.sent += 1
            answered = item
        if answered is not None:
            self.spool.remove_through(answered.id)
        return answered is not None
