using Fleet.Core.Telemetry;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using Fleet.Web.Live;
using Fleet.Web.Tests.SignalR;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fleet.Web.Tests.Live;

/// <summary>A registry vehicle with where it belongs.</summary>
public sealed record FleetVehicle(long Id, int DepartmentId, int? ZoneId, int RegionId);

/// <summary>
/// The real co-hosted platform (Kestrel, shard host, live hub) over a database seeded with the 200-vehicle demo
/// province, after the registry map has caught up with the seed through <c>fleet_registry</c>. Every vehicle then
/// gets one report, so each has a live state: parked in a line at 40.0–40.2N, 111.0E, stopped, ignition off.
/// </summary>
public sealed class LiveFleet(PostgresFixture postgres) : IAsyncLifetime
{
    public const string Hub = LiveFrameHub.Path;

    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _cookieLock = new(1, 1);
    private FleetHost? _host;
    private readonly LiveReports _reports = new();

    internal FleetHost Host => _host ?? throw new InvalidOperationException("not initialised");

    public NpgsqlDataSource Db { get; private set; } = null!;

    public IReadOnlyDictionary<string, string> Passwords { get; private set; } = new Dictionary<string, string>();

    public IReadOnlyList<FleetVehicle> Vehicles { get; private set; } = [];

    public ShardHost Shards => Host.Services.GetRequiredService<ShardHost>();

    public LiveRegistry Registry => Host.Services.GetRequiredService<LiveRegistry>();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        Db = await postgres.CreateDatabaseAsync(cancellationToken: ct);
        _host = await FleetHost.StartAsync(
            Db.ConnectionString,
            builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Fleet:Auth:LoginPermitsPerMinute"] = "1000",
                // Fewer shard loops than the default 64: two cores, 200 vehicles.
                ["Fleet:Silo:ShardCount"] = "4",
                // Seconds rather than the default half minute, so tests see a revoked session's feed end.
                ["Fleet:Live:SessionRecheckInterval"] = "00:00:01",
            }),
            ct);

        // Seeded after the start on purpose: the registry map learns of the vehicles through the notification path.
        Passwords = await SeededFleet.SeedAsync(Db, ct);
        Vehicles = await LoadVehiclesAsync(ct);
        await WaitUntilAsync(() => Registry.Current.Vehicles.Count == Vehicles.Count, TimeSpan.FromSeconds(15), ct);

        await SubmitAsync(Vehicles.Select((v, i) => Fix(v.Id, 40.0 + (i * 0.001), 111.0, spd: 0, acc: false)).ToArray());
    }

    /// <summary>A report for <paramref name="vehicleId"/>, event time now (strictly after every earlier one).</summary>
    public InboundReport Fix(long vehicleId, double lat, double lon, float spd = float.NaN, short hdg = -1, bool? acc = null) =>
        _reports.Fix(vehicleId, lat, lon, spd, hdg, acc);

    /// <summary>Submits to the co-hosted shard host and waits for the commit, as the gateway does.</summary>
    public async Task SubmitAsync(params InboundReport[] reports)
    {
        var ct = TestContext.Current.CancellationToken;
        var committed = await Shards.SubmitAsync(reports, ct);
        await committed.WaitAsync(ct);
    }

    /// <summary>A hub connection signed in as a demo user (the login is done once per user).</summary>
    internal async Task<SignalRJsonClient> ConnectAsync(string username)
    {
        var ct = TestContext.Current.CancellationToken;
        string? cookie;
        await _cookieLock.WaitAsync(ct);
        try
        {
            if (!_cookies.TryGetValue(username, out cookie))
            {
                cookie = await SignalRJsonClientExtensions.LoginCookieAsync(Host.BaseAddress, username, Passwords[username], ct);
                _cookies[username] = cookie;
            }
        }
        finally
        {
            _cookieLock.Release();
        }

        return await SignalRJsonClient.ConnectAsync(Host.BaseAddress, Hub, cookie, ct);
    }

    public async Task<int> DepartmentOfAsync(string username)
    {
        await using var command = Db.CreateCommand("SELECT department_id FROM users WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        return (int)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {timeout}");
            }

            await Task.Delay(25, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        _cookieLock.Dispose();
    }

    private async Task<IReadOnlyList<FleetVehicle>> LoadVehiclesAsync(CancellationToken ct)
    {
        var vehicles = new List<FleetVehicle>();
        await using var command = Db.CreateCommand(
            "SELECT v.id, v.department_id, v.office_zone_id, d.region_id FROM vehicles v JOIN departments d ON d.id = v.department_id ORDER BY v.id");
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            vehicles.Add(new FleetVehicle(reader.GetInt64(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetInt32(2), reader.GetInt32(3)));
        }

        return vehicles;
    }
}
