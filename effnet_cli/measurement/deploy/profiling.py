"""`profile --runtime onnxruntime`: where onnxruntime spends a step, per Table-1 stage.

onnxruntime's profiler gives each kernel's time per run, for the graph it actually ran,
after its own optimisation (Conv+BatchNorm fused, SiLU as QuickGelu, NCHWc layout
reorders). Every node of the exported file carries the module path torch traced it from
(``pkg.torch.onnx.name_scopes``); a node of the optimized graph is attributed through its
own name, then the values it writes, then those it reads, to the exported node that
produced them, and so to a stage by the trace layer's stage map. A fused node therefore
lands in the stage of the node whose name or output it kept (a Conv+BN in its conv's stage,
a layout reorder in the stage of the value it reorders).
"""

from __future__ import annotations

import ast
import json
import re
import statistics
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import torch

from ...arch.specs import ResolvedSpec
from ...errors import RuntimeFailure
from ...reports import OnnxProfile, OnnxStage
from ..timing.settings import BenchSettings
from ..trace.prepare import input_shape
from ..trace.stages import StageMap
from .exporting import export_onnx, random_feed, session
from .extra import require_deploy
from .quantize import quantize_int8
from .runtime import check_file_shape

ATTRIBUTION = (
    "each node of the optimized graph is attributed, through its name, then the values it "
    "writes, then those it reads, to the exported node they came from, whose module path "
    "names its stage: a fused Conv+BatchNorm counts in its conv's stage, a layout reorder "
    "in the stage of the value it reorders; each kernel's stage is also charged the wait "
    "before it (since the previous kernel ended: the executor and the thread pool)"
)
STEPS = 10
"""Profiled steps after the warm-up."""


def _scopes(model: Any) -> dict[str, str]:
    """Module path of every exported node, keyed by the node's name (as '@name') and by
    each value it writes."""
    out: dict[str, str] = {}
    for node in model.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        scopes = meta.get("pkg.torch.onnx.name_scopes")
        module = ast.literal_eval(scopes)[-2] if scopes else ""
        out["@" + node.name] = module
        for value in node.output:
            out[value] = module
    return out


def _module_of(node: Any, scopes: dict[str, str]) -> str | None:
    """The exported module path an optimized node came from, or None."""
    name = node.name.split("/")[0].removesuffix("_nchwc")
    name = re.sub(r"_token_\d+$", "", name)  # a QLinearConv named after the conv it replaced
    # a fused node keeps its first node's name, or the name of the value it writes
    for key in ("@" + node.name, "@" + name, "@node_" + name.removeprefix("node_"), name):
        if key in scopes:
            return scopes[key]
    for value in [*node.output, *node.input]:
        for key in (value, value.removesuffix("_nchwc"), _quantized_of(value)):
            if key in scopes:
                return scopes[key]
    return scopes.get(_quantized_of(name))


def _quantized_of(name: str) -> str:
    """The float value a quantization node or value was named after ('mean_8_q',
    'silu_1_DequantizeLinear', 'x_quantized' → 'mean_8', 'silu_1', 'x')."""
    return re.sub(r"(_q|_quantized|_dequantized|_QuantizeLinear|_DequantizeLinear)(_Output)?$",
                  "", name)  # fmt: skip


def _events(path: str, warmup: int) -> tuple[list[dict], list[float]]:
    """Node kernel events of the runs after the warm-up, each with ``wait``: the µs since
    the previous kernel of its run ended (or since the run began), and the runs' durations
    (µs)."""
    events = json.loads(Path(path).read_text())
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    kept = runs[warmup:]
    if not kept:
        raise RuntimeFailure("onnxruntime's profiler recorded no run")
    kernels = sorted((e for e in events if e.get("cat") == "Node"
                      and e["name"].endswith("_kernel_time")), key=lambda e: e["ts"])  # fmt: skip
    nodes = []
    for run in kept:
        end = run["ts"]
        for event in kernels:
            if run["ts"] <= event["ts"] <= run["ts"] + run["dur"]:
                event["wait"] = max(0, event["ts"] - end)
                end = event["ts"] + event["dur"]
                nodes.append(event)
    return nodes, [r["dur"] for r in kept]


def profile_onnx(spec: ResolvedSpec, settings: BenchSettings) -> OnnxProfile:
    """Export ``spec``, run it under onnxruntime's profiler and sum the kernels per stage."""
    require_deploy("--runtime onnxruntime")
    import onnx

    s = settings
    shape = input_shape(spec, s.resolution, s.batch_size)
    threads = s.threads or torch.get_num_threads()
    steps = s.iters or STEPS
    with tempfile.TemporaryDirectory(prefix="effnet-ortprof-") as tmp:
        source, path = _profiled_file(spec, s, shape, Path(tmp))
        sess = session(path, threads, profile=Path(tmp))
        check_file_shape(sess, shape, path)
        feed = random_feed(sess, shape)
        for _ in range(s.warmup + steps):
            sess.run(None, feed)
        nodes, runs = _events(sess.end_profiling(), s.warmup)
        graph = onnx.load(str(Path(tmp) / "optimized.onnx")).graph
        scopes = _scopes(onnx.load(str(source)))
    if not any(scopes.values()):
        raise RuntimeFailure(f"{source.name}: its nodes carry no module paths "
                             "(pkg.torch.onnx.name_scopes) to find stages by: export it with "
                             "effnet export")  # fmt: skip
    report = _summarize(spec, shape, threads, nodes, runs, scopes, graph, bool(s.quantize))
    report.onnx_file, report.quantize = (str(s.onnx) if s.onnx else None), s.quantize
    return report


def _profiled_file(spec: ResolvedSpec, s: BenchSettings, shape: tuple[int, ...], tmp: Path
                   ) -> tuple[Path, Path]:  # fmt: skip
    """The float32 file whose nodes name their modules (the user's, --onnx, or a fresh
    export), and the file to profile: itself, or with --quantize int8 its quantized copy
    (whose nodes are named after the float32 ones, but carry no module paths)."""
    path = Path(s.onnx) if s.onnx else tmp / "model.onnx"
    if s.onnx is None:
        export_onnx(spec, path, s.resolution, s.batch_size, weights=s.weights)
    elif not path.is_file():
        raise RuntimeFailure(f"{path}: no such .onnx file")
    if not s.quantize:
        return path, path
    int8 = tmp / "model.int8.onnx"
    quantize_int8(path, int8, session(path, 1).get_inputs()[0].name, shape)
    return path, int8


def _summarize(
    spec: ResolvedSpec, shape: tuple[int, ...], threads: int, nodes: list[dict],
    runs: list[float], scopes: dict[str, str], graph: Any, quantized: bool = False,
) -> OnnxProfile:  # fmt: skip
    """Per-step milliseconds by stage and op type; every profiled node attributed (in a
    quantized graph, a node named after no float32 node, such as the input's
    QuantizeLinear or a layout Transpose, goes with the kernel before it)."""
    where = StageMap(spec, timed=True)
    optimized = {n.name: n for n in graph.node}
    exported_names = {key[1:] for key in scopes if key.startswith("@")}
    by_stage: dict[int, float] = defaultdict(float)
    waits: dict[int, float] = defaultdict(float)
    counted: dict[int, set[str]] = defaultdict(set)
    by_type: Counter = Counter()
    types: dict[str, set[str]] = defaultdict(set)
    stage, borrowed = 1, 0
    for event in nodes:
        name = event["name"].removesuffix("_kernel_time")
        node = optimized.get(name)
        module = _module_of(node, scopes) if node is not None else None
        if module is None and not quantized:
            raise RuntimeFailure(f"onnxruntime ran node '{name}', which no exported node explains")
        borrowed += module is None
        stage = stage if module is None else where.stage_of(module)
        by_stage[stage] += event["dur"]
        waits[stage] += event["wait"]
        counted[stage].add(name)
        op = event["args"].get("op_name", node.op_type)
        by_type[op] += event["dur"]
        types[op].add(name)
    per_step = len(runs) * 1e3  # µs summed over the runs → ms per step
    total = sum(by_stage.values()) / per_step
    with_waits = {k: (by_stage[k] + waits[k]) / per_step for k in by_stage}
    stages = [
        OnnxStage(stage, operator, with_waits.get(stage, 0.0), by_stage[stage] / per_step,
                  by_stage[stage] / per_step / total if total else 0.0, len(counted[stage]))
        for stage, _, operator in where.timed_rows()
    ]  # fmt: skip
    fused = sum(1 for name in optimized if name not in exported_names)
    return OnnxProfile(
        variant=spec.name, title=spec.title, batch_size=shape[0], resolution=shape[2],
        threads=threads, steps=len(runs), end_to_end_ms=statistics.median(runs) / 1e3,
        kernel_sum_ms=total, stage_sum_ms=sum(with_waits.values()), stages=stages,
        op_types={k: v / per_step for k, v in by_type.most_common()},
        op_nodes={k: len(types[k]) for k, _ in by_type.most_common()},
        fused_nodes=fused, attribution=ATTRIBUTION + _borrowed_text(borrowed // len(runs)),
    )  # fmt: skip


def _borrowed_text(per_step: int) -> str:
    if not per_step:
        return ""
    return (
        f"; in the quantized graph, {per_step} node(s) per step named after no float32 "
        "node (the input's QuantizeLinear, layout Transposes) went with the kernel before "
        "them"
    )
