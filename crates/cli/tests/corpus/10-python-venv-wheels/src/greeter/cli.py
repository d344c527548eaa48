import sys

from tinyfmt import box


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    print(box(f"hello, {name}"))
