"""The chronic-user worklist: a FHIR Bulk Data export in, the patients to invite out.

    from rules.worklist import build_worklist, render
    worklist = build_worklist(Path("export/"), evaluator, as_of=date.today())
    print(render(worklist, "csv", evaluator.ruleset))

A patient is listed as chronic exactly when the service's `chronic-user-review` card would fire
for them on the same data (the same engine decides, `patients.PatientJudge`); OAT patients and
palliative/cancer patients are listed apart. Everything runs on this machine: the export, the
temporary partition files and the output stay where the data is.
"""

from rules.worklist.export import PATIENT_TYPES, SHARED_TYPES, ExportError
from rules.worklist.patients import CHRONIC_RULE, SECTIONS, WORKLIST_USER, WorklistRow
from rules.worklist.render import FORMATS, invitation_email, render
from rules.worklist.run import Summary, Worklist, build_worklist, default_workers

__all__ = [
    "CHRONIC_RULE",
    "FORMATS",
    "PATIENT_TYPES",
    "SECTIONS",
    "SHARED_TYPES",
    "WORKLIST_USER",
    "ExportError",
    "Summary",
    "Worklist",
    "WorklistRow",
    "build_worklist",
    "default_workers",
    "invitation_email",
    "render",
]
