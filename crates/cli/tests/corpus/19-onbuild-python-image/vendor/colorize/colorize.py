def bracket(text, left="[", right="]"):
    return f"{left}{text}{right}"
