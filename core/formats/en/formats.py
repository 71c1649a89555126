"""English formats for the pages staff read: ISO dates, times with seconds and the time zone's abbreviation
(``2026-12-07 01:15:56 UTC``), the same on every admin list and page (settings.FORMAT_MODULE_PATH)."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
TIME_FORMAT = "H:i:s"
