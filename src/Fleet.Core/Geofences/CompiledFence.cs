using System.Runtime.CompilerServices;
using Fleet.Core.Roads;

namespace Fleet.Core.Geofences;

/// <summary>Where a point lies relative to a fence.</summary>
public enum FenceLocation
{
    Outside,

    /// <summary>Within a millimetre of an edge: counted as inside, so a car parked on the painted line is in the lot.</summary>
    Boundary,

    Inside,
}

/// <summary>
/// A fence prepared for per-fix tests: its rings projected once to metres around the fence's centre (equirectangular:
/// a lot is a few hundred metres across, where the error is far below GPS noise), tested by crossing count (even-odd,
/// so holes and the parts of a multipolygon need no special case). Large polygons get horizontal bands, each listing
/// the edges that reach into it, so a test reads a handful of edges, not all of them. Immutable and thread-safe;
/// tests allocate nothing.
/// </summary>
public sealed class CompiledFence
{
    private const double BoundaryToleranceMetres = 0.001;
    private const double BoundaryToleranceSquared = BoundaryToleranceMetres * BoundaryToleranceMetres;

    // Below this many edges a plain scan is as fast as finding the band.
    private const int BandThreshold = 24;
    private const int EdgesPerBand = 4;
    private const int MaxBands = 1024;

    private readonly Edge[] _edges;
    private readonly double _originLat;
    private readonly double _originLon;
    private readonly double _metresPerDegreeLon;
    private readonly int _bandCount;
    private readonly double _bandMinY;
    private readonly double _bandsPerMetre;
    private readonly int[] _bandStart;
    private readonly int[] _bandEdges;

    public CompiledFence(Geofence fence)
    {
        ArgumentNullException.ThrowIfNull(fence);
        if (fence.Polygons.IsDefaultOrEmpty)
        {
            throw new ArgumentException($"Fence {fence.Id} has no polygon.", nameof(fence));
        }

        Fence = fence;
        double minLat = double.MaxValue, minLon = double.MaxValue, maxLat = double.MinValue, maxLon = double.MinValue;
        foreach (var polygon in fence.Polygons)
        {
            foreach (var point in polygon.Shell)
            {
                if (!double.IsFinite(point.Lat) || !double.IsFinite(point.Lon) || Math.Abs(point.Lat) > 90 || Math.Abs(point.Lon) > 180)
                {
                    throw new ArgumentException($"Fence {fence.Id} has a point out of range: {point}.", nameof(fence));
                }

                minLat = Math.Min(minLat, point.Lat);
                maxLat = Math.Max(maxLat, point.Lat);
                minLon = Math.Min(minLon, point.Lon);
                maxLon = Math.Max(maxLon, point.Lon);
            }
        }

        (MinLat, MinLon, MaxLat, MaxLon) = (minLat, minLon, maxLat, maxLon);
        _originLat = (minLat + maxLat) / 2;
        _originLon = (minLon + maxLon) / 2;
        _metresPerDegreeLon = LocalProjection.MetresPerDegree * Math.Cos(_originLat * Math.PI / 180);

        var edges = new List<Edge>();
        foreach (var polygon in fence.Polygons)
        {
            AddRing(edges, polygon.Shell, fence.Id);
            foreach (var hole in polygon.Holes)
            {
                AddRing(edges, hole, fence.Id);
            }
        }

        _edges = [.. edges];
        _bandStart = [];
        _bandEdges = [];
        if (_edges.Length > BandThreshold)
        {
            (_bandCount, _bandMinY, _bandsPerMetre, _bandStart, _bandEdges) = BuildBands(_edges);
        }
    }

    public Geofence Fence { get; }

    public double MinLat { get; }

    public double MinLon { get; }

    public double MaxLat { get; }

    public double MaxLon { get; }

    public int EdgeCount => _edges.Length;

    /// <summary>Inside, outside or on the boundary of the fence.</summary>
    public FenceLocation Locate(double lat, double lon)
    {
        if (lat < MinLat || lat > MaxLat || lon < MinLon || lon > MaxLon)
        {
            return FenceLocation.Outside;
        }

        var x = (lon - _originLon) * _metresPerDegreeLon;
        var y = (lat - _originLat) * LocalProjection.MetresPerDegree;
        var inside = false;
        if (_bandCount == 0)
        {
            foreach (ref readonly var edge in _edges.AsSpan())
            {
                if (Cross(edge, x, y, ref inside))
                {
                    return FenceLocation.Boundary;
                }
            }
        }
        else
        {
            var band = Math.Clamp((int)((y - _bandMinY) * _bandsPerMetre), 0, _bandCount - 1);
            foreach (var index in _bandEdges.AsSpan(_bandStart[band], _bandStart[band + 1] - _bandStart[band]))
            {
                if (Cross(_edges[index], x, y, ref inside))
                {
                    return FenceLocation.Boundary;
                }
            }
        }

        return inside ? FenceLocation.Inside : FenceLocation.Outside;
    }

    /// <summary>
    /// Membership with exit hysteresis: entering needs the point inside (or on the boundary); once inside, the vehicle
    /// stays inside until it is more than <paramref name="hysteresisMetres"/> outside, so GPS jitter around a car parked
    /// on the boundary does not flap the state.
    /// </summary>
    public bool Contains(double lat, double lon, bool wasInside, double hysteresisMetres)
    {
        if (Locate(lat, lon) != FenceLocation.Outside)
        {
            return true;
        }

        return wasInside && hysteresisMetres > 0 && IsWithin(lat, lon, hysteresisMetres);
    }

    /// <summary>Whether the point is within <paramref name="metres"/> of the fence's boundary.</summary>
    public bool IsWithin(double lat, double lon, double metres)
    {
        var marginLat = metres / LocalProjection.MetresPerDegree;
        var marginLon = metres / _metresPerDegreeLon;
        if (lat < MinLat - marginLat || lat > MaxLat + marginLat || lon < MinLon - marginLon || lon > MaxLon + marginLon)
        {
            return false;
        }

        var x = (lon - _originLon) * _metresPerDegreeLon;
        var y = (lat - _originLat) * LocalProjection.MetresPerDegree;
        var limit = metres * metres;
        foreach (ref readonly var edge in _edges.AsSpan())
        {
            if (DistanceSquared(edge, x, y) <= limit)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Distance in metres from the point to the nearest edge (0 on the boundary), inside or out.</summary>
    public double DistanceToBoundary(double lat, double lon)
    {
        var x = (lon - _originLon) * _metresPerDegreeLon;
        var y = (lat - _originLat) * LocalProjection.MetresPerDegree;
        var best = double.MaxValue;
        foreach (ref readonly var edge in _edges.AsSpan())
        {
            best = Math.Min(best, DistanceSquared(edge, x, y));
        }

        return Math.Sqrt(best);
    }

    /// <summary>One step of the crossing count; true when the point lies on the edge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Cross(in Edge edge, double x, double y, ref bool inside)
    {
        // Half-open in y, so a ray through a vertex counts it once.
        if ((edge.Y1 > y) != (edge.Y2 > y) && x < edge.X1 + ((y - edge.Y1) * edge.DxDy))
        {
            inside = !inside;
        }

        return x >= edge.MinX - BoundaryToleranceMetres && x <= edge.MaxX + BoundaryToleranceMetres
            && y >= edge.MinY - BoundaryToleranceMetres && y <= edge.MaxY + BoundaryToleranceMetres
            && DistanceSquared(edge, x, y) <= BoundaryToleranceSquared;
    }

    private static double DistanceSquared(in Edge edge, double x, double y)
    {
        var dx = edge.X2 - edge.X1;
        var dy = edge.Y2 - edge.Y1;
        var t = Math.Clamp((((x - edge.X1) * dx) + ((y - edge.Y1) * dy)) * edge.InverseLengthSquared, 0, 1);
        var px = edge.X1 + (t * dx) - x;
        var py = edge.Y1 + (t * dy) - y;
        return (px * px) + (py * py);
    }

    private void AddRing(List<Edge> edges, IReadOnlyList<GeoPoint> ring, long fenceId)
    {
        // Repeated points (the closing point among them) make zero-length edges, which say nothing.
        var first = edges.Count;
        var count = ring.Count;
        for (var i = 0; i < count; i++)
        {
            var a = Project(ring[i]);
            var b = Project(ring[(i + 1) % count]);
            if (a.X != b.X || a.Y != b.Y)
            {
                edges.Add(new Edge(a.X, a.Y, b.X, b.Y));
            }
        }

        if (edges.Count - first < 3)
        {
            throw new ArgumentException($"Fence {fenceId} has a ring with fewer than 3 distinct points.", nameof(ring));
        }
    }

    private LocalPoint Project(GeoPoint point) =>
        new((point.Lon - _originLon) * _metresPerDegreeLon, (point.Lat - _originLat) * LocalProjection.MetresPerDegree);

    private static (int Count, double MinY, double BandsPerMetre, int[] Start, int[] Edges) BuildBands(Edge[] edges)
    {
        var minY = double.MaxValue;
        var maxY = double.MinValue;
        foreach (var edge in edges)
        {
            minY = Math.Min(minY, edge.MinY);
            maxY = Math.Max(maxY, edge.MaxY);
        }

        var count = Math.Clamp(edges.Length / EdgesPerBand, 1, MaxBands);
        var bandsPerMetre = count / Math.Max(maxY - minY, 1e-9);
        int First(in Edge e) => Math.Clamp((int)((e.MinY - BoundaryToleranceMetres - minY) * bandsPerMetre), 0, count - 1);
        int Last(in Edge e) => Math.Clamp((int)((e.MaxY + BoundaryToleranceMetres - minY) * bandsPerMetre), 0, count - 1);

        // Counting sort: sizes first, then fill, so each band's edges are contiguous.
        var start = new int[count + 1];
        foreach (var edge in edges)
        {
            for (var b = First(edge); b <= Last(edge); b++)
            {
                start[b + 1]++;
            }
        }

        for (var b = 0; b < count; b++)
        {
            start[b + 1] += start[b];
        }

        var fill = start[..count];
        var bandEdges = new int[start[count]];
        for (var i = 0; i < edges.Length; i++)
        {
            for (var b = First(edges[i]); b <= Last(edges[i]); b++)
            {
                bandEdges[fill[b]++] = i;
            }
        }

        return (count, minY, bandsPerMetre, start, bandEdges);
    }

    private readonly struct Edge
    {
        public Edge(double x1, double y1, double x2, double y2)
        {
            X1 = x1;
            Y1 = y1;
            X2 = x2;
            Y2 = y2;
            DxDy = y2 == y1 ? 0 : (x2 - x1) / (y2 - y1);
            InverseLengthSquared = 1 / (((x2 - x1) * (x2 - x1)) + ((y2 - y1) * (y2 - y1)));
            MinX = Math.Min(x1, x2);
            MaxX = Math.Max(x1, x2);
            MinY = Math.Min(y1, y2);
            MaxY = Math.Max(y1, y2);
        }

        public double X1 { get; }

        public double Y1 { get; }

        public double X2 { get; }

        public double Y2 { get; }

        public double DxDy { get; }

        public double InverseLengthSquared { get; }

        public double MinX { get; }

        public double MaxX { get; }

        public double MinY { get; }

        public double MaxY { get; }
    }
}
