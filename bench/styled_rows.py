"""How long reading a workbook takes when its sheet is formatted down to row 1,048,576 (issue 13,
item 7): a 3-account sheet whose every later row holds formatted empty cells, and whose stored
size says A1:C1048576, as exports with whole formatted columns are.

    .venv/bin/python -m bench.styled_rows            # prints figures; no database needed
    .venv/bin/python -m bench.styled_rows --openpyxl # also openpyxl's own iter_rows, for comparison (minutes)

It times the reader's header search (`reader.inspect`) and the pass over the data rows
(`reader.data_rows`, what checking and placing read), which stop after
`reader.END_OF_DATA_BLANK_ROWS` empty rows.
"""
import argparse
import io
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import openpyxl

from collections_work.placements.intake import reader

LAST_ROW = 1_048_576


def styled_workbook(path: Path) -> None:
    workbook = openpyxl.Workbook()
    for row in [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1], ["R-2", "Beta", 2], ["R-3", "Gamma", 3]]:
        workbook.active.append(row)
    workbook.active["A5"].number_format = "0.00"  # a style for the empty cells
    buffer = io.BytesIO()
    workbook.save(buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                rows = "".join(f'<row r="{n}"><c r="A{n}" s="1"/><c r="B{n}" s="1"/><c r="C{n}" s="1"/></row>'
                               for n in range(5, LAST_ROW + 1))
                data = data.replace(b"</sheetData>", rows.encode() + b"</sheetData>")
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="A1:C{LAST_ROW}"/>'.encode(), data)
            target.writestr(item, data)
    path.write_bytes(out.getvalue())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openpyxl", action="store_true", help="also time openpyxl's iter_rows over the sheet")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "styled.xlsx"
        styled_workbook(path)
        print(f"workbook: 3 accounts, formatted empty rows to row {LAST_ROW:,}, {path.stat().st_size / 1e6:.1f} MB")
        started = time.perf_counter()
        info = reader.inspect(path, "xlsx")
        found = time.perf_counter()
        rows = sum(1 for _ in reader.data_rows(path, info))
        done = time.perf_counter()
        print(f"header search: {found - started:.2f} s; data rows: {rows} in {done - found:.2f} s "
              f"(stops after {reader.END_OF_DATA_BLANK_ROWS:,} empty rows)")
        if args.openpyxl:
            started = time.perf_counter()
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            count = sum(1 for _ in workbook.active.iter_rows(values_only=True))
            workbook.close()
            print(f"openpyxl iter_rows: {count:,} rows in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
