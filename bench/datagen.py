"""Deterministic placement files for the intake benchmark.

`ensure_files(rows, seed, directory)` writes, once per (rows, seed), and streams to disk:

    placements-<rows>-<seed>.csv        the client file: 21 columns, US amounts and dates, a few % bad rows
    placements-<rows>-<seed>.copy.tsv   the same rows as COPY text for collections_work_debtoraccount,
                                        minus the three leading id columns (agency, client, debtor) that
                                        only exist at run time (see `write_copy_file`)
    placements-<rows>-<seed>.json       what was generated: valid rows, invalid rows by kind, sizes

Files are written to a .part name and renamed, so an interrupted run never leaves a bad cache.
"""
import csv
import json
import os
import random
from collections import Counter
from datetime import date
from pathlib import Path

GENERATOR_VERSION = 2  # bump when the generated content changes, so old caches are not reused

HEADERS = [
    "Account Number", "Debtor Name", "Type", "Tax ID", "Email", "Phone", "Address", "City", "State", "Zip",
    "Principal", "Interest", "Fees", "Paid", "Invoice Number", "Invoice Date", "Due Date", "Delinquency Date",
    "Debt Purpose", "Co-Debtor", "Guarantor",
]
# Columns of the COPY baseline file, after agency_id, client_id, debtor_id.
COPY_COLUMNS = [
    "agency_id", "client_id", "debtor_id", "debtor_name", "client_reference", "debt_purpose", "status", "currency",
    "principal", "interest", "fees", "paid", "balance", "invoice_number", "invoice_date", "due_date",
    "delinquency_date", "placed_at", "last_payment_date", "assigned_collector_id", "priority", "placement_batch_id",
    "hold_reason", "updated_at",
]

# Share of rows made invalid, by kind (about 3% in all).
BAD_AMOUNT, MISSING_REFERENCE, DUPLICATE_REFERENCE, BAD_EMAIL = 0.008, 0.006, 0.008, 0.008

_FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
          "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra "
          "Mark Ashley Donald Kimberly Steven Emily Paul Donna Andrew Michelle Joshua Carol Kenneth Amanda Kevin "
          "Melissa Brian Deborah George Stephanie Timothy Rebecca Ronald Sharon Jason Laura Edward Cynthia Jose "
          "Maria Luis Ana Carlos Sofia Wei Mei Hiroshi Yuki Ahmed Fatima Olga Ivan Priya Raj").split()
_LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
         "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
         "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall "
         "Rivera Campbell Mitchell Carter Roberts O'Brien Kowalski Schmidt Novak Chen Patel Kim Tanaka").split()
_ADJ = ("Summit Apex Blue Ridge Golden Gate Pioneer Liberty Eagle Coastal Midwest Prairie Northern Southern Pacific "
        "Atlantic Evergreen Granite Silver Lake Red Rock Iron Horse Lone Star Great Plains Harbor Metro Valley "
        "Riverside Highland Sunrise Keystone Heritage Frontier Cascade Canyon Bayview Oakwood Maple").split()
_TRADE = ("Plumbing Supply", "Electrical Contractors", "Logistics", "Auto Parts", "Dental Group", "Roofing",
          "Restaurant Group", "Construction", "Medical Billing", "Freight Lines", "Office Furniture",
          "Landscaping", "HVAC Services", "Printing", "Hardware", "Catering", "Trucking", "Flooring",
          "Machine Works", "Veterinary Clinic", "Software", "Staffing", "Packaging", "Marine Services")
_SUFFIX = ("LLC", "Inc.", "Corp.", "Co.", "Ltd.", "LLP", "Holdings LLC", "& Sons", "Group Inc.")
_STREET = ("Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
           "Lincoln", "Jackson", "Highland", "Commerce", "Industrial", "Market", "Church", "Mill", "River")
_STREET_KIND = ("Street", "Ave", "Blvd", "Road", "Dr", "Lane", "Way", "Pkwy", "Ct")
_PLACES = [("Chicago", "IL", "606"), ("Houston", "TX", "770"), ("Phoenix", "AZ", "850"), ("Denver", "CO", "802"),
           ("Atlanta", "GA", "303"), ("Seattle", "WA", "981"), ("Columbus", "OH", "432"), ("Nashville", "TN", "372"),
           ("Portland", "OR", "972"), ("Charlotte", "NC", "282"), ("Tampa", "FL", "336"), ("Boston", "MA", "021"),
           ("Newark", "NJ", "071"), ("St. Louis", "MO", "631"), ("Salt Lake City", "UT", "841"),
           ("Minneapolis", "MN", "554"), ("Kansas City", "MO", "641"), ("San Diego", "CA", "921"),
           ("Fort Worth", "TX", "761"), ("Milwaukee", "WI", "532")]
_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "aol.com", "comcast.net", "icloud.com")
_BUSINESS_TYPES = ("Business", "Business", "Business", "Company", "LLC", "Corporation")
_PERSON_TYPES = ("Person", "Person", "Individual")
_PURPOSES = ("Commercial", "Commercial", "Commercial", "Commercial", "B2B", "Consumer", "Consumer", "")
_FIRST_DAY = date(2021, 1, 1).toordinal()
_PLACED_AT = "2025-01-15 12:00:00+00"


def paths(rows: int, seed: int, directory: Path) -> dict:
    stem = directory / f"placements-v{GENERATOR_VERSION}-{rows}-{seed}"
    return {"csv": stem.with_suffix(".csv"), "copy": stem.with_suffix(".copy.tsv"), "meta": stem.with_suffix(".json")}


def ensure_files(rows: int, seed: int, directory: Path) -> tuple[dict, dict]:
    """The cached files for (rows, seed), generating them first if needed; returns (paths, meta)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = paths(rows, seed, directory)
    if all(p.exists() for p in files.values()):
        return files, json.loads(files["meta"].read_text())
    meta = _generate(rows, seed, files)
    return files, meta


def _us_date(ordinal: int) -> str:
    d = date.fromordinal(ordinal)
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _money(cents: int, dollar_sign: bool) -> str:
    text = f"{cents // 100:,}.{cents % 100:02d}"
    return "$" + text if dollar_sign else text.replace(",", "")


def _plain(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _person(rng) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _new_debtor(rng, number: int) -> tuple:
    """(name, type, tax id, email, phone, address, city, state, zip) of a new debtor."""
    business = rng.random() < 0.7
    if business:
        name = f"{rng.choice(_ADJ)} {rng.choice(_TRADE)} {rng.choice(_SUFFIX)}"
        kind = rng.choice(_BUSINESS_TYPES)
        tax = f"{rng.randrange(10, 99)}-{rng.randrange(1000000, 9999999)}" if rng.random() < 0.85 else ""
        handle = "ap" if rng.random() < 0.5 else "billing"
        email = f"{handle}{number}@{name.split()[0].lower()}{rng.randrange(100)}.com"
    else:
        name = _person(rng)
        kind = rng.choice(_PERSON_TYPES)
        tax = f"XXX-XX-{rng.randrange(10000):04d}" if rng.random() < 0.6 else ""
        first, last = name.lower().replace("'", "").split(" ", 1)
        email = f"{first[0]}{last}{number % 1000}@{rng.choice(_DOMAINS)}"
    if rng.random() < 0.1:
        email = ""
    phone = f"({rng.randrange(201, 989)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}" \
        if rng.random() < 0.9 else ""
    address = f"{rng.randrange(1, 9999)} {rng.choice(_STREET)} {rng.choice(_STREET_KIND)}"
    if rng.random() < 0.2:
        address += f", Suite {rng.randrange(100, 999)}"
    city, state, zip3 = rng.choice(_PLACES)
    return name, kind, tax, email, phone, address, city, state, f"{zip3}{rng.randrange(100):02d}"


def _generate(rows: int, seed: int, files: dict) -> dict:
    rng = random.Random(seed)
    counts = Counter()
    recent_refs: list[str] = []  # references of recent valid rows, for duplicates
    debtors: list[tuple] = []  # recent debtors, for repeat accounts of one debtor (a ring of 5,000)
    parts = {key: path.with_name(path.name + ".part") for key, path in files.items()}
    with parts["csv"].open("w", encoding="utf-8", newline="") as csv_file, \
            parts["copy"].open("w", encoding="utf-8", newline="") as copy_file:
        writer = csv.writer(csv_file)
        writer.writerow(HEADERS)
        csv_rows, copy_lines = [], []
        for number in range(1, rows + 1):
            reference = f"CR-{seed % 1000:03d}-{number:08d}"
            if debtors and rng.random() < 0.15:
                debtor = rng.choice(debtors)
            else:
                debtor = _new_debtor(rng, number)
                if len(debtors) < 5000:
                    debtors.append(debtor)
                else:
                    debtors[number % 5000] = debtor
            name, kind, tax, email, phone, address, city, state, zip_code = debtor
            principal = rng.randrange(5_000, 5_000_000)
            interest = rng.randrange(0, principal // 10) if rng.random() < 0.5 else 0
            fees = rng.choice((0, 0, 2500, 3500, 5000))
            paid = rng.randrange(0, principal // 2) if rng.random() < 0.3 else 0
            invoiced = _FIRST_DAY + rng.randrange(1400)
            due = invoiced + rng.choice((15, 30, 30, 45, 60))
            delinquent = due + rng.randrange(1, 120) if rng.random() < 0.6 else None
            invoice_number = f"INV-{rng.randrange(10**7, 10**8)}"
            purpose = rng.choice(_PURPOSES)
            co_debtor = _person(rng) if rng.random() < 0.03 else ""
            guarantor = _person(rng) if rng.random() < 0.02 else ""
            row = [reference, name, kind, tax, email, phone, address, city, state, zip_code,
                   _money(principal, rng.random() < 0.6), _plain(interest) if interest else "",
                   _plain(fees) if fees else "", _money(paid, True) if paid else "",
                   invoice_number, _us_date(invoiced), _iso(due) if rng.random() < 0.3 else _us_date(due),
                   _us_date(delinquent) if delinquent else "", purpose, co_debtor, guarantor]
            # The COPY baseline loads every row, valid or not, with its own unique reference.
            balance = principal + interest + fees - paid
            copy_lines.append("\t".join((
                name, f"B-{reference}", "commercial" if purpose != "Consumer" else "consumer", "new", "USD",
                _plain(principal), _plain(interest), _plain(fees), _plain(paid), _plain(balance), invoice_number,
                _iso(invoiced), _iso(due), _iso(delinquent or due), _PLACED_AT, "\\N", "\\N", "0", "\\N", "",
                _PLACED_AT)))
            roll = rng.random()
            if roll < BAD_AMOUNT:
                row[10] = rng.choice(("N/A", "12.3.4", "$1,2O0.00", "TBD", "see notes"))
                counts["bad_amount"] += 1
            elif roll < BAD_AMOUNT + MISSING_REFERENCE:
                row[0] = rng.choice(("", " ", ""))
                counts["missing_reference"] += 1
            elif roll < BAD_AMOUNT + MISSING_REFERENCE + DUPLICATE_REFERENCE and recent_refs:
                row[0] = rng.choice(recent_refs)
                counts["duplicate_reference"] += 1
            elif roll < BAD_AMOUNT + MISSING_REFERENCE + DUPLICATE_REFERENCE + BAD_EMAIL:
                row[4] = (email or f"x{number}@example.com").replace("@", rng.choice((" at ", ".", "@@")))
                counts["bad_email"] += 1
            else:
                counts["valid"] += 1
                if len(recent_refs) < 1000:
                    recent_refs.append(reference)
                else:
                    recent_refs[number % 1000] = reference
            csv_rows.append(row)
            if len(csv_rows) >= 10_000:
                writer.writerows(csv_rows)
                copy_file.write("\n".join(copy_lines) + "\n")
                csv_rows, copy_lines = [], []
        writer.writerows(csv_rows)
        if copy_lines:
            copy_file.write("\n".join(copy_lines) + "\n")
    meta = {"rows": rows, "seed": seed, "generator": GENERATOR_VERSION, "valid": counts.pop("valid", 0),
            "invalid": sum(counts.values()), "invalid_by_kind": dict(sorted(counts.items())),
            "csv_bytes": parts["csv"].stat().st_size, "copy_bytes": parts["copy"].stat().st_size}
    parts["meta"].write_text(json.dumps(meta, indent=1))
    for key in ("csv", "copy", "meta"):  # meta last: its presence marks a complete set
        os.replace(parts[key], files[key])
    return meta


def write_copy_file(template: Path, target: Path, agency_id: int, client_id: int, debtor_id: int) -> None:
    """The COPY baseline file for one run: every template line prefixed with the run's ids (streamed)."""
    prefix = f"{agency_id}\t{client_id}\t{debtor_id}\t"
    with template.open("r", encoding="utf-8", newline="") as source, \
            target.open("w", encoding="utf-8", newline="") as out:
        while True:
            block = source.read(8 << 20)
            if not block:
                break
            if not block.endswith("\n"):
                block += source.readline()
            out.write(prefix + block[:-1].replace("\n", "\n" + prefix) + "\n")
