"""The design guide's dependency rule, enforced: apps depend one way (payments -> collections_work
-> accounts -> portal), collections_work's packages one way (api -> placements -> worklist ->
debtor_accounts -> compliance -> models), and no two sibling modules or packages import each
other, directly or round a cycle. The contracts are in pyproject.toml ([tool.importlinter]);
`lint-imports` prints the same report with the offending import chains."""
import io
import os
from contextlib import redirect_stdout
from pathlib import Path

from importlinter import configuration
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_graph_keeps_the_dependency_rule_and_has_no_cycles(monkeypatch):
    monkeypatch.chdir(ROOT)
    configuration.configure()  # what the lint-imports command does first
    report = io.StringIO()
    with redirect_stdout(report):
        kept = lint_imports(config_filename=os.fspath(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, report.getvalue()
