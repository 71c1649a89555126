"""docker/compose.yaml and docker/Dockerfile name only things that exist: files, modules, commands.

There is no Docker engine in CI, so these checks read the files instead of running them.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
APP_SERVICES = ["migrate", "web", "worker", "beat"]
SECRETS = ["DJANGO_SECRET_KEY", "PROVENANT_MASTER_KEY", "PROVENANT_BLIND_INDEX_KEY"]
PYTHON_PROGRAMS = {"python", "python3"}
MODULE_REFERENCE = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attribute>[A-Za-z_]\w*)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def as_argv(command: str | list[str]) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command)
    if command and command[0] == "CMD-SHELL":
        return shlex.split(command[1])
    if command and command[0] == "CMD":
        return list(command[1:])
    return list(command)


def referenced_things(argv: list[str]) -> Iterator[tuple[str, str]]:
    """(kind, value) pairs an argv relies on: 'program', 'file', 'module', 'object', 'manage.py'."""
    if not argv:
        return
    program = argv[0]
    yield "program", program
    skip_next = False
    for index, token in enumerate(argv[1:], start=1):
        if skip_next:
            skip_next = False
            continue
        previous = argv[index - 1]
        if program in PYTHON_PROGRAMS and token == "-c":
            skip_next = True  # inline code, not a file
        elif previous in {"-A", "--app"}:
            yield "module", token
        elif previous == "manage.py":
            yield "manage.py", token
        elif token.startswith("-") or "$" in token or "@" in token:
            continue
        elif token.endswith((".py", ".sh")) or "/" in token:
            yield "file", token
        elif MODULE_REFERENCE.match(token):
            yield "object", token


def app_service_commands(compose: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for name in APP_SERVICES:
        service = compose["services"][name]
        yield f"{name}.command", as_argv(service["command"])
        if "entrypoint" in service:
            yield f"{name}.entrypoint", as_argv(service["entrypoint"])
        if "healthcheck" in service:
            yield f"{name}.healthcheck", as_argv(service["healthcheck"]["test"])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def assert_exists(kind: str, value: str, where: str) -> None:
    if kind == "program":
        scripts = {ep.name for ep in entry_points(group="console_scripts")}
        assert value in scripts | PYTHON_PROGRAMS, f"{where}: no installed program '{value}'"
    elif kind == "file":
        assert (REPO / value).exists(), f"{where}: {value} does not exist in the repository"
    elif kind == "module":
        assert importlib.util.find_spec(value) is not None, f"{where}: no module '{value}'"
        if value == "config":
            assert importlib.util.find_spec("config.celery") is not None, f"{where}: no Celery app in config"
    elif kind == "object":
        match = MODULE_REFERENCE.match(value)
        assert match is not None
        module = importlib.import_module(match["module"])
        assert hasattr(module, match["attribute"]), f"{where}: {value} does not exist"
    elif kind == "manage.py":
        assert value in get_commands(), f"{where}: no management command '{value}'"


def test_compose_defines_the_stack(compose: dict[str, Any]) -> None:
    assert {"postgres", "redis", "web", "worker", "beat", "migrate"} <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name in ["postgres", "redis", "web", "worker", "beat"]:
        assert "healthcheck" in compose["services"][name], name


def test_dependencies_wait_for_health_and_migrations(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    for name in ["web", "worker", "beat"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]


def test_app_services_build_the_dockerfile_and_point_at_postgres_and_redis(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        context = (DOCKER_DIR / service["build"]["context"]).resolve()
        assert context == REPO, f"{name}: build context must be the repository root"
        assert (context / service["build"]["dockerfile"]).is_file(), name
        environment = service["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")


def test_env_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        entries = service.get("env_file", [])
        for entry in [entries] if isinstance(entries, str) else entries:
            if isinstance(entry, str):
                entry = {"path": entry}
            path = entry["path"]
            if entry.get("required", True):
                assert (DOCKER_DIR / path).is_file(), f"{name}: env_file {path} does not exist"


def env_example() -> dict[str, str]:
    lines = [line for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_env_example_leaves_secrets_to_be_filled_in() -> None:
    values = env_example()
    for secret in SECRETS:
        assert secret in values, secret
        assert values[secret] == "", f"{secret} must be an empty placeholder in .env.example"


def test_env_example_names_only_variables_something_reads() -> None:
    paths = [*sorted((REPO / "config").glob("settings/*.py")), REPO / "config" / "gunicorn.py", COMPOSE_FILE]
    readers = "".join(path.read_text() for path in paths)
    names = list(env_example())
    assert names
    for name in names:
        assert name in readers, f"{name} in .env.example is read by nothing"


def test_commands_name_existing_files_modules_and_management_commands(compose: dict[str, Any]) -> None:
    checked = set()
    for where, argv in app_service_commands(compose):
        for kind, value in referenced_things(argv):
            assert_exists(kind, value, where)
            checked.add(kind)
    # The stack runs gunicorn with config/gunicorn.py, Celery with -A config and migrate with manage.py.
    assert {"program", "file", "module", "object", "manage.py"} <= checked


def test_dockerfile_copies_existing_sources_and_runs_as_a_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    for keyword, arguments in instructions:
        if keyword in {"COPY", "ADD"}:
            parts = [p for p in shlex.split(arguments) if not p.startswith("--")]
            assert not arguments.startswith("--from"), "no multi-stage copies expected"
            for source in parts[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1] not in {"root", "0"}
    env = " ".join(arguments for keyword, arguments in instructions if keyword == "ENV")
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in env
    assert any(keyword == "RUN" and "collectstatic" in arguments for keyword, arguments in instructions)


def test_dockerfile_command_exists() -> None:
    commands = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    assert len(commands) == 1
    argv = json.loads(commands[0])
    kinds = set()
    for kind, value in referenced_things(argv):
        assert_exists(kind, value, "Dockerfile CMD")
        kinds.add(kind)
    assert {"file", "object"} <= kinds


def test_app_services_connect_as_a_role_that_owns_no_table(compose: dict[str, Any]) -> None:
    """Only migrate connects as the owner; web, worker and beat as provenant_app (docker/postgres-init)."""
    services = compose["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith(f"postgres://{owner}:")
    for name in ["web", "worker", "beat"]:
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgres://provenant_app:"), name
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    init = DOCKER_DIR / "postgres-init"
    assert (init / "10-app-role.sh").is_file()
    assert "app-role.psql" in (init / "10-app-role.sh").read_text()
    assert "PROVENANT_APP_DB_PASSWORD" in services["postgres"]["environment"]
    assert "PROVENANT_APP_DB_PASSWORD" in env_example()
