using System.Net;
using System.Text.Json;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;

namespace Fleet.Web.Tests;

public sealed class TrackTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private static readonly DateTimeOffset Day = new(2026, 11, 20, 0, 0, 0, TimeSpan.FromHours(8));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Track_returns_the_positions_of_the_range_in_time_order_as_GeoJSON()
    {
        var vehicle = (await fleet.VehiclesAsync(Ct))[10].Id;
        // Written out of order, with one before and one after the range.
        var minutes = new[] { 30, 10, 20, 50, 40 };
        await WriteAsync(vehicle, [.. minutes.Select(m => Day.AddHours(9).AddMinutes(m)), Day.AddHours(8).AddMinutes(59), Day.AddHours(11)]);
        var admin = await fleet.SessionAsync("admin", Ct);

        var from = Uri.EscapeDataString(Day.AddHours(9).ToString("O"));
        var track = await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from={from}&to=2026-11-20T11:00:00", Ct);

        Assert.Equal(HttpStatusCode.OK, track.Status);
        var body = track.Body;
        Assert.Equal("FeatureCollection", body.GetProperty("type").GetString());
        Assert.Equal(5, body.GetProperty("count").GetInt32());
        Assert.False(body.GetProperty("truncated").GetBoolean());
        // No offset in "to" means Asia/Shanghai; the window comes back in +08:00.
        Assert.Equal(Day.AddHours(11), body.GetProperty("to").GetDateTimeOffset());
        var feature = Assert.Single(body.GetProperty("features").EnumerateArray());
        Assert.Equal("Feature", feature.GetProperty("type").GetString());
        Assert.Equal("LineString", feature.GetProperty("geometry").GetProperty("type").GetString());
        var ts = feature.GetProperty("properties").GetProperty("ts").EnumerateArray().Select(t => t.GetInt64()).ToList();
        Assert.Equal(minutes.Order().Select(m => Day.AddHours(9).AddMinutes(m).ToUnixTimeMilliseconds()), ts);
        var coordinates = feature.GetProperty("geometry").GetProperty("coordinates").EnumerateArray().ToList();
        Assert.Equal(5, coordinates.Count);
        // [lon, lat], and the longitude grows with time as written.
        Assert.Equal(minutes.Order().Select(m => Lon(Day.AddHours(9).AddMinutes(m))), coordinates.Select(c => c[0].GetDouble()));
        Assert.All(coordinates, c => Assert.Equal(40.84, c[1].GetDouble()));
        Assert.Equal(5, feature.GetProperty("properties").GetProperty("spd").GetArrayLength());
    }

    [Fact(Timeout = 30_000)]
    public async Task Track_defaults_to_today_in_Shanghai_and_shows_a_lone_fix_as_a_Point()
    {
        var vehicle = (await fleet.VehiclesAsync(Ct))[11].Id;
        var now = DateTimeOffset.FromUnixTimeMilliseconds(fleet.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        await WriteAsync(vehicle, [now]);
        var admin = await fleet.SessionAsync("admin", Ct);

        var track = await admin.GetApiAsync($"/api/vehicles/{vehicle}/track", Ct);

        Assert.Equal(HttpStatusCode.OK, track.Status);
        var from = track.Body.GetProperty("from").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromHours(8), from.Offset);
        Assert.Equal(TimeSpan.Zero, from.TimeOfDay);
        Assert.Equal(from.AddDays(1), track.Body.GetProperty("to").GetDateTimeOffset());
        var feature = Assert.Single(track.Body.GetProperty("features").EnumerateArray());
        Assert.Equal("Point", feature.GetProperty("geometry").GetProperty("type").GetString());
        Assert.Equal(now.ToUnixTimeMilliseconds(), feature.GetProperty("properties").GetProperty("ts")[0].GetInt64());

        var empty = await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from=2020-01-01&to=2020-01-02", Ct);
        Assert.Equal(0, empty.Body.GetProperty("count").GetInt32());
        Assert.Empty(empty.Body.GetProperty("features").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Track_ranges_that_are_reversed_too_long_or_not_ISO_8601_are_400()
    {
        var vehicle = (await fleet.VehiclesAsync(Ct))[12].Id;
        var admin = await fleet.SessionAsync("admin", Ct);

        var reversed = (await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from=2026-11-20T10:00:00Z&to=2026-11-20T09:00:00Z", Ct))
            .AssertProblem(HttpStatusCode.BadRequest);
        Assert.True(reversed.GetProperty("errors").TryGetProperty("to", out _));
        (await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from=2026-11-01&to=2026-11-08T00:00:01", Ct)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from=2026-11-01&to=2026-11-08", Ct)).Status);
        var garbled = (await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from=yesterday&to=11/22/2026", Ct)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.True(garbled.GetProperty("errors").TryGetProperty("from", out _));
        Assert.True(garbled.GetProperty("errors").TryGetProperty("to", out _));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_track_over_the_point_cap_is_cut_and_says_so()
    {
        var vehicle = (await fleet.VehiclesAsync(Ct))[13].Id;
        var start = Day.AddDays(-1);
        await WriteAsync(vehicle, [.. Enumerable.Range(0, 20_005).Select(i => start.AddSeconds(i))]);
        var admin = await fleet.SessionAsync("admin", Ct);

        var track = await admin.GetApiAsync($"/api/vehicles/{vehicle}/track?from={Uri.EscapeDataString(start.ToString("O"))}", Ct);

        Assert.Equal(HttpStatusCode.OK, track.Status);
        Assert.True(track.Body.GetProperty("truncated").GetBoolean());
        Assert.Equal(20_000, track.Body.GetProperty("count").GetInt32());
        Assert.Equal(20_000, track.Body.GetProperty("maxPoints").GetInt32());
        var ts = track.Body.GetProperty("features")[0].GetProperty("properties").GetProperty("ts");
        Assert.Equal(20_000, ts.GetArrayLength());
        Assert.Equal(start.AddSeconds(19_999).ToUnixTimeMilliseconds(), ts[19_999].GetInt64());
    }

    private static double Lon(DateTimeOffset at) => 111.75 + ((at - Day).TotalMinutes / 10_000);

    private async Task WriteAsync(long vehicleId, IEnumerable<DateTimeOffset> times)
    {
        var rows = times.Select((t, i) => new PositionRow(
            vehicleId,
            new TelemetryFix
            {
                Ts = t.ToUnixTimeMilliseconds(),
                Seq = (uint)i,
                Lat = 40.84,
                Lon = Lon(t),
                Spd = 30,
                Hdg = 90,
                Alt = float.NaN,
                Acc = true,
                Odo = 1000 + i,
                Fuel = float.NaN,
                Soc = float.NaN,
                Sats = -1,
                Hdop = float.NaN,
            },
            t.ToUnixTimeMilliseconds(),
            ReadOnlyMemory<byte>.Empty)).ToList();
        var result = await new PositionWriter(fleet.Db).WriteAsync(rows, Ct);
        Assert.Equal(rows.Count, result.Inserted);
    }
}
