using BenchmarkDotNet.Attributes;
using Fleet.Core.Geofences;
using Fleet.Core.Telemetry;
using Fleet.Silo.Grains;

namespace Fleet.Benchmarks;

/// <summary>
/// Rule evaluation per fix with 10,000 fences (target ≤ 5 µs). The fence rules of DESIGN.md each fix needs: the vehicle's
/// own designated lots with hysteresis (PARKED_OUTSIDE_DESIGNATED, NOT_SEALED, UNREGISTERED_TRIP), every forbidden zone
/// through the R-tree (FORBIDDEN_ZONE) and its own service area (OUT_OF_AREA); office zones are for dispatch, not a
/// per-fix rule. Also a whole vehicle grain turn, which applies the report and asks the lookup about the lot as the
/// shard loop does, and, for scale, a spatial query of every kind at once (about 13 overlapping 20 km areas per point).
/// </summary>
public class RuleEvaluationBenchmarks
{
    private const int MaxZones = 64;

    private static readonly GeofenceKind[] Kinds = Enum.GetValues<GeofenceKind>();

    private FenceWorld _world = null!;
    private bool?[] _inLot = [];
    private bool[] _inArea = [];
    private VehicleGrain[] _grains = [];
    private long[] _ts = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _world = new FenceWorld();
        _inLot = new bool?[_world.Fixes.Length];
        _inArea = new bool[_world.Fixes.Length];
        var settings = GrainSettings.Default with { Geofences = new CatalogLookup(_world.Catalog) };
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _grains = [.. _world.Fixes.Select(f => new VehicleGrain(f.VehicleId, settings, now))];
        _ts = [.. _world.Fixes.Select(_ => now)];
        Settle.Run(FenceRulesPerFix);
        Settle.Run(EveryKindPerFix);
        Settle.Run(GrainTurnPerFix);
    }

    [Benchmark(Description = "fence rules per fix, 10,000 fences")]
    public int FenceRulesPerFix()
    {
        var i = _next = (_next + 1) & (FenceWorld.FixCount - 1);
        ref readonly var fix = ref _world.Fixes[i];
        var catalog = _world.Catalog;
        Span<int> inside = stackalloc int[MaxZones];
        var inLot = catalog.IsInDesignatedLot(fix.VehicleId, fix.Lat, fix.Lon, _inLot[i]);
        _inLot[i] = inLot;
        var forbidden = catalog.FindInside(fix.Lat, fix.Lon, GeofenceKind.ForbiddenZone, [], inside);
        var inArea = _inArea[i] = _world.ServiceAreaOf(fix.VehicleId).Contains(fix.Lat, fix.Lon, _inArea[i], catalog.HysteresisMetres);
        return forbidden + (inLot == true ? 1 : 0) + (inArea ? 2 : 0);
    }

    [Benchmark(Description = "spatial query, every kind, 10,000 fences")]
    public int EveryKindPerFix()
    {
        var i = _next = (_next + 1) & (FenceWorld.FixCount - 1);
        ref readonly var fix = ref _world.Fixes[i];
        var catalog = _world.Catalog;
        Span<int> inside = stackalloc int[MaxZones];
        var found = 0;
        foreach (var kind in Kinds)
        {
            found += catalog.FindInside(fix.Lat, fix.Lon, kind, [], inside);
        }

        return found;
    }

    [Benchmark(Description = "vehicle grain turn per fix, 10,000 fences")]
    public int GrainTurnPerFix()
    {
        var i = _next = (_next + 1) & (FenceWorld.FixCount - 1);
        ref readonly var fix = ref _world.Fixes[i];
        var ts = _ts[i] += 1000;
        var report = new TelemetryFix
        {
            Ts = ts,
            Seq = (uint)ts,
            Lat = fix.Lat,
            Lon = fix.Lon,
            Spd = i % 2 == 0 ? 0 : 40,
            Hdg = 90,
            Alt = float.NaN,
            Acc = i % 2 != 0,
            Odo = double.NaN,
            Fuel = float.NaN,
            Soc = float.NaN,
            Sats = -1,
            Hdop = float.NaN,
        };
        return (int)_grains[i].ApplyReport(report, ts, ts);
    }

    /// <summary>The in-memory half of RegistryGeofenceLookup, without its database: the same catalog call per fix.</summary>
    private sealed class CatalogLookup(GeofenceCatalog catalog) : IGeofenceLookup
    {
        public bool? IsInDesignatedLot(long vehicleId, double lat, double lon, bool? wasInside) =>
            catalog.IsInDesignatedLot(vehicleId, lat, lon, wasInside);
    }
}
