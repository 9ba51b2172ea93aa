using System.Buffers.Binary;
using System.Collections.Immutable;
using Fleet.Core.Roads;

namespace Fleet.Core.Geofences;

/// <summary>
/// Reads the polygons of a WKB (or PostGIS EWKB) Polygon or MultiPolygon, as <c>ST_AsBinary</c> returns them, so the
/// loader needs no geometry library. Only 2D is accepted: the registry's columns are <c>geometry(MultiPolygon, 4326)</c>.
/// </summary>
public static class GeofenceWkb
{
    private const uint Polygon = 3;
    private const uint MultiPolygon = 6;
    private const uint EwkbSridFlag = 0x2000_0000;
    private const uint EwkbDimensionFlags = 0xC000_0000;

    /// <exception cref="FormatException">The bytes are not a 2D polygon or multipolygon.</exception>
    public static ImmutableArray<GeoPolygon> ReadPolygons(ReadOnlySpan<byte> wkb)
    {
        var offset = 0;
        var type = ReadHeader(wkb, ref offset, out var littleEndian);
        if (type == Polygon)
        {
            var polygon = ReadPolygonBody(wkb, ref offset, littleEndian);
            EnsureEnd(wkb, offset);
            return [polygon];
        }

        if (type != MultiPolygon)
        {
            throw new FormatException($"WKB geometry type {type} is not a polygon or multipolygon.");
        }

        var count = ReadCount(wkb, ref offset, littleEndian);
        var polygons = ImmutableArray.CreateBuilder<GeoPolygon>(count);
        for (var i = 0; i < count; i++)
        {
            var partType = ReadHeader(wkb, ref offset, out var partLittleEndian);
            if (partType != Polygon)
            {
                throw new FormatException($"A multipolygon part has WKB type {partType}.");
            }

            polygons.Add(ReadPolygonBody(wkb, ref offset, partLittleEndian));
        }

        EnsureEnd(wkb, offset);
        return polygons.MoveToImmutable();
    }

    private static uint ReadHeader(ReadOnlySpan<byte> wkb, ref int offset, out bool littleEndian)
    {
        Need(wkb, offset, 5);
        littleEndian = wkb[offset] switch
        {
            0 => false,
            1 => true,
            var b => throw new FormatException($"WKB byte order {b} is neither 0 nor 1."),
        };
        offset++;
        var type = ReadUInt32(wkb, ref offset, littleEndian);
        var hasSrid = (type & EwkbSridFlag) != 0;
        type &= ~EwkbSridFlag;
        if ((type & EwkbDimensionFlags) != 0 || type >= 1000)
        {
            throw new FormatException("Only 2D WKB geometries are accepted.");
        }

        if (hasSrid)
        {
            ReadUInt32(wkb, ref offset, littleEndian);
        }

        return type;
    }

    private static GeoPolygon ReadPolygonBody(ReadOnlySpan<byte> wkb, ref int offset, bool littleEndian)
    {
        var ringCount = ReadCount(wkb, ref offset, littleEndian);
        if (ringCount == 0)
        {
            throw new FormatException("An empty polygon cannot be a fence.");
        }

        var shell = ReadRing(wkb, ref offset, littleEndian);
        var holes = ImmutableArray.CreateBuilder<ImmutableArray<GeoPoint>>(ringCount - 1);
        for (var r = 1; r < ringCount; r++)
        {
            holes.Add(ReadRing(wkb, ref offset, littleEndian));
        }

        return new GeoPolygon(shell, holes.MoveToImmutable());
    }

    private static ImmutableArray<GeoPoint> ReadRing(ReadOnlySpan<byte> wkb, ref int offset, bool littleEndian)
    {
        var count = ReadCount(wkb, ref offset, littleEndian);
        Need(wkb, offset, count * 16L);
        var points = ImmutableArray.CreateBuilder<GeoPoint>(count);
        for (var i = 0; i < count; i++)
        {
            var lon = ReadDouble(wkb, ref offset, littleEndian);
            var lat = ReadDouble(wkb, ref offset, littleEndian);
            points.Add(new GeoPoint(lat, lon));
        }

        return points.MoveToImmutable();
    }

    private static int ReadCount(ReadOnlySpan<byte> wkb, ref int offset, bool littleEndian)
    {
        var count = ReadUInt32(wkb, ref offset, littleEndian);
        // Every element takes at least 4 bytes, so a larger count is corrupt (and would over-allocate).
        return count <= (uint)(wkb.Length - offset) / 4 ? (int)count : throw new FormatException($"WKB count {count} exceeds the data.");
    }

    private static uint ReadUInt32(ReadOnlySpan<byte> wkb, ref int offset, bool littleEndian)
    {
        Need(wkb, offset, 4);
        var span = wkb.Slice(offset, 4);
        offset += 4;
        return littleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(span) : BinaryPrimitives.ReadUInt32BigEndian(span);
    }

    private static double ReadDouble(ReadOnlySpan<byte> wkb, ref int offset, bool littleEndian)
    {
        var span = wkb.Slice(offset, 8);
        offset += 8;
        return littleEndian ? BinaryPrimitives.ReadDoubleLittleEndian(span) : BinaryPrimitives.ReadDoubleBigEndian(span);
    }

    private static void Need(ReadOnlySpan<byte> wkb, int offset, long bytes)
    {
        if (wkb.Length - offset < bytes)
        {
            throw new FormatException("The WKB ends early.");
        }
    }

    private static void EnsureEnd(ReadOnlySpan<byte> wkb, int offset)
    {
        if (offset != wkb.Length)
        {
            throw new FormatException("Bytes follow the WKB geometry.");
        }
    }
}
