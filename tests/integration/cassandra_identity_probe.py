"""Reads a table of Cassandra through the Spark connector, in a process of its own whose JVM finds the node's
address under the name a hosts file gives (Java's jdk.net.hosts.file): the other half of test_secure_stack's
host-name check, which the shared session's JVM, started with the machine's resolver, cannot make.

python -m tests.integration.cassandra_identity_probe HOSTS_FILE KEYSPACE
(the secure stack's settings: SMARTSPACES_ENV, and its passwords in the environment)
Exit 0: read; 3: the connector refused the node's certificate for its name; anything else: another failure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]

from smartspaces.config import load_settings
from smartspaces.connectors.cassandra import read_cassandra
from smartspaces.session import JAVA_OPTIONS_KEYS, spark_session

NAME_REFUSED = 3


def main(argv: Sequence[str]) -> int:
    hosts_file, keyspace = argv
    job_conf = dict.fromkeys(JAVA_OPTIONS_KEYS, f"-Djdk.net.hosts.file={hosts_file}")
    with spark_session(load_settings(), "smartspaces-identity-probe", job_conf) as spark:
        try:
            read_cassandra(spark, keyspace, "readings").collect()
        except Py4JJavaError as error:
            message = str(error.java_exception)
            print(message, file=sys.stderr)
            return NAME_REFUSED if "No name matching" in message or "No subject alternative" in message else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
