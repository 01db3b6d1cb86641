"""Workbooks written part by part with zipfile, the way an attacker would: raw XML, any number
of sheets, shared strings of any size (streamed, never held in memory), noise that keeps the
compression ratio low, a workbook part that declares more sheets than there are."""
import io
import os
import struct
import zipfile
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def build(sheets: dict[str, list[list]], *, filler_strings: int = 0, filler_bytes: int = 0,
          filler_text: str = "Filler text that repeats 0123456789", noise: int = 0, declared_sheets: int | None = None,
          shared_strings_prolog: str = "") -> bytes:
    """An .xlsx whose sheets hold `sheets` (text cells go to the shared strings). The shared
    strings then get `filler_strings` more entries, or as many as make `filler_bytes` bytes;
    `noise` random bytes in a stored part keep the compression ratio down; `declared_sheets`
    makes the workbook part list that many sheets (all pointing at the first sheet's part)."""
    strings: dict[str, int] = {}
    sheet_parts = []
    for rows in sheets.values():
        xml = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>']
        for number, row in enumerate(rows, start=1):
            cells = []
            for index, value in enumerate(row):
                ref = f"{_column(index)}{number}"
                if value is None:
                    continue
                if isinstance(value, str):
                    cells.append(f'<c r="{ref}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>')
                else:
                    cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            xml.append(f'<row r="{number}">{"".join(cells)}</row>')
        xml.append("</sheetData></worksheet>")
        sheet_parts.append("".join(xml))
    names = list(sheets)
    declared = declared_sheets or len(names)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="{CT_SHEET}"/>'
                            for i in range(len(names)))
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
            '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            'main+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            f'officedocument.spreadsheetml.sharedStrings+xml"/>{overrides}</Types>'))
        archive.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
                                        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
                                        "</Relationships>")
        sheet_elements = "".join(
            f'<sheet name="{escape(names[i] if i < len(names) else f"Copy {i}")}" sheetId="{i + 1}" '
            f'r:id="rId{min(i, len(names) - 1) + 1}"/>' for i in range(declared))
        archive.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
                                            f'xmlns:r="{REL}"><sheets>{sheet_elements}</sheets></workbook>')
        relations = "".join(f'<Relationship Id="rId{i + 1}" Type="{REL}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                            for i in range(len(names)))
        archive.writestr("xl/_rels/workbook.xml.rels",
                         f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">{relations}'
                         f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        for i, part in enumerate(sheet_parts):
            archive.writestr(f"xl/worksheets/sheet{i + 1}.xml", part)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            stream.write(f'<?xml version="1.0" encoding="UTF-8"?>{shared_strings_prolog}<sst xmlns="{MAIN}">'.encode())
            stream.write("".join(f"<si><t>{escape(text)}</t></si>" for text in strings).encode())
            _filler(stream, filler_strings, filler_bytes, filler_text)
            stream.write(b"</sst>")
        if noise:
            archive.writestr(zipfile.ZipInfo("xl/media/noise.bin"), os.urandom(noise), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _filler(stream, count: int, size: int, text: str) -> None:
    """`count` distinct strings, or `size` bytes of one repeated string, written 1 MB at a time."""
    if count:
        for start in range(0, count, 20_000):
            stream.write("".join(f"<si><t>{text} {n}</t></si>" for n in range(start, min(start + 20_000, count))).encode())
    if size:
        block = f"<si><t>{text}</t></si>".encode() * (1_000_000 // (len(text) + 17))
        written = 0
        while written < size:
            stream.write(block)
            written += len(block)


def many_sheets(count: int, *, header_on_last: bool = True, filler_bytes: int = 0, noise: int = 0) -> bytes:
    """`count` sheets of one cell each; the header and two accounts only on the last one."""
    sheets = {f"Sheet {n}": [[f"Note {n}"]] for n in range(1, count)}
    sheets[f"Sheet {count}"] = ([["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 10], ["R-2", "Beta", 20]]
                                if header_on_last else [["nothing here"]])
    return build(sheets, filler_bytes=filler_bytes, noise=noise)


def many_parts(count: int) -> bytes:
    """A zip of `count` tiny parts around a minimal workbook part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}"/>')
        for n in range(count):
            archive.writestr(f"xl/custom/part{n}.xml", "<x/>")
    return buffer.getvalue()


def lie_about_size(content: bytes, part: str, size: int) -> bytes:
    """The archive with its central directory declaring `size` bytes for `part` (zip64 or not)."""
    data = bytearray(content)
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, at = struct.unpack_from("<HLL", data, eocd + 10)
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, at + 28)
        name = bytes(data[at + 46:at + 46 + name_length]).decode()
        if name == part:
            if struct.unpack_from("<L", data, at + 24)[0] != 0xFFFFFFFF:
                struct.pack_into("<L", data, at + 24, size)
            else:  # the zip64 extra field (id 1) holds the uncompressed size first
                extra, end = at + 46 + name_length, at + 46 + name_length + extra_length
                while extra < end:
                    header_id, header_size = struct.unpack_from("<HH", data, extra)
                    if header_id == 1:
                        struct.pack_into("<Q", data, extra + 4, size)
                        break
                    extra += 4 + header_size
        at += 46 + name_length + extra_length + comment_length
    return bytes(data)
