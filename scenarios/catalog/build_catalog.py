"""Regenerate ``nam-dinh-2024.csv``, the Nam Định 2024 procedure catalog.

The high-volume procedures named in DESIGN.md are written out by hand with their statutory deadlines
(``sourced=1``); the long tail up to 1,679 procedures comes from a seeded generator so that the file is
reproducible: ``python scenarios/catalog/build_catalog.py`` rewrites it byte for byte.
See README.md beside this file for which columns are sourced and which are estimates.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from dvclab.catalog import COLUMNS

SEED = 20241001
TOTAL = 1679
FULL_ONLINE = 868  # the other 811 are partial online
PROCEDURES_PER_LEVEL = {"province": 1250, "district": 290, "commune": 139}
HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "nam-dinh-2024.csv"

# (code, name, group, level, agency, online, deadline, fee, originals, linked, step, share of the level's
#  volume, supplement prob, reception min, effort min, approval days)
# fmt: off
NAMED = [
    # commune: certification of copies dominates in-person traffic (Kiến An: 2,998 of 3,511)
    ("X-CT-0001", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "certification", "commune",
     "justice", "partial", 0, 4000, 0, "", 0, 0.12, 0.0, 4, 0, 0),
    ("X-CT-0002", "Chứng thực chữ ký trong các giấy tờ, văn bản", "certification", "commune",
     "justice", "partial", 0, 10000, 0, "", 0, 0.03, 0.0, 5, 0, 0),
    ("X-HT-0001", "Đăng ký khai sinh", "civil_status", "commune", "justice", "full", 0, 0, 0,
     "birth", 1, 0.04, 0.03, 10, 15, 0),
    ("X-HT-0002", "Đăng ký khai tử", "civil_status", "commune", "justice", "full", 0, 0, 0,
     "death", 1, 0.02, 0.03, 10, 15, 0),
    ("X-HT-0003", "Đăng ký kết hôn", "civil_status", "commune", "justice", "partial", 0, 0, 0,
     "", 0, 0.03, 0.05, 12, 20, 0),
    ("X-HT-0004", "Cấp bản sao trích lục hộ tịch", "civil_status", "commune", "justice", "full", 0,
     8000, 0, "", 0, 0.06, 0.02, 8, 10, 0),
    ("X-HT-0005", "Cấp giấy xác nhận tình trạng hôn nhân", "civil_status", "commune", "justice",
     "full", 3, 0, 0, "", 0, 0.05, 0.05, 8, 20, 1),
    ("X-CU-0001", "Đăng ký thường trú", "residence", "commune", "police", "full", 7, 20000, 0,
     "birth", 2, 0.05, 0.10, 10, 25, 2),
    ("X-CU-0002", "Xóa đăng ký thường trú", "residence", "commune", "police", "full", 1, 0, 0,
     "death", 2, 0.01, 0.03, 8, 15, 0.3),
    ("X-XH-0001", "Hỗ trợ chi phí mai táng", "social_protection", "commune", "social", "full", 3, 0, 0,
     "death", 3, 0.01, 0.08, 10, 30, 1),
    ("X-XH-0002", "Trợ cấp xã hội hằng tháng", "social_protection", "commune", "social", "full", 7,
     0, 0, "", 0, 0.05, 0.15, 12, 40, 3),
    ("X-DD-0001", "Xác nhận nguồn gốc, hiện trạng sử dụng đất", "land", "commune", "land", "partial",
     10, 0, 0, "", 0, 0.06, 0.20, 12, 60, 4),
    # district: land dominates the late tail (Quảng Nam land offices ~10% late). Re-calibrated (issue #10,
    # README.md): supplements 5 points more often than the first estimate (EST) and the transfer 78 officer
    # minutes (was 75, EST), so each land office runs high but stable (ρ 0.96-0.97) and land ~10% late
    ("H-DD-0001", "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "land", "district",
     "land", "partial", 23, 100000, 0, "", 0, 0.08, 0.35, 20, 150, 13),
    ("H-DD-0002", "Đăng ký biến động: chuyển nhượng quyền sử dụng đất", "land", "district", "land",
     "full", 10, 50000, 1, "", 0, 0.20, 0.30, 15, 78, 5),
    ("H-DD-0003", "Cấp đổi Giấy chứng nhận quyền sử dụng đất", "land", "district", "land", "full", 10,
     50000, 1, "", 0, 0.07, 0.25, 15, 60, 5),
    ("H-DD-0004", "Tách thửa hoặc hợp thửa đất", "land", "district", "land", "partial", 12, 50000, 0,
     "", 0, 0.05, 0.35, 15, 90, 6),
    ("H-DD-0005", "Đính chính Giấy chứng nhận đã cấp", "land", "district", "land", "full", 8, 0, 1,
     "", 0, 0.05, 0.20, 12, 45, 4),
    ("H-KT-0001", "Đăng ký thành lập hộ kinh doanh", "business", "district", "economy", "full", 3,
     100000, 0, "", 0, 0.10, 0.15, 12, 30, 1),
    ("H-XD-0001", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "construction", "district", "economy",
     "partial", 15, 75000, 0, "", 0, 0.05, 0.30, 15, 90, 7),
    ("H-HT-0001", "Đăng ký kết hôn có yếu tố nước ngoài", "civil_status", "district", "justice",
     "partial", 10, 1000000, 0, "", 0, 0.02, 0.10, 15, 60, 4),
    ("H-HT-0002", "Cấp bản sao trích lục hộ tịch (cấp huyện)", "civil_status", "district", "justice",
     "full", 0, 8000, 0, "", 0, 0.08, 0.02, 8, 10, 0),
    ("H-BH-0001", "Cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi", "health_insurance", "district",
     "social_insurance", "full", 5, 0, 0, "birth", 3, 0.03, 0.03, 8, 15, 1),
    # province
    ("T-TP-0001", "Cấp Phiếu lý lịch tư pháp", "justice", "province", "justice", "full", 10, 200000,
     0, "", 0, 0.15, 0.05, 10, 30, 5),
    ("T-GT-0001", "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "transport", "province",
     "transport", "full", 5, 135000, 0, "", 0, 0.20, 0.05, 10, 20, 2),
    ("T-KH-0001", "Đăng ký thành lập doanh nghiệp", "business", "province", "planning", "full", 3,
     50000, 0, "", 0, 0.10, 0.20, 12, 45, 1),
]

# Long-tail groups per level: (group, Vietnamese field name, agency, deadline choices, supplement prob,
# effort minutes)
LONG_TAIL = {
    "province": [
        ("justice", "Tư pháp", "justice", (5, 10, 15, 20), 0.10, 40),
        ("transport", "Giao thông vận tải", "transport", (3, 5, 7, 10), 0.08, 30),
        ("business", "Kế hoạch và Đầu tư", "planning", (3, 5, 10, 15), 0.15, 50),
        ("construction", "Xây dựng", "construction", (10, 15, 20, 30), 0.25, 90),
        ("environment", "Tài nguyên và Môi trường", "environment", (10, 15, 20, 30), 0.20, 90),
        ("social_protection", "Lao động - Thương binh và Xã hội", "labour", (5, 7, 10, 15), 0.10, 45),
        ("health", "Y tế", "health", (5, 10, 15, 20), 0.15, 60),
        ("education", "Giáo dục và Đào tạo", "education", (3, 5, 10, 15), 0.08, 40),
        ("agriculture", "Nông nghiệp và Phát triển nông thôn", "agriculture", (5, 10, 15), 0.12, 60),
        ("industry_trade", "Công Thương", "industry_trade", (3, 5, 7, 10), 0.10, 45),
        ("culture", "Văn hóa, Thể thao và Du lịch", "culture", (5, 7, 10, 15), 0.08, 40),
        ("finance", "Tài chính", "finance", (5, 10, 15), 0.10, 45),
        ("home_affairs", "Nội vụ", "home_affairs", (5, 10, 15, 20), 0.08, 40),
    ],
    "district": [
        # the statutory land deadlines (Decree 101/2024; README.md), not the estimate 10/15/20/30
        ("land", "Đất đai", "land", (8, 10, 12, 20), 0.30, 90),
        ("construction", "Xây dựng", "economy", (7, 10, 15, 20), 0.25, 60),
        ("business", "Kinh tế", "economy", (3, 5, 7), 0.12, 30),
        ("social_protection", "Lao động - Thương binh và Xã hội", "labour", (5, 7, 10), 0.10, 40),
        ("civil_status", "Hộ tịch", "justice", (3, 5, 10), 0.05, 30),
        ("justice", "Tư pháp", "justice", (3, 5, 10), 0.05, 30),
        ("education", "Giáo dục", "general", (5, 10), 0.05, 30),
        ("health", "Y tế", "general", (5, 10), 0.10, 30),
        ("culture", "Văn hóa", "general", (5, 7, 10), 0.05, 30),
        ("agriculture", "Nông nghiệp", "general", (5, 10), 0.10, 40),
    ],
    "commune": [
        ("civil_status", "Hộ tịch", "justice", (0, 1, 3, 5), 0.05, 15),
        ("certification", "Chứng thực", "justice", (0, 1), 0.02, 10),
        ("social_protection", "Bảo trợ xã hội", "social", (3, 5, 7, 10), 0.12, 30),
        ("land", "Đất đai", "land", (5, 10, 15), 0.20, 45),
        ("culture", "Văn hóa", "general", (3, 5, 7), 0.05, 20),
        ("agriculture", "Nông nghiệp", "general", (3, 5, 7), 0.05, 20),
        ("home_affairs", "Nội vụ, thi đua khen thưởng", "general", (5, 7, 10), 0.05, 20),
    ],
}
# fmt: on
LEVEL_LETTER = {"province": "T", "district": "H", "commune": "X"}
HEADER = COLUMNS
# Share of full-online long-tail procedures that still demand originals at the counter (EST).
ORIGINALS_SHARE = 0.12
# Zipf exponent of the long tail's demand within a level (EST: a few procedures carry most volume).
ZIPF = 1.1
# Full-online procedures draw this many times the demand of partial ones (EST: provinces put their
# highest-volume procedures online first, e.g. Project 06's essential services).
FULL_ONLINE_DEMAND_BIAS = 12.0


def _long_tail_rows(rng: random.Random) -> list[list]:
    rows: list[list] = []
    for level, groups in LONG_TAIL.items():
        named = sum(1 for r in NAMED if r[3] == level)
        count = PROCEDURES_PER_LEVEL[level] - named
        for index in range(count):
            group, field, agency, deadlines, supplement, effort = groups[index % len(groups)]
            number = 100 + index
            deadline = rng.choice(deadlines)
            fee = 0 if rng.random() < 0.55 else rng.choice((10000, 20000, 50000, 100000, 200000, 500000))
            effort_min = round(effort * rng.uniform(0.6, 1.5))
            rows.append([
                f"{LEVEL_LETTER[level]}-{group[:2].upper()}-{number:04d}",
                f"Thủ tục lĩnh vực {field} số {number}",
                group, level, agency, "", deadline, fee, 0, "", 0, 0.0,
                round(min(0.5, supplement * rng.uniform(0.5, 1.5)), 3),
                rng.choice((8, 10, 12, 15)), effort_min,
                round(0.35 * deadline * rng.uniform(0.6, 1.2), 2), 0,
            ])
    return rows


def _assign_online_levels(rows: list[list], rng: random.Random) -> None:
    named_full = sum(1 for r in NAMED if r[5] == "full")
    tail = [r for r in rows if r[5] == ""]
    full_slots = FULL_ONLINE - named_full
    order = list(range(len(tail)))
    rng.shuffle(order)
    for rank, index in enumerate(order):
        row = tail[index]
        row[5] = "full" if rank < full_slots else "partial"
        row[8] = int(row[5] == "full" and rng.random() < ORIGINALS_SHARE)


def _assign_tail_demand(rows: list[list], rng: random.Random) -> None:
    for level in LONG_TAIL:
        remainder = 1.0 - sum(r[11] for r in NAMED if r[3] == level)
        tail = [r for r in rows if r[3] == level and r[11] == 0.0 and r[16] == 0]
        ranks = list(range(1, len(tail) + 1))
        rng.shuffle(ranks)
        weights = [
            (FULL_ONLINE_DEMAND_BIAS if row[5] == "full" else 1.0) / rank**ZIPF
            for row, rank in zip(tail, ranks, strict=True)
        ]
        total = sum(weights)
        for row, weight in zip(tail, weights, strict=True):
            row[11] = round(remainder * weight / total, 8)


def build_rows(seed: int = SEED) -> list[list]:
    rng = random.Random(seed)
    named = [[*r[:11], r[11], r[12], r[13], r[14], r[15], 1] for r in NAMED]
    for row in named:
        row[8] = int(row[8])
    tail = _long_tail_rows(rng)
    rows = named + tail
    _assign_online_levels(rows, rng)
    _assign_tail_demand(rows, rng)
    assert len(rows) == TOTAL, len(rows)
    assert sum(r[5] == "full" for r in rows) == FULL_ONLINE
    return rows


def render(rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


def main() -> None:
    OUTPUT.write_text(render(build_rows()), encoding="utf-8")
    print(f"wrote {OUTPUT} ({TOTAL} procedures)")


if __name__ == "__main__":
    main()
