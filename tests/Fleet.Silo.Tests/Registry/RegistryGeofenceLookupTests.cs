using Fleet.Silo.Persistence;
using Fleet.Silo.Registry;
using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fleet.Silo.Tests.Registry;

public sealed class RegistryGeofenceLookupTests(PostgresFixture postgres)
{
    private const int Timeout = 120_000;

    private static readonly PostgresNotificationListenerOptions FastListener = new()
    {
        Debounce = TimeSpan.FromMilliseconds(50),
        MaxDelay = TimeSpan.FromMilliseconds(200),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(NpgsqlDataSource Db, RegistryGeofenceLookup Lookup)> StartSeededAsync(int vehicles = 300)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(vehicles), null, Ct);
        var lookup = new RegistryGeofenceLookup(db, TimeProvider.System, NullLogger<RegistryGeofenceLookup>.Instance, FastListener);
        await lookup.StartAsync(Ct);
        return (db, lookup);
    }

    private static async Task WaitForReloadAsync(RegistryGeofenceLookup lookup, long afterLoads, Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(lookup.LoadCount > afterLoads && condition()))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no reload seen (loads: {lookup.LoadCount})");
            await Task.Delay(50, Ct);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task Start_loads_every_departments_lot_and_answers_as_PostGIS_does()
    {
        var (db, lookup) = await StartSeededAsync();
        try
        {
            Assert.True(lookup.IsLoaded);
            var lots = await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM departments WHERE parking_lot IS NOT NULL");
            Assert.True(lots > 0);
            Assert.Equal(lots, lookup.Catalog.Fences.Count(f => f.Fence.Kind == Fleet.Core.Geofences.GeofenceKind.DesignatedLot));

            // Points scattered within 150 m of each vehicle's own lot: our answer must be PostGIS's ST_Covers (boundary in).
            await using var command = db.CreateCommand(
                """
                SELECT v.id, ST_Y(p.pt), ST_X(p.pt), ST_Covers(d.parking_lot, p.pt)
                FROM vehicles v
                JOIN departments d ON d.id = v.department_id
                CROSS JOIN LATERAL generate_series(1, 8) AS g(n)
                CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(
                    ST_X(ST_Centroid(d.parking_lot)) + (random() - 0.5) * 0.004,
                    ST_Y(ST_Centroid(d.parking_lot)) + (random() - 0.5) * 0.003), 4326) AS pt) p
                WHERE d.parking_lot IS NOT NULL
                """);
            await using var reader = await command.ExecuteReaderAsync(Ct);
            int checkedPoints = 0, inside = 0;
            while (await reader.ReadAsync(Ct))
            {
                var expected = reader.GetBoolean(3);
                Assert.Equal(expected, lookup.IsInDesignatedLot(reader.GetInt64(0), reader.GetDouble(1), reader.GetDouble(2), wasInside: false));
                checkedPoints++;
                inside += expected ? 1 : 0;
            }

            Assert.True(checkedPoints >= 300 * 8 / 2, $"only {checkedPoints} points checked");
            Assert.InRange(inside, 1, checkedPoints - 1);
        }
        finally
        {
            await lookup.StopAsync(CancellationToken.None);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task A_changed_lot_is_picked_up_from_the_registry_notice()
    {
        var (db, lookup) = await StartSeededAsync();
        try
        {
            var vehicleId = await TestDb.ScalarAsync<long>(db, "SELECT v.id FROM vehicles v JOIN departments d ON d.id = v.department_id WHERE d.parking_lot IS NOT NULL ORDER BY v.id LIMIT 1");
            var (lat, lon) = await PointOnLotAsync(db, vehicleId);
            Assert.True(lookup.IsInDesignatedLot(vehicleId, lat, lon, null));

            // The department's lot moves 0.1° (about 8 km) east: the old spot is no longer in it.
            var loads = lookup.LoadCount;
            await TestDb.ExecuteAsync(db, "UPDATE departments SET parking_lot = ST_Translate(parking_lot, 0.1, 0) WHERE id = (SELECT department_id FROM vehicles WHERE id = $1)", vehicleId);
            await WaitForReloadAsync(lookup, loads, () => lookup.IsInDesignatedLot(vehicleId, lat, lon, null) == false);
            Assert.True(lookup.IsInDesignatedLot(vehicleId, lat, lon + 0.1, null));

            // The lot is removed: nothing to be in any more.
            loads = lookup.LoadCount;
            await TestDb.ExecuteAsync(db, "UPDATE departments SET parking_lot = NULL WHERE id = (SELECT department_id FROM vehicles WHERE id = $1)", vehicleId);
            await WaitForReloadAsync(lookup, loads, () => lookup.IsInDesignatedLot(vehicleId, lat, lon + 0.1, null) is null);
        }
        finally
        {
            await lookup.StopAsync(CancellationToken.None);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task A_vehicle_moved_to_another_department_uses_that_departments_lot()
    {
        var (db, lookup) = await StartSeededAsync();
        try
        {
            var vehicleId = await TestDb.ScalarAsync<long>(db, "SELECT v.id FROM vehicles v JOIN departments d ON d.id = v.department_id WHERE d.parking_lot IS NOT NULL ORDER BY v.id LIMIT 1");
            var other = await TestDb.ScalarAsync<int>(
                db,
                """
                SELECT d.id FROM departments d, vehicles v
                WHERE v.id = $1 AND d.id <> v.department_id AND d.parking_lot IS NOT NULL
                  AND NOT ST_Intersects(ST_Expand(d.parking_lot, 0.01), (SELECT parking_lot FROM departments WHERE id = v.department_id))
                ORDER BY d.id LIMIT 1
                """,
                vehicleId);
            var (ownLat, ownLon) = await PointOnLotAsync(db, vehicleId);
            Assert.True(lookup.IsInDesignatedLot(vehicleId, ownLat, ownLon, null));

            var loads = lookup.LoadCount;
            await TestDb.ExecuteAsync(db, "UPDATE vehicles SET department_id = $1 WHERE id = $2", other, vehicleId);
            await WaitForReloadAsync(lookup, loads, () => lookup.IsInDesignatedLot(vehicleId, ownLat, ownLon, null) == false);
            var (newLat, newLon) = await PointOnLotAsync(db, vehicleId);
            Assert.True(lookup.IsInDesignatedLot(vehicleId, newLat, newLon, null));
        }
        finally
        {
            await lookup.StopAsync(CancellationToken.None);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task Before_the_first_load_every_answer_is_unknown()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var lookup = new RegistryGeofenceLookup(db, TimeProvider.System, NullLogger<RegistryGeofenceLookup>.Instance, FastListener);
        Assert.False(lookup.IsLoaded);
        Assert.Null(lookup.IsInDesignatedLot(1, 40.84, 111.75, true));
        await lookup.ReloadAsync(Ct);
        Assert.True(lookup.IsLoaded);
        Assert.Equal(1, lookup.LoadCount);
    }

    private static async Task<(double Lat, double Lon)> PointOnLotAsync(NpgsqlDataSource db, long vehicleId)
    {
        await using var command = db.CreateCommand("SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_PointOnSurface(d.parking_lot) AS p FROM vehicles v JOIN departments d ON d.id = v.department_id WHERE v.id = $1) s");
        command.Parameters.Add(new NpgsqlParameter { Value = vehicleId });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        return (reader.GetDouble(0), reader.GetDouble(1));
    }
}
