"""Pure spatial code: no database, no web framework; shapely 2 arrays and GeoDataFrames in and out."""
