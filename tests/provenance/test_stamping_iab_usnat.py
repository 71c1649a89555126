"""IAB strings in stamps for US subjects outside California: GPP with the national usnat section (id 7) where a
state privacy law applies, none where no state law does."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from consent import iab
from core.models import Organization
from provenance.models import Recipient
from tests.provenance.conftest import gpc_signal, record
from tests.provenance.test_stamping import assert_allowed, stamp


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-CO"])
def test_stamp_for_a_state_subject_who_opted_out_of_a_sale_purpose_carries_usnat_sale_opt_out(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient, jurisdiction: str
) -> None:
    # Given a subject in a state with a privacy law who refused the sale purpose and allowed analytics
    record(organization, "st-1", "ad-sale", "refuse", jurisdiction=jurisdiction)
    record(organization, "st-1", "analytics", jurisdiction=jurisdiction)

    # When analytics data is stamped for a processor
    privacy = assert_allowed(stamp(stamp_client, subject_id="st-1", purpose="analytics", recipient="crm"))

    # Then the GPP string holds only usnat, and it says opted out of sale
    assert privacy["iab"]["gpp_sid"] == [iab.USNAT_SECTION_ID]
    usnat = iab.decode_gpp_usnat(privacy["iab"]["gpp"])
    assert (usnat.sale_opt_out, usnat.sharing_opt_out, usnat.targeted_advertising_opt_out) == (1, 1, 2)
    assert usnat.gpc is False
    assert "us_privacy" not in privacy["iab"]


def test_stamp_after_gpc_in_a_binding_state_carries_the_usnat_gpc_sub_section(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    gpc_signal(organization, "co-1", jurisdiction="US-CO")

    result = stamp(stamp_client, subject_id="co-1", purpose="analytics", recipient="mailer")

    privacy = assert_allowed(result)
    assert result["headers"]["Sec-GPC"] == "1"
    usnat = iab.decode_gpp_usnat(privacy["iab"]["gpp"])
    assert (usnat.sale_opt_out, usnat.gpc) == (1, True)
    assert privacy["iab"]["us_privacy"] == "1---"  # legacy recipient: the CCPA string does not apply in Colorado


@pytest.mark.parametrize("jurisdiction", ["US-WA", "US"])
def test_stamp_for_a_us_subject_without_a_state_privacy_law_has_no_gpp(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient, jurisdiction: str
) -> None:
    record(organization, "us-1", "ad-sale", "refuse", jurisdiction=jurisdiction)
    record(organization, "us-1", "analytics", jurisdiction=jurisdiction)

    privacy = assert_allowed(stamp(stamp_client, subject_id="us-1", purpose="analytics", recipient="crm"))

    assert privacy["iab"] == {"gpp": None, "gpp_sid": []}
