"""The unsubscribe link a recipient puts in an email, with its RFC 2369 / RFC 8058 header values."""

from __future__ import annotations

from rest_framework import serializers


class UnsubscribeLinkOutputSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The signed unsubscribe link: a page on GET, a withdrawal on POST")
    list_unsubscribe = serializers.CharField(help_text="Value of the List-Unsubscribe header: the URL in <>")
    list_unsubscribe_post = serializers.CharField(
        help_text="Value of the List-Unsubscribe-Post header (RFC 8058 one-click): List-Unsubscribe=One-Click"
    )
