"""Pattern rewrites: rules and the greedy worklist driver that applies them to a fixed point.

A rule names a `pattern` (an op and, optionally, patterns for its inputs' producers and a
predicate), a `check` that explains a refusal, and a `rewrite` that builds the replacement:

```python
class FuseAddRelu(RewriteRule):
    name = "fuse-add-relu"
    pattern = P("relu", P("add", "a", "b", capture="add"))

    def check(self, match: Match) -> str | None:
        if match["add"].output.num_uses > 1:
            return "the add has other users"
        return None

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        return b.op("add_relu", match.value("a"), match.value("b"))
```

The driver replaces the root's outputs with what `rewrite` returns (graph outputs included),
erases matched nodes left without uses (and constants only they used), and revisits the new
nodes, their users and the producers of what it erased. New nodes made through the builder get
`fuse(...)` of the matched nodes' locations. A loop guard (`max_rewrites`) turns a rule set that
never converges into a `PassError`. Per-rule statistics (matched, applied, refused, last refusal)
go to the running pass's record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import ClassVar

from compiler.errors import PassError
from compiler.graph import Builder, Graph
from compiler.ir import Node, Value
from compiler.location import Location, fuse
from compiler.passmanager.changes import describe_node
from compiler.passmanager.report import RuleStats, current_record


@dataclass(frozen=True)
class Pattern:
    """Matches a node by op, optional predicate, and patterns for its inputs.

    Attributes:
        ops: Accepted op names.
        inputs: Per input: a `Pattern` its producer must match, a `str` capturing the value under
            that name, or None (anything, even absent). None for the whole tuple: inputs unchecked.
        capture: Name under which the matched node is captured (default: its op name).
        where: Extra predicate on the node.
    """

    ops: frozenset[str]
    inputs: tuple[Pattern | str | None, ...] | None = None
    capture: str | None = None
    where: Callable[[Node], bool] | None = None

    def match(self, node: Node) -> Match | None:
        """A `Match` rooted at `node`, or None."""
        match = Match(node)
        return match if self._match(node, match) else None

    def _match(self, node: Node, match: Match) -> bool:
        if node.op not in self.ops or (self.where is not None and not self.where(node)):
            return False
        match.nodes.setdefault(self.capture or node.op, node)
        if node not in match.matched:
            match.matched.append(node)
        # No backtracking: a failing input fails the whole match, so partial captures are moot.
        return self.inputs is None or self._match_inputs(node, match)

    def _match_inputs(self, node: Node, match: Match) -> bool:
        patterns = self.inputs or ()
        if len(patterns) > node.num_inputs:
            return False
        for sub, value in zip(patterns, node.inputs[: len(patterns)], strict=True):
            if sub is None:
                continue
            if value is None:
                return False
            if isinstance(sub, str):
                match.values.setdefault(sub, value)
            elif value.producer is None or not sub._match(value.producer, match):
                return False
        return True


def P(
    ops: str | Iterable[str],
    *inputs: Pattern | str | None,
    capture: str | None = None,
    where: Callable[[Node], bool] | None = None,
) -> Pattern:
    """Build a `Pattern`: `P("relu", P("conv", "x", "w", capture="conv"))`.

    Without input patterns the inputs are unchecked; listing fewer patterns than the node has
    inputs leaves the rest unchecked.
    """
    names = frozenset([ops] if isinstance(ops, str) else ops)
    return Pattern(names, tuple(inputs) if inputs else None, capture, where)


@dataclass
class Match:
    """A successful match.

    Attributes:
        root: The node the pattern's root matched.
        nodes: Captured nodes by capture name (default: op name; the first wins).
        values: Captured input values by name.
        matched: Every matched node, root first, then producers in pattern order (depth first).
    """

    root: Node
    nodes: dict[str, Node] = field(default_factory=dict)
    values: dict[str, Value] = field(default_factory=dict)
    matched: list[Node] = field(default_factory=list)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def value(self, name: str) -> Value:
        return self.values[name]

    def fused_loc(self) -> Location:
        """`fuse` of the matched nodes' locations, in program order of the match (root last)."""
        return fuse(*(n.loc for n in reversed(self.matched)))


class RewriteBuilder(Builder):
    """A `Builder` inserting before the match root, with the fused location; remembers the nodes
    it made so the driver can revisit them."""

    def __init__(self, graph: Graph, match: Match) -> None:
        super().__init__(graph, before=match.root, loc=match.fused_loc())
        self.created: list[Node] = []

    def insert(self, node: Node) -> Node:
        self.created.append(node)
        return super().insert(node)

    def op_like(
        self, op: str, *inputs: Value | None, like: Value, name: str | None = None, **attrs: object
    ) -> Value:
        """One-output `op` whose result has `like`'s type (and name, unless `name` is given).

        For rewrites that keep the root's result type (a fusion computes the same tensor):
        shape inference, a sizeable share of a rewrite's cost, is skipped; attributes are still
        validated and completed.
        """
        node = self.graph.create_node(
            op, inputs, attrs, loc=self.loc, names=[like.name if name is None else name],
            output_types=[like.type],
        )  # fmt: skip
        return self.insert(node).output


class RewriteRule:
    """Base of rewrite rules; subclasses set `name` and `pattern` and implement `rewrite`."""

    name: ClassVar[str] = ""
    pattern: ClassVar[Pattern]

    def check(self, match: Match) -> str | None:
        """Why the rewrite must not happen here (e.g. "BN scale is shared"), or None."""
        return None

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value | Sequence[Value] | None:
        """Build the replacement of `match.root`'s outputs with `b`.

        Returns:
            The replacement value(s), one per root output; or None when the rule rewired the
            graph itself (matched nodes left without uses are still erased).
        """
        raise NotImplementedError


class RewriteDriver:
    """Applies rules greedily with a worklist until no rule applies.

    Args:
        rules: Tried in order at each node; the first whose pattern matches and check passes wins.
        max_rewrites: Loop guard; None means 10 × the node count + 100.
    """

    def __init__(
        self,
        rules: Sequence[RewriteRule],
        max_rewrites: int | None = None,
        budget: int | None = None,
    ) -> None:
        self.rules = list(rules)
        self.max_rewrites = max_rewrites
        self.budget = budget
        self.applied = 0  # rewrites applied by the last `run`
        self.stats: dict[str, RuleStats] = {r.name: RuleStats() for r in self.rules}
        self._by_op: dict[str, list[RewriteRule]] = {}
        for rule in self.rules:
            for op in rule.pattern.ops:
                self._by_op.setdefault(op, []).append(rule)

    def run(self, graph: Graph) -> bool:
        """Rewrite `graph` to a fixed point; True when any rule applied.

        Raises:
            PassError: when the loop guard trips, naming the rules that kept applying.
        """
        limit = self.max_rewrites if self.max_rewrites is not None else 10 * len(graph) + 100
        try:
            # Seed only nodes some rule is rooted at: most nodes of a big graph match none.
            seeds = [n for n in graph.nodes if n.op in self._by_op]
            return self._drain(graph, _Worklist(seeds), limit) > 0
        finally:
            record = current_record()
            if record is not None:
                record.add_rule_stats(self.stats)

    def _drain(self, graph: Graph, work: _Worklist, limit: int) -> int:
        self.applied = 0
        shared = _ACTIVE_BUDGET.get()
        while work and not self._exhausted(shared):
            node = work.pop()
            if node.graph is not graph or node.op not in self._by_op:
                continue
            if not self._visit(graph, node, work, shared):
                continue
            self.applied += 1
            if self.applied > limit:
                raise self._guard_error(limit)
        return self.applied

    def _exhausted(self, shared: RewriteBudget | None) -> bool:
        if self.budget is not None and self.applied >= self.budget:
            return True
        return shared is not None and shared.exhausted

    def _visit(
        self, graph: Graph, node: Node, work: _Worklist, shared: RewriteBudget | None = None
    ) -> bool:
        for rule in self._by_op[node.op]:
            match = rule.pattern.match(node)
            if match is None:
                continue
            stats = self.stats[rule.name]
            stats.matched += 1
            reason = rule.check(match)
            if reason is not None:
                stats.refused += 1
                stats.last_refusal = f"{reason} (at {describe_node(node)})"
                continue
            if shared is not None:
                shared.record(rule, match)
            self._apply(graph, rule, match, work)
            stats.applied += 1
            return True
        return False

    def _apply(self, graph: Graph, rule: RewriteRule, match: Match, work: _Worklist) -> None:
        b = RewriteBuilder(graph, match)
        result = rule.rewrite(match, b)
        if result is not None:
            _replace_outputs(rule, match.root, result)
        work.extend(b.created)
        for new in b.created:
            work.extend(user for value in new.outputs for user in value.users)
        _erase_dead(graph, match.matched, work)

    def _guard_error(self, limit: int) -> PassError:
        busiest = sorted(self.stats.items(), key=lambda kv: -kv[1].applied)
        rules = ", ".join(f"{name} ({s.applied}×)" for name, s in busiest if s.applied)
        return PassError(
            f"rewrite driver did not converge after {limit} rewrites; rules applied: {rules}",
            notes=["two rules probably undo each other, or a rule's result matches it again"],
        )


def _replace_outputs(rule: RewriteRule, root: Node, result: Value | Sequence[Value]) -> None:
    values = [result] if isinstance(result, Value) else list(result)
    if len(values) != len(root.outputs):
        raise PassError(
            f"rule {rule.name} returned {len(values)} values for {len(root.outputs)} outputs",
            root.loc,
        )
    for old, new in zip(root.outputs, values, strict=True):
        old.replace_all_uses_with(new, include_graph_outputs=True)


def _erase_dead(graph: Graph, nodes: list[Node], work: _Worklist) -> None:
    """Erase matched nodes without uses (users before producers) and the constants they alone
    used; queue their other producers."""
    pending = [n for n in nodes if n.graph is graph and n.outputs]
    progress = True
    while progress:
        progress = False
        for node in list(pending):
            if node.has_uses():
                continue
            producers = [v.producer for v in node.inputs if v is not None and v.producer]
            graph.erase(node)
            pending.remove(node)
            work.extend(p for p in producers if not _erase_dead_const(graph, p))
            progress = True


def _erase_dead_const(graph: Graph, node: Node) -> bool:
    """Erase `node` when it is a constant left without uses: a folded weight replaced by the
    rewrite (BN folded into a conv) would otherwise hold its array until prune-dead-nodes, two
    copies of the model's weights at the peak."""
    if node.op != "const" or node.graph is not graph or node.has_uses():
        return False
    graph.erase(node)
    return True


class _Worklist:
    """A FIFO of nodes without duplicates, seeded in program order."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._queue: deque[Node] = deque()
        self._queued: set[Node] = set()
        self.extend(nodes)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def pop(self) -> Node:
        node = self._queue.popleft()
        self._queued.discard(node)
        return node

    def extend(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            if node not in self._queued:
                self._queued.add(node)
                self._queue.append(node)


def apply_rules(
    graph: Graph, rules: Sequence[RewriteRule], max_rewrites: int | None = None
) -> bool:
    """Apply `rules` to a fixed point (see `RewriteDriver`); True when anything changed."""
    return RewriteDriver(rules, max_rewrites).run(graph)


@dataclass
class AppliedRewrite:
    """One rewrite applied under a `rewrite_budget`: the rule and the matched nodes (root
    first), described before the rewrite."""

    rule: str
    nodes: list[str]


@dataclass
class RewriteBudget:
    """A limit shared by every driver while a `rewrite_budget` context is active, and the trace
    of the rewrites they applied, in order."""

    limit: int | None
    applied: list[AppliedRewrite] = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and len(self.applied) >= self.limit

    def record(self, rule: RewriteRule, match: Match) -> None:
        self.applied.append(AppliedRewrite(rule.name, [describe_node(n) for n in match.matched]))


_ACTIVE_BUDGET: ContextVar[RewriteBudget | None] = ContextVar("rewrite_budget", default=None)


@contextmanager
def rewrite_budget(limit: int | None) -> Iterator[RewriteBudget]:
    """While active, all drivers together apply at most `limit` rewrites (None: no limit) and
    trace each one; passes need no cooperation beyond using `apply_rules` / `RewriteDriver`.
    `irforge bisect` uses it to replay a pass up to its k-th rewrite."""
    token = _ACTIVE_BUDGET.set(RewriteBudget(limit))
    try:
        yield _ACTIVE_BUDGET.get()  # type: ignore[misc]
    finally:
        _ACTIVE_BUDGET.reset(token)


__all__ = [
    "AppliedRewrite", "Match", "P", "Pattern", "RewriteBudget", "RewriteBuilder", "RewriteDriver",
    "RewriteRule", "apply_rules", "rewrite_budget",
]  # fmt: skip
