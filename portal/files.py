"""What an uploaded file really is, by its first bytes (uploads and documents both ask)."""

MAGIC = {b"PK\x03\x04": "a ZIP archive or Excel workbook", b"%PDF": "a PDF document",
         b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word file", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image"}


def looks_like(head: bytes) -> str:
    """" (its content is a PDF document)" when `head` (a file's first bytes) starts like a known
    binary format, else ""; for messages that say why a file was refused."""
    for magic, description in MAGIC.items():
        if head.startswith(magic):
            return f" (its content is {description})"
    return ""
