"""How a module path of the built network maps to a Table-1 stage: the one place that knows.

The network (``model/network.py``) holds Table-1 stage i as ``features.{i-1}``, block j of
a stage of blocks as ``features.{i-1}.{j}``; pooling (``avgpool``) and the classifier
(``classifier``) follow the last ``features`` entry. How many stages there are comes from
the spec's rows, never from here.

Two numberings, one rule:
- **Table 1** (summary, memory, budget): pooling and the classifier belong to the last
  stage, the head ("Conv1x1 & Pooling & FC"), as in the paper: N stages.
- **Timed** (profile): the classifier is a stage of its own, N+1 ("Flatten & Dropout &
  FC"). The stage clock marks the end of pooling, so the head's 1×1 conv and pooling are
  timed apart from the classifier; stages 1..N-1 are numbered as in Table 1, and N plus
  N+1 is Table 1's head.
"""

from __future__ import annotations

from ...arch.specs import BLOCKS, HEAD, ResolvedSpec
from ...kinds import StageRole

FEATURES = "features"
POOLING = "avgpool"
CLASSIFIER = "classifier"
"""The classifier's module name (its stage role is StageRole.CLASSIFIER)."""
CLASSIFIER_OPERATOR = "Flatten & Dropout & FC"
"""The operator of the timed numbering's last stage: the classifier, apart from the head."""


def stage_module(stage: int) -> str:
    """The module that holds Table-1 stage ``stage`` (1-based)."""
    return f"{FEATURES}.{stage - 1}"


def block_module(stage: int, block: int) -> str:
    """The module of block ``block`` (0-based) of Table-1 stage ``stage``."""
    return f"{stage_module(stage)}.{block}"


def feature_stage(module: str) -> int | None:
    """The Table-1 stage of a module inside ``features`` (1-based), else None."""
    head, _, rest = module.partition(".")
    if head != FEATURES or not rest:
        return None
    return int(rest.split(".", 1)[0]) + 1


def is_stage_module(module: str) -> bool:
    """Whether ``module`` is a whole stage (``features.i``), not a part of one."""
    return feature_stage(module) is not None and module.count(".") == 1


def in_first_stages(module: str, stages: int) -> bool:
    """Whether ``module`` belongs to one of the first ``stages`` Table-1 stages."""
    stage = feature_stage(module)
    return stage is not None and stage <= stages


class StageMap:
    """Which stage and which block a module path belongs to, for one spec; ``timed`` gives
    profile's numbering (the classifier as stage N+1), else Table 1's."""

    def __init__(self, spec: ResolvedSpec, timed: bool = False) -> None:
        self.spec = spec
        self.count = len(spec.stages)
        self.timed = timed
        self.block_stages = {row.stage for row in spec.stages if row.role == BLOCKS}
        self.head_stages = [row.stage for row in spec.stages if row.role == HEAD]

    def stage_of(self, module: str) -> int:
        """``features.i`` is stage i+1; pooling belongs to the last stage, and so does the
        classifier unless the numbering is timed."""
        stage = feature_stage(module)
        if stage is not None:
            return stage
        if self.timed and module.partition(".")[0] == CLASSIFIER:
            return self.count + 1
        return self.count

    def block_of(self, module: str) -> str:
        """``features.i.j`` for anything inside block j of a stage of blocks, else ''."""
        parts = module.split(".")
        if len(parts) >= 3 and feature_stage(module) in self.block_stages:
            return ".".join(parts[:3])
        return ""

    def top_level(self) -> list[str]:
        """The modules whose counts add up to the whole model, stage by stage."""
        return [stage_module(i + 1) for i in range(self.count)] + [POOLING, CLASSIFIER]

    def last_module(self, stage: int) -> str:
        """The module whose output is the stage's output: pooling for the head."""
        return POOLING if stage in self.head_stages else stage_module(stage)

    def timed_rows(self) -> list[tuple[int, StageRole, str]]:
        """(stage, role, operator) of the timed numbering: Table 1's rows, the head without
        its FC, then the classifier as a stage of its own."""
        rows = [(r.stage, r.role, r.operator.replace(" & FC", "")) for r in self.spec.stages]
        return [*rows, (self.count + 1, StageRole.CLASSIFIER, CLASSIFIER_OPERATOR)]

    def boundaries(self) -> list[str]:
        """The modules whose ends close the timed stages, in order: every stage but the
        head, then pooling (closing the head), then the classifier."""
        body = [stage_module(i + 1) for i in range(self.count) if i + 1 not in self.head_stages]
        return [*body, POOLING, CLASSIFIER]
