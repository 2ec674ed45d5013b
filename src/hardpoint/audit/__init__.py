"""``hardpoint audit``: Bandit, a dependency audit and own checks, with reports CI can gate on.

Run it as ``hardpoint audit [PATH]`` or ``python -m hardpoint.audit [PATH]``; from Python::

    from pathlib import Path
    from hardpoint.audit import AuditOptions, run_audit

    result = run_audit(AuditOptions(Path("."), vuln_db=Path("osv/"), output_dir=None))
    print(result.exit_code, len(result.findings))

Bandit and pip-audit come with ``pip install 'hardpoint[audit]'``; the secret, debug,
print and TODO checks need nothing.
"""

from __future__ import annotations

from hardpoint.audit._model import CheckResult, Finding, Severity
from hardpoint.audit._reports import AuditResult
from hardpoint.audit._runner import CHECKS, AuditOptions, run_audit

__all__ = [
    "CHECKS",
    "AuditOptions",
    "AuditResult",
    "CheckResult",
    "Finding",
    "Severity",
    "run_audit",
]
