"""The pipeline flow diagram of the report's "model logic" section, drawn with matplotlib.

The boxes are the model's activities in the order a dossier meets them (``sim.model``): arrival,
channel, reception (counter, post or portal), the officer pool with its supplement loop, inter-linked
agencies, approval, result return, and the status sync to the national portal.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STEPS: dict[str, dict[str, str]] = {
    "arrivals": {
        "vi": "Hồ sơ đến\n(Poisson theo tháng,\nthứ, giờ; lễ, Tết)",
        "en": "Dossiers arrive\n(Poisson by month,\nweekday, hour; Tết)",
    },
    "channel": {
        "vi": "Chọn kênh nộp\n(mức trực tuyến,\nnhóm công dân)",
        "en": "Channel choice\n(online level,\ncitizen segment)",
    },
    "counter": {
        "vi": "Quầy một cửa\n(giờ mở cửa, hàng đợi)",
        "en": "One-stop counter\n(opening hours, queue)",
    },
    "post": {"vi": "Bưu chính công ích", "en": "Public post"},
    "portal": {"vi": "Cổng DVC trực tuyến", "en": "Online portal"},
    "pool": {"vi": "Cán bộ chuyên môn\n(FIFO hoặc EDF)", "en": "Officer pool\n(FIFO or EDF)"},
    "supplement": {"vi": "Yêu cầu bổ sung\n(trả công dân)", "en": "Supplement request\n(back to citizen)"},
    "linked": {"vi": "Liên thông:\ncơ quan tiếp theo", "en": "Inter-linked:\nnext agency"},
    "approval": {"vi": "Ký duyệt", "en": "Approval"},
    "result": {
        "vi": "Trả kết quả\n(điện tử, bưu chính,\ntại quầy)",
        "en": "Result return\n(electronic, post,\ncounter)",
    },
    "sync": {"vi": "Đồng bộ Cổng DVC\nquốc gia", "en": "Sync to the\nnational portal"},
}

# box centres on a 10 × 5 canvas
_AT = {
    "arrivals": (0.9, 2.5),
    "channel": (2.6, 2.5),
    "counter": (4.4, 4.0),
    "post": (4.4, 2.5),
    "portal": (4.4, 1.0),
    "pool": (6.2, 2.5),
    "supplement": (6.2, 4.3),
    "linked": (6.2, 0.7),
    "approval": (7.8, 2.5),
    "result": (9.2, 3.6),
    "sync": (9.2, 1.3),
}
_EDGES = [
    ("arrivals", "channel"),
    ("channel", "counter"),
    ("channel", "post"),
    ("channel", "portal"),
    ("counter", "pool"),
    ("post", "pool"),
    ("portal", "pool"),
    ("pool", "supplement"),
    ("supplement", "pool"),
    ("pool", "linked"),
    ("linked", "approval"),
    ("pool", "approval"),
    ("approval", "result"),
    ("approval", "sync"),
]


def flow_figure(lang: str) -> Figure:
    figure = Figure(figsize=(11, 5.2))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 10)
    axes.set_ylim(0, 5)
    axes.axis("off")
    width, height = 1.45, 0.9
    for key, (x, y) in _AT.items():
        colour = "#fde2c8" if key in ("counter", "pool") else "#dbe9f6"
        axes.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.04",
                facecolor=colour,
                edgecolor="#34495e",
            )
        )
        axes.text(x, y, STEPS[key][lang], ha="center", va="center", fontsize=8.5)
    for a, b in _EDGES:
        start, end = _AT[a], _AT[b]
        bend = {("pool", "supplement"): -0.35, ("supplement", "pool"): -0.35}.get((a, b), 0.0)
        axes.add_patch(
            FancyArrowPatch(
                _border(start, end, width, height),
                _border(end, start, width, height),
                arrowstyle="-|>",
                mutation_scale=12,
                shrinkA=2,
                shrinkB=2,
                color="#34495e",
                connectionstyle=f"arc3,rad={bend}",
            )
        )
    return figure


def _border(centre: tuple[float, float], towards: tuple[float, float], width: float, height: float):  # noqa: ANN202
    """Where the line from a box's centre towards another point leaves the box (arrows start at edges)."""
    (x, y), (tx, ty) = centre, towards
    dx, dy = tx - x, ty - y
    scale = min(
        (width / 2 + 0.05) / abs(dx) if dx else float("inf"),
        (height / 2 + 0.05) / abs(dy) if dy else float("inf"),
    )
    return x + dx * scale, y + dy * scale
