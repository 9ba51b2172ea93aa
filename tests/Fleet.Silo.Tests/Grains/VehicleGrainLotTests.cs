using Fleet.Core.Geofences;
using Fleet.Core.Roads;
using Fleet.Core.Telemetry;
using Fleet.Silo.Grains;

namespace Fleet.Silo.Tests.Grains;

public sealed class VehicleGrainLotTests
{
    private const long VehicleId = 7;
    private static readonly LocalProjection Hohhot = new(new GeoPoint(40.84, 111.75));

    // Department 3's lot: 100 m × 60 m with its south-west corner at the origin.
    private static readonly GeofenceCatalog Catalog = new(
        [new Geofence(1, GeofenceKind.DesignatedLot, 3, [new GeoPolygon([.. new[] { (0.0, 0.0), (100.0, 0.0), (100.0, 60.0), (0.0, 60.0) }.Select(p => Hohhot.ToGeo(new LocalPoint(p.Item1, p.Item2)))])])],
        new Dictionary<long, long> { [VehicleId] = 3 });

    private sealed class CatalogLookup : IGeofenceLookup
    {
        public bool? IsInDesignatedLot(long vehicleId, double lat, double lon, bool? wasInside) => Catalog.IsInDesignatedLot(vehicleId, lat, lon, wasInside);
    }

    private static bool? Apply(VehicleGrain grain, long ts, double x, double y)
    {
        var p = Hohhot.ToGeo(new LocalPoint(x, y));
        grain.ApplyReport(new TelemetryFix { Ts = ts, Seq = (uint)ts, Lat = p.Lat, Lon = p.Lon, Spd = 0, Odo = double.NaN, Hdg = -1, Alt = float.NaN, Fuel = float.NaN, Soc = float.NaN, Hdop = float.NaN, Sats = -1 }, ts, ts);
        return grain.GetLiveState().InLot;
    }

    [Fact]
    public void A_car_parked_on_the_lot_edge_stays_in_the_lot_through_GPS_jitter_and_leaves_beyond_the_hysteresis()
    {
        var grain = new VehicleGrain(VehicleId, GrainSettings.Default with { Geofences = new CatalogLookup() }, 0);
        var ts = 1_800_000_000_000;

        Assert.True(Apply(grain, ts += 1000, 99, 30));

        // Jitter of up to 15 m across the east edge: the grain hands its last answer back, so it never flaps out.
        var random = new Random(3);
        for (var i = 0; i < 200; i++)
        {
            Assert.True(Apply(grain, ts += 1000, 100 + ((random.NextDouble() * 30) - 15), 30));
        }

        Assert.False(Apply(grain, ts += 1000, 130, 30));

        // Coming back, 10 m outside is not yet in: entering needs the lot itself.
        Assert.False(Apply(grain, ts += 1000, 110, 30));
        Assert.True(Apply(grain, ts += 1000, 95, 30));
    }

    [Fact]
    public void Without_a_lookup_the_lot_is_unknown()
    {
        var grain = new VehicleGrain(VehicleId, GrainSettings.Default, 0);
        Assert.Null(Apply(grain, 1_800_000_000_000, 50, 30));
    }
}
