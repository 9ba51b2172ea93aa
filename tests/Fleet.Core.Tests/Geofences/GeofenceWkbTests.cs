using System.Buffers.Binary;
using Fleet.Core.Geofences;

namespace Fleet.Core.Tests.Geofences;

public sealed class GeofenceWkbTests
{
    private static readonly (double Lon, double Lat)[] Square = [(111.0, 40.0), (111.1, 40.0), (111.1, 40.1), (111.0, 40.1), (111.0, 40.0)];
    private static readonly (double Lon, double Lat)[] Hole = [(111.04, 40.04), (111.06, 40.04), (111.06, 40.06), (111.04, 40.04)];

    /// <summary>Writes WKB by the OGC layout, independently of the reader.</summary>
    private static byte[] Wkb(bool littleEndian, uint type, uint? srid, params (double Lon, double Lat)[][][] polygons)
    {
        var bytes = new List<byte>();
        void U32(uint v)
        {
            var b = new byte[4];
            if (littleEndian) BinaryPrimitives.WriteUInt32LittleEndian(b, v); else BinaryPrimitives.WriteUInt32BigEndian(b, v);
            bytes.AddRange(b);
        }

        void F64(double v)
        {
            var b = new byte[8];
            if (littleEndian) BinaryPrimitives.WriteDoubleLittleEndian(b, v); else BinaryPrimitives.WriteDoubleBigEndian(b, v);
            bytes.AddRange(b);
        }

        void Polygon((double Lon, double Lat)[][] rings)
        {
            U32((uint)rings.Length);
            foreach (var ring in rings)
            {
                U32((uint)ring.Length);
                foreach (var (lon, lat) in ring)
                {
                    F64(lon);
                    F64(lat);
                }
            }
        }

        bytes.Add(littleEndian ? (byte)1 : (byte)0);
        U32(srid is null ? type : type | 0x2000_0000);
        if (srid is { } s)
        {
            U32(s);
        }

        if (type == 3)
        {
            Polygon(polygons[0]);
        }
        else
        {
            U32((uint)polygons.Length);
            foreach (var polygon in polygons)
            {
                bytes.Add(littleEndian ? (byte)1 : (byte)0);
                U32(3);
                Polygon(polygon);
            }
        }

        return [.. bytes];
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_multipolygon_reads_in_either_byte_order_with_lon_lat_order_kept(bool littleEndian)
    {
        var polygons = GeofenceWkb.ReadPolygons(Wkb(littleEndian, 6, null, [Square, Hole], [Square]));

        Assert.Equal(2, polygons.Length);
        Assert.Equal(5, polygons[0].Shell.Length);
        Assert.Equal(111.1, polygons[0].Shell[1].Lon);
        Assert.Equal(40.0, polygons[0].Shell[1].Lat);
        Assert.Single(polygons[0].Holes);
        Assert.Equal(40.06, polygons[0].Holes[0][2].Lat);
        Assert.Empty(polygons[1].Holes);
    }

    [Fact]
    public void A_plain_polygon_and_an_ewkb_with_srid_both_read()
    {
        Assert.Single(GeofenceWkb.ReadPolygons(Wkb(true, 3, null, [Square])));
        Assert.Single(GeofenceWkb.ReadPolygons(Wkb(true, 6, 4326, [Square])));
    }

    [Fact]
    public void Truncated_trailing_or_non_polygon_bytes_are_refused()
    {
        var good = Wkb(true, 6, null, [Square]);
        Assert.Throws<FormatException>(() => GeofenceWkb.ReadPolygons(good.AsSpan(0, good.Length - 3)));
        Assert.Throws<FormatException>(() => GeofenceWkb.ReadPolygons([.. good, 0]));
        Assert.Throws<FormatException>(() => GeofenceWkb.ReadPolygons(Wkb(true, 2, null, [Square])));
        Assert.Throws<FormatException>(() => GeofenceWkb.ReadPolygons([7, 6, 0, 0, 0]));

        // A ring count far beyond the data must not allocate for it.
        var huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(5), 0x7FFF_FFFF);
        Assert.Throws<FormatException>(() => GeofenceWkb.ReadPolygons(huge));
    }
}
