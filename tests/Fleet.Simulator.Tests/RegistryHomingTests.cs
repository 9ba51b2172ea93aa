using Fleet.Core.Roads;
using Fleet.Silo.Persistence;
using Fleet.Silo.Registry;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Reports;
using Fleet.Simulator.Running;
using Fleet.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fleet.Simulator.Tests;

/// <summary>Homing from a seeded registry: the credentials file the seeder writes, and the lots in the database.</summary>
public sealed class RegistryHomingTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task With_a_database_every_vehicle_is_homed_at_its_departments_lot_and_parks_inside_it_at_night()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = await postgres.CreateDatabaseAsync(cancellationToken: ct);
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, ct);
        var seeded = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(Vehicles: 300, Seed: 11), progress: null, ct);
        var file = Path.Combine(Directory.CreateTempSubdirectory("fleet-simulator-").FullName, "demo-credentials.json");
        await DemoCredentialsFile.WriteAsync(file, seeded, ct);

        var terminals = await FleetLoader.ReadCredentialsAsync(file, ct);
        var (profiles, fromRegistry) = await FleetLoader.BuildProfilesAsync(terminals, db.ConnectionString, seed: 11, ct);

        Assert.Equal(300, terminals.Count);
        Assert.Equal(300, fromRegistry);
        Assert.Contains(profiles, p => p.Region.Code == "150200"); // Baotou, not only Hohhot
        Assert.Contains(profiles, p => p.Energy == EnergyKind.Electric);
        Assert.Contains(profiles, p => p.Category == VehicleCategories.LawEnforcement);
        Assert.Contains(profiles, p => p.Category == VehicleCategories.General);

        // Every vehicle drives on a 盟市 network, the one the map draws, even the province's own departments'.
        Assert.All(profiles, p => Assert.NotEqual("150000", p.Region.Code));

        // At 03:00 every vehicle off the duty roster reports from inside one of its department's lot polygons.
        var vehicles = SimulationRunner.CreateVehicles(profiles, BehaviourSettings.Default, seed: 11);
        Assert.Contains(vehicles, v => v.IsOnDuty);
        Assert.All(vehicles.Where(v => v.IsOnDuty), v => Assert.Contains(v.Profile.Category, new[] { VehicleCategories.LawEnforcement, VehicleCategories.Emergency }));
        vehicles = vehicles.Where(v => !v.IsOnDuty).ToList();
        var now = TestFleet.Shanghai(2025, 11, 19, 3).ToUnixTimeMilliseconds();
        var outbox = new Outbox();
        var ids = new long[vehicles.Count];
        var lats = new double[vehicles.Count];
        var lons = new double[vehicles.Count];
        for (var v = 0; v < vehicles.Count; v++)
        {
            outbox.Clear();
            vehicles[v].Tick(now, outbox);
            var fix = Assert.Single(Assert.Single(TestFleet.Telemetry(outbox, now)));
            Assert.Equal(false, fix.Acc);
            ids[v] = vehicles[v].Profile.VehicleId;
            lats[v] = fix.Lat;
            lons[v] = fix.Lon;
            Assert.True(vehicles[v].HomeLot.Length < vehicles[v].Network.RadiusMetres, "lot inside the network");
        }

        await using var command = db.CreateCommand(
            """
            SELECT count(*) FROM unnest(@ids, @lats, @lons) AS r(id, lat, lon)
            JOIN vehicles v ON v.id = r.id JOIN departments d ON d.id = v.department_id
            WHERE ST_Contains(d.parking_lot, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326))
            """);
        command.Parameters.Add(new NpgsqlParameter("ids", ids));
        command.Parameters.Add(new NpgsqlParameter("lats", lats));
        command.Parameters.Add(new NpgsqlParameter("lons", lons));
        Assert.Equal((long)vehicles.Count, await command.ExecuteScalarAsync(ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task Without_a_database_the_plate_prefix_gives_the_region()
    {
        TerminalCredential[] terminals =
        [
            new("T1", "p", 1, "蒙A12345"),
            new("T2", "p", 2, "蒙B0001警"),
            new("T3", "p", 3, "蒙KD12345"),
            new("T4", "p", 4, "京A12345"),
        ];

        var (profiles, fromRegistry) = await FleetLoader.BuildProfilesAsync(terminals, connectionString: null, seed: 1, TestContext.Current.CancellationToken);

        Assert.Equal(0, fromRegistry);
        Assert.Equal(["呼和浩特市", "包头市", "鄂尔多斯市", "呼和浩特市"], profiles.Select(p => p.Region.Name));
        Assert.Equal([EnergyKind.Fuel, EnergyKind.Fuel, EnergyKind.Electric, EnergyKind.Fuel], profiles.Select(p => p.Energy));
        Assert.Equal(
            [VehicleCategories.General, VehicleCategories.LawEnforcement, VehicleCategories.General, VehicleCategories.General],
            profiles.Select(p => p.Category));
        Assert.All(profiles, p =>
        {
            var distance = new LocalProjection(p.Region.Centre).ToLocal(p.HomeLot).Length;
            Assert.InRange(distance, 700, 6_100);
        });
    }
}
