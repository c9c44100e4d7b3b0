"""The README's code runs as written."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def _python_blocks():
    with open(README) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = _python_blocks()
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert os.path.exists(tmp_path / "g.keras")
    assert namespace["samples"].shape == (16, 32, 32, 1)
    assert tuple(namespace["h"].shape) == (None, 16, 16, 64)


def test_readme_shows_the_objective_as_the_code_writes_it():
    with open(README) as f:
        block = re.search(r"```text\n(d_terms = .*?)```", f.read(), re.S)
    assert block, "README lost its objective block"
    root = os.path.join(os.path.dirname(README), "kgan", "training")
    code = ""
    for name in ("one_step.py", "objective.py"):
        with open(os.path.join(root, name)) as f:
            code += " ".join(f.read().split())
    # Joined over line breaks and parentheses, as the formatter wraps them.
    code = (
        code.replace("( ", "(")
        .replace(" )", ")")
        .replace("return (", "return ")
    )
    for line in block.group(1).strip().splitlines():
        statement = line.split("#")[0].strip()
        if statement.startswith(("total = ", "d_total = ")):
            statement = "return " + statement.split(" = ", 1)[1]
        assert " ".join(statement.split()) in code, statement


def test_readme_script_commands_parse():
    """Every `python train_*.py ...` command in the README takes flags the
    script has (a renamed flag cannot leave a stale command behind)."""
    import importlib
    import shlex
    import sys

    with open(README) as f:
        text = f.read().replace("\\\n", " ")
    # Indented code lines, and inline `code` spans (which prose may wrap).
    code = re.findall(r"^    (.*)$", text, flags=re.M)
    code += [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", text)]
    pattern = r"python (train_mnist|train_celeba)\.py([^\n]*)"
    commands = [m for line in code for m in re.findall(pattern, line)]
    assert len(commands) >= 5
    root = os.path.dirname(README)
    sys.path.insert(0, root)
    try:
        for script, flags in commands:
            module = importlib.import_module(script)
            flags = re.split(r"[&;|#]", flags)[0]  # where the shell goes on
            flags = shlex.split(flags)
            flags = [f for f in flags if f not in ("--help",)]
            module.parse_args(flags)  # SystemExit(2) on an unknown flag
    finally:
        sys.path.remove(root)
