"""The EfficientNet paper's Tables 1-4 as printed: the figures `effnet paper` sets beside
its own measurements.

Source: Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019, arXiv 1905.11946v5 (11 Sep 2020). Table 2's EfficientNet rows
changed in v5 (B0 77.1 % where earlier versions print 76.3 %); these are v5's, which four
independent text extractions of the PDF agree on cell for cell. Every string keeps the
decimals it was printed with, and nothing here is computed: a figure the paper does not
print is None, never filled in.

No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = (
    "Tan & Le, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, "
    "ICML 2019, arXiv 1905.11946v5"
)
TABLES = ("table1", "table2", "table3", "table4")


def number(printed: str | None) -> float | None:
    """'5.3M' → 5.3e6, '0.39B' → 3.9e8, '77.1%' → 77.1, '0.554s' → 0.554, '-' → None."""
    if printed is None or printed.strip() in ("", "-"):
        return None
    text = printed.strip()
    scale = {"M": 10**6, "B": 10**9}.get(text[-1])
    if scale is not None:  # a count: exact, not 4099999999.9999995 for 4.1B
        return round(float(text[:-1]) * scale)
    return float(text.rstrip("%sx"))


@dataclass(frozen=True)
class StageLine:
    """One row of Table 1 (EfficientNet-B0's stages)."""

    stage: int
    operator: str
    resolution: str
    channels: int
    layers: int


TABLE1_TITLE = "Table 1. EfficientNet-B0 baseline network"
TABLE1 = tuple(
    StageLine(*row)
    for row in (
        (1, "Conv3x3", "224 × 224", 32, 1), (2, "MBConv1, k3x3", "112 × 112", 16, 1),
        (3, "MBConv6, k3x3", "112 × 112", 24, 2), (4, "MBConv6, k5x5", "56 × 56", 40, 2),
        (5, "MBConv6, k3x3", "28 × 28", 80, 3), (6, "MBConv6, k5x5", "14 × 14", 112, 3),
        (7, "MBConv6, k5x5", "14 × 14", 192, 4), (8, "MBConv6, k3x3", "7 × 7", 320, 1),
        (9, "Conv1x1 & Pooling & FC", "7 × 7", 1280, 1),
    )
)  # fmt: skip
"""Each stage's operator, input resolution, output channels and layers."""


@dataclass(frozen=True)
class Table2Line:
    """One model of Table 2, as printed; ``variant`` is effnet's spec when effnet builds
    it, else None (a comparator quoted only)."""

    group: str
    model: str
    top1: str
    top5: str
    params: str
    params_ratio: str
    flops: str
    flops_ratio: str
    variant: str | None = None


TABLE2_TITLE = "Table 2. EfficientNet Performance Results on ImageNet"
TABLE2 = tuple(
    Table2Line(*row)
    for row in (
        ("B0", "EfficientNet-B0", "77.1%", "93.3%", "5.3M", "1x", "0.39B", "1x", "b0"),
        ("B0", "ResNet-50", "76.0%", "93.0%", "26M", "4.9x", "4.1B", "11x", "resnet50"),
        ("B0", "DenseNet-169", "76.2%", "93.2%", "14M", "2.6x", "3.5B", "8.9x"),
        ("B1", "EfficientNet-B1", "79.1%", "94.4%", "7.8M", "1x", "0.70B", "1x", "b1"),
        ("B1", "ResNet-152", "77.8%", "93.8%", "60M", "7.6x", "11B", "16x", "resnet152"),
        ("B1", "DenseNet-264", "77.9%", "93.9%", "34M", "4.3x", "6.0B", "8.6x"),
        ("B1", "Inception-v3", "78.8%", "94.4%", "24M", "3.0x", "5.7B", "8.1x"),
        ("B1", "Xception", "79.0%", "94.5%", "23M", "3.0x", "8.4B", "12x"),
        ("B2", "EfficientNet-B2", "80.1%", "94.9%", "9.2M", "1x", "1.0B", "1x", "b2"),
        ("B2", "Inception-v4", "80.0%", "95.0%", "48M", "5.2x", "13B", "13x"),
        ("B2", "Inception-resnet-v2", "80.1%", "95.1%", "56M", "6.1x", "13B", "13x"),
        ("B3", "EfficientNet-B3", "81.6%", "95.7%", "12M", "1x", "1.8B", "1x", "b3"),
        ("B3", "ResNeXt-101", "80.9%", "95.6%", "84M", "7.0x", "32B", "18x"),
        ("B3", "PolyNet", "81.3%", "95.8%", "92M", "7.7x", "35B", "19x"),
        ("B4", "EfficientNet-B4", "82.9%", "96.4%", "19M", "1x", "4.2B", "1x", "b4"),
        ("B4", "SENet", "82.7%", "96.2%", "146M", "7.7x", "42B", "10x"),
        ("B4", "NASNet-A", "82.7%", "96.2%", "89M", "4.7x", "24B", "5.7x"),
        ("B4", "AmoebaNet-A", "82.8%", "96.1%", "87M", "4.6x", "23B", "5.5x"),
        ("B4", "PNASNet", "82.9%", "96.2%", "86M", "4.5x", "23B", "6.0x"),
        ("B5", "EfficientNet-B5", "83.6%", "96.7%", "30M", "1x", "9.9B", "1x", "b5"),
        ("B5", "AmoebaNet-C", "83.5%", "96.5%", "155M", "5.2x", "41B", "4.1x"),
        ("B6", "EfficientNet-B6", "84.0%", "96.8%", "43M", "1x", "19B", "1x", "b6"),
        ("B7", "EfficientNet-B7", "84.3%", "97.0%", "66M", "1x", "37B", "1x", "b7"),
        ("B7", "GPipe", "84.3%", "97.0%", "557M", "8.4x", "-", "-"),
    )
)  # fmt: skip
"""In printed order, grouped by the EfficientNet of similar accuracy (the group's first
row). GPipe's FLOPs are printed as '-'; PNASNet's 6.0x is printed although 23B / 4.2B
rounds to 5.5x."""


@dataclass(frozen=True)
class Table3Line:
    """One row of Table 3: a network, how it is scaled, and the printed FLOPS and top-1
    (None where the paper has no such row). ``coefficients`` are (d, w, r) where the
    paper prints them; a compound row without them is quoted, never built."""

    network: str
    """The base network as the spec grammar names it (mobilenetv1, resnet50, b0)."""
    scaling: str
    """baseline, d=4, w=2, r=2 or compound."""
    printed: str | None
    flops: str | None
    top1: str | None
    coefficients: tuple[float, float, float] | None = None


TABLE3_TITLE = "Table 3. Scaling Up MobileNets and ResNet"
SCALINGS = ("baseline", "d=4", "w=2", "r=2", "compound")
SINGLE = {"baseline": (1.0, 1.0, 1.0), "d=4": (4.0, 1.0, 1.0), "w=2": (1.0, 2.0, 1.0),
          "r=2": (1.0, 1.0, 2.0)}  # fmt: skip
"""(d, w, r) of each single-dimension row: Table 3's, and Figure 3's for B0."""
TABLE3 = tuple(
    Table3Line(*row)
    for row in (
        ("mobilenetv1", "baseline", "Baseline MobileNetV1", "0.6B", "70.6%", (1.0, 1.0, 1.0)),
        ("mobilenetv1", "d=4", None, None, None, (4.0, 1.0, 1.0)),
        ("mobilenetv1", "w=2", "Scale MobileNetV1 by width (w=2)", "2.2B", "74.2%",
         (1.0, 2.0, 1.0)),
        ("mobilenetv1", "r=2", "Scale MobileNetV1 by resolution (r=2)", "2.2B", "72.7%",
         (1.0, 1.0, 2.0)),
        ("mobilenetv1", "compound", "compound scale (d=1.4, w=1.2, r=1.3)", "2.3B", "75.6%",
         (1.4, 1.2, 1.3)),
        ("mobilenetv2", "baseline", "Baseline MobileNetV2", "0.3B", "72.0%", (1.0, 1.0, 1.0)),
        ("mobilenetv2", "d=4", "Scale MobileNetV2 by depth (d=4)", "1.2B", "76.8%",
         (4.0, 1.0, 1.0)),
        ("mobilenetv2", "w=2", "Scale MobileNetV2 by width (w=2)", "1.1B", "76.4%",
         (1.0, 2.0, 1.0)),
        ("mobilenetv2", "r=2", "Scale MobileNetV2 by resolution (r=2)", "1.2B", "74.8%",
         (1.0, 1.0, 2.0)),
        ("mobilenetv2", "compound", "MobileNetV2 compound scale", "1.3B", "77.4%", None),
        ("resnet50", "baseline", "Baseline ResNet-50", "4.1B", "76.0%", (1.0, 1.0, 1.0)),
        ("resnet50", "d=4", "Scale ResNet-50 by depth (d=4)", "16.2B", "78.1%",
         (4.0, 1.0, 1.0)),
        ("resnet50", "w=2", "Scale ResNet-50 by width (w=2)", "14.7B", "77.7%",
         (1.0, 2.0, 1.0)),
        ("resnet50", "r=2", "Scale ResNet-50 by resolution (r=2)", "16.4B", "77.5%",
         (1.0, 1.0, 2.0)),
        ("resnet50", "compound", "ResNet-50 compound scale", "16.7B", "78.8%", None),
    )
)  # fmt: skip
"""Printed in that order; MobileNetV1 has no depth row (the d=4 line is effnet's, with
nothing quoted), and the paper prints compound coefficients for MobileNetV1 only."""
TABLE3_B0_PHI = 2.0
"""B0's compound row: the paper's own rule (α=1.2, β=1.1, γ=1.15) at φ=2, whose predicted
FLOPs growth (3.7×) is nearest the other rows' ~4×. B0 is not in Table 3: its rows are
effnet's, quoted only where Table 2 prints B0."""


@dataclass(frozen=True)
class Table4Line:
    """One row of Table 4, as printed: accuracy and latency, batch 1, one CPU core."""

    model: str
    top1: str
    latency: str
    speedup: str | None
    variant: str | None = None


TABLE4_TITLE = "Table 4. Inference Latency Comparison"
TABLE4_CAPTION = "Latency is measured with batch size 1 on a single core of Intel Xeon CPU E5-2690."
TABLE4 = (
    (Table4Line("ResNet-152", "77.8%", "0.554s", None, "resnet152"),
     Table4Line("EfficientNet-B1", "78.8%", "0.098s", "5.7x", "b1")),
    (Table4Line("GPipe", "84.3%", "19.0s", None),
     Table4Line("EfficientNet-B7", "84.4%", "3.1s", "6.1x", "b7")),
)  # fmt: skip
"""Two pairs: the baseline, then the EfficientNet it is set against and the printed
speed-up. Table 4 keeps the pre-v5 top-1 (B1 78.8 %, B7 84.4 %) even in v5; the text says
the latency is the average over 20 runs."""
