"""The README's configuration reference stays complete: every environment variable a settings module reads
(found by parsing config/settings/*.py) has a row in its table, and docker/.env.example names it."""

from __future__ import annotations

import re

from tests.settings_environment import ROOT, environment_reads, settings_environment_reads

README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
# Read only by the test settings, never in a deployment.
TEST_ONLY = {"PYTEST_XDIST_WORKER"}


def configuration_reference_names() -> set[str]:
    """Variable names in the first column of the README's "Configuration reference" table."""
    section = README.read_text().split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_the_settings_parser_finds_every_kind_of_environment_read(tmp_path: object) -> None:
    module = ROOT / "config" / "settings" / "production.py"

    found = environment_reads(module)

    # os.environ.get, env_bool, the loop over required names, os.environ.setdefault (in test.py).
    assert {"DJANGO_SECURE_HSTS_SECONDS", "DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SECRET_KEY", "DATABASE_URL"} <= found
    assert "PROVENANT_MASTER_KEY" in environment_reads(ROOT / "config" / "settings" / "test.py")


def test_every_setting_read_from_the_environment_is_in_the_readme_table() -> None:
    reads = settings_environment_reads()
    documented = configuration_reference_names()

    missing = {name: sorted(modules) for name, modules in reads.items() if name not in documented}

    assert len(reads) > 50
    assert not missing, f"add these to the README's Configuration reference: {missing}"


def test_every_production_setting_is_named_in_env_example() -> None:
    text = ENV_EXAMPLE.read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))

    missing = sorted(set(settings_environment_reads()) - named - TEST_ONLY)

    assert not missing, f"add these to docker/.env.example: {missing}"
