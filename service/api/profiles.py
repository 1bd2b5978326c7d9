"""ListProfiles / GetProfile handlers: stored hardware profiles to protobuf, at the API edge.

Page tokens are opaque (URL-safe base64 of a small JSON object carrying the offset and a
version tag), so clients cannot depend on their form; a token that does not decode is
INVALID_ARGUMENT on `page_token`.
"""

from __future__ import annotations

import datetime as _dt
import json

from google.protobuf.timestamp_pb2 import Timestamp

from flopwatt.bench.store import MAX_PAGE_SIZE, ProfileNotFound, ProfileStore, ProfileSummary
from flopwatt.service.api.pagination import (
    DEFAULT_PAGE_SIZE,
    bounded_page_size,
    decode_token_text,
    encode_token_text,
    refuse_token,
    token_number,
)
from flopwatt.service.errors import InvalidArgument, NotFound, echo
from flopwatt.v1 import benchmark_pb2

RESOURCE_PREFIX = "profiles/"
_TOKEN_VERSION = 1


def encode_page_token(offset: int) -> str:
    return encode_token_text(json.dumps({"v": _TOKEN_VERSION, "o": offset}, separators=(",", ":")))


def decode_page_token(token: str) -> int:
    """The offset of a ListProfiles token (0 for none); INVALID_ARGUMENT naming page_token when
    it is not ours. The shared decoder bounds its length first, so the JSON is tiny and flat."""
    if not token:
        return 0
    problem = "not a token returned by ListProfiles"
    try:
        payload = json.loads(decode_token_text(token, problem))
    except ValueError:
        raise refuse_token(problem) from None
    if not isinstance(payload, dict) or payload.get("v") != _TOKEN_VERSION:
        raise refuse_token(problem)
    return token_number(payload.get("o"), problem)


def _timestamp(iso: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(
        _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(_dt.timezone.utc).replace(tzinfo=None)
    )
    return stamp


def profile_message(summary: ProfileSummary, document: dict | None = None) -> benchmark_pb2.Profile:
    message = benchmark_pb2.Profile(
        name=RESOURCE_PREFIX + summary.id,
        device_kind=summary.device_kind,
        device_name=summary.device_name,
        hardware_id=summary.hardware_id or "",
        benchmark_version=summary.benchmark_version,
        schema_version=summary.schema_version,
        host=summary.host,
        suite=summary.suite,
        warnings=summary.warnings,
    )
    message.create_time.CopyFrom(_timestamp(summary.created_time))
    message.ceilings.update(summary.ceilings)
    if document is not None:
        message.profile_json = json.dumps(document, sort_keys=True)
    return message


def profile_id_from_name(name: str) -> str:
    """ "profiles/{id}" or a bare id → id; an empty or malformed name is INVALID_ARGUMENT."""
    profile_id = name[len(RESOURCE_PREFIX) :] if name.startswith(RESOURCE_PREFIX) else name
    if not profile_id or "/" in profile_id or len(profile_id) > 128:
        raise InvalidArgument.field("name", f"expected 'profiles/{{id}}', got {echo(name)}")
    return profile_id


def list_profiles(
    request: benchmark_pb2.ListProfilesRequest, store: ProfileStore
) -> benchmark_pb2.ListProfilesResponse:
    page_size = bounded_page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = decode_page_token(request.page_token)
    summaries, total = store.list(page_size, offset)
    next_offset = offset + len(summaries)
    return benchmark_pb2.ListProfilesResponse(
        profiles=[profile_message(s) for s in summaries],
        next_page_token=encode_page_token(next_offset) if next_offset < total else "",
    )


def get_profile(request: benchmark_pb2.GetProfileRequest, store: ProfileStore) -> benchmark_pb2.GetProfileResponse:
    profile_id = profile_id_from_name(request.name)
    try:
        summary = store.summary(profile_id)
        document = store.get(profile_id)
    except ProfileNotFound:
        raise NotFound("profile", RESOURCE_PREFIX + profile_id) from None
    return benchmark_pb2.GetProfileResponse(profile=profile_message(summary, document))
