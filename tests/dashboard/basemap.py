"""A small raster ``.pmtiles`` street basemap made for the tests: one plain PNG tile repeated
over Astana from zoom 0 to 13 (written with the ``pmtiles`` package)."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

#: Astana's extent (lon, lat).
WEST, SOUTH, EAST, NORTH = 71.2, 50.95, 71.75, 51.35


def png(width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (222, 230, 214)) -> bytes:
    """A plain PNG image of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def tile_range(zoom: int) -> tuple[range, range]:
    def x_of(lon: float) -> int:
        return int((lon + 180) / 360 * 2**zoom)

    def y_of(lat: float) -> int:
        rad = math.radians(lat)
        return int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * 2**zoom)

    return range(x_of(WEST), x_of(EAST) + 1), range(y_of(NORTH), y_of(SOUTH) + 1)


def make_basemap(path: Path, max_zoom: int = 13) -> Path:
    image = png()
    tiles = []
    for zoom in range(max_zoom + 1):
        xs, ys = tile_range(zoom)
        tiles.extend(zxy_to_tileid(zoom, x, y) for x in xs for y in ys)
    with write(str(path)) as writer:
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, image)
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_lon_e7": int(WEST * 1e7),
                "min_lat_e7": int(SOUTH * 1e7),
                "max_lon_e7": int(EAST * 1e7),
                "max_lat_e7": int(NORTH * 1e7),
                "center_zoom": 10,
            },
            {"name": "test basemap", "attribution": "made for the tests"},
        )
    return path
