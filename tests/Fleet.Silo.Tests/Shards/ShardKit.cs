using System.Collections.Concurrent;
using Fleet.Core.Telemetry;
using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Fleet.Silo.Shards;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Silo.Tests.Shards;

/// <summary>Builders for shard-host tests: fixes, reports, hosts over a test database, and a registry to snapshot against.</summary>
internal static class ShardKit
{
    /// <summary>2025-06-02 10:00 in Asia/Shanghai (02:00 UTC): manual clocks start here.</summary>
    public static readonly DateTimeOffset Morning = new(2025, 6, 2, 2, 0, 0, TimeSpan.Zero);

    /// <summary>Settings for manual-clock tests: group commit (no flush timer to advance) and no background surprises.</summary>
    public static SiloOptions ManualClockOptions => new()
    {
        ShardCount = 4,
        FlushInterval = TimeSpan.Zero,
        SweepInterval = TimeSpan.FromMinutes(10),
        SnapshotInterval = TimeSpan.FromSeconds(5),
        OfflineTimeout = TimeSpan.FromMinutes(5),
        ParkedAfter = TimeSpan.FromMinutes(5),
        IdleDeactivation = TimeSpan.FromMinutes(30),
    };

    public static TelemetryFix Fix(long ts, uint seq, double lat, double lon, float spd = float.NaN, double odo = double.NaN, bool? acc = null) => new()
    {
        Ts = ts,
        Seq = seq,
        Lat = lat,
        Lon = lon,
        Spd = spd,
        Hdg = -1,
        Alt = float.NaN,
        Acc = acc,
        Odo = odo,
        Fuel = float.NaN,
        Soc = float.NaN,
        Sats = -1,
        Hdop = float.NaN,
    };

    public static InboundReport Report(long vehicleId, TelemetryFix fix, long receivedAtMs) => new(vehicleId, fix, receivedAtMs, default);

    public static ShardHost CreateHost(NpgsqlDataSource db, SiloOptions options, TimeProvider? time = null, ILiveStateSink? sink = null) => new(
        db,
        new PositionWriter(db),
        Options.Create(options),
        sink ?? NullLiveStateSink.Instance,
        NullGeofenceLookup.Instance,
        time ?? TimeProvider.System,
        NullLogger<ShardHost>.Instance);

    /// <summary>Submits and waits for the commit: what the gateway does before it acknowledges.</summary>
    public static async Task SubmitAndCommitAsync(this ShardHost host, params InboundReport[] reports)
    {
        var committed = await host.SubmitAsync(reports, TestContext.Current.CancellationToken);
        await committed.WaitAsync(TestContext.Current.CancellationToken);
    }

    public static VehicleLiveState Live(this ShardHost host, long vehicleId) =>
        host.TryGetLiveState(vehicleId, out var state) ? state : throw new Xunit.Sdk.XunitException($"vehicle {vehicleId} has no live state");

    /// <summary>Vehicles 1..count in one department: <c>vehicle_state</c> references <c>vehicles</c>.</summary>
    public static async Task SeedVehiclesAsync(NpgsqlDataSource db, int count)
    {
        await using (var registry = db.CreateCommand("""
            INSERT INTO regions (id, code, name, level) VALUES (1, '150000', '内蒙古自治区', 'province');
            INSERT INTO departments (id, region_id, name) VALUES (1, 1, '测试单位');
            """))
        {
            await registry.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        await using var vehicles = db.CreateCommand("""
            INSERT INTO vehicles (id, plate, vin, category, department_id, energy, seats)
            SELECT i, '蒙A' || lpad(i::text, 5, '0'), 'LFV' || lpad(i::text, 14, '0'), 'general', 1, 'gasoline', 5
            FROM generate_series(1, $1) AS i
            """);
        vehicles.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        await vehicles.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }
}

/// <summary>Keeps every live frame published, in order per vehicle.</summary>
internal sealed class RecordingLiveStateSink : ILiveStateSink
{
    private readonly ConcurrentQueue<VehicleLiveState> _states = new();

    public IReadOnlyCollection<VehicleLiveState> States => _states;

    public void OnChanged(ReadOnlySpan<VehicleLiveState> states)
    {
        foreach (var state in states)
        {
            _states.Enqueue(state);
        }
    }
}
