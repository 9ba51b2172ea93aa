using Fleet.Core.Geofences;
using static Fleet.Core.Tests.Geofences.Shapes;

namespace Fleet.Core.Tests.Geofences;

public sealed class GeofenceIndexTests
{
    /// <summary>Random small polygons (triangles to 40-gons, some with holes) scattered over a 20 km square.</summary>
    private static List<CompiledFence> RandomFences(int count, int seed)
    {
        var random = new Random(seed);
        var fences = new List<CompiledFence>(count);
        for (var i = 0; i < count; i++)
        {
            var cx = (random.NextDouble() * 20_000) - 10_000;
            var cy = (random.NextDouble() * 20_000) - 10_000;
            var radius = 20 + (random.NextDouble() * 400);
            var vertices = random.Next(3, 41);
            var shell = Ring([.. Enumerable.Range(0, vertices).Select(v =>
            {
                var r = radius * (0.5 + (random.NextDouble() * 0.5));
                var angle = 2 * Math.PI * v / vertices;
                return (cx + (r * Math.Cos(angle)), cy + (r * Math.Sin(angle)));
            })]);
            var polygon = random.Next(4) == 0
                ? new GeoPolygon(shell, [Rectangle(cx - (radius / 8), cy - (radius / 8), cx + (radius / 8), cy + (radius / 8))])
                : new GeoPolygon(shell);
            var kind = (GeofenceKind)random.Next(4);
            fences.Add(new CompiledFence(Fence(i, kind, i % 50, polygon)));
        }

        return fences;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(17, 2)]
    [InlineData(2_000, 3)]
    [InlineData(10_000, 4)]
    public void A_query_finds_exactly_the_fences_a_brute_force_scan_finds(int count, int seed)
    {
        var fences = RandomFences(count, seed);
        var index = new GeofenceIndex(fences, marginMetres: 20);
        Assert.Equal(count, index.Count);

        var random = new Random(seed + 100);
        var hits = 0;
        for (var i = 0; i < 3_000; i++)
        {
            // Half the points near a fence, so there is something to find.
            var p = i % 2 == 0
                ? At((random.NextDouble() * 21_000) - 10_500, (random.NextDouble() * 21_000) - 10_500)
                : NearFence(fences[random.Next(fences.Count)], random);
            var expected = Enumerable.Range(0, fences.Count).Where(f => fences[f].Contains(p.Lat, p.Lon, wasInside: true, 20)).ToHashSet();

            var visitor = new Collector(p.Lat, p.Lon);
            index.Query(p.Lat, p.Lon, ref visitor);

            Assert.Equal(expected.Order(), visitor.Found.Order());
            hits += expected.Count;
        }

        Assert.True(hits > 100, $"only {hits} hits: the test points miss the fences");
    }

    [Fact]
    public void An_empty_index_finds_nothing()
    {
        var index = new GeofenceIndex([], 20);
        var visitor = new Collector(40.84, 111.75);
        index.Query(40.84, 111.75, ref visitor);
        Assert.Empty(visitor.Found);
        Assert.Equal(0, index.Height);
    }

    [Fact]
    public void Ten_thousand_fences_pack_into_a_shallow_tree()
    {
        var index = new GeofenceIndex(RandomFences(10_000, 5), 20);
        // 10,000 / 16 = 625 leaves → 40 → 3 → 1: four levels.
        Assert.Equal(4, index.Height);
    }

    [Fact]
    public void A_visitor_that_returns_false_stops_the_query()
    {
        // Nested squares all around the same point: every one matches.
        var fences = Enumerable.Range(1, 50).Select(i => new CompiledFence(Lot(i, 1, Rectangle(-i * 10, -i * 10, i * 10, i * 10)))).ToList();
        var index = new GeofenceIndex(fences, 0);
        var p = At(0, 0);
        var visitor = new StopAfter(3);
        index.Query(p.Lat, p.Lon, ref visitor);
        Assert.Equal(3, visitor.Seen);
    }

    private static Fleet.Core.Roads.GeoPoint NearFence(CompiledFence fence, Random random)
    {
        var lat = fence.MinLat + ((fence.MaxLat - fence.MinLat) * ((random.NextDouble() * 1.4) - 0.2));
        var lon = fence.MinLon + ((fence.MaxLon - fence.MinLon) * ((random.NextDouble() * 1.4) - 0.2));
        return new(lat, lon);
    }

    private struct Collector(double lat, double lon) : IGeofenceVisitor
    {
        public List<int> Found { get; } = [];

        public readonly bool Visit(int index, CompiledFence fence)
        {
            if (fence.Contains(lat, lon, wasInside: true, 20))
            {
                Found.Add(index);
            }

            return true;
        }
    }

    private struct StopAfter(int limit) : IGeofenceVisitor
    {
        public int Seen { get; private set; }

        public bool Visit(int index, CompiledFence fence) => ++Seen < limit;
    }
}
