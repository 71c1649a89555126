"""The privacy center (issue #13): the person-facing pages of an organization, server-rendered, no JavaScript,
under ``/privacy/<organization-slug>/`` (and on the organization's own host when it has one)."""
