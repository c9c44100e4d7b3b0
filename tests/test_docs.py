"""The README stays short and true: its module table names exactly what
each module exports, every relative link in README.md and docs/*.md leads
somewhere, and the test command is the one CI runs."""

import ast
import glob
import importlib
import inspect
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
README = os.path.join(ROOT, "README.md")
DOCS = [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))

MODULES = (
    "layers", "models", "losses", "training", "callbacks", "data",
    "metrics", "recipes", "sampling", "distribution",
)  # fmt: skip


def read(path):
    with open(path) as f:
        return f.read()


def module_table():
    """{module name: [backticked names of its row's last cell]}."""
    rows = {}
    for line in read(README).splitlines():
        match = re.match(r"\|\s*`kgan\.(\w+)`\s*\|", line)
        if match:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            names = re.findall(r"`([^`]+)`", cells[-1])
            assert match.group(1) not in rows, f"two rows for {match.group(1)}"
            rows[match.group(1)] = names
    return rows


def own_public_names(module):
    """A module's public names when it has no `__all__`: what its source
    defines or assigns at top level, and, for a package, what it imports
    from its own submodules; not underscored."""
    tree = ast.parse(inspect.getsource(module))
    package = hasattr(module, "__path__")
    names = set()
    for node in tree.body:
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(
            node.target, ast.Name
        ):
            names.add(node.target.id)
        elif (
            package
            and isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith(module.__name__ + ".")
        ):
            names.update(a.asname or a.name for a in node.names)
    return {n for n in names if not n.startswith("_")}


def test_module_table_names_every_export():
    rows = module_table()
    missing = [m for m in MODULES if m not in rows]
    assert not missing, f"README's module table has no row for {missing}"
    for module_name, names in rows.items():
        module = importlib.import_module(f"kgan.{module_name}")
        assert len(names) == len(set(names)), f"kgan.{module_name}: a repeat"
        if hasattr(module, "__all__"):
            expected, source = set(module.__all__), "__all__"
        else:
            expected, source = own_public_names(module), "public names"
        listed = set(names)
        assert listed == expected, (
            f"kgan.{module_name}: the README lists {sorted(listed - expected)} "
            f"that its {source} lacks, and lacks {sorted(expected - listed)}"
        )
        for exported in expected:
            assert hasattr(module, exported), f"kgan.{module_name}.{exported}"


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {slug(h) for h in re.findall(r"^#+ (.*)$", read(path), flags=re.M)}


def test_relative_links_lead_somewhere():
    broken = []
    checked = 0
    for path in DOCS:
        text = re.sub(r"^```.*?^```", "", read(path), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            where = (
                os.path.normpath(os.path.join(os.path.dirname(path), file))
                if file
                else path
            )
            checked += 1
            if not os.path.exists(where):
                broken.append(f"{os.path.relpath(path, ROOT)}: {target}")
            elif anchor and where.endswith(".md"):
                if anchor not in anchors(where):
                    broken.append(f"{os.path.relpath(path, ROOT)}: {target}")
    assert checked >= 10
    assert not broken, broken


def test_readme_is_short():
    lines = read(README).splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines"


def test_readme_links_every_guide():
    text = read(README)
    for doc in (
        "docs/GUIDE.md", "docs/SCRIPTS.md", "docs/SCALE_OUT.md",
        "docs/PERFORMANCE.md", "docs/RELIABILITY.md", "docs/RESULTS.md",
        "docs/AUGMENTATION.md", "notebooks/",
    ):  # fmt: skip
        assert f"]({doc})" in text, doc


def test_readme_test_command_is_the_one_ci_runs():
    ci = os.path.join(ROOT, ".ci", "run")
    commands = [
        line
        for line in read(ci).splitlines()
        if line.startswith("pip install") and "pytest" in line
    ]
    assert len(commands) == 1, commands
    assert "\n    " + commands[0] + "\n" in read(README)
