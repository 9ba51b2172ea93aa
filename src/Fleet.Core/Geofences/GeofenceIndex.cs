using Fleet.Core.Roads;

namespace Fleet.Core.Geofences;

/// <summary>Receives the fences a <see cref="GeofenceIndex"/> query finds.</summary>
public interface IGeofenceVisitor
{
    /// <summary>Called for each fence whose (margin-expanded) box holds the point; return false to stop the query.</summary>
    /// <param name="index">The fence's position in the list the index was built from.</param>
    bool Visit(int index, CompiledFence fence);
}

/// <summary>
/// A static R-tree over fences' bounding boxes, bulk-loaded by Sort-Tile-Recursive: fences are sorted into vertical
/// slices by longitude, each slice by latitude, and packed 16 to a node, level by level. Nearly full nodes with
/// little overlap, built in O(n log n); rebuilt whole when the registry changes, never updated in place. Boxes are
/// widened by a margin (the hysteresis distance), so a point just outside a fence it was inside still finds it.
/// Immutable and thread-safe; queries allocate nothing.
/// </summary>
public sealed class GeofenceIndex
{
    private const int NodeCapacity = 16;

    private readonly CompiledFence[] _items;
    private readonly int[] _itemIndexes;
    private readonly Box[] _itemBoxes;
    private readonly Node[] _nodes;
    private readonly int _stackSize;

    public GeofenceIndex(IReadOnlyList<CompiledFence> fences, double marginMetres = 0)
    {
        ArgumentNullException.ThrowIfNull(fences);
        ArgumentOutOfRangeException.ThrowIfNegative(marginMetres);
        var entries = new Entry[fences.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var f = fences[i];
            var marginLat = marginMetres / LocalProjection.MetresPerDegree;
            var marginLon = marginMetres / (LocalProjection.MetresPerDegree * Math.Max(0.01, Math.Cos(Math.Max(Math.Abs(f.MinLat), Math.Abs(f.MaxLat)) * Math.PI / 180)));
            entries[i] = new Entry(new Box(f.MinLat - marginLat, f.MinLon - marginLon, f.MaxLat + marginLat, f.MaxLon + marginLon), i);
        }

        // Leaves: pack the fences; each leaf's children are a run of the reordered fences.
        var (ordered, parents) = Pack(entries, leaf: true);
        _items = [.. ordered.Select(e => fences[e.Ref])];
        _itemIndexes = [.. ordered.Select(e => e.Ref)];
        _itemBoxes = [.. ordered.Select(e => e.Box)];

        // Upper levels: pack the level below until one node is left. Levels are kept bottom-up, then laid out root first.
        var levels = new List<Node[]>();
        var current = parents;
        while (current.Length > 1)
        {
            var (orderedNodes, upper) = Pack([.. current.Select((n, i) => new Entry(n.Box, i))], leaf: false);
            levels.Add([.. orderedNodes.Select(e => current[e.Ref])]);
            current = upper;
        }

        levels.Add(current);
        levels.Reverse();
        var nodes = new List<Node>();
        var offsets = new int[levels.Count + 1];
        for (var l = 0; l < levels.Count; l++)
        {
            offsets[l] = nodes.Count;
            nodes.AddRange(levels[l]);
        }

        offsets[levels.Count] = nodes.Count;
        for (var l = 0; l < levels.Count - 1; l++)
        {
            for (var i = offsets[l]; i < offsets[l + 1]; i++)
            {
                nodes[i] = nodes[i] with { First = nodes[i].First + offsets[l + 1] };
            }
        }

        _nodes = [.. nodes];
        Height = _nodes.Length == 0 ? 0 : levels.Count;

        // Depth-first, each level pushes at most a node's children while holding its siblings.
        _stackSize = (Height * NodeCapacity) + 1;
    }

    public int Count => _items.Length;

    /// <summary>Node levels, leaves included; 0 for an empty index.</summary>
    public int Height { get; }

    /// <summary>Calls <paramref name="visitor"/> for every fence whose widened box holds the point.</summary>
    public void Query<TVisitor>(double lat, double lon, ref TVisitor visitor)
        where TVisitor : IGeofenceVisitor, allows ref struct
    {
        if (_items.Length == 0)
        {
            return;
        }

        Span<int> stack = stackalloc int[_stackSize];
        var top = 0;
        stack[top++] = 0;
        while (top > 0)
        {
            ref readonly var node = ref _nodes[stack[--top]];
            if (!node.Box.Contains(lat, lon))
            {
                continue;
            }

            var end = node.First + node.Count;
            if (node.Leaf)
            {
                for (var i = node.First; i < end; i++)
                {
                    if (_itemBoxes[i].Contains(lat, lon) && !visitor.Visit(_itemIndexes[i], _items[i]))
                    {
                        return;
                    }
                }
            }
            else
            {
                for (var i = node.First; i < end; i++)
                {
                    stack[top++] = i;
                }
            }
        }
    }

    private static (Entry[] Ordered, Node[] Parents) Pack(Entry[] entries, bool leaf)
    {
        if (entries.Length == 0)
        {
            return ([], []);
        }

        var ordered = (Entry[])entries.Clone();
        var parentCount = (ordered.Length + NodeCapacity - 1) / NodeCapacity;
        var sliceCount = (int)Math.Ceiling(Math.Sqrt(parentCount));
        var sliceSize = sliceCount * NodeCapacity;
        Array.Sort(ordered, (a, b) => a.Box.CentreLon.CompareTo(b.Box.CentreLon));
        for (var start = 0; start < ordered.Length; start += sliceSize)
        {
            Array.Sort(ordered, start, Math.Min(sliceSize, ordered.Length - start), Comparer<Entry>.Create((a, b) => a.Box.CentreLat.CompareTo(b.Box.CentreLat)));
        }

        var parents = new Node[parentCount];
        for (var p = 0; p < parentCount; p++)
        {
            var first = p * NodeCapacity;
            var count = Math.Min(NodeCapacity, ordered.Length - first);
            var box = ordered[first].Box;
            for (var i = first + 1; i < first + count; i++)
            {
                box = box.Union(ordered[i].Box);
            }

            parents[p] = new Node(box, first, count, leaf);
        }

        return (ordered, parents);
    }

    private readonly record struct Entry(Box Box, int Ref);

    private readonly record struct Node(Box Box, int First, int Count, bool Leaf);

    private readonly record struct Box(double MinLat, double MinLon, double MaxLat, double MaxLon)
    {
        public double CentreLat => (MinLat + MaxLat) / 2;

        public double CentreLon => (MinLon + MaxLon) / 2;

        public bool Contains(double lat, double lon) => lat >= MinLat && lat <= MaxLat && lon >= MinLon && lon <= MaxLon;

        public Box Union(Box other) => new(Math.Min(MinLat, other.MinLat), Math.Min(MinLon, other.MinLon), Math.Max(MaxLat, other.MaxLat), Math.Max(MaxLon, other.MaxLon));
    }
}
