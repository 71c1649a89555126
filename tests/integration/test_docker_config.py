"""docker/compose.yaml and docker/Dockerfile checked without a Docker engine: every command, file, variable,
port and health-check URL they reference exists and agrees with the code, and the environment the stack gives
its services satisfies the production settings."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
COMPOSE_TEXT = (DOCKER / "compose.yaml").read_text()
DOCKERFILE = (DOCKER / "Dockerfile").read_text()
ENV_EXAMPLE = (DOCKER / ".env.example").read_text()
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Values an operator puts in docker/.env (the REPLACE lines of .env.example).
OPERATOR_VALUES = {
    "DJANGO_SECRET_KEY": "an-operator-chosen-secret-key-of-some-length",
    "PROVENANT_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "PROVENANT_BLIND_INDEX_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "POSTGRES_PASSWORD": "owner-password",
    "PROVENANT_APP_DB_PASSWORD": "app-password",
    "PROVENANT_PUBLIC_BASE_URL": "https://privacy.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def env_example_assignments() -> dict[str, str]:
    """The variables .env.example sets (uncommented lines)."""
    found = {}
    for line in ENV_EXAMPLE.splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            found[name.strip()] = value.strip()
    return found


def _interpolate(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        return variables[match.group(1)]

    return re.sub(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}", replace, value)


def service_environment(name: str) -> dict[str, str]:
    """What Compose hands the service: env_file(s) in order, then `environment`, with ${VAR} interpolated from
    the operator's docker/.env (.env.example plus the values they fill in)."""
    variables = {**env_example_assignments(), **OPERATOR_VALUES}
    environment = {**variables}
    environment.update(
        {key: _interpolate(str(value), variables) for key, value in SERVICES[name]["environment"].items()}
    )
    return environment


def commands() -> dict[str, list[str]]:
    return {name: SERVICES[name]["command"] for name in APP_SERVICES}


def test_compose_runs_the_issue_services_each_with_a_healthcheck_or_a_one_shot() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in SERVICES[name], name
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_named_volume_is_declared_and_every_bind_mount_exists() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), source
            else:
                used.add(source)
    assert used == declared
    assert {"postgres-data", "redis-data"} <= declared


def test_every_compose_variable_is_in_env_example_and_every_env_file_exists() -> None:
    referenced = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_TEXT))
    assert referenced, "compose.yaml interpolates the database passwords"
    assert referenced <= set(env_example_assignments())
    for service in SERVICES.values():
        for entry in service.get("env_file", []):
            if entry.get("required", True):
                assert (DOCKER / entry["path"]).is_file(), entry["path"]
    build = SERVICES["web"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).is_file()


def test_every_command_names_a_manage_py_command_celery_app_or_gunicorn_config_that_exists() -> None:
    available = get_commands()
    for name, command in commands().items():
        program = command[0]
        if program == "python":
            assert command[1] == "manage.py", name
            assert command[2] in available, f"{name}: manage.py {command[2]} does not exist"
        elif program == "celery":
            assert command[1:3] == ["-A", "config"], name
            assert command[3] in {"worker", "beat"}, name
            assert (ROOT / "config" / "celery.py").is_file()
        elif program == "gunicorn":
            config_file, application = command[command.index("-c") + 1], command[-1]
            assert (ROOT / config_file).is_file(), config_file
            module, attribute = application.split(":")
            assert (ROOT / (module.replace(".", "/") + ".py")).read_text().count(f"{attribute} =") == 1
        else:
            pytest.fail(f"{name}: unexpected program {program}")
    assert commands()["migrate"][:3] == ["python", "manage.py", "migrate"]


def test_healthcheck_urls_are_routes_exempt_from_the_https_redirect_on_the_published_port() -> None:
    test = SERVICES["web"]["healthcheck"]["test"]
    urls = re.findall(r"https?://[^'\" ]+", " ".join(test))
    assert urls
    published = {port.rsplit(":", 1)[-1] for port in SERVICES["web"]["ports"]}
    bind_port = re.search(r"GUNICORN_BIND=0\.0\.0\.0:(\d+)", DOCKERFILE)
    assert bind_port
    assert re.search(rf"^EXPOSE {bind_port.group(1)}$", DOCKERFILE, flags=re.MULTILINE)
    production = (ROOT / "config" / "settings" / "production.py").read_text()
    exempt = re.search(r"SECURE_REDIRECT_EXEMPT = \[(.*)\]", production)
    assert exempt
    for url in urls:
        parts = urlsplit(url)
        assert str(parts.port) == bind_port.group(1)
        assert str(parts.port) in published
        # The probe's Host header must be allowed, and plain HTTP must not be redirected to HTTPS.
        assert parts.hostname in service_environment("web")["DJANGO_ALLOWED_HOSTS"].split(",")
        assert any(
            re.fullmatch(pattern, parts.path.lstrip("/")) for pattern in re.findall(r'r"([^"]+)"', exempt.group(1))
        )
        resolve(parts.path)  # Resolver404 when the probe names no route


def test_web_and_workers_connect_as_the_role_that_owns_nothing_and_migrate_as_the_owner() -> None:
    owner = SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    init = (DOCKER / "postgres-init" / "10-app-role.sh").read_text()
    app_role = re.search(r"app_role=(\w+)", init)
    assert app_role
    for name in APP_SERVICES:
        url = urlsplit(service_environment(name)["DATABASE_URL"])
        assert url.username == (owner if name == "migrate" else app_role.group(1)), name
        assert url.hostname == "postgres"
        assert url.path == "/" + SERVICES["postgres"]["environment"]["POSTGRES_DB"]
        assert urlsplit(service_environment(name)["CELERY_BROKER_URL"]).hostname == "redis"
        assert urlsplit(service_environment(name)["REDIS_URL"]).hostname == "redis"


def _load_production(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **environment}
    code = "import django; django.setup(); from django.conf import settings; print(settings.CACHES['default'])"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_stack_environment_satisfies_the_production_settings(name: str, tmp_path: Path) -> None:
    environment = {**service_environment(name), "PROVENANT_VAR_DIR": str(tmp_path)}
    assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"

    result = _load_production(environment)

    assert result.returncode == 0, result.stderr
    assert "django.core.cache.backends.redis.RedisCache" in result.stdout


def test_env_example_alone_is_refused_until_the_operator_fills_it_in(tmp_path: Path) -> None:
    environment = {
        **env_example_assignments(),
        **{
            k: _interpolate(str(v), {**env_example_assignments(), **OPERATOR_VALUES})
            for k, v in SERVICES["web"]["environment"].items()
        },
        "PROVENANT_VAR_DIR": str(tmp_path),
    }

    result = _load_production(environment)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        (line.split(" ", 1)[0], line.split(" ", 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in joined.splitlines())
        if line and not line.startswith("#")
    ]


def test_every_file_the_dockerfile_copies_exists_and_dependencies_come_from_the_hashed_lock() -> None:
    instructions = dockerfile_instructions()
    copies = [shlex.split(arguments)[:-1] for keyword, arguments in instructions if keyword == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    runs = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    assert "pip install --require-hashes -r requirements/base.lock" in runs
    assert "pip install --no-deps --no-build-isolation -e ." in runs
    assert dict(instructions)["USER"] == "provenant"
    cmd = dict(instructions)["CMD"]
    assert yaml.safe_load(cmd) == SERVICES["web"]["command"]


def test_the_dockerfile_build_time_settings_load_under_production(tmp_path: Path) -> None:
    """collectstatic runs at build time under production settings with throwaway values: they must pass."""
    [collectstatic] = [a for k, a in dockerfile_instructions() if k == "RUN" and "collectstatic" in a]
    assignments = dict(re.findall(r"([A-Z][A-Z0-9_]+)=(\S+)", collectstatic.split("python manage.py")[0]))
    settings_module = re.search(r"DJANGO_SETTINGS_MODULE=(\S+)", DOCKERFILE)
    assert settings_module
    environment = {
        **assignments,
        "DJANGO_SETTINGS_MODULE": settings_module.group(1),
        "PROVENANT_VAR_DIR": str(tmp_path),
    }

    result = _load_production(environment)

    assert result.returncode == 0, result.stderr


def test_metrics_endpoint_is_noted_for_the_operator_and_scraped_over_plain_http() -> None:
    assert "/metrics" in COMPOSE_TEXT
    production = (ROOT / "config" / "settings" / "production.py").read_text()
    assert re.search(r'SECURE_REDIRECT_EXEMPT = \[[^\]]*r"\^metrics\$"', production)
