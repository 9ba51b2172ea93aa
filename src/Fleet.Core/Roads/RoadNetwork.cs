namespace Fleet.Core.Roads;

/// <summary>The kind of road an edge is; it sets the speed limit.</summary>
public enum RoadClass : byte
{
    /// <summary>城市支路/次干路: 30–60 km/h.</summary>
    Urban,

    /// <summary>主干路: up to 80 km/h.</summary>
    Arterial,

    /// <summary>环城快速路: 80 km/h.</summary>
    Ring,
}

public readonly record struct RoadEdge(int From, int To, double Length, RoadClass Class)
{
    public double SpeedLimitKmh => Class switch
    {
        RoadClass.Ring => 80,
        RoadClass.Arterial => 80,
        _ => 60,
    };

    public int Other(int node) => node == From ? To : From;
}

/// <summary>
/// An undirected road graph around one region's centre, in local metres. Immutable once built, so one instance is
/// shared by every vehicle of the region.
/// </summary>
public sealed class RoadNetwork
{
    private const double MaxSpeedMetresPerSecond = 80 / 3.6;

    private readonly LocalPoint[] _nodes;
    private readonly RoadEdge[] _edges;

    // Adjacency in compressed rows: the edges of node n are _adjacency[_offsets[n] .. _offsets[n + 1]).
    private readonly int[] _offsets;
    private readonly int[] _adjacency;

    public RoadNetwork(string key, LocalProjection projection, double radiusMetres, IReadOnlyList<LocalPoint> nodes, IReadOnlyList<RoadEdge> edges)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(edges);
        Key = key;
        Projection = projection;
        RadiusMetres = radiusMetres;
        _nodes = [.. nodes];
        _edges = [.. edges];
        _offsets = new int[_nodes.Length + 1];
        foreach (var edge in _edges)
        {
            _offsets[edge.From + 1]++;
            _offsets[edge.To + 1]++;
        }

        for (var n = 0; n < _nodes.Length; n++)
        {
            _offsets[n + 1] += _offsets[n];
        }

        _adjacency = new int[_offsets[^1]];
        var fill = _offsets[..^1];
        for (var e = 0; e < _edges.Length; e++)
        {
            _adjacency[fill[_edges[e].From]++] = e;
            _adjacency[fill[_edges[e].To]++] = e;
        }
    }

    /// <summary>What the network was generated for (the region code).</summary>
    public string Key { get; }

    public LocalProjection Projection { get; }

    /// <summary>Every node lies within this distance of the centre.</summary>
    public double RadiusMetres { get; }

    public IReadOnlyList<LocalPoint> Nodes => _nodes;

    public IReadOnlyList<RoadEdge> Edges => _edges;

    public LocalPoint Node(int index) => _nodes[index];

    public int Degree(int node) => _offsets[node + 1] - _offsets[node];

    public ReadOnlySpan<int> EdgesOf(int node) => _adjacency.AsSpan(_offsets[node], Degree(node));

    public int NearestNode(LocalPoint point)
    {
        var best = 0;
        var bestDistance = double.MaxValue;
        for (var n = 0; n < _nodes.Length; n++)
        {
            var dx = _nodes[n].X - point.X;
            var dy = _nodes[n].Y - point.Y;
            var d = (dx * dx) + (dy * dy);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = n;
            }
        }

        return best;
    }

    /// <summary>
    /// The fastest route (A*, travel time at the speed limits) as the edges to follow from <paramref name="from"/>;
    /// empty when from == to, null when <paramref name="to"/> cannot be reached.
    /// </summary>
    public int[]? FindRoute(int from, int to)
    {
        if (from == to)
        {
            return [];
        }

        var cost = new double[_nodes.Length];
        var via = new int[_nodes.Length];
        Array.Fill(cost, double.PositiveInfinity);
        Array.Fill(via, -1);
        cost[from] = 0;
        var open = new PriorityQueue<int, double>();
        open.Enqueue(from, Heuristic(from, to));
        while (open.TryDequeue(out var node, out var priority))
        {
            if (node == to)
            {
                break;
            }

            // A stale queue entry: the node was reached more cheaply since.
            if (priority > cost[node] + Heuristic(node, to) + 1e-9)
            {
                continue;
            }

            foreach (var e in EdgesOf(node))
            {
                var edge = _edges[e];
                var next = edge.Other(node);
                var c = cost[node] + (edge.Length / (edge.SpeedLimitKmh / 3.6));
                if (c < cost[next])
                {
                    cost[next] = c;
                    via[next] = e;
                    open.Enqueue(next, c + Heuristic(next, to));
                }
            }
        }

        if (via[to] < 0)
        {
            return null;
        }

        var route = new List<int>();
        for (var n = to; n != from; n = _edges[via[n]].Other(n))
        {
            route.Add(via[n]);
        }

        route.Reverse();
        return [.. route];
    }

    /// <summary>Nodes reachable from <paramref name="start"/> (breadth first), for connectivity checks.</summary>
    public int CountReachable(int start = 0)
    {
        var seen = new bool[_nodes.Length];
        var queue = new Queue<int>();
        seen[start] = true;
        queue.Enqueue(start);
        var count = 1;
        while (queue.TryDequeue(out var node))
        {
            foreach (var e in EdgesOf(node))
            {
                var next = _edges[e].Other(node);
                if (!seen[next])
                {
                    seen[next] = true;
                    count++;
                    queue.Enqueue(next);
                }
            }
        }

        return count;
    }

    // Straight-line time at the top speed never overestimates, so A* stays exact.
    private double Heuristic(int node, int target) => _nodes[node].DistanceTo(_nodes[target]) / MaxSpeedMetresPerSecond;
}
