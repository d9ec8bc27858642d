"""Where attachments are stored: the media directory (default), or an S3-compatible bucket.

``CIVMIL_MEDIA_STORAGE=local`` (default) keeps them under ``$CIVMIL_VAR_DIR/media``, files mode
0600 in directories mode 0700. ``CIVMIL_MEDIA_STORAGE=s3`` puts them in a bucket through
django-storages, so that web servers on several hosts share them:

- ``CIVMIL_S3_BUCKET`` (required): the bucket's name;
- ``CIVMIL_S3_ENDPOINT_URL``: the server of an S3-compatible store (MinIO, Garage, Ceph...), e.g.
  ``https://s3.mission.example:9000``; unset for AWS itself. With an endpoint, buckets are
  addressed by path (``https://host/bucket/key``), which every such server accepts;
- ``CIVMIL_S3_REGION``: the region, when the store wants one;
- ``CIVMIL_S3_PREFIX``: a folder inside the bucket (default: none);
- the credentials are boto3's own variables, ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``
  (or a profile, or an instance role): boto3 and the S3 tools read them as they are, and they never
  pass through Django's settings.

Objects are written with no ACL, so they are as private as the bucket (S3's default); civmil
never gives out a bucket URL: every download goes through the application's access check and is
streamed by it (``civmil.comms.views.attachments.download``). Should code ever ask for a URL, it
gets a signed one that expires after a minute.

These variables are read here rather than in :mod:`civmil.config.env` because only the storage
uses them; a wrong one stops ``civmil`` with the same one-line message (``EnvironmentProblem``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from civmil.config.env import EnvironmentProblem

KINDS = ("local", "s3")
#: Seconds a signed URL stays valid (civmil itself never hands one out).
SIGNED_URL_SECONDS = 60


def default_storage(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``STORAGES["default"]`` entry the environment asks for.

    Raises :class:`EnvironmentProblem` naming the variable that cannot be used.
    """
    env = os.environ if environ is None else environ
    kind = env.get("CIVMIL_MEDIA_STORAGE", "").strip().lower() or "local"
    if kind not in KINDS:
        raise EnvironmentProblem("CIVMIL_MEDIA_STORAGE", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}}
    bucket = env.get("CIVMIL_S3_BUCKET", "").strip()
    if not bucket:
        raise EnvironmentProblem("CIVMIL_S3_BUCKET", "must name the bucket when CIVMIL_MEDIA_STORAGE=s3")
    endpoint = env.get("CIVMIL_S3_ENDPOINT_URL", "").strip()
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EnvironmentProblem("CIVMIL_S3_ENDPOINT_URL",
                                     f"{endpoint!r} is not an http(s) URL (https://s3.mission.example:9000)")
    if bool(env.get("AWS_ACCESS_KEY_ID")) != bool(env.get("AWS_SECRET_ACCESS_KEY")):
        missing = "AWS_SECRET_ACCESS_KEY" if env.get("AWS_ACCESS_KEY_ID") else "AWS_ACCESS_KEY_ID"
        raise EnvironmentProblem(missing, "must be set with its pair (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": env.get("CIVMIL_S3_PREFIX", "").strip().strip("/"),
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
        "querystring_expire": SIGNED_URL_SECONDS,
    }
    if endpoint:
        options["endpoint_url"] = endpoint
        options["addressing_style"] = "path"
    if env.get("CIVMIL_S3_REGION", "").strip():
        options["region_name"] = env["CIVMIL_S3_REGION"].strip()
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
