"""Fuzzing in the test suite: seeded mutants of the shared models (lines and tokens
deleted, duplicated, swapped; brackets unbalanced; odd bytes; huge numbers; deep
nesting) through parse, lowering, ordering and code generation. Every mutant is
either compiled or refused with an error located at FILE:LINE:COLUMN; none
raises another exception or runs past its time limit.

The long campaign (100,000 mutants) is `benchmarks/fuzz_campaign.py`."""
from collections import Counter

import pytest

from conftest import SHARED, shared_path
from fuzz_mutants import check_text, model_files, mutant

CASES = 240
SEED = 20261129


@pytest.fixture(scope="module")
def small_models():
    shared_path("test-models")
    # the small models keep this test to seconds; the campaign mutates all of them
    return [p for p in model_files(SHARED) if p.stat().st_size < 12_000]


def test_mutants_compile_or_fail_with_a_located_error(small_models):
    cache: dict = {}
    outcomes: Counter = Counter()
    bad = []
    for i in range(CASES):
        path, text = mutant(small_models, SEED, i, cache)
        outcome, detail = check_text(text, str(path), time_limit=20)
        outcomes[outcome] += 1
        if outcome not in ("accepted", "located"):
            bad.append(f"mutant {i} of {path.name}: {outcome}\n{detail}")
    assert not bad, "\n\n".join(bad[:5])
    # the mutator does damage: most mutants are refused, and some still compile
    assert outcomes["located"] > CASES // 4 and outcomes["accepted"] > 0


def test_the_mutator_is_seeded(small_models):
    assert mutant(small_models, 1, 5) == mutant(small_models, 1, 5)
    assert mutant(small_models, 1, 5) != mutant(small_models, 2, 5)
