"""Pipelines: what a pipeline string means, and its canonical spelling.

Syntax (whitespace between tokens is ignored):

```
pipeline := [ item { "," item } ]
item     := PASS [ "{" option { "," option } "}" ]          a pass with options
          | NAME                                             a named pipeline, expanded in place
          | "repeat" "(" pipeline [ ";" option { "," option } ] ")"
option   := FLAG "=" VALUE                                   FLAG is the kebab-case field name
VALUE    := true | false | none | 8 | 0.5 | relu | "any \"quoted\" text"
```

Examples: `fold-constants,prune-dead-nodes`, `quantize-symmetric{bits=8,per-channel=true}`,
`repeat(fold-constants,prune-dead-nodes; max-iterations=4)`, `default,repeat(default; strict=true)`.

`repeat(...)` runs its body until an iteration changes nothing (a fixed point) or `max-iterations`
(default 10) iterations ran; still changing then is a warning, or a `PassError` with `strict=true`.

The canonical spelling (`Pipeline.spec()`) expands named pipelines and prints every option of every
pass and repeat, so a spec stored in a model's metadata replays the same passes even after defaults
or named pipelines change. `parse_pipeline(p.spec()).spec() == p.spec()` for every pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from compiler.passmanager.base import OptionSpec, Pass, format_value

DEFAULT_MAX_ITERATIONS = 10
REPEAT_OPTIONS = (
    OptionSpec("max_iterations", "max-iterations", int, False, DEFAULT_MAX_ITERATIONS),
    OptionSpec("strict", "strict", bool, False, False),
)


@dataclass(frozen=True)
class Repeat:
    """Run `body` until an iteration changes nothing, at most `max_iterations` times.

    Attributes:
        body: The steps of one iteration.
        max_iterations: The loop guard.
        strict: Raise a `PassError` (instead of logging a warning) when the body still changes the
            graph in its last allowed iteration.
    """

    body: tuple[Step, ...]
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    strict: bool = False

    def __post_init__(self) -> None:
        if not self.body:
            raise ValueError("repeat needs at least one pass")
        if self.max_iterations < 1:
            raise ValueError("max-iterations must be at least 1")

    def spec(self) -> str:
        body = ",".join(step.spec() for step in self.body)
        options = f"max-iterations={self.max_iterations},strict={format_value(self.strict)}"
        return f"repeat({body}; {options})"


Step = Pass | Repeat


@dataclass(frozen=True)
class Pipeline:
    """A parsed pipeline: passes and fixed-point loops in order.

    Build one from text with `Pipeline.parse("fold-constants,prune-dead-nodes")` or from objects
    with `Pipeline((PruneDeadNodesPass(), Repeat((...,))))`.
    """

    steps: tuple[Step, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Pipeline:
        """Parse pipeline text; see the module docstring. Raises `PassError` with a caret."""
        from compiler.passmanager.parse import parse_pipeline

        return parse_pipeline(text)

    def spec(self) -> str:
        """The canonical pipeline string (named pipelines expanded, every option printed)."""
        return ",".join(step.spec() for step in self.steps)

    def passes(self) -> Iterator[Pass]:
        """Every pass in the pipeline, loops flattened, in order (each once)."""
        yield from _flatten(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return self.spec()


def _flatten(steps: tuple[Step, ...]) -> Iterator[Pass]:
    for step in steps:
        if isinstance(step, Repeat):
            yield from _flatten(step.body)
        else:
            yield step


__all__ = ["DEFAULT_MAX_ITERATIONS", "Pipeline", "REPEAT_OPTIONS", "Repeat", "Step"]
