using System.Collections.Immutable;
using Fleet.Core.Geofences;
using Fleet.Core.Roads;

namespace Fleet.Core.Tests.Geofences;

/// <summary>Fences drawn in metres around Hohhot, so tests can say "10 m outside the east edge".</summary>
internal static class Shapes
{
    public static readonly LocalProjection Hohhot = new(new GeoPoint(40.84, 111.75));

    public static GeoPoint At(double x, double y) => Hohhot.ToGeo(new LocalPoint(x, y));

    public static ImmutableArray<GeoPoint> Ring(params (double X, double Y)[] points) => [.. points.Select(p => At(p.X, p.Y))];

    /// <summary>An axis-aligned rectangle, closed as WKB closes it (first point repeated).</summary>
    public static ImmutableArray<GeoPoint> Rectangle(double x0, double y0, double x1, double y1) =>
        Ring((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0));

    /// <summary>A regular polygon approximating a circle.</summary>
    public static ImmutableArray<GeoPoint> Circle(double cx, double cy, double radius, int vertices) =>
        [.. Enumerable.Range(0, vertices).Select(i => At(cx + (radius * Math.Cos(2 * Math.PI * i / vertices)), cy + (radius * Math.Sin(2 * Math.PI * i / vertices))))];

    public static Geofence Fence(long id, GeofenceKind kind, long owner, params GeoPolygon[] polygons) => new(id, kind, owner, [.. polygons]);

    public static Geofence Lot(long id, long department, ImmutableArray<GeoPoint> shell) =>
        Fence(id, GeofenceKind.DesignatedLot, department, new GeoPolygon(shell));

    /// <summary>Reference point-in-polygon by winding number, written independently of the crossing count under test.</summary>
    public static bool WindingContains(Geofence fence, double x, double y)
    {
        var inside = false;
        foreach (var polygon in fence.Polygons)
        {
            var inShell = Winding(polygon.Shell, x, y) != 0;
            var inHole = polygon.Holes.Any(h => Winding(h, x, y) != 0);
            inside |= inShell && !inHole;
        }

        return inside;
    }

    private static int Winding(ImmutableArray<GeoPoint> ring, double x, double y)
    {
        var winding = 0;
        for (var i = 0; i < ring.Length; i++)
        {
            var a = Hohhot.ToLocal(ring[i]);
            var b = Hohhot.ToLocal(ring[(i + 1) % ring.Length]);
            var side = ((b.X - a.X) * (y - a.Y)) - ((x - a.X) * (b.Y - a.Y));
            if (a.Y <= y && b.Y > y && side > 0)
            {
                winding++;
            }
            else if (a.Y > y && b.Y <= y && side < 0)
            {
                winding--;
            }
        }

        return winding;
    }
}
