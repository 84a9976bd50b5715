"""The C heap effnet times on (effnet_cli/heap.py): glibc's malloc kept from page-faulting,
asserted on page-fault counts (the kernel's count, not a clock), and the user's own choice
left alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from effnet_cli import heap

STEPS = """
import resource, sys, torch
from effnet_cli.measurement.timing.loop import Clock, time_steps
from effnet_cli.measurement.timing.settings import BenchSettings
faults = []
def step():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(16 << 20).fill_(1.0)  # 64 MiB, freed at once: above any mmap threshold
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
if sys.argv[1] == "bench":
    time_steps(step, Clock(torch.device("cpu")), BenchSettings(iters=5, warmup=2))
else:
    for _ in range(7):
        step()
print(min(faults[2:]))
"""
PAGES = (64 << 20) // 4096


def _fewest_faults(how: str, env: dict[str, str] | None = None) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, how], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(heap._glibc() is None, reason="glibc's malloc only")
def test_bench_loop_steps_reuse_their_pages_where_a_bare_loop_faults_every_step() -> None:
    """A plain process maps a fresh 64 MiB block each step (one fault per 4 KiB page); bench's
    timing loop keeps the heap, so after warm-up a step faults (almost) never."""
    assert _fewest_faults("bare") >= PAGES * 0.9
    assert _fewest_faults("bench") < PAGES * 0.01


@pytest.mark.skipif(heap._glibc() is None, reason="glibc's malloc only")
def test_a_user_malloc_setting_is_left_alone(monkeypatch) -> None:
    import os

    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    assert _fewest_faults("bench", env) >= PAGES * 0.9  # theirs: every block mapped afresh
    monkeypatch.setattr(heap, "_state", [])
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert heap.keep_heap() == heap.USER


@pytest.mark.skipif(heap._glibc() is None, reason="glibc's malloc only")
def test_effnet_malloc_default_times_glibcs_own_heap() -> None:
    import os

    env = dict(os.environ, EFFNET_MALLOC="default")
    assert _fewest_faults("bench", env) >= PAGES * 0.9


def test_effnet_malloc_default_and_kept_are_said_in_bench_json() -> None:
    import json
    import os

    for asked in ("default", "kept"):
        env = {k: v for k, v in os.environ.items() if not heap.user_chose({k: v})}
        env["EFFNET_MALLOC"] = asked
        out = subprocess.run([sys.executable, "-m", "effnet_cli", "bench", "w=0.5,d=0.5,r=64",
                              "--iters", "2", "--warmup", "1", "-f", "json"], env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        said = json.loads(out)["results"][0]["malloc"]
        assert said == (asked if heap._glibc() is not None else heap.DEFAULT)


@pytest.mark.parametrize("value", ["", "jemalloc", "KEPT", "default "])
def test_an_unknown_effnet_malloc_is_one_line(value: str) -> None:
    import os

    env = dict(os.environ, EFFNET_MALLOC=value)
    out = subprocess.run([sys.executable, "-m", "effnet_cli", "bench", "w=0.5,d=0.5,r=64",
                          "--iters", "2"], env=env, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "EFFNET_MALLOC=" in out.stderr, out.stderr


@pytest.mark.parametrize(
    "environ",
    [{"MALLOC_TRIM_THRESHOLD_": "0"}, {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"},
     {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}, {"LD_PRELOAD": "libtcmalloc_minimal.so.4"}],
)  # fmt: skip
def test_what_counts_as_the_users_choice(environ: dict[str, str]) -> None:
    assert heap.user_chose(environ)
    assert not heap.user_chose({"GLIBC_TUNABLES": "glibc.pthread.rseq=0", "LD_PRELOAD": ""})


def test_another_c_library_is_left_as_it_is(monkeypatch) -> None:
    """musl's mallopt does nothing: effnet says the heap is the library's default."""
    monkeypatch.setattr(heap, "_state", [])
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    for name in heap.USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert heap.keep_heap() == heap.DEFAULT
    heap.release()  # nothing to hand back: no error either
