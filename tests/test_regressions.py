"""Replay every input the fuzzer ever found: each must now give an extraction or a one-line reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from archiver.extract import Limits
from archiver.sniff import sniff
from archiver.stages import extract_original
from archiver.workers import WorkerPool
from tests.fuzz import BAD_PREFIXES, REGRESSIONS, mutate

CASES = sorted(REGRESSIONS.glob("*")) if REGRESSIONS.is_dir() else []


@pytest.mark.skipif(not CASES, reason="no regression inputs yet")
def test_regression_inputs_are_handled():
    with WorkerPool(2, 20, 1024) as pool:
        work = [(p, (str(p), sniff(p).mime, Limits())) for p in CASES if sniff(p).format not in ("unknown", "empty")]
        bad = [(o.key.name, o.reason) for o in pool.map(extract_original, work)
               if not o.ok and o.reason.startswith(BAD_PREFIXES)]
    assert bad == []


def test_mutation_changes_the_input_deterministically():
    import random
    data = bytes(range(256)) * 4
    first, second = mutate(data, random.Random(3)), mutate(data, random.Random(3))
    assert first == second and first != data


def test_a_short_fuzz_run_finds_nothing(tmp_path, monkeypatch):
    from tests import fuzz
    monkeypatch.setattr(fuzz, "REGRESSIONS", tmp_path)
    assert fuzz.run(budget_s=3, seed=1) == []
