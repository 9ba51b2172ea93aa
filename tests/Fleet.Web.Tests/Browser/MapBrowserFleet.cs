using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using Fleet.Web.Api;
using Fleet.Web.Live;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Npgsql;

namespace Fleet.Web.Tests.Browser;

/// <summary>A registry vehicle as the browser tests need it.</summary>
public sealed record MapVehicle(long Id, string Plate, string Category);

/// <summary>
/// For the browser tests: the real co-hosted platform (shard host and live hub included) over the 200-vehicle demo
/// province, where <see cref="Reporting"/> vehicles have reported a position on a grid around Hohhot (every third one
/// moving, the rest stopped) and the others never reported (unknown: not drawn). The first vehicle also has a track
/// today. One headless Chromium (Debian's, never downloaded) serves every test of the class.
/// </summary>
public sealed class MapBrowserFleet(PostgresFixture postgres) : IAsyncLifetime
{
    public const int Reporting = 180;
    public const int TrackPoints = 24;
    public const string Chromium = "/usr/bin/chromium";

    private FleetHost? _host;
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private readonly LiveReports _reports = new();

    internal FleetHost Host => _host ?? throw new InvalidOperationException("not initialised");

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("not initialised");

    public NpgsqlDataSource Db { get; private set; } = null!;

    public IReadOnlyDictionary<string, string> Passwords { get; private set; } = new Dictionary<string, string>();

    public IReadOnlyList<MapVehicle> Vehicles { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"{Chromium} is missing: run ./fleet setup (it installs Debian's chromium for the browser tests).");
        }

        // Started while the host comes up: Playwright's driver takes a second or two of its own.
        var browser = LaunchAsync();

        Db = await postgres.CreateDatabaseAsync(cancellationToken: ct);
        _host = await FleetHost.StartAsync(
            Db.ConnectionString,
            builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Fleet:Auth:LoginPermitsPerMinute"] = "1000",
                ["Fleet:Silo:ShardCount"] = "4",
            }),
            ct);
        Passwords = await SeededFleet.SeedAsync(Db, ct);
        Vehicles = await LoadVehiclesAsync(ct);
        var registry = Host.Services.GetRequiredService<LiveRegistry>();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (registry.Current.Vehicles.Count < Vehicles.Count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The live registry did not pick up the seeded vehicles.");
            }

            await Task.Delay(25, ct);
        }

        await WriteTodaysTrackAsync(Vehicles[0].Id, ct);
        var reports = Vehicles.Take(Reporting).Select((v, i) => i % 3 == 0
            ? _reports.Fix(v.Id, GridLat(i), GridLon(i), spd: 42, hdg: 90, acc: true)
            : _reports.Fix(v.Id, GridLat(i), GridLon(i), spd: 0, hdg: -1, acc: i % 2 == 0)).ToArray();
        var shards = Host.Services.GetRequiredService<ShardHost>();
        await (await shards.SubmitAsync(reports, ct)).WaitAsync(ct);

        _browser = await browser;
    }

    /// <summary>A grid of 15 columns, 0.03° apart in longitude and 0.02° in latitude: a few dozen pixels at the fitted zoom.</summary>
    public static double GridLat(int index) => 40.70 + ((index / 15) * 0.02);

    public static double GridLon(int index) => 111.45 + ((index % 15) * 0.03);

    /// <summary>Positions of <paramref name="vehicleId"/> in today's Asia/Shanghai day, as the track endpoint counts them.</summary>
    public async Task<int> TodaysPositionsAsync(long vehicleId, CancellationToken ct)
    {
        var start = ShanghaiTime.StartOfDay(DateTimeOffset.UtcNow);
        await using var command = Db.CreateCommand("SELECT count(*) FROM positions WHERE vehicle_id = $1 AND ts >= $2 AND ts < $3");
        command.Parameters.Add(new NpgsqlParameter { Value = vehicleId });
        command.Parameters.Add(new NpgsqlParameter { Value = start.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = start.AddDays(1).ToUniversalTime() });
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<IPlaywright> StartPlaywrightAsync()
    {
        _playwright = await Playwright.CreateAsync();
        return _playwright;
    }

    private async Task<IBrowser> LaunchAsync()
    {
        var playwright = await StartPlaywrightAsync();
        return await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>Today's track before the live fix: a line heading north-east to the vehicle's grid position.</summary>
    private async Task WriteTodaysTrackAsync(long vehicleId, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var dayStart = ShanghaiTime.StartOfDay(now);
        // Within today even just after midnight: from two hours ago (or midnight) to a minute ago.
        var from = now.AddHours(-2) > dayStart ? now.AddHours(-2) : dayStart;
        var to = now.AddMinutes(-1) > from ? now.AddMinutes(-1) : now;
        var step = (to - from) / TrackPoints;
        var rows = Enumerable.Range(0, TrackPoints).Select(i => new PositionRow(
            vehicleId,
            new TelemetryFix
            {
                Ts = (from + (step * i)).ToUnixTimeMilliseconds(),
                Seq = (uint)i,
                Lat = GridLat(0) - 0.05 + (i * 0.05 / TrackPoints),
                Lon = GridLon(0) - 0.08 + (i * 0.08 / TrackPoints),
                Spd = 35,
                Hdg = 45,
                Alt = float.NaN,
                Acc = true,
                Odo = 1000 + i,
                Fuel = float.NaN,
                Soc = float.NaN,
                Sats = -1,
                Hdop = float.NaN,
            },
            now.ToUnixTimeMilliseconds(),
            ReadOnlyMemory<byte>.Empty)).ToList();
        var result = await new PositionWriter(Db).WriteAsync(rows, ct);
        Assert.Equal(rows.Count, result.Inserted);
    }

    private async Task<IReadOnlyList<MapVehicle>> LoadVehiclesAsync(CancellationToken ct)
    {
        var vehicles = new List<MapVehicle>();
        await using var command = Db.CreateCommand("SELECT id, plate, category FROM vehicles ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            vehicles.Add(new MapVehicle(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }

        return vehicles;
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
