using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Fleet.Core.Geofences;

/// <summary>
/// Every fence of the registry, compiled, with what the per-fix rules ask of them: is this vehicle inside one of its
/// department's designated lots, and which zones of a kind hold this point. One immutable snapshot: the loader builds
/// a new catalog on each registry change and swaps it in, so readers on any thread never see half an update.
/// Queries allocate nothing.
/// </summary>
public sealed class GeofenceCatalog
{
    /// <summary>How far outside a fence a vehicle that was inside must be before it counts as out (GPS jitter is ~5–15 m).</summary>
    public const double DefaultHysteresisMetres = 20;

    private readonly FrozenDictionary<long, CompiledFence[]> _lotsByVehicle;

    // One tree per kind: a query for forbidden zones then never wades through the boxes of 20 km service areas.
    private readonly GeofenceIndex[] _indexByKind;
    private readonly int[][] _catalogIndexByKind;

    /// <param name="fences">The fences; their position in this list is their index in query answers.</param>
    /// <param name="vehicleDepartments">Each vehicle's department, which owns its designated lots.</param>
    public GeofenceCatalog(IEnumerable<Geofence> fences, IReadOnlyDictionary<long, long> vehicleDepartments, double hysteresisMetres = DefaultHysteresisMetres)
    {
        ArgumentNullException.ThrowIfNull(fences);
        ArgumentNullException.ThrowIfNull(vehicleDepartments);
        ArgumentOutOfRangeException.ThrowIfNegative(hysteresisMetres);
        HysteresisMetres = hysteresisMetres;
        Fences = [.. fences.Select(f => new CompiledFence(f))];
        Index = new GeofenceIndex(Fences, hysteresisMetres);
        var kinds = Enum.GetValues<GeofenceKind>();
        _indexByKind = new GeofenceIndex[kinds.Length];
        _catalogIndexByKind = new int[kinds.Length][];
        foreach (var kind in kinds)
        {
            int[] members = [.. Enumerable.Range(0, Fences.Length).Where(i => Fences[i].Fence.Kind == kind)];
            _catalogIndexByKind[(int)kind] = members;
            _indexByKind[(int)kind] = new GeofenceIndex([.. members.Select(i => Fences[i])], hysteresisMetres);
        }

        var lotsByDepartment = Fences
            .Where(f => f.Fence.Kind == GeofenceKind.DesignatedLot)
            .GroupBy(f => f.Fence.OwnerId)
            .ToDictionary(g => g.Key, g => g.ToArray());
        var lotsByVehicle = new Dictionary<long, CompiledFence[]>(vehicleDepartments.Count);
        foreach (var (vehicleId, departmentId) in vehicleDepartments)
        {
            if (lotsByDepartment.TryGetValue(departmentId, out var lots))
            {
                lotsByVehicle[vehicleId] = lots;
            }
        }

        _lotsByVehicle = lotsByVehicle.ToFrozenDictionary();
    }

    public static GeofenceCatalog Empty { get; } = new([], new Dictionary<long, long>());

    public ImmutableArray<CompiledFence> Fences { get; }

    /// <summary>All fences, whatever their kind.</summary>
    public GeofenceIndex Index { get; }

    public double HysteresisMetres { get; }

    /// <summary>Vehicles whose department has at least one designated lot.</summary>
    public int VehiclesWithLots => _lotsByVehicle.Count;

    /// <summary>
    /// Whether the vehicle is inside one of its department's designated lots, with exit hysteresis against
    /// <paramref name="wasInside"/> (the previous answer). Null when the vehicle is unknown or its department has no lot:
    /// then there is nothing to be inside or outside of.
    /// </summary>
    public bool? IsInDesignatedLot(long vehicleId, double lat, double lon, bool? wasInside)
    {
        if (!_lotsByVehicle.TryGetValue(vehicleId, out var lots))
        {
            return null;
        }

        var was = wasInside == true;
        foreach (var lot in lots)
        {
            if (lot.Contains(lat, lon, was, HysteresisMetres))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Writes the indexes of the fences of <paramref name="kind"/> that hold the point into <paramref name="inside"/>,
    /// in no particular order, and returns how many; stops when the span is full. A fence listed in
    /// <paramref name="previouslyInside"/> (sorted ascending: last fix's answer, sorted) keeps the vehicle until it is
    /// more than the hysteresis outside.
    /// </summary>
    public int FindInside(double lat, double lon, GeofenceKind kind, ReadOnlySpan<int> previouslyInside, Span<int> inside)
    {
        if (inside.IsEmpty)
        {
            return 0;
        }

        if ((uint)kind >= (uint)_indexByKind.Length)
        {
            return 0;
        }

        var visitor = new InsideCollector(lat, lon, HysteresisMetres, _catalogIndexByKind[(int)kind], previouslyInside, inside);
        _indexByKind[(int)kind].Query(lat, lon, ref visitor);
        return visitor.Found;
    }

    private ref struct InsideCollector(double lat, double lon, double hysteresisMetres, int[] catalogIndexes, ReadOnlySpan<int> previouslyInside, Span<int> inside)
        : IGeofenceVisitor
    {
        private readonly ReadOnlySpan<int> _previouslyInside = previouslyInside;
        private readonly Span<int> _inside = inside;

        public int Found { get; private set; }

        public bool Visit(int index, CompiledFence fence)
        {
            var catalogIndex = catalogIndexes[index];
            if (fence.Contains(lat, lon, _previouslyInside.BinarySearch(catalogIndex) >= 0, hysteresisMetres))
            {
                _inside[Found++] = catalogIndex;
            }

            return Found < _inside.Length;
        }
    }
}
