"""Compliance report benchmark: the figures and the report page over a large organization.

Loads one organization with 1,000,000 consent events (about 200,000 subjects, 5 purposes, 180 days), 100,000
stamp records and 100,000 DSARs with their transitions, plus a small second organization so that every query must
scope by organization, into a dropped-and-recreated PostgreSQL database. Rows are written with
``INSERT ... SELECT FROM generate_series`` (the report does not verify hash chains, so they hold dummy hex), then
ANALYZEd. Times, best of 3 after a warm-up: ``compliance_report`` for the last 90 days and each of its sections,
then the HTML report page (and the PDF, untargeted) as a client member of the organization.
Target: report and page each <= 2 s.

Usage: python bench/reports.py [--events 1000000 --stamps 100000 --dsars 100000] [--reuse] [--explain]
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/provenant_bench_reports); the database
is dropped and recreated unless --reuse finds it already seeded with the same counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, analyze, migrate, prepare_environment, recreate_database

TARGET_SECONDS = 2.0
REPEATS = 3
EVENTS_PER_SUBJECT = 5
OTHER_ORGANIZATION_SHARE = 100  # the second organization gets 1/100 of every count
SLUG = "bench-reports"
OTHER_SLUG = "bench-reports-other"
NOTICE = "c" * 64

# (key, validity): analytics grants last 90 days, so those given 60-90 days ago expire within the report's 30.
PURPOSES = (
    ("marketing-email", ""),
    ("analytics", "P90D"),
    ("personalization", ""),
    ("ads-sharing", ""),
    ("product-updates", ""),
)
ADS_SHARING = 4  # 1-based position of ads-sharing in PURPOSES (SQL arrays)
# (key, kind, collection method, DPA reference): the partner feed has no DPA.
SOURCES = (
    ("web-signup", "web_form", "web_form", "DPA-2024-01"),
    ("mobile-app", "mobile_app", "mobile_app", "DPA-2024-02"),
    ("partner-feed", "partner", "partner_feed", ""),
    ("crm-import", "import", "api_import", "DPA-2023-11"),
)
RECIPIENTS = (
    ("crm", "processor"),
    ("email-platform", "processor"),
    ("ads-network", "third_party"),
    ("analytics-suite", "service_provider"),
    ("data-warehouse", "processor"),
)
JURISDICTIONS = ["DE", "FR", "US-CA", "GB", "US-VA", "NL"]
# (regime, jurisdiction, days to answer, days an extension adds)
REGIMES = (
    ("gdpr", "DE", 30, 60),
    ("ccpa", "US-CA", 45, 45),
    ("uk_gdpr", "GB", 30, 60),
    ("vcdpa", "US-VA", 45, 45),
    ("cpa", "US-CO", 45, 45),
)
REQUEST_TYPES = ["access", "deletion", "portability", "correction", "opt_out_of_sale", "restrict", "object"]
OPEN_STATUSES = ["received", "identity_pending", "verified", "in_progress", "awaiting_review"]


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


def _execute(sql: str, params: dict[str, Any]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _catalog(organization: Any, now: datetime) -> dict[str, Any]:
    """Purposes, policy versions, sources and recipients through the services (a few dozen rows)."""
    from consent import services as consent_services
    from consent.services.gpc import gpc_source
    from provenance.services import recipients as provenance_recipients

    purposes = [
        consent_services.purpose_create(
            organization=organization,
            actor="bench",
            key=key,
            name=key.replace("-", " ").title(),
            validity=validity,
            is_sale_or_sharing=key == "ads-sharing",
        )
        for key, validity in PURPOSES
    ]
    first_versions = [
        consent_services.policy_version_create(
            purpose=purpose, actor="bench", version="v1", notice_sha256=NOTICE, effective_at=now - timedelta(days=400)
        )
        for purpose in purposes
    ]
    # A material change of the marketing notice 10 days ago: grants given before it are stale.
    material_at = now - timedelta(days=10)
    material = consent_services.policy_version_create(
        purpose=purposes[0],
        actor="bench",
        version="v2",
        notice_sha256=NOTICE,
        effective_at=material_at,
        is_material=True,
    )
    sources = [
        consent_services.source_create(
            organization=organization, actor="bench", key=key, name=key, kind=kind, dpa_reference=dpa
        )
        for key, kind, _, dpa in SOURCES
    ]
    recipients = [
        provenance_recipients.recipient_create(
            organization=organization,
            actor="bench",
            key=key,
            name=key,
            role=role,
            purposes=[p for p, _ in PURPOSES],
        )
        for key, role in RECIPIENTS
    ]
    return {
        "purposes": [p.pk for p in purposes],
        "purpose_keys": [p.key for p in purposes],
        "validity_days": [90 if validity else None for _, validity in PURPOSES],
        "versions": [v.pk for v in first_versions],
        "material_version": material.pk,
        "material_at": material_at,
        "sources": [s.pk for s in sources],
        "methods": [method for _, _, method, _ in SOURCES],
        "gpc_source": gpc_source(organization).pk,
        "recipients": [r.pk for r in recipients],
    }


SUBJECTS_SQL = """
INSERT INTO consent_subject (organization_id, external_id, uuid, email_sealed, email_index, wrapped_data_key,
    jurisdiction, ledger_length, ledger_head_hash, created_at)
SELECT %(org)s, %(subject_prefix)s || s, gen_random_uuid(), '', '', NULL,
    (%(jurisdictions)s::text[])[1 + mod(s, 6)], (%(events)s - 1 - s) / %(subjects)s + 1, md5(s::text) || md5('h' || s),
    %(now)s - interval '181 days'
FROM generate_series(0, %(subjects)s - 1) AS s
"""

# Event i belongs to subject s = i mod S at chain position c = i / S (so 0..4), 36 days per position over 180 days.
# Each subject has three purposes: positions 0-1 are one purpose, 2-3 the next, 4 a third. A first event is a
# grant or a refusal; a second one a renewal, withdrawal or refusal. One subject in 20 sends GPC: a second
# event about ads-sharing is then a GPC opt-out from the built-in source.
EVENTS_SQL = """
INSERT INTO consent_consentevent (event_id, organization_id, subject_id, chain_index, purpose_id, action,
    supersedes_id, occurred_at, recorded_at, valid_until, source_id, collection_method, policy_version_id,
    jurisdiction, gpc, explicit_confirmation, lifts_gpc_opt_out, evidence_sealed, idempotency_key, request_digest,
    prev_hash, hash)
SELECT %(prefix)s || lpad(e.i::text, 20, '0'), %(org)s, su.id, e.c, (%(purposes)s::bigint[])[e.p], e.action,
    NULL, e.at, e.at + interval '2 seconds',
    CASE WHEN e.action = 'grant' THEN e.at + (%(validity_days)s::int[])[e.p] * interval '1 day' END,
    CASE WHEN e.gpc THEN %(gpc_source)s ELSE (%(sources)s::bigint[])[e.src] END,
    CASE WHEN e.gpc THEN 'gpc_signal' ELSE (%(methods)s::text[])[e.src] END,
    CASE WHEN e.gpc OR e.src = 4 THEN NULL
         WHEN e.p = 1 AND e.at >= %(material_at)s THEN %(material_version)s
         ELSE (%(versions)s::bigint[])[e.p] END,
    su.jurisdiction, e.gpc, false, false, '', NULL, '',
    md5(e.i::text || 'p') || md5(e.i::text || 'q'), md5(e.i::text) || md5(e.i::text || 'r')
FROM (
    SELECT x.*,
        CASE WHEN x.gpc THEN 'withdraw'
             WHEN mod(x.c, 2) = 0 THEN CASE WHEN x.r2 < 0.72 THEN 'grant' ELSE 'refuse' END
             WHEN x.r2 < 0.3 THEN 'withdraw' WHEN x.r2 < 0.8 THEN 'grant' ELSE 'refuse' END AS action
    FROM (
        SELECT g.*, mod(g.s, 20) = 3 AND mod(g.c, 2) = 1 AND g.p = %(ads_sharing)s AS gpc,
            CASE WHEN mod(g.s, 10) < 5 THEN 1 WHEN mod(g.s, 10) < 8 THEN 2 WHEN mod(g.s, 10) = 8 THEN 3 ELSE 4 END
                AS src,
            %(now)s - interval '180 days' + (g.c * 36 + g.r1 * 35.9) * interval '1 day' AS at
        FROM (
            SELECT i, mod(i, %(subjects)s) AS s, i / %(subjects)s AS c,
                1 + mod(mod(i, %(subjects)s) + (i / %(subjects)s) / 2, 5) AS p, random() AS r1, random() AS r2
            FROM generate_series(0, %(events)s - 1) AS i
        ) AS g
    ) AS x
) AS e
JOIN consent_subject su ON su.organization_id = %(org)s AND su.external_id = %(subject_prefix)s || e.s
"""

# The projection: the last event of every (subject, purpose). A grant past its validity stays "given" with a
# past valid_until (read as expired, as between two expiry sweeps).
STATES_SQL = """
INSERT INTO consent_consentstate (organization_id, subject_id, purpose_id, status, since, valid_until, event_id,
    basis_event_id, source_id, policy_version_id, jurisdiction, gpc, gpc_conflict, last_occurred_at, last_rank,
    last_seq, updated_at)
SELECT DISTINCT ON (e.subject_id, e.purpose_id) e.organization_id, e.subject_id, e.purpose_id,
    CASE e.action WHEN 'grant' THEN 'given' WHEN 'refuse' THEN 'refused' ELSE 'withdrawn' END,
    e.occurred_at, e.valid_until, e.id, e.id, e.source_id, e.policy_version_id, e.jurisdiction, e.gpc,
    e.gpc AND mod(e.subject_id, 3) = 0, e.occurred_at, 1, e.id, e.recorded_at
FROM consent_consentevent e
WHERE e.organization_id = %(org)s
ORDER BY e.subject_id, e.purpose_id, e.occurred_at DESC, e.id DESC
"""

GPC_RECEIPTS_SQL = """
INSERT INTO consent_gpcsignalreceipt (organization_id, subject_id, first_received_at, last_received_at, channel,
    raw_value, jurisdiction, is_honored, honored_at, is_legally_required, purposes_opted_out)
SELECT %(org)s, su.id, r.at, r.at + interval '3 days', 'header', '1', su.jurisdiction, r.honored,
    CASE WHEN r.honored THEN r.at END, su.jurisdiction = 'US-CA', '["ads-sharing"]'::jsonb
FROM (
    SELECT s, %(now)s - random() * interval '180 days' AS at, random() < 0.85 AS honored
    FROM generate_series(3, %(subjects)s - 1, 20) AS s
) AS r
JOIN consent_subject su ON su.organization_id = %(org)s AND su.external_id = %(subject_prefix)s || r.s
"""

# A quarter of the stamps are refused, with the reasons the stamping service writes ({purpose, reason, rule}),
# one in ten of them for two purposes. Allowed stamps carry the provenance completeness flags.
STAMPS_SQL = """
INSERT INTO provenance_stamprecord (stamp_id, organization_id, recipient_id, subject_id, subject_external_id,
    purposes, decision, reasons, data_digest, kid, jurisdiction, has_source, has_consent_timestamp,
    has_policy_version, created_at)
SELECT %(prefix)s || lpad(g.i::text, 20, '0'), %(org)s, (%(recipients)s::bigint[])[1 + mod(g.i, 5)], su.id,
    su.external_id,
    CASE WHEN g.two THEN jsonb_build_array(g.k1, g.k2) ELSE jsonb_build_array(g.k1) END,
    CASE WHEN g.blocked THEN 'block' ELSE 'allow' END,
    CASE WHEN NOT g.blocked THEN '[]'::jsonb
         WHEN g.two THEN jsonb_build_array(
            jsonb_build_object('purpose', g.k1, 'reason', (%(reasons)s::text[])[g.r1],
                'rule', (%(rules)s::text[])[g.r1]),
            jsonb_build_object('purpose', g.k2, 'reason', (%(reasons)s::text[])[g.r2],
                'rule', (%(rules)s::text[])[g.r2]))
         ELSE jsonb_build_array(
            jsonb_build_object('purpose', g.k1, 'reason', (%(reasons)s::text[])[g.r1],
                'rule', (%(rules)s::text[])[g.r1]))
    END,
    md5(g.i::text) || md5(g.i::text || 'd'), CASE WHEN g.blocked THEN '' ELSE 'bench-key' END, su.jurisdiction,
    NOT g.blocked AND g.q < 0.95, NOT g.blocked, NOT g.blocked AND g.q < 0.85, g.at
FROM (
    SELECT i, random() < 0.25 AS blocked, random() < 0.1 AS two, random() AS q,
        1 + floor(random() * 6)::int AS r1, 1 + floor(random() * 6)::int AS r2,
        (%(purpose_keys)s::text[])[1 + mod(i, 5)] AS k1, (%(purpose_keys)s::text[])[1 + mod(i + 2, 5)] AS k2,
        mod(i * 7919, %(subjects)s) AS s, %(now)s - random() * interval '180 days' AS at
    FROM generate_series(0, %(stamps)s - 1) AS i
) AS g
JOIN consent_subject su ON su.organization_id = %(org)s AND su.external_id = %(subject_prefix)s || g.s
"""

# Requests received over 180 days; seven in ten are closed 3-63 days after (most within a month), one in ten of
# those rejected; the other three are stuck open, most past their due date. One in 12 was extended.
DSARS_STAGE_SQL = """
CREATE TEMP TABLE bench_dsar ON COMMIT DROP AS
SELECT d.*, d.received_at + d.days_to_close * interval '1 day' AS closed_at,
    CASE WHEN d.received_at + d.days_to_close * interval '1 day' > %(now)s
            THEN (%(open_statuses)s::text[])[1 + mod(d.i, 5)]
         WHEN d.rejected THEN 'rejected' ELSE 'completed' END AS status
FROM (
    SELECT i, %(prefix)s || lpad(i::text, 20, '0') AS public_id, 1 + mod(i, 5) AS regime_at,
        (%(types)s::text[])[1 + mod(i / 5, 7)] AS type, %(now)s - random() * interval '180 days' AS received_at,
        CASE WHEN random() < 0.3 THEN 1000 ELSE 3 + 60 * power(random(), 1.5) END AS days_to_close,
        random() < 0.1 AS rejected, random() < 0.08 AS extended
    FROM generate_series(0, %(dsars)s - 1) AS i
) AS d
"""

DSARS_SQL = """
INSERT INTO dsar_datasubjectrequest (organization_id, public_id, subject_external_id, type, regime, jurisdiction,
    channel, received_at, requester_email_sealed, requester_name_sealed, wrapped_data_key, status, rejection_reason,
    assignee_id, is_extended, extension_reason_code, extension_notice_sent_on, deadlines, due_on, created_at,
    updated_at, overdue_on)
SELECT %(org)s, b.public_id, %(subject_prefix)s || mod(b.i * 31, %(subjects)s), b.type,
    (%(regimes)s::text[])[b.regime_at], (%(regime_jurisdictions)s::text[])[b.regime_at],
    (ARRAY['api', 'web_form', 'email'])[1 + mod(b.i, 3)], b.received_at, '', '', '\\x00'::bytea, b.status,
    CASE WHEN b.status = 'rejected' THEN 'Identity could not be verified.' ELSE '' END, NULL, b.extended,
    CASE WHEN b.extended THEN 'complexity' ELSE '' END,
    CASE WHEN b.extended THEN LEAST(b.received_at + interval '20 days', %(now)s)::date END, '{}'::jsonb,
    (b.received_at + ((%(answer_days)s::int[])[b.regime_at]
        + CASE WHEN b.extended THEN (%(extension_days)s::int[])[b.regime_at] ELSE 0 END) * interval '1 day')::date,
    b.received_at, LEAST(b.closed_at, %(now)s), NULL
FROM bench_dsar b
"""

# Every request has its intake; closed ones went through in_progress to completed (or were rejected).
TRANSITIONS_SQL = """
INSERT INTO dsar_requesttransition (request_id, at, actor, from_status, to_status, reason)
SELECT r.id, t.at, 'bench', t.from_status, t.to_status, ''
FROM bench_dsar b
JOIN dsar_datasubjectrequest r ON r.public_id = b.public_id
CROSS JOIN LATERAL (VALUES
    (b.received_at, '', 'received', true),
    (b.received_at + interval '1 day', 'received', 'in_progress',
        b.status IN ('completed', 'in_progress', 'awaiting_review')),
    (b.closed_at, 'in_progress', 'completed', b.status = 'completed'),
    (b.closed_at, 'received', 'rejected', b.status = 'rejected')
) AS t(at, from_status, to_status, is_taken)
WHERE t.is_taken
"""


def seed_organization(
    *, slug: str, name: str, events: int, stamps: int, dsars: int, now: datetime, prefix: str
) -> dict[str, int]:
    """One organization's rows, written in SQL; returns the counts inserted."""
    from django.db import transaction

    from consent.models import LedgerVerificationRun
    from core.services import organization_create
    from dsar.services import legal_contact_create
    from provenance.enforcement import RULES

    organization = organization_create(slug=slug, name=name, actor="bench")
    legal_contact_create(organization=organization, email=f"legal@{slug}.test", actor="bench")
    catalog = _catalog(organization, now)
    subjects = max(1, events // EVENTS_PER_SUBJECT)
    params: dict[str, Any] = {
        **catalog,
        "org": organization.pk,
        "now": now,
        "events": events,
        "subjects": subjects,
        "stamps": stamps,
        "dsars": dsars,
        "prefix": prefix,
        "subject_prefix": f"{prefix}-subj-",
        "jurisdictions": JURISDICTIONS,
        "ads_sharing": ADS_SHARING,
        "reasons": list(RULES),
        "rules": list(RULES.values()),
        "types": REQUEST_TYPES,
        "open_statuses": OPEN_STATUSES,
        "regimes": [r for r, _, _, _ in REGIMES],
        "regime_jurisdictions": [j for _, j, _, _ in REGIMES],
        "answer_days": [d for _, _, d, _ in REGIMES],
        "extension_days": [d for _, _, _, d in REGIMES],
    }
    counts: dict[str, int] = {}
    with transaction.atomic():
        _execute("SELECT setseed(%(seed)s)", {"seed": 0.42 if slug == SLUG else 0.24})
        counts["subjects"] = _execute(SUBJECTS_SQL, params)
        counts["consent events"] = _execute(EVENTS_SQL, params)
        counts["consent states"] = _execute(STATES_SQL, params)
        counts["GPC receipts"] = _execute(GPC_RECEIPTS_SQL, params)
        counts["stamp records"] = _execute(STAMPS_SQL, params)
        _execute(DSARS_STAGE_SQL, params)
        counts["DSARs"] = _execute(DSARS_SQL, params)
        counts["DSAR transitions"] = _execute(TRANSITIONS_SQL, params)
    LedgerVerificationRun.objects.create(
        organization=organization,
        verified_at=now - timedelta(hours=3),
        triggered_by="bench",
        is_valid=True,
        subjects_checked=subjects,
        events_checked=events,
        ledger_root="0" * 64,
    )
    return counts


def seed(*, events: int, stamps: int, dsars: int) -> float:
    """The benchmarked organization and a small second one; returns the seconds it took."""
    from django.utils import timezone

    now = timezone.now()
    started = time.perf_counter()
    seed_organization(
        slug=SLUG, name="Bench Reports", events=events, stamps=stamps, dsars=dsars, now=now, prefix="benchA"
    )
    seed_organization(
        slug=OTHER_SLUG,
        name="Bench Reports (other)",
        events=events // OTHER_ORGANIZATION_SHARE,
        stamps=stamps // OTHER_ORGANIZATION_SHARE,
        dsars=dsars // OTHER_ORGANIZATION_SHARE,
        now=now,
        prefix="benchB",
    )
    return time.perf_counter() - started


def seeded_counts(organization: Any) -> dict[str, int]:
    from consent.models import ConsentEvent, ConsentState, GpcSignalReceipt, Subject
    from dsar.models import DataSubjectRequest, RequestTransition
    from provenance.models import StampRecord

    return {
        "subjects": Subject.objects.filter(organization=organization).count(),
        "consent events": ConsentEvent.objects.filter(organization=organization).count(),
        "consent states": ConsentState.objects.filter(organization=organization).count(),
        "GPC receipts": GpcSignalReceipt.objects.filter(organization=organization).count(),
        "stamp records": StampRecord.objects.filter(organization=organization).count(),
        "DSARs": DataSubjectRequest.objects.filter(organization=organization).count(),
        "DSAR transitions": RequestTransition.objects.filter(request__organization=organization).count(),
    }


def is_seeded(database_url: str, *, events: int, stamps: int, dsars: int) -> bool:
    """Whether the database already holds the benchmark organization with these counts (for --reuse)."""
    import psycopg

    try:
        with psycopg.connect(database_url) as connection:
            row = connection.execute(
                """SELECT (SELECT count(*) FROM consent_consentevent e WHERE e.organization_id = o.id),
                          (SELECT count(*) FROM provenance_stamprecord s WHERE s.organization_id = o.id),
                          (SELECT count(*) FROM dsar_datasubjectrequest d WHERE d.organization_id = o.id)
                   FROM core_organization o WHERE o.slug = %s""",
                [SLUG],
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None and tuple(row) == (events, stamps, dsars)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def best_of(function: Callable[[], Any]) -> tuple[float, list[float]]:
    """One warm-up call, then the best of REPEATS."""
    function()
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        function()
        runs.append(time.perf_counter() - started)
    return min(runs), runs


def client_member(organization: Any) -> Any:
    """A non-staff user who is a client member of ``organization`` (created once)."""
    from django.contrib.auth import get_user_model

    from reports.models import ClientMembership
    from reports.services import client_membership_add

    user, _ = get_user_model().objects.get_or_create(username="bench-client", defaults={"email": "client@bench.test"})
    if not ClientMembership.objects.filter(user=user, organization=organization).exists():
        client_membership_add(organization=organization, user=user, actor="bench")
    return user


def time_page(organization: Any, url_name: str, query: str) -> tuple[float, list[float]]:
    """Best-of time of GET ``url_name`` (with ``query``) as a client member, through Django's whole stack."""
    from django.test import Client
    from django.urls import reverse

    url = reverse(url_name, kwargs={"slug": organization.slug}) + "?" + query
    client = Client()
    client.force_login(client_member(organization))

    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        if response.streaming:  # a PDF may be streamed: read it all, as a browser would
            b"".join(response.streaming_content)  # type: ignore[arg-type]

    return best_of(get)


def explain(organization: Any, period: Any) -> None:
    """EXPLAIN ANALYZE of every query the report runs, slowest first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports import selectors

    with CaptureQueriesContext(connection) as captured:
        selectors.compliance_report(organization=organization, period=period)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            lines = [row[0] for row in cursor.fetchall()]
            total = float(lines[-1].split(":")[1].split("ms")[0])
            plans.append((total, query["sql"], lines))
    for total, sql, lines in sorted(plans, key=lambda plan: -plan[0]):
        print(f"\n--- {total:.1f} ms: {sql[:300]}")
        print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stamps", type=int, default=100_000)
    parser.add_argument("--dsars", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it already holds these counts")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every report query")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench_reports")
    env = prepare_environment(database_url)
    hosts = set(filter(None, env.get("DJANGO_ALLOWED_HOSTS", "").split(",")))
    if hosts:  # the test client calls itself 'testserver'
        env["DJANGO_ALLOWED_HOSTS"] = ",".join(sorted(hosts | {"testserver"}))
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    reuse = args.reuse and is_seeded(database_url, events=args.events, stamps=args.stamps, dsars=args.dsars)
    if not reuse:
        recreate_database(database_url)
    migrate(env)  # on --reuse, applies new index migrations to the seeded data

    import django

    django.setup()
    from django.utils import timezone

    from core.models import Organization
    from reports import selectors

    if reuse:
        print("reusing the seeded database")
    else:
        seconds = seed(events=args.events, stamps=args.stamps, dsars=args.dsars)
        print(f"seeded in {seconds:.1f} s")
    started = time.perf_counter()
    analyze(database_url)
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")

    organization = Organization.objects.get(slug=SLUG)
    other = Organization.objects.get(slug=OTHER_SLUG)
    today = timezone.localdate()
    period = selectors.Period(start=today - timedelta(days=90), end=today)

    print(f"\n{'rows':<20}{SLUG:>16}{OTHER_SLUG:>22}")
    counts, other_counts = seeded_counts(organization), seeded_counts(other)
    for key, value in counts.items():
        print(f"{key:<20}{value:>16,}{other_counts[key]:>22,}")

    if args.explain:
        explain(organization, period)

    now = timezone.now()
    sections: dict[str, Callable[[], Any]] = {
        "consent_figures": lambda: selectors.consent_figures(organization=organization, period=period, now=now),
        "provenance_figures": lambda: selectors.provenance_figures(organization=organization, period=period),
        "gpc_figures": lambda: selectors.gpc_figures(organization=organization, period=period),
        "stamping_figures": lambda: selectors.stamping_figures(organization=organization, period=period),
        "dsar_figures": lambda: selectors.dsar_figures(organization=organization, period=period, today=today),
        "ledger_figures": lambda: selectors.ledger_figures(organization=organization),
    }
    print(f"\n{'timed (best of 3 after a warm-up)':<40}{'best':>8}   {'runs':<26}{'target':>9}  verdict")

    def row(label: str, timing: tuple[float, list[float]], target: float | None) -> str | None:
        best, runs = timing
        verdict = ("PASS" if best <= target else "FAIL") if target is not None else ""
        shown = " ".join(f"{run:.3f}" for run in runs)
        limit = f"<= {target:.0f} s" if target is not None else ""
        print(f"{label:<40}{best:>7.3f}s   {shown:<26}{limit:>9}  {verdict}")
        return verdict or None

    verdicts: dict[str, str] = {}
    for name, function in sections.items():
        row(f"  {name}", best_of(function), None)
    two_years = selectors.Period(start=today - timedelta(days=730), end=today)
    for label, chosen in (("90 days", period), ("2 years", two_years)):
        verdicts[f"compliance_report ({label})"] = (
            row(
                f"compliance_report ({label})",
                best_of(lambda chosen=chosen: selectors.compliance_report(organization=organization, period=chosen)),
                TARGET_SECONDS,
            )
            or "FAIL"
        )
    for label, url_name, chosen, target in (
        ("report page, HTML (90 days)", "reports:report", period, TARGET_SECONDS),
        ("report page, HTML (2 years)", "reports:report", two_years, TARGET_SECONDS),
        ("report PDF (90 days)", "reports:report_pdf", period, None),
    ):
        query = f"from={chosen.start.isoformat()}&to={chosen.end.isoformat()}"
        verdict = row(label, time_page(organization, url_name, query), target)
        if target is not None:
            verdicts[label] = verdict or "FAIL"

    print()
    for name, verdict in verdicts.items():
        print(f"{name}: {verdict} (target <= {TARGET_SECONDS:.0f} s)")
    return 0 if all(v == "PASS" for v in verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
