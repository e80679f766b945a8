"""Pass infrastructure: passes, the pass registry, pipelines, the pass manager and its hooks.

```python
from compiler.passmanager import PassManager, Pipeline, VerifyEach

pipeline = Pipeline.parse("fold-constants,repeat(prune-dead-nodes; max-iterations=4)")
report = PassManager(pipeline, [VerifyEach()]).run(graph)
print(report.timing_table())
```

Most callers use `compiler.optimize(graph, pipeline=...)`, which adds the standard hooks.
Pattern rewrites live in `compiler.passmanager.rewrite`.
"""

from __future__ import annotations

from compiler.passmanager.base import Pass
from compiler.passmanager.hooks import Hook, PassRun, PrintIRAfter, TimePasses, VerifyEach
from compiler.passmanager.manager import PassManager, run_pipeline
from compiler.passmanager.numerics import CheckNumerics, Runner, ToleranceFn
from compiler.passmanager.parse import PipelineError, parse_pipeline
from compiler.passmanager.pipeline import Pipeline, Repeat
from compiler.passmanager.registry import (
    find_pass,
    named_pipelines,
    pass_names,
    register_pass,
    unregister_pass,
)
from compiler.passmanager.report import PassRecord, PassReport, RuleStats, current_record, note

__all__ = [
    "CheckNumerics", "Hook", "Pass", "PassManager", "PassRecord", "PassReport", "PassRun",
    "Pipeline", "PipelineError", "PrintIRAfter", "Repeat", "RuleStats", "Runner", "TimePasses",
    "ToleranceFn",
    "VerifyEach", "current_record", "find_pass", "named_pipelines", "note", "parse_pipeline",
    "pass_names", "register_pass", "run_pipeline", "unregister_pass",
]  # fmt: skip
