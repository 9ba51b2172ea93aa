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

    // Grid cells no edge comes near are wholly inside or outside: a point there is answered by one array read. A cell
    // that edges cross keeps a reference point whose side is known and the edges that cross the cell; a point there
    // flips that side once per edge the segment from the reference point to it crosses.
    private const byte MixedOutside = 3;
    private const byte MixedInside = 4;
    private const byte MixedCell = 255;
    private const int MaxCellsPerSide = 64;

    private readonly Edge[] _edges;
    private readonly double _originLat;
    private readonly double _originLon;
    private readonly double _metresPerDegreeLon;
    private readonly int _bandCount;
    private readonly double _bandMinY;
    private readonly double _bandsPerMetre;
    private readonly int[] _bandStart;
    private readonly int[] _bandEdges;
    private readonly byte[] _cells;
    private readonly int[] _cellEdgeStart;
    private readonly int[] _cellEdges;
    private readonly double[] _cellRefX;
    private readonly double[] _cellRefY;
    private readonly int _cellsX;
    private readonly int _cellsY;
    private readonly double _gridMinX;
    private readonly double _gridMinY;
    private readonly double _cellsPerMetreX;
    private readonly double _cellsPerMetreY;

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
        _cells = [];
        _cellEdgeStart = [];
        _cellEdges = [];
        _cellRefX = [];
        _cellRefY = [];
        if (_edges.Length > BandThreshold)
        {
            (_bandCount, _bandMinY, _bandsPerMetre, _bandStart, _bandEdges) = BuildBands(_edges);
            (_cellsX, _cellsY, _gridMinX, _gridMinY, _cellsPerMetreX, _cellsPerMetreY, _cells, _cellEdgeStart, _cellEdges, _cellRefX, _cellRefY) = BuildGrid();
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
        if (_cells.Length != 0)
        {
            var cx = Math.Clamp((int)((x - _gridMinX) * _cellsPerMetreX), 0, _cellsX - 1);
            var cy = Math.Clamp((int)((y - _gridMinY) * _cellsPerMetreY), 0, _cellsY - 1);
            var index = (cy * _cellsX) + cx;
            var cell = _cells[index];
            if (cell < MixedOutside)
            {
                return (FenceLocation)cell;
            }

            if (cell != MixedCell)
            {
                return LocateInCell(index, cell == MixedInside, x, y);
            }
        }

        return LocateLocal(x, y);
    }

    private FenceLocation LocateInCell(int cell, bool referenceInside, double x, double y)
    {
        var inside = referenceInside;
        var rx = _cellRefX[cell];
        var ry = _cellRefY[cell];
        foreach (var index in _cellEdges.AsSpan(_cellEdgeStart[cell], _cellEdgeStart[cell + 1] - _cellEdgeStart[cell]))
        {
            ref readonly var edge = ref _edges[index];
            if (x >= edge.MinX - BoundaryToleranceMetres && x <= edge.MaxX + BoundaryToleranceMetres
                && y >= edge.MinY - BoundaryToleranceMetres && y <= edge.MaxY + BoundaryToleranceMetres
                && DistanceSquared(edge, x, y) <= BoundaryToleranceSquared)
            {
                return FenceLocation.Boundary;
            }

            // The segment reference → point crosses the edge when the two lie strictly on opposite sides of the edge's
            // line and the edge's ends on opposite sides of the segment's line; ends on that line count as below it
            // (half-open), so a segment through a vertex counts it once, as the ray of the crossing count does.
            var sideR = Orientation(edge.X1, edge.Y1, edge.X2, edge.Y2, rx, ry);
            var sideP = Orientation(edge.X1, edge.Y1, edge.X2, edge.Y2, x, y);
            if ((sideR > 0 && sideP < 0) || (sideR < 0 && sideP > 0))
            {
                var sideA = Orientation(rx, ry, x, y, edge.X1, edge.Y1);
                var sideB = Orientation(rx, ry, x, y, edge.X2, edge.Y2);
                if ((sideA > 0) != (sideB > 0))
                {
                    inside = !inside;
                }
            }
        }

        return inside ? FenceLocation.Inside : FenceLocation.Outside;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Orientation(double ax, double ay, double bx, double by, double px, double py) =>
        ((bx - ax) * (py - ay)) - ((by - ay) * (px - ax));

    private FenceLocation LocateLocal(double x, double y)
    {
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

    /// <summary>
    /// Classifies a grid over the fence's box: a cell that no edge comes within the boundary tolerance of lies wholly on
    /// one side, so its centre's answer holds for every point in it; the rest are mixed and use the bands.
    /// </summary>
    private (int X, int Y, double MinX, double MinY, double PerMetreX, double PerMetreY, byte[] Cells, int[] EdgeStart, int[] Edges, double[] RefX, double[] RefY) BuildGrid()
    {
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        foreach (var edge in _edges)
        {
            minX = Math.Min(minX, edge.MinX);
            minY = Math.Min(minY, edge.MinY);
            maxX = Math.Max(maxX, edge.MaxX);
            maxY = Math.Max(maxY, edge.MaxY);
        }

        var side = Math.Clamp((int)Math.Ceiling(Math.Sqrt(_edges.Length * 4.0)), 4, MaxCellsPerSide);
        var width = Math.Max(maxX - minX, 1e-6);
        var height = Math.Max(maxY - minY, 1e-6);
        var cellWidth = width / side;
        var cellHeight = height / side;
        var cellEdges = new List<int>[side * side];

        // A margin above the tolerance, so rounding never lets an edge near a cell go unlisted.
        var margin = (BoundaryToleranceMetres * 2) + 1e-6;
        for (var e = 0; e < _edges.Length; e++)
        {
            ref readonly var edge = ref _edges[e];
            var x0 = Math.Clamp((int)((edge.MinX - margin - minX) / cellWidth), 0, side - 1);
            var x1 = Math.Clamp((int)((edge.MaxX + margin - minX) / cellWidth), 0, side - 1);
            var y0 = Math.Clamp((int)((edge.MinY - margin - minY) / cellHeight), 0, side - 1);
            var y1 = Math.Clamp((int)((edge.MaxY + margin - minY) / cellHeight), 0, side - 1);
            for (var cy = y0; cy <= y1; cy++)
            {
                for (var cx = x0; cx <= x1; cx++)
                {
                    var left = minX + (cx * cellWidth) - margin;
                    var bottom = minY + (cy * cellHeight) - margin;
                    if (SegmentTouchesBox(edge, left, bottom, left + cellWidth + (2 * margin), bottom + cellHeight + (2 * margin)))
                    {
                        (cellEdges[(cy * side) + cx] ??= []).Add(e);
                    }
                }
            }
        }

        var cells = new byte[side * side];
        var start = new int[cells.Length + 1];
        var edges = new List<int>();
        var refX = new double[cells.Length];
        var refY = new double[cells.Length];
        for (var cy = 0; cy < side; cy++)
        {
            for (var cx = 0; cx < side; cx++)
            {
                var i = (cy * side) + cx;
                start[i] = edges.Count;
                var listed = cellEdges[i];
                if (listed is null)
                {
                    // No edge near: the whole cell lies on its centre's side.
                    cells[i] = (byte)LocateLocal(minX + ((cx + 0.5) * cellWidth), minY + ((cy + 0.5) * cellHeight));
                    continue;
                }

                cells[i] = MixedCell;
                if (FindReference(listed, minX + (cx * cellWidth), minY + (cy * cellHeight), cellWidth, cellHeight) is { } reference)
                {
                    cells[i] = LocateLocal(reference.X, reference.Y) == FenceLocation.Inside ? MixedInside : MixedOutside;
                    (refX[i], refY[i]) = (reference.X, reference.Y);
                    edges.AddRange(listed);
                }
            }
        }

        start[cells.Length] = edges.Count;
        return (side, side, minX, minY, side / width, side / height, cells, start, [.. edges], refX, refY);
    }

    /// <summary>A point of the cell clear of its edges and their lines' near neighbourhood, or null (the cell then scans its band).</summary>
    private LocalPoint? FindReference(List<int> listed, double left, double bottom, double width, double height)
    {
        const int Lattice = 7;
        var clearance = Math.Max(BoundaryToleranceMetres * 10, Math.Min(width, height) * 1e-4);
        for (var j = 0; j < Lattice; j++)
        {
            for (var i = 0; i < Lattice; i++)
            {
                // Centre first, then a lattice of interior points.
                var fx = ((((i + (Lattice / 2)) % Lattice) + 0.5) / Lattice) + 0.013;
                var fy = ((((j + (Lattice / 2)) % Lattice) + 0.5) / Lattice) + 0.007;
                var x = left + (Math.Min(fx, 0.98) * width);
                var y = bottom + (Math.Min(fy, 0.98) * height);
                var clear = true;
                foreach (var e in listed)
                {
                    if (DistanceSquared(_edges[e], x, y) < clearance * clearance)
                    {
                        clear = false;
                        break;
                    }
                }

                if (clear)
                {
                    return new LocalPoint(x, y);
                }
            }
        }

        return null;
    }

    /// <summary>Separating-axis test of a segment against a box: the box's two axes (the caller's range) and the segment's normal.</summary>
    private static bool SegmentTouchesBox(in Edge edge, double left, double bottom, double right, double top)
    {
        if (edge.MaxX < left || edge.MinX > right || edge.MaxY < bottom || edge.MinY > top)
        {
            return false;
        }

        var nx = edge.Y2 - edge.Y1;
        var ny = edge.X1 - edge.X2;
        var d0 = (nx * (left - edge.X1)) + (ny * (bottom - edge.Y1));
        var d1 = (nx * (right - edge.X1)) + (ny * (bottom - edge.Y1));
        var d2 = (nx * (left - edge.X1)) + (ny * (top - edge.Y1));
        var d3 = (nx * (right - edge.X1)) + (ny * (top - edge.Y1));
        return !((d0 > 0 && d1 > 0 && d2 > 0 && d3 > 0) || (d0 < 0 && d1 < 0 && d2 < 0 && d3 < 0));
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
