"""Placement intake: reading client files, mapping columns, validating rows, committing them.

    files    size, type and zip-bomb checks on an upload, before anything is read
    reader   streams rows out of CSV (any encoding/delimiter) and XLSX files, finds the header
    fields   the portal's placement fields and how column names are guessed onto them
    values   parsers for amounts, dates, emails, phones, tax ids
    rows     validates one row into a record (or row/column errors)
    commit   writes records in chunks: staging table + set-based upserts, one transaction
"""
