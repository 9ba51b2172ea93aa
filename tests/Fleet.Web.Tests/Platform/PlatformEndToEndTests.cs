using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Fleet.Core.Security;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using Fleet.Web.Tests.SignalR;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fleet.Web.Tests.Platform;

/// <summary>
/// The co-hosted platform as ./fleet up runs it: the host seeds the registry, writes the broker's password and
/// ACL files from it, and its gateway feeds the shards from a real Mosquitto running on those files. Terminals
/// publish with their own seeded credentials; reports land once in positions, in the grains' live state, in
/// hub frames to a subscribed supervisor, and in the REST API.
/// </summary>
public sealed class PlatformEndToEndTests(PostgresFixture postgres) : IAsyncDisposable
{
    private const int Vehicles = 20;
    private const int Terminals = 5;
    private const int ReportsEach = 10;

    private readonly string _directory = Directory.CreateTempSubdirectory("fleet-platform-").FullName;
    private readonly string _gatewayPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
    private MosquittoServer? _broker;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact(Timeout = 120_000)]
    public async Task Terminals_publishing_through_the_real_broker_reach_positions_once_the_hub_and_the_live_api()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var files = await StartBrokerAsync();

        await using var app = FleetHost.Build(new Dictionary<string, string?>
        {
            ["Fleet:Database:ConnectionString"] = db.ConnectionString,
            ["Fleet:Demo:SeedVehicles"] = Vehicles.ToString(CultureInfo.InvariantCulture),
            ["Fleet:Demo:CredentialsFile"] = Path.Combine(_directory, "demo-credentials.json"),
            ["Fleet:Broker:PasswordFile"] = files.Passwords,
            ["Fleet:Broker:AclFile"] = files.Acl,
            ["Fleet:Broker:PidFile"] = files.Pid,
            ["Fleet:Broker:GatewayPasswordHash"] = files.GatewayHash,
            ["Fleet:Broker:FileGroup"] = Environment.IsPrivilegedProcess ? "mosquitto" : "",
            ["Fleet:Mqtt:Host"] = MosquittoServer.Host,
            ["Fleet:Mqtt:Port"] = _broker!.Port.ToString(CultureInfo.InvariantCulture),
            ["Fleet:Mqtt:Username"] = "fleet-gateway",
            ["Fleet:Mqtt:Password"] = _gatewayPassword,
        });
        await app.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        using var credentials = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "demo-credentials.json"), Ct));
        var terminals = credentials.RootElement.GetProperty("terminals").EnumerateArray().Take(Terminals)
            .Select(t => (Id: t.GetProperty("terminalId").GetString()!, Password: t.GetProperty("password").GetString()!, VehicleId: t.GetProperty("vehicleId").GetInt64()))
            .ToList();

        var supervisor = credentials.RootElement.GetProperty("users").EnumerateArray().First(u => u.GetProperty("role").GetString() == "supervisor");
        var cookie = await SignalRJsonClientExtensions.LoginCookieAsync(new Uri(app.Urls.First()), "supervisor", supervisor.GetProperty("password").GetString()!, Ct);
        await using var hub = await SignalRJsonClient.ConnectAsync(new Uri(app.Urls.First()), "/hubs/live", cookie, Ct);
        await hub.InvokeAsync("Subscribe", [new { kind = "all" }], Ct);

        // Each terminal uses its own credentials, which exist only in the files the host generated from the registry.
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (ReportsEach * 1000);
        foreach (var terminal in terminals)
        {
            await using var client = await ConnectWhenAcceptedAsync(terminal.Id, terminal.Password);
            for (var i = 0; i < ReportsEach; i++)
            {
                var payload = string.Create(CultureInfo.InvariantCulture, $$"""{"ts":{{start + (i * 1000)}},"seq":{{i}},"lat":{{40.80 + (i * 0.001)}},"lon":111.70,"spd":42.5,"acc":true}""");
                var result = await client.PublishAsync($"fleet/v1/{terminal.Id}/telemetry", Encoding.UTF8.GetBytes(payload), MqttQualityOfService.AtLeastOnce, cancellationToken: Ct);
                Assert.True(result.IsSuccess, result.ReasonName);
            }
        }

        var stored = await EventuallyAsync(db, Terminals * ReportsEach);
        Assert.Equal(Terminals * ReportsEach, stored);
        Assert.Equal((long)(Terminals * ReportsEach), await ScalarAsync(db, "SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions"));

        var shards = app.Services.GetRequiredService<ShardHost>();
        foreach (var terminal in terminals)
        {
            Assert.True(shards.TryGetLiveState(terminal.VehicleId, out var live), $"no live state for vehicle {terminal.VehicleId}");
            Assert.Equal(start + ((ReportsEach - 1) * 1000), live.Ts);
        }

        // Frames carry the changed vehicles as [id, lat, lon, spd, hdg, state, acc, ts, online]; the newest row per
        // vehicle must be its last report, in seconds.
        var framed = new Dictionary<long, JsonElement>();
        var wanted = terminals.Select(t => t.VehicleId).ToHashSet();
        var frameDeadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < frameDeadline && !wanted.All(id => framed.TryGetValue(id, out var row) && row[7].GetInt64() == (start + ((ReportsEach - 1) * 1000)) / 1000))
        {
            var frame = await hub.NextAsync("frame", TimeSpan.FromSeconds(2), Ct);
            foreach (var row in frame?.Arguments[0].GetProperty("rows").EnumerateArray() ?? Enumerable.Empty<JsonElement>())
            {
                framed[row[0].GetInt64()] = row.Clone();
            }
        }

        foreach (var id in wanted)
        {
            Assert.True(framed.TryGetValue(id, out var row), $"no hub frame for vehicle {id}");
            Assert.Equal((start + ((ReportsEach - 1) * 1000)) / 1000, row[7].GetInt64());
            Assert.Equal(0, row[5].GetInt32()); // moving: 42.5 km/h
        }

        var admin = credentials.RootElement.GetProperty("users").EnumerateArray().First(u => u.GetProperty("role").GetString() == "admin");
        using (var login = await http.PostAsync(
            "/api/auth/login",
            new StringContent(JsonSerializer.Serialize(new { username = "admin", password = admin.GetProperty("password").GetString() }), Encoding.UTF8, "application/json"),
            Ct))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        }

        using var vehicle = JsonDocument.Parse(await http.GetStringAsync($"/api/vehicles/{terminals[0].VehicleId}", Ct));
        var liveJson = vehicle.RootElement.GetProperty("live");
        Assert.Equal(start + ((ReportsEach - 1) * 1000), liveJson.GetProperty("ts").GetInt64());
        Assert.Equal(40.809, liveJson.GetProperty("lat").GetDouble(), 6);

        using var health = JsonDocument.Parse(await http.GetStringAsync("/health", Ct));
        Assert.Equal("Healthy", health.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());

        await app.StopAsync(Ct);
    }

    /// <summary>Mosquitto needs its password file before it starts: the gateway user alone, until the host rewrites it.</summary>
    private async Task<(string Passwords, string Acl, string Pid, string GatewayHash)> StartBrokerAsync()
    {
        var passwords = Path.Combine(_directory, "passwd");
        var acl = Path.Combine(_directory, "acl");
        var pid = Path.Combine(_directory, "mosquitto.pid");
        var gatewayHash = MosquittoPasswordHash.Create(_gatewayPassword);
        await File.WriteAllTextAsync(passwords, $"fleet-gateway:{gatewayHash}\n", Ct);
        await File.WriteAllTextAsync(acl, "user fleet-gateway\ntopic read fleet/v1/+/telemetry\ntopic read fleet/v1/+/status\n", Ct);
        if (Environment.IsPrivilegedProcess)
        {
            // Mosquitto drops to its own user, which must read the files and write its pid file here.
            var chown = await MosquittoProcessRunner.RunAsync("chown", ["-R", "mosquitto:mosquitto", _directory], TimeSpan.FromSeconds(10), Ct);
            Assert.True(chown.ExitCode == 0, chown.StandardError);
        }

        _broker = await MosquittoServer.StartAsync(
            new MosquittoServerOptions { ExternalPasswordFile = passwords, ExternalAclFile = acl, ExtraConfig = [$"pid_file {pid}"] },
            Ct);
        return (passwords, acl, pid, gatewayHash);
    }

    /// <summary>The broker learns the seeded terminals when the host's sync rewrites its files and signals it.</summary>
    private async Task<MqttClient> ConnectWhenAcceptedAsync(string terminalId, string password)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var client = new MqttClient(new MqttClientOptions
            {
                Host = MosquittoServer.Host,
                Port = _broker!.Port,
                ClientId = terminalId,
                Username = terminalId,
                Password = password,
                ProtocolVersion = MqttProtocolVersion.V500,
                AutoReconnect = false,
                ConnectTimeout = TimeSpan.FromSeconds(5),
            });
            try
            {
                await client.ConnectAsync(Ct);
                return client;
            }
            catch (MqttConnectException) when (DateTime.UtcNow < deadline)
            {
                await client.DisposeAsync();
                await Task.Delay(200, Ct);
            }
        }
    }

    private static async Task<long> EventuallyAsync(NpgsqlDataSource db, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long count;
        do
        {
            count = await ScalarAsync(db, "SELECT count(*) FROM positions");
            if (count >= expected)
            {
                break;
            }

            await Task.Delay(100, Ct);
        }
        while (DateTime.UtcNow < deadline);
        return count;
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
