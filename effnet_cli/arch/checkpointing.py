"""Which Table-1 stages ``--checkpoint`` may name, and the grammar that names them.

Torch-free, so a bad list fails with one line before torch loads. A checkpointed stage is
its whole module (``features.{i-1}``) run as one activation-checkpoint segment: the stem's
and the head's conv-bn-act included (the head's pooling and classifier run outside, they
keep a few KB), a head of pooling and FC only (ResNet, MobileNetV1) excluded, having no
conv to recompute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import UsageError
from .specs import HEAD, ResolvedSpec

ALL = "all"
AUTO = "auto"
"""The planner's stages: the cheapest set within --limit (``measurement/plan``)."""
TRAIN_ONLY = ("{option} applies to a training step (inference keeps nothing for backward to "
              "recompute): add --train")  # fmt: skip
FLOAT32_ONLY = ("{option} weighs the time each stage's recompute adds, which the latency model "
                "predicts for float32 steps only: drop --amp")  # fmt: skip
AUTO_NEEDS_LIMIT = ("--checkpoint auto chooses the stages that fit a limit: add --limit SIZE "
                    "(e.g. 16GiB)")  # fmt: skip
FORMS = "a stage (3), a range (3-7), a list (2,4,6), 'all' or 'auto' (with --limit)"
_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?")


def checkpointable(spec: ResolvedSpec) -> tuple[int, ...]:
    """The stages a segment can be made of: every Table-1 stage with a conv in it."""
    return tuple(r.stage for r in spec.stages if not (r.role == HEAD and not r.kernel))


def span(stages: Iterable[int]) -> str:
    """Stages in their shortest form: runs of consecutive numbers as ranges (``1-3,5``)."""
    runs: list[list[int]] = []
    for stage in sorted(set(stages)):
        if runs and stage == runs[-1][-1] + 1:
            runs[-1].append(stage)
        else:
            runs.append([stage])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _ranges(text: str) -> list[range]:
    """The stage ranges a list names, in any order (ranges may overlap: ``2-5,4-7`` is
    2-7); a malformed item or a backwards range is refused."""
    ranges: list[range] = []
    for item in text.split(","):
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise UsageError(f"--checkpoint takes {FORMS}; got '{text.strip()}'")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise UsageError(f"--checkpoint: range '{item.strip()}' runs backwards; "
                             f"write {last}-{first}")  # fmt: skip
        ranges.append(range(first, last + 1))
    return ranges


def _outside(spec: ResolvedSpec, wrong: list[range], accepted: tuple[int, ...]) -> UsageError:
    """The line for stages the model cannot checkpoint: which it can, and which were asked."""
    named = ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in wrong)
    why = ""
    if len(accepted) < len(spec.stages):
        why = f"; stage {spec.stages[-1].stage}, its head, is pooling and FC only"
    return UsageError(f"--checkpoint: {spec.title} checkpoints stages {span(accepted)} "
                      f"(or 'all'{why}), not {named}")  # fmt: skip


def parse_stages(given: str | Iterable[int], spec: ResolvedSpec) -> tuple[int, ...]:
    """The stages to checkpoint, sorted, each once: from ``--checkpoint``'s text, or from
    stage numbers (the Python API), checked against what ``spec`` has. Naming a stage twice
    is no error (overlapping ranges are a natural way to write a list)."""
    accepted = checkpointable(spec)
    if isinstance(given, str) and given.strip().lower() == ALL:
        return accepted
    if is_auto(given):
        raise UsageError(AUTO_NEEDS_LIMIT)
    if isinstance(given, str):
        ranges = _ranges(given)
    else:
        ranges = [range(int(s), int(s) + 1) for s in given]
    wrong = [r for r in ranges if r[0] not in accepted or r[-1] not in accepted]
    if wrong:
        raise _outside(spec, wrong, accepted)
    if not ranges:
        raise UsageError(f"--checkpoint takes {FORMS}; got no stage")
    return tuple(sorted({s for r in ranges for s in r}))


def is_auto(given: object) -> bool:
    """Whether --checkpoint asks the planner to choose (``auto``)."""
    return isinstance(given, str) and given.strip().lower() == AUTO


def checkpoint_stages(given: str | Iterable[int] | None, spec: ResolvedSpec,
                      train: bool) -> tuple[int, ...]:  # fmt: skip
    """The stages --checkpoint names (none without it): only a training step has any, as
    inference keeps nothing for backward."""
    if given is None:
        return ()
    if not train:
        raise UsageError(TRAIN_ONLY.format(option="--checkpoint"))
    return parse_stages(given, spec)


def check_auto(train: bool, amp: str | None, limit: object, max_batch: bool) -> None:
    """What --checkpoint auto needs: a training step, a limit, float32; and no --max-batch
    (it plans for the batch given)."""
    if not train:
        raise UsageError(TRAIN_ONLY.format(option="--checkpoint"))
    if limit is None:
        raise UsageError(AUTO_NEEDS_LIMIT)
    if amp is not None:
        raise UsageError(FLOAT32_ONLY.format(option="--checkpoint auto") + ", or name the stages")
    if max_batch:
        raise UsageError("--checkpoint auto plans the stages for the batch given; with "
                         "--max-batch name them (e.g. --checkpoint all)")  # fmt: skip
