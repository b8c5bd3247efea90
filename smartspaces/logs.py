"""How a run logs: the platform's Python log lines, and Spark's log4j2 configuration, in one format on stderr."""

from __future__ import annotations

import logging
import sys
from importlib import resources
from pathlib import Path

# The platform's loggers are named smartspaces.<stage>; everything else logs warnings only.
PLATFORM_LOGGER = "smartspaces"
# The same layout as smartspaces/log4j2.properties, so Spark's warnings and the platform's lines read alike.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LOG4J2_CONFIG = "log4j2.properties"


def configure_logging(platform_level: int = logging.INFO) -> None:
    """Sends log records to stderr in one format: the platform's from platform_level, other libraries' warnings.

    Python warnings (warnings.warn) go through the same handler. Calling it again replaces the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger(PLATFORM_LOGGER).setLevel(platform_level)
    logging.captureWarnings(True)


def log4j2_config_file() -> Path:
    """The log4j2 configuration Spark's JVMs are started with (shipped inside the package)."""
    return Path(str(resources.files("smartspaces").joinpath(LOG4J2_CONFIG)))


def log4j2_java_option() -> str:
    """The JVM option that makes log4j2 read the platform's configuration instead of Spark's defaults."""
    return f"-Dlog4j2.configurationFile={log4j2_config_file().as_uri()}"
