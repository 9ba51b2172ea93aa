using Fleet.Core.Roads;

namespace Fleet.Core.Tests.Roads;

public sealed class RoadNetworkTests
{
    private static readonly GeoPoint Hohhot = RegionCatalog.Hohhot.Centre;

    [Fact(Timeout = 10_000)]
    public void The_same_seed_and_region_give_the_same_network()
    {
        var a = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 42);
        var b = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 42);

        Assert.Equal(a.Nodes, b.Nodes);
        Assert.Equal(a.Edges, b.Edges);
    }

    [Fact(Timeout = 10_000)]
    public void Another_seed_or_region_gives_another_network()
    {
        var a = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 42);
        var otherSeed = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 43);
        var otherRegion = RoadNetworkGenerator.Generate("150200", Hohhot, seed: 42);

        Assert.NotEqual(a.Nodes, otherSeed.Nodes);
        Assert.NotEqual(a.Nodes, otherRegion.Nodes);
    }

    [Fact(Timeout = 10_000)]
    public void Every_node_is_reachable_and_within_the_radius()
    {
        foreach (var plate in new[] { "蒙A", "蒙B", "蒙C", "蒙D", "蒙E", "蒙F", "蒙G", "蒙H", "蒙J", "蒙K", "蒙L", "蒙M" })
        {
            var region = RegionCatalog.ForPlate(plate + "12345");
            var network = RoadNetworkGenerator.Generate(region.Code, region.Centre, seed: 20261122);

            Assert.InRange(network.Nodes.Count, 300, 800);
            Assert.Equal(network.Nodes.Count, network.CountReachable());
            Assert.All(network.Nodes, n => Assert.True(n.Length <= network.RadiusMetres, $"{region.Name}: node at {n.Length:F0} m"));
            Assert.InRange(network.RadiusMetres, 10_000, 15_000);
        }
    }

    [Fact(Timeout = 10_000)]
    public void The_network_has_a_ring_road_and_arterials_as_well_as_streets()
    {
        var network = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 1);

        var classes = network.Edges.GroupBy(e => e.Class).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(36, classes[RoadClass.Ring]);
        Assert.True(classes[RoadClass.Arterial] > 100);
        Assert.True(classes[RoadClass.Urban] > classes[RoadClass.Arterial]);
        Assert.All(network.Edges.Where(e => e.Class == RoadClass.Ring), e => Assert.InRange(network.Node(e.From).Length, 8_900, 9_100));
    }

    [Fact(Timeout = 10_000)]
    public void Routes_follow_edges_from_start_to_end_and_stay_within_the_radius()
    {
        var network = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 5);
        var random = new Random(5);
        for (var trial = 0; trial < 200; trial++)
        {
            var from = random.Next(network.Nodes.Count);
            var to = random.Next(network.Nodes.Count);

            var route = network.FindRoute(from, to);

            Assert.NotNull(route);
            var node = from;
            foreach (var e in route)
            {
                var edge = network.Edges[e];
                Assert.True(edge.From == node || edge.To == node, $"edge {e} does not start at node {node}");
                node = edge.Other(node);
                Assert.True(network.Node(node).Length <= network.RadiusMetres);
            }

            Assert.Equal(to, node);
        }
    }

    [Fact(Timeout = 10_000)]
    public void A_route_is_longer_than_the_straight_line_but_not_a_detour()
    {
        var network = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 9);
        var from = network.NearestNode(new LocalPoint(-8_000, -3_000));
        var to = network.NearestNode(new LocalPoint(7_000, 4_000));

        var route = network.FindRoute(from, to)!;
        var length = route.Sum(e => network.Edges[e].Length);

        var straight = network.Node(from).DistanceTo(network.Node(to));
        Assert.InRange(length, straight, straight * 1.8);
    }

    [Fact(Timeout = 10_000)]
    public void Merged_polylines_draw_every_edge_exactly_once_through_the_same_points()
    {
        var network = RoadNetworkGenerator.Generate("150100", Hohhot, seed: 20261122);

        var merged = RoadPolylines.Merged(network);
        var again = RoadPolylines.Merged(network);

        Assert.Equal(merged.Select(p => (p.Class, string.Join(";", p.Points))), again.Select(p => (p.Class, string.Join(";", p.Points))));
        Assert.True(merged.Count < network.Edges.Count / 4, $"{merged.Count} polylines for {network.Edges.Count} edges");
        var drawn = merged
            .SelectMany(p => p.Points.Zip(p.Points.Skip(1), (a, b) => (p.Class, Key(a, b))))
            .ToList();
        var edges = network.Edges.Select(e => (e.Class, Key(network.Node(e.From), network.Node(e.To)))).ToList();
        Assert.Equal(edges.Order(), drawn.Order());
        var ring = Assert.Single(merged, p => p.Class == RoadClass.Ring);
        Assert.Equal(ring.Points[0], ring.Points[^1]);
    }

    private static string Key(LocalPoint a, LocalPoint b) =>
        string.CompareOrdinal(a.ToString(), b.ToString()) < 0 ? $"{a}|{b}" : $"{b}|{a}";
}
