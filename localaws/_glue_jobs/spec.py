"""What Glue gives a job script and what it reports back, as pure functions: the argument vector, Spark
settings passed the Glue way, and the one-line error of a failed run."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Lines of the driver's stderr appended to a failed run's ErrorMessage.
ERROR_TAIL_LINES = 20

_SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [A-Z]+ ")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?P<rest>:.*)?$")


def job_arguments(
    job_name: str,
    job_id: str,
    run_id: str,
    arguments: Mapping[str, str],
    default_temp_dir: str,
) -> list[str]:
    """The argument vector Glue gives a job script (after ``script.py``).

    Glue adds ``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME`` and ``--TempDir`` (a default one when the job
    has none) to the merged job/run arguments; every argument is passed as ``--key value``.
    """
    argv = ["--JOB_ID", job_id, "--JOB_RUN_ID", run_id, "--JOB_NAME", job_name]
    if "--TempDir" not in arguments:
        argv += ["--TempDir", default_temp_dir]
    for key, value in arguments.items():
        argv += [key if key.startswith("--") else f"--{key}", str(value)]
    return argv


def spark_conf_from_arguments(arguments: Mapping[str, str]) -> dict[str, str]:
    """Spark settings a job passes the Glue way: ``--conf`` = ``k=v --conf k2=v2``."""
    raw = arguments.get("--conf", "")
    conf: dict[str, str] = {}
    for item in re.split(r"\s*--conf\s+", raw.strip()):
        if "=" in item:
            key, value = item.split("=", 1)
            conf[key.strip()] = value.strip()
    return conf


def error_message(stderr: str, returncode: int) -> str:
    """The one-line error Glue reports for a failed script: the final exception of the last traceback.

    Module prefixes are dropped (``pyspark.errors.exceptions.captured.AnalysisException: …`` becomes
    ``AnalysisException: …``) as Glue's console shows them. Without a traceback: the last non-log line,
    else Glue's generic ``Command failed with exit code N``.
    """
    lines = stderr.splitlines()
    start = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")),
        default=None,
    )
    if start is not None:
        for line in lines[start + 1 :]:
            if not line.strip() or line[0].isspace() or _SPARK_LOG_LINE.match(line):
                continue
            match = _EXCEPTION_LINE.match(line.split(":", 1)[0])
            if match:
                name = match.group("name")
                rest = line.split(":", 1)[1].strip() if ":" in line else ""
                return f"{name}: {rest}" if rest else name
            return line.strip()
    for line in reversed(lines):
        if line.strip() and not _SPARK_LOG_LINE.match(line) and not line[0].isspace():
            return line.strip()
    return f"Command failed with exit code {returncode}"


def tail(text: str, count: int = ERROR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])
