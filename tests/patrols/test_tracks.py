"""Patrol tracks: reading GPX and GeoJSON, metrics in metres, suspicious-track flags, hard rejections."""

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from gridgov.errors import InvalidDataset, InvalidParameter
from gridgov.geo.crs import transformer
from gridgov.patrols.track_files import read_track_file
from gridgov.patrols.tracks import (
    Fixes,
    FlagKind,
    TrackFlag,
    TrackTooLarge,
    flag_track,
    metric_xy,
    track_metrics,
    validate_fixes,
)

METRIC_EPSG = 4546
ORIGIN_XY = transformer(4490, METRIC_EPSG).transform(112.40, 29.37)
"""A point in Nan County, in EPSG:4546 metres; tracks are built as offsets from it."""

T0 = np.datetime64("2024-05-01T00:00:00", "ms")
NOW = datetime(2024, 5, 1, 1, 0, tzinfo=timezone.utc)
GRID = shapely.box(ORIGIN_XY[0] - 2_000, ORIGIN_XY[1] - 2_000, ORIGIN_XY[0] + 2_000, ORIGIN_XY[1] + 2_000)
"""The officer's grid in EPSG:4546: a 4 km square centred on the origin."""


def track(east_m, seconds, *, north_m=None, accuracy_m=None) -> Fixes:
    """Fixes at metric offsets from the origin, converted to EPSG:4490, at seconds after T0."""
    east_m = np.asarray(east_m, dtype=float)
    north_m = np.zeros_like(east_m) if north_m is None else np.asarray(north_m, dtype=float)
    lon, lat = transformer(METRIC_EPSG, 4490).transform(ORIGIN_XY[0] + east_m, ORIGIN_XY[1] + north_m)
    t = T0 + (np.asarray(seconds) * 1000).astype("timedelta64[ms]")
    return Fixes.from_arrays(lon, lat, t, accuracy_m=accuracy_m)


def clean_track() -> Fixes:
    """Four fixes 100 m apart, a minute apart: a walk at 6 km/h inside the grid."""
    return track([0, 100, 200, 300], [0, 60, 120, 180])


def flags_of(fixes: Fixes, **kwargs) -> list[TrackFlag]:
    return flag_track(fixes, grid_metric_geometry=GRID, metric_epsg=METRIC_EPSG, now=NOW, **kwargs)


def of_kind(flags: list[TrackFlag], kind: FlagKind) -> list[TrackFlag]:
    return [flag for flag in flags if flag.kind == kind]


GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>巡查</name><trkseg>
    <trkpt lat="29.370" lon="112.400"><time>2024-05-01T08:00:00Z</time></trkpt>
    <trkpt lat="29.371" lon="112.400"><time>2024-05-01T16:01:00+08:00</time></trkpt>
    <trkpt lat="29.372" lon="112.401"><time>2024-05-01T08:02:30.5Z</time></trkpt>
  </trkseg></trk>
</gpx>
"""


def point_feature(lon, lat, **properties) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def geojson_bytes(doc: dict) -> bytes:
    return json.dumps(doc).encode()


# Fixes


def test_fixes_from_rows_reads_offsets_and_unknowns():
    fixes = Fixes.from_rows([
        {"lon": 112.4, "lat": 29.37, "time": "2024-05-01T08:00:00Z", "accuracy_m": 5, "speed_mps": 1.2},
        {"lon": 112.4, "lat": 29.38, "time": "2024-05-01T16:00:01.250+08:00"},
        SimpleNamespace(lon=112.5, lat=29.39, time=datetime(2024, 5, 1, 8, 0, 2, tzinfo=timezone.utc),
                        accuracy_m=None, speed_mps=None),
    ])
    assert len(fixes) == 3
    assert fixes.t.dtype == np.dtype("datetime64[ms]")
    assert fixes.t.tolist() == [
        datetime(2024, 5, 1, 8, 0, 0), datetime(2024, 5, 1, 8, 0, 1, 250_000), datetime(2024, 5, 1, 8, 0, 2),
    ]
    np.testing.assert_array_equal(fixes.accuracy_m, [5.0, np.nan, np.nan])
    np.testing.assert_array_equal(fixes.speed_mps, [1.2, np.nan, np.nan])


def test_fixes_arrays_are_read_only_copies():
    lon = np.array([112.4, 112.5])
    fixes = Fixes.from_arrays(lon, [29.37, 29.38], [0, 1_000])
    lon[0] = 0.0
    assert fixes.lon[0] == 112.4
    with pytest.raises(ValueError):
        fixes.lon[0] = 1.0


def test_integer_times_are_epoch_milliseconds():
    fixes = Fixes.from_arrays([112.4], [29.37], [1_714_550_400_000])
    assert fixes.t[0] == np.datetime64("2024-05-01T08:00:00", "ms")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"lon": 112.4, "lat": 29.37}, r"fix 1 \(112\.400000, 29\.370000\) has no time"),
        ({"lon": 112.4, "lat": 29.37, "time": "2024-05-01T08:00:00"}, "without a UTC offset"),
        ({"lon": 112.4, "lat": 29.37, "time": "yesterday"}, "'yesterday', which is not an ISO 8601"),
        ({"lon": "112.4", "lat": 29.37, "time": "2024-05-01T08:00:00Z"}, "fix 1 has lon '112.4', which is not a"),
        ({"lon": 112.4, "time": "2024-05-01T08:00:00Z"}, "fix 1 has no lat"),
        ({"lon": float("nan"), "lat": 29.37, "time": "2024-05-01T08:00:00Z"}, "not a finite number"),
    ],
)
def test_fixes_from_rows_names_the_bad_fix(row, message):
    good = {"lon": 112.4, "lat": 29.37, "time": "2024-05-01T08:00:00Z"}
    with pytest.raises(InvalidDataset, match=message):
        Fixes.from_rows([good, row])


def test_sorted_by_time_is_stable():
    fixes = Fixes.from_arrays([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [2_000, 1_000, 2_000, 0])
    assert fixes.sorted_by_time().lon.tolist() == [4.0, 2.0, 1.0, 3.0]


# Metrics


def test_metrics_of_points_100_m_apart():
    metrics = track_metrics(clean_track(), metric_epsg=METRIC_EPSG)
    assert metrics.fix_count == 4
    assert metrics.duration_s == 180.0
    assert metrics.length_m == pytest.approx(300.0, abs=0.01)


def test_metrics_follow_time_order_not_received_order():
    received = track([0, 200, 100, 300], [0, 120, 60, 180])
    assert track_metrics(received, metric_epsg=METRIC_EPSG).length_m == pytest.approx(300.0, abs=0.01)


def test_metrics_of_a_diagonal_are_euclidean_in_metres():
    fixes = track([0, 300], [0, 60], north_m=[0, 400])
    assert track_metrics(fixes, metric_epsg=METRIC_EPSG).length_m == pytest.approx(500.0, abs=0.01)


def test_metrics_of_one_fix_are_zero():
    metrics = track_metrics(track([0], [0]), metric_epsg=METRIC_EPSG)
    assert (metrics.fix_count, metrics.duration_s, metrics.length_m) == (1, 0.0, 0.0)


def test_metric_xy_returns_the_projected_track():
    xy = metric_xy(clean_track(), METRIC_EPSG)
    assert xy.shape == (4, 2)
    np.testing.assert_allclose(xy[:, 0] - ORIGIN_XY[0], [0, 100, 200, 300], atol=1e-6)
    np.testing.assert_allclose(xy[:, 1], ORIGIN_XY[1], atol=1e-6)


# Flags


def test_clean_track_has_no_flags():
    assert flags_of(clean_track(), started_at=NOW - timedelta(minutes=30), ended_at=NOW) == []


def test_speed_jump():
    fixes = track([0, 100, 1_100, 1_200], [0, 60, 70, 130])
    assert flags_of(fixes) == [
        TrackFlag(
            FlagKind.SPEED_JUMP, 2,
            "fix 2 is 1,000 m from fix 1 and 10 s later: 360 km/h after allowing for GPS accuracy, "
            "above the 120 km/h limit",
        )
    ]


def test_speed_within_gps_accuracy_is_not_a_jump():
    fixes = track([0, 100], [0, 1], accuracy_m=[60.0, 60.0])
    assert flags_of(fixes) == []
    assert of_kind(flags_of(track([0, 100], [0, 1])), FlagKind.SPEED_JUMP)


def test_two_places_at_the_same_time_is_a_speed_jump():
    [flag] = flags_of(track([0, 50], [0, 0]))
    assert flag.kind == FlagKind.SPEED_JUMP
    assert flag.message == "fix 1 is 50 m from fix 0 at the same time, 2024-05-01T00:00:00Z"


def test_far_outside_grid_flags_each_stretch_once():
    # The grid ends 2,000 m east of the origin; fixes 2 and 3 are 600 m and 700 m beyond it.
    fixes = track([0, 100, 2_600, 2_700, 200, 2_400], [0, 600, 1_200, 1_800, 2_400, 3_000])
    assert flags_of(fixes) == [
        TrackFlag(
            FlagKind.FAR_OUTSIDE_GRID, 2,
            "2 fixes from fix 2 to fix 3 are up to 700 m (fix 3) outside the grid, beyond the 500 m allowed",
        )
    ]


def test_far_outside_threshold_is_configurable():
    fixes = track([0, 2_400], [0, 600])
    [flag] = flags_of(fixes, max_outside_m=300.0)
    assert flag == TrackFlag(
        FlagKind.FAR_OUTSIDE_GRID, 1, "fix 1 is 400 m outside the grid, beyond the 300 m allowed"
    )


def test_stuck_position_is_a_repeated_fix():
    fixes = track([0, 100, 100, 100, 100, 100, 200], [0, 60, 120, 180, 240, 300, 360])
    [flag] = flags_of(fixes)
    assert flag.kind == FlagKind.REPEATED_FIXES
    assert flag.index == 1
    assert flag.message.startswith("5 consecutive fixes from fix 1 to fix 5 report the identical position 112.4")
    assert "over 4.0 min" in flag.message


def test_four_fixes_at_one_position_are_not_stuck():
    assert flags_of(track([0, 100, 100, 100, 100, 200], [0, 60, 120, 180, 240, 300])) == []


def test_exact_copies_are_repeated_fixes():
    fixes = track([0, 100, 200, 300, 100, 300], [0, 60, 120, 180, 60, 180])
    [flag] = of_kind(flags_of(fixes), FlagKind.REPEATED_FIXES)
    assert flag == TrackFlag(
        FlagKind.REPEATED_FIXES, 4,
        "2 fixes repeat an earlier fix exactly (same position and time); the first is fix 4, a copy of fix 1",
    )


def test_out_of_order():
    received = track([0, 200, 100, 300], [0, 120, 60, 180])
    assert flags_of(received) == [
        TrackFlag(
            FlagKind.OUT_OF_ORDER, 2,
            "fix 2 is dated 2024-05-01T00:01:00Z, earlier than fix 1 received before it (2024-05-01T00:02:00Z)",
        )
    ]


def test_future_time_beyond_the_tolerance():
    hour = 3_600
    fixes = track([0, 100, 200], [hour - 120, hour + 4 * 60, hour + 10 * 60])
    assert flags_of(fixes) == [
        TrackFlag(
            FlagKind.FUTURE_TIME, 2,
            "1 fix is dated after now (2024-05-01T01:00:00Z) plus 5 min; the first is fix 2 at 2024-05-01T01:10:00Z",
        )
    ]


def test_ends_before_start():
    [flag] = flags_of(clean_track(), started_at=NOW, ended_at=NOW - timedelta(minutes=1))
    assert flag == TrackFlag(
        FlagKind.ENDS_BEFORE_START, None,
        "the patrol claims to end at 2024-05-01T00:59:00Z, before it started at 2024-05-01T01:00:00Z",
    )
    assert flags_of(clean_track(), started_at=NOW, ended_at=NOW) == []


def test_flag_kinds_are_strings():
    assert FlagKind.SPEED_JUMP == "speed_jump"
    assert {kind.value for kind in FlagKind} == {
        "speed_jump", "far_outside_grid", "repeated_fixes", "out_of_order", "future_time", "ends_before_start",
    }


# Hard rejections


def test_valid_track_passes():
    validate_fixes(clean_track(), max_fixes=4, county_bbox=(112.0, 29.0, 113.0, 30.0))


def test_one_point_track_is_rejected():
    with pytest.raises(InvalidDataset, match="a track needs at least 2 fixes; this one has 1") as info:
        validate_fixes(track([0], [0]), max_fixes=100)
    assert info.value.status == 422


def test_too_many_fixes_is_413():
    with pytest.raises(TrackTooLarge, match="the track has 4 fixes; the limit is 3 fixes per track") as info:
        validate_fixes(clean_track(), max_fixes=3)
    assert info.value.status == 413
    assert info.value.to_dict()["code"] == "track_too_large"


def test_coordinates_out_of_range_are_rejected():
    fixes = Fixes.from_arrays([112.4, 112.4, 200.0], [29.37, 95.0, 29.37], [0, 1_000, 2_000])
    with pytest.raises(InvalidDataset, match=r"2 fixes are out of range .* the first is fix 1 at lon 112.4, lat 95.0"):
        validate_fixes(fixes, max_fixes=100)


def test_fixes_outside_the_county_are_rejected():
    in_beijing = Fixes.from_arrays([112.4, 116.4], [29.37, 39.9], [0, 1_000])
    with pytest.raises(InvalidDataset, match=r"1 fix is outside the county .* fix 1 at lon 116.400000, lat 39.900000"):
        validate_fixes(in_beijing, max_fixes=100, county_bbox=(112.0, 29.0, 113.0, 30.0))


def test_swapped_coordinates_are_out_of_range():
    swapped = Fixes.from_arrays([29.37, 29.38], [112.4, 112.4], [0, 1_000])
    with pytest.raises(InvalidDataset, match="2 fixes are out of range .* Are lon and lat swapped"):
        validate_fixes(swapped, max_fixes=100)


# GPX


@pytest.mark.parametrize("as_path", [False, True])
def test_read_gpx(tmp_path, as_path):
    source = tmp_path / "patrol.gpx"
    source.write_text(GPX, encoding="utf-8")
    fixes = read_track_file(source if as_path else GPX.encode(), filename="patrol.gpx")
    np.testing.assert_array_equal(fixes.lon, [112.4, 112.4, 112.401])
    np.testing.assert_array_equal(fixes.lat, [29.37, 29.371, 29.372])
    assert fixes.t.tolist() == [
        datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 1, 8, 1), datetime(2024, 5, 1, 8, 2, 30, 500_000),
    ]
    assert np.isnan(fixes.accuracy_m).all()


def test_gpx_without_offset_is_utc_and_gpx_10_speed_is_kept():
    gpx = b"""<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0"><trk><trkseg>
      <trkpt lat="29.37" lon="112.4"><time>2024-05-01T08:00:00</time><speed>1.5</speed></trkpt>
      <trkpt lat="29.38" lon="112.4"><time>2024-05-01T08:05:00</time></trkpt>
    </trkseg></trk></gpx>"""
    fixes = read_track_file(gpx, filename="old.GPX")
    assert fixes.t[0] == np.datetime64("2024-05-01T08:00:00", "ms")
    np.testing.assert_array_equal(fixes.speed_mps, [1.5, np.nan])


def test_gpx_route_points_when_there_is_no_track():
    gpx = b"""<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><rte>
      <rtept lat="29.37" lon="112.4"><time>2024-05-01T08:00:00Z</time></rtept>
      <rtept lat="29.38" lon="112.4"><time>2024-05-01T08:05:00Z</time></rtept>
    </rte></gpx>"""
    assert len(read_track_file(gpx, filename="route.gpx")) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not XML", "patrol.gpx is not a readable GPX file: not recognized as being in a supported"),
        (GPX[: GPX.index("<trkpt lat=\"29.371\"") + 10].encode(), "patrol.gpx is not a readable GPX file: XML parsing"),
        (b'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"></gpx>', "patrol.gpx holds no track points"),
        (
            GPX.replace("<time>2024-05-01T16:01:00+08:00</time>", "").encode(),
            r"patrol.gpx: track point 1 \(112.400000, 29.371000\) has no time",
        ),
    ],
    ids=["not-xml", "truncated", "no-trkpt", "trkpt-without-time"],
)
def test_malformed_gpx(content, message):
    with pytest.raises(InvalidDataset, match=message) as info:
        read_track_file(content, filename="patrol.gpx")
    assert info.value.status == 422


def test_unknown_file_type():
    with pytest.raises(InvalidParameter, match="patrol.kml: unsupported track file type"):
        read_track_file(b"<kml/>", filename="patrol.kml")


# GeoJSON


def test_read_geojson_points(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            point_feature(112.40, 29.37, time="2024-05-01T08:00:00Z", accuracy_m=4.5),
            point_feature(112.40, 29.371, time="2024-05-01T16:01:00+08:00", speed_mps=1.2),
            point_feature(112.401, 29.372, time="2024-05-01T08:02:00Z"),
        ],
    }
    source = tmp_path / "patrol.geojson"
    source.write_bytes(geojson_bytes(doc))
    fixes = read_track_file(source, filename=source.name)
    np.testing.assert_array_equal(fixes.lon, [112.4, 112.4, 112.401])
    assert fixes.t.tolist() == [datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 1, 8, 1), datetime(2024, 5, 1, 8, 2)]
    np.testing.assert_array_equal(fixes.accuracy_m, [4.5, np.nan, np.nan])
    np.testing.assert_array_equal(fixes.speed_mps, [np.nan, 1.2, np.nan])


@pytest.mark.parametrize("times_at", ["coordinateProperties", "properties"])
def test_read_geojson_linestring_with_times(times_at):
    times = ["2024-05-01T08:00:00Z", "2024-05-01T08:01:00Z"]
    properties = {"coordinateProperties": {"times": times}} if times_at == "coordinateProperties" else {"times": times}
    doc = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[112.40, 29.37, 31.0], [112.40, 29.371, 32.0]]},
        "properties": properties,
    }
    fixes = read_track_file(geojson_bytes(doc), filename="line.json")
    np.testing.assert_array_equal(fixes.lat, [29.37, 29.371])
    assert fixes.t[1] - fixes.t[0] == np.timedelta64(60, "s")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"type": "FeatureCollection", "features": [point_feature(112.4, 29.37, time="2024-05-01T08:00:00Z"),
                                                       point_feature(112.4, 29.371)]},
            r"patrol.geojson: feature 1 \(112.400000, 29.371000\) has no time",
        ),
        (
            {"type": "FeatureCollection", "features": [point_feature(112.4, 29.37, time="1 May")]},
            "feature 0 .* has time '1 May', which is not an ISO 8601",
        ),
        (
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": []}}]},
            "patrol.geojson: feature 0 is a Polygon; a track is Point features",
        ),
        (
            {"type": "Feature", "properties": {"times": ["2024-05-01T08:00:00Z"]},
             "geometry": {"type": "LineString", "coordinates": [[112.4, 29.37], [112.4, 29.38]]}},
            "the LineString has 2 coordinates but 1 times",
        ),
        (
            {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4546"}},
             "features": [point_feature(612_000, 3_250_000, time="2024-05-01T08:00:00Z")]},
            "patrol.geojson is in urn:ogc:def:crs:EPSG::4546; export the track in WGS84",
        ),
        ({"type": "FeatureCollection", "features": []}, "patrol.geojson holds no features"),
        ({"type": "Point", "coordinates": [112.4, 29.37]}, "must be a GeoJSON FeatureCollection or Feature, not Point"),
    ],
    ids=["no-time", "bad-time", "polygon", "times-mismatch", "projected-crs", "empty", "bare-geometry"],
)
def test_malformed_geojson(doc, message):
    with pytest.raises(InvalidDataset, match=message):
        read_track_file(geojson_bytes(doc), filename="patrol.geojson")


def test_geojson_that_is_not_json():
    with pytest.raises(InvalidDataset, match="patrol.geojson is not valid JSON: .* at line 1, column 1"):
        read_track_file(b"<gpx/>", filename="patrol.geojson")
