"""Boxes a line of text."""


def box(text: str) -> str:
    bar = "+" + "-" * (len(text) + 2) + "+"
    return f"{bar}\n| {text} |\n{bar}"
