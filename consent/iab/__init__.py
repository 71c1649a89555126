"""IAB signals: the legacy US Privacy string and GPP strings with the California (usca) or the US national
(usnat) section. No Django.

Specs: US Privacy String v1 (IAB, deprecated 31 Jan 2024), GPP Consent String Specification v1 ("Core"),
GPP Extension: California Privacy Technical Specification v1 (section id 8), GPP Extension: US National
Privacy Technical Specification (section id 7, the MSPA national approach). Where the spec text and the IAB
reference encoder (@iabgpp/cmpapi) disagree, this module follows the reference encoder, which is what
recipients decode with; the test vectors in tests/unit/test_iab.py pin that behaviour.
"""

from consent.iab.gpp import GPP_HEADER_TYPE, GPP_VERSION, fibonacci_code, fibonacci_value, gpp_sid, gpp_string
from consent.iab.us_privacy import USPV1_SECTION_ID, us_privacy_string
from consent.iab.usca import (
    USCA_KNOWN_CHILD_CATEGORIES,
    USCA_SECTION_ID,
    USCA_SENSITIVE_DATA_CATEGORIES,
    USCA_VERSION,
    UscaFields,
    decode_gpp_usca,
    gpp_string_usca,
    usca_section,
)
from consent.iab.usnat import (
    USNAT_KNOWN_CHILD_CATEGORIES,
    USNAT_SECTION_ID,
    USNAT_SENSITIVE_DATA_CATEGORIES,
    USNAT_VERSION,
    UsnatFields,
    decode_gpp_usnat,
    gpp_string_usnat,
    usnat_section,
)

__all__ = [
    "GPP_HEADER_TYPE",
    "GPP_VERSION",
    "USCA_KNOWN_CHILD_CATEGORIES",
    "USCA_SECTION_ID",
    "USCA_SENSITIVE_DATA_CATEGORIES",
    "USCA_VERSION",
    "USNAT_KNOWN_CHILD_CATEGORIES",
    "USNAT_SECTION_ID",
    "USNAT_SENSITIVE_DATA_CATEGORIES",
    "USNAT_VERSION",
    "USPV1_SECTION_ID",
    "UscaFields",
    "UsnatFields",
    "decode_gpp_usca",
    "decode_gpp_usnat",
    "fibonacci_code",
    "fibonacci_value",
    "gpp_sid",
    "gpp_string",
    "gpp_string_usca",
    "gpp_string_usnat",
    "us_privacy_string",
    "usca_section",
    "usnat_section",
]
