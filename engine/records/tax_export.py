"""Form 8949 rows as CSV and as TXF v042 (desktop tax software import). Pure text.

TXF: header `V042`, `A<program>`, `D<mm/dd/yyyy>`, `^`; one record per row: `TD`,
`N<ref>`, `C1`, `L1`, `P<description>`, `D<acquired>`, `D<sold>`, `$<cost>`, `$<proceeds>`,
then `$<disallowed loss>` for a wash sale, `^`. Refs: 321 short-term (box A), 323 long-term
(box D), 682 a wash-sale record (boxes A and D).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

from engine.records.tax import Form8949Row

CSV_HEADER = (
    "part",
    "box",
    "description (a)",
    "date acquired (b)",
    "date sold (c)",
    "proceeds (d)",
    "cost basis (e)",
    "code (f)",
    "adjustment (g)",
    "gain or loss (h)",
    "trade id",
)
TXF_REF = {"short": 321, "long": 323}
TXF_WASH_REF = 682


def _d(x: dt.date) -> str:
    return x.strftime("%m/%d/%Y")


def csv_8949(rows: Sequence[Form8949Row]) -> str:
    """Short-term rows first (Part I), then long-term (Part II), each by date sold."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for r in sorted(rows, key=lambda r: (r.term != "short", r.sold, r.lot_id)):
        w.writerow(
            (
                "I" if r.term == "short" else "II",
                r.box,
                r.description,
                _d(r.acquired),
                _d(r.sold),
                format(r.proceeds, "f"),
                format(r.cost, "f"),
                r.code,
                format(r.adjustment, "f") if r.adjustment else "",
                format(r.gain, "f"),
                r.trade_id,
            )
        )
    return out.getvalue()


def txf(rows: Sequence[Form8949Row], today: dt.date, program: str = "putdesk") -> str:
    lines = ["V042", f"A{program}", f"D{_d(today)}", "^"]
    for r in sorted(rows, key=lambda r: (r.term != "short", r.sold, r.lot_id)):
        ref = TXF_WASH_REF if r.code == "W" else TXF_REF[r.term]
        lines += [
            "TD",
            f"N{ref}",
            "C1",
            "L1",
            f"P{r.description}",
            f"D{_d(r.acquired)}",
            f"D{_d(r.sold)}",
            f"${format(r.cost, 'f')}",
            f"${format(r.proceeds, 'f')}",
        ]
        if r.code == "W":
            lines.append(f"${format(r.adjustment, 'f')}")
        lines.append("^")
    return "\n".join(lines) + "\n"
