using System.Collections.Immutable;
using Fleet.Core.Geofences;
using Fleet.Core.Roads;

namespace Fleet.Benchmarks;

/// <summary>
/// A synthetic province-scale fence set over a 60 km square around Hohhot: 10,000 fences in all — 5,000 department
/// lots (a third with an overflow part), 4,000 forbidden zones, 900 office zones and 100 large service areas — and
/// 23,000 vehicles spread over the 5,000 departments. Fixes are half in or near the vehicle's own lot (parked) and half
/// anywhere (driving). Seeded, so every run evaluates the same world.
/// </summary>
internal sealed class FenceWorld
{
    public const int FenceCount = 10_000;
    public const int Departments = 5_000;
    public const int Vehicles = 23_000;
    public const int FixCount = 4_096;

    private static readonly LocalProjection Hohhot = new(new GeoPoint(40.84, 111.75));

    public FenceWorld(int seed = 4)
    {
        var random = new Random(seed);
        var fences = new List<Geofence>(FenceCount);
        var lotCentres = new LocalPoint[Departments];
        for (var d = 0; d < Departments; d++)
        {
            lotCentres[d] = RandomPoint(random, 30_000);
            var parts = ImmutableArray.CreateBuilder<GeoPolygon>();
            parts.Add(new GeoPolygon(Blob(random, lotCentres[d], 30 + (random.NextDouble() * 60), random.Next(4, 13))));
            if (d % 3 == 0)
            {
                var overflow = new LocalPoint(lotCentres[d].X + 250, lotCentres[d].Y);
                parts.Add(new GeoPolygon(Blob(random, overflow, 25, 6)));
            }

            fences.Add(new Geofence(d, GeofenceKind.DesignatedLot, d, parts.ToImmutable()));
        }

        AddZones(fences, random, GeofenceKind.ForbiddenZone, 4_000, 80, 600, 8, 65);
        AddZones(fences, random, GeofenceKind.OfficeZone, 900, 300, 1_500, 12, 40);
        AddZones(fences, random, GeofenceKind.ServiceArea, 100, 8_000, 20_000, 200, 400);

        var departments = new Dictionary<long, long>(Vehicles);
        for (var v = 1; v <= Vehicles; v++)
        {
            departments[v] = v % Departments;
        }

        Catalog = new GeofenceCatalog(fences, departments);
        _serviceAreas = [.. Catalog.Fences.Where(f => f.Fence.Kind == GeofenceKind.ServiceArea)];

        Fixes = new Fix[FixCount];
        for (var i = 0; i < FixCount; i++)
        {
            var vehicle = 1 + random.Next(Vehicles);
            var place = i % 2 == 0
                ? new LocalPoint(lotCentres[vehicle % Departments].X + ((random.NextDouble() - 0.5) * 200), lotCentres[vehicle % Departments].Y + ((random.NextDouble() - 0.5) * 200))
                : RandomPoint(random, 30_000);
            var geo = Hohhot.ToGeo(place);
            Fixes[i] = new Fix(vehicle, geo.Lat, geo.Lon);
        }
    }

    private readonly CompiledFence[] _serviceAreas;

    public GeofenceCatalog Catalog { get; }

    /// <summary>The one area a vehicle may serve without an order (OUT_OF_AREA); the registry has no such column yet.</summary>
    public CompiledFence ServiceAreaOf(long vehicleId) => _serviceAreas[vehicleId % _serviceAreas.Length];

    public Fix[] Fixes { get; }

    private static void AddZones(List<Geofence> fences, Random random, GeofenceKind kind, int count, double minRadius, double maxRadius, int minVertices, int maxVertices)
    {
        for (var i = 0; i < count; i++)
        {
            var id = fences.Count;
            var shell = Blob(random, RandomPoint(random, 30_000), minRadius + (random.NextDouble() * (maxRadius - minRadius)), random.Next(minVertices, maxVertices));
            fences.Add(new Geofence(id, kind, id, [new GeoPolygon(shell)]));
        }
    }

    private static LocalPoint RandomPoint(Random random, double halfSide) =>
        new((random.NextDouble() * 2 * halfSide) - halfSide, (random.NextDouble() * 2 * halfSide) - halfSide);

    /// <summary>A star-shaped (so simple) polygon: vertices at increasing angles, radius jittered ±30%.</summary>
    private static ImmutableArray<GeoPoint> Blob(Random random, LocalPoint centre, double radius, int vertices) =>
        [.. Enumerable.Range(0, vertices).Select(v =>
        {
            var angle = 2 * Math.PI * v / vertices;
            var r = radius * (0.7 + (random.NextDouble() * 0.6));
            return Hohhot.ToGeo(new LocalPoint(centre.X + (r * Math.Cos(angle)), centre.Y + (r * Math.Sin(angle))));
        })];

    public readonly record struct Fix(long VehicleId, double Lat, double Lon);
}
