using System.Net;
using Fleet.Silo.Registry;
using Fleet.TestSupport;
using Fleet.Web.Vehicles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fleet.Web.Tests;

/// <summary>
/// One host per test class over a database seeded with the 200-vehicle demo province, with test-controlled live
/// states. Tests that only read share it; sessions are logged in once per user and reused (each login costs the
/// ~100 ms of PBKDF2).
/// </summary>
public sealed class SeededFleet(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly Dictionary<string, HttpClient> _sessions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _sessionLock = new(1, 1);
    private FleetHost? _host;

    internal FleetHost Host => _host ?? throw new InvalidOperationException("not initialised");

    internal FakeLiveStates Live { get; } = new();

    /// <summary>Starts at the real time; tests move it to expire locks.</summary>
    internal ManualClock Clock { get; } = new(DateTimeOffset.UtcNow);

    public NpgsqlDataSource Db { get; private set; } = null!;

    public IReadOnlyDictionary<string, string> Passwords { get; private set; } = new Dictionary<string, string>();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        Db = await postgres.CreateDatabaseAsync(cancellationToken: ct);
        _host = await FleetHost.StartAsync(
            Db.ConnectionString,
            builder =>
            {
                builder.Services.AddSingleton<ILiveStateReader>(Live);
                builder.Services.AddSingleton<TimeProvider>(Clock);
                // The tests of a class log in more than the production limit allows in a minute.
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Fleet:Auth:LoginPermitsPerMinute"] = "1000" });
            },
            ct);
        Passwords = await SeedAsync(Db, ct);

        // Deterministic live states: by position in id order, moving, stopped, parked, offline, none.
        var vehicles = await VehiclesAsync(ct);
        for (var i = 0; i < vehicles.Count; i++)
        {
            if (ExpectedState(i) is { } state)
            {
                Live.Set(new LiveVehicle(vehicles[i].Id, Clock.GetUtcNow().ToUnixTimeMilliseconds(), 40.84, 111.75, 12.5f, 90, true, 1234.5, state == "offline" ? LiveState.Moving : Enum.Parse<LiveState>(state, ignoreCase: true), state != "offline"));
            }
        }
    }

    /// <summary>The live state given to the vehicle at <paramref name="index"/> (id order); null: none known.</summary>
    public static string? ExpectedState(int index) => (index % 5) switch
    {
        0 => "moving",
        1 => "stopped",
        2 => "parked",
        3 => "offline",
        _ => null,
    };

    /// <summary>Seeds the demo province into a migrated database; returns each demo user's password.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> SeedAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var seeded = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(Vehicles: 200), null, ct);
        return seeded.Users.ToDictionary(u => u.Username, u => u.Password, StringComparer.Ordinal);
    }

    /// <summary>A logged-in session for a demo user, created on first use.</summary>
    internal async Task<HttpClient> SessionAsync(string username, CancellationToken ct)
    {
        await _sessionLock.WaitAsync(ct);
        try
        {
            if (!_sessions.TryGetValue(username, out var client))
            {
                client = Host.CreateSessionClient();
                var login = await client.LoginAsync(username, Passwords[username], ct);
                Assert.Equal(HttpStatusCode.OK, login.Status);
                _sessions[username] = client;
            }

            return client;
        }
        finally
        {
            _sessionLock.Release();
        }
    }

    public async Task<int> DepartmentOfAsync(string username, CancellationToken ct)
    {
        await using var command = Db.CreateCommand("SELECT department_id FROM users WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        return (int)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Vehicle ids per department, in id order.</summary>
    public async Task<IReadOnlyList<(long Id, int DepartmentId, string Plate)>> VehiclesAsync(CancellationToken ct)
    {
        var vehicles = new List<(long, int, string)>();
        await using var command = Db.CreateCommand("SELECT id, department_id, plate FROM vehicles ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            vehicles.Add((reader.GetInt64(0), reader.GetInt32(1), reader.GetString(2)));
        }

        return vehicles;
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        _sessionLock.Dispose();
    }
}
