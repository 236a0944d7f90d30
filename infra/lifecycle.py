"""The resources of a log's life after it is stored: TTL, stream, archive bucket, archiver.

Declared once here, as data, and rendered by `infra.template` (SAM), `infra.terraform` and
`devstack.resources` (the emulator), so the three cannot disagree on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from chalicelib.archive import TTL_IDENTITY

#: The logs table's TTL attribute: epoch seconds, written by `chalicelib.store`.
TTL_ATTRIBUTE: Final = "expires_at"
#: The stream carries the deleted item's old image, which is what gets archived.
STREAM_VIEW_TYPE: Final = "OLD_IMAGE"
#: The function that archives TTL removals (`app.archiver`, whose decorator sets its mapping's
#: batch size and starting position: `chalicelib.archive.BATCH_SIZE`, `STARTING_POSITION`).
ARCHIVER: Final = "archiver"
#: Lambda's event filter: only TTL removals invoke the archiver (it checks again itself).
TTL_REMOVALS_PATTERN: Final = json.dumps(
    {"eventName": ["REMOVE"], "userIdentity": {k: [v] for k, v in TTL_IDENTITY.items()}},
    sort_keys=True,
)


@dataclass(frozen=True)
class ArchiveBucket:
    """The archive bucket's rules: encrypted, never public, colder after a while."""

    #: S3 managed keys (SSE-S3): encryption at rest without a key to administer.
    encryption: str = "AES256"
    #: All four of S3's public access blocks.
    block_public_access: bool = True
    #: Archives are read rarely, and then at once: Glacier Instant Retrieval costs a sixth of
    #: Standard to store and still answers in milliseconds.
    colder_storage_class: str = "GLACIER_IR"
    transition_days: int = 30
    lifecycle_rule_id: str = "archive-to-colder-storage"


ARCHIVE_BUCKET: Final = ArchiveBucket()
PUBLIC_ACCESS_BLOCKS: Final = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)
