"""Write a new project: config, steps, pipeline, model, data batches, test, README, Makefile.

Templates live in ``templates/`` (package data); ``__NAME__`` placeholders are
replaced literally, so a template reads as the file it becomes. Python templates
end in ``.tmpl`` so no tool (pytest, ruff, the wheel's bytecode) takes them for
this package's own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from onepipe.errors import UsageError
from onepipe.quality.metrics import DEFAULTS, LIVE, METRICS
from onepipe.quality.tasks import TASKS
from onepipe.scaffold import datasets
from onepipe.version import __version__

TEMPLATES = Path(__file__).resolve().parent / "templates"
REPO = "records"  # the data repo a new project's batches go to
# DNS-1123 label, short enough for "<project>-<env>-<variant>" Kubernetes names.
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$")

# (template, written as): the files every project gets.
FILES = (
    ("onepipe.yaml", "onepipe.yaml"),
    ("README.md", "README.md"),
    ("Makefile", "Makefile"),
    ("gitignore", ".gitignore"),
    ("Dockerfile", "Dockerfile"),
    ("requirements.txt", "requirements.txt"),
    ("components/__init__.py.tmpl", "components/__init__.py"),
    ("components/steps.py.tmpl", "components/steps.py"),
    ("pipelines/__init__.py.tmpl", "pipelines/__init__.py"),
    ("pipelines/training.py.tmpl", "pipelines/training.py"),
    ("tests/test_project.py.tmpl", "tests/test_project.py"),
    ("data/README.md", f"data/{REPO}/README.md"),
)

# What the project's own test asserts: clearly better than a trivial model.
CHECKS = {
    "binary": '            self.assertGreater(metrics["roc_auc"], 0.9)  # a coin flip scores 0.5',
    "multiclass": (
        '            self.assertGreater(metrics["accuracy"], 0.8)  # the largest class alone: ~0.4'
    ),
    "regression": (
        "            import pandas as pd\n\n"
        '            spread = pd.read_csv(root / FIRST_BATCH)["target"].std()\n'
        "            # Predicting the mean misses by about one standard deviation.\n"
        '            self.assertLess(metrics["rmse"], 0.8 * spread)'
    ),
}
LOSS_WORDS = {
    "binary": "0/1 loss (share of wrong labels)",
    "multiclass": "0/1 loss (share of wrong labels)",
    "regression": "squared error",
}
# A live-quality alert threshold that a healthy model of the shipped data clears.
ALERT_THRESHOLDS = {"binary": 0.85, "multiclass": 0.8, "regression": 70.0}


def _alert(task: str) -> str:
    metric = LIVE[task][0]
    side = "above" if METRICS[metric].direction == "minimize" else "below"
    return (
        f"  # The cluster's live-quality alert (the Helm chart's rule): live {metric} {side}\n"
        f"  # this for 30 minutes, from the prediction log joined with feedback.\n"
        f"  alert: {{metric: {metric}, threshold: {ALERT_THRESHOLDS[task]}}}"
    )


@dataclass(frozen=True)
class NewProject:
    root: Path
    name: str
    task: str
    repo: str
    files: list[Path]
    batches: list[Path]


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"project name {name!r}: expected lowercase letters, digits and '-', starting "
            "with a letter, at most 30 characters (it names Kubernetes objects), e.g. churn"
        )
    return name


def create_project(root: Path, name: str, task: str) -> NewProject:
    """Write the project into ``root`` (new or empty); returns what was written."""
    check_name(name)
    if task not in TASKS:
        raise UsageError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"{root}: exists and is not an empty directory (expected a new one)")
    dataset = datasets.DATASETS[task]
    values = {
        "__PROJECT__": name,
        "__REPO__": REPO,
        "__TASK__": task,
        "__METRICS__": ", ".join(DEFAULTS[task]),
        "__PRIMARY__": DEFAULTS[task][0],
        "__LIVE__": LIVE[task][0],
        "__LOSS__": LOSS_WORDS[task],
        "__ALERT__": _alert(task),
        "__DATASET__": dataset.title,
        "__LOADER__": dataset.loader,
        "__LABEL_MEANING__": dataset.label_meaning,
        "__ROWS__": str(datasets.ROWS),
        "__ONEPIPE_VERSION__": __version__,
        "__CHECK__": CHECKS[task],
    }
    written = []
    for template, target in (*FILES, (f"components/model_{task}.py.tmpl", "components/model.py")):
        text = (TEMPLATES / template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        leftover = re.findall(r"__[A-Z_]+__", text)
        if leftover:
            raise AssertionError(f"template {template}: unfilled {leftover}")  # our bug
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    batches = datasets.write_batches(task, root / "data" / REPO)
    return NewProject(root, name, task, REPO, written, batches)
