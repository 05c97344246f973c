"""The worker pool: limits cost one worker, never the batch."""
import time

from archiver.errors import ExtractionError
from archiver.workers import WorkerPool


def double(x):
    return x * 2


def sleep_forever(_):
    time.sleep(600)


def eat_memory(_):
    hog = []
    while True:
        hog.append(bytearray(50 * 1024 * 1024))


def refuse(_):
    raise ExtractionError("corrupt PDF: no trailer")


def crash(_):
    import os
    os._exit(3)


def buggy(_):
    return {}["missing"]


def run(pool, func, items):
    return {o.key: o for o in pool.map(func, [(i, (i,)) for i in items])}


def test_results_come_back_for_every_item():
    with WorkerPool(2, timeout=30, memory_mb=0) as pool:
        out = run(pool, double, range(10))
    assert {k: o.value for k, o in out.items()} == {i: 2 * i for i in range(10)}


def test_a_hanging_call_times_out_and_the_rest_go_on():
    with WorkerPool(1, timeout=1.5, memory_mb=0) as pool:
        start = time.monotonic()
        hang = list(pool.map(sleep_forever, [("hang", (0,))]))
        after = run(pool, double, [1, 2, 3])
    assert time.monotonic() - start < 30
    assert hang[0].ok is False and hang[0].reason == "timed out after 1.5 s"
    assert [after[i].value for i in (1, 2, 3)] == [2, 4, 6]


def test_memory_limit_turns_a_hog_into_a_reason():
    with WorkerPool(1, timeout=60, memory_mb=400) as pool:
        hog = list(pool.map(eat_memory, [("hog", (0,))]))
        after = run(pool, double, [5])
    assert hog[0].ok is False
    assert "memory" in hog[0].reason
    assert after[5].value == 10


def test_extraction_errors_crashes_and_bugs_are_reasons():
    with WorkerPool(2, timeout=30, memory_mb=0) as pool:
        refused = list(pool.map(refuse, [("r", (0,))]))[0]
        crashed = list(pool.map(crash, [("c", (0,))]))[0]
        bug = list(pool.map(buggy, [("b", (0,))]))[0]
        after = run(pool, double, [7])
    assert refused.reason == "corrupt PDF: no trailer"
    assert crashed.reason == "extraction worker exited with code 3"
    assert bug.reason.startswith("unexpected KeyError in test_workers.py:")
    assert after[7].value == 14
