"""Photos attached to findings: reading uploads within a limit, checking them, EXIF, content-addressed storage.

Officers send photos from their phones over mobile networks, so the upload is untrusted bytes of any
size. They are read in chunks and refused as soon as they pass the size limit, opened by Pillow only
with the JPEG, PNG and WebP decoders (chosen by the file's content, never its name), refused before any
pixel is decoded when the header claims more pixels than a photo has (a decompression bomb), and fully
decoded once so that an upload cut off in transit is caught here rather than when someone opens it.

The EXIF time and position a phone writes are kept so that :func:`exif_mismatch` can flag a photo that
was not taken where and when the finding was recorded. They only flag; they never refuse a photo,
because many phones strip EXIF or have no GPS fix.

This module knows no database and no web framework: routers feed it bytes and map its errors.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import struct
import tempfile
import warnings
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Literal

from PIL import ExifTags, Image, UnidentifiedImageError
from pyproj import Geod

from gridgov.errors import GridGovError, NotFound

MAX_PHOTO_BYTES = 20 * 1024 * 1024
"""The largest photo accepted; a phone's full-resolution JPEG is 2-12 MB."""

MAX_PHOTO_PIXELS = 50_000_000
"""The most pixels a photo may have: above any phone camera's 48-50 MP sensor mode, and it bounds the
memory one decode takes (50 MP x 4 bytes = 200 MB). Below Pillow's own guard (about 89 MP)."""

MAX_EXIF_MINUTES = 120
"""How far apart the EXIF time and the finding's time may be. A finding is recorded on the spot, on the
phone that takes its photos, so two hours allows for photos taken before or after the report without
letting through a photo from another day's patrol."""

MAX_EXIF_METRES = 500
"""How far the EXIF position may be from the finding. Phone GPS is good to tens of metres; an officer may
photograph a river bank or a field from a few hundred metres away."""

CHINA_TIME = timezone(timedelta(hours=8))
"""China Standard Time (UTC+8, no daylight saving): the zone a phone's EXIF clock is taken to be in
when the photo carries no OffsetTimeOriginal."""

PhotoFormat = Literal["jpeg", "png", "webp"]

_PILLOW_FORMATS: dict[str, PhotoFormat] = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp"}
"""Pillow's format names of the accepted kinds. MPO is a JPEG with extra frames (depth maps, previews)
that some phones write; its first frame is an ordinary JPEG that every browser shows."""

_DECODERS = ("JPEG", "PNG", "WEBP")
"""The only Pillow decoders an upload is offered to, so no rarely used decoder ever sees untrusted bytes."""

MIME_TYPES: dict[PhotoFormat, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTENSIONS: dict[PhotoFormat, str] = {"jpeg": "jpg", "png": "png", "webp": "webp"}

_DAMAGED_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
"""What Pillow's decoders raise on a cut-off or corrupted file (OSError and SyntaxError in practice)."""

_ROTATED_ORIENTATIONS = {5, 6, 7, 8}
"""EXIF orientations that turn the stored picture by 90 degrees for display."""

_GEOD = Geod(ellps="GRS80")
"""The CGCS2000 ellipsoid, for distances in metres between a photo and its finding."""


class PhotoRefused(GridGovError):
    """An upload that cannot be kept as a finding's photo; the subclasses say why."""

    status = 422
    code = "photo_refused"


class PhotoTooLarge(PhotoRefused):
    """More bytes than :data:`MAX_PHOTO_BYTES` (or the limit given): 413 Content Too Large."""

    status = 413
    code = "photo_too_large"


class NotAnImage(PhotoRefused):
    """Not a JPEG, PNG or WebP by its content, whatever its name: 415 Unsupported Media Type."""

    status = 415
    code = "not_an_image"


class DamagedPhoto(PhotoRefused):
    """A JPEG, PNG or WebP that does not decode, usually an upload cut off in transit: 422."""

    status = 422
    code = "photo_damaged"


class ImageBomb(PhotoRefused):
    """More pixels than :data:`MAX_PHOTO_PIXELS`: 422, because the bytes may be few (a decompression bomb),
    so 413's "the request is too large" would mislead."""

    status = 422
    code = "photo_too_many_pixels"


class InvalidPhotoKey(GridGovError):
    """A storage key that is not a sha256 and an extension, such as ``../../etc/passwd``: 400."""

    status = 400
    code = "invalid_photo_key"


class PhotoNotFound(NotFound):
    code = "photo_not_found"


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """What :func:`check_photo` learnt about a photo. ``width`` and ``height`` are as the photo is shown
    (EXIF orientation applied), so a portrait phone photo reads as portrait."""

    format: PhotoFormat
    mime_type: str
    width: int
    height: int
    byte_size: int
    sha256: str
    taken_at: datetime | None
    """EXIF DateTimeOriginal with its OffsetTimeOriginal, or in :data:`CHINA_TIME` when that is absent."""
    gps: tuple[float, float] | None
    """EXIF (lon, lat) in decimal degrees, taken to be WGS84 as phone cameras write it."""

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def _too_large(max_bytes: int) -> PhotoTooLarge:
    return PhotoTooLarge(
        f"The photo is larger than {max_bytes / 1024 / 1024:g} MB ({max_bytes:,} bytes), "
        "the most a finding's photo may be; send a smaller one."
    )


async def read_limited(chunks: AsyncIterable[bytes], *, max_bytes: int) -> bytes:
    """The upload's bytes, refused with PhotoTooLarge as soon as they pass ``max_bytes``, so an oversized
    upload is never held in memory whole."""
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(received)


def read_limited_sync(stream: BinaryIO, *, max_bytes: int, chunk_size: int = 64 * 1024) -> bytes:
    """Like :func:`read_limited` for a file object: reads at most ``max_bytes + 1`` bytes from ``stream``."""
    received = bytearray()
    while chunk := stream.read(min(chunk_size, max_bytes + 1 - len(received))):
        received += chunk
        if len(received) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(received)


def check_photo(
    data: bytes,
    *,
    filename: str | None = None,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_pixels: int = MAX_PHOTO_PIXELS,
) -> PhotoInfo:
    """The photo's format, size, hash and EXIF, or a PhotoRefused error that says why it cannot be kept.

    ``filename`` only names the upload in error messages: the format comes from the content.
    """
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    upload = f"'{filename}'" if filename else "The upload"
    with warnings.catch_warnings():
        # Pillow's own bomb guard fires inside Image.open (a warning above Image.MAX_IMAGE_PIXELS, an
        # error above twice that); as errors both are refused below, not printed to the log. Before Python
        # 3.14 the filter is process-wide, so a check in another thread may at worst leave it in place.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(BytesIO(data), formats=_DECODERS) as header:  # reads the header, no pixels
                photo_format = _PILLOW_FORMATS[header.format]
                width, height = header.size
                if width * height > max_pixels:
                    raise ImageBomb(
                        f"{upload} is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} megapixels); "
                        f"a photo may have at most {max_pixels / 1e6:g} megapixels."
                    )
                header.verify()
            with Image.open(BytesIO(data), formats=_DECODERS) as image:
                image.load()
                orientation, taken_at, gps = _exif_facts(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageBomb(
                f"{upload} has far more than {max_pixels / 1e6:g} megapixels, the most a photo may have."
            ) from exc
        except UnidentifiedImageError as exc:  # an OSError, so caught before the damaged-image errors
            raise NotAnImage(f"{upload} is not a JPEG, PNG or WebP image.") from exc
        except _DAMAGED_IMAGE_ERRORS as exc:
            raise DamagedPhoto(
                f"{upload} is damaged or was cut off in transit ({exc}); send the photo again."
            ) from exc
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    return PhotoInfo(
        format=photo_format,
        mime_type=MIME_TYPES[photo_format],
        width=width,
        height=height,
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        taken_at=taken_at,
        gps=gps,
    )


def _exif_facts(image: Image.Image) -> tuple[object, datetime | None, tuple[float, float] | None]:
    """EXIF orientation, time taken and (lon, lat); all None when the EXIF is unreadable, because broken
    EXIF is no reason to refuse a good photo."""
    try:
        exif = image.getexif()
        return (
            exif.get(ExifTags.Base.Orientation),
            _taken_at(exif.get_ifd(ExifTags.IFD.Exif)),
            _gps(exif.get_ifd(ExifTags.IFD.GPSInfo)),
        )
    except _DAMAGED_IMAGE_ERRORS:
        return None, None, None


def _taken_at(exif_ifd: dict) -> datetime | None:
    """DateTimeOriginal ("2024:05:21 10:30:00") in the zone of OffsetTimeOriginal ("+08:00"), else China's."""
    raw = exif_ifd.get(ExifTags.Base.DateTimeOriginal)
    if not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:  # blank ("    :  :     ") or zeroed ("0000:00:00 00:00:00") when the clock was unset
        return None
    return local.replace(tzinfo=_exif_zone(exif_ifd.get(ExifTags.Base.OffsetTimeOriginal)))


def _exif_zone(raw: object) -> tzinfo:
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", raw.strip()) if isinstance(raw, str) else None
    if match is None:
        return CHINA_TIME
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    if hours > 14 or minutes > 59:
        return CHINA_TIME
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if sign == "-" else offset)


def _gps(gps_ifd: dict) -> tuple[float, float] | None:
    """(lon, lat) from GPSLongitude/GPSLatitude (degrees, minutes, seconds) and their N/S/E/W refs.

    None when either is missing or impossible, and for (0, 0), which phones write when they had no fix.
    """
    lat = _degrees(gps_ifd.get(ExifTags.GPS.GPSLatitude), gps_ifd.get(ExifTags.GPS.GPSLatitudeRef), "N", "S")
    lon = _degrees(gps_ifd.get(ExifTags.GPS.GPSLongitude), gps_ifd.get(ExifTags.GPS.GPSLongitudeRef), "E", "W")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None
    return lon, lat


def _degrees(dms: object, ref: object, positive: str, negative: str) -> float | None:
    if not isinstance(dms, tuple) or len(dms) != 3 or not isinstance(ref, str):
        return None
    ref = ref.strip().upper()
    if ref not in (positive, negative):
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(value):  # a rational with a zero denominator reads as NaN
        return None
    return -value if ref == negative else value


def exif_mismatch(
    info: PhotoInfo,
    *,
    finding_time: datetime,
    finding_lon: float,
    finding_lat: float,
    max_minutes: float = MAX_EXIF_MINUTES,
    max_metres: float = MAX_EXIF_METRES,
) -> list[str]:
    """Why the photo's EXIF time or position does not fit the finding, for a supervisor to weigh.

    Parameters
    ----------
    info
        The photo, from :func:`check_photo`.
    finding_time
        When the finding was recorded; without a zone it is taken as UTC, the zone the database keeps.
    finding_lon, finding_lat
        Where the finding was recorded, in CGCS2000 (EPSG:4490) degrees.
    max_minutes, max_metres
        How far apart the EXIF time and position may be. The distance is geodesic on GRS80.

    Returns
    -------
    list of str
        One sentence per mismatch; empty when the EXIF fits or the photo carries none.

    Examples
    --------
    >>> photo = PhotoInfo(format="jpeg", mime_type="image/jpeg", width=4000, height=3000, byte_size=2_481_152,
    ...                   sha256="0" * 64, taken_at=datetime(2024, 5, 21, 10, 30, tzinfo=CHINA_TIME),
    ...                   gps=(112.40, 29.37))
    >>> exif_mismatch(photo, finding_time=datetime(2024, 5, 21, 2, 45, tzinfo=UTC),
    ...               finding_lon=112.40, finding_lat=29.38)
    ['The photo was taken 1.1 km from where the finding was recorded (more than 500 m).']
    >>> exif_mismatch(photo, finding_time=datetime(2024, 5, 21, 2, 45, tzinfo=UTC),
    ...               finding_lon=112.40, finding_lat=29.3705)
    []
    """
    reasons = []
    if info.taken_at is not None:
        recorded = finding_time if finding_time.tzinfo is not None else finding_time.replace(tzinfo=UTC)
        minutes = (info.taken_at - recorded).total_seconds() / 60
        if abs(minutes) > max_minutes:
            reasons.append(
                f"The photo was taken {info.taken_at.astimezone(CHINA_TIME):%Y-%m-%d %H:%M} China time, "
                f"{_span(abs(minutes))} {'after' if minutes > 0 else 'before'} the finding was recorded "
                f"(more than {max_minutes:g} minutes apart)."
            )
    if info.gps is not None:
        _, _, metres = _GEOD.inv(info.gps[0], info.gps[1], finding_lon, finding_lat)
        if metres > max_metres:
            away = f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:,.1f} km"
            reasons.append(
                f"The photo was taken {away} from where the finding was recorded (more than {max_metres:g} m)."
            )
    return reasons


def _span(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    if hours == 0:
        return f"{rest} min"
    if hours < 48:
        return f"{hours} h {rest} min"
    return f"{hours / 24:.1f} days"


_KEY = re.compile(r"[0-9a-f]{64}\.(?:jpg|png|webp)")


class PhotoStore:
    """Photos on disk under ``root``, each at ``root/ab/cd/<sha256>.<ext>`` and named by its content.

    Content addressing makes storing idempotent (the same photo sent twice over a flaky network is kept
    once) and lets a key be trusted forever, since the bytes behind it cannot change. Object storage
    (S3, MinIO, OSS) can replace this class later behind the same ``put``, ``path``/``open`` methods.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def put(self, data: bytes, info: PhotoInfo) -> str:
        """Store the photo and return its key; a photo already stored is not written again."""
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise ValueError("the photo's bytes do not match its PhotoInfo")
        key = f"{info.sha256}.{info.extension}"
        target = self.path(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed over it, so a reader or a crash never sees half a photo.
        # The temporary name starts with a dot and so can never match a key.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key

    def path(self, key: str) -> Path:
        """Where the photo with this key lives; refuses anything but ``<sha256>.<jpg|png|webp>``."""
        if not _KEY.fullmatch(key):
            raise InvalidPhotoKey(f"{key!r} is not a photo key (a sha256 in hex and .jpg, .png or .webp).")
        return self.root / key[:2] / key[2:4] / key

    def open(self, key: str) -> BinaryIO:
        """The stored photo, opened for reading; the caller closes it."""
        try:
            return self.path(key).open("rb")
        except FileNotFoundError as exc:
            raise PhotoNotFound(f"There is no photo {key}.") from exc
