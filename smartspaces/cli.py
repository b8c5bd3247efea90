"""The `smartspaces` command: the local stack, schema bootstrap, the jobs, config and pins."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from smartspaces.config import ENV_NAME_VARIABLE, ConfigError, Settings, load_settings
from smartspaces.stack.process import StackError

if TYPE_CHECKING:
    from smartspaces.stack.local_stack import ServerStatus

# Jobs by the name `smartspaces run NAME` takes; each module has main(argv) -> int.
JOBS = {
    "smoke": "jobs.smoke",
    "simulate": "jobs.simulate",
    "reference": "jobs.reference",
    "ingest": "jobs.ingest",
    "changefeed": "jobs.changefeed",
    "cache-warmup": "jobs.cache_warmup",
    "enrich": "jobs.enrich",
}


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.stack import local_stack

    names = tuple(args.only or ())
    if args.action == "fetch":
        for folder in local_stack.fetch(settings):
            print(f"jars ready in {folder}")
        return 0
    if args.action == "down":
        stopped = local_stack.down(settings, names)
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    if args.action == "up":
        report = local_stack.up(settings, names, tuple(args.with_ or ()))
    else:
        # Without --only: every server, and an optional one while it runs.
        report = local_stack.status(settings, names)
    return _print_servers(report, args.action)


def _cluster(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.stack import spark_cluster

    if args.action == "url":
        print(spark_cluster.master_url(settings))
        return 0
    if args.action == "down":
        stopped = spark_cluster.down(settings)
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    report = spark_cluster.up(settings) if args.action == "up" else spark_cluster.status(settings)
    return _print_servers(report, args.action)


def _print_servers(report: list[ServerStatus], action: str) -> int:
    """One line a server, then their memory together; 1 when one of them is not running (except for status)."""
    total = 0.0
    for server in report:
        memory = f"{server.memory_mib:8.1f} MiB" if server.memory_mib is not None else " " * 12
        pid = str(server.pid or "-")
        print(f"{server.name:<14} {server.state:<9} pid {pid:<8} {memory}  {server.endpoint:<52} {server.answer}")
        total += server.memory_mib or 0.0
    print(f"{'all':<14} {'':<9} {'':<12} {total:8.1f} MiB")
    return 0 if all(server.state == "running" for server in report) or action == "status" else 1


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.status.collect import collect_status
    from smartspaces.status.render import render_json, render_text

    report = collect_status(settings)
    print(json.dumps(render_json(report), indent=2) if args.json else render_text(report))
    return 0 if report.ok else 1


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.bootstrap import apply_all

    for line in apply_all(settings):
        print(line)
    if settings.stack is not None and settings.stack.secure:
        from smartspaces.stack.cassandra import CassandraServer

        # The secure stack's roles whose rights name tables: granted once the tables exist.
        for line in CassandraServer(settings, settings.stack).grant_table_rights():
            print(line)
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    # model_dump_json masks SecretStr values as '**********'.
    print(json.dumps(json.loads(settings.model_dump_json()), indent=2))
    return 0


def _pins(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.pins import load_pins

    pins = load_pins()
    if args.what == "spark-packages":
        print(",".join(pins.spark_packages))
    elif args.what == "spark-version":
        print(pins.spark_version)
    elif args.what == "compose-env":
        from smartspaces.compose_env import compose_env

        for name, version in compose_env().items():
            print(f"{name}={version}")
    else:
        print(
            json.dumps(
                {
                    "python": pins.python,
                    "spark_packages": list(pins.spark_packages),
                    "image_packages": list(pins.image_packages),
                    "servers": {n: s.version for n, s in pins.servers.items()},
                },
                indent=2,
            )
        )
    return 0


def _manifests(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.config import PROJECT_ROOT
    from smartspaces.manifests import write_manifests
    from smartspaces.read_api_manifests import write_kubernetes

    written = [*write_manifests(PROJECT_ROOT / "spark-operator"), *write_kubernetes(PROJECT_ROOT / "kubernetes")]
    for path in written:
        print(f"rendered {path.relative_to(PROJECT_ROOT)}")
    return 0


def _contract(args: argparse.Namespace, settings: Settings) -> int:
    from transformations.contract import event_json_schema

    print(json.dumps(event_json_schema(), indent=2))
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.stages.serving.server import serve

    return serve(settings)


def _redis_acl(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.connectors.redis_acl import acl_rule

    # The password is typed by the operator, never printed here: '>' followed by it, or a '#' and its SHA-256.
    print(f"ACL SETUSER {args.user} on >PASSWORD {acl_rule(args.role)}")
    return 0


def _api_key(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.stages.serving.api_keys import ApiKeys, ApiKeysError, Scope, entry, new_key

    key = new_key()
    line = entry(args.name, frozenset(Scope(scope) for scope in args.scope), key)
    try:
        ApiKeys.parse(line)  # the name's spelling is checked as the API will check it
    except ApiKeysError as error:
        print(f"smartspaces: {error}", file=sys.stderr)
        return 2
    print(f"key for {args.name} (give it to them; it is stored nowhere): {key}")
    print(f"entry for SMARTSPACES__API__KEYS (entries separated by commas): {line}")
    return 0


def _exec(args: argparse.Namespace, settings: Settings) -> int:
    from smartspaces.stack.identities import part_environment

    child = args.child[1:] if args.child[:1] == ["--"] else args.child
    if not child:
        print("smartspaces exec: no command given", file=sys.stderr)
        return 2
    environment = {**os.environ, **part_environment(settings, args.part)}
    if args.env:
        environment[ENV_NAME_VARIABLE] = args.env
    # The passwords go to the command's environment only: nothing is printed.
    os.execvpe(child[0], child, environment)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartspaces", description=__doc__)
    parser.add_argument("--env", help="configuration environment: conf/<env>.yaml (default: $SMARTSPACES_ENV or local)")
    commands = parser.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="the local servers: up, down, status, fetch (jars only)")
    stack.add_argument("action", choices=["up", "down", "status", "fetch"])
    stack.add_argument("--only", nargs="+", choices=["kafka", "cassandra", "postgres", "redis", "mysql"])
    stack.add_argument(
        "--with",
        dest="with_",
        nargs="+",
        choices=["mysql"],
        help="optional servers to start as well (mysql: MariaDB, the reference job's MySQL source)",
    )
    stack.set_defaults(handler=_stack)

    cluster = commands.add_parser(
        "cluster",
        help="a Spark standalone cluster on loopback (a master, two workers): up, down, status, url (the master's, "
        "for spark.master)",
    )
    cluster.add_argument("action", choices=["up", "down", "status", "url"])
    cluster.set_defaults(handler=_cluster)

    status = commands.add_parser(
        "status",
        help="one screen: servers, each stream's last micro-batch, the change feed's backlog, the last enrichment "
        "run, Redis keys; exit 1 when something is down or behind",
    )
    status.add_argument("--json", action="store_true", help="the same as JSON, for machines")
    status.set_defaults(handler=_status)

    schema = commands.add_parser("schema", help="apply the Cassandra CQL files and PostgreSQL migrations")
    schema.add_argument("action", choices=["apply"])
    schema.set_defaults(handler=_schema)

    config = commands.add_parser("config", help="print the validated configuration (secrets masked)")
    config.set_defaults(handler=_config)

    pins = commands.add_parser("pins", help="print pinned versions")
    pins.add_argument(
        "what", nargs="?", choices=["all", "spark-packages", "spark-version", "compose-env"], default="all"
    )
    pins.set_defaults(handler=_pins)

    manifests = commands.add_parser(
        "manifests", help="render spark-operator/*.yaml from the pins, and kubernetes/ (its pod template, its base)"
    )
    manifests.add_argument("action", choices=["render"])
    manifests.set_defaults(handler=_manifests)

    contract = commands.add_parser("contract", help="print the event contract as JSON Schema (docs/event.schema.json)")
    contract.set_defaults(handler=_contract)

    serve = commands.add_parser("serve", help="the cache-aside read API and its web page (api.host:api.port)")
    serve.set_defaults(handler=_serve)

    api_key = commands.add_parser(
        "api-key", help="make a read API key: prints the key for the client and its entry for api.keys"
    )
    api_key.add_argument("name", help="the client's name, recorded on what it does (an acknowledgement, say)")
    api_key.add_argument(
        "--scope",
        action="append",
        choices=["read", "acknowledge"],
        default=None,
        help="repeat for both (default: read)",
    )
    api_key.set_defaults(handler=_api_key)

    redis_acl = commands.add_parser(
        "redis-acl",
        help="print the ACL SETUSER command of a Redis user with least privilege: writer (the change feed, the "
        "cache warm-up) or api (the read API); set redis.username and SMARTSPACES__REDIS__PASSWORD to use it",
    )
    redis_acl.add_argument("role", choices=["writer", "api"])
    redis_acl.add_argument("--user", default=None, help="the user's name (default: smartspaces-ROLE)")
    redis_acl.set_defaults(handler=_redis_acl)

    exec_ = commands.add_parser(
        "exec",
        help="run a command with a secure local stack's passwords in its environment (conf/secure.yaml), as the "
        "users of one part of the platform: smartspaces --env secure exec [--as PART] -- COMMAND ...",
    )
    exec_.add_argument(
        "--as",
        dest="part",
        default="platform",
        choices=["platform", "serve", "status", *sorted(JOBS)],
        help="whose users the command connects as: a job, serve (the read API), status, or platform (default)",
    )
    exec_.add_argument("child", nargs=argparse.REMAINDER)
    exec_.set_defaults(handler=_exec)

    run = commands.add_parser("run", help="run a job: smartspaces run NAME [job arguments]")
    run.add_argument("job", choices=sorted(JOBS))
    run.add_argument("job_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            job: Callable[[list[str]], int] = importlib.import_module(JOBS[args.job]).main
            env = ["--env", args.env] if args.env else []
            return job(env + list(args.job_args))
        if args.command == "api-key" and not args.scope:
            args.scope = ["read"]
        if args.command == "redis-acl" and not args.user:
            args.user = f"smartspaces-{args.role}"
        settings = load_settings(args.env)
        result: int = args.handler(args, settings)
        return result
    except (ConfigError, StackError) as error:
        print(f"smartspaces: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
