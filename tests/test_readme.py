"""Every code sample in the README runs as written.

- ```python blocks run in this process, from the repository root.
- ```sh blocks, and untagged blocks (the quick start's), are shell commands: each block runs in
  one `bash -e` from a scratch folder in which `examples` links to the repository's, with the
  interpreter's bin folder (`irforge`, `python`) first on PATH, so outputs land in the scratch
  folder and later commands of a block may read what earlier ones wrote.
- ```text blocks are output, IR or listings and are never run.

Commands a test cannot run are excluded by the rules in `NOT_RUN` (pattern -> reason), never
silently: each excluded command is reported as a skipped test carrying the rule's reason, each
must match exactly one rule, and a rule that excludes nothing fails. A block whose commands need an
optional dependency (`NEEDS`) skips, naming it, only when that dependency is absent.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "README.md").read_text()
FENCES = [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", TEXT, re.M | re.S)]
LANGUAGES = {"python", "sh", "", "text"}
PYTHON = [body for lang, body in FENCES if lang == "python"]

NOT_RUN = (
    (r"^make\b", "make targets set up .venv (every extra installed: minutes, network) and run "
                 "long jobs (the demo, the whole suite, benchmarks); CI runs `make test` on a "
                 "fresh clone"),
    (r"^irforge run .*--backend tensorrt\b", "runs a TensorRT engine: needs NVIDIA's tensorrt, "
                                             "cuda-python and a CUDA GPU, which CI lacks"),
)  # fmt: skip

NEEDS = (  # (command pattern, modules of which one must import, what to install)
    (r"^irforge build (?!.*--check)", ("tensorrt", "tensorrt_rtx"), "irforge[tensorrt]"),
    (r"^irforge .*(onnxruntime|compare)", ("onnxruntime",), "irforge[ort]"),
    (r"^python examples/pipeline_script\.py", ("onnxruntime",), "irforge[ort]"),
    (r"^python examples/train_mnist\.py", ("torch", "onnxscript"), "irforge[torch]"),
)


def _commands(body: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


SHELL = [_commands(body) for lang, body in FENCES if lang in ("sh", "")]


def _rules(command: str) -> list[str]:
    return [reason for pattern, reason in NOT_RUN if re.search(pattern, command)]


EXCLUDED = [(cmd, _rules(cmd)) for block in SHELL for cmd in block if _rules(cmd)]
RUNNABLE = [run for run in ([c for c in block if not _rules(c)] for block in SHELL) if run]


def test_readme_has_samples_of_every_kind() -> None:
    assert PYTHON and RUNNABLE and any(lang == "text" for lang, _ in FENCES)


def test_every_block_has_a_known_language() -> None:
    unknown = sorted({lang for lang, _ in FENCES} - LANGUAGES)
    assert not unknown, f"README blocks in {unknown}: use python, sh or text"


def test_every_exclusion_rule_is_used_once_per_command() -> None:
    for command, reasons in EXCLUDED:
        assert len(reasons) == 1, f"{command!r} matches {len(reasons)} NOT_RUN rules"
    used = {reason for _, reasons in EXCLUDED for reason in reasons}
    unused = [reason for _, reason in NOT_RUN if reason not in used]
    assert not unused, f"NOT_RUN rules that exclude nothing: {unused}"


@pytest.mark.parametrize("command", [c for c, _ in EXCLUDED] or [None])
def test_readme_command_not_run(command: str | None) -> None:
    """One skip per excluded command, so the report lists each with its reason."""
    if command is None:
        pytest.skip("the README excludes no command")
    pytest.skip(f"not run by rule: {_rules(command)[0]} [{command}]")


def _has_any(modules: tuple[str, ...]) -> bool:
    return any(importlib.util.find_spec(name) for name in modules)


@pytest.mark.parametrize("index", range(len(RUNNABLE)))
def test_readme_shell_block_runs(index: int, tmp_path: Path) -> None:
    commands = RUNNABLE[index]
    for pattern, modules, extra in NEEDS:
        if any(re.search(pattern, c) for c in commands) and not _has_any(modules):
            pytest.skip(f"needs {' or '.join(modules)} (pip install {extra})")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = "set -e -o pipefail\n" + "\n".join(commands) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"runnable README shell block {index}:\n{done.stdout}{done.stderr}"


def test_api_table_names_exist() -> None:
    """Every dotted name called in the "Python API tour" table resolves."""
    section = TEXT.split("## Python API tour", 1)[1].split("```", 1)[0]
    names = re.findall(r"`((?:compiler|backends)(?:\.\w+)+)\(", section)
    assert len(names) >= 10, names
    for name in names:
        module, _, attr = name.rpartition(".")
        while module:
            try:
                owner = importlib.import_module(module)
                break
            except ModuleNotFoundError:
                module, _, parent = module.rpartition(".")
                attr = f"{parent}.{attr}"
        for part in attr.split("."):
            owner = getattr(owner, part)
        assert callable(owner), name


def _has_tensorrt() -> bool:
    return _has_any(("tensorrt", "tensorrt_rtx"))


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_readme_sample_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.passmanager import pass_names, unregister_pass

    if re.search(r"^(import|from) torch\b", PYTHON[index], re.M):
        pytest.importorskip("torch", reason="this README sample needs the torch extra")
    if "onnxruntime" in PYTHON[index]:
        pytest.importorskip("onnxruntime", reason="this README sample needs the ort extra")
    if "backends.tensorrt" in PYTHON[index] and not _has_tensorrt():
        pytest.skip("this README sample needs tensorrt or tensorrt_rtx (the tensorrt extra)")
    monkeypatch.chdir(ROOT)
    registered = set(pass_names())
    code = compile(PYTHON[index], f"README.md[python block {index}]", "exec")
    module = types.ModuleType(f"readme_{index}")  # a real module: dataclasses look theirs up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(code, module.__dict__)  # noqa: S102
    finally:
        for name in set(pass_names()) - registered:  # passes a sample defines stay in the sample
            unregister_pass(name)
    assert os.getcwd() == str(ROOT)
