"""`manage.py seed_demo` (run by `make run`) gives the demo organization a client user who reads its report."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from consent.models import LedgerVerificationRun
from reports.models import ClientMembership


def test_demo_client_user_signs_in_and_reads_the_demo_report(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", api_key_file=str(tmp_path / "key"), stdout=io.StringIO())
    call_command("seed_demo", api_key_file=str(tmp_path / "key"), stdout=io.StringIO())
    password = (tmp_path / "secrets" / "demo-client-password").read_text().strip()
    client = Client()

    assert client.login(username="demo-client", password=password)
    home = client.get("/reports/")
    page = client.get(home["Location"])

    assert home["Location"] == "/reports/org/demo/"
    assert page.status_code == 200
    assert "Compliance report · Demo Co." in page.content.decode()
    assert "the hash chain was intact" in page.content.decode()
    assert ClientMembership.objects.filter(user__username="demo-client", organization__slug="demo").count() == 1
    assert LedgerVerificationRun.objects.filter(organization__slug="demo").count() == 2  # one a run


def test_operators_create_client_users_from_the_command_line(db: Any, organization: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase 42\n"))
    out = io.StringIO()

    call_command(
        "client_user_create",
        organization=organization.slug,
        username="cli-reader",
        email="cli@client.example",
        password_stdin=True,
        stdout=out,
    )

    assert out.getvalue().strip() == f"Client user 'cli-reader' reads /reports/org/{organization.slug}/"
    assert Client().login(username="cli-reader", password="a long enough passphrase 42")


def test_a_weak_password_is_refused_with_the_validators_reasons(db: Any, organization: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))

    with pytest.raises(CommandError) as refused:
        call_command(
            "client_user_create",
            organization=organization.slug,
            username="weak",
            email="weak@client.example",
            password_stdin=True,
        )

    assert "too short" in str(refused.value)
    assert not ClientMembership.objects.filter(user__username="weak").exists()
