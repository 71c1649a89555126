"""Canonical JSON and Ed25519 stamp throughput (provenance/verify.py), in-process, no Django.

Times RFC 8785 canonical_json on a typical stamp body (a ~1 KB ``data`` object with strings, ints and
a nested list, plus a ``privacy`` envelope of 15 fields and 2 purposes) against json.dumps(sort_keys=True)
(not canonical: a floor for the C encoder) and the `rfc8785` reference package when it is installed;
then data_digest, sign_stamp and verify_stamp end to end, and raw Ed25519 sign and verify.
Each figure is the best of --repeat batches, in µs per operation.

Usage: python bench/jcs.py [--number 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from provenance.verify import canonical_json, data_digest, public_jwk, sign_stamp, verify_stamp  # noqa: E402


def typical_body() -> dict[str, Any]:
    data = {
        "customer_id": "cus_01JABCDEFGHJKMNPQRSTVWXYZ0",
        "email": "jane.doe@example.com",
        "name": "Jane Doë",
        "phone": "+49 30 1234567",
        "locale": "de-DE",
        "country": "DE",
        "age": 34,
        "loyalty_points": 12_840,
        "newsletter": True,
        "address": {"street": "Hauptstraße 1", "city": "München", "postal_code": "80331", "region": "BY"},
        "orders": [
            {"id": 100_000 + i, "sku": f"SKU-{i:05d}", "quantity": i % 3 + 1, "total_cents": 1999 + 250 * i}
            for i in range(6)
        ],
        "tags": ["gift", "eu", "repeat-buyer", "mobile"],
        "notes": 'Leave at the door.\nRing twice, "Hinterhaus".',
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
        "last_login": {"at": "2025-02-28T19:04:11Z", "ip_country": "DE", "method": "password", "mfa": True},
    }
    privacy = {
        "version": 1,
        "stamp_id": "01JABCDEFGHJKMNPQRSTVWXYZ1",
        "issuer": "https://provenant.example.com",
        "organization": "acme",
        "subject": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
        "recipient": "crm-eu",
        "issued_at": "2025-03-01T12:00:00Z",
        "expires_at": "2025-03-02T12:00:00Z",
        "jurisdiction": "DE",
        "gpc": False,
        "sale_or_share_opt_out": True,
        "policy_version": "2025-01",
        "ledger_head": "9f2c" * 16,
        "purposes": [
            {"purpose": "marketing-email", "opt_in": True, "basis": "consent", "since": "2025-01-02T08:00:00Z"},
            {"purpose": "analytics", "opt_in": False, "basis": "consent", "since": None},
        ],
        "data_digest": data_digest(data),
    }
    return {"data": data, "privacy": privacy}


def best_us(operation: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(operation, number=number, repeat=repeat)) / number * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=20_000, help="operations per batch")
    parser.add_argument("--repeat", type=int, default=5, help="batches; the best is reported")
    args = parser.parse_args()
    number, repeat = args.number, args.repeat

    body = typical_body()
    canonical = canonical_json(body)
    print(
        f"typical stamp body: data {len(canonical_json(body['data']))} B, privacy {len(body['privacy'])} fields, "
        f"canonical body {len(canonical)} B; best of {repeat} x {number:,}"
    )
    print(f"{'operation':<44}{'µs/op':>10}{'ops/s':>12}{'MB/s':>9}")

    def row(name: str, operation: Callable[[], object], ops: int = number, size: int | None = None) -> float:
        us = best_us(operation, ops, repeat)
        rate = f"{size / us:>9.1f}" if size else ""
        print(f"{name:<44}{us:>10.2f}{1e6 / us:>12,.0f}{rate}")
        return us

    ours = row("canonical_json (RFC 8785)", lambda: canonical_json(body), size=len(canonical))
    floor = row(
        "json.dumps(sort_keys=True), not canonical",
        lambda: json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
        size=len(canonical),
    )
    try:
        import rfc8785
    except ImportError:
        reference = None
        print(f"{'rfc8785.dumps (reference package)':<44}{'not installed':>10}")
    else:
        assert rfc8785.dumps(body) == canonical, "canonical_json disagrees with the rfc8785 package"
        reference = row("rfc8785.dumps (reference package)", lambda: rfc8785.dumps(body), size=len(canonical))
    row("data_digest(data)", lambda: data_digest(body["data"]))

    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    jwks = {"keys": [public_jwk(public_key, "bench")]}
    stamp = sign_stamp(body, private_key, "bench")
    received = json.loads(canonical)
    assert verify_stamp(received, stamp, jwks).valid
    crypto_ops = max(1, number // 4)
    row("sign_stamp (JCS, digest check, Ed25519 sign)", lambda: sign_stamp(body, private_key, "bench"), crypto_ops)
    row("verify_stamp (JCS, digests, Ed25519 verify)", lambda: verify_stamp(received, stamp, jwks), crypto_ops)
    message = b"x" * len(canonical)
    signature = private_key.sign(message)
    row("Ed25519 sign, raw", lambda: private_key.sign(message), crypto_ops)
    row("Ed25519 verify, raw", lambda: public_key.verify(signature, message), crypto_ops)

    print(f"canonical_json costs {ours / floor:.2f}x json.dumps(sort_keys=True)", end="")
    print(f", and is {reference / ours:.1f}x faster than rfc8785" if reference else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
