"""Checking finding photos, reading their EXIF, and storing them by content; real images built in memory."""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import ExifTags, Image

from gridgov.findings.photos import (
    CHINA_TIME,
    DamagedPhoto,
    ImageBomb,
    InvalidPhotoKey,
    NotAnImage,
    PhotoInfo,
    PhotoNotFound,
    PhotoStore,
    PhotoTooLarge,
    check_photo,
    exif_mismatch,
    read_limited,
    read_limited_sync,
)

# A spot on a river bank in Nan County: 29°22'12" N, 112°24'00" E.
LON, LAT = 112.40, 29.37


def _exif(
    *,
    taken: str | None = None,
    offset: str | None = None,
    lat: tuple[str, tuple[float, float, float]] | None = None,
    lon: tuple[str, tuple[float, float, float]] | None = None,
    orientation: int | None = None,
) -> Image.Exif:
    """EXIF as a phone writes it: make and model, DateTimeOriginal in the Exif IFD, position in the GPS IFD
    (0x8825). Pillow writes no EXIF at all when the first IFD is empty, and no phone leaves it so."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "HUAWEI", "NOH-AN00"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
        exif_ifd[ExifTags.Base.DateTimeOriginal] = taken
        if offset is not None:
            exif_ifd[ExifTags.Base.OffsetTimeOriginal] = offset
    if lat is not None and lon is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = lat
        gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = lon
    return exif


def _image_bytes(fmt: str, *, size: tuple[int, int] = (64, 48), exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.effect_noise(size, 64).convert("RGB")
    image.save(buffer, fmt, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def _phone_jpeg(**exif) -> bytes:
    defaults = {"taken": "2024:05:21 10:30:00", "lat": ("N", (29.0, 22.0, 12.0)), "lon": ("E", (112.0, 24.0, 0.0))}
    return _image_bytes("JPEG", exif=_exif(**(defaults | exif)))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, pixels: bytes = b"") -> bytes:
    """A 1-bit greyscale PNG of any claimed size; ``pixels`` are the filtered rows, compressed here."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(pixels, 9))
        + _png_chunk(b"IEND", b"")
    )


def _info(*, taken_at: datetime | None = None, gps: tuple[float, float] | None = None) -> PhotoInfo:
    return PhotoInfo(format="jpeg", mime_type="image/jpeg", width=4000, height=3000, byte_size=2_000_000,
                     sha256="0" * 64, taken_at=taken_at, gps=gps)


def test_a_phone_jpeg_gives_its_format_size_hash_time_and_position():
    data = _phone_jpeg(offset="+08:00")
    info = check_photo(data, filename="IMG_20240521_103000.jpg")
    assert (info.format, info.mime_type, info.extension) == ("jpeg", "image/jpeg", "jpg")
    assert (info.width, info.height, info.byte_size) == (64, 48, len(data))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.taken_at == datetime(2024, 5, 21, 2, 30, tzinfo=UTC)
    assert info.taken_at.utcoffset() == timedelta(hours=8)
    assert info.gps == pytest.approx((LON, LAT), abs=1e-9)


def test_exif_time_without_an_offset_is_china_time_and_an_offset_is_honoured():
    assert check_photo(_phone_jpeg()).taken_at == datetime(2024, 5, 21, 10, 30, tzinfo=CHINA_TIME)
    assert check_photo(_phone_jpeg(offset="-03:30")).taken_at == datetime(
        2024, 5, 21, 10, 30, tzinfo=timezone(-timedelta(hours=3, minutes=30))
    )


def test_south_and_west_refs_give_negative_degrees():
    data = _phone_jpeg(lat=("S", (33.0, 52.0, 4.0)), lon=("W", (70.0, 30.0, 0.0)))
    assert check_photo(data).gps == pytest.approx((-70.5, -(33 + 52 / 60 + 4 / 3600)))


def test_gps_zero_zero_and_unset_clock_count_as_absent():
    info = check_photo(_phone_jpeg(taken="0000:00:00 00:00:00", lat=("N", (0.0, 0.0, 0.0)), lon=("E", (0.0, 0.0, 0.0))))
    assert (info.taken_at, info.gps) == (None, None)


def test_a_photo_without_exif_has_no_time_or_position():
    info = check_photo(_image_bytes("JPEG"))
    assert (info.taken_at, info.gps) == (None, None)


def test_width_and_height_follow_the_exif_orientation():
    info = check_photo(_image_bytes("JPEG", size=(64, 48), exif=_exif(orientation=6)))
    assert (info.width, info.height) == (48, 64)


@pytest.mark.parametrize(("pillow_format", "photo_format", "mime_type"), [
    ("PNG", "png", "image/png"),
    ("WEBP", "webp", "image/webp"),
])
def test_png_and_webp_are_accepted_by_content_whatever_their_name(pillow_format, photo_format, mime_type):
    data = _image_bytes(pillow_format, exif=_exif(taken="2024:05:21 10:30:00"))
    info = check_photo(data, filename="photo.jpg")
    assert (info.format, info.mime_type, info.extension) == (photo_format, mime_type, photo_format)
    assert info.taken_at == datetime(2024, 5, 21, 10, 30, tzinfo=CHINA_TIME)


def test_a_multi_picture_jpeg_from_a_phone_is_a_jpeg():
    buffer = io.BytesIO()
    frame = Image.new("RGB", (40, 30), "green")
    frame.save(buffer, "MPO", save_all=True, append_images=[frame])
    assert check_photo(buffer.getvalue()).format == "jpeg"


def test_a_text_file_named_jpg_is_not_an_image():
    with pytest.raises(NotAnImage, match="'notes.jpg' is not a JPEG, PNG or WebP image") as refused:
        check_photo("巡查记录：河岸有垃圾\n".encode(), filename="notes.jpg")
    assert refused.value.status == 415


def test_an_image_in_another_format_is_refused():
    with pytest.raises(NotAnImage, match="The upload is not"):
        check_photo(_image_bytes("GIF"))


def test_a_truncated_jpeg_is_refused_as_damaged():
    data = _image_bytes("JPEG", size=(256, 256))
    with pytest.raises(DamagedPhoto, match="send the photo again") as refused:
        check_photo(data[: len(data) // 2])
    assert refused.value.status == 422


def test_a_png_with_a_broken_checksum_is_refused_as_damaged():
    data = bytearray(_image_bytes("PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT chunk's data
    with pytest.raises(DamagedPhoto):
        check_photo(bytes(data))


def test_a_small_png_of_64_megapixels_is_refused_before_decoding():
    """A real, complete PNG: 8,000 x 8,000 black pixels compress to a few kilobytes."""
    row = b"\x00" * (1 + 8000 // 8)  # filter byte, then 1,000 bytes of 1-bit pixels
    data = _png(8000, 8000, row * 8000)
    assert len(data) < 20_000
    with pytest.raises(ImageBomb, match=r"8,000 x 8,000 pixels \(64 megapixels\); .* at most 50 megapixels") as bomb:
        check_photo(data)
    assert bomb.value.status == 422


@pytest.mark.parametrize("side", [8_000, 10_000, 30_000], ids=["our-limit", "pillow-warning", "pillow-error"])
def test_a_bomb_is_refused_from_its_header_alone(side):
    """The files hold no pixel data, so decoding them would fail as damaged: the refusal comes first.

    Pillow itself warns above about 89 MP and raises above twice that, both inside Image.open.
    """
    with pytest.raises(ImageBomb, match="50 megapixels"):
        check_photo(_png(side, side))


def test_the_pixel_limit_is_a_parameter():
    with pytest.raises(ImageBomb, match="at most 0.003 megapixels"):
        check_photo(_image_bytes("PNG", size=(64, 48)), max_pixels=3000)


def test_check_photo_refuses_more_bytes_than_the_limit():
    with pytest.raises(PhotoTooLarge, match=r"larger than 1 MB \(1,048,576 bytes\)") as refused:
        check_photo(b"\x00" * (1024 * 1024 + 1), max_bytes=1024 * 1024)
    assert refused.value.status == 413


def test_read_limited_stops_reading_as_soon_as_the_limit_is_passed():
    consumed = 0

    async def upload():
        nonlocal consumed
        for _ in range(1000):
            consumed += 1
            yield b"x" * 1024

    with pytest.raises(PhotoTooLarge, match=r"MB \(5,120 bytes\)"):
        asyncio.run(read_limited(upload(), max_bytes=5 * 1024))
    assert consumed == 6


def test_read_limited_returns_an_upload_of_exactly_the_limit():
    async def upload():
        yield b"ab"
        yield b"cd"

    assert asyncio.run(read_limited(upload(), max_bytes=4)) == b"abcd"


def test_read_limited_sync_reads_at_most_one_byte_past_the_limit():
    stream = io.BytesIO(b"x" * 1_000_000)
    with pytest.raises(PhotoTooLarge, match=r"\(100,000 bytes\)"):
        read_limited_sync(stream, max_bytes=100_000, chunk_size=4096)
    assert stream.tell() == 100_001


def test_read_limited_sync_returns_an_upload_within_the_limit():
    assert read_limited_sync(io.BytesIO(b"photo"), max_bytes=5, chunk_size=2) == b"photo"


def test_exif_that_fits_the_finding_gives_no_reasons():
    info = check_photo(_phone_jpeg())
    recorded = datetime(2024, 5, 21, 3, 15, tzinfo=UTC)  # 11:15 China time, 45 minutes after the photo
    assert exif_mismatch(info, finding_time=recorded, finding_lon=LON, finding_lat=LAT + 0.004) == []  # ~444 m


def test_exif_from_another_day_and_place_gives_both_reasons():
    info = check_photo(_phone_jpeg())
    reasons = exif_mismatch(info, finding_time=datetime(2024, 5, 22, 2, 30, tzinfo=UTC),
                            finding_lon=LON, finding_lat=LAT + 0.005)  # ~554 m north
    assert reasons == [
        "The photo was taken 2024-05-21 10:30 China time, 24 h 0 min before the finding was recorded "
        "(more than 120 minutes apart).",
        "The photo was taken 554 m from where the finding was recorded (more than 500 m).",
    ]


def test_a_naive_finding_time_is_utc_and_the_limits_are_parameters():
    info = _info(taken_at=datetime(2024, 5, 21, 10, 30, tzinfo=CHINA_TIME), gps=(LON, LAT))
    recorded = datetime(2024, 5, 21, 3, 0)  # UTC: 30 minutes after the photo
    assert exif_mismatch(info, finding_time=recorded, finding_lon=LON, finding_lat=LAT) == []
    reasons = exif_mismatch(info, finding_time=recorded, finding_lon=LON + 0.1, finding_lat=LAT,
                            max_minutes=10, max_metres=5_000)
    assert reasons == [
        "The photo was taken 2024-05-21 10:30 China time, 30 min before the finding was recorded "
        "(more than 10 minutes apart).",
        "The photo was taken 9.7 km from where the finding was recorded (more than 5000 m).",
    ]


def test_a_photo_without_exif_never_mismatches():
    assert exif_mismatch(_info(), finding_time=datetime(2000, 1, 1, tzinfo=UTC), finding_lon=0, finding_lat=0) == []


def test_the_store_keeps_a_photo_once_under_its_hash(tmp_path):
    data = _phone_jpeg()
    info = check_photo(data)
    store = PhotoStore(tmp_path)
    key = store.put(data, info)
    assert key == f"{info.sha256}.jpg"
    stored = tmp_path / info.sha256[:2] / info.sha256[2:4] / key
    assert store.path(key) == stored
    first_inode = stored.stat().st_ino
    assert store.put(data, info) == key
    assert stored.stat().st_ino == first_inode  # not written again: os.replace would bring a new inode
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == [stored]  # no temporary file left
    with store.open(key) as photo:
        assert photo.read() == data


def test_the_store_refuses_bytes_that_do_not_match_their_info(tmp_path):
    info = check_photo(_phone_jpeg())
    with pytest.raises(ValueError, match="do not match"):
        PhotoStore(tmp_path).put(b"something else", info)


@pytest.mark.parametrize("key", [
    "../../etc/passwd",
    "/etc/passwd",
    "ab/cd/" + "a" * 64 + ".jpg",
    "A" * 64 + ".jpg",
    "a" * 64 + ".exe",
    "a" * 64 + ".jpg\n",
    "a" * 63 + ".jpg",
    "..",
])
def test_the_store_refuses_keys_that_are_not_a_hash_and_extension(tmp_path, key):
    store = PhotoStore(tmp_path)
    with pytest.raises(InvalidPhotoKey) as refused:
        store.path(key)
    assert refused.value.status == 400
    with pytest.raises(InvalidPhotoKey):
        store.open(key)


def test_opening_a_photo_that_is_not_stored_is_not_found(tmp_path):
    with pytest.raises(PhotoNotFound) as missing:
        PhotoStore(tmp_path).open("a" * 64 + ".png")
    assert missing.value.status == 404
