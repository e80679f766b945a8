"""Deterministic fuzz case lists, shared by the CI subset and the long campaign."""

from __future__ import annotations

import random

from tests.fuzz.corpus import MATERIAL, TEXT_SEEDS, available, node_seeds
from tests.fuzz.mutators import KINDS
from tests.fuzz.oracle import Case
from tests.fuzz.text_mutators import TEXT_KINDS

TEXT_SHARE = 0.25  # of all cases
NODE_SHARE = 0.5  # of the ONNX cases: node-test models, for op variety
FULL_TRANSFORMER_SHARE = 0.01  # of the ONNX cases: the whole 50 MB transformer64


def make_cases(count: int, seed: int, *, full_transformer: bool = True) -> list[Case]:
    """`count` cases drawn from `random.Random(seed)`: the same arguments give the same list."""
    rng = random.Random(seed)
    material = available(MATERIAL)
    texts = available(TEXT_SEEDS)
    nodes = node_seeds()
    cases = []
    for _ in range(count):
        case_seed = rng.getrandbits(32)
        if rng.random() < TEXT_SHARE:
            cases.append(Case(rng.choice(texts), rng.choice(TEXT_KINDS), case_seed))
            continue
        r = rng.random()
        if full_transformer and r < FULL_TRANSFORMER_SHARE:
            name = "transformer64_full"
        elif r < NODE_SHARE:
            name = rng.choice(nodes)
        else:
            name = rng.choice(material)
        cases.append(Case(name, rng.choice(KINDS), case_seed))
    return cases
