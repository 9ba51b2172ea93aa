using System.Diagnostics.CodeAnalysis;

namespace Fleet.Core.Roads;

/// <summary>Shape of a generated network.</summary>
/// <param name="RadiusMetres">No node lies farther than this from the centre.</param>
/// <param name="GridSpacingMetres">Distance between neighbouring grid intersections.</param>
/// <param name="ArterialEvery">Every n-th grid line is an arterial road.</param>
/// <param name="RingRadiusMetres">Radius of the ring road.</param>
/// <param name="RingNodes">Interchanges on the ring road.</param>
/// <param name="JitterMetres">How far an intersection may move off the perfect grid.</param>
/// <param name="RemovedStreetShare">Share of minor streets left out, so routes are not all staircases.</param>
public sealed record RoadNetworkSettings(
    double RadiusMetres = 12_000,
    double GridSpacingMetres = 1_000,
    int ArterialEvery = 3,
    double RingRadiusMetres = 9_000,
    int RingNodes = 36,
    double JitterMetres = 120,
    double RemovedStreetShare = 0.08)
{
    public static readonly RoadNetworkSettings Default = new();
}

/// <summary>
/// Generates a city road network around a centre: a jittered street grid (every third line an arterial) clipped to a
/// circle, plus a ring road joined to the grid at its interchanges. The same key, centre and seed always give the
/// same network.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "A reproducible network needs a seeded generator.")]
public static class RoadNetworkGenerator
{
    /// <summary>The seed the simulator and the map's road layer share by default, so the map draws the roads driven on.</summary>
    public const int DefaultSeed = 20261122;

    public static RoadNetwork Generate(string key, GeoPoint centre, int seed, RoadNetworkSettings? settings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        settings ??= RoadNetworkSettings.Default;
        var random = new Random(StableHash.Combine(seed, key));
        var nodes = new List<LocalPoint>();
        var edges = new List<RoadEdge>();

        // Grid lines stop short of the radius by the jitter, so a jittered node still lies inside it.
        var half = (int)Math.Floor((settings.RadiusMetres - settings.JitterMetres) / settings.GridSpacingMetres);
        var gridIndex = new Dictionary<(int I, int J), int>();
        for (var i = -half; i <= half; i++)
        {
            for (var j = -half; j <= half; j++)
            {
                var ideal = new LocalPoint(i * settings.GridSpacingMetres, j * settings.GridSpacingMetres);
                if (ideal.Length > settings.RadiusMetres - settings.JitterMetres)
                {
                    continue;
                }

                var jitter = settings.JitterMetres / Math.Sqrt(2);
                gridIndex[(i, j)] = nodes.Count;
                nodes.Add(new LocalPoint(ideal.X + Jitter(random, jitter), ideal.Y + Jitter(random, jitter)));
            }
        }

        foreach (var ((i, j), node) in gridIndex)
        {
            if (gridIndex.TryGetValue((i + 1, j), out var east))
            {
                // An east–west street lies on grid row j.
                edges.Add(Edge(nodes, node, east, j % settings.ArterialEvery == 0 ? RoadClass.Arterial : RoadClass.Urban));
            }

            if (gridIndex.TryGetValue((i, j + 1), out var north))
            {
                edges.Add(Edge(nodes, node, north, i % settings.ArterialEvery == 0 ? RoadClass.Arterial : RoadClass.Urban));
            }
        }

        // Sort so the dictionary's enumeration order cannot change the result.
        edges.Sort((a, b) => a.From != b.From ? a.From.CompareTo(b.From) : a.To.CompareTo(b.To));
        RemoveSomeStreets(nodes.Count, edges, settings.RemovedStreetShare, random);

        var gridCount = nodes.Count;
        var firstRing = nodes.Count;
        for (var k = 0; k < settings.RingNodes; k++)
        {
            var angle = 2 * Math.PI * k / settings.RingNodes;
            nodes.Add(new LocalPoint(settings.RingRadiusMetres * Math.Sin(angle), settings.RingRadiusMetres * Math.Cos(angle)));
        }

        for (var k = 0; k < settings.RingNodes; k++)
        {
            var ring = firstRing + k;
            edges.Add(Edge(nodes, ring, firstRing + ((k + 1) % settings.RingNodes), RoadClass.Ring));
            var nearest = Nearest(nodes, nodes[ring], gridCount);
            edges.Add(Edge(nodes, ring, nearest, RoadClass.Arterial));
        }

        return new RoadNetwork(key, new LocalProjection(centre), settings.RadiusMetres, nodes, edges);
    }

    private static double Jitter(Random random, double amplitude) => ((random.NextDouble() * 2) - 1) * amplitude;

    private static RoadEdge Edge(List<LocalPoint> nodes, int a, int b, RoadClass roadClass) => new(a, b, nodes[a].DistanceTo(nodes[b]), roadClass);

    private static int Nearest(List<LocalPoint> nodes, LocalPoint point, int count)
    {
        var best = 0;
        for (var n = 1; n < count; n++)
        {
            if (nodes[n].DistanceTo(point) < nodes[best].DistanceTo(point))
            {
                best = n;
            }
        }

        return best;
    }

    /// <summary>Leaves out some minor streets, but never one whose loss would cut the grid in two.</summary>
    private static void RemoveSomeStreets(int nodeCount, List<RoadEdge> edges, double share, Random random)
    {
        var toRemove = (int)(edges.Count * share);
        for (var attempts = 0; toRemove > 0 && attempts < edges.Count; attempts++)
        {
            var index = random.Next(edges.Count);
            var edge = edges[index];
            if (edge.Class != RoadClass.Urban)
            {
                continue;
            }

            edges.RemoveAt(index);
            if (Connected(nodeCount, edges))
            {
                toRemove--;
            }
            else
            {
                edges.Insert(index, edge);
            }
        }
    }

    private static bool Connected(int nodeCount, List<RoadEdge> edges)
    {
        var parent = new int[nodeCount];
        for (var n = 0; n < nodeCount; n++)
        {
            parent[n] = n;
        }

        int Find(int n)
        {
            while (parent[n] != n)
            {
                parent[n] = parent[parent[n]];
                n = parent[n];
            }

            return n;
        }

        var components = nodeCount;
        foreach (var edge in edges)
        {
            var a = Find(edge.From);
            var b = Find(edge.To);
            if (a != b)
            {
                parent[a] = b;
                components--;
            }
        }

        return components == 1;
    }
}

/// <summary>FNV-1a: string.GetHashCode is randomised per process, and the simulation must be reproducible.</summary>
public static class StableHash
{
    public static int Combine(int seed, string key)
    {
        var hash = 2166136261u ^ (uint)seed;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash & 0x7FFF_FFFF);
    }

    public static int Combine(int seed, long value)
    {
        var hash = 2166136261u ^ (uint)seed;
        for (var i = 0; i < 8; i++)
        {
            hash = (hash ^ (byte)(value >> (8 * i))) * 16777619u;
        }

        return (int)(hash & 0x7FFF_FFFF);
    }
}
