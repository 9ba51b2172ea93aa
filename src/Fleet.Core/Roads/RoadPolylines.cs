namespace Fleet.Core.Roads;

/// <summary>A run of connected edges of one road class, as the points to draw it through.</summary>
public sealed record RoadPolyline(RoadClass Class, IReadOnlyList<LocalPoint> Points);

/// <summary>Turns a network's edges into polylines for drawing, either one per edge or merged into whole roads.</summary>
public static class RoadPolylines
{
    /// <summary>One two-point polyline per edge: exact, but every edge costs a whole feature.</summary>
    public static IReadOnlyList<RoadPolyline> PerEdge(RoadNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return network.Edges.Select(e => new RoadPolyline(e.Class, [network.Node(e.From), network.Node(e.To)])).ToList();
    }

    /// <summary>
    /// Chains edges that continue one another: same class, and turning by at most <paramref name="maxTurnDegrees"/> where
    /// they meet. A jittered grid line becomes one polyline with all its points kept, so the drawing is unchanged; the
    /// ring closes on itself. Deterministic: the same network always gives the same polylines in the same order.
    /// </summary>
    public static IReadOnlyList<RoadPolyline> Merged(RoadNetwork network, double maxTurnDegrees = 30)
    {
        ArgumentNullException.ThrowIfNull(network);
        var edges = network.Edges;

        // The edge each edge continues into, at its From end (2e) and its To end (2e + 1); -1 where the road ends.
        var next = new int[edges.Count * 2];
        Array.Fill(next, -1);
        var candidates = new List<(double Turn, int A, int B)>();
        for (var node = 0; node < network.Nodes.Count; node++)
        {
            candidates.Clear();
            var incident = network.EdgesOf(node);
            for (var i = 0; i < incident.Length; i++)
            {
                for (var j = i + 1; j < incident.Length; j++)
                {
                    var a = edges[incident[i]];
                    var b = edges[incident[j]];
                    if (a.Class != b.Class)
                    {
                        continue;
                    }

                    // Leaving the node along a and along b: a straight road points both ways, 180° apart.
                    var here = network.Node(node);
                    var apart = Math.Abs(here.BearingTo(network.Node(a.Other(node))) - here.BearingTo(network.Node(b.Other(node))));
                    var turn = Math.Abs(180 - Math.Min(apart, 360 - apart));
                    if (turn <= maxTurnDegrees)
                    {
                        candidates.Add((turn, incident[i], incident[j]));
                    }
                }
            }

            // The straightest pairs first, each edge end joined at most once.
            candidates.Sort((x, y) => x.Turn != y.Turn ? x.Turn.CompareTo(y.Turn) : (x.A, x.B).CompareTo((y.A, y.B)));
            foreach (var (_, a, b) in candidates)
            {
                var endA = End(edges[a], a, node);
                var endB = End(edges[b], b, node);
                if (next[endA] < 0 && next[endB] < 0)
                {
                    next[endA] = b;
                    next[endB] = a;
                }
            }
        }

        var polylines = new List<RoadPolyline>();
        var done = new bool[edges.Count];

        // Open roads start at an end that continues nowhere; what is left over are closed loops (the ring).
        for (var pass = 0; pass < 2; pass++)
        {
            for (var e = 0; e < edges.Count; e++)
            {
                if (done[e])
                {
                    continue;
                }

                int start;
                if (next[2 * e] < 0)
                {
                    start = edges[e].From;
                }
                else if (next[(2 * e) + 1] < 0)
                {
                    start = edges[e].To;
                }
                else if (pass == 1)
                {
                    start = edges[e].From;
                }
                else
                {
                    continue;
                }

                polylines.Add(Walk(network, next, done, e, start));
            }
        }

        return polylines;
    }

    private static int End(RoadEdge edge, int index, int node) => (2 * index) + (edge.From == node ? 0 : 1);

    private static RoadPolyline Walk(RoadNetwork network, int[] next, bool[] done, int edge, int start)
    {
        var edges = network.Edges;
        var roadClass = edges[edge].Class;
        var points = new List<LocalPoint> { network.Node(start) };
        var node = start;
        while (true)
        {
            done[edge] = true;
            node = edges[edge].Other(node);
            points.Add(network.Node(node));
            var following = next[End(edges[edge], edge, node)];
            if (following < 0 || done[following])
            {
                return new RoadPolyline(roadClass, points);
            }

            edge = following;
        }
    }
}
