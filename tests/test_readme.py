"""The code in the README and in docs/*.md runs as written.

Every ```python block of README.md and docs/*.md runs, the blocks of one
file in order in one namespace (in a temporary folder), except a block
right after a `<!-- not run: REASON -->` line and the blocks of the files
in FRAGMENTS; those are still compiled. The objective block (docs/GUIDE.md)
is checked against the code, and every `python train_*.py ...` command is
parsed by its script and turned into a RunConfig.
"""

import glob
import importlib
import os
import re
import shlex
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
README = os.path.join(ROOT, "README.md")
DOCS = [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))

NOT_RUN = re.compile(r"<!--\s*not run:\s*\S.*?-->\s*\Z", re.S)
# Files whose python blocks are fragments of the reader's own program
# (they use names the reader defines); compiled, not run.
FRAGMENTS = {
    "docs/AUGMENTATION.md": "trains on the reader's own `images`, `g`, `d`",
}


def name(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def read(path):
    with open(path) as f:
        return f.read()


def python_blocks(path):
    """[(block, runs)] for the ```python blocks of one file."""
    text = read(path)
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        runs = not NOT_RUN.search(before) and name(path) not in FRAGMENTS
        blocks.append((match.group(1), runs))
    return blocks


RUNNABLE = [p for p in DOCS if any(runs for _, runs in python_blocks(p))]


def check_readme(namespace, folder):
    assert os.path.exists(folder / "g.keras")
    assert namespace["samples"].shape == (16, 32, 32, 1)


def check_guide(namespace, folder):
    assert tuple(namespace["h"].shape) == (None, 16, 16, 64)
    assert os.path.isdir(folder / "runs" / "recipe")


CHECKS = {"README.md": check_readme, "docs/GUIDE.md": check_guide}


def test_every_python_block_compiles_and_most_run():
    runnable = 0
    for path in DOCS:
        for block, runs in python_blocks(path):
            compile(block, name(path), "exec")  # SyntaxError names the file
            runnable += runs
    assert runnable >= 3
    assert set(CHECKS) <= {name(p) for p in RUNNABLE}
    for path in FRAGMENTS:
        assert os.path.exists(os.path.join(ROOT, path)), path


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=name)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block, runs in python_blocks(path):
        if runs:
            exec(compile(block, name(path), "exec"), namespace)
    check = CHECKS.get(name(path))
    if check:
        check(namespace, tmp_path)


def objective_blocks():
    found = []
    for path in DOCS:
        for block in re.findall(
            r"```text\n(d_terms = .*?)```", read(path), re.S
        ):
            found.append((name(path), block))
    return found


def test_docs_show_the_objective_as_the_code_writes_it():
    blocks = objective_blocks()
    assert blocks, "no doc shows the objective block (docs/GUIDE.md had it)"
    root = os.path.join(ROOT, "kgan", "training")
    code = ""
    for module in ("one_step.py", "objective.py"):
        code += " ".join(read(os.path.join(root, module)).split())
    # Joined over line breaks and parentheses, as the formatter wraps them.
    code = (
        code.replace("( ", "(")
        .replace(" )", ")")
        .replace("return (", "return ")
    )
    for where, block in blocks:
        for line in block.strip().splitlines():
            statement = line.split("#")[0].strip()
            if statement.startswith(("total = ", "d_total = ")):
                statement = "return " + statement.split(" = ", 1)[1]
            assert " ".join(statement.split()) in code, (where, statement)


def code_lines(text):
    """Indented code lines, lines of ``` fences other than python, and
    inline `code` spans (which prose may wrap)."""
    text = text.replace("\\\n", " ")
    text = text.replace("\\|", "|")  # a pipe escaped in a Markdown table
    lines = []
    fences = r"^```([^\n]*)\n(.*?)^```"
    for match in re.finditer(fences, text, re.S | re.M):
        if match.group(1).strip() != "python":
            lines += match.group(2).splitlines()
    prose = re.sub(fences, "", text, flags=re.S | re.M)
    lines += re.findall(r"^    (.*)$", prose, flags=re.M)
    lines += [s.replace("\n", " ") for s in re.findall(r"`([^`]+)`", prose)]
    return lines


def script_commands():
    pattern = r"python (train_mnist|train_celeba)\.py([^\n]*)"
    commands = []
    for path in DOCS:
        for line in code_lines(read(path)):
            for script, flags in re.findall(pattern, line):
                flags = re.split(r"[&;|#]", flags)[0]  # where the shell goes on
                commands.append((name(path), script, flags))
    return commands


def test_script_commands_parse(tmp_path, monkeypatch):
    """Every `python train_*.py ...` command in README.md and docs/*.md
    takes flags the script has, in a combination it accepts (a renamed
    flag or a new rule cannot leave a stale command behind)."""
    from kgan import cli, recipes

    commands = script_commands()
    assert len(commands) >= 5
    assert {where for where, _, _ in commands} >= {
        "README.md",
        "docs/SCRIPTS.md",
        "docs/SCALE_OUT.md",
    }
    monkeypatch.chdir(tmp_path)  # --resume finds no run: flags only
    sys.path.insert(0, ROOT)
    try:
        for where, script, flags in commands:
            module = importlib.import_module(script)
            argv = [f for f in shlex.split(flags) if f != "--help"]
            command = f"{where}: python {script}.py {flags.strip()}"
            try:
                args = module.parse_args(argv)  # SystemExit(2): unknown flag
                if script == "train_mnist":  # as the scripts' main() does
                    classes = 10 if args.conditional else None
                    cli.run_config(
                        args, image_size=32, channels=1, num_classes=classes
                    )
                else:
                    cli.run_config(args, channels=3)
            except (SystemExit, cli.Failure, recipes.ConfigError) as error:
                pytest.fail(f"{command}\n  {error}")
    finally:
        sys.path.remove(ROOT)
