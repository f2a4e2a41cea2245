"""The `bert` package as pip installs it: importable from anywhere without the repository, its
layers importing only downwards, its light modules (config checks, data stages, launchers) free of
MindSpore, and no sys.path edits anywhere."""
import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

# Lower layers first; a module may import its own layer and the layers below it.
LAYERS = (
    ("foundations", ("bert.atomic", "bert.config", "bert.assets", "bert.pins", "bert.counter", "bert.tokenization", "bert.device",
                     "bert.device_settings", "bert.flops", "bert.model_dir", "bert.dropout", "bert.kernels",
                     "bert.doctor")),
    ("data", ("bert.data", "bert.glue")),
    ("models", ("bert.model", "bert.convert")),
    ("training", ("bert.train",)),
    ("stages", ("bert.pretrain", "bert.finetune", "bert.distill", "bert.predict", "bert.study")),
    ("launching", ("bert.cluster",)),
)
# Imported where MindSpore must not load: config checks before a stage starts, data stages, launchers.
LIGHT = ("bert.config", "bert.device", "bert.device_settings", "bert.tokenization", "bert.model_dir", "bert.flops",
         "bert.data.prepare", "bert.data.examples", "bert.data.mindrecord_writer", "bert.glue.grid",
         "bert.glue.dataset", "bert.glue.demo", "bert.train.config", "bert.train.checkpoints", "bert.train.data",
         "bert.train.cli", "bert.train.loop", "bert.train.classifier", "bert.pretrain", "bert.finetune",
         "bert.distill", "bert.predict", "bert.study", "bert.convert", "bert.doctor", "bert.cluster.launch",
         "bert.cluster.submit", "bert.cluster.profiles")


def layer_of(module: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_package.py")


def imported_modules(path: Path) -> set[str]:
    """Every bert.* module `path` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bert")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bert") and not node.level:
            found |= {f"{node.module}.{a.name}" if node.module == "bert" else node.module for a in node.names}
    return found


def test_no_module_imports_from_a_layer_above_it():
    above = []
    for path in sorted((REPO / "bert").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        if module == "bert":
            continue
        for imported in imported_modules(path):
            if imported != "bert" and layer_of(imported) > layer_of(module):
                above.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {imported} "
                             f"({LAYERS[layer_of(imported)][0]})")
    assert not above, "\n".join(above)


def test_light_modules_do_not_load_mindspore():
    script = ("import importlib, sys\n"
              f"for name in {LIGHT!r}:\n"
              "    importlib.import_module(name)\n"
              "    assert 'mindspore' not in sys.modules and 'tensorboardX' not in sys.modules, name\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_installed_package_imports_from_any_folder_without_the_repository(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "bert", source / "bert", ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--target", str(site), str(source)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = ("import bert, bert.pretrain, bert.finetune, bert.distill, bert.data.prepare, bert.cluster.launch\n"
              "print(bert.__file__)")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    run = subprocess.run([sys.executable, "-S", "-c", f"import site; site.main(); {script.replace(chr(10), '; ')}"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str(site / "bert" / "__init__.py")  # not the repository's editable copy


def test_no_sys_path_edits_in_the_code():
    edits = [f"{path.relative_to(REPO)}:{i}" for folder in ("bert", "jobs", "tools", "bench")
             for path in sorted((REPO / folder).rglob("*.py"))
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"sys\.path\.(insert|append)|sys\.path\[|PYTHONPATH", line)]
    assert not edits, edits
