"""What the SDK scripts beside this file share: failing with the reason, a named step
(so a hang says where it hung), and a bound on the whole script."""

import signal
import sys
import time

BOUND = 120  # seconds for one wait: generous, so a slow machine never fails a test
SCRIPT_BOUND = 900  # seconds for a whole script: it fails, never hangs the test run

_step = "start"


def fail(message):
    print(f"FAIL [{_step}]: {message}", file=sys.stderr)
    sys.exit(1)


def step(name):
    """Names what the script does now, for the messages of fail and of a hang."""
    global _step
    _step = name


def check(what, got, wanted):
    if got != wanted:
        fail(f"{what}: got {got!r}, wanted {wanted!r}")


def check_true(what, condition, shown=None):
    if not condition:
        fail(f"{what}" + (f": {shown!r}" if shown is not None else ""))


def raises(what, exception, call, *args, **kwargs):
    """Calls `call`, which must raise `exception`; returns the exception."""
    try:
        result = call(*args, **kwargs)
    except exception as e:
        return e
    fail(f"{what}: no {exception.__name__}, got {result!r}")


def eventually(what, attempt):
    """Calls `attempt` until it returns a true value (retrying its exceptions too) for
    at most BOUND seconds; returns that value."""
    deadline = time.monotonic() + BOUND
    last = None
    while time.monotonic() < deadline:
        try:
            value = attempt()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001 - shown in the failure
            last = e
        time.sleep(0.2)
    fail(f"{what}: not within {BOUND}s; last: {last!r}")


def _hung(signum, frame):
    fail(f"the script did not finish within {SCRIPT_BOUND}s")


signal.signal(signal.SIGALRM, _hung)
signal.alarm(SCRIPT_BOUND)


def done():
    signal.alarm(0)
    print("ok")
