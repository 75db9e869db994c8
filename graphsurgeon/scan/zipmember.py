"""Reading one member of a zip archive within a limit, whatever its header claims (``.keras`` files, archives)."""
from __future__ import annotations

import zipfile

from ..errors import FormatError


def read_zip_member(path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A zip member's bytes, refused (FormatError) past ``limit`` whatever its header claims."""
    name = info.filename
    if info.file_size > limit:
        raise FormatError(path, f"member {name!r} is {info.file_size:,} bytes (over {limit:,})")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        raise FormatError(path, f"member {name!r} cannot be read ({exc})") from None
    if len(data) > limit:
        raise FormatError(path, f"member {name!r} is larger than its header says")
    return data
