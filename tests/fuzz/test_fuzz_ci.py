"""The derandomized CI subset of the fuzz campaign (`benchmarks/fuzz_campaign.py`).

Hypothesis draws (seed model, mutation kind, case seed) with a fixed derandomized sequence; every
case must end in a result or a `CompilerError` (with a location where a node is named), within
its deadline. 600 ONNX cases + 250 textual IR cases + one case per mutation kind = 886 cases.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.corpus import MATERIAL, TEXT_SEEDS, available, node_seeds
from tests.fuzz.mutators import KINDS
from tests.fuzz.oracle import Case, run_case
from tests.fuzz.text_mutators import TEXT_KINDS

CI = settings(derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
case_seeds = st.integers(0, 2**32 - 1)


def _check(case: Case) -> None:
    result = run_case(case)
    assert not result.is_bug, f"{case}: {result.outcome}\n{result.detail}"


def _onnx_seeds() -> st.SearchStrategy[str]:
    material = available(MATERIAL)
    return st.one_of(st.sampled_from(material), st.sampled_from(node_seeds()))


@settings(CI, max_examples=600)
@given(name=st.deferred(_onnx_seeds), kind=st.sampled_from(KINDS), seed=case_seeds)
def test_onnx_mutations(name: str, kind: str, seed: int) -> None:
    _check(Case(name, kind, seed))


@settings(CI, max_examples=250)
@given(name=st.deferred(lambda: st.sampled_from(available(TEXT_SEEDS))),
       kind=st.sampled_from(TEXT_KINDS), seed=case_seeds)  # fmt: skip
def test_text_mutations(name: str, kind: str, seed: int) -> None:
    _check(Case(name, kind, seed))


@pytest.mark.parametrize("kind", KINDS + TEXT_KINDS)
def test_every_kind_once(kind: str) -> None:
    name = "mnist_cnn" if "mnist_cnn" in available(MATERIAL) else "light_squeezenet"
    _check(Case(name, kind, 12345))
