"""Spark configuration that makes ``s3://`` paths work against the local AWS runtime (Hadoop S3A).

Glue 5.1 runs Spark 3.5 with EMRFS behind ``s3://``; locally the same paths go through Hadoop's S3A file
system pointed at the moto endpoint, so Glue scripts run unchanged. Maven is unreachable here: the
hadoop-aws and AWS SDK bundle jars come from the installed ``sagemaker_pyspark`` package (its ``jars/``
folder), located without importing it (its ``classpath_jars`` needs ``pkg_resources``).

Two ways to apply the configuration:

* in-process: :func:`configure_builder` on a ``SparkSession.Builder`` (tests, benchmarks);
* for a subprocess whose script calls a plain ``SparkSession.builder.getOrCreate()``:
  :func:`write_conf_dir` writes ``spark-defaults.conf`` (+ a quiet ``log4j2.properties``) and
  :func:`subprocess_env` points ``PYSPARK_SUBMIT_ARGS`` at it (``--properties-file``); ``spark-submit`` reads
  it when PySpark launches the JVM. Not ``SPARK_CONF_DIR``: that folder goes on the JVM's class path, and a
  class path with a non-empty folder cannot use the class archive (:func:`class_archive`).

Every driver JVM parses and verifies the same ~10,000 classes of Spark, Hadoop and Parquet as it starts and
runs its first job. :func:`class_archive` is where a JVM class-data-sharing archive of them lives
(``python -m localaws spark-classes`` builds it, ``make`` does on first use); :func:`class_archive_options`
lets a JVM map it instead: a cold job run takes about 30% less time (``bench/bench_executors_glue.py``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The two jars S3A needs. hadoop-aws 3.3.1 works with Spark 3.5's Hadoop 3.3.4 client.
S3A_JARS: tuple[str, ...] = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
S3A_FILE_SYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"

#: Spark settings that mirror Glue 5.1 and keep a local start cheap (no UI, few shuffle partitions).
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Glue's default is 200 (spread over executors); locally a few partitions avoid hundreds of tiny tasks.
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.parquet.compression.codec": "snappy",
}


#: The folder that holds :data:`PYTHON_DAEMON_MODULE` (and nothing else).
PYTHON_DAEMON_FOLDER = Path(__file__).resolve().parent / "daemon"
#: PySpark's worker daemon without Spark's archives on the path (see the module's docstring).
PYTHON_DAEMON_MODULE = "localaws_pyspark_daemon"


def python_worker_conf() -> dict[str, str]:
    """Settings that start Spark's Python workers from the lean daemon: Spark puts its own archives first
    on the workers' path, which makes every Python task re-read them (~3× its cost on 2 cores).

    The workers run ``PYSPARK_PYTHON`` (``python3`` on the ``PATH`` if unset); the daemon drops the archives
    only where that interpreter has PySpark installed.
    """
    return {
        "spark.python.daemon.module": PYTHON_DAEMON_MODULE,
        "spark.executorEnv.PYTHONPATH": str(PYTHON_DAEMON_FOLDER),
    }


class SparkSetupError(RuntimeError):
    """The local Spark cannot be configured (jars missing); the message says what to install."""


def jars_folder() -> Path:
    """``sagemaker_pyspark/jars`` of the installed package, found without importing it."""
    spec = importlib.util.find_spec("sagemaker_pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise SparkSetupError(
            "sagemaker_pyspark is not installed: it ships the hadoop-aws and AWS SDK jars S3A needs "
            "(uv sync installs it from uv.lock)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "jars"


def s3a_jars() -> list[Path]:
    """Absolute paths of the hadoop-aws and AWS SDK bundle jars."""
    folder = jars_folder()
    paths = [folder / name for name in S3A_JARS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise SparkSetupError(f"{folder}: missing {', '.join(missing)}")
    return paths


def s3a_conf(
    endpoint: str,
    access_key: str = "testing",
    secret_key: str = "testing",
) -> dict[str, str]:
    """``spark.hadoop.fs.*`` settings: S3A against ``endpoint`` for the ``s3a``, ``s3`` and ``s3n`` schemes.

    Timeouts are numeric on purpose: hadoop-aws 3.3.1 cannot parse the ``60s``-style defaults of newer
    Hadoop configurations.
    """
    hadoop = {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false" if endpoint.startswith("http://") else "true",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": access_key,
        "fs.s3a.secret.key": secret_key,
        "fs.s3a.impl": S3A_FILE_SYSTEM,
        "fs.s3.impl": S3A_FILE_SYSTEM,
        "fs.s3n.impl": S3A_FILE_SYSTEM,
        "fs.AbstractFileSystem.s3a.impl": "org.apache.hadoop.fs.s3a.S3A",
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "fs.s3a.connection.timeout": "200000",
        "fs.s3a.connection.establish.timeout": "5000",
        "fs.s3a.socket.timeout": "200000",
        "fs.s3a.threads.keepalivetime": "60",
        "fs.s3a.multipart.purge.age": "86400",
        "fs.s3a.attempts.maximum": "3",
        "fs.s3a.retry.limit": "3",
        # A local endpoint has no bucket to probe and no region to discover.
        "fs.s3a.bucket.probe": "0",
        "fs.s3a.change.detection.version.required": "false",
        # Fewer copy+delete "renames" when committing task output (a rename is a copy on S3).
        "mapreduce.fileoutputcommitter.algorithm.version": "2",
    }
    return {f"spark.hadoop.{key}": value for key, value in hadoop.items()}


def spark_conf(
    endpoint: str,
    *,
    master: str | None = "local[*]",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Everything a local Glue-like Spark needs: base settings, the S3A jars and ``s3a_conf``."""
    conf = dict(BASE_CONF)
    if master:
        conf["spark.master"] = master
    conf["spark.jars"] = ",".join(str(p) for p in s3a_jars())
    conf.update(s3a_conf(endpoint))
    # Python workers must be this interpreter (the venv), not whatever "python3" is on PATH.
    conf["spark.pyspark.python"] = sys.executable
    conf["spark.pyspark.driver.python"] = sys.executable
    conf.update(python_worker_conf())
    conf.update(extra or {})
    return conf


def configure_builder(builder: Any, conf: Mapping[str, str]) -> Any:
    """Apply ``conf`` to a ``SparkSession.Builder`` (in-process use)."""
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder


#: Spark and Hadoop log at INFO by default: thousands of lines per job. Keep warnings and errors.
LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativeio.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativeio.level = error
logger.metrics.name = org.apache.hadoop.metrics2.impl.MetricsConfig
logger.metrics.level = error
logger.s3abucket.name = org.apache.hadoop.fs.s3a.impl.ConfigurationHelper
logger.s3abucket.level = error
logger.sdk.name = com.amazonaws
logger.sdk.level = error
"""


def render_spark_defaults(conf: Mapping[str, str]) -> str:
    """``spark-defaults.conf`` text: one ``key value`` per line (values must not hold newlines)."""
    lines = []
    for key, value in sorted(conf.items()):
        if "\n" in key or "\n" in value or not key.strip():
            raise ValueError(f"invalid Spark setting {key!r}={value!r}")
        lines.append(f"{key} {value}")
    return "\n".join(lines) + "\n"


def java_option_path(flag: str, path: Path) -> str:
    """``flag=path`` as one JVM option of ``spark.driver.extraJavaOptions`` (quoted if it holds a space)."""
    text = str(path)
    return f'{flag}="{text}"' if any(c.isspace() for c in text) else f"{flag}={text}"


def write_conf_dir(folder: Path, conf: Mapping[str, str]) -> Path:
    """Write ``spark-defaults.conf`` and ``log4j2.properties`` into ``folder``; the driver's JVM options
    (``spark.driver.extraJavaOptions``) get ``-Dlog4j2.configurationFile`` pointing at the latter."""
    folder.mkdir(parents=True, exist_ok=True)
    log4j = folder / "log4j2.properties"
    log4j.write_text(LOG4J2_PROPERTIES, encoding="utf-8")
    conf = dict(conf)
    options = [
        conf.get("spark.driver.extraJavaOptions", ""),
        java_option_path("-Dlog4j2.configurationFile", log4j),
    ]
    conf["spark.driver.extraJavaOptions"] = " ".join(o for o in options if o)
    (folder / "spark-defaults.conf").write_text(render_spark_defaults(conf), encoding="utf-8")
    return folder


def subprocess_env(conf_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a Python subprocess whose PySpark must pick up ``conf_dir``'s ``spark-defaults.conf``.

    ``PYSPARK_SUBMIT_ARGS``, ``SPARK_HOME`` and ``SPARK_CONF_DIR`` from the caller are dropped so the
    generated configuration is the only one that applies.
    """
    env = dict(os.environ if base is None else base)
    for key in ("PYSPARK_SUBMIT_ARGS", "SPARK_HOME", "SPARK_CONF_DIR"):
        env.pop(key, None)
    properties = shlex.quote(str(conf_dir / "spark-defaults.conf"))
    env["PYSPARK_SUBMIT_ARGS"] = f"--properties-file {properties} pyspark-shell"
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    return env


# -- class data sharing --
#: JVM options that keep a class archive's messages out of the driver's output (a JVM that cannot map it,
#: e.g. after a JDK update, runs as without it, only slower; ``test_glue_jobs`` checks it is mapped).
QUIET_ARCHIVE_OPTIONS = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def java_binary() -> Path | None:
    """The ``java`` that ``spark-submit`` runs: ``$JAVA_HOME/bin/java``, else the one on the ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).is_file() else None


@functools.cache
def _archive_key(java: Path, jars: Path) -> str:
    """What an archive is valid for: this JDK and these Spark jars (names, sizes, times), as 16 hex digits."""
    digest = hashlib.sha256()
    for path in [java, java.parent.parent / "lib" / "server" / "libjvm.so", *sorted(jars.glob("*.jar"))]:
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def class_archive() -> Path | None:
    """Where the class archive of this JDK and this PySpark lives (it may not exist yet), in the Python
    environment's ``share/localaws``; None without a ``java`` or a PySpark."""
    java = java_binary()
    spec = importlib.util.find_spec("pyspark")
    if java is None or spec is None or not spec.submodule_search_locations:
        return None
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    return Path(sys.prefix) / "share" / "localaws" / f"spark-classes-{_archive_key(java, jars)}.jsa"


def class_archive_options() -> str:
    """JVM options that map the class archive, or "" while there is none for this JDK and PySpark."""
    path = class_archive()
    if path is None or not path.is_file():
        return ""
    return f"{java_option_path('-XX:SharedArchiveFile', path)} {QUIET_ARCHIVE_OPTIONS}"


def in_process_conf() -> dict[str, str]:
    """Settings for a SparkSession started in this process (tests, benchmarks): the lean Python worker daemon,
    and the class archive when there is one."""
    conf = python_worker_conf()
    if options := class_archive_options():
        conf["spark.driver.extraJavaOptions"] = options
    return conf
