using System.Globalization;
using System.Text;
using System.Text.Json;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Shards;
using Fleet.Web.Tests.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fleet.Web.Tests.Platform;

/// <summary>
/// The co-hosted platform end to end: terminals publish with their own seeded credentials through a real Mosquitto
/// running on the files the host generated from the registry; the reports land once in positions, in the grains'
/// live state, in hub frames to a subscribed supervisor, and in the REST API.
/// </summary>
public sealed class PlatformEndToEndTests(CoHostedPlatform platform) : IClassFixture<CoHostedPlatform>
{
    private const int Terminals = 5;
    private const int ReportsEach = 10;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task Terminals_publishing_through_the_real_broker_reach_positions_once_the_hub_and_the_live_api()
    {
        var terminals = platform.SeededTerminals.Take(Terminals).ToList();
        var cookie = await SignalRJsonClientExtensions.LoginCookieAsync(platform.BaseAddress, "supervisor", platform.Passwords["supervisor"], Ct);
        await using var hub = await SignalRJsonClient.ConnectAsync(platform.BaseAddress, "/hubs/live", cookie, Ct);
        await hub.InvokeAsync("Subscribe", [new { kind = "all" }], Ct);

        // Each terminal uses its own credentials, which exist only in the files the host generated from the registry.
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (ReportsEach * 1000);
        var last = start + ((ReportsEach - 1) * 1000);
        foreach (var terminal in terminals)
        {
            await using var client = await platform.ConnectWhenAcceptedAsync(terminal.Id, terminal.Password, Ct);
            for (var i = 0; i < ReportsEach; i++)
            {
                var payload = string.Create(CultureInfo.InvariantCulture, $$"""{"ts":{{start + (i * 1000)}},"seq":{{i}},"lat":{{40.80 + (i * 0.001)}},"lon":111.70,"spd":42.5,"acc":true}""");
                var result = await client.PublishAsync($"fleet/v1/{terminal.Id}/telemetry", Encoding.UTF8.GetBytes(payload), MqttQualityOfService.AtLeastOnce, cancellationToken: Ct);
                Assert.True(result.IsSuccess, result.ReasonName);
            }
        }

        var ids = terminals.Select(t => t.VehicleId).ToArray();
        Assert.Equal(Terminals * ReportsEach, await EventuallyStoredAsync(platform.Db, ids, Terminals * ReportsEach));
        Assert.Equal((long)(Terminals * ReportsEach), await ScalarAsync(platform.Db, "SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions WHERE vehicle_id = ANY($1)", ids));

        var shards = platform.Services.GetRequiredService<ShardHost>();
        foreach (var terminal in terminals)
        {
            Assert.True(shards.TryGetLiveState(terminal.VehicleId, out var live), $"no live state for vehicle {terminal.VehicleId}");
            Assert.Equal(last, live.Ts);
        }

        // Frames carry the changed vehicles as [id, lat, lon, spd, hdg, state, acc, ts, online]; the newest row per
        // vehicle must be its last report, in epoch ms.
        var framed = new Dictionary<long, JsonElement>();
        var frameDeadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < frameDeadline && !ids.All(id => framed.TryGetValue(id, out var row) && row[7].GetInt64() == last))
        {
            var frame = await hub.NextAsync("frame", TimeSpan.FromSeconds(2), Ct);
            foreach (var row in frame?.Arguments[0].GetProperty("rows").EnumerateArray() ?? Enumerable.Empty<JsonElement>())
            {
                framed[row[0].GetInt64()] = row.Clone();
            }
        }

        foreach (var id in ids)
        {
            Assert.True(framed.TryGetValue(id, out var row), $"no hub frame for vehicle {id}");
            Assert.Equal(last, row[7].GetInt64());
            Assert.Equal(0, row[5].GetInt32()); // moving: 42.5 km/h
        }

        var admin = await platform.SessionAsync("admin", Ct);
        using var vehicle = JsonDocument.Parse(await admin.GetStringAsync($"/api/vehicles/{terminals[0].VehicleId}", Ct));
        var liveJson = vehicle.RootElement.GetProperty("live");
        Assert.Equal(last, liveJson.GetProperty("ts").GetInt64());
        Assert.Equal(40.809, liveJson.GetProperty("lat").GetDouble(), 6);

        using var health = JsonDocument.Parse(await admin.GetStringAsync("/health", Ct));
        var checks = health.RootElement.GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("gateway").GetProperty("status").GetString());
    }

    private static async Task<long> EventuallyStoredAsync(NpgsqlDataSource db, long[] ids, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long count;
        do
        {
            count = await ScalarAsync(db, "SELECT count(*) FROM positions WHERE vehicle_id = ANY($1)", ids);
            if (count >= expected)
            {
                break;
            }

            await Task.Delay(100, Ct);
        }
        while (DateTime.UtcNow < deadline);
        return count;
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql, long[] ids)
    {
        await using var command = db.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
