#!/usr/bin/env python3
"""Keypress-to-redraw latency of `strata explore IMAGE` on a real pty (issue 21).

Starts the interactive view at 80x24, waits for its first screen, then for each kind of
key sends it and measures the time until the view's redraw is complete: the last byte
of output before 25 ms of quiet (the quiet itself is not counted). Prints one line per
key kind: median and worst over the repeats, in milliseconds.

    python3 bench/explore_keys.py STRATA --root ROOT explore IMAGE
"""
import fcntl, os, pty, select, statistics, struct, sys, termios, time

QUIET = 0.025


def main():
    argv = sys.argv[1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    deadline = time.monotonic() + 120
    while b"Layers of" not in seen:
        if time.monotonic() > deadline:
            sys.exit("the view never showed its first screen")
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            seen += os.read(fd, 65536)
    settle(fd)

    def press(key):
        t0 = time.monotonic()
        os.write(fd, key)
        last = None
        while True:
            r, _, _ = select.select([fd], [], [], QUIET if last else 30)
            if not r:
                break
            os.read(fd, 65536)
            last = time.monotonic()
        return (last - t0) * 1000 if last else float("nan")

    results = {}
    # The layers: next and previous (the tree of a layer's changes is made again).
    results["layer j/k"] = [press(b"j" if i % 2 == 0 else b"k") for i in range(20)]
    # The whole image as of the last layer, and back (the biggest tree).
    press(b"G")
    results["image view a"] = [press(b"a") for _ in range(10)]
    # Moving in the tree (no rows made again).
    press(b"\t")
    results["tree down"] = [press(b"j") for _ in range(30)]
    os.write(fd, b"q")
    os.waitpid(pid, 0)
    for name, times in results.items():
        print(f"{name}: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms ({len(times)} presses)")


def settle(fd):
    while True:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            return
        os.read(fd, 65536)


if __name__ == "__main__":
    main()
