"""At most `cap` deliveries in flight per host, so a hung host cannot take every slot.

Claimed jobs over the cap wait here (not counted as in flight) for the host's next free slot.
Pure bookkeeping: no I/O, no clock (the caller says whether a parked job's lease is still good).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from fedblog.storage.outbox import Delivery

HOST_CAP = 8               # deliveries in flight to one host at most (per worker process)


class HostSlots:
    def __init__(self, cap: int = HOST_CAP) -> None:
        self.cap = max(1, cap)
        self.busy: dict[str, int] = {}
        self.parked: dict[str, deque[tuple[Delivery, float]]] = {}
        self.parked_count = 0

    def admit(self, job: Delivery, claimed_at: float) -> bool:
        """Take a slot of the job's host (True: start it now), or park the job."""
        if self.busy.get(job.host, 0) < self.cap:
            self.take(job.host)
            return True
        self.parked.setdefault(job.host, deque()).append((job, claimed_at))
        self.parked_count += 1
        return False

    def take(self, host: str) -> None:
        self.busy[host] = self.busy.get(host, 0) + 1

    def free(self, host: str) -> None:
        busy = self.busy.get(host, 1) - 1
        if busy > 0:
            self.busy[host] = busy
        else:
            self.busy.pop(host, None)

    def next_parked(self, host: str,
                    usable: Callable[[float], bool]) -> tuple[Delivery | None, list[Delivery]]:
        """The host's next parked job whose claim time is still `usable`, and the ones passed
        over on the way to it (to be given back unsent)."""
        queue = self.parked.get(host)
        if not queue:
            return None, []
        passed: list[Delivery] = []
        found: Delivery | None = None
        while queue:
            job, claimed_at = queue.popleft()
            self.parked_count -= 1
            if usable(claimed_at):
                found = job
                break
            passed.append(job)
        if not queue:
            del self.parked[host]
        return found, passed

    def drain(self) -> list[Delivery]:
        """Every parked job, unparked."""
        jobs = [job for queue in self.parked.values() for job, _ in queue]
        self.parked.clear()
        self.parked_count = 0
        return jobs
