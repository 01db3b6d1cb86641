"""What both benchmarks need to know about the shared 2-core machine they run on."""
import time


class MachineLoad:
    """How busy all CPUs of the machine were between two readings of /proc/stat (other
    engineers' test runs share this 2-core machine and skew wall-clock figures)."""

    def __init__(self):
        self.last = self._read()

    @staticmethod
    def _read():
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle

    def busy_since_last(self) -> float:
        total, idle = self._read()
        span, idle_span = total - self.last[0], idle - self.last[1]
        self.last = (total, idle)
        return 100.0 * (1 - idle_span / span) if span else 0.0

    @staticmethod
    def wait_quiet(limit_seconds: float, out, threshold: float = 25.0) -> None:
        """Wait (up to the limit) for a second in which the machine is under `threshold`% busy."""
        deadline = time.monotonic() + limit_seconds
        while True:
            probe = MachineLoad()
            time.sleep(1.0)
            busy = probe.busy_since_last()
            if busy < threshold or time.monotonic() > deadline:
                out(f"machine {busy:.0f}% busy before measuring" + ("" if busy < threshold else " (gave up waiting)"))
                return
            time.sleep(4.0)
