import sys

from slugify_lite import slugify

if __name__ == "__main__":
    print(slugify(" ".join(sys.argv[1:]) or "Hello, Strata World!"))
