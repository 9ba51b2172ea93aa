using Fleet.Core.Geofences;
using static Fleet.Core.Tests.Geofences.Shapes;

namespace Fleet.Core.Tests.Geofences;

public sealed class CompiledFenceTests
{
    // A 100 m × 60 m lot with its south-west corner at the origin.
    private static readonly CompiledFence LotFence = new(Lot(1, 10, Rectangle(0, 0, 100, 60)));

    private static FenceLocation Locate(CompiledFence fence, double x, double y)
    {
        var p = At(x, y);
        return fence.Locate(p.Lat, p.Lon);
    }

    private static bool Contains(CompiledFence fence, double x, double y, bool wasInside, double hysteresis = 20)
    {
        var p = At(x, y);
        return fence.Contains(p.Lat, p.Lon, wasInside, hysteresis);
    }

    [Theory]
    [InlineData(50, 30)]
    [InlineData(1, 1)]
    [InlineData(99, 59)]
    public void A_point_well_within_the_lot_is_inside(double x, double y) =>
        Assert.Equal(FenceLocation.Inside, Locate(LotFence, x, y));

    [Theory]
    [InlineData(-1, 30)]
    [InlineData(101, 30)]
    [InlineData(50, -1)]
    [InlineData(50, 61)]
    [InlineData(500, 500)]
    public void A_point_beyond_any_edge_is_outside(double x, double y) =>
        Assert.Equal(FenceLocation.Outside, Locate(LotFence, x, y));

    [Fact]
    public void Points_on_edges_and_vertices_are_on_the_boundary_and_count_as_inside()
    {
        // Use the fence's own vertices, so the points lie exactly on the edges whatever the projection's rounding.
        var shell = LotFence.Fence.Polygons[0].Shell;
        for (var i = 0; i < 4; i++)
        {
            var a = shell[i];
            var b = shell[i + 1];
            Assert.Equal(FenceLocation.Boundary, LotFence.Locate(a.Lat, a.Lon));
            Assert.Equal(FenceLocation.Boundary, LotFence.Locate((a.Lat + b.Lat) / 2, (a.Lon + b.Lon) / 2));
            Assert.True(LotFence.Contains((a.Lat + b.Lat) / 2, (a.Lon + b.Lon) / 2, wasInside: false, 20));
        }
    }

    [Fact]
    public void Entering_needs_the_point_inside_but_leaving_needs_more_than_the_hysteresis()
    {
        // 10 m east of the east edge: out for a car that was out, still in for one that was in.
        Assert.False(Contains(LotFence, 110, 30, wasInside: false));
        Assert.True(Contains(LotFence, 110, 30, wasInside: true));

        // 19 m beyond a corner diagonally is about 19 m away: still in; 30 m beyond the edge is out.
        Assert.True(Contains(LotFence, 113.4, 73.4, wasInside: true));
        Assert.False(Contains(LotFence, 130, 30, wasInside: true));
        Assert.False(Contains(LotFence, 115, 75, wasInside: true));

        // Without hysteresis leaving is immediate.
        Assert.False(Contains(LotFence, 101, 30, wasInside: true, hysteresis: 0));
    }

    [Fact]
    public void Jitter_around_a_car_parked_on_the_boundary_never_flaps_it_out()
    {
        var random = new Random(7);
        var inside = Contains(LotFence, 100, 30, wasInside: false);
        Assert.True(inside);
        for (var i = 0; i < 1000; i++)
        {
            // GPS noise of up to ±15 m around a car parked on the east edge.
            inside = Contains(LotFence, 100 + ((random.NextDouble() * 30) - 15), 30 + ((random.NextDouble() * 30) - 15), inside);
            Assert.True(inside);
        }
    }

    [Fact]
    public void A_hole_is_outside_the_fence_and_its_edge_is_boundary()
    {
        var fence = new CompiledFence(Fence(2, GeofenceKind.DesignatedLot, 10, new GeoPolygon(Rectangle(0, 0, 100, 100), [Rectangle(40, 40, 60, 60)])));

        Assert.Equal(FenceLocation.Inside, Locate(fence, 20, 20));
        Assert.Equal(FenceLocation.Outside, Locate(fence, 50, 50));
        Assert.Equal(FenceLocation.Inside, Locate(fence, 65, 50));
        var holeCorner = fence.Fence.Polygons[0].Holes[0][0];
        Assert.Equal(FenceLocation.Boundary, fence.Locate(holeCorner.Lat, holeCorner.Lon));

        // 10 m into the hole from its edge is within the hysteresis for a car that was in the lot.
        Assert.True(Contains(fence, 50, 50, wasInside: true));
        Assert.False(Contains(fence, 50, 50, wasInside: false));
    }

    [Fact]
    public void Every_part_of_a_multipolygon_counts_and_the_gap_between_does_not()
    {
        var fence = new CompiledFence(Fence(3, GeofenceKind.DesignatedLot, 10, new GeoPolygon(Rectangle(0, 0, 50, 50)), new GeoPolygon(Rectangle(200, 0, 250, 50))));

        Assert.Equal(FenceLocation.Inside, Locate(fence, 25, 25));
        Assert.Equal(FenceLocation.Inside, Locate(fence, 225, 25));
        Assert.Equal(FenceLocation.Outside, Locate(fence, 125, 25));
    }

    [Fact]
    public void A_large_banded_polygon_agrees_with_a_winding_number_reference_everywhere()
    {
        // A 400-vertex star: concave, so every band holds edges of both kinds.
        var points = Enumerable.Range(0, 400).Select(i =>
        {
            var radius = i % 2 == 0 ? 300 : 120;
            var angle = 2 * Math.PI * i / 400;
            return (radius * Math.Cos(angle), radius * Math.Sin(angle));
        }).ToArray();
        var geofence = Lot(4, 10, Ring(points));
        var fence = new CompiledFence(geofence);
        Assert.Equal(400, fence.EdgeCount);

        var random = new Random(11);
        var insideCount = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var x = (random.NextDouble() * 700) - 350;
            var y = (random.NextDouble() * 700) - 350;
            var expected = WindingContains(geofence, x, y);
            var location = Locate(fence, x, y);
            if (location == FenceLocation.Boundary)
            {
                continue; // Random doubles land on an edge practically never; the reference has no boundary notion.
            }

            Assert.Equal(expected, location == FenceLocation.Inside);
            insideCount += expected ? 1 : 0;
        }

        Assert.InRange(insideCount, 1000, 19_000);
    }

    [Fact]
    public void A_staircase_of_axis_aligned_edges_agrees_with_the_reference_on_and_between_its_lines()
    {
        // 60 steps of 10 m: many edges share x or y with each other and with the test points, the degenerate cases
        // of both the crossing count and the per-cell reference segments.
        var points = new List<(double, double)> { (0, 0), (600, 0) };
        for (var i = 60; i > 0; i--)
        {
            points.Add((i * 10, (61 - i) * 10));
            points.Add(((i - 1) * 10, (61 - i) * 10));
        }

        var geofence = Lot(7, 10, Ring([.. points]));
        var fence = new CompiledFence(geofence);
        var boundary = 0;
        for (var x = -5.0; x <= 605; x += 2.5)
        {
            for (var y = -5.0; y <= 615; y += 2.5)
            {
                var location = Locate(fence, x, y);
                if (location == FenceLocation.Boundary)
                {
                    boundary++;
                    continue;
                }

                Assert.True(WindingContains(geofence, x, y) == (location == FenceLocation.Inside), $"({x}, {y}) is {location}");
            }
        }

        Assert.True(boundary > 100, $"only {boundary} points fell on the staircase's lines");
    }

    [Fact]
    public void Distance_to_the_boundary_is_measured_in_metres()
    {
        var p = At(130, 30);
        Assert.InRange(LotFence.DistanceToBoundary(p.Lat, p.Lon), 29.9, 30.1);
        var q = At(50, 30);
        Assert.InRange(LotFence.DistanceToBoundary(q.Lat, q.Lon), 29.9, 30.1);
    }

    [Fact]
    public void A_ring_with_fewer_than_three_distinct_points_is_refused() =>
        Assert.Throws<ArgumentException>(() => new CompiledFence(Lot(5, 10, Ring((0, 0), (10, 0), (10, 0), (0, 0)))));

    [Fact]
    public void Locating_and_hysteresis_allocate_nothing()
    {
        var big = new CompiledFence(Lot(6, 10, Circle(0, 0, 200, 300)));
        var p = At(150, 10);
        var q = At(210, 0);
        big.Contains(p.Lat, p.Lon, true, 20);
        big.Contains(q.Lat, q.Lon, true, 20);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var count = 0;
        for (var i = 0; i < 1000; i++)
        {
            count += big.Contains(p.Lat, p.Lon, false, 20) ? 1 : 0;
            count += big.Contains(q.Lat, q.Lon, true, 20) ? 1 : 0;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(2000, count);
    }
}
