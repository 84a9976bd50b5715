"""What `effnet bench` and `effnet profile` report: time measured on a device, per model,
per stage and per op kind, beside the roofline and the latency model's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kinds import CostKind, StageRole
from .common import RunSetup

# ----------------------------------------------------------------------------- bench


@dataclass
class BenchResult(RunSetup[str]):
    """Timing of one model: per-batch latency, images per second, peak memory."""

    compiled: bool
    threads: int
    warmup: int
    iterations: int
    latency_ms: dict[str, float]
    throughput: float
    peak_memory_bytes: int
    """The peak of one step's live tensor storages, as `effnet memory` measures it: the
    timed step run once more, after timing, under the live-storage tracker (with
    --compile, the eager module's step). The same figure for every model of a run."""
    memory_method: str
    """How ``peak_memory_bytes`` was measured (live tensor storages). JSON key and CSV
    field: ``memory_kind``, its name before the rename."""
    samples_ms: list[float] = field(default_factory=list, repr=False)
    predicted_peak_bytes: int = 0
    """The memory engine's peak of the same step (live tensors, without the allocator's
    rounding, libraries' workspaces or the process around it)."""
    process_peak_bytes: int = 0
    """The process-level peak of the warm-up and timed steps: CUDA's max_memory_allocated,
    or elsewhere the growth of the process's peak RSS from before the weights were
    allocated, the heap's free memory handed back first (allocator and library memory
    included: the first model of a run also carries the libraries' first allocations; B0
    read 103 MiB first and 40 MiB twice after, where before the hand-back it read 91, then
    15 and 23, reusing pages an earlier model freed)."""
    process_peak_method: str = ""
    """How ``process_peak_bytes`` was measured. JSON key and CSV field:
    ``process_peak_kind``, beside ``memory_kind``."""
    runtime: str = "eager"
    """What ran the model: eager, compile (torch.compile) or onnxruntime."""
    compile_seconds: float | None = None
    """torch.compile: the first call's time (tracing and compiling), apart from the
    steady-state latency; onnxruntime: exporting the file and building the session."""
    onnx_file: str | None = None
    """onnxruntime: the user's file (--onnx), or None for a fresh export."""
    quantize: str | None = None
    """onnxruntime: 'int8' for the QDQ-quantized file, None for float32."""
    onnx_bytes: int | None = None
    """onnxruntime: the size of the file timed."""
    malloc: str = ""
    """The C heap the steps ran on (``effnet_cli/heap.py``): 'kept' (glibc's malloc set to
    keep freed memory), 'user' (the user's own malloc settings) or 'default'."""


# ----------------------------------------------------------------------------- trust


@dataclass
class CalibrationState:
    """How far a latency prediction can be trusted: the calibration's age, how the device's
    speed moved since it was taken, and what was done about it. JSON: ``calibration``."""

    age_s: float
    drift_pct: float
    """How much slower (positive) or faster the device runs now than at calibration, by the
    drift probe (0 for a calibration taken in this run)."""
    rescaled: bool
    """Whether the predictions were multiplied by the drift (it moved beyond the noise)."""
    recalibrated: bool = False
    """Whether it was taken again in this run (missing, asked for, or the probe's parts
    moved unevenly)."""
    scale: float = 1.0
    noise_pct: float = 0.0
    """The drift probe's own noise: a move within it is not drift."""
    apart_pct: float = 0.0
    """How far the calibration's two probe readings differed: a move within it is not drift
    either (it widens no band)."""
    probe_ratios: dict[str, float] = field(default_factory=dict)
    """Now / then per probe part (matmul, copy, model)."""
    probe_s: float = 0.0
    held_out_pct: list[float] = field(default_factory=list)
    """Per whole calibration model, (predicted − timed) / timed × 100 with it left out."""
    band_pct: float = 0.0
    """The error band's half-width for a prediction inside ``range_ms``: the real time is
    taken to lie within predicted ÷ (1 + band) and predicted × (1 + band)."""
    band_outside_pct: float = 0.0
    """The half-width beyond ``range_ms`` (every held-out error, extrapolations included)."""
    range_ms: list[float] = field(default_factory=list)
    """The calibration models' fastest and slowest step (ms, before any rescaling)."""


# ----------------------------------------------------------------------------- profile


@dataclass
class DeviceRoofline:
    """The device a profile ran on, and its roofline (measured, cached)."""

    name: str
    threads: int
    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    calibration_s: float


@dataclass
class ProfileRow:
    """One stage or op kind of `effnet profile`: time measured and predicted, work, traffic,
    and where it sits on the roofline."""

    stage: int | None
    kind: StageRole | CostKind
    """A stage row's role (stem, blocks, head, classifier); an op-kind row's kind. The JSON
    calls the first ``role`` and the second ``kind`` (views/profile.py)."""
    operator: str
    measured_ms: float | None
    predicted_ms: float | None
    macs: int
    bytes_read: int
    bytes_written: int
    bound_ms: float
    bound: str
    """'compute' or 'memory': which side of the roofline limits it."""

    @property
    def bytes_moved(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float:
        """MACs per byte moved."""
        return self.macs / self.bytes_moved if self.bytes_moved else 0.0

    @property
    def times_bound(self) -> float | None:
        """Measured time as a multiple of the roofline bound."""
        if self.measured_ms is None or not self.bound_ms:
            return None
        return self.measured_ms / self.bound_ms


@dataclass
class ProfileCheckpoint:
    """profile --train --checkpoint: the training step timed with and without those stages
    checkpointed, in alternating pairs, beside the recompute's predicted time."""

    stages: list[int]
    pairs: int
    """Alternating steps timed: one plain, one checkpointed, this many times."""
    plain_ms: float | None
    """Median plain step of the pairs (None with --predict-only)."""
    checkpointed_ms: float | None
    added_ms: float | None
    """Median of the pairs' differences: the time checkpointing added, measured."""
    predicted_added_ms: float | None = None
    predicted_range_ms: list[float] | None = None


@dataclass
class ProfileReport(RunSetup[DeviceRoofline]):
    """`effnet profile`: where the time of one step goes, stage by stage and by op kind."""

    warmup: int
    iterations: int
    stages: list[ProfileRow]
    op_kinds: list[ProfileRow]
    measured_ms: float | None
    predicted_ms: float | None
    p90_ms: float | None = None
    op_steps: int = 0
    """Steps timed under torch.profiler for the op kinds (apart from the stage timing)."""
    op_kinds_total_ms: float | None = None
    predicted_range_ms: list[float] | None = None
    """[low, high]: the prediction's error band (``CalibrationState.band_pct``)."""
    calibration: CalibrationState | None = None
    """How far the prediction is trusted: the calibration's age, drift, rescaling."""
    calibration_models: list[str] = field(default_factory=list)
    """The models the latency prediction was fitted on (never the one predicted)."""
    notes: list[str] = field(default_factory=list)
    samples_ms: list[float] = field(default_factory=list, repr=False)
    runtime: str = "eager"
    """What ran, or what the prediction is for: eager PyTorch, or onnxruntime (predicted
    only here: its measured profile is ``OnnxProfile``)."""
    checkpoint: ProfileCheckpoint | None = None
    """With --checkpoint (absent from the JSON without it)."""
