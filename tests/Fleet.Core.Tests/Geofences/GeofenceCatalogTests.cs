using Fleet.Core.Geofences;
using static Fleet.Core.Tests.Geofences.Shapes;

namespace Fleet.Core.Tests.Geofences;

public sealed class GeofenceCatalogTests
{
    // Department 10 has a main lot and an overflow lot; department 20 one lot; department 30 none.
    private static readonly GeofenceCatalog Catalog = new(
        [
            Lot(1, 10, Rectangle(0, 0, 100, 100)),
            Lot(2, 10, Rectangle(1000, 0, 1100, 100)),
            Lot(3, 20, Rectangle(500, 500, 600, 600)),
            Fence(4, GeofenceKind.ForbiddenZone, 4, new GeoPolygon(Rectangle(0, 0, 300, 300))),
            Fence(5, GeofenceKind.ForbiddenZone, 5, new GeoPolygon(Rectangle(50, 50, 150, 150))),
            Fence(6, GeofenceKind.OfficeZone, 6, new GeoPolygon(Rectangle(0, 0, 2000, 2000))),
        ],
        new Dictionary<long, long> { [100] = 10, [200] = 20, [300] = 30 });

    private static bool? InLot(long vehicle, double x, double y, bool? was = null)
    {
        var p = At(x, y);
        return Catalog.IsInDesignatedLot(vehicle, p.Lat, p.Lon, was);
    }

    [Fact]
    public void A_vehicle_is_in_its_lot_when_inside_any_of_its_departments_lots()
    {
        Assert.True(InLot(100, 50, 50));
        Assert.True(InLot(100, 1050, 50));
        Assert.False(InLot(100, 550, 550));
    }

    [Fact]
    public void Another_departments_lot_does_not_count()
    {
        Assert.True(InLot(200, 550, 550));
        Assert.False(InLot(200, 50, 50));
    }

    [Fact]
    public void Unknown_vehicles_and_departments_without_a_lot_have_no_answer()
    {
        Assert.Null(InLot(300, 50, 50));
        Assert.Null(InLot(999, 50, 50));
        Assert.Null(GeofenceCatalog.Empty.IsInDesignatedLot(100, 40.84, 111.75, true));
    }

    [Fact]
    public void Leaving_the_lot_takes_more_than_the_hysteresis()
    {
        Assert.False(InLot(100, 110, 50, was: false));
        Assert.True(InLot(100, 110, 50, was: true));
        Assert.False(InLot(100, 125, 50, was: true));
    }

    [Fact]
    public void FindInside_lists_the_zones_of_a_kind_that_hold_the_point_with_hysteresis()
    {
        Span<int> inside = stackalloc int[8];
        var p = At(100, 100);
        var n = Catalog.FindInside(p.Lat, p.Lon, GeofenceKind.ForbiddenZone, [], inside);
        Assert.Equal([3, 4], inside[..n].ToArray().Order());

        // 10 m outside zone 4 (index 3): kept only for a vehicle that was in it.
        var q = At(310, 100);
        Assert.Equal(0, Catalog.FindInside(q.Lat, q.Lon, GeofenceKind.ForbiddenZone, [], inside));
        n = Catalog.FindInside(q.Lat, q.Lon, GeofenceKind.ForbiddenZone, [3, 4], inside);
        Assert.Equal([3], inside[..n].ToArray());

        n = Catalog.FindInside(q.Lat, q.Lon, GeofenceKind.OfficeZone, [], inside);
        Assert.Equal([5], inside[..n].ToArray());
    }

    [Fact]
    public void FindInside_stops_when_the_span_is_full()
    {
        Span<int> one = stackalloc int[1];
        var p = At(100, 100);
        Assert.Equal(1, Catalog.FindInside(p.Lat, p.Lon, GeofenceKind.ForbiddenZone, [], one));
        Assert.Equal(0, Catalog.FindInside(p.Lat, p.Lon, GeofenceKind.ForbiddenZone, [], []));
    }

    [Fact]
    public void Per_fix_questions_allocate_nothing()
    {
        var p = At(100, 100);
        Span<int> inside = stackalloc int[8];
        Catalog.IsInDesignatedLot(100, p.Lat, p.Lon, true);
        Catalog.FindInside(p.Lat, p.Lon, GeofenceKind.ForbiddenZone, [3], inside);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = 0;
        for (var i = 0; i < 1000; i++)
        {
            found += Catalog.IsInDesignatedLot(100, p.Lat, p.Lon, true) == true ? 1 : 0;
            found += Catalog.FindInside(p.Lat, p.Lon, GeofenceKind.ForbiddenZone, [3], inside);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(3000, found);
    }
}
