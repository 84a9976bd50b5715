"""Every result the tool reports, as plain dataclasses: no torch, so views need none.

One module per question: ``counting`` (summary), ``analysis`` (scale, sweep, search,
compare, list), ``memory``, ``timing`` (bench, profile), ``budget``, ``paper`` and
``deploy`` (export); ``common`` holds what several share. The measurement fills these
(collect → total); the views render them; the JSON is their ``asdict``, so field names are
the documented JSON keys, but for the few a view writes under the name readers know from
before a rename (PhiCandidate.search_pass as ``stage``, BenchResult.memory_method as
``memory_kind``, a profile stage's ``kind`` as ``role``). Every public name is re-exported
here: ``from effnet_cli.reports import Summary`` works whichever module holds it.
"""

from __future__ import annotations

from .analysis import (
    Comparison,
    ListRow,
    OfficialRow,
    ScaleReport,
    Search,
    SearchRow,
    Sweep,
    SweepRow,
    VariantList,
    VariantSection,
)
from .budget import (
    LIMITS,
    BudgetCheckpoint,
    BudgetConstraints,
    BudgetReport,
    BudgetRow,
    CompoundAnswer,
    Figures,
    PhiCandidate,
)
from .common import RunSetup
from .counting import ELEMENTWISE_KINDS, BlockFigures, LayerRow, StageFigures, Summary, Totals
from .deploy import ExportReport, OnnxProfile, OnnxStage
from .memory import (
    Checkpointing,
    CheckpointPlan,
    MeasuredPeak,
    MemoryReport,
    MemoryStage,
    PerRank,
    PlanOption,
    RankMemory,
)
from .paper import PaperRow, PaperTable
from .timing import (
    BenchResult,
    CalibrationState,
    DeviceRoofline,
    ProfileCheckpoint,
    ProfileReport,
    ProfileRow,
)

__all__ = [
    "ELEMENTWISE_KINDS",
    "LIMITS",
    "BenchResult",
    "BlockFigures",
    "BudgetCheckpoint",
    "BudgetConstraints",
    "BudgetReport",
    "BudgetRow",
    "CalibrationState",
    "CheckpointPlan",
    "Checkpointing",
    "Comparison",
    "CompoundAnswer",
    "DeviceRoofline",
    "ExportReport",
    "Figures",
    "LayerRow",
    "ListRow",
    "MeasuredPeak",
    "MemoryReport",
    "MemoryStage",
    "OfficialRow",
    "OnnxProfile",
    "OnnxStage",
    "PaperRow",
    "PaperTable",
    "PerRank",
    "PhiCandidate",
    "PlanOption",
    "ProfileCheckpoint",
    "ProfileReport",
    "ProfileRow",
    "RankMemory",
    "RunSetup",
    "ScaleReport",
    "Search",
    "SearchRow",
    "StageFigures",
    "Summary",
    "Sweep",
    "SweepRow",
    "Totals",
    "VariantList",
    "VariantSection",
]
